//! Entropic optimal transport by Sinkhorn's algorithm in the log domain.
//!
//! The problem: OT_ε(a, b) = min_{P ∈ Π(a, b)} ⟨C, P⟩ + ε KL(P ‖ a ⊗ b) (Cuturi 2013; the KL form
//! of Feydy et al. 2019, whose minimiser is the same plan as POT's ε Σ P (log P − 1)). The plan
//! is P_ij = exp((φ_i + ψ_j − C_ij)/ε) for dual potentials φ, ψ, and Sinkhorn alternates
//! ψ_j = ε log b_j − ε log Σ_i exp((φ_i − C_ij)/ε),  φ_i = ε log a_i − ε log Σ_j exp((ψ_j − C_ij)/ε).
//!
//! **Dense mode** ([`solve`]) runs these updates in the stabilised form of Schmitzer (2019,
//! Alg. 2): φ = F + ε log u, ψ = G + ε log v with the kernel K_ij = exp((F_i + G_j − C_ij)/ε)
//! stored once, multiplicative updates v = b / Kᵀu, u = a / K v (POT's order), and the scalings
//! absorbed into (F, G) — with K recomputed — whenever some |log u_i| or |log v_j| exceeds 100.
//! The iterates are those of the log-domain recursion (no entry of the plan that matters can
//! underflow: an entry of K below 1e-308 times scalings ≤ e^200 is below 1e-221), at the cost
//! of a matrix–vector product instead of an exponential per entry and iteration. Each
//! iteration is a single pass over K: the row update u_i = a_i / (K v)_i and the accumulation of
//! Kᵀu share it.
//!
//! **Online mode** ([`solve_online`]) never stores C or K: each half-iteration recomputes the
//! costs tile by tile from the points and applies the log-sum-exp update above literally.
//!
//! **Stopping rule** (both modes, checked after *every* iteration): after the row update the
//! row marginal is exact; the iteration stops when the column marginal's Euclidean error
//! ‖Pᵀ1 − b‖₂ is below `tol` (POT's `stopThr` measures the same quantity, checking every 10th
//! iteration). **ε-scaling** (Kosowsky & Yuille 1994; Schmitzer 2019) solves a sequence
//! ε_k = max(ε, ε_0 θ^k), ε_0 = max C, warm-starting each stage from the previous potentials;
//! an intermediate stage stops at its own tolerance `stage_tol` or after `stage_iterations`
//! iterations, whichever comes first; only the last stage (at ε) uses `tol`.

use super::{check_same_dim, cost_rows, squared_norms, GroundCost, Measure, COST_TILE};
use crate::commands::Cancel;
use crate::error::{check_positive, Error, Result};
use crate::linalg;
use crate::linalg::{Matrix, MatrixView};
use rayon::prelude::*;

/// Settings of the Sinkhorn solvers.
#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    /// The regularisation ε > 0.
    pub reg: f64,
    /// Stop when ‖Pᵀ1 − b‖₂ < tol (default 1e-9, POT's `stopThr`).
    pub tol: f64,
    /// At most this many iterations in the final stage (default 100 000).
    pub max_iter: usize,
    /// ε-scaling: `Some(θ)` with θ ∈ (0, 1) solves ε_k = max(ε, ε_0 θ^k) in turn; `None` solves
    /// at ε directly. [`Options::new`] turns it on (θ = 0.5) when max C / ε > 200, where the
    /// unscaled kernel would underflow.
    pub eps_scaling: Option<f64>,
    /// Tolerance of the intermediate ε-scaling stages (default 1e-5).
    pub stage_tol: f64,
    /// Iteration budget of each intermediate stage (default 200).
    pub stage_iterations: usize,
}

impl Options {
    /// Defaults at regularisation `reg` (checked > 0); ε-scaling is decided from the costs
    /// when the solver sees them (see [`Options::eps_scaling`]).
    pub fn new(reg: f64) -> Result<Options> {
        check_positive("reg (ε)", reg)?;
        Ok(Options {
            reg,
            tol: 1e-9,
            max_iter: 100_000,
            eps_scaling: None,
            stage_tol: 1e-5,
            stage_iterations: 200,
        })
    }

