//! `gradflow predict` over the ranks of a communicator — the route `mpirun -n P gradflow
//! predict …` and `gradflow predict --pcg` / `--matrix-free` take, for the dense kernels
//! ([`predict`]) and the convolutional ones of `predict --net` ([`solve`], called by
//! [`crate::commands::conv::predict_distributed`]): one solver, generic over the kernel
//! ([`BlockKernel`], the Nyström landmarks picked by [`Landmarks`]). The training kernel is
//! the row-distributed operator Θ + λI of [`super::operator`] (rows stored, or recomputed tile
//! by tile in every product); every vector is whole on every rank.
//!
//! * Finite t (gradient flow, [`crate::kernel::dynamics`]): f_t(X) = Y − e^{−aΘ} R and
//!   f_t(X*) = f₀(X*) + Θ(X*, X) g(Θ) R, R = Y − f₀(X), a = ηt/(nk), g(λ) = (1 − e^{−aλ})/λ,
//!   by the single-process Krylov route ([`super::flow`]: Lanczos, one basis per output
//!   column, with the distributed product).
//! * t = ∞ (kernel ridge regression): f_∞(X*) = f₀(X*) + Θ(X*, X) α, (Θ + λI) α = R, α by
//!   [`super::pcg`] with the [`super::nystrom`] preconditioner; the training predictions are
//!   Y, as the single-process t = ∞ route returns them.
//!
//! λ = r · tr(Θ)/n (or r with `--diag-reg-absolute`). The test predictions are split by test
//! rows ⌊qm/P⌋..⌊(q+1)m/P⌋, each entry f₀ + [`dot8`] of a kernel row with a coefficient column.
//!
//! The result does not depend on P, bit for bit (see [`super`]). Against the single-process
//! `predict` (`predict --net` alike: its kernel's row blocks are the bits of its whole kernel,
//! [`super::rows`]): at finite t the training predictions are its Krylov ones (`--solver krylov`) bit
//! for bit and the test predictions agree to ≈ 1e-15 relative (its Θ(X*, X) C is one GEMM,
//! summed in another order); at t = ∞ the CG solve agrees with its Cholesky solve to the CG
//! tolerance (relative residual ≤ tol, so a relative error ≤ cond(Θ + λI) · tol in α).

use super::nystrom::{Landmarks, Nystrom};
use super::operator::{gather, Operator};
use super::rows::for_each_tile;
use super::{pcg, Blocks, Communicator};
use crate::commands::predict::{Initial, Request};
use crate::commands::{Cancel, Input};
use crate::error::{Error, Result};
use crate::kernel::blocks::BlockKernel;
use crate::kernel::dynamics::{FlowSettings, Predictions, Solver};
use crate::kernel::Kind;
use crate::linalg::{dot8, Matrix};
use std::time::Instant;

pub use super::operator::Timing;

/// How the distributed solve runs (`--pcg-rank`, `--matrix-free`, `--block-rows`, `--pcg-tol`,
/// `--pcg-max-iter`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Settings {
    /// Nyström landmarks (the preconditioner's rank).
    pub preconditioner_rank: usize,
    /// Recompute the kernel rows in every product instead of storing them.
    pub matrix_free: bool,
    /// Kernel rows computed at a time (matrix-free tiles, test rows).
    pub block_rows: usize,
    /// When CG stops.
    pub cg: pcg::Settings,
}

impl Default for Settings {
    /// 200 landmarks, stored rows, tiles of 256 rows, [`pcg::Settings::default`].
    fn default() -> Settings {
        Settings {
            preconditioner_rank: 200,
            matrix_free: false,
            block_rows: 256,
            cg: pcg::Settings::default(),
        }
    }
}

/// The predictions and how the solve went.
#[derive(Clone, Debug)]
pub struct Solution {
    /// At every requested time.
    pub predictions: Predictions,
    /// Iterations and residuals per output column of the t = ∞ solve (empty without t = ∞).
    pub report: pcg::Report,
    /// λ added to the diagonal.
    pub lambda: f64,
    /// The preconditioner's rank (directions kept; 0 without t = ∞).
    pub preconditioner_rank: usize,
    /// Products with Θ + λI (Lanczos steps and CG iterations).
    pub products: usize,
    /// Where the time went (this rank).
    pub timing: Timing,
}

/// The solve's summary for `--json`: iterations, residuals, λ, ranks and timings.
pub fn summary(solution: &Solution, settings: &Settings, ranks: usize) -> serde_json::Value {
    serde_json::json!({"ranks": ranks, "matrix_free": settings.matrix_free,
        "preconditioner": "nystrom", "landmarks": settings.preconditioner_rank,
        "preconditioner_rank": solution.preconditioner_rank, "lambda": solution.lambda,
        "tolerance": settings.cg.tolerance, "iterations": solution.report.iterations,
        "residuals": solution.report.residuals, "products": solution.products,
        "timing": solution.timing})
}

