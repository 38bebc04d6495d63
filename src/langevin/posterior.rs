//! The Gaussian posterior of a model linear in its parameters, and the stationary laws and
//! biases of the semi-implicit and explicit discretisations of infinite-dimensional Langevin.

use crate::error::{Error, Result};
use crate::linalg::{self, Matrix};

/// The Gaussian posterior of a model linear in its parameters, f = Φθ, under the loss
/// L(θ) = (1/n) Σ ½ (y_i − (Φθ)_i)² and the prior N(0, (βλ)^{-1} diag(μ)): the law
/// ∝ exp(−β L(θ) − (βλ/2) θᵀ diag(μ)^{-1} θ) = N(m, Σ) with
/// Σ = (β (ΦᵀΦ/n + λ diag(μ)^{-1}))^{-1} and m = (ΦᵀΦ/n + λ diag(μ)^{-1})^{-1} Φᵀy/n — the
/// stationary law of the infinite-dimensional Langevin dynamics of SPEC §5 (Muzellec et al. 2022).
/// Shorthand for [`LinearGaussian::posterior`].
pub fn linear_gaussian_posterior(
    phi: &Matrix,
    y: &[f64],
    mu: &[f64],
    beta: f64,
    lambda: f64,
) -> Result<(Vec<f64>, Matrix)> {
    LinearGaussian::new(phi, y, mu, beta, lambda)?.posterior()
}

/// A discretisation of the Langevin dynamics dX = −(∇L(X) + λAX) dt + √(2/β) dW,
/// A = diag(μ)^{-1}.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    /// X' = (I + ηλA)^{-1}(X − η∇L(X) + √(2η/β) ξ): stable for every truncation.
    SemiImplicit,
    /// Euler–Maruyama X' = X − η(∇L(X) + λAX) + √(2η/β) ξ: needs ηλ max μ^{-1} < 2, so it breaks
    /// down as the truncation grows.
    Explicit,
}

/// The infinite-dimensional Langevin problem with a loss quadratic in the coordinates:
/// L(θ) = (1/2n) ‖y − Φθ‖² = ½ θᵀHθ − rᵀθ + c with H = ΦᵀΦ/n, r = Φᵀy/n, c = ‖y‖²/2n, and the
/// prior N(0, (βλ)^{-1} diag(μ)). Everything about it is Gaussian and computed in closed form:
/// the posterior (the continuous-time stationary law), the exact stationary law of each
/// discrete [`Scheme`], and the expected loss under either — so the bias of a scheme in
/// E L(X_n) is known exactly as a function of the step size and the truncation.
#[derive(Clone, Debug)]
pub struct LinearGaussian {
    /// H = ΦᵀΦ/n.
    pub h: Matrix,
    /// r = Φᵀy/n.
    pub r: Vec<f64>,
    /// c = ‖y‖²/2n.
    pub c: f64,
    /// Prior variances μ_k.
    pub mu: Vec<f64>,
    /// Inverse temperature β.
    pub beta: f64,
    /// Prior strength λ.
    pub lambda: f64,
}

impl LinearGaussian {
    /// From the features Φ (n × K), the targets, μ, β and λ.
    pub fn new(phi: &Matrix, y: &[f64], mu: &[f64], beta: f64, lambda: f64) -> Result<Self> {
        let (n, p) = (phi.rows, phi.cols);
        if y.len() != n || mu.len() != p {
            return Err(Error::shape(
                "linear Gaussian problem",
                format!("Φ is {n} × {p}, y has {}, μ has {}", y.len(), mu.len()),
            ));
        }
        crate::error::check_positive("beta", beta)?;
        crate::error::check_positive("lambda", lambda)?;
        for (k, m) in mu.iter().enumerate() {
            crate::error::check_positive(&format!("mu[{k}]"), *m)?;
        }
        let mut h = Matrix::zeros(p, p);
        linalg::gemm(
            &mut h,
            0.0,
            phi.view().transpose(),
            phi.view(),
            1.0 / n as f64,
        );
        let mut r = Matrix::zeros(p, 1);
        linalg::gemm(
            &mut r,
            0.0,
            phi.view().transpose(),
            linalg::view(y, n, 1),
            1.0 / n as f64,
        );
        Ok(LinearGaussian {
            h,
            r: r.data,
            c: linalg::dot(y, y) / (2.0 * n as f64),
            mu: mu.to_vec(),
            beta,
            lambda,
        })
    }

    /// L(θ) = ½ θᵀHθ − rᵀθ + c.
    pub fn loss(&self, theta: &[f64]) -> f64 {
        let p = theta.len();
        let mut hq = Matrix::zeros(p, 1);
        linalg::gemm(&mut hq, 0.0, self.h.view(), linalg::view(theta, p, 1), 1.0);
        0.5 * linalg::dot(theta, &hq.data) - linalg::dot(&self.r, theta) + self.c
    }

