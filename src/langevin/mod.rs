//! Langevin dynamics as sampling and as global optimisation: the Gibbs law of a potential and
//! distances to it, mixing diagnostics over chains, escape times against the Eyring–Kramers
//! law, the Gaussian posterior of the infinite-dimensional (semi-implicit) scheme, graduated
//! optimisation and a sharpness measure.
//!
//! Conventions: gradient Langevin dynamics (GLD) is X_{k+1} = X_k − η∇L(X_k) + √(2η/β) ξ_k with
//! ξ_k ~ N(0, I) and β the inverse temperature (the optimizer chain `sgd` + `langevin_noise`, or
//! `mean_field` for particles); its stationary law is π ∝ exp(−βL) up to an O(η) bias (exactly
//! N(0, 1/(βk(1 − ηk/2))) per coordinate for L = k x²/2, [`discrete_quadratic_variance`]).
//! SGLD is the same with `batch_size` > 0: the minibatch loss is the batch *mean*, an unbiased
//! estimate of L, so the noise scale is unchanged. Several chains run as one model
//! ([`crate::nn::Potential`] with `chains`, or `trials` of any spec), each with its own noise
//! streams, deterministic per seed whatever the thread count.

mod free_energy;
pub use free_energy::{gibbs_free_energy, KernelDensity};

use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::linalg::{self, Matrix};
use crate::nn::Landscape;
use crate::rng::Seed;
use crate::train::{Objective, Observer, Snapshot, Workspace};

/// A regular grid of `bins` cells on [lo, hi] (per axis).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Grid {
    /// Lower end.
    pub lo: f64,
    /// Upper end.
    pub hi: f64,
    /// Number of cells.
    pub bins: usize,
}

impl Grid {
    /// Checks lo < hi and bins ≥ 1.
    pub fn new(lo: f64, hi: f64, bins: usize) -> Result<Grid> {
        if !(lo < hi && lo.is_finite() && hi.is_finite()) || bins == 0 {
            return Err(Error::invalid(
                "grid",
                format!("expected lo < hi and bins ≥ 1, got [{lo}, {hi}] with {bins}"),
            ));
        }
        Ok(Grid { lo, hi, bins })
    }

    fn width(&self) -> f64 {
        (self.hi - self.lo) / self.bins as f64
    }

    /// The cell of x, or `None` outside [lo, hi).
    pub fn cell(&self, x: f64) -> Option<usize> {
        if x < self.lo || x >= self.hi || !x.is_finite() {
            return None;
        }
        Some((((x - self.lo) / self.width()) as usize).min(self.bins - 1))
    }
}

/// Sub-points per cell and axis of the Gibbs quadrature (midpoint rule on a finer grid).
const SUB: usize = 8;

/// The Gibbs law π ∝ exp(−βU) of a 1-D or 2-D landscape as cell probabilities on `grid` (per
/// axis; row-major cells for 2-D), by the midpoint rule with 8 sub-points per cell and axis,
/// normalised over the grid (choose it wide enough that the mass outside is negligible).
pub fn gibbs_probabilities(
    landscape: &Landscape,
    dim: usize,
    beta: f64,
    grid: &Grid,
) -> Result<Vec<f64>> {
    gibbs_probabilities_of(&|x: &[f64]| landscape.value(x), dim, beta, grid)
}

/// [`gibbs_probabilities`] for any potential U given as a function of the point.
pub fn gibbs_probabilities_of(
    landscape: &dyn Fn(&[f64]) -> f64,
    dim: usize,
    beta: f64,
    grid: &Grid,
) -> Result<Vec<f64>> {
    crate::error::check_positive("beta", beta)?;
    let h = grid.width() / SUB as f64;
    let at = |c: usize, s: usize| grid.lo + (c * SUB + s) as f64 * h + 0.5 * h;
    let mut logs = match dim {
        1 => {
            let mut v = vec![0.0; grid.bins * SUB];
            for c in 0..grid.bins {
                for s in 0..SUB {
                    v[c * SUB + s] = -beta * landscape(&[at(c, s)]);
                }
            }
            v
        }
        2 => {
            let n = grid.bins * SUB;
            let mut v = vec![0.0; n * n];
            for i in 0..n {
                for j in 0..n {
                    let x = [at(i / SUB, i % SUB), at(j / SUB, j % SUB)];
                    v[i * n + j] = -beta * landscape(&x);
                }
            }
            v
        }
        _ => {
            return Err(Error::invalid(
                "dim",
                "the Gibbs quadrature is for 1-D and 2-D potentials",
            ))
        }
    };
    let top = linalg::max(&logs);
    logs.iter_mut().for_each(|v| *v -= top);
    linalg::exp_in_place(&mut logs);
    let cells = grid.bins.pow(dim as u32);
    let mut p = vec![0.0; cells];
    if dim == 1 {
        for (k, w) in logs.iter().enumerate() {
            p[k / SUB] += w;
        }
    } else {
        let n = grid.bins * SUB;
        for (k, w) in logs.iter().enumerate() {
            let (i, j) = (k / n, k % n);
            p[(i / SUB) * grid.bins + j / SUB] += w;
        }
    }
    let total: f64 = p.iter().sum();
    p.iter_mut().for_each(|v| *v /= total);
    Ok(p)
}