    /// The ε schedule for costs whose largest entry is `max_cost`.
    fn schedule(&self, max_cost: f64) -> Vec<f64> {
        let theta = match self.eps_scaling {
            Some(t) => t,
            None if max_cost / self.reg > 200.0 => 0.5,
            None => return vec![self.reg],
        };
        let mut eps = vec![];
        let mut e = max_cost.max(self.reg);
        while e > self.reg {
            eps.push(e);
            e *= theta;
        }
        eps.push(self.reg);
        eps
    }

    fn check(&self) -> Result<()> {
        check_positive("reg (ε)", self.reg)?;
        check_positive("tol", self.tol)?;
        if let Some(t) = self.eps_scaling {
            if !(t > 0.0 && t < 1.0) {
                return Err(Error::invalid(
                    "eps_scaling",
                    format!("expected a factor in (0, 1), got {t}"),
                ));
            }
        }
        Ok(())
    }
}

/// The result of a Sinkhorn solve.
#[derive(Clone, Debug)]
pub struct SinkhornSolution {
    /// ⟨C, P_ε⟩ (what POT's `sinkhorn2` returns).
    pub cost: f64,
    /// OT_ε = ⟨C, P_ε⟩ + ε KL(P_ε ‖ a ⊗ b).
    pub entropic: f64,
    /// Potentials φ (sources) with P_ij = exp((φ_i + ψ_j − C_ij)/ε).
    pub phi: Vec<f64>,
    /// Potentials ψ (targets).
    pub psi: Vec<f64>,
    /// Iterations of the final stage (plus those of the ε-scaling stages).
    pub iterations: usize,
    /// max(‖P_ε 1 − a‖₂, ‖P_ε^T 1 − b‖₂) of the plan returned (computed from the plan itself;
    /// NaN or ∞ when it overflowed).
    pub marginal_error: f64,
    /// Whether the returned plan meets `tol` on both marginals with a finite value.
    pub converged: bool,
    /// The dense plan (empty for [`solve_online`]).
    pub plan: Matrix,
}

impl SinkhornSolution {
    /// The solution with values (⟨C, P⟩, OT_ε), potentials (φ, ψ) and the plan's
    /// `marginal_error`: converged when that error is below `tol` and both values are finite
    /// (the one convergence rule of the dense and the online solver).
    fn judged(
        (cost, entropic): (f64, f64),
        (phi, psi): (Vec<f64>, Vec<f64>),
        iterations: usize,
        marginal_error: f64,
        tol: f64,
        plan: Matrix,
    ) -> SinkhornSolution {
        SinkhornSolution {
            cost,
            entropic,
            phi,
            psi,
            iterations,
            marginal_error,
            converged: marginal_error < tol && cost.is_finite() && entropic.is_finite(),
            plan,
        }
    }
}

/// log-stabilised scaling state over a dense cost matrix.
struct Dense<'a> {
    c: MatrixView<'a>,
    a: &'a [f64],
    b: &'a [f64],
    eps: f64,
    big_f: Vec<f64>,
    big_g: Vec<f64>,
    u: Vec<f64>,
    v: Vec<f64>,
    k: Matrix,
    /// Kᵀu for the current u.
    ktu: Vec<f64>,
    block: usize,
    /// Whether ε-scaling is on (the underflow advice depends on it).
    scaled: bool,
}

const ABSORB_LOG: f64 = 100.0;

