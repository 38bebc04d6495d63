//! Monte Carlo kernels: the mean of empirical NTKs over independent initialisations, and the
//! concentration of the two-layer first-layer kernel around its infinite-width limit.
//!
//! Concentration (SPEC §3): for unit-norm inputs and ReLU, each entry
//! K_{W₀,ij} = (1/M) Σ_r x_iᵀx_j 1\[w_rᵀx_i > 0\] 1\[w_rᵀx_j > 0\] is a mean of M i.i.d. terms in an
//! interval of length ≤ 1, so Hoeffding gives P(|K_{W₀,ij} − K_∞,ij| ≤ √(log(2/δ')/(2M))) ≥ 1 − δ'
//! and, with a union bound over the n² entries, ‖K_{W₀} − K_∞‖_F² ≤ n² log(2n²/δ)/(2M) with
//! probability ≥ 1 − δ.

use super::analytic::two_layer_first_layer_ntk;
use super::empirical::empirical_ntk;
use crate::error::{Error, Result};
use crate::linalg::{distance, Matrix};
use crate::nn::{Activation, Model, TwoLayer};
use crate::rng::Seed;
use rayon::prelude::*;

/// (1/D) Σ_k Θ_{W_k}(x, x) over D initialisations W_k drawn from `seed.stream("mc-init", k)`
/// (parallel over draws, summed in draw order).
pub fn mean_empirical_ntk(
    model: &dyn Model,
    x: &Matrix,
    draws: usize,
    seed: Seed,
) -> Result<Matrix> {
    if draws == 0 {
        return Err(Error::invalid("draws", "expected ≥ 1"));
    }
    let kernels = (0..draws)
        .into_par_iter()
        .map(|k| {
            let params = model.init(&mut seed.stream("mc-init", k as u64));
            empirical_ntk(model, &params, x, None)
        })
        .collect::<Result<Vec<_>>>()?;
    let mut mean = Matrix::zeros(x.rows, x.rows);
    for k in &kernels {
        mean.data
            .iter_mut()
            .zip(&k.data)
            .for_each(|(m, v)| *m += v / draws as f64);
    }
    Ok(mean)
}

/// One width of the concentration diagnostic.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Concentration {
    /// M.
    pub width: usize,
    /// ‖K_{W₀} − K_∞‖_F, averaged over the draws.
    pub frobenius_error: f64,
    /// √(n² log(2n²/δ)/(2M)), the Hoeffding bound at confidence 1 − δ.
    pub bound: f64,
    /// Fraction of draws whose error exceeded the bound.
    pub violations: f64,
}

/// ‖K_{W₀} − K_∞‖_F of the ReLU first-layer kernel against M, with the Hoeffding bound.
/// Rows of `x` must have unit norm.
pub fn first_layer_concentration(
    x: &Matrix,
    widths: &[usize],
    draws: usize,
    delta: f64,
    seed: Seed,
) -> Result<Vec<Concentration>> {
    for i in 0..x.rows {
        let norm = crate::linalg::norm(x.row(i));
        if (norm - 1.0).abs() > 1e-9 {
            return Err(Error::invalid(
                "x",
                format!("the bound needs unit-norm inputs; row {i} has norm {norm}"),
            ));
        }
    }
    let exact = two_layer_first_layer_ntk(x, None, Activation::Relu)?;
    concentration_against(x, &exact, widths, draws, delta, seed)
}

/// As [`first_layer_concentration`], against a given limit kernel (a wrong limit makes the
/// error stop shrinking: the negative control of the claim `ntk-concentration`).
pub fn concentration_against(
    x: &Matrix,
    exact: &Matrix,
    widths: &[usize],
    draws: usize,
    delta: f64,
    seed: Seed,
) -> Result<Vec<Concentration>> {
    if !(delta > 0.0 && delta < 1.0) || draws == 0 {
        return Err(Error::invalid(
            "delta/draws",
            "expected 0 < δ < 1 and draws ≥ 1",
        ));
    }
    if (exact.rows, exact.cols) != (x.rows, x.rows) {
        return Err(Error::shape(
            "concentration",
            format!(
                "the limit kernel is {}×{} for {} inputs",
                exact.rows, exact.cols, x.rows
            ),
        ));
    }
    let n = x.rows as f64;
    widths
        .iter()
        .map(|&m| {
            let model = TwoLayer {
                train_second: false,
                ..TwoLayer::new(x.cols, m, Activation::Relu, 0.5)?
            };
            let errors = (0..draws)
                .into_par_iter()
                .map(|k| {
                    let params =
                        model.init(&mut seed.child("width", m as u64).stream("draw", k as u64));
                    let kw = empirical_ntk(&model, &params, x, None)?;
                    Ok(distance(&kw.data, &exact.data))
                })
                .collect::<Result<Vec<f64>>>()?;
            let bound = (n * n * (2.0 * n * n / delta).ln() / (2.0 * m as f64)).sqrt();
            Ok(Concentration {
                width: m,
                frobenius_error: errors.iter().sum::<f64>() / draws as f64,
                bound,
                violations: errors.iter().filter(|&&e| e > bound).count() as f64 / draws as f64,
            })
        })
        .collect()
}
