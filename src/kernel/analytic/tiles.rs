//! The tiled, parallel computation of K and Θ between two input sets: per-thread scratch
//! tiles, non-temporal stores, and the mirror of the leading square.

use super::*;
use crate::error::{Error, Result};
use crate::linalg::{
    check_fits, stream_fence, stream_store, transpose_group, Matrix, MatrixView, SharedPtr,
};
use rayon::prelude::*;

/// Writes `dst[c·dst_stride + i] = src[i·src_stride + c]` for i in `rows`, c in `cols` (only
/// c > i when `upper_only`): a transpose between two row-major buffers, or with `src` = `dst`
/// the mirror of a block's upper part onto its lower part. Runs over groups of 8 rows
/// ([`transpose_group`], ordinary stores); with `upper_only` the entries of each group's
/// diagonal 8 × 8 block are copied one by one.
///
/// # Safety
/// Both buffers must be valid for the entries read and written, which no other thread may
/// access; a read entry is never a written one (with `src` = `dst`, `upper_only` must hold).
pub(super) unsafe fn transpose_entries(
    (src, ss): (*const f64, usize),
    (dst, ds): (*mut f64, usize),
    rows: std::ops::Range<usize>,
    cols: std::ops::Range<usize>,
    upper_only: bool,
) {
    for ib in rows.clone().step_by(8) {
        let ie = (ib + 8).min(rows.end);
        // Columns every row of the group keeps (all of them, or those right of the group).
        let c0 = if upper_only {
            cols.start.max(ie)
        } else {
            cols.start
        };
        // SAFETY: the caller's contract; every entry below lies in `rows` × `cols`.
        unsafe {
            if upper_only {
                for i in ib..ie {
                    for c in cols.start.max(i + 1)..ie.min(cols.end) {
                        *dst.add(c * ds + i) = *src.add(i * ss + c);
                    }
                }
            }
            if c0 < cols.end {
                let (from, to) = (src.add(ib * ss + c0), dst.add(c0 * ds + ib));
                transpose_group((from, ss), (to, ds), ie - ib, cols.end - c0, false);
            }
        }
    }
}

/// The rows of `x2` transposed, column block by column block: block `bj` (rows
/// bj·`tile`.. of x2, cj ≤ `tile` of them) is d × cj, k-major (its cj values for each input
/// coordinate k contiguous), and starts at bj·`tile`·d. Built once per call, in parallel over
/// the blocks, and shared by every tile of the block's column (each tile packed its own copy
/// before: one pass over x2 per row block, ≈ 12 % of the one-layer kernel's CPU time at
/// n = 4000, d = 100).
fn pack_column_blocks(x2: MatrixView<'_>, tile: usize) -> Vec<f64> {
    let d = x2.cols;
    let len = d * x2.rows;
    let mut packed: Vec<f64> = Vec::with_capacity(len);
    packed.spare_capacity_mut()[..len]
        .par_chunks_mut((tile * d).max(1))
        .enumerate()
        .for_each(|(bj, block)| {
            let j0 = bj * tile;
            let cj = block.len() / d.max(1);
            for (j, row) in x2.data[j0 * d..(j0 + cj) * d]
                .chunks_exact(d.max(1))
                .enumerate()
            {
                for (k, v) in row.iter().enumerate() {
                    block[k * cj + j].write(*v);
                }
            }
        });
    // SAFETY: the blocks cover the `len` values (cj·d each), and each block's cj rows of d
    // values are written at k·cj + j for every k < d, j < cj: every value once.
    unsafe { packed.set_len(len) };
    packed
}