impl<'a> Dense<'a> {
    fn new(c: MatrixView<'a>, a: &'a [f64], b: &'a [f64], eps: f64) -> Dense<'a> {
        let (n, m) = (c.rows, c.cols);
        // Fixed row blocks (a function of n only) keep the sums thread-count independent.
        let block = (n.div_ceil(64)).max(16);
        let mut s = Dense {
            c,
            a,
            b,
            eps,
            big_f: vec![0.0; n],
            big_g: vec![0.0; m],
            u: vec![1.0; n],
            v: vec![1.0; m],
            k: Matrix::zeros(n, m),
            ktu: vec![0.0; m],
            block,
            scaled: false,
        };
        s.rebuild_kernel();
        s
    }

    /// K_ij = exp((F_i + G_j − C_ij)/ε) and Kᵀu for the current u.
    fn rebuild_kernel(&mut self) {
        let (m, eps) = (self.c.cols, self.eps);
        let (f, g) = (&self.big_f, &self.big_g);
        self.k
            .data
            .par_chunks_mut(m)
            .zip(self.c.data.par_chunks(m))
            .zip(f.par_iter())
            .for_each(|((krow, crow), &fi)| {
                for ((k, &c), &gj) in krow.iter_mut().zip(crow).zip(g) {
                    *k = (fi + gj - c) / eps;
                }
                linalg::exp_in_place(krow);
            });
        self.ktu = self.transpose_times_u();
    }

    fn transpose_times_u(&self) -> Vec<f64> {
        let m = self.c.cols;
        let partials: Vec<Vec<f64>> = self
            .k
            .data
            .par_chunks(self.block * m)
            .zip(self.u.par_chunks(self.block))
            .map(|(kb, ub)| {
                let mut acc = vec![0.0; m];
                for (krow, &ui) in kb.chunks(m).zip(ub) {
                    acc.iter_mut().zip(krow).for_each(|(s, k)| *s += ui * k);
                }
                acc
            })
            .collect();
        sum_partials(partials, m)
    }

    /// One iteration: v = b / Kᵀu, then one pass over K computing u = a / K v and Kᵀu.
    /// Returns ‖v ⊙ Kᵀu − b‖₂.
    fn iterate(&mut self) -> Result<f64> {
        let m = self.c.cols;
        for ((v, &s), &bj) in self.v.iter_mut().zip(&self.ktu).zip(self.b) {
            *v = bj / s;
        }
        let v = &self.v;
        let a = self.a;
        let partials: Vec<Vec<f64>> = self
            .k
            .data
            .par_chunks(self.block * m)
            .zip(self.u.par_chunks_mut(self.block))
            .zip(a.par_chunks(self.block))
            .map(|((kb, ub), ab)| {
                let mut acc = vec![0.0; m];
                for ((krow, ui), &ai) in kb.chunks(m).zip(ub.iter_mut()).zip(ab) {
                    *ui = row_update(krow, v, ai, &mut acc);
                }
                acc
            })
            .collect();
        self.ktu = sum_partials(partials, m);
        if !self
            .u
            .iter()
            .chain(&self.v)
            .all(|x| x.is_finite() && *x > 0.0)
        {
            let advice = if self.scaled {
                "ε-scaling is on and did not prevent it: use a larger ε or the exact solver"
            } else {
                "use ε-scaling (--eps-scaling) or a larger ε"
            };
            return Err(Error::Numerical {
                routine: "sinkhorn".into(),
                message: format!(
                    "the kernel exp(−C/ε) underflowed at ε = {}; {advice}",
                    self.eps
                ),
            });
        }
        let err = self
            .v
            .iter()
            .zip(&self.ktu)
            .zip(self.b)
            .map(|((v, s), bj)| (v * s - bj).powi(2))
            .sum::<f64>()
            .sqrt();
        let out_of_range = |x: &f64| x.ln().abs() > ABSORB_LOG;
        if self.u.iter().any(out_of_range) || self.v.iter().any(out_of_range) {
            self.absorb();
        }
        Ok(err)
    }

    /// F += ε log u, G += ε log v, u = v = 1, rebuild K.
    fn absorb(&mut self) {
        self.absorb_to(self.eps);
    }

    /// Runs iterations until the error is below `tol` or `max_iter` are done; `cancel` is
    /// polled before each iteration (one pass over the n × m kernel: the poll is free beside
    /// it).
    fn run(&mut self, tol: f64, max_iter: usize, cancel: Cancel) -> Result<(usize, f64)> {
        let mut err = f64::INFINITY;
        for it in 1..=max_iter {
            cancel.check(|| format!("at Sinkhorn iteration {it} (ε = {})", self.eps))?;
            err = self.iterate()?;
            if err < tol {
                return Ok((it, err));
            }
        }
        Ok((max_iter, err))
    }
}

/// u_i = a_i / Σ_j K_ij v_j, then acc += u_i K_i. The dot product sums eight interleaved lanes
/// and then the lanes in a fixed order, so every vector width gives the same bits.
#[inline(always)]
fn row_update_generic(krow: &[f64], v: &[f64], ai: f64, acc: &mut [f64]) -> f64 {
    let mut lanes = [0.0f64; 8];
    let (mut kc, mut vc) = (krow.chunks_exact(8), v.chunks_exact(8));
    for (k, w) in (&mut kc).zip(&mut vc) {
        for l in 0..8 {
            lanes[l] += k[l] * w[l];
        }
    }
    let mut s = ((lanes[0] + lanes[4]) + (lanes[1] + lanes[5]))
        + ((lanes[2] + lanes[6]) + (lanes[3] + lanes[7]));
    for (k, w) in kc.remainder().iter().zip(vc.remainder()) {
        s += k * w;
    }
    let u = ai / s;
    for (t, k) in acc.iter_mut().zip(krow) {
        *t += u * k;
    }
    u
}

crate::linalg::simd_dispatch! {
    /// The fused row update on the widest vector unit.
    fn row_update(krow: &[f64], v: &[f64], ai: f64, acc: &mut [f64]) -> f64 = row_update_generic;
}

/// Σ of per-block partial vectors, in block order.
fn sum_partials(partials: Vec<Vec<f64>>, m: usize) -> Vec<f64> {
    let mut total = vec![0.0; m];
    for p in partials {
        total.iter_mut().zip(&p).for_each(|(t, x)| *t += x);
    }
    total
}

/// Solves the entropic problem on a dense cost matrix (see the module docs for the stopping
/// rule and ε-scaling). Weights must be positive with equal total mass.
pub fn solve(a: &[f64], b: &[f64], c: &Matrix, opts: &Options) -> Result<SinkhornSolution> {
    solve_with(a, b, c, opts, Cancel::NEVER)
}

/// [`solve`], polling `cancel` before every iteration (of every ε-scaling stage): once it
/// fires the solve stops with [`Error::Interrupted`].
pub fn solve_with<'a>(
    a: &[f64],
    b: &[f64],
    c: impl Into<MatrixView<'a>>,
    opts: &Options,
    cancel: Cancel,
) -> Result<SinkhornSolution> {
    let c = c.into();
    opts.check()?;
    let b = &super::check_problem("sinkhorn", a, b, c, true)?;
    let max_cost = c.data.iter().fold(0.0f64, |acc, x| acc.max(x.abs()));
    let schedule = opts.schedule(max_cost);
    let mut state = Dense::new(c, a, b, schedule[0]);
    state.scaled = schedule.len() > 1;
    let mut iterations = 0;
    for &eps in &schedule[..schedule.len() - 1] {
        if eps != state.eps {
            state.absorb_to(eps);
        }
        iterations += state
            .run(opts.stage_tol.max(opts.tol), opts.stage_iterations, cancel)?
            .0;
    }
    state.absorb_to(opts.reg);
    let (it, _) = state.run(opts.tol, opts.max_iter, cancel)?;
    iterations += it;
    let (plan, phi, psi, cost, kl) = state.finish();
    let eps = opts.reg;
    // The error of the plan returned, both marginals, from its own sums (an overflowed plan
    // shows here, whatever the iteration's bookkeeping said).
    let err = plan_marginal_error(&plan, a, b);
    let entropic = cost + eps * kl;
    Ok(SinkhornSolution::judged(
        (cost, entropic),
        (phi, psi),
        iterations,
        err,
        opts.tol,
        plan,
    ))
}

