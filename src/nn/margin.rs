//! Max-margin references for the implicit bias of the classification losses.
//!
//! Gradient descent on the logistic or exponential loss of separable data diverges in norm and
//! converges in direction to the L2 max-margin separator (Soudry et al. 2018); this module
//! computes that separator independently, as the hard-margin SVM without bias
//! min ½‖w‖² s.t. y_i ⟨w, x_i⟩ ≥ 1, by coordinate ascent on its dual
//! max Σ α_i − ½ ‖Σ α_i y_i x_i‖², α ≥ 0 (Hsieh et al. 2008 with C = ∞).

use crate::error::{Error, Result};
use crate::linalg::{dot, Matrix};

/// The L2 max-margin separator: w*, its margin γ* = min_i y_i⟨w*, x_i⟩/‖w*‖ = 1/‖w*‖, and the
/// dual variables (non-zero on the support vectors).
#[derive(Clone, Debug)]
pub struct MaxMargin {
    /// w* (min-norm with margin 1).
    pub w: Vec<f64>,
    /// γ* = 1/‖w*‖.
    pub margin: f64,
    /// α.
    pub dual: Vec<f64>,
}

/// The hard-margin SVM through the origin on rows of `x` with labels `y` ∈ {−1, +1}, by dual
/// coordinate ascent until the largest KKT violation is below `tol` (relative to the margin
/// constraint), at most `sweeps` passes. An error when the data are not separable through the
/// origin (the dual diverges) or the labels are not ±1.
pub fn l2_max_margin(x: &Matrix, y: &[f64], tol: f64, sweeps: usize) -> Result<MaxMargin> {
    let (n, d) = (x.rows, x.cols);
    if y.len() != n {
        return Err(Error::shape(
            "l2_max_margin",
            format!("{n} rows, {} labels", y.len()),
        ));
    }
    if y.iter().any(|v| *v != 1.0 && *v != -1.0) {
        return Err(Error::invalid(
            "labels",
            "the max-margin problem needs ±1 labels",
        ));
    }
    let norms: Vec<f64> = (0..n).map(|i| dot(x.row(i), x.row(i))).collect();
    let mut alpha = vec![0.0; n];
    let mut w = vec![0.0; d];
    for _ in 0..sweeps {
        let mut violation: f64 = 0.0;
        for i in 0..n {
            let g = y[i] * dot(&w, x.row(i)) - 1.0;
            // Projected gradient of the dual at α_i ≥ 0.
            let pg = if alpha[i] == 0.0 { g.min(0.0) } else { g };
            violation = violation.max(pg.abs());
            if pg != 0.0 && norms[i] > 0.0 {
                let new = (alpha[i] - g / norms[i]).max(0.0);
                let step = (new - alpha[i]) * y[i];
                alpha[i] = new;
                w.iter_mut().zip(x.row(i)).for_each(|(a, b)| *a += step * b);
            }
        }
        let norm = dot(&w, &w).sqrt();
        if !norm.is_finite() || norm > 1e12 {
            break;
        }
        if violation <= tol {
            return Ok(MaxMargin {
                margin: 1.0 / norm,
                w,
                dual: alpha,
            });
        }
    }
    Err(Error::Numerical {
        routine: "l2_max_margin".into(),
        message: format!(
            "no separator through the origin within {sweeps} sweeps (data not separable?)"
        ),
    })
}

/// The F1 (ℓ1, "variation norm") max margin over a dictionary of features Φ_ij = φ_j(x_i):
/// γ₁ = max_{‖c‖₁ ≤ 1} min_i y_i (Φc)_i — for φ_j(x) = relu(ŵ_jᵀx) with unit ŵ_j on a fine
/// grid of the sphere, the max margin of infinitely wide 2-homogeneous ReLU nets towards which
/// mean-field gradient descent on the logistic/exponential loss converges (Chizat & Bach 2020).
#[derive(Clone, Debug)]
pub struct F1Margin {
    /// The margin of `weights` (a certified lower bound on γ₁).
    pub lower: f64,
    /// max_j |Σ_i p_i y_i Φ_ij| for the best mixed strategy p found (an upper bound on γ₁).
    pub upper: f64,
    /// c with ‖c‖₁ ≤ 1.
    pub weights: Vec<f64>,
}

/// γ₁ as the value of the zero-sum game min_{p ∈ Δ_n} max_j |(Φᵀ(y ∘ p))_j| (LP duality), by
/// multiplicative weights on p against best responses j (Freund & Schapire 1999), `iterations`
/// rounds with step √(8 ln n / T)/max|Φ|: the averaged best responses give a primal c (lower
/// bound) and the best p seen an upper bound; the gap shrinks like √(ln n / T).
pub fn f1_max_margin(phi: &Matrix, y: &[f64], iterations: usize) -> Result<F1Margin> {
    let (n, j) = (phi.rows, phi.cols);
    if y.len() != n || n == 0 || j == 0 || iterations == 0 {
        return Err(Error::shape(
            "f1_max_margin",
            format!(
                "Φ is {n} × {j}, {} labels, {iterations} iterations",
                y.len()
            ),
        ));
    }
    let scale = phi
        .data
        .iter()
        .fold(0.0f64, |m, v| m.max(v.abs()))
        .max(1e-300);
    let eta = (8.0 * (n as f64).ln().max(1.0) / iterations as f64).sqrt() / scale;
    let mut log_p = vec![0.0; n];
    let mut p = vec![1.0 / n as f64; n];
    let mut c = vec![0.0; j];
    let mut upper = f64::INFINITY;
    let mut g = vec![0.0; j];
    for _ in 0..iterations {
        // g = Φᵀ(y ∘ p).
        g.iter_mut().for_each(|v| *v = 0.0);
        for i in 0..n {
            let w = y[i] * p[i];
            g.iter_mut().zip(phi.row(i)).for_each(|(a, b)| *a += w * b);
        }
        let (best, value) = g
            .iter()
            .enumerate()
            .fold((0, f64::NEG_INFINITY), |acc, (k, v)| {
                if v.abs() > acc.1 {
                    (k, v.abs())
                } else {
                    acc
                }
            });
        upper = upper.min(value);
        let sign = g[best].signum();
        c[best] += sign / iterations as f64;
        // The minimiser moves weight towards the points this response separates least.
        for i in 0..n {
            log_p[i] -= eta * sign * y[i] * phi.get(i, best);
        }
        let top = crate::linalg::max(&log_p);
        let total: f64 = log_p.iter().map(|v| (v - top).exp()).sum();
        for i in 0..n {
            p[i] = (log_p[i] - top).exp() / total;
        }
    }
    let mut out = Matrix::zeros(n, 1);
    crate::linalg::gemm(
        &mut out,
        0.0,
        phi.view(),
        crate::linalg::view(&c, j, 1),
        1.0,
    );
    let lower = (0..n)
        .map(|i| y[i] * out.data[i])
        .fold(f64::INFINITY, f64::min);
    Ok(F1Margin {
        lower,
        upper,
        weights: c,
    })
}

