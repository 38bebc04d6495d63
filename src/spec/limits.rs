//! The one path every size a spec controls goes through before anything is allocated.
//!
//! A size is read as an `i64` (so that a negative value is an error naming the field, not a
//! wrapped count), turned into a `usize` by [`count`], and every array it sizes is checked by
//! [`fits`] — checked multiplication of the dimensions and the bytes against the machine's
//! memory ([`crate::linalg::check_fits`]) — naming the field by its full table path
//! (`data.clusters`, `model.terms`, `train.gibbs.bins`). Knobs whose *cost* grows without an
//! allocation (a harmonic's degree, the Gibbs grid's cells) have the limits below, stated in
//! the README.

use crate::error::{Error, Result};

/// The largest degree of a `harmonic` target: P_{k,d} is evaluated by a three-term recurrence
/// of k steps per point, and a zonal harmonic of higher degree is not resolved by any sample a
/// run here trains on (n points resolve degrees up to about n^{1/(d−1)}).
pub const MAX_HARMONIC_DEGREE: usize = 10_000;

/// The largest number of cells of a `[train] gibbs` grid (bins per axis, to the power of the
/// dimension): each recorded step integrates the Gibbs law over every cell.
pub const MAX_GIBBS_CELLS: usize = 1_000_000;

/// `v` as a count ≥ `min`, or an error naming `field`.
pub(crate) fn count(field: &str, v: i64, min: i64) -> Result<usize> {
    if v < min {
        let expected = match min {
            0 => "an integer ≥ 0".to_string(),
            1 => "a positive integer".to_string(),
            m => format!("an integer ≥ {m}"),
        };
        return Err(Error::invalid(
            field,
            format!("expected {expected}, got {v}"),
        ));
    }
    usize::try_from(v).map_err(|_| Error::invalid(field, format!("{v} is not a size here")))
}

/// Err unless `v ≤ limit`; `why` says what the limit protects.
pub(crate) fn at_most(field: &str, v: usize, limit: usize, why: &str) -> Result<()> {
    if v > limit {
        return Err(Error::invalid(
            field,
            format!("expected at most {limit}, got {v} ({why})"),
        ));
    }
    Ok(())
}

/// Err unless an array of `dims` f64 values can exist on this machine (checked product, bytes
/// against RAM and swap), naming `field`.
pub(crate) fn fits(field: &str, dims: &[usize]) -> Result<()> {
    crate::linalg::check_fits(field, dims)
}

/// `a · b`, or an error naming `field` when the product overflows.
pub(crate) fn product(field: &str, a: usize, b: usize) -> Result<usize> {
    a.checked_mul(b).ok_or_else(|| {
        Error::invalid(
            field,
            format!("{a} × {b} is more than an address space holds"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_products_name_the_field() {
        assert_eq!(count("data.n", 5, 1).unwrap(), 5);
        let e = count("data.n", -3, 1).unwrap_err().to_string();
        assert!(e.contains("data.n") && e.contains("positive"), "{e}");
        let e = product("model.terms", usize::MAX / 2, 3)
            .unwrap_err()
            .to_string();
        assert!(e.contains("model.terms"), "{e}");
        let e = fits("data.clusters", &[1 << 40, 1 << 30])
            .unwrap_err()
            .to_string();
        assert!(e.contains("data.clusters"), "{e}");
        assert!(at_most("train.gibbs.bins", 10, 5, "cells").is_err());
    }
}
