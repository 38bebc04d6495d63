//! Kernel ridge regression over the ranks of a communicator — `gradflow predict` at t = ∞ by
//! preconditioned conjugate gradients, the route `mpirun -n P gradflow predict …` and
//! `gradflow predict --pcg` take:
//!
//! f_∞(X*) = f₀(X*) + Θ(X*, X) α, (Θ + λI) α = Y − f₀(X),
//!
//! λ = r · tr(Θ)/n (or r with `--diag-reg-absolute`), as [`crate::kernel::dynamics`] regularises.
//! α is found by [`super::pcg`] with the [`super::nystrom`] preconditioner. Rank q holds rows
//! ⌊qn/P⌋..⌊(q+1)n/P⌋ of Θ ([`super::rows::row_block`], the bits of the single-process
//! kernel), or with `matrix_free` recomputes them `block_rows` at a time in every product;
//! each product gathers the ranks' rows of Θp (one all-gather of n × k values). The test
//! predictions are split by test rows the same way. The training predictions are Y, as the
//! single-process t = ∞ route returns them.
//!
//! The result does not depend on P, bit for bit (see [`super`]); it equals the Cholesky solve
//! of the single-process `predict` to the accuracy of the CG tolerance (relative residual
//! ≤ tol, so a relative error ≤ cond(Θ + λI) · tol in α).

use super::nystrom::Nystrom;
use super::rows::{for_each_tile, row_block};
use super::{pcg, Blocks, Communicator};
use crate::commands::predict::{Initial, Request};
use crate::commands::{Cancel, Input};
use crate::error::{Error, Result};
use crate::kernel::dynamics::Predictions;
use crate::linalg::{check_fits, dot8, Matrix};
use rayon::prelude::*;
use std::time::Instant;

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

/// Seconds spent, on this rank.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct Timing {
    /// Evaluating kernel entries (stored rows, matrix-free tiles, preconditioner, test rows).
    pub kernel_s: f64,
    /// Waiting in collectives (all-gathers).
    pub communication_s: f64,
    /// The products with Θ + λI (kernel and communication included).
    pub products_s: f64,
    /// Everything.
    pub total_s: f64,
}