impl Dense<'_> {
    /// Moves to a new ε keeping the total potentials φ, ψ.
    fn absorb_to(&mut self, eps: f64) {
        let old = self.eps;
        self.big_f.iter_mut().zip(&mut self.u).for_each(|(f, u)| {
            *f += old * u.ln();
            *u = 1.0;
        });
        self.big_g.iter_mut().zip(&mut self.v).for_each(|(g, v)| {
            *g += old * v.ln();
            *v = 1.0;
        });
        self.eps = eps;
        self.rebuild_kernel();
    }

    /// The plan P = diag(u) K diag(v), the potentials φ = F + ε log u, ψ = G + ε log v, and
    /// (⟨C, P⟩, KL(P ‖ a ⊗ b)).
    fn finish(&self) -> (Matrix, Vec<f64>, Vec<f64>, f64, f64) {
        let (m, eps) = (self.c.cols, self.eps);
        let mut plan = Matrix::zeros(self.c.rows, m);
        plan.data
            .par_chunks_mut(m)
            .zip(self.k.data.par_chunks(m))
            .zip(self.u.par_iter())
            .for_each(|((prow, krow), &ui)| {
                for ((p, k), vj) in prow.iter_mut().zip(krow).zip(&self.v) {
                    *p = ui * k * vj;
                }
            });
        let total = |base: &[f64], scale: &[f64]| -> Vec<f64> {
            base.iter()
                .zip(scale)
                .map(|(f, u)| f + eps * u.ln())
                .collect()
        };
        let (phi, psi) = (total(&self.big_f, &self.u), total(&self.big_g, &self.v));
        let (cost, kl) = plan_values(&plan, self.c, self.a, self.b, &phi, &psi, eps);
        (plan, phi, psi, cost, kl)
    }
}