/// The empirical cell probabilities of samples (rows of a matrix with 1 or 2 columns) on
/// `grid`, and the fraction of samples outside it.
pub fn histogram(samples: &Matrix, grid: &Grid) -> Result<(Vec<f64>, f64)> {
    let dim = samples.cols;
    if dim != 1 && dim != 2 {
        return Err(Error::invalid(
            "samples",
            "histograms are for 1-D and 2-D samples",
        ));
    }
    if samples.rows == 0 {
        return Err(Error::invalid(
            "samples",
            "a histogram needs at least one sample",
        ));
    }
    let mut p = vec![0.0; grid.bins.pow(dim as u32)];
    let mut outside = 0.0;
    let w = 1.0 / samples.rows as f64;
    for i in 0..samples.rows {
        let r = samples.row(i);
        let cell = if dim == 1 {
            grid.cell(r[0])
        } else {
            grid.cell(r[0])
                .zip(grid.cell(r[1]))
                .map(|(a, b)| a * grid.bins + b)
        };
        match cell {
            Some(c) => p[c] += w,
            None => outside += w,
        }
    }
    Ok((p, outside))
}

/// Total variation ½ Σ |p − q| between cell probabilities, with `outside` the mass of p off
/// the grid (counted in full: q has none there).
pub fn total_variation(p: &[f64], outside: f64, q: &[f64]) -> Result<f64> {
    same_cells("total_variation", p, q)?;
    Ok(0.5 * (p.iter().zip(q).map(|(a, b)| (a - b).abs()).sum::<f64>() + outside))
}

/// KL(p ‖ q) = Σ p log(p/q) over the cells with p > 0 (q > 0 there for a Gibbs law).
pub fn kl_divergence(p: &[f64], q: &[f64]) -> Result<f64> {
    same_cells("kl_divergence", p, q)?;
    Ok(p.iter()
        .zip(q)
        .filter(|(a, _)| **a > 0.0)
        .map(|(a, b)| a * (a / b).ln())
        .sum())
}

/// Err unless two cell-probability vectors have the same number of cells.
fn same_cells(routine: &str, p: &[f64], q: &[f64]) -> Result<()> {
    if p.len() != q.len() {
        return Err(Error::shape(
            routine,
            format!("{} cells against {}", p.len(), q.len()),
        ));
    }
    Ok(())
}

/// Autocovariances γ_0 … γ_{n−1} of a series (divisor n).
fn autocovariance(x: &[f64]) -> Vec<f64> {
    let n = x.len();
    let mean = x.iter().sum::<f64>() / n as f64;
    let c: Vec<f64> = x.iter().map(|v| v - mean).collect();
    (0..n)
        .map(|lag| {
            c[..n - lag]
                .iter()
                .zip(&c[lag..])
                .map(|(a, b)| a * b)
                .sum::<f64>()
                / n as f64
        })
        .collect()
}

