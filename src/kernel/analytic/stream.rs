//! Kernels larger than memory: streamed to an NPY file block by block.

use super::*;
use crate::error::{Error, Result};
use crate::linalg::{check_fits, Matrix};

/// Writes K(x1, x2) (or K(x1, x1) when `x2` is `None`) to an NPY file, computing `block_rows`
/// rows at a time so that memory stays bounded whatever the size; the file appears atomically
/// when complete. Returns the shape.
///
/// For K(x1, x1) block b (rows s..e) computes only the columns s..n
/// ([`Network::kernels_upper_block`]) and writes them both at rows s..e and, transposed, at
/// columns s..e of rows e..n: every pair is computed once, so the file is exactly symmetric
/// and the work is half that of the full rows.
pub fn stream_to_npy(
    network: &Network,
    kind: Kind,
    x1: &Matrix,
    x2: Option<&Matrix>,
    block_rows: usize,
    path: &std::path::Path,
) -> Result<(usize, usize)> {
    network.validate()?;
    if block_rows == 0 {
        return Err(Error::invalid("block_rows", "expected ≥ 1 row per block"));
    }
    let n = x1.rows;
    let cols = x2.map_or(n, |x| x.rows);
    // A block's two kernels, and for K(x1, x1) the transposed part below it.
    check_fits(
        "block_rows (each block's kernels)",
        &[block_rows.min(n), cols, 3],
    )?;
    let mut writer = crate::data::io::NpyWriter::create(path, &[n, cols])?;
    let block = block_rows;
    let mut start = 0;
    while start < n {
        let end = (start + block).min(n);
        match x2 {
            Some(x2) => {
                let rows: Vec<usize> = (start..end).collect();
                let k = network.kernels(&x1.select_rows(&rows), Some(x2))?;
                writer.write(&k.take(kind).data)?;
            }
            None => {
                let tail: Vec<usize> = (start..n).collect();
                let k = network
                    .kernels_upper_block(&x1.select_rows(&tail), end - start)?
                    .take(kind);
                writer.write_rect(start, start, &k)?;
                if end < n {
                    // The block's columns beyond its square, transposed, below it.
                    let below =
                        Matrix::from_fn(n - end, end - start, |r, c| k.get(c, end - start + r));
                    writer.write_rect(end, start, &below)?;
                }
            }
        }
        start = end;
    }
    writer.finish()?;
    Ok((n, cols))
}
