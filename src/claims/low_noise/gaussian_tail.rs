//! The parameter-free prediction of the posterior-mean classifier's disagreement with the Bayes
//! classifier in the margin model of `low-noise-classification`: the classifier's threshold
//! t̂ = −θ̄₀/θ̄₁ is asymptotically normal, t̂ ≈ N(0, v/n + v_chain), and the mean disagreement is
//! the Gaussian tail mass beyond the margin.
//!
//! * v/n: the data's part. The posterior mean E_π[θ] of π ∝ exp(−β(L̂_n(θ) + (λ/2)‖θ‖²)) is a
//!   smooth functional of the sample; its influence function is
//!   IF(z) = −β Cov_π(θ, ℓ(θ; z)) (differentiate E_π[θ] along L̂_n → L̂_n + ε(ℓ(·; z) − L)), so
//!   n·Cov(E_π̂[θ]) → Var_z IF(z), and by the delta method v = gᵀ Var_z IF(z) g with
//!   g = ∇(−m₀/m₁) = (−1/m₁, m₀/m₁²). π is the population posterior, computed on a grid of θ;
//!   the expectations over z = (x, y) by the midpoint rule in x.
//! * v_chain: the chain's Monte Carlo part, independent of n. Near its mean the GLD chain is
//!   the AR(1) process θ_{k+1} − θ̄ = A(θ_k − θ̄) + √(2η/β)ξ_k, A = I − ηH, H the Hessian of
//!   L + (λ/2)‖θ‖² at the posterior mean; in an eigenvector of H (eigenvalue h, a = 1 − ηh)
//!   the stationary variance is s = (2η/β)/(1 − a²) and the mean of N consecutive states has
//!   variance (s/N)[(1 + a)/(1 − a) − 2a(1 − a^N)/(N(1 − a)²)].
//! * With σ² = v/n + v_chain and t̂ ~ N(0, σ²) (symmetric: the model is invariant under
//!   (x, y) → (−x, −y)), the mass of [−1, 1] \ (−m, m) between 0 and t̂ has mean
//!   E(|t̂| − m)₊/(1 − m) = 2(σφ(m/σ) − m Φ̄(m/σ))/(1 − m).

use crate::error::Result;
use crate::linalg::{self, Matrix};
use crate::nn::activation::{normal_cdf, normal_pdf, softplus};

/// The margin model and the sampler, as the claim runs them.
pub struct Setting {
    /// Half-width m of the gap around the Bayes boundary x = 0.
    pub margin: f64,
    /// Massart flip probability.
    pub flip: f64,
    /// Ridge λ of the regularised loss.
    pub lambda: f64,
    /// Inverse temperature β.
    pub beta: f64,
    /// GLD step η.
    pub lr: f64,
    /// Chain states averaged (after burn-in).
    pub averaged: usize,
}

/// The two parts of the threshold's variance (module doc).
#[derive(Clone, Copy, Debug)]
pub struct ThresholdVariance {
    /// v: n · Var(t̂) from the data, as n → ∞.
    pub per_sample: f64,
    /// v_chain: the chain average's Monte Carlo variance of t̂.
    pub chain: f64,
}

impl ThresholdVariance {
    /// The predicted mean disagreement at n samples: 2(σφ(m/σ) − m Φ̄(m/σ))/(1 − m) with
    /// σ² = v/n + v_chain (module doc).
    pub fn mean_disagreement(&self, n: f64, margin: f64) -> f64 {
        let sigma = (self.per_sample / n + self.chain).sqrt();
        let z = margin / sigma;
        2.0 * (sigma * normal_pdf(z) - margin * normal_cdf(-z)) / (1.0 - margin)
    }
}

