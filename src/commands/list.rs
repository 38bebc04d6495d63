//! `gradflow list`: the claims of the source document.

/// (id, title) of every claim, in the registry's order.
pub fn run() -> Vec<(&'static str, &'static str)> {
    crate::claims::registry()
        .iter()
        .map(|c| (c.id(), c.title()))
        .collect()
}
