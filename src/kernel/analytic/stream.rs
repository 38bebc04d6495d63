//! Kernels block by block: handed to a sink (an in-memory matrix, an NPY file streamed to disk)
//! so that memory stays bounded by a block whatever the size.

use super::*;
use crate::error::{Error, Result};
use crate::kernel::blocks::BlockKernel;
use crate::linalg::{check_fits, Matrix};

/// Err unless `block_rows` ≥ 1 (the streamed kernels' rows per block).
pub fn check_block_rows(block_rows: usize) -> Result<()> {
    if block_rows == 0 {
        return Err(Error::invalid("block_rows", "expected ≥ 1 row per block"));
    }
    Ok(())
}

/// Checks a streamed kernel's settings ([`BlockKernel::validate`], [`check_block_rows`]) and
/// that a block's kernels fit in memory; returns the kernel's shape (n, m).
pub fn check_stream<K: BlockKernel>(
    network: &K,
    x1: K::Inputs<'_>,
    x2: Option<K::Inputs<'_>>,
    block_rows: usize,
) -> Result<(usize, usize)> {
    network.validate()?;
    check_block_rows(block_rows)?;
    let n = K::count(x1);
    let cols = x2.map_or(n, K::count);
    // A block's two kernels, and for K(x1, x1) the transposed part below it.
    check_fits(
        "block_rows (each block's kernels)",
        &[block_rows.min(n), cols, 3],
    )?;
    Ok((n, cols))
}

/// One streamed kernel: K(x1, x2) of `network` (K(x1, x1) when `x2` is `None`), the `kind`
/// of it (or both kernels, computed together), computed `block_rows` rows at a time so that
/// memory stays bounded by a block whatever the size. Every streaming route
/// ([`KernelStream::blocks`] to a sink or a communicator, [`KernelStream::in_memory`],
/// [`KernelStream::to_npy`] to a file) takes this one request.
pub struct KernelStream<'a, K: BlockKernel> {
    /// The architecture.
    pub network: &'a K,
    /// NNGP or NTK.
    pub kind: Kind,
    /// The rows' inputs.
    pub x1: K::Inputs<'a>,
    /// The columns' inputs (`None`: x1's).
    pub x2: Option<K::Inputs<'a>>,
    /// Rows per block (≥ 1).
    pub block_rows: usize,
}

/// The kernel `kind` of a pair.
fn pick(k: &Kernels, kind: Kind) -> &Matrix {
    match kind {
        Kind::Ntk => &k.ntk,
        Kind::Nngp => &k.nngp,
    }
}

/// The kernel `kind` of a pair, to fill.
fn pick_mut(k: &mut Kernels, kind: Kind) -> &mut Matrix {
    match kind {
        Kind::Ntk => &mut k.ntk,
        Kind::Nngp => &mut k.nngp,
    }
}

