//! Escape over a barrier: the Eyring–Kramers mean transition time and the first-passage
//! observer that measures it on chains.

use crate::error::{Error, Result};
use crate::train::{Observer, Snapshot};

/// The Eyring–Kramers mean transition time (continuous time) over a saddle of height ΔU:
/// τ ≈ 2π / √(U''(min) |U''(saddle)|) · exp(β ΔU) in 1-D, so log τ is linear in β with slope ΔU.
/// Needs U''(min) > 0 (a minimum), U''(saddle) < 0 (a saddle), ΔU ≥ 0 and β > 0.
pub fn eyring_kramers_time(
    curvature_min: f64,
    curvature_saddle: f64,
    barrier: f64,
    beta: f64,
) -> Result<f64> {
    crate::error::check_positive("curvature_min", curvature_min)?;
    if !(curvature_saddle.is_finite() && curvature_saddle < 0.0) {
        return Err(Error::invalid(
            "curvature_saddle",
            format!("expected U'' < 0 at a saddle, got {curvature_saddle}"),
        ));
    }
    crate::error::check_non_negative("barrier", barrier)?;
    crate::error::check_positive("beta", beta)?;
    Ok(
        std::f64::consts::TAU / (curvature_min * curvature_saddle.abs()).sqrt()
            * (beta * barrier).exp(),
    )
}

/// Records the first recorded step at which each chain of a [`crate::nn::Potential`] satisfies
/// `reached` (e.g. x ≥ 1 for a double well started at −1), as the column `passed` (the
/// fraction of chains that have). Read the times with [`FirstPassage::times`].
pub struct FirstPassage<F: Fn(&[f64]) -> bool> {
    dim: usize,
    reached: F,
    times: Vec<Option<u64>>,
}

impl<F: Fn(&[f64]) -> bool> FirstPassage<F> {
    /// For chains of dimension `dim`.
    pub fn new(dim: usize, reached: F) -> FirstPassage<F> {
        FirstPassage {
            dim,
            reached,
            times: Vec::new(),
        }
    }

    /// First passage steps, `None` for chains that have not passed.
    pub fn times(&self) -> &[Option<u64>] {
        &self.times
    }
}

impl<F: Fn(&[f64]) -> bool> Observer for FirstPassage<F> {
    fn columns(&self) -> Vec<String> {
        vec!["passed".into()]
    }

    fn observe(&mut self, s: &Snapshot<'_>) -> Result<Vec<f64>> {
        let chains = s.params.len() / self.dim;
        self.times.resize(chains, None);
        for (c, x) in s.params.chunks(self.dim).enumerate() {
            if self.times[c].is_none() && (self.reached)(x) {
                self.times[c] = Some(s.step);
            }
        }
        let passed = self.times.iter().filter(|t| t.is_some()).count();
        Ok(vec![passed as f64 / chains.max(1) as f64])
    }
}
