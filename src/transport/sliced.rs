//! The sliced Wasserstein distance.
//!
//! SW_p^p(μ, ν) = ∫_{S^{d−1}} W_p^p(θ#μ, θ#ν) dσ(θ), estimated with L directions θ_l drawn
//! uniformly on the sphere from a seed: SW_p^p ≈ (1/L) Σ_l W_p^p(θ_l#μ, θ_l#ν), each term exact
//! in 1-D ([`super::one_d`]). Projections are 1-Lipschitz, so SW_p ≤ W_p.

use super::{check_same_dim, one_d, Measure};
use crate::commands::Cancel;
use crate::error::{Error, Result};
use crate::linalg::Matrix;
use crate::rng::Seed;
use rayon::prelude::*;

/// The sliced estimate: SW_p^p (`cost`), SW_p (`distance`) and the per-direction values.
#[derive(Clone, Debug)]
pub struct Sliced {
    /// (1/L) Σ_l W_p^p(θ_l#μ, θ_l#ν).
    pub cost: f64,
    /// cost^{1/p}.
    pub distance: f64,
    /// W_p^p along each direction, in the order of the directions.
    pub per_direction: Vec<f64>,
}

/// The L directions of `seed`: direction l is drawn from stream ("sliced", l), so the set does
/// not depend on the thread count and the first L of a larger set are the same.
pub fn directions(dim: usize, count: usize, seed: Seed) -> Matrix {
    let mut theta = Matrix::zeros(count, dim);
    for l in 0..count {
        seed.stream("sliced", l as u64)
            .unit_vector(theta.row_mut(l));
    }
    theta
}

fn project(m: &Measure, theta: &[f64]) -> Result<Measure> {
    let values: Vec<f64> = (0..m.len())
        .map(|i| m.points.row(i).iter().zip(theta).map(|(x, t)| x * t).sum())
        .collect();
    Ok(Measure {
        points: Matrix::from_vec(m.len(), 1, values)?,
        weights: m.weights.clone(),
    })
}

/// SW_p between two measures over `projections` seeded directions.
pub fn sliced_wasserstein(
    mu: &Measure,
    nu: &Measure,
    p: f64,
    projections: usize,
    seed: Seed,
) -> Result<Sliced> {
    sliced_wasserstein_with(mu, nu, p, projections, seed, Cancel::NEVER)
}

/// [`sliced_wasserstein`], polling `cancel` before each direction's projection and 1-D
/// transport: once it fires the remaining directions stop with [`Error::Interrupted`].
pub fn sliced_wasserstein_with(
    mu: &Measure,
    nu: &Measure,
    p: f64,
    projections: usize,
    seed: Seed,
    cancel: Cancel,
) -> Result<Sliced> {
    check_same_dim(mu, nu)?;
    if projections == 0 {
        return Err(Error::invalid(
            "projections",
            "expected at least one projection",
        ));
    }
    // The directions and one cost per direction.
    crate::linalg::check_fits("projections", &[projections, mu.dim() + 1])?;
    let theta = directions(mu.dim(), projections, seed);
    let per_direction = (0..projections)
        .into_par_iter()
        .map(|l| {
            cancel.check(|| format!("at sliced projection {l} of {projections}"))?;
            let t = theta.row(l);
            Ok(one_d::wasserstein_1d(&project(mu, t)?, &project(nu, t)?, p)?.cost)
        })
        .collect::<Result<Vec<f64>>>()?;
    let cost = per_direction.iter().sum::<f64>() / projections as f64;
    Ok(Sliced {
        cost,
        distance: cost.max(0.0).powf(1.0 / p),
        per_direction,
    })
}