/// The predictions and how the solve went.
#[derive(Clone, Debug)]
pub struct Solution {
    /// At t = ∞ only.
    pub predictions: Predictions,
    /// Iterations and residuals per output column.
    pub report: pcg::Report,
    /// λ added to the diagonal.
    pub lambda: f64,
    /// The preconditioner's rank (directions kept).
    pub preconditioner_rank: usize,
    /// Products with Θ + λI.
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

/// Checks the request for this route: t = ∞ only, r > 0; the shapes of the inputs.
fn check(request: &Request, settings: &Settings, x: &Input, y: &Input, xt: &Input) -> Result<()> {
    request.validate()?;
    settings.cg.validate()?;
    if let Some(t) = request.times.iter().find(|t| t.is_finite()) {
        return Err(Error::invalid(
            "--time",
            format!(
                "the conjugate-gradient route (--pcg, --matrix-free, mpirun) computes t = inf \
                 only, got {t}"
            ),
        ));
    }
    if request.flow.diag_reg <= 0.0 {
        return Err(Error::invalid(
            "--diag-reg",
            "the conjugate-gradient route (--pcg, --matrix-free, mpirun) needs a diagonal \
             regularisation > 0 (e.g. 1e-6)",
        ));
    }
    if settings.block_rows == 0 {
        return Err(Error::invalid("--block-rows", "expected ≥ 1 row per block"));
    }
    for input in [x, xt] {
        request.network.check_inputs(&input.name, &input.matrix)?;
    }
    if x.matrix.rows != y.matrix.rows {
        return Err(Error::shape(
            "predict",
            format!(
                "x_train has {} rows, y_train {}",
                x.matrix.rows, y.matrix.rows
            ),
        ));
    }
    if xt.matrix.cols != x.matrix.cols {
        return Err(Error::shape(
            "predict",
            format!(
                "x_test has {} columns, x_train {}",
                xt.matrix.cols, x.matrix.cols
            ),
        ));
    }
    Ok(())
}

/// The predictions at t = ∞ (module doc). Collective: every rank calls it with the same
/// arguments; every rank returns the whole result.
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
    let started = Instant::now();
    check(request, settings, x_train, y_train, x_test)?;
    let (net, kind) = (&request.network, request.kind);
    let (x, y, xt) = (&x_train.matrix, &y_train.matrix, &x_test.matrix);
    let (n, k, m) = (x.rows, y.cols, xt.rows);
    if let Some(f) = &f0 {
        if (f.train.matrix.rows, f.train.matrix.cols) != (n, k)
            || (f.test.matrix.rows, f.test.matrix.cols) != (m, k)
        {
            return Err(Error::shape(
                "predict",
                "f0 shapes do not match the targets",
            ));
        }
    }
    let mut timing = Timing::default();
    let blocks = Blocks::new(n, comm.size());
    let mine = blocks.range(comm.rank());
    cancel.check(|| "before the kernels".into())?;
    // λ from the trace, summed over the gathered diagonal in index order.
    let clock = Instant::now();
    let diag_local = super::rows::diagonal(net, kind, x, mine.clone())?;
    timing.kernel_s += clock.elapsed().as_secs_f64();
    let diag = gather(comm, &diag_local, &blocks.counts(1), &mut timing);
    let trace: f64 = diag.iter().sum();
    let lambda = if request.flow.diag_reg_absolute {
        request.flow.diag_reg
    } else {
        request.flow.diag_reg * trace / n as f64
    };
    let clock = Instant::now();
    let stored = if settings.matrix_free {
        check_fits(
            "--block-rows (each tile's kernels)",
            &[settings.block_rows, n, 3],
        )?;
        None
    } else {
        check_fits("this rank's rows of the kernel", &[mine.len(), n, 3])?;
        Some(row_block(net, kind, x, mine.clone())?)
    };
    let preconditioner = Nystrom::new(comm, net, kind, x, settings.preconditioner_rank, lambda)?;
    timing.kernel_s += clock.elapsed().as_secs_f64();
    // b = Y − f₀(X), one column per output.
    let b: Vec<Vec<f64>> = (0..k)
        .map(|j| {
            (0..n)
                .map(|i| y.get(i, j) - f0.map_or(0.0, |f| f.train.matrix.get(i, j)))
                .collect()
        })
        .collect();
    let mut products = 0;
    let product = |ps: &[&[f64]]| -> Result<Vec<Vec<f64>>> {
        let clock = Instant::now();
        let cols = ps.len();
        let mut local = vec![0.0; mine.len() * cols];
        // Row i of (Θ + λI) p for each column, from row `row` of Θ.
        let fill = |out: &mut [f64], i: usize, row: &[f64]| {
            for (c, p) in ps.iter().enumerate() {
                out[c] = dot8(row, p) + lambda * p[i];
            }
        };
        let mut kernel_s = 0.0;
        match &stored {
            Some(rows) => local
                .par_chunks_mut(cols.max(1))
                .enumerate()
                .for_each(|(r, out)| fill(out, mine.start + r, rows.row(r))),
            None => {
                for_each_tile(
                    net,
                    kind,
                    x,
                    None,
                    mine.clone(),
                    settings.block_rows,
                    |at, t| {
                        let off = (at - mine.start) * cols;
                        local[off..off + t.rows * cols]
                            .par_chunks_mut(cols.max(1))
                            .enumerate()
                            .for_each(|(r, out)| fill(out, at + r, t.row(r)));
                        Ok(())
                    },
                )?;
                kernel_s = clock.elapsed().as_secs_f64();
            }
        }
        let mut t = Timing::default();
        let all = gather(comm, &local, &blocks.counts(cols), &mut t);
        timing.communication_s += t.communication_s;
        timing.kernel_s += kernel_s;
        timing.products_s += clock.elapsed().as_secs_f64();
        products += 1;
        Ok((0..cols)
            .map(|c| (0..n).map(|i| all[i * cols + c]).collect())
            .collect())
    };
    let (alpha, report) = pcg::solve(
        product,
        |r| preconditioner.apply(r),
        &b,
        &settings.cg,
        cancel,
    )?;
    // Test predictions, split by test rows: f₀(X*) + Θ(X*, X) α.
    let clock = Instant::now();
    let test_blocks = Blocks::new(m, comm.size());
    let test_mine = test_blocks.range(comm.rank());
    let mut local = Vec::with_capacity(test_mine.len() * k);
    for_each_tile(
        net,
        kind,
        xt,
        Some(x),
        test_mine,
        settings.block_rows,
        |at, t| {
            for r in 0..t.rows {
                for (j, a) in alpha.iter().enumerate() {
                    let f0 = f0.map_or(0.0, |f| f.test.matrix.get(at + r, j));
                    local.push(f0 + dot8(t.row(r), a));
                }
            }
            Ok(())
        },
    )?;
    timing.kernel_s += clock.elapsed().as_secs_f64();
    let test = gather(comm, &local, &test_blocks.counts(k), &mut timing);
    timing.total_s = started.elapsed().as_secs_f64();
    let test = Matrix::from_vec(m, k, test)?;
    let times = request.times.len();
    Ok(Solution {
        predictions: Predictions {
            train: vec![y.clone(); times],
            test: vec![test; times],
            solver: request.flow.solver.resolve(n, k),
            krylov_steps: Vec::new(),
        },
        report,
        lambda,
        preconditioner_rank: preconditioner.rank(),
        products,
        timing,
    })
}

/// [`Communicator::all_gather`], its time added to `timing.communication_s`.
fn gather(
    comm: &dyn Communicator,
    local: &[f64],
    counts: &[usize],
    timing: &mut Timing,
) -> Vec<f64> {
    let clock = Instant::now();
    let all = comm.all_gather(local, counts);
    timing.communication_s += clock.elapsed().as_secs_f64();
    all
}
