//! The kernel side of `averaged-sgd`'s NTK-regime experiment: the closed-form (Funk–Hecke)
//! eigenvalues of the two-layer ReLU NTK on the circle (eigenfunctions: the Fourier modes), a
//! target of known source exponent r in that eigenbasis, the regularisation schedule
//! λ_T = c T^(−β/(2rβ+1)) and the theorem's exponent, and the kernel-limit bias–variance
//! expression of the averaged recursion (shown next to the network's measurements).
//!
//! Basis: (1, √2 cos kφ, √2 sin kφ)_{k ∈ F}, orthonormal in L²(S¹), F the frequencies
//! 0 ≤ k ≤ 128 with μ_k > 0 (k = 0, 1 and the even k: the bias-free ReLU NTK vanishes on the
//! odd k ≥ 3).

use crate::error::{Error, Result};
use crate::kernel::analytic::two_layer_ntk;
use crate::kernel::spectrum::zonal_eigenvalue;
use crate::linalg::Matrix;
use crate::nn::Activation;
use crate::rng::Seed;

/// The highest frequency of the truncated feature map.
pub(super) const MAX_FREQUENCY: usize = 128;
/// The eigen-decay exponent of the circle NTK by eigenvalue index, μ_i ≍ i^(−β): μ_k ≍ k^(−d)
/// per degree on S^(d−1) with N(k, d) ≍ k^(d−2) harmonics (Bietti & Mairal 2019), so β = d/(d−1)
/// = 2 on the circle.
pub(super) const BETA: f64 = 2.0;
/// Noise standard deviation σ of y = f*(x) + σξ.
pub(super) const NOISE: f64 = 0.5 * AMPLITUDE;
/// The target's norm ‖f*‖_L²: small, so that the finite-width net stays in its linearised
/// (NTK) regime — its parameters move by O(‖f*‖ M^{−1/2}) — see the claim's setup.
pub(super) const AMPLITUDE: f64 = 0.1;
/// The constant step η: ‖ψ(x)‖² = k_∞(x, x) = 1 (up to the truncation), so ηκ(1) = 1 < 2, the
/// stability range of the least-mean-squares recursion.
pub(super) const STEP: f64 = 1.0;

/// The nonzero eigenvalues of the two-layer ReLU NTK on the circle, (k, μ_k) for
/// 0 ≤ k ≤ [`MAX_FREQUENCY`], by the Funk–Hecke formula μ_k = (1/π)∫₀^π κ(cos φ) cos kφ dφ.
pub(super) fn circle_spectrum() -> Result<Vec<(usize, f64)>> {
    let a = Matrix::from_fn(1, 2, |_, j| if j == 0 { 1.0 } else { 0.0 });
    let kappa = |t: f64| -> f64 {
        let b = Matrix::from_fn(1, 2, |_, j| {
            if j == 0 {
                t
            } else {
                (1.0 - t * t).max(0.0).sqrt()
            }
        });
        two_layer_ntk(&a, Some(&b), Activation::Relu)
            .map(|k| k.data[0])
            .unwrap_or(f64::NAN)
    };
    let mut out = Vec::new();
    let mut mu0 = f64::NAN;
    for k in 0..=MAX_FREQUENCY {
        let mu = zonal_eigenvalue(&kappa, 2, k, 256)?;
        if k == 0 {
            mu0 = mu;
        }
        if !mu.is_finite() {
            return Err(Error::invalid(
                "averaged-sgd",
                format!("NTK eigenvalue μ_{k} is not finite"),
            ));
        }
        // The odd k ≥ 3 vanish exactly; the quadrature leaves round-off there.
        if mu > 1e-9 * mu0 {
            out.push((k, mu));
        }
    }
    Ok(out)
}

/// The feature map and the target of one source exponent.
pub(super) struct Problem {
    /// Frequency of each feature.
    freq: Vec<usize>,
    /// Whether the feature is the sine (else the cosine) of its frequency.
    sine: Vec<bool>,
    /// √μ of each feature.
    root_mu: Vec<f64>,
    /// The target's coefficients in the orthonormal basis (1, √2 cos kφ, √2 sin kφ).
    target: Vec<f64>,
}