    /// E L(X) for X ~ N(m, Σ): L(m) + tr(HΣ)/2.
    pub fn expected_loss(&self, mean: &[f64], cov: &Matrix) -> f64 {
        let trace: f64 = self.h.data.iter().zip(&cov.data).map(|(a, b)| a * b).sum();
        self.loss(mean) + 0.5 * trace
    }

    /// The precision-like matrix P = H + λ diag(μ)^{-1}.
    fn precision(&self) -> Matrix {
        let mut p = self.h.clone();
        for (k, m) in self.mu.iter().enumerate() {
            let v = p.get(k, k) + self.lambda / m;
            p.set(k, k, v);
        }
        p
    }

    /// The posterior N(m, Σ): P m = r and Σ = (βP)^{-1}, P = H + λ diag(μ)^{-1}.
    pub fn posterior(&self) -> Result<(Vec<f64>, Matrix)> {
        let p = self.precision();
        let mean = linalg::cholesky_solve(&p, &Matrix::column(self.r.clone()))?.data;
        let mut cov = linalg::cholesky_solve(&p, &Matrix::identity(self.mu.len()))?;
        cov.data.iter_mut().for_each(|v| *v /= self.beta);
        Ok((mean, cov))
    }

    /// The exact stationary law N(m, Σ_η) of a discrete scheme with step η. Both schemes are
    /// linear recursions X' = M X + b + noise with noise covariance Q:
    /// semi-implicit M = S(I − ηH), Q = (2η/β) S², S = (I + ηλA)^{-1}; explicit
    /// M = I − η(H + λA), Q = (2η/β) I. Their fixed mean solves P m = r exactly (the posterior
    /// mean, unbiased), and Σ_η solves the discrete Lyapunov equation Σ = MΣMᵀ + Q, computed by
    /// doubling: Σ ← Σ + M_j Σ M_jᵀ, M_{j+1} = M_j² (Σ_{k<2^j} M^k Q M^{kᵀ} after j rounds).
    /// An error when the scheme is unstable (spectral radius of M ≥ 1).
    pub fn scheme_stationary(&self, lr: f64, scheme: Scheme) -> Result<(Vec<f64>, Matrix)> {
        crate::error::check_positive("lr", lr)?;
        let p = self.mu.len();
        let noise = 2.0 * lr / self.beta;
        let mut m = Matrix::zeros(p, p);
        let mut q = Matrix::zeros(p, p);
        for i in 0..p {
            let a = self.lambda / self.mu[i];
            let (row_scale, diag_extra, qd) = match scheme {
                Scheme::SemiImplicit => {
                    let s = 1.0 / (1.0 + lr * a);
                    (s, 0.0, noise * s * s)
                }
                Scheme::Explicit => (1.0, -lr * a, noise),
            };
            for j in 0..p {
                let delta = if i == j { 1.0 } else { 0.0 };
                m.set(
                    i,
                    j,
                    row_scale * (delta - lr * self.h.get(i, j)) + delta * diag_extra,
                );
            }
            q.set(i, i, qd);
        }
        let mut sigma = q;
        let mut tmp = Matrix::zeros(p, p);
        let mut next = Matrix::zeros(p, p);
        let unstable = || Error::Numerical {
            routine: "scheme_stationary".into(),
            message: format!(
                "the {scheme:?} scheme is unstable at step size {lr} (spectral radius ≥ 1)"
            ),
        };
        for _ in 0..80 {
            // next = M Σ Mᵀ
            linalg::gemm(&mut tmp, 0.0, m.view(), sigma.view(), 1.0);
            linalg::gemm(&mut next, 0.0, tmp.view(), m.view().transpose(), 1.0);
            let added = next.frobenius_norm();
            let total = sigma.frobenius_norm();
            if !added.is_finite() || added > 1e12 * total.max(1e-300) {
                return Err(unstable());
            }
            sigma
                .data
                .iter_mut()
                .zip(&next.data)
                .for_each(|(s, v)| *s += v);
            if added <= 1e-17 * total {
                linalg::fill_lower_from_upper(&mut sigma);
                let (mean, _) = self.posterior()?;
                return Ok((mean, sigma));
            }
            linalg::gemm(&mut tmp, 0.0, m.view(), m.view(), 1.0);
            std::mem::swap(&mut m, &mut tmp);
        }
        Err(unstable())
    }

    /// The bias of a scheme in the expected loss: E L under its stationary law minus E_π L
    /// under the posterior (the error of the long-run average of L(X_n) against its
    /// stationary mean, SPEC §5).
    pub fn stationary_bias(&self, lr: f64, scheme: Scheme) -> Result<f64> {
        let (m, sigma) = self.scheme_stationary(lr, scheme)?;
        let (m0, sigma0) = self.posterior()?;
        Ok(self.expected_loss(&m, &sigma) - self.expected_loss(&m0, &sigma0))
    }
}