/// max(‖P1 − a‖₂, ‖Pᵀ1 − b‖₂) of a dense plan (NaN-propagating: a non-finite plan gives NaN
/// or ∞).
fn plan_marginal_error(plan: &Matrix, a: &[f64], b: &[f64]) -> f64 {
    let m = plan.cols;
    let mut cols = vec![0.0; m];
    let mut rows = 0.0;
    for (prow, ai) in plan.data.chunks(m.max(1)).zip(a) {
        rows += (prow.iter().sum::<f64>() - ai).powi(2);
        cols.iter_mut().zip(prow).for_each(|(c, p)| *c += p);
    }
    let col_err: f64 = cols.iter().zip(b).map(|(c, bj)| (c - bj).powi(2)).sum();
    let worst = rows.max(col_err);
    if rows.is_nan() || col_err.is_nan() {
        f64::NAN
    } else {
        worst.sqrt()
    }
}

/// ⟨C, P⟩ and KL(P ‖ a ⊗ b) = Σ P log(P / (a_i b_j)) − Σ P + 1, with log P_ij = (φ_i + ψ_j − C_ij)/ε.
fn plan_values(
    plan: &Matrix,
    c: MatrixView<'_>,
    a: &[f64],
    b: &[f64],
    phi: &[f64],
    psi: &[f64],
    eps: f64,
) -> (f64, f64) {
    let m = c.cols;
    let log_b: Vec<f64> = b.iter().map(|x| x.ln()).collect();
    let rows: Vec<(f64, f64, f64)> = (0..c.rows)
        .into_par_iter()
        .map(|i| {
            let (mut cost, mut kl, mut mass) = (0.0, 0.0, 0.0);
            let la = a[i].ln();
            for j in 0..m {
                let p = plan.data[i * m + j];
                if p > 0.0 {
                    let cij = c.data[i * m + j];
                    cost += p * cij;
                    kl += p * ((phi[i] + psi[j] - cij) / eps - la - log_b[j]);
                    mass += p;
                }
            }
            (cost, kl, mass)
        })
        .collect();
    let (cost, kl, mass) = rows
        .iter()
        .fold((0.0, 0.0, 0.0), |s, r| (s.0 + r.0, s.1 + r.1, s.2 + r.2));
    (cost, kl - mass + 1.0)
}