/// Checks the times, flow and solve settings for this route, whatever the kernel: the Krylov
/// solver for finite times, r > 0 for t = ∞, ≥ 1 row per block.
pub fn check_route(times: &[f64], flow: &FlowSettings, settings: &Settings) -> Result<()> {
    crate::kernel::dynamics::check_times(times)?;
    flow.validate()?;
    settings.cg.validate()?;
    let finite = times.iter().any(|t| t.is_finite());
    if finite && flow.solver == Solver::Eigen {
        return Err(Error::invalid(
            "--solver",
            "the distributed route (--pcg, --matrix-free, mpirun) evaluates finite times by \
             Lanczos (krylov or auto), not by an eigendecomposition",
        ));
    }
    if times.iter().any(|t| t.is_infinite()) && flow.diag_reg <= 0.0 {
        return Err(Error::invalid(
            "--diag-reg",
            "the conjugate-gradient solve at t = inf (--pcg, --matrix-free, mpirun) needs a \
             diagonal regularisation > 0 (e.g. 1e-6)",
        ));
    }
    if settings.block_rows == 0 {
        return Err(Error::invalid("--block-rows", "expected ≥ 1 row per block"));
    }
    Ok(())
}

/// Checks the request for this route ([`check_route`]) and the shapes of the inputs.
fn check(request: &Request, settings: &Settings, x: &Input, y: &Input, xt: &Input) -> Result<()> {
    request.validate()?;
    check_route(&request.times, &request.flow, settings)?;
    for input in [x, xt] {
        request.network.check_inputs(&input.name, &input.matrix)?;
    }
    crate::kernel::dynamics::check_predict_shapes(
        x.matrix.as_view(),
        y.matrix.rows,
        xt.matrix.as_view(),
    )
}

/// The training problem of the distributed solve, for any kernel computed in blocks of rows.
#[derive(Clone, Copy, Debug)]
pub struct Problem<'a, K> {
    /// The network whose kernel trains (dense [`crate::kernel::analytic::Network`] or
    /// convolutional [`crate::kernel::conv::ConvNet`]).
    pub network: &'a K,
    /// The NTK Θ or the NNGP kernel K.
    pub kind: Kind,
    /// The times t ≥ 0 (`f64::INFINITY` for t = ∞).
    pub times: &'a [f64],
    /// η, r, and the solver (finite times need Lanczos).
    pub flow: &'a FlowSettings,
}

/// The predictions at every requested time (module doc) of the dense network of `request`.
/// Collective: every rank calls it with the same arguments; every rank returns the whole
/// result.
#[allow(clippy::too_many_arguments)]
pub fn predict(
    comm: &dyn Communicator,
    request: &Request,
    settings: &Settings,
    x_train: &Input,
    y_train: &Input,
    x_test: &Input,
    f0: Option<Initial>,
    cancel: Cancel,
) -> Result<Solution> {
    check(request, settings, x_train, y_train, x_test)?;
    let problem = Problem {
        network: &request.network,
        kind: request.kind,
        times: &request.times,
        flow: &request.flow,
    };
    solve(
        comm,
        &problem,
        settings,
        (
            x_train.matrix.as_view(),
            &y_train.matrix,
            x_test.matrix.as_view(),
        ),
        f0.map(|f| (&f.train.matrix, &f.test.matrix)),
        cancel,
    )
}