/// The effective sample size of several chains of one scalar (Stan's estimator, Vehtari et al.
/// 2021 without rank normalisation): ρ_t = 1 − (W − mean_c γ_{c,t})/V̂ with V̂ the pooled
/// variance estimate, summed over Geyer's initial monotone positive sequence of pair sums;
/// ESS = C·N / (−1 + 2 Σ_{pairs} (ρ_{2k} + ρ_{2k+1})).
pub fn effective_sample_size(chains: &[Vec<f64>]) -> Result<f64> {
    let (c, n) = check_chains(chains, 4)?;
    let acov: Vec<Vec<f64>> = chains.iter().map(|x| autocovariance(x)).collect();
    let means: Vec<f64> = chains
        .iter()
        .map(|x| x.iter().sum::<f64>() / n as f64)
        .collect();
    let nf = n as f64;
    let w = acov.iter().map(|a| a[0] * nf / (nf - 1.0)).sum::<f64>() / c as f64;
    let grand = means.iter().sum::<f64>() / c as f64;
    let b_over_n = if c > 1 {
        means.iter().map(|m| (m - grand).powi(2)).sum::<f64>() / (c - 1) as f64
    } else {
        0.0
    };
    let var_plus = (nf - 1.0) / nf * w + b_over_n;
    if var_plus <= 0.0 {
        return Err(Error::Numerical {
            routine: "effective_sample_size".into(),
            message: "the chains are constant".into(),
        });
    }
    let rho = |t: usize| 1.0 - (w - acov.iter().map(|a| a[t]).sum::<f64>() / c as f64) / var_plus;
    let mut sum = 0.0;
    let mut prev = f64::INFINITY;
    let mut t = 0;
    while t + 1 < n {
        let pair = rho(t) + rho(t + 1);
        if pair <= 0.0 {
            break;
        }
        let pair = pair.min(prev);
        sum += pair;
        prev = pair;
        t += 2;
    }
    let tau = (-1.0 + 2.0 * sum).max(1.0 / (c as f64 * nf).log10().max(1.0));
    Ok(c as f64 * nf / tau)
}

/// Split-R̂ (Gelman et al. 2013): each chain is halved, then R̂ = √(V̂ / W) with W the mean
/// within-half variance and V̂ = (N−1)/N W + B/N. Values near 1 mean the chains mix.
pub fn split_rhat(chains: &[Vec<f64>]) -> Result<f64> {
    let (_, n) = check_chains(chains, 4)?;
    let half = n / 2;
    let halves: Vec<&[f64]> = chains
        .iter()
        .flat_map(|x| [&x[..half], &x[n - half..]])
        .collect();
    let m = halves.len() as f64;
    let nf = half as f64;
    let means: Vec<f64> = halves.iter().map(|h| h.iter().sum::<f64>() / nf).collect();
    let vars: Vec<f64> = halves
        .iter()
        .zip(&means)
        .map(|(h, mu)| h.iter().map(|v| (v - mu).powi(2)).sum::<f64>() / (nf - 1.0))
        .collect();
    let grand = means.iter().sum::<f64>() / m;
    let b = nf * means.iter().map(|mu| (mu - grand).powi(2)).sum::<f64>() / (m - 1.0);
    let w = vars.iter().sum::<f64>() / m;
    let v = (nf - 1.0) / nf * w + b / nf;
    if v <= 0.0 {
        return Err(Error::Numerical {
            routine: "split_rhat".into(),
            message: "the chains are constant".into(),
        });
    }
    Ok((v / w).sqrt())
}

fn check_chains(chains: &[Vec<f64>], min_len: usize) -> Result<(usize, usize)> {
    let n = chains.first().map_or(0, Vec::len);
    if chains.is_empty() || n < min_len || chains.iter().any(|c| c.len() != n) {
        return Err(Error::invalid(
            "chains",
            format!("expected chains of equal length ≥ {min_len}"),
        ));
    }
    if let Some(k) = chains.iter().position(|c| c.iter().any(|v| !v.is_finite())) {
        return Err(Error::NonFinite {
            what: "chains".into(),
            location: format!("chain {k}"),
        });
    }
    Ok((chains.len(), n))
}

/// The stationary variance of GLD on k x²/2 with step η: the chain x ← (1 − ηk)x + √(2η/β)ξ has
/// Var = (2η/β)/(1 − (1 − ηk)²) = 1/(βk(1 − ηk/2)) for k, η, β > 0 with ηk < 2 (otherwise the
/// chain has no stationary law: an error).
pub fn discrete_quadratic_variance(k: f64, lr: f64, beta: f64) -> Result<f64> {
    crate::error::check_positive("k", k)?;
    crate::error::check_positive("lr", lr)?;
    crate::error::check_positive("beta", beta)?;
    if lr * k >= 2.0 {
        return Err(Error::invalid(
            "lr",
            format!(
                "the chain is stationary only for ηk < 2, got ηk = {}",
                lr * k
            ),
        ));
    }
    Ok(1.0 / (beta * k * (1.0 - lr * k / 2.0)))
}

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