/// The debiased Sinkhorn divergence S_ε(μ, ν) = OT_ε(μ, ν) − ½ OT_ε(μ, μ) − ½ OT_ε(ν, ν)
/// (Feydy et al. 2019): ≥ 0, and 0 iff μ = ν. The symmetric terms use [`solve_symmetric`].
pub fn divergence(mu: &Measure, nu: &Measure, ground: GroundCost, opts: &Options) -> Result<f64> {
    divergence_with(mu, nu, ground, opts, Cancel::NEVER)
}

/// [`divergence`], polling `cancel` before every iteration of its three solves.
pub fn divergence_with(
    mu: &Measure,
    nu: &Measure,
    ground: GroundCost,
    opts: &Options,
    cancel: Cancel,
) -> Result<f64> {
    check_same_dim(mu, nu)?;
    let c = super::cost_matrix(&mu.points, &nu.points, ground)?;
    let cross = solve_with(&mu.weights, &nu.weights, &c, opts, cancel)?.entropic;
    drop(c);
    let selfterm = |x: &Measure| -> Result<f64> {
        let c = super::cost_matrix(&x.points, &x.points, ground)?;
        symmetric(&x.weights, &c, opts, cancel)
    };
    Ok(cross - 0.5 * selfterm(mu)? - 0.5 * selfterm(nu)?)
}

/// OT_ε(μ, μ) for a symmetric cost matrix by the averaged symmetric iteration
/// u ← (u ⊙ a / K u)^{1/2} (the log-domain φ ← ½(φ + T(φ)) of Feydy et al. 2019), whose plan
/// diag(u) K diag(u) is symmetric at every step; it converges in a few dozen iterations where
/// the alternating updates crawl. Stops when ‖u ⊙ K u − a‖₂ < `tol`; stabilised like [`solve`].
pub fn solve_symmetric(a: &[f64], c: &Matrix, opts: &Options) -> Result<f64> {
    symmetric(a, c, opts, Cancel::NEVER)
}

/// [`solve_symmetric`], polling `cancel` before every iteration.
fn symmetric(a: &[f64], c: &Matrix, opts: &Options, cancel: Cancel) -> Result<f64> {
    opts.check()?;
    let c = c.as_view();
    super::check_problem("sinkhorn", a, a, c, true)?;
    let eps = opts.reg;
    let n = a.len();
    let mut state = Dense::new(c, a, a, eps);
    let mut converged = false;
    for it in 0..opts.max_iter {
        cancel.check(|| format!("at symmetric Sinkhorn iteration {}", it + 1))?;
        let u = state.u.clone();
        let ku: Vec<f64> = state
            .k
            .data
            .par_chunks(n)
            .map(|krow| krow.iter().zip(&u).map(|(k, x)| k * x).sum::<f64>())
            .collect();
        let err = u
            .iter()
            .zip(&ku)
            .zip(a)
            .map(|((x, s), ai)| (x * s - ai).powi(2))
            .sum::<f64>()
            .sqrt();
        if err < opts.tol {
            converged = true;
            break;
        }
        for ((x, s), ai) in state.u.iter_mut().zip(&ku).zip(a) {
            *x = (*x * ai / s).sqrt();
        }
        if !state.u.iter().all(|x| x.is_finite() && *x > 0.0) {
            return Err(Error::Numerical {
                routine: "sinkhorn (symmetric)".into(),
                message: format!("the kernel underflowed at ε = {eps}; use a larger ε"),
            });
        }
        if state.u.iter().any(|x| x.ln().abs() > ABSORB_LOG) {
            // The plan is diag(u) K diag(u): absorb u on both sides (G stays equal to F).
            state.v.clone_from(&state.u);
            state.absorb();
        }
    }
    if !converged {
        return Err(Error::Numerical {
            routine: "sinkhorn (symmetric)".into(),
            message: format!(
                "no convergence to {} in {} iterations",
                opts.tol, opts.max_iter
            ),
        });
    }
    state.v.clone_from(&state.u);
    let (_, _, _, cost, kl) = state.finish();
    Ok(cost + eps * kl)
}