/// The predictions at every requested time (module doc) for any kernel computed in blocks of
/// rows: the training inputs, targets (n × k) and test inputs in `data`, the initial outputs
/// f₀(X), f₀(X*) in `f0` (zero when `None`). The caller checks the inputs against the network;
/// this checks the route ([`check_route`]) and the row counts. Collective: every rank calls it
/// with the same arguments; every rank returns the whole result.
pub fn solve<'a, K: Landmarks>(
    comm: &'a dyn Communicator,
    problem: &Problem<'a, K>,
    settings: &Settings,
    data: (K::Inputs<'a>, &Matrix, K::Inputs<'a>),
    f0: Option<(&Matrix, &Matrix)>,
    cancel: Cancel,
) -> Result<Solution> {
    let started = Instant::now();
    check_route(problem.times, problem.flow, settings)?;
    problem.network.validate()?;
    let (net, kind, flow) = (problem.network, problem.kind, problem.flow);
    let (x, y, xt) = data;
    let (n, k, m) = (K::count(x), y.cols, K::count(xt));
    if y.rows != n {
        return Err(Error::shape(
            "predict",
            format!("x_train has {n} inputs, y_train {} rows", y.rows),
        ));
    }
    if let Some((train, test)) = f0 {
        if (train.rows, train.cols) != (n, k) || (test.rows, test.cols) != (m, k) {
            return Err(Error::shape(
                "predict",
                "f0 shapes do not match the targets",
            ));
        }
    }
    cancel.check(|| "before the kernels".into())?;
    let mut operator = Operator::new(
        comm,
        net,
        kind,
        x,
        flow,
        settings.matrix_free,
        settings.block_rows,
    )?;
    let lambda = operator.lambda;
    // R = Y − f₀(X), n × k.
    let residual = Matrix::from_fn(n, k, |i, j| y.get(i, j) - f0.map_or(0.0, |f| f.0.get(i, j)));
    // Finite times: (e^{−aΘ} R, g(Θ) R) by Lanczos (the single-process Krylov route).
    let finite: Vec<f64> = problem
        .times
        .iter()
        .copied()
        .filter(|t| t.is_finite())
        .collect();
    let (pairs, krylov_steps) = if finite.is_empty() {
        (Vec::new(), Vec::new())
    } else {
        super::flow::krylov_pairs(&mut operator, &residual, &finite, flow, cancel)?
    };
    // t = ∞: α = (Θ + λI)⁻¹ R by PCG.
    let mut report = pcg::Report::default();
    let mut preconditioner_rank = 0;
    let mut alpha = None;
    if problem.times.iter().any(|t| t.is_infinite()) {
        let clock = Instant::now();
        let preconditioner =
            Nystrom::new(comm, net, kind, x, settings.preconditioner_rank, lambda)?;
        operator.timing.kernel_s += clock.elapsed().as_secs_f64();
        preconditioner_rank = preconditioner.rank();
        let b: Vec<Vec<f64>> = (0..k)
            .map(|j| (0..n).map(|i| residual.get(i, j)).collect())
            .collect();
        let (solution, r) = pcg::solve(
            |ps| operator.apply(ps),
            |r| preconditioner.apply(r),
            &b,
            &settings.cg,
            cancel,
        )?;
        alpha = Some(Matrix::from_fn(n, k, |i, j| solution[j][i]));
        report = r;
    }
    // The coefficients of each time (n × k) and the training predictions.
    let mut pairs = pairs.into_iter();
    let mut coefficients = Vec::with_capacity(problem.times.len());
    let mut train = Vec::with_capacity(problem.times.len());
    for t in problem.times {
        if t.is_finite() {
            let (decay, coefficient) = pairs.next().ok_or_else(|| missing("time"))?;
            // f_t = y − e^{−aΘ}(y − f₀).
            train.push(Matrix::from_fn(n, k, |i, j| y.get(i, j) - decay.get(i, j)));
            coefficients.push(coefficient);
        } else {
            train.push(y.clone());
            coefficients.push(alpha.clone().ok_or_else(|| missing("t = inf"))?);
        }
    }
    let mut timing = operator.timing;
    let products = operator.products;
    let test = test_predictions(
        comm,
        problem,
        settings,
        (x, xt),
        &coefficients,
        f0.map(|f| f.1),
        &mut timing,
    )?;
    timing.total_s = started.elapsed().as_secs_f64();
    Ok(Solution {
        predictions: Predictions {
            train,
            test,
            solver: Solver::Krylov,
            krylov_steps,
        },
        report,
        lambda,
        preconditioner_rank,
        products,
        timing,
    })
}

/// An internal error: a time without its coefficients.
fn missing(what: &str) -> Error {
    Error::Numerical {
        routine: "distributed predict".into(),
        message: format!("no coefficients computed for {what}"),
    }
}

/// f₀(X*) + Θ(X*, X) C for each time's coefficients C (n × k), split by test rows: each rank
/// computes its rows of Θ(X*, X) `block_rows` at a time, each entry Σ by [`dot8`]; gathered.
fn test_predictions<K: BlockKernel>(
    comm: &dyn Communicator,
    problem: &Problem<'_, K>,
    settings: &Settings,
    (x, xt): (K::Inputs<'_>, K::Inputs<'_>),
    coefficients: &[Matrix],
    f0: Option<&Matrix>,
    timing: &mut Timing,
) -> Result<Vec<Matrix>> {
    let (n, m) = (K::count(x), K::count(xt));
    let k = coefficients.first().map_or(0, |c| c.cols);
    // The coefficients by column, contiguous.
    let columns: Vec<Vec<Vec<f64>>> = coefficients
        .iter()
        .map(|c| {
            (0..k)
                .map(|j| (0..n).map(|i| c.get(i, j)).collect())
                .collect()
        })
        .collect();
    let clock = Instant::now();
    let blocks = Blocks::new(m, comm.size());
    let mine = blocks.range(comm.rank());
    let times = coefficients.len();
    // Per time, this rank's rows (row-major, k values each).
    let mut local = vec![Vec::with_capacity(mine.len() * k); times];
    for_each_tile(
        problem.network,
        problem.kind,
        xt,
        Some(x),
        mine,
        settings.block_rows,
        |at, t| {
            for r in 0..t.rows {
                for (out, cs) in local.iter_mut().zip(&columns) {
                    for (j, c) in cs.iter().enumerate() {
                        let f0 = f0.map_or(0.0, |f| f.get(at + r, j));
                        out.push(f0 + dot8(t.row(r), c));
                    }
                }
            }
            Ok(())
        },
    )?;
    timing.kernel_s += clock.elapsed().as_secs_f64();
    local
        .iter()
        .map(|l| Matrix::from_vec(m, k, gather(comm, l, &blocks.counts(k), timing)))
        .collect()
}