impl<K: BlockKernel> KernelStream<'_, K> {
    /// [`check_stream`] of this request: its settings and memory; the kernel's shape (n, m).
    pub fn check(&self) -> Result<(usize, usize)> {
        check_stream(self.network, self.x1, self.x2, self.block_rows)
    }

    /// The kernels a block keeps: `kind` alone, or both.
    fn keep(&self, both: bool) -> Option<Kind> {
        (!both).then_some(self.kind)
    }

    /// Computes the kernel block by block and hands each block to `put(row, col, block)`, the
    /// block's place in the n × m kernel; the blocks cover the kernel exactly once. Before
    /// computing each block, `before(s)` is called with its first row s (a cancellation
    /// point). Returns the shape (n, m). An error from `before` or `put` stops the
    /// computation.
    ///
    /// With `x2`, block b is rows s..e of K at column 0, in row order. For K(x1, x1), block b
    /// (rows s..e) computes only the columns s..n ([`BlockKernel::kernels_upper_block`]) and
    /// is put both at (s, s) and, transposed, at (e, s) (rows e..n, columns s..e): every pair
    /// is computed once, so the kernel is exactly symmetric and the work is half that of the
    /// full rows.
    pub fn blocks(
        &self,
        before: impl FnMut(usize) -> Result<()>,
        mut put: impl FnMut(usize, usize, &Matrix) -> Result<()>,
    ) -> Result<(usize, usize)> {
        let kind = self.kind;
        self.pair_blocks(false, before, |row, col, k| put(row, col, pick(k, kind)))
    }

    /// [`KernelStream::blocks`] handing both kernels of each block (NNGP and NTK, computed
    /// together) when `both`, else only `kind` (the other an empty matrix, never
    /// transposed). The blocks, their order and their bits are those of
    /// [`KernelStream::blocks`].
    pub fn pair_blocks(
        &self,
        both: bool,
        mut before: impl FnMut(usize) -> Result<()>,
        mut put: impl FnMut(usize, usize, &Kernels) -> Result<()>,
    ) -> Result<(usize, usize)> {
        let (n, cols) = self.check()?;
        let (network, x1) = (self.network, self.x1);
        let keep = self.keep(both);
        let kept = |k: Kernels| match keep {
            None => k,
            Some(kind) => {
                let mut out = Kernels::default();
                *pick_mut(&mut out, kind) = k.take(kind);
                out
            }
        };
        let mut start = 0;
        while start < n {
            let end = (start + self.block_rows).min(n);
            before(start)?;
            match self.x2 {
                Some(x2) => {
                    let k = network.kernels_of(x1, start..end, Some((x2, 0..cols)))?;
                    put(start, 0, &kept(k))?;
                }
                None => {
                    let k = kept(network.kernels_upper_block(x1, start, end - start)?);
                    put(start, start, &k)?;
                    if end < n {
                        // The block's columns beyond its square, transposed, below it.
                        let below = |k: &Matrix| {
                            if k.data.is_empty() {
                                return Matrix::default();
                            }
                            Matrix::from_fn(n - end, end - start, |r, c| k.get(c, end - start + r))
                        };
                        let below = Kernels {
                            nngp: below(&k.nngp),
                            ntk: below(&k.ntk),
                        };
                        put(end, start, &below)?;
                    }
                }
            }
            start = end;
        }
        Ok((n, cols))
    }

    /// The kernel in memory by [`KernelStream::pair_blocks`]: both kernels when `both`, else
    /// `kind` (the other an empty matrix); `before(s)` is called before the block that starts
    /// at row s (a cancellation point). When one block holds the whole kernel (`block_rows` ≥
    /// n) it is returned as computed, without assembling a copy: the same bits as the blocks
    /// (the [`BlockKernel`] contract).
    pub fn in_memory(
        &self,
        both: bool,
        mut before: impl FnMut(usize) -> Result<()>,
    ) -> Result<Kernels> {
        let (n, cols) = self.check()?;
        let keep = self.keep(both);
        match keep {
            Some(_) => check_fits("the kernel", &[n, cols])?,
            None => check_fits("the kernels", &[n, cols, 2])?,
        }
        if self.block_rows >= n {
            before(0)?;
            let x2 = self.x2.map(|x2| (x2, 0..cols));
            let whole = self.network.kernels_of(self.x1, 0..n, x2)?;
            return Ok(match keep {
                None => whole,
                Some(kind) => {
                    let mut out = Kernels::default();
                    *pick_mut(&mut out, kind) = whole.take(kind);
                    out
                }
            });
        }
        let empty_unless = |kind: Kind| match keep {
            Some(k) if k != kind => Matrix::default(),
            _ => Matrix::zeros(n, cols),
        };
        let mut out = Kernels {
            nngp: empty_unless(Kind::Nngp),
            ntk: empty_unless(Kind::Ntk),
        };
        self.pair_blocks(both, before, |row, col, block| {
            for kind in [Kind::Nngp, Kind::Ntk] {
                let (b, k) = (pick(block, kind), pick_mut(&mut out, kind));
                for r in 0..b.rows {
                    k.row_mut(row + r)[col..col + b.cols].copy_from_slice(b.row(r));
                }
            }
            Ok(())
        })?;
        Ok(out)
    }

    /// Writes the kernel to an NPY file by [`KernelStream::blocks`]: memory stays bounded
    /// whatever the size; the file appears atomically when complete. Returns the shape.
    pub fn to_npy(&self, path: &std::path::Path) -> Result<(usize, usize)> {
        self.to_npy_with(path, |_| Ok(()))
    }

    /// [`KernelStream::to_npy`], calling `before(s)` before computing the block that starts
    /// at row s (a cancellation point: an error stops the computation and removes the
    /// unfinished file).
    pub fn to_npy_with(
        &self,
        path: &std::path::Path,
        before: impl FnMut(usize) -> Result<()>,
    ) -> Result<(usize, usize)> {
        let (rows, cols) = self.check()?;
        let mut writer = crate::data::io::NpyWriter::create(path, &[rows, cols])?;
        // With x2 the blocks come in row order, full width: appended without seeking.
        let sequential = self.x2.is_some();
        let shape = self.blocks(before, |row, col, block| {
            if sequential {
                writer.write(&block.data)
            } else {
                writer.write_rect(row, col, block)
            }
        })?;
        writer.finish()?;
        Ok(shape)
    }
}
