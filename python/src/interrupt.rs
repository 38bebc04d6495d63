//! Ctrl-C during long kernels: a kernel whose work (entries × layers) exceeds one block is
//! computed in row blocks, each with the GIL released, and Python's signal handlers run between
//! blocks (`PyErr_CheckSignals`), so KeyboardInterrupt arrives within one block (≈ 0.5 s on two
//! cores). Smaller kernels are one library call. The blocks are the library's own
//! ([`Network::kernels`] on a row block, [`Network::kernels_upper_block`] for K(x, x), as the
//! CLI's streaming writer uses them): each entry is computed exactly as in one call.

use crate::errors::OrRaise;
use crate::threads::detach;
use gradflow::kernel::{Kernels, Network};
use gradflow::Matrix;
use pyo3::prelude::*;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Entries × layers per block (≈ 0.5 s on two cores): `_set_block_work` changes it (tests).
static BLOCK_WORK: AtomicUsize = AtomicUsize::new(1 << 27);

/// Sets the work per block (entries × layers); for tests of the blocked path.
#[pyfunction]
pub fn _set_block_work(work: usize) {
    BLOCK_WORK.store(work.max(1), Ordering::Relaxed);
}

/// NNGP and NTK between the rows of `x1` and `x2` (`None`: x1 itself), interruptible.
pub fn kernels(
    py: Python<'_>,
    threads: Option<i64>,
    network: &Network,
    x1: &Matrix,
    x2: Option<&Matrix>,
) -> PyResult<Kernels> {
    let (n, m) = (x1.rows, x2.map_or(x1.rows, |x| x.rows));
    let per_row = m.saturating_mul(network.depth).max(1);
    let block = (BLOCK_WORK.load(Ordering::Relaxed) / per_row).max(1);
    if block >= n {
        return detach(py, threads, || network.kernels(x1, x2));
    }
    gradflow::linalg::check_fits("x1, x2 (the n × m NNGP and NTK)", &[n, m, 2]).or_raise()?;
    let mut out = Kernels {
        nngp: Matrix::zeros(n, m),
        ntk: Matrix::zeros(n, m),
    };
    let mut start = 0;
    while start < n {
        let end = (start + block).min(n);
        match x2 {
            Some(x2) => {
                let rows: Vec<usize> = (start..end).collect();
                let k = detach(py, threads, || {
                    network.kernels(&x1.select_rows(&rows), Some(x2))
                })?;
                for (o, b) in [(&mut out.nngp, &k.nngp), (&mut out.ntk, &k.ntk)] {
                    o.data[start * m..end * m].copy_from_slice(&b.data);
                }
            }
            None => {
                let tail: Vec<usize> = (start..n).collect();
                let k = detach(py, threads, || {
                    network.kernels_upper_block(&x1.select_rows(&tail), end - start)
                })?;
                for (o, b) in [(&mut out.nngp, &k.nngp), (&mut out.ntk, &k.ntk)] {
                    // Rows start..end, columns start..n, and the same transposed below them.
                    for r in 0..end - start {
                        let row = &b.data[r * (n - start)..(r + 1) * (n - start)];
                        o.data[(start + r) * n + start..(start + r + 1) * n].copy_from_slice(row);
                        for (c, v) in row.iter().enumerate().skip(end - start) {
                            o.data[(start + c) * n + start + r] = *v;
                        }
                    }
                }
            }
        }
        py.check_signals()?;
        start = end;
    }
    Ok(out)
}