/// Applies `per_row(i, costs_i)` to every row of the cost matrix between x and y without storing
/// it: tiles of [`COST_TILE`] rows are computed in parallel (a fixed tiling, so results do not
/// depend on the thread count) and handed over row by row (the row buffer may be overwritten).
fn map_cost_rows<T: Send>(
    x: &Matrix,
    y: &Matrix,
    ground: GroundCost,
    per_row: impl Fn(usize, &mut [f64]) -> T + Sync,
) -> Vec<T> {
    let m = y.rows;
    let y_sq = squared_norms(y);
    let tiles = x.rows.div_ceil(COST_TILE);
    let per_tile: Vec<Vec<T>> = (0..tiles)
        .into_par_iter()
        .with_min_len(4)
        .map_init(
            || vec![0.0; COST_TILE * m],
            |buf, t| {
                let rows = t * COST_TILE..((t + 1) * COST_TILE).min(x.rows);
                let tile = &mut buf[..rows.len() * m];
                cost_rows(x, y, &y_sq, rows.clone(), ground, tile);
                rows.enumerate()
                    .map(|(r, i)| per_row(i, &mut tile[r * m..(r + 1) * m]))
                    .collect()
            },
        )
        .collect();
    per_tile.into_iter().flatten().collect()
}

/// One log-sum-exp half-step without storing costs: for every point x_i of `x`,
/// out_i = ε log w_i − ε log Σ_j exp((pot_j − c(x_i, y_j))/ε), the sum by the vectorised
/// [`linalg::sum_exp`] after subtracting the row maximum.
fn lse_update(
    x: &Matrix,
    w: &[f64],
    y: &Matrix,
    pot: &[f64],
    ground: GroundCost,
    eps: f64,
) -> Vec<f64> {
    map_cost_rows(x, y, ground, |i, row| {
        for (r, p) in row.iter_mut().zip(pot) {
            *r = (p - *r) / eps;
        }
        let mx = linalg::max(row);
        eps * w[i].ln() - eps * (mx + linalg::sum_exp(row, mx).ln())
    })
}

/// Log-domain Sinkhorn that never stores the n × m cost matrix (memory O(n + m)): each
/// half-iteration recomputes c(x_i, y_j) row by row. Same stopping rule as [`solve`] (the
/// column-marginal error ‖Pᵀ1 − b‖₂, here read off the next ψ-update); ε-scaling as in
/// [`Options`] with ε_0 = the largest cost seen between the first rows. Returns the values
/// and potentials; `plan` is empty.
pub fn solve_online(
    mu: &Measure,
    nu: &Measure,
    ground: GroundCost,
    opts: &Options,
) -> Result<SinkhornSolution> {
    solve_online_with(mu, nu, ground, opts, Cancel::NEVER)
}