/// K⁰ of a tile: `out` (ri × cj, row-major) ← `scale` · A Bᵀ for the rows A = x1[i0..i0 + ri]
/// and B the tile's column block, `bt` = Bᵀ (d × cj, from [`pack_column_blocks`]). Every
/// entry is ⟨xᵢ, x′ⱼ⟩ accumulated in index order by fused
/// multiply-adds (acc ← fma(aₖ, bₖ, acc) from acc = 0), then multiplied by `scale` — the same
/// sequence of operations whatever the tile's shape, the entry's place in it and the vector
/// unit (a fused multiply-add rounds once, alike everywhere). (faer's GEMM, used before, takes a matrix–vector, a small-matrix or a blocked path by
/// the product's shape, which sum in different orders: a one-row block of a kernel then
/// differed from the same row of the whole kernel in the last bits.) Blocks of 4 × 8 entries
/// are accumulated in registers over B packed column-major; the entries beyond whole blocks
/// one by one, in the same order. With `upper` (a tile on the diagonal of K(x, x): row i and
/// column i are the same input) the register blocks wholly below the diagonal (every column
/// index below every row index) and the single entries below it are skipped — their values,
/// left as they were in `out`, are mirrored from above by the caller.
fn tile_inputs_product(
    out: &mut [f64],
    (x1, i0, ri): (MatrixView<'_>, usize, usize),
    (bt, cj): (&[f64], usize),
    scale: f64,
    upper: bool,
) {
    let d = x1.cols;
    let a = &x1.data[i0 * d..(i0 + ri) * d];
    inputs_product_tile(out, a, &bt[..d * cj], (ri, cj, d), scale, upper);
}

/// Rows of 4 × 8 register blocks of [`tile_inputs_product`].
const BLOCK_ROWS: usize = 4;
/// Columns of a register block.
const BLOCK_COLS: usize = 8;

/// `out[i·cj + j] = scale · Σ_k a[i·d + k] · bt[k·cj + j]`, k in order, fused; with `upper`,
/// only where j ≥ i (and for the register blocks that reach it: the rest of `out` is left
/// alone or written).
#[inline(always)]
fn inputs_product_tile_generic(
    out: &mut [f64],
    a: &[f64],
    bt: &[f64],
    (ri, cj, d): (usize, usize, usize),
    scale: f64,
    upper: bool,
) {
    let (whole_rows, whole_cols) = (ri / BLOCK_ROWS * BLOCK_ROWS, cj / BLOCK_COLS * BLOCK_COLS);
    for ib in (0..whole_rows).step_by(BLOCK_ROWS) {
        // The first block whose last column reaches the block's first row.
        let first = if upper {
            (ib + 1).saturating_sub(BLOCK_COLS).div_ceil(BLOCK_COLS) * BLOCK_COLS
        } else {
            0
        };
        for jb in (first..whole_cols).step_by(BLOCK_COLS) {
            let mut acc = [[0.0f64; BLOCK_COLS]; BLOCK_ROWS];
            for k in 0..d {
                let b = &bt[k * cj + jb..k * cj + jb + BLOCK_COLS];
                for (r, acc_r) in acc.iter_mut().enumerate() {
                    let av = a[(ib + r) * d + k];
                    for (c, acc_rc) in acc_r.iter_mut().enumerate() {
                        *acc_rc = av.mul_add(b[c], *acc_rc);
                    }
                }
            }
            for (r, acc_r) in acc.iter().enumerate() {
                let row = &mut out[(ib + r) * cj + jb..(ib + r) * cj + jb + BLOCK_COLS];
                for (o, v) in row.iter_mut().zip(acc_r) {
                    *o = v * scale;
                }
            }
        }
    }
    // The rest, entry by entry (the same order).
    for i in 0..ri {
        let from = if i < whole_rows { whole_cols } else { 0 };
        let from = if upper { from.max(i) } else { from };
        for j in from..cj {
            let mut acc = 0.0f64;
            for k in 0..d {
                acc = a[i * d + k].mul_add(bt[k * cj + j], acc);
            }
            out[i * cj + j] = acc * scale;
        }
    }
}

crate::linalg::simd_dispatch! {
    /// [`inputs_product_tile_generic`] compiled for the widest vector unit (every path rounds
    /// alike).
    fn inputs_product_tile(
        out: &mut [f64],
        a: &[f64],
        bt: &[f64],
        shape: (usize, usize, usize),
        scale: f64,
        upper: bool,
    ) = inputs_product_tile_generic;
}

impl Network {
    /// The tiled computation of [`Network::compute`]: K and Θ between the rows of `x1` and of
    /// `x2`, written to the r × n₂ outputs at `kp` and `tp` (r = rows of x1, n₂ = rows of x2).
    /// Work is split into TILE × TILE tiles, each a parallel task (so that a few rows against
    /// many still use every core): a tile is computed in a per-thread scratch that stays in
    /// cache — K⁰ = ⟨x, x'⟩/d ([`tile_inputs_product`]: one summation order
    /// whatever the tile), then the layer maps row by row — and written
    /// out once, with non-temporal stores ([`stream_store`]: no read of the output's lines
    /// before they are written). In the `leading` layout (x1 = the first r rows of x2) only
    /// the tiles on and right of the diagonal are computed, with cos θ = 1 at j = i; inside the
    /// leading r × r square each one is also written transposed into the rows below (entries no
    /// other task writes). Each entry is the same sequence of operations whatever the thread
    /// count.
    ///
    /// Every one of the r × n₂ entries of both outputs is written and none is read, so the
    /// outputs may be uninitialised memory.
    ///
    /// # Safety
    /// `kp` and `tp` must each be valid for writes of r × n₂ values, which nothing else
    /// accesses during the call.
    #[allow(clippy::too_many_arguments)]
    pub(super) unsafe fn tiles(
        &self,
        map: &ActivationMap,
        var1: &[Vec<f64>],
        var2_layers: &[LayerVariances],
        (x1, x2, scale): (MatrixView<'_>, MatrixView<'_>, f64),
        leading: bool,
        (kp, tp): (SharedPtr, SharedPtr),
    ) {
        const TILE: usize = 128;
        let (r, n2) = (x1.rows, x2.rows);
        let input_dim = x1.cols;
        // The tiles (bi, bj), each a task: all of them in the cross layout, those with bj ≥ bi
        // in the leading one (whose tile columns start at the row block's own start).
        let (row_blocks, col_blocks) = (r.div_ceil(TILE), n2.div_ceil(TILE));
        let tiles: Vec<(usize, usize)> = (0..row_blocks)
            .flat_map(|bi| (if leading { bi } else { 0 }..col_blocks).map(move |bj| (bi, bj)))
            .collect();
        let packed = pack_column_blocks(x2, TILE);
        tiles.into_par_iter().for_each(|(bi, bj)| {
            let (i0, i1) = (bi * TILE, ((bi + 1) * TILE).min(r));
            let (j0, ri) = (bj * TILE, i1 - i0);
            let cj = (j0 + TILE).min(n2) - j0;
            // The K and Θ tiles.
            crate::linalg::with_scratch(2 * TILE * TILE, |scratch| {
                let (k_tile, t_tile) = scratch.split_at_mut(TILE * TILE);
                let (k_tile, t_tile) = (&mut k_tile[..ri * cj], &mut t_tile[..ri * cj]);
                let diagonal_tile = leading && j0 == i0;
                // K⁰ of the tile, ⟨x_i, x'_j⟩/d, in cache (on the diagonal, its upper part).
                let bt = (&packed[j0 * input_dim..], cj);
                tile_inputs_product(k_tile, (x1, i0, ri), bt, scale, diagonal_tile);
                // The tile's columns inside the leading square (c < r), whose transposes
                // go below the diagonal: rows j0 + c, columns i0.. (no other task writes
                // there). In groups of rows that start a 64-byte line of those output rows
                // (when the row length allows), so that each group's transpose is whole
                // lines; the groups are written while the next ones are computed.
                let square = if leading {
                    (j0 + cj).min(r).saturating_sub(j0)
                } else {
                    0
                };
                let offset = (kp.at(0) as usize / 8 + j0 * n2 + i0) % 8;
                let lead = if n2.is_multiple_of(8) {
                    (8 - offset) % 8
                } else {
                    0
                };
                let mut g0 = 0;
                while g0 < ri {
                    let g1 = if g0 == 0 && lead > 0 { lead } else { g0 + 8 }.min(ri);
                    for li in g0..g1 {
                        let i = i0 + li;
                        let start = if leading { j0.max(i) } else { j0 };
                        if start >= j0 + cj {
                            continue;
                        }
                        let diagonal = (leading && start == i).then_some(0);
                        let span = li * cj + (start - j0)..(li + 1) * cj;
                        let (k_row, t_row) = (&mut k_tile[span.clone()], &mut t_tile[span]);
                        let (v1, v2) = (&var1[i], var2_layers);
                        self.row(map, v1, v2, start, k_row, t_row, diagonal, input_dim);
                    }
                    if !diagonal_tile {
                        for (tile, out) in [(&*k_tile, kp), (&*t_tile, tp)] {
                            let rows = &tile[g0 * cj..g1 * cj];
                            // SAFETY: rows i0 + g0..i0 + g1, columns j0..j0 + cj are this
                            // task's tile, which no other task writes (in the leading layout
                            // it lies above the diagonal); below the diagonal, rows j0..,
                            // columns i0 + g0..i0 + g1, as said above. The outputs are valid
                            // for all of it (the caller's contract).
                            unsafe {
                                for (li, row) in rows.chunks_exact(cj).enumerate() {
                                    stream_store(out.at((i0 + g0 + li) * n2 + j0), row);
                                }
                                if square > 0 {
                                    let src = (rows.as_ptr(), cj);
                                    let dst = (out.at(j0 * n2 + i0 + g0), n2);
                                    transpose_group(src, dst, g1 - g0, square, true);
                                }
                            }
                        }
                    }
                    g0 = g1;
                }
                if diagonal_tile {
                    for (tile, out) in [(&mut *k_tile, kp), (&mut *t_tile, tp)] {
                        // Its lower part is its upper part mirrored.
                        let base = tile.as_mut_ptr();
                        // SAFETY: inside the tile; only c > i is read, only c < i written;
                        // then this task's tile, rows i0.., columns j0 = i0.. on the
                        // diagonal (no other task writes it).
                        unsafe {
                            transpose_entries((base, cj), (base, cj), 0..ri, 0..square, true);
                            for (li, row) in tile.chunks_exact(cj).enumerate() {
                                stream_store(out.at((i0 + li) * n2 + j0), row);
                            }
                        }
                    }
                }
            });
            stream_fence();
        });
    }

    /// K and Θ between the rows of `x1` and of `x2`; `leading` says that `x1` is the first
    /// rows of `x2` (x1 = x2 included): only entries j ≥ i are computed, with cos θ = 1 at
    /// j = i, and the leading square is mirrored.
    pub(super) fn compute(
        &self,
        x1: MatrixView<'_>,
        x2: MatrixView<'_>,
        leading: bool,
        out: &mut Kernels,
    ) -> Result<()> {
        self.validate()?;
        let d = x1.cols;
        if x2.cols != d {
            return Err(Error::shape(
                "kernel",
                format!("x has {d} columns but x2 has {}", x2.cols),
            ));
        }
        if d == 0 {
            return Err(Error::shape(
                "kernel",
                "the inputs have no columns (the kernels normalise by the input dimension)",
            ));
        }
        let map = ActivationMap::new(self.activation, self.quadrature_degree)?;
        // The per-layer variances below: q of every input, and q, √q, 1/√q of x2's.
        let inputs = x1.rows + x2.rows;
        check_fits(
            "depth (the per-layer variances of the inputs)",
            &[inputs, self.depth, 4],
        )?;
        if [&out.nngp, &out.ntk]
            .iter()
            .any(|m| (m.rows, m.cols) != (x1.rows, x2.rows))
        {
            check_fits(
                "kernel size (NNGP and NTK, rows of x × rows of x2)",
                &[2, x1.rows, x2.rows],
            )?;
        }
        let scale = 1.0 / d as f64;
        let sq = |x: MatrixView<'_>| -> Vec<f64> {
            (0..x.rows)
                .map(|i| x.row(i).iter().map(|v| v * v).sum::<f64>() * scale)
                .collect()
        };
        let var2: Vec<Vec<f64>> = sq(x2)
            .into_iter()
            .map(|q| self.variances(&map, q))
            .collect::<Result<_>>()?;
        let var1: Vec<Vec<f64>> = if leading {
            var2[..x1.rows].to_vec()
        } else {
            sq(x1)
                .into_iter()
                .map(|q| self.variances(&map, q))
                .collect::<Result<_>>()?
        };
        // Per layer, the variances of the second set as arrays (rows run over j).
        let var2_layers: Vec<LayerVariances> = (0..self.depth)
            .map(|l| {
                let mut layer = LayerVariances::default();
                var2.iter().for_each(|v| layer.push(v[l]));
                layer
            })
            .collect();
        let (r, n2) = (x1.rows, x2.rows);
        let tiles = |kp: *mut f64, tp: *mut f64| {
            let inputs = (x1, x2, scale);
            let outputs = (SharedPtr::new(kp), SharedPtr::new(tp));
            // SAFETY: both outputs are r × n₂ values (the buffers below), used by nothing else
            // during the call.
            unsafe { self.tiles(&map, &var1, &var2_layers, inputs, leading, outputs) }
        };
        let Kernels { nngp, ntk } = out;
        if [&*nngp, &*ntk].iter().all(|m| (m.rows, m.cols) == (r, n2)) {
            // Reused buffers: every entry is overwritten, none read.
            tiles(nngp.data.as_mut_ptr(), ntk.data.as_mut_ptr());
        } else {
            // Fresh outputs, not initialised first (no zeroing pass before the tiles write
            // every entry; where the allocator recycles memory, none of its pages is touched
            // twice).
            // SAFETY: `tiles` writes every one of the r × n₂ entries of each.
            (*nngp, *ntk) = unsafe {
                Matrix::written_in_place(r, n2, |kp| {
                    Matrix::written_in_place(r, n2, |tp| tiles(kp, tp)).0
                })
            };
        }
        Ok(())
    }
}