impl Problem {
    /// The target f* = Σ_{k even ≥ 2} A_k √2 cos(kφ − ψ_k), A_k ∝ μ_k^r k^(−1/2) normalised to
    /// ‖f*‖ = 1, phases ψ_k uniform from `seed`: f* = Σ^r h with h_k ∝ k^(−1/2), at the edge
    /// of the source class (in range(Σ^r′) for every r′ < r), so its regularisation bias
    /// Σ_i (λ/(μ_i+λ))² f*_i² is of order λ^(2r) exactly, and the rate is attained, not beaten.
    pub(super) fn new(spectrum: &[(usize, f64)], r: f64, seed: Seed) -> Problem {
        let mut rng = seed.stream("averaged-sgd-target-phases", 0);
        let (mut freq, mut sine, mut root_mu, mut target) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for &(k, mu) in spectrum {
            let (amplitude, phase) = if k >= 2 && k % 2 == 0 {
                (
                    mu.powf(r) / (k as f64).sqrt(),
                    std::f64::consts::TAU * rng.uniform(),
                )
            } else {
                (0.0, 0.0)
            };
            let copies: &[bool] = if k == 0 { &[false] } else { &[false, true] };
            for &s in copies {
                freq.push(k);
                sine.push(s);
                root_mu.push(mu.sqrt());
                target.push(amplitude * if s { phase.sin() } else { phase.cos() });
            }
        }
        let norm = target.iter().map(|v| v * v).sum::<f64>().sqrt();
        target.iter_mut().for_each(|v| *v *= AMPLITUDE / norm);
        Problem {
            freq,
            sine,
            root_mu,
            target,
        }
    }

    /// The eigenvalue μ of each feature.
    pub(super) fn eigenvalues(&self) -> Vec<f64> {
        self.root_mu.iter().map(|v| v * v).collect()
    }

    /// The target's coefficients f*_i.
    pub(super) fn target(&self) -> &[f64] {
        &self.target
    }

    /// The orthonormal basis (1, √2 cos kφ, √2 sin kφ) at the angle φ, into `e`; `c`, `s` are
    /// scratch (cos kφ, sin kφ for k ≤ 128 by the angle-addition recurrence).
    fn basis(&self, phi: f64, c: &mut [f64], s: &mut [f64], e: &mut [f64]) {
        let (c1, s1) = (phi.cos(), phi.sin());
        c[0] = 1.0;
        s[0] = 0.0;
        for k in 1..c.len() {
            c[k] = c[k - 1] * c1 - s[k - 1] * s1;
            s[k] = s[k - 1] * c1 + c[k - 1] * s1;
        }
        let root2 = std::f64::consts::SQRT_2;
        for (j, v) in e.iter_mut().enumerate() {
            let k = self.freq[j];
            *v = if k == 0 {
                1.0
            } else if self.sine[j] {
                root2 * s[k]
            } else {
                root2 * c[k]
            };
        }
    }

    /// f*(φ) at each angle.
    pub(super) fn values(&self, angles: &[f64]) -> Vec<f64> {
        let p = self.freq.len();
        let mut c = vec![0.0; MAX_FREQUENCY + 1];
        let mut s = vec![0.0; MAX_FREQUENCY + 1];
        let mut e = vec![0.0; p];
        angles
            .iter()
            .map(|&phi| {
                self.basis(phi, &mut c, &mut s, &mut e);
                e.iter().zip(&self.target).map(|(a, b)| a * b).sum()
            })
            .collect()
    }
}

/// The regularisation of horizon T: λ_T = c T^(−β/(2rβ+1)) (Nitanda & Suzuki's choice).
pub(super) fn lambda(r: f64, c: f64, t: usize) -> f64 {
    c * (t as f64).powf(-BETA / (2.0 * r * BETA + 1.0))
}

/// The theorem's exponent of the excess risk, −2rβ/(2rβ + 1).
pub(super) fn exponent(r: f64) -> f64 {
    -2.0 * r * BETA / (2.0 * r * BETA + 1.0)
}

/// The kernel-limit bias–variance expression of the averaged recursion (not checked; shown
/// next to the network's measurements): Σ_i (√μ_i m̄_i − f*_i)² + (σ²/T) Σ_i μ_i²/(μ_i+λ)², where
/// m̄_i = θ_λ,i (1 − (1 − (1−q_i)^T)/(q_i T)) is the average of the mean iterates
/// m_t,i = θ_λ,i (1 − (1−q_i)^t), q_i = η(μ_i+λ), θ_λ,i = √μ_i f*_i/(μ_i+λ) the regularised
/// optimum: the regularisation bias, the optimisation bias of the average from θ₀ = 0, and the
/// averaged noise (Bach & Moulines' σ² tr(H(H+λ)⁻²H)/T).
pub(super) fn proxy(mu: &[f64], target: &[f64], lambda: f64, t: usize) -> f64 {
    let tf = t as f64;
    let bias: f64 = mu
        .iter()
        .zip(target)
        .map(|(&m, &f)| {
            let q = STEP * (m + lambda);
            let optimum = m.sqrt() * f / (m + lambda);
            let mean = optimum * (1.0 - (1.0 - (1.0 - q).powf(tf)) / (q * tf));
            (m.sqrt() * mean - f).powi(2)
        })
        .sum();
    let dof: f64 = mu.iter().map(|m| (m / (m + lambda)).powi(2)).sum();
    bias + NOISE * NOISE * dof / tf
}