/// [`solve_online`], polling `cancel` before every iteration (two passes over the costs).
pub fn solve_online_with(
    mu: &Measure,
    nu: &Measure,
    ground: GroundCost,
    opts: &Options,
    cancel: Cancel,
) -> Result<SinkhornSolution> {
    opts.check()?;
    check_same_dim(mu, nu)?;
    for (name, w) in [("x", &mu.weights), ("y", &nu.weights)] {
        if w.iter().any(|&v| v <= 0.0) {
            return Err(Error::invalid(
                name,
                "Sinkhorn needs strictly positive weights",
            ));
        }
    }
    let (x, y) = (&mu.points, &nu.points);
    // A cheap upper estimate of max C from the diameters of both clouds (triangle inequality).
    let max_cost = {
        let first_row = |a: &Matrix, b: &Matrix| {
            let mut row = vec![0.0; b.rows];
            cost_rows(a, b, &squared_norms(b), 0..1, ground, &mut row);
            row.into_iter().fold(0.0f64, f64::max)
        };
        let r = first_row(x, y).max(first_row(y, x));
        // ‖x_i − y_j‖ ≤ ‖x_i − y_0‖ + ‖y_0 − x_0‖ + ‖x_0 − y_j‖ ≤ 3 r^{1/p}, so c ≤ 3^p r.
        3f64.powf(ground.order()) * r
    };
    let schedule = opts.schedule(max_cost);
    let mut phi = vec![0.0; x.rows];
    let mut psi = vec![0.0; y.rows];
    let mut iterations = 0;
    let mut err = f64::INFINITY;
    let mut converged = false;
    for (stage, &eps) in schedule.iter().enumerate() {
        let last = stage + 1 == schedule.len();
        let (tol, budget) = if last {
            (opts.tol, opts.max_iter)
        } else {
            (opts.stage_tol.max(opts.tol), opts.stage_iterations)
        };
        phi = lse_update(x, &mu.weights, y, &psi, ground, eps);
        for _ in 0..budget {
            cancel.check(|| {
                format!(
                    "at online Sinkhorn iteration {} (ε = {eps})",
                    iterations + 1
                )
            })?;
            let new_psi = lse_update(y, &nu.weights, x, &phi, ground, eps);
            // Column marginal of the plan (φ, ψ): b_j exp((ψ_j − ψ_new_j)/ε).
            err = nu
                .weights
                .iter()
                .zip(&psi)
                .zip(&new_psi)
                .map(|((bj, old), new)| (bj * ((old - new) / eps).exp() - bj).powi(2))
                .sum::<f64>()
                .sqrt();
            iterations += 1;
            if err < tol {
                converged = last;
                break;
            }
            psi = new_psi;
            phi = lse_update(x, &mu.weights, y, &psi, ground, eps);
        }
    }
    // Values: ⟨C, P⟩ and KL(P ‖ a ⊗ b) by one more pass, row by row.
    let eps = opts.reg;
    let (a, b) = (&mu.weights, &nu.weights);
    let log_b: Vec<f64> = b.iter().map(|v| v.ln()).collect();
    let rows: Vec<(f64, f64, f64)> = map_cost_rows(x, y, ground, |i, row| {
        let (mut cost, mut kl, mut mass) = (0.0, 0.0, 0.0);
        let la = a[i].ln();
        for (j, &cij) in row.iter().enumerate() {
            let lp = (phi[i] + psi[j] - cij) / eps;
            let p = lp.exp();
            cost += p * cij;
            kl += p * (lp - la - log_b[j]);
            mass += p;
        }
        (cost, kl, mass)
    });
    // The row marginal of the final plan, checked too (an overflow shows here).
    let row_err = rows
        .iter()
        .zip(a)
        .map(|(r, ai)| (r.2 - ai).powi(2))
        .sum::<f64>()
        .sqrt();
    let (cost, kl, mass) = rows
        .iter()
        .fold((0.0, 0.0, 0.0), |s, r| (s.0 + r.0, s.1 + r.1, s.2 + r.2));
    let err = if row_err.is_nan() || err.is_nan() {
        f64::NAN
    } else {
        err.max(row_err)
    };
    let entropic = cost + eps * (kl - mass + 1.0);
    let mut solution = SinkhornSolution::judged(
        (cost, entropic),
        (phi, psi),
        iterations,
        err,
        opts.tol,
        Matrix::zeros(0, 0),
    );
    solution.converged &= converged;
    Ok(solution)
}

#[cfg(test)]
mod tests {
    #[test]
    fn row_update_rounds_alike_on_every_tier() {
        // The fused row update (a dot product in eight lanes, then an axpy) on every tier the
        // CPU has: the same bits, lengths with vector remainders included.
        let mut r = crate::rng::Seed(6).stream("row-update", 0);
        for len in [5, 8, 37, 200] {
            let k: Vec<f64> = (0..len).map(|_| r.uniform()).collect();
            let v: Vec<f64> = (0..len).map(|_| r.uniform()).collect();
            crate::linalg::same_on_every_tier(|| {
                let mut acc = vec![0.25; len];
                let u = super::row_update(&k, &v, 0.9, &mut acc);
                acc.push(u);
                acc
            });
        }
    }
}
