//! The differential entropy of a one-dimensional sample, by m-spacings: what a particle
//! system's free energy F(μ^M) = L(μ^M) + (λ'/2) E w² − λ H(μ) needs, the empirical measure
//! having no density.

use crate::error::{Error, Result};

/// The m-spacing estimate of the differential entropy H = −∫ ρ log ρ of the law of `samples`
/// (Vasicek 1976, with the boundary correction of Ebrahimi, Pflughoeft & Soofi 1994):
/// Ĥ = (1/M) Σ_i log( M/(c_i m) (w_(i+m) − w_(i−m)) ), w_(1) ≤ … ≤ w_(M) the order statistics
/// (w_(j) = w_(1) for j < 1 and w_(M) for j > M), c_i = 1 + (i − 1)/m for i ≤ m,
/// 1 + (M − i)/m for i > M − m and 2 otherwise, with m = max(1, round(√M / 2)). Consistent as
/// M → ∞ (m → ∞, m/M → 0) for a density with finite entropy. Errors: fewer than 2 samples, a
/// non-finite sample, or a zero spacing (more than m tied values).
pub fn spacing_entropy(samples: &[f64]) -> Result<f64> {
    if samples.len() < 2 || samples.iter().any(|w| !w.is_finite()) {
        return Err(Error::invalid(
            "entropy samples",
            format!("expected ≥ 2 finite values, got {}", samples.len()),
        ));
    }
    let mut w = samples.to_vec();
    w.sort_by(f64::total_cmp);
    let n = w.len();
    let m = (((n as f64).sqrt() / 2.0).round() as usize).clamp(1, n - 1);
    let mut total = 0.0;
    for i in 0..n {
        let spacing = w[(i + m).min(n - 1)] - w[i.saturating_sub(m)];
        let c = if i < m {
            1.0 + i as f64 / m as f64
        } else if i + m >= n {
            1.0 + (n - 1 - i) as f64 / m as f64
        } else {
            2.0
        };
        if spacing <= 0.0 {
            return Err(Error::invalid(
                "entropy samples",
                format!("a zero {m}-spacing: more than {m} tied values"),
            ));
        }
        total += (n as f64 / (c * m as f64) * spacing).ln();
    }
    Ok(total / n as f64)
}
