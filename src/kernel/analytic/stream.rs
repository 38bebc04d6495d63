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
/// of it, computed `block_rows` rows at a time so that memory stays bounded by a block
/// whatever the size. Every streaming route ([`KernelStream::blocks`] into memory or a
/// communicator, [`KernelStream::to_npy`] to a file) takes this one request.
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

impl<K: BlockKernel> KernelStream<'_, K> {
    /// [`check_stream`] of this request: its settings and memory; the kernel's shape (n, m).
    pub fn check(&self) -> Result<(usize, usize)> {
        check_stream(self.network, self.x1, self.x2, self.block_rows)
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
        mut before: impl FnMut(usize) -> Result<()>,
        mut put: impl FnMut(usize, usize, &Matrix) -> Result<()>,
    ) -> Result<(usize, usize)> {
        let (n, cols) = self.check()?;
        let (network, x1) = (self.network, self.x1);
        let mut start = 0;
        while start < n {
            let end = (start + self.block_rows).min(n);
            before(start)?;
            match self.x2 {
                Some(x2) => {
                    let k = network.kernels_of(x1, start..end, Some((x2, 0..cols)))?;
                    put(start, 0, &k.take(self.kind))?;
                }
                None => {
                    let k = network
                        .kernels_upper_block(x1, start, end - start)?
                        .take(self.kind);
                    put(start, start, &k)?;
                    if end < n {
                        // The block's columns beyond its square, transposed, below it.
                        let below =
                            Matrix::from_fn(n - end, end - start, |r, c| k.get(c, end - start + r));
                        put(end, start, &below)?;
                    }
                }
            }
            start = end;
        }
        Ok((n, cols))
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
