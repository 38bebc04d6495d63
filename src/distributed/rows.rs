//! Row blocks of the kernel K(x, x) equal, bit for bit, to the rows of the kernel one process
//! computes ([`crate::kernel::analytic::KernelStream::blocks`], `gradflow kernel`): whatever the
//! block, every entry is the same sequence of floating-point operations.
//!
//! The single-process kernel computes each pair once: entry (i, j), i < j, as the pair
//! (xᵢ, xⱼ) (in the upper part of row i's block) and (j, i) as its mirror; the diagonal with
//! the angle exactly 0. Rows s..e are therefore assembled from
//! * columns s..n: [`BlockKernel::kernels_upper_block`] of x[s..n] with e − s block rows (the
//!   leading square on its upper triangle, mirrored; the rest as pairs (xᵢ, xⱼ));
//! * columns 0..s: K(x[0..s], x[s..e]) transposed — the pairs (xⱼ, xᵢ) with j < i, as the
//!   single-process kernel computes them.
//!
//! Each rank computes full rows (n entries each), twice the work of the half the symmetric
//! single-process kernel computes; in exchange no rank waits for another's entries.

use crate::error::Result;
use crate::kernel::blocks::BlockKernel;
use crate::kernel::Kind;
use crate::linalg::Matrix;
use std::ops::Range;

/// Rows `rows` of K(x, x) (a rows.len() × n matrix), bit-identical to those rows of the
/// single-process kernel for every block, one row included (the kernel's tiles compute
/// ⟨xᵢ, xⱼ⟩ by one GEMM path whatever their shape).
pub fn row_block<K: BlockKernel>(
    network: &K,
    kind: Kind,
    x: K::Inputs<'_>,
    rows: Range<usize>,
) -> Result<Matrix> {
    let (n, s, e) = (K::count(x), rows.start, rows.end);
    let b = e - s;
    let mut out = Matrix::zeros(b, n);
    if b == 0 {
        return Ok(out);
    }
    let upper = network.kernels_upper_block(x, s, b)?.take(kind);
    let lower = if s > 0 {
        Some(network.kernels_of(x, 0..s, Some((x, s..e)))?.take(kind))
    } else {
        None
    };
    for r in 0..b {
        let row = out.row_mut(r);
        row[s..].copy_from_slice(upper.row(r));
        if let Some(lower) = &lower {
            for (c, v) in row[..s].iter_mut().enumerate() {
                *v = lower.get(c, r);
            }
        }
    }
    Ok(out)
}

/// Rows `rows` of K(x1, x2) for two input sets (the pairs (x1ᵢ, x2ⱼ)), as
/// [`crate::kernel::analytic::KernelStream::blocks`] computes them with `x2`.
pub fn cross_block<K: BlockKernel>(
    network: &K,
    kind: Kind,
    x1: K::Inputs<'_>,
    x2: K::Inputs<'_>,
    rows: Range<usize>,
) -> Result<Matrix> {
    if rows.is_empty() {
        return Ok(Matrix::zeros(0, K::count(x2)));
    }
    let m = K::count(x2);
    Ok(network.kernels_of(x1, rows, Some((x2, 0..m)))?.take(kind))
}

/// The rows `rows` of K(x, x) (`x2` = `None`) or K(x, x2), `tile` rows at a time, each tile
/// handed to `put(first_row, tile)` (which may change the tile in place). The tiles are
/// bit-identical to the same rows of the whole kernel ([`row_block`], [`cross_block`]).
pub fn for_each_tile<K: BlockKernel>(
    network: &K,
    kind: Kind,
    x: K::Inputs<'_>,
    x2: Option<K::Inputs<'_>>,
    rows: Range<usize>,
    tile: usize,
    mut put: impl FnMut(usize, &mut Matrix) -> Result<()>,
) -> Result<()> {
    let mut start = rows.start;
    while start < rows.end {
        let end = (start + tile.max(1)).min(rows.end);
        let mut block = match x2 {
            None => row_block(network, kind, x, start..end)?,
            Some(x2) => cross_block(network, kind, x, x2, start..end)?,
        };
        put(start, &mut block)?;
        start = end;
    }
    Ok(())
}

