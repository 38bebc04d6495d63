//! The regularised training kernel Θ + λI as a row-distributed operator: rank q holds (or,
//! matrix-free, recomputes tile by tile in every product) rows ⌊qn/P⌋..⌊(q+1)n/P⌋ of Θ
//! ([`super::rows`], the bits of the single-process kernel), with λ added to their diagonal
//! entries as the single-process route adds it to Θ's diagonal; a product computes this rank's
//! rows of (Θ + λI) p by [`dot8`] and gathers the ranks' rows (one all-gather of n × k values).
//! Row i of the product is therefore dot8(row i of Θ + λI, p), the sequence of operations of
//! the single-process product ([`crate::linalg::lanczos_apply`]) whatever the rank that holds
//! the row.
//!
//! λ = r · tr(Θ)/n (or r with `--diag-reg-absolute`), the trace summed over the gathered
//! diagonal in index order, as [`crate::kernel::dynamics`] regularises.

use super::rows::{diagonal, for_each_tile, row_block};
use super::{Blocks, Communicator};
use crate::error::Result;
use crate::kernel::blocks::BlockKernel;
use crate::kernel::dynamics::FlowSettings;
use crate::kernel::Kind;
use crate::linalg::{check_fits, dot8, Matrix};
use rayon::prelude::*;
use std::ops::Range;
use std::time::Instant;

/// Seconds spent, on this rank.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct Timing {
    /// Evaluating kernel entries (stored rows, matrix-free tiles, preconditioner, test rows).
    pub kernel_s: f64,
    /// Waiting in collectives (all-gathers).
    pub communication_s: f64,
    /// The products with Θ + λI (kernel and communication included).
    pub products_s: f64,
    /// CPU seconds of this process (all its threads) in the products with Θ + λI — on a
    /// machine shared with other work, the measure of the products' cost (NaN where the
    /// system does not report it).
    pub products_cpu_s: f64,
    /// Everything.
    pub total_s: f64,
}

/// CPU seconds this process has used (user + system, all threads; `getrusage`), NaN where
/// unavailable.
pub fn cpu_seconds() -> f64 {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: getrusage writes the struct it is given; a zeroed rusage is a valid value.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: a valid pointer to a rusage, RUSAGE_SELF.
        if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } == 0 {
            let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
            return seconds(usage.ru_utime) + seconds(usage.ru_stime);
        }
    }
    f64::NAN
}

/// [`Communicator::all_gather`], its time added to `timing.communication_s`.
pub fn gather(
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

/// Θ + λI over the ranks (module doc), for any kernel computed in blocks of rows (the dense
/// [`crate::kernel::analytic::Network`] on a matrix's rows, the convolutional
/// [`crate::kernel::conv::ConvNet`] on images). Collective: every rank builds it and calls
/// [`Operator::apply`] with the same arguments, in the same order.
pub struct Operator<'a, K: BlockKernel> {
    comm: &'a dyn Communicator,
    network: &'a K,
    kind: Kind,
    x: K::Inputs<'a>,
    n: usize,
    blocks: Blocks,
    mine: Range<usize>,
    /// λ added to the diagonal.
    pub lambda: f64,
    /// This rank's rows of Θ + λI, or `None` (matrix-free).
    stored: Option<Matrix>,
    block_rows: usize,
    /// Products computed so far.
    pub products: usize,
    /// Where this rank's time went.
    pub timing: Timing,
}

