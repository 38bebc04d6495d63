//! Gauss–Hermite quadrature for Gaussian expectations (probabilists' weight e^{−z²/2}/√(2π)).
//!
//! Nodes and weights by the Golub–Welsch method: the nodes are the eigenvalues of the symmetric
//! tridiagonal Jacobi matrix with off-diagonal √k (k = 1 … K−1), and the weight of node z_a is
//! the squared first component of its unit eigenvector. The K-point rule is exact for
//! polynomials of degree ≤ 2K − 1.

use crate::error::Result;
use crate::linalg::{symmetric_eigen, Matrix};

/// A K-point rule: E_{z~N(0,1)}[f(z)] ≈ Σ_a w_a f(z_a).
#[derive(Clone, Debug, PartialEq)]
pub struct GaussHermite {
    /// Nodes z_a.
    pub nodes: Vec<f64>,
    /// Weights w_a (they sum to 1).
    pub weights: Vec<f64>,
}

impl GaussHermite {
    /// The rule with `degree` points (≥ 1).
    pub fn new(degree: usize) -> Result<GaussHermite> {
        let k = degree.max(1);
        let jacobi = Matrix::from_fn(k, k, |i, j| {
            if i + 1 == j || j + 1 == i {
                (i.max(j) as f64).sqrt()
            } else {
                0.0
            }
        });
        let (values, vectors) = symmetric_eigen(&jacobi)?;
        let weights = (0..k).map(|a| vectors.get(0, a).powi(2)).collect();
        Ok(GaussHermite {
            nodes: values,
            weights,
        })
    }

    /// E[f(u)] for u ~ N(0, q).
    pub fn expect(&self, q: f64, f: impl Fn(f64) -> f64) -> f64 {
        let s = q.max(0.0).sqrt();
        self.nodes
            .iter()
            .zip(&self.weights)
            .map(|(&z, &w)| w * f(s * z))
            .sum()
    }

    /// E[f(u) g(v)] for (u, v) centred Gaussian with variances q1, q2 and covariance q12:
    /// u = √q1 z₁, v = √q2 (ρ z₁ + √(1 − ρ²) z₂), ρ = q12/√(q1 q2), on the K² product grid.
    pub fn expect2(
        &self,
        q1: f64,
        q2: f64,
        q12: f64,
        f: impl Fn(f64) -> f64,
        g: impl Fn(f64) -> f64,
    ) -> f64 {
        let (s1, s2) = (q1.max(0.0).sqrt(), q2.max(0.0).sqrt());
        let rho = if s1 > 0.0 && s2 > 0.0 {
            (q12 / (s1 * s2)).clamp(-1.0, 1.0)
        } else {
            0.0
        };
        let perp = (1.0 - rho * rho).max(0.0).sqrt();
        let mut total = 0.0;
        for (&z1, &w1) in self.nodes.iter().zip(&self.weights) {
            let fu = f(s1 * z1);
            let mut inner = 0.0;
            for (&z2, &w2) in self.nodes.iter().zip(&self.weights) {
                inner += w2 * g(s2 * (rho * z1 + perp * z2));
            }
            total += w1 * fu * inner;
        }
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moments_of_the_standard_normal_are_exact() {
        let gh = GaussHermite::new(8).unwrap();
        assert!((gh.weights.iter().sum::<f64>() - 1.0).abs() < 1e-14);
        // E z^{2k} = (2k − 1)!!: 1, 3, 15, 105 (exact up to degree 15).
        for (k, want) in [(2, 1.0), (4, 3.0), (6, 15.0), (8, 105.0)] {
            let got = gh.expect(1.0, |z| z.powi(k));
            assert!((got - want).abs() < 1e-11 * want, "E z^{k} = {got}");
        }
        assert!(gh.expect(1.0, |z| z.powi(3)).abs() < 1e-13);
    }

    #[test]
    fn bivariate_moments() {
        // E[u² v²] = q1 q2 + 2 q12², E[u v] = q12.
        let gh = GaussHermite::new(6).unwrap();
        let (q1, q2, q12) = (1.3, 0.7, 0.4);
        let got = gh.expect2(q1, q2, q12, |u| u * u, |v| v * v);
        assert!((got - (q1 * q2 + 2.0 * q12 * q12)).abs() < 1e-12);
        let uv = gh.expect2(q1, q2, q12, |u| u, |v| v);
        assert!((uv - q12).abs() < 1e-13);
    }
}