/// Computes v and v_chain for `setting` (module doc): θ on a 121 × 161 grid of
/// [−1.2, 1.2] × [0, 4.5] (the population posterior's standard deviations are ≈ 0.16 and 0.26
/// about (0, 1.83) at λ = 0.01, β = 200, so the grid covers more than ±7 of them), x by the
/// midpoint rule with 200 nodes on each half of [−1, 1] \ (−m, m).
pub fn threshold_variance(setting: &Setting) -> Result<ThresholdVariance> {
    let nodes = 200;
    let width = 1.0 - setting.margin;
    // z = (x, y) with its probability weight.
    let mut zs: Vec<(f64, f64, f64)> = Vec::with_capacity(4 * nodes);
    for k in 0..nodes {
        let x = setting.margin + width * (k as f64 + 0.5) / nodes as f64;
        let w = 0.5 / nodes as f64;
        for s in [-1.0, 1.0] {
            zs.push((s * x, s, w * (1.0 - setting.flip)));
            zs.push((s * x, -s, w * setting.flip));
        }
    }
    let grid: Vec<(f64, f64)> = (0..121)
        .flat_map(|i| (0..161).map(move |j| (-1.2 + 0.02 * i as f64, 4.5 * j as f64 / 160.0)))
        .collect();
    // ℓ(θ; z) on the grid, and the posterior weights ∝ exp(−β(L(θ) + (λ/2)‖θ‖²)).
    let losses: Vec<Vec<f64>> = grid
        .iter()
        .map(|&(a, b)| {
            zs.iter()
                .map(|&(x, y, _)| softplus(-y * (a + b * x)))
                .collect()
        })
        .collect();
    let log_post: Vec<f64> = grid
        .iter()
        .zip(&losses)
        .map(|(&(a, b), l)| {
            let risk: f64 = l.iter().zip(&zs).map(|(v, z)| v * z.2).sum();
            -setting.beta * (risk + 0.5 * setting.lambda * (a * a + b * b))
        })
        .collect();
    let top = linalg::max(&log_post);
    let mut post: Vec<f64> = log_post.iter().map(|v| (v - top).exp()).collect();
    let total: f64 = post.iter().sum();
    post.iter_mut().for_each(|p| *p /= total);
    let m0: f64 = post.iter().zip(&grid).map(|(p, g)| p * g.0).sum();
    let m1: f64 = post.iter().zip(&grid).map(|(p, g)| p * g.1).sum();
    // IF(z) = −β Cov_π(θ, ℓ(θ; z)), then its covariance over z.
    let influence: Vec<[f64; 2]> = (0..zs.len())
        .map(|k| {
            let mean: f64 = post.iter().zip(&losses).map(|(p, l)| p * l[k]).sum();
            let mut c = [0.0; 2];
            for ((p, g), l) in post.iter().zip(&grid).zip(&losses) {
                let d = p * (l[k] - mean);
                c[0] += d * (g.0 - m0);
                c[1] += d * (g.1 - m1);
            }
            [-setting.beta * c[0], -setting.beta * c[1]]
        })
        .collect();
    let mu = influence
        .iter()
        .zip(&zs)
        .fold([0.0; 2], |a, (f, z)| [a[0] + z.2 * f[0], a[1] + z.2 * f[1]]);
    let mut cov = [[0.0; 2]; 2];
    for (f, z) in influence.iter().zip(&zs) {
        let d = [f[0] - mu[0], f[1] - mu[1]];
        for a in 0..2 {
            for b in 0..2 {
                cov[a][b] += z.2 * d[a] * d[b];
            }
        }
    }
    let g = [-1.0 / m1, m0 / (m1 * m1)];
    let quad = |c: &[[f64; 2]; 2]| {
        (0..2)
            .map(|a| (0..2).map(|b| g[a] * c[a][b] * g[b]).sum::<f64>())
            .sum::<f64>()
    };
    let per_sample = quad(&cov);
    // The Hessian of L + (λ/2)‖θ‖² at the posterior mean: E[σ(1 − σ)(1, x)(1, x)ᵀ] + λI.
    let mut hessian = Matrix::zeros(2, 2);
    for &(x, _, w) in &zs {
        let s = 1.0 / (1.0 + (-(m0 + m1 * x)).exp());
        let h = w * s * (1.0 - s);
        let f = [1.0, x];
        for a in 0..2 {
            for b in 0..2 {
                hessian.set(a, b, hessian.get(a, b) + h * f[a] * f[b]);
            }
        }
    }
    for a in 0..2 {
        hessian.set(a, a, hessian.get(a, a) + setting.lambda);
    }
    let (values, vectors) = linalg::symmetric_eigen(&hessian)?;
    let n = setting.averaged as f64;
    let mut chain = [[0.0; 2]; 2];
    for (k, &h) in values.iter().enumerate() {
        let a = 1.0 - setting.lr * h;
        let s = 2.0 * setting.lr / setting.beta / (1.0 - a * a);
        let var =
            s / n * ((1.0 + a) / (1.0 - a) - 2.0 * a * (1.0 - a.powf(n)) / (n * (1.0 - a).powi(2)));
        for (p, row) in chain.iter_mut().enumerate() {
            for (q, c) in row.iter_mut().enumerate() {
                *c += var * vectors.get(p, k) * vectors.get(q, k);
            }
        }
    }
    Ok(ThresholdVariance {
        per_sample,
        chain: quad(&chain),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Gaussian tail formula against a direct quadrature of E(|t| − m)₊/(1 − m).
    #[test]
    fn mean_disagreement_is_the_gaussian_tail_mass() {
        let v = ThresholdVariance {
            per_sample: 1.3,
            chain: 4e-4,
        };
        let (n, m) = (120.0, 0.2);
        let sigma = (1.3f64 / n + 4e-4).sqrt();
        let cells = 200_000;
        let top = 12.0 * sigma;
        let h = top / cells as f64;
        let direct: f64 = (0..cells)
            .map(|k| {
                let t = (k as f64 + 0.5) * h;
                2.0 * (t - m).max(0.0) * normal_pdf(t / sigma) / sigma * h
            })
            .sum::<f64>()
            / (1.0 - m);
        let formula = v.mean_disagreement(n, m);
        assert!(
            (direct / formula - 1.0).abs() < 1e-6,
            "{direct} vs {formula}"
        );
    }
}