impl<'a, K: BlockKernel> Operator<'a, K> {
    /// Θ + λI of `network`'s kernel `kind` on the training inputs `x`, λ from `flow`'s
    /// `diag_reg` (module doc); this rank's rows stored, or with `matrix_free` recomputed
    /// `block_rows` at a time in every product. Collective.
    pub fn new(
        comm: &'a dyn Communicator,
        network: &'a K,
        kind: Kind,
        x: K::Inputs<'a>,
        flow: &FlowSettings,
        matrix_free: bool,
        block_rows: usize,
    ) -> Result<Operator<'a, K>> {
        let n = K::count(x);
        let blocks = Blocks::new(n, comm.size());
        let mine = blocks.range(comm.rank());
        let mut timing = Timing::default();
        let clock = Instant::now();
        let diag_local = diagonal(network, kind, x, mine.clone())?;
        timing.kernel_s += clock.elapsed().as_secs_f64();
        let diag = gather(comm, &diag_local, &blocks.counts(1), &mut timing);
        let trace: f64 = diag.iter().sum();
        let lambda = if flow.diag_reg_absolute {
            flow.diag_reg
        } else {
            flow.diag_reg * trace / n as f64
        };
        let clock = Instant::now();
        let stored = if matrix_free {
            check_fits("--block-rows (each tile's kernels)", &[block_rows, n, 3])?;
            None
        } else {
            check_fits("this rank's rows of the kernel", &[mine.len(), n, 3])?;
            let mut rows = row_block(network, kind, x, mine.clone())?;
            for r in 0..rows.rows {
                let i = mine.start + r;
                rows.set(r, i, rows.get(r, i) + lambda);
            }
            Some(rows)
        };
        timing.kernel_s += clock.elapsed().as_secs_f64();
        Ok(Operator {
            comm,
            network,
            kind,
            x,
            n,
            blocks,
            mine,
            lambda,
            stored,
            block_rows: block_rows.max(1),
            products: 0,
            timing,
        })
    }

    /// The number of rows n.
    pub fn len(&self) -> usize {
        self.n
    }

    /// Whether the operator has no rows.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// (Θ + λI) p for each column `p` (whole vectors of n values), whole on every rank.
    pub fn apply(&mut self, ps: &[&[f64]]) -> Result<Vec<Vec<f64>>> {
        let (clock, cpu) = (Instant::now(), cpu_seconds());
        let (n, cols, lambda) = (self.n, ps.len(), self.lambda);
        let mine = self.mine.clone();
        let mut local = vec![0.0; mine.len() * cols];
        // Row i of (Θ + λI) p for each column, from row i of Θ + λI.
        let fill = |out: &mut [f64], row: &[f64]| {
            for (o, p) in out.iter_mut().zip(ps) {
                *o = dot8(row, p);
            }
        };
        match &self.stored {
            Some(rows) => local
                .par_chunks_mut(cols.max(1))
                .enumerate()
                .for_each(|(r, out)| fill(out, rows.row(r))),
            None => {
                let tiles = Instant::now();
                for_each_tile(
                    self.network,
                    self.kind,
                    self.x,
                    None,
                    mine.clone(),
                    self.block_rows,
                    |at, t| {
                        for r in 0..t.rows {
                            let i = at + r;
                            t.set(r, i, t.get(r, i) + lambda);
                        }
                        let off = (at - mine.start) * cols;
                        local[off..off + t.rows * cols]
                            .par_chunks_mut(cols.max(1))
                            .enumerate()
                            .for_each(|(r, out)| fill(out, t.row(r)));
                        Ok(())
                    },
                )?;
                self.timing.kernel_s += tiles.elapsed().as_secs_f64();
            }
        }
        let all = gather(
            self.comm,
            &local,
            &self.blocks.counts(cols),
            &mut self.timing,
        );
        self.timing.products_s += clock.elapsed().as_secs_f64();
        self.timing.products_cpu_s += cpu_seconds() - cpu;
        self.products += 1;
        Ok((0..cols)
            .map(|c| (0..n).map(|i| all[i * cols + c]).collect())
            .collect())
    }

    /// w = (Θ + λI) q for one vector (a Lanczos step).
    pub fn matvec(&mut self, q: &[f64], w: &mut [f64]) -> Result<()> {
        let mut out = self.apply(&[q])?;
        if let Some(column) = out.pop() {
            w.copy_from_slice(&column);
        }
        Ok(())
    }
}