/// The normalised margin min_i y_i⟨w, x_i⟩/‖w‖ of a direction.
pub fn normalized_margin(x: &Matrix, y: &[f64], w: &[f64]) -> f64 {
    let norm = dot(w, w).sqrt();
    (0..x.rows)
        .map(|i| y[i] * dot(w, x.row(i)) / norm)
        .fold(f64::INFINITY, f64::min)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_f1_margin_game_brackets_the_lp_value() {
        // Two points and two features: Φ = I, y = (1, 1): c = (½, ½) gives margin ½, and no c
        // with ‖c‖₁ ≤ 1 does better.
        let phi = Matrix::identity(2);
        let m = f1_max_margin(&phi, &[1.0, 1.0], 20_000).unwrap();
        assert!(m.lower <= 0.5 + 1e-12 && m.upper >= 0.5 - 1e-12, "{m:?}");
        assert!(m.upper - m.lower < 0.02, "{m:?}");
        assert!(m.weights.iter().map(|v| v.abs()).sum::<f64>() <= 1.0 + 1e-12);
        // A random instance: the bounds bracket every feasible c tried at random.
        let mut rng = crate::rng::Seed(9).stream("f1", 0);
        let mut phi = Matrix::zeros(12, 30);
        rng.fill_normal(&mut phi.data, 1.0);
        let y: Vec<f64> = (0..12)
            .map(|i| if i % 2 == 0 { 1.0 } else { -1.0 })
            .collect();
        let m = f1_max_margin(&phi, &y, 50_000).unwrap();
        assert!(
            m.lower <= m.upper + 1e-12 && m.upper - m.lower < 0.05,
            "{m:?}"
        );
        for _ in 0..2000 {
            let mut c = vec![0.0; 30];
            rng.fill_normal(&mut c, 1.0);
            let l1: f64 = c.iter().map(|v| v.abs()).sum();
            let margin = (0..12)
                .map(|i| y[i] * dot(phi.row(i), &c) / l1)
                .fold(f64::INFINITY, f64::min);
            assert!(margin <= m.upper + 1e-12);
        }
    }

    #[test]
    fn two_points_have_the_bisector_as_max_margin_direction() {
        // x₁ = (1, 0) with y = +1 and x₂ = (0, 1) with y = −1: w* = (1, −1), margin 1/√2.
        let x = Matrix::from_vec(2, 2, vec![1.0, 0.0, 0.0, 1.0]).unwrap();
        let m = l2_max_margin(&x, &[1.0, -1.0], 1e-12, 1000).unwrap();
        assert!(
            (m.w[0] - 1.0).abs() < 1e-9 && (m.w[1] + 1.0).abs() < 1e-9,
            "{:?}",
            m.w
        );
        assert!((m.margin - 0.5f64.sqrt()).abs() < 1e-9);
    }

    #[test]
    fn the_max_margin_beats_every_other_direction_and_satisfies_kkt() {
        let mut rng = crate::rng::Seed(3).stream("svm", 0);
        let mut x = Matrix::zeros(40, 3);
        rng.fill_normal(&mut x.data, 1.0);
        let truth = [1.0, -0.5, 0.3];
        let y: Vec<f64> = (0..40)
            .map(|i| {
                if dot(x.row(i), &truth) >= 0.0 {
                    1.0
                } else {
                    -1.0
                }
            })
            .collect();
        let m = l2_max_margin(&x, &y, 1e-10, 100_000).unwrap();
        assert!((normalized_margin(&x, &y, &m.w) - m.margin).abs() < 1e-8);
        // Stationarity w = Σ α_i y_i x_i and complementary slackness.
        for (i, (label, alpha)) in y.iter().zip(&m.dual).enumerate() {
            let slack = label * dot(&m.w, x.row(i)) - 1.0;
            assert!(slack > -1e-8 && (alpha * slack).abs() < 1e-8);
        }
        // No random direction has a larger margin.
        for _ in 0..2000 {
            let mut v = vec![0.0; 3];
            rng.fill_normal(&mut v, 1.0);
            assert!(normalized_margin(&x, &y, &v) <= m.margin + 1e-12);
        }
        let bad = [1.0, 1.0, 1.0, -1.0];
        let x2 = Matrix::from_vec(4, 1, vec![1.0, -1.0, 2.0, 2.0]).unwrap();
        assert!(l2_max_margin(&x2, &bad, 1e-10, 1000).is_err());
    }
}