/// Records the distance of the chains' current law to the Gibbs law: at every recorded step,
/// the histogram of the C chains' positions (of a 1-D or 2-D [`crate::nn::Potential`]) on
/// `grid` against π ∝ exp(−βU) by quadrature ([`gibbs_probabilities_of`]), as the columns
/// `tv_gibbs` ([`total_variation`]) and `kl_gibbs` ([`kl_divergence`] of the histogram from π).
/// Along a run this is the law of X_t against time — geometric ergodicity shows as an
/// exponential decay down to the floor set by the number of chains and the O(η) bias.
pub struct GibbsDistance {
    dim: usize,
    grid: Grid,
    gibbs: Vec<f64>,
}

impl GibbsDistance {
    /// For chains of dimension `dim` (1 or 2) on the potential `u` at inverse temperature β.
    pub fn new(u: &dyn Fn(&[f64]) -> f64, dim: usize, beta: f64, grid: Grid) -> Result<Self> {
        let gibbs = gibbs_probabilities_of(u, dim, beta, &grid)?;
        Ok(GibbsDistance { dim, grid, gibbs })
    }

    /// The Gibbs cell probabilities it compares with.
    pub fn gibbs(&self) -> &[f64] {
        &self.gibbs
    }
}

impl Observer for GibbsDistance {
    fn columns(&self) -> Vec<String> {
        vec!["tv_gibbs".into(), "kl_gibbs".into()]
    }

    fn observe(&mut self, s: &Snapshot<'_>) -> Result<Vec<f64>> {
        let chains = s.params.len() / self.dim;
        let samples = Matrix::from_vec(chains, self.dim, s.params[..chains * self.dim].to_vec())?;
        let (p, outside) = histogram(&samples, &self.grid)?;
        let kl = if outside > 0.0 {
            f64::INFINITY
        } else {
            kl_divergence(&p, &self.gibbs)?
        };
        Ok(vec![total_variation(&p, outside, &self.gibbs)?, kl])
    }
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

/// The sharpness of a point: the largest eigenvalue of the Hessian of the objective, by
/// `iterations` steps of Lanczos ([`linalg::Lanczos`]) on Hessian–vector products
/// H v ≈ (∇L(x + h v) − ∇L(x − h v)) / (2h), h = 1e-5 (‖v‖ = 1), started from a seeded random
/// vector; the largest Ritz value of the tridiagonal matrix.
pub fn sharpness(
    objective: &Objective<'_>,
    data: &Dataset,
    params: &[f64],
    iterations: usize,
    seed: Seed,
) -> Result<f64> {
    objective.model.check_params("sharpness", params)?;
    let p = params.len();
    if p == 0 {
        return Err(Error::shape("sharpness", "a model without parameters"));
    }
    let k = iterations.clamp(1, p);
    let mut ws = Workspace::default();
    let (mut plus, mut minus, mut gp, mut gm) =
        (vec![0.0; p], vec![0.0; p], vec![0.0; p], vec![0.0; p]);
    let h = 1e-5;
    let mut hvp = |v: &[f64], out: &mut [f64]| {
        for i in 0..p {
            plus[i] = params[i] + h * v[i];
            minus[i] = params[i] - h * v[i];
        }
        objective.value_and_gradient(&plus, data, &mut ws, &mut gp);
        objective.value_and_gradient(&minus, data, &mut ws, &mut gm);
        for i in 0..p {
            out[i] = (gp[i] - gm[i]) / (2.0 * h);
        }
    };
    let mut v = vec![0.0; p];
    seed.stream("lanczos", 0).fill_normal(&mut v, 1.0);
    let mut process = linalg::Lanczos::new(&v).ok_or_else(|| {
        Error::invalid("sharpness", "the random start vector is zero or not finite")
    })?;
    loop {
        let (m, invariant) = process.advance(&mut hvp);
        if m == k || invariant {
            break;
        }
        process.accept();
    }
    let t = process.tridiagonal();
    Ok(*linalg::symmetric_eigenvalues(&t)?
        .last()
        .unwrap_or(&f64::NAN))
}
