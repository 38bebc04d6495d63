//! `gradflow list`: the claims of the source document.

/// (id, title) of every claim, in the registry's order.
pub fn run() -> Vec<(&'static str, &'static str)> {
    crate::claims::registry()
        .iter()
        .map(|c| (c.id(), c.title()))
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_claim_is_listed_once_with_a_title() {
        let claims = super::run();
        assert!(claims.iter().any(|(id, _)| *id == "ntk-positive"));
        for (k, (id, title)) in claims.iter().enumerate() {
            assert!(!title.is_empty(), "{id}");
            assert!(
                claims[..k].iter().all(|(other, _)| other != id),
                "{id} twice"
            );
        }
    }
}