/// The diagonal entries K(xᵢ, xᵢ), i ∈ `rows`, bit-identical to the single-process kernel's
/// diagonal (each depends on xᵢ alone: the angle exactly 0), computed in small symmetric
/// blocks (64 rows: 64 × 64 entries per block, a negligible cost next to a row block).
pub fn diagonal<K: BlockKernel>(
    network: &K,
    kind: Kind,
    x: K::Inputs<'_>,
    rows: Range<usize>,
) -> Result<Vec<f64>> {
    const CHUNK: usize = 64;
    let mut out = Vec::with_capacity(rows.len());
    let mut start = rows.start;
    while start < rows.end {
        let end = (start + CHUNK).min(rows.end);
        let k = network.kernels_of(x, start..end, None)?.take(kind);
        out.extend((0..end - start).map(|i| k.get(i, i)));
        start = end;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::{kernel, Cancel, Input};
    use crate::distributed::select;
    use crate::kernel::analytic::Network;
    use crate::nn::Activation;

    fn inputs(n: usize, d: usize) -> Matrix {
        Matrix::from_fn(n, d, |i, j| {
            ((i * 7 + j * 3) as f64 * 0.37).sin() + 0.1 * j as f64
        })
    }

    /// Asserts that row r of `block` is row `start + r` of `whole`, bit for bit.
    fn assert_rows_bitwise(block: &Matrix, whole: &Matrix, start: usize, what: &str) {
        for r in 0..block.rows {
            let same = block
                .row(r)
                .iter()
                .zip(whole.row(start + r))
                .all(|(a, b)| a.to_bits() == b.to_bits());
            let end = start + block.rows;
            assert!(same, "{what}: row {} of block {start}..{end}", start + r);
        }
    }

    fn networks() -> Vec<Network> {
        let mut deep = Network::new(3, Activation::ERF);
        deep.b_std = Some(0.3);
        vec![
            crate::commands::kernel::default_network(),
            deep,
            Network::new(2, Activation::Gelu),
        ]
    }

    /// Every row block and every tiling gives the bits of the single-process kernel (the
    /// `gradflow kernel` computation, in blocks of 5 rows), for closed-form and quadrature
    /// activations, both kinds.
    #[test]
    fn row_blocks_are_the_bits_of_the_single_process_kernel() {
        let x = inputs(23, 4);
        for network in networks() {
            for kind in [Kind::Ntk, Kind::Nngp] {
                let request = kernel::Request {
                    network: network.clone(),
                    kind,
                    block_rows: 5,
                };
                let input = Input::new("x", x.clone()).unwrap();
                let whole = kernel::run(&request, &input, None, Cancel::NEVER).unwrap();
                for (s, e) in [(0, 23), (0, 7), (7, 16), (16, 23), (3, 5)] {
                    let block = row_block(&network, kind, x.as_view(), s..e).unwrap();
                    assert_rows_bitwise(&block, &whole, s, &format!("{network:?} {kind:?}"));
                }
                for (s, e) in [(2, 23), (0, 1), (22, 23), (5, 6)] {
                    let diag = diagonal(&network, kind, x.as_view(), s..e).unwrap();
                    for (i, d) in diag.iter().enumerate() {
                        assert_eq!(d.to_bits(), whole.get(s + i, s + i).to_bits());
                    }
                }
                let mut seen = 0;
                for_each_tile(&network, kind, x.as_view(), None, 4..19, 4, |at, t| {
                    for r in 0..t.rows {
                        assert_eq!(t.row(r), whole.row(at + r));
                        seen += 1;
                    }
                    Ok(())
                })
                .unwrap();
                assert_eq!(seen, 15);
            }
        }
    }

    #[test]
    fn cross_blocks_are_the_bits_of_the_single_process_kernel() {
        let (x, x2) = (inputs(11, 3), inputs(6, 3));
        let network = Network::new(2, Activation::Relu);
        let request = kernel::Request {
            network: network.clone(),
            kind: Kind::Ntk,
            block_rows: 4,
        };
        let (a, b) = (
            Input::new("x", x.clone()).unwrap(),
            Input::new("x2", x2.clone()).unwrap(),
        );
        let whole = kernel::run(&request, &a, Some(&b), Cancel::NEVER).unwrap();
        let block = cross_block(&network, Kind::Ntk, x.as_view(), x2.as_view(), 3..10).unwrap();
        for r in 3..10 {
            assert_eq!(block.row(r - 3), whole.row(r));
        }
    }

    /// Every block s..e of K(x, x), one row included, is the bits of rows s..e of the whole
    /// kernel (one [`Network::kernels`] call), and so is every one-row or one-column K(x, x2):
    /// ReLU (the vectorised map) and erf, both kinds, input dimensions 4 and 600. Before the
    /// kernel's tiles computed a one-row or one-column tile by the GEMM's matrix path, one-row
    /// blocks of the ReLU kernels differed from the whole kernel's rows in the last bits.
    #[test]
    fn blocks_of_every_size_one_row_included_are_the_bits_of_the_whole_kernel() {
        for (n, d) in [(13, 4), (9, 600)] {
            let x = inputs(n, d);
            for network in [
                crate::commands::kernel::default_network(),
                Network::new(2, Activation::ERF),
            ] {
                for kind in [Kind::Ntk, Kind::Nngp] {
                    let whole = network.kernels(&x, None).unwrap().take(kind);
                    // K(x, x) as a cross kernel (the diagonal angle not forced to 0).
                    let cross = network.kernels(&x, Some(&x)).unwrap().take(kind);
                    for s in 0..n {
                        for e in s + 1..=n {
                            let block = row_block(&network, kind, x.as_view(), s..e).unwrap();
                            assert_rows_bitwise(&block, &whole, s, &format!("{kind:?} d = {d}"));
                        }
                    }
                    // One test row against all training rows, and all against one.
                    for i in 0..n {
                        let row = cross_block(&network, kind, x.as_view(), x.as_view(), i..i + 1)
                            .unwrap();
                        let bits = |v: &[f64]| v.iter().map(|a| a.to_bits()).collect::<Vec<_>>();
                        assert_eq!(bits(row.row(0)), bits(cross.row(i)), "{kind:?} {d}: {i}");
                        let one = select(&x, i..i + 1);
                        let column = network.kernels(&x, Some(&one)).unwrap().take(kind);
                        for r in 0..n {
                            assert_eq!(column.get(r, 0).to_bits(), cross.get(r, i).to_bits());
                        }
                    }
                }
            }
        }
    }
}
