//! `--threads`: the size of the worker pool. Results do not depend on it (every parallel
//! reduction in the library has a fixed order).

use crate::error::{Error, Result};

/// The most threads allowed: 16 per core, at least 256 (more only cost their start-up,
/// seconds per thousand).
pub fn most() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    (16 * cores).max(256)
}

/// Err naming `field` unless 1 ≤ `threads` ≤ [`most`].
pub fn validate(field: &str, threads: usize) -> Result<()> {
    let most = most();
    if !(1..=most).contains(&threads) {
        return Err(Error::invalid(
            field,
            format!("expected 1 to {most} threads (16 per core, at least 256), got {threads}"),
        ));
    }
    Ok(())
}

/// Checks `threads` ([`validate`]) and makes it the size of the process-wide worker pool
/// (once per process: a second call is an error naming `field`).
pub fn install(field: &str, threads: usize) -> Result<()> {
    validate(field, threads)?;
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global()
        .map_err(|e| Error::invalid(field, e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_range_is_one_to_most_and_errors_name_the_field() {
        assert!(validate("threads", 1).is_ok());
        assert!(validate("threads", most()).is_ok());
        assert!(most() >= 256);
        for bad in [0, most() + 1] {
            let e = validate("threads", bad).unwrap_err().to_string();
            assert!(e.starts_with("invalid threads: expected 1 to "), "{e}");
            assert!(e.ends_with(&format!("got {bad}")), "{e}");
        }
    }
}
