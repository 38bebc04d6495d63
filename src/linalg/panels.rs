//! Gram matrices of long rows without packing: a row-major n × k matrix A stored as
//! [`Panels`] — groups of 8 rows, each group k lines of 8 values (line t holds A[8g..8g + 8, t],
//! one 64-byte cache line, with the group length padded to an odd number of lines) — and the
//! products C = α A Aᵀ ([`gram_upper_panels`]), C = α A Bᵀ ([`gemm_panels`]) and blocks of it
//! ([`gemm_panels_block`]) computed from that layout directly.
//!
//! A general GEMM reorders both operands of every tile into its kernel's layout before
//! multiplying ("packing"); for A Aᵀ with rows of a few thousand values that reordering is a
//! transpose of every row, repeated for every tile (faer spends ≈ 13 % of the two-layer
//! empirical NTK's Gram in it). In the panel layout each step t of the kernel reads one line of
//! the left group (8 values broadcast one by one) and one line of each of three right groups
//! (three vectors): an 8 × 24 block of C accumulates Σ_t A[i, t] A[j, t] in 24 vector registers
//! with no reordering at all. The layout is written once, by the pass that produces A.
//!
//! Each entry of C is the same sequence of operations whatever the thread count: tiles and
//! depth blocks (128 steps) are fixed, and every path (AVX-512F, AVX2 + FMA, plain code) forms
//! the same fused multiply-adds in the same order. Measured here (1000 × 4096, 2 cores): the
//! Gram in 29 ms against 39–40 ms for faer's tiled product (bench/RESULTS.md).

use super::{filled_by_blocks, transpose_group, Matrix, SharedPtr};
use rayon::prelude::*;
use std::ops::Range;

/// Values per line (one 64-byte cache line of f64).
pub const LANES: usize = 8;

/// One line of a panel group: the values of 8 consecutive rows at one column.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
#[repr(C, align(64))]
pub struct Line(pub [f64; LANES]);

/// A row-major `rows × depth` matrix in groups of 8 rows: line `g·s + t` holds the values of
/// rows 8g..8g + 8 at column t, with s = [`Panels::stride_for`]`(depth)` lines per group (rows
/// past the end, and the padding line, read as 0). Not `Clone`: a copy of the buffer would not
/// keep its lines on 64-byte boundaries.
#[derive(Debug, Default)]
pub struct Panels {
    rows: usize,
    depth: usize,
    /// The lines from `lead` on (an ordinary f64 buffer, so that the allocator reuses its
    /// memory: see [`filled_by_blocks`]).
    data: Vec<f64>,
    lead: usize,
}

/// The lines of a 64-byte-aligned run of values (a multiple of 8 of them).
fn as_lines_mut(values: &mut [f64]) -> &mut [Line] {
    assert!(values.len().is_multiple_of(LANES) && (values.as_ptr() as usize).is_multiple_of(64));
    // SAFETY: `Line` is `repr(C)` [f64; 8] with 64-byte alignment, which the start has; the
    // length is a whole number of lines, and every bit pattern is a valid f64.
    unsafe {
        std::slice::from_raw_parts_mut(values.as_mut_ptr().cast::<Line>(), values.len() / LANES)
    }
}

impl Panels {
    /// The panels of a `rows × depth` matrix written in blocks of `block_groups` groups
    /// (8·block_groups rows) on the rayon pool: `fill(block_index, lines, item)` gets the
    /// block's lines, zeroed, with its own entry of `items` (one per block, in order), and
    /// writes them, e.g. with [`Panels::fill_group`].
    pub fn by_blocks<T: Send>(
        rows: usize,
        depth: usize,
        block_groups: usize,
        items: Vec<T>,
        fill: impl Fn(usize, &mut [Line], T) + Sync,
    ) -> Panels {
        let stride = Panels::stride_for(depth);
        let len = rows.div_ceil(LANES) * stride * LANES;
        let block = block_groups.max(1) * stride * LANES;
        let (data, lead) = filled_by_blocks(len, block, items, |b, values, item| {
            fill(b, as_lines_mut(values), item)
        });
        Panels {
            rows,
            depth,
            data,
            lead,
        }
    }

    /// Lines per group for `depth` columns: `depth`, made odd, so that the lines of one step in
    /// consecutive groups (which a kernel call reads together) fall in different cache sets —
    /// with a group length of a multiple of 4 KiB they would all compete for one set.
    pub fn stride_for(depth: usize) -> usize {
        depth | 1
    }

    /// Zero panels of a `rows × depth` matrix (zeroed in parallel blocks of 8 groups), to be
    /// written in place through [`Panels::lines_mut`].
    pub fn zeros(rows: usize, depth: usize) -> Panels {
        let blocks = rows.div_ceil(LANES * LANES);
        Panels::by_blocks(rows, depth, LANES, vec![(); blocks], |_, _, ()| {})
    }

    /// The panels of a row-major matrix.
    pub fn from_matrix(a: &Matrix) -> Panels {
        Panels::from_rows(&a.data, a.rows, a.cols)
    }

    /// The panels of a matrix view whose rows are contiguous (column stride 1); `None` otherwise.
    pub fn from_view(a: faer::MatRef<'_, f64>) -> Option<Panels> {
        let (rows, depth, row_stride) = (a.nrows(), a.ncols(), a.row_stride());
        if rows == 0 || depth == 0 {
            let data = Vec::new();
            return Some(Panels {
                rows,
                depth,
                data,
                lead: 0,
            });
        }
        if a.col_stride() != 1 || row_stride < 0 {
            return None;
        }
        let (base, stride) = (SharedPtr::reading(a.as_ptr()), row_stride as usize);
        let groups: Vec<usize> = (0..rows.div_ceil(LANES)).collect();
        Some(Panels::by_blocks(rows, depth, 1, groups, |_, lines, g| {
            let first = g * LANES;
            let count = LANES.min(rows - first);
            // SAFETY: rows first..first + count of the view, each `depth` contiguous values at
            // `stride` apart (the view's layout); `lines` holds the group's lines.
            unsafe {
                transpose_group(
                    (base.at(first * stride), stride),
                    (lines.as_mut_ptr().cast::<f64>(), LANES),
                    count,
                    depth,
                    false,
                );
            }
        }))
    }

    /// The panels of the row-major `rows × depth` matrix `values`.
    pub fn from_rows(values: &[f64], rows: usize, depth: usize) -> Panels {
        assert_eq!(values.len(), rows * depth, "Panels::from_rows: shape");
        Panels::from_view(super::view(values, rows, depth)).expect("row-major rows are contiguous")
    }

    /// Writes lanes 0..r of the `depth` lines of one group from r ≤ 8 row-major rows of length
    /// `depth` (`block`); the other lanes are left as they are (zero in a fresh block).
    pub fn fill_group(group: &mut [Line], block: &[f64], depth: usize) {
        assert!(group.len() >= depth, "fill_group: one line per column");
        let rows = (block.len() / depth.max(1)).min(LANES);
        // SAFETY: `block` holds `rows` rows of `depth` values and `group` `depth` lines of 8;
        // the two are distinct borrows.
        unsafe {
            transpose_group(
                (block.as_ptr(), depth),
                (group.as_mut_ptr().cast::<f64>(), LANES),
                rows,
                depth,
                false,
            );
        }
    }

    /// The lines, `⌈rows/8⌉ · stride_for(depth)` of them.
    pub fn lines(&self) -> &[Line] {
        let values = &self.data[self.lead.min(self.data.len())..];
        if values.is_empty() {
            return &[];
        }
        // SAFETY: as in `as_lines_mut` (the buffer was built with its lines aligned).
        unsafe { std::slice::from_raw_parts(values.as_ptr().cast::<Line>(), values.len() / LANES) }
    }

    /// The lines, to write in place (e.g. block by block, by chunks of whole groups).
    pub fn lines_mut(&mut self) -> &mut [Line] {
        let lead = self.lead.min(self.data.len());
        if self.data.len() == lead {
            return &mut [];
        }
        as_lines_mut(&mut self.data[lead..])
    }

    /// Rows of the matrix.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Columns of the matrix.
    pub fn depth(&self) -> usize {
        self.depth
    }

    /// Entry (i, t) (for tests and small reads).
    pub fn get(&self, i: usize, t: usize) -> f64 {
        self.lines()[i / LANES * Panels::stride_for(self.depth) + t].0[i % LANES]
    }
}

/// Rows and columns of C per task (a multiple of both kernel dimensions, 8 and 24).
const TILE: usize = 96;
/// Depth steps per pass over a tile: the right operand's 3 × 128 lines (24 KiB) stay in L1
/// while the tile's left groups stream past them.
const DEPTH_BLOCK: usize = 128;
/// Right groups per kernel call (24 columns of C).
const RIGHT_GROUPS: usize = 3;

/// The upper triangle (diagonal included) of C ← α A Aᵀ for A in panels. Of the strictly lower
/// triangle of the n × n matrix `c`, only the entries of kernel blocks that straddle the
/// diagonal are written (with their values); the rest is left as it was.
/// C_ij = α Σ_t A_it A_jt, summed in depth blocks of 128 steps (each block's sum added to the
/// running one, α applied after the last). 96 × 96 tiles on and above the diagonal, one task
/// each.
pub fn gram_upper_panels(c: &mut Matrix, a: &Panels, alpha: f64) {
    let n = a.rows;
    assert_eq!((c.rows, c.cols), (n, n), "gram_upper_panels: output shape");
    let tiles = n.div_ceil(TILE);
    let pairs: Vec<(usize, usize)> = (0..tiles)
        .flat_map(|bi| (bi..tiles).map(move |bj| (bi, bj)))
        .collect();
    products(c, (a, a), &pairs, true, alpha);
}

/// C ← α A Bᵀ for A (n₁ × k) and B (n₂ × k) in panels, C n₁ × n₂.
pub fn gemm_panels(c: &mut Matrix, a: &Panels, b: &Panels, alpha: f64) {
    assert_eq!(a.depth, b.depth, "gemm_panels: inner dimensions differ");
    assert_eq!(
        (c.rows, c.cols),
        (a.rows, b.rows),
        "gemm_panels: output shape"
    );
    let (ti, tj) = (a.rows.div_ceil(TILE), b.rows.div_ceil(TILE));
    let pairs: Vec<(usize, usize)> = (0..ti)
        .flat_map(|bi| (0..tj).map(move |bj| (bi, bj)))
        .collect();
    products(c, (a, b), &pairs, false, alpha);
}

/// The block rows × cols of C = α A Bᵀ (both ranges starting at a multiple of 8) into `c`
/// (rows.len() × cols.len(), row-major) on the calling thread: a block formed in a thread's
/// cache, as the two-layer features take H = X Wᵀ a block of samples at a time and the
/// analytic kernels their input Gram a tile at a time.
pub fn gemm_panels_block(
    c: &mut [f64],
    (a, rows): (&Panels, Range<usize>),
    (b, cols): (&Panels, Range<usize>),
    alpha: f64,
) {
    assert_eq!(
        a.depth, b.depth,
        "gemm_panels_block: inner dimensions differ"
    );
    assert!(
        rows.end <= a.rows && cols.end <= b.rows,
        "gemm_panels_block: ranges"
    );
    let width = cols.len();
    assert_eq!(
        c.len(),
        rows.len() * width,
        "gemm_panels_block: output shape"
    );
    // SAFETY: `c` holds the block with row stride `width`, and is exclusively borrowed.
    unsafe { tile(c.as_mut_ptr(), width, (a, rows), (b, cols), false, alpha) }
}

/// C[rows, cols] ← α A[rows] B[cols]ᵀ, entry (i, j) at `c` + (i − rows.start)·ldc +
/// (j − cols.start), in depth blocks of [`DEPTH_BLOCK`] steps, each a pass of 8 × 24 kernel
/// blocks (right triples outer, so that their lines stay in L1 while the left groups stream
/// past); with `upper`, kernel blocks wholly below the diagonal are skipped.
///
/// # Safety
/// `c` must be valid for reads and writes of the block's entries, which no other thread
/// accesses; the ranges must lie inside A's and B's rows and start at multiples of 8.
unsafe fn tile(
    c: *mut f64,
    ldc: usize,
    (a, rows): (&Panels, Range<usize>),
    (b, cols): (&Panels, Range<usize>),
    upper: bool,
    alpha: f64,
) {
    assert!(rows.start.is_multiple_of(LANES) && cols.start.is_multiple_of(LANES));
    let (depth, stride) = (a.depth, Panels::stride_for(a.depth));
    if depth == 0 {
        for i in 0..rows.len() {
            for j in 0..cols.len() {
                // SAFETY: inside the block (the caller's contract).
                unsafe { *c.add(i * ldc + j) = 0.0 };
            }
        }
        return;
    }
    let (left, right) = (a.lines(), b.lines());
    for t0 in (0..depth).step_by(DEPTH_BLOCK) {
        let steps = DEPTH_BLOCK.min(depth - t0);
        let last = t0 + steps == depth;
        for jp in cols.clone().step_by(RIGHT_GROUPS * LANES) {
            let width = (RIGHT_GROUPS * LANES).min(cols.end - jp);
            for ip in rows.clone().step_by(LANES) {
                if upper && jp + width <= ip {
                    continue;
                }
                let block = Block {
                    rows: LANES.min(rows.end - ip),
                    cols: width,
                    steps,
                    left: &left[ip / LANES * stride + t0..],
                    right: &right[jp / LANES * stride + t0..],
                    right_stride: stride,
                    first: t0 == 0,
                    scale: if last { alpha } else { 1.0 },
                };
                // SAFETY: the entries of rows ip.., columns jp.. lie inside the block (the
                // caller's contract); the panels hold every line the kernel reads (`left` from
                // group ip/8, `right` from the ⌈width/8⌉ groups from jp/8 on, `steps` each).
                unsafe { block.run(c.add((ip - rows.start) * ldc + (jp - cols.start)), ldc) };
            }
        }
    }
}

/// The tiles `pairs` of C ← α A Bᵀ, one task each; with `upper`, kernel blocks wholly below the
/// diagonal are skipped.
fn products(
    c: &mut Matrix,
    (a, b): (&Panels, &Panels),
    pairs: &[(usize, usize)],
    upper: bool,
    alpha: f64,
) {
    let (n1, n2) = (a.rows, b.rows);
    let out = SharedPtr::new(c.data.as_mut_ptr());
    let run = |&(bi, bj): &(usize, usize)| {
        let (i0, i1) = (bi * TILE, ((bi + 1) * TILE).min(n1));
        let (j0, j1) = (bj * TILE, ((bj + 1) * TILE).min(n2));
        // SAFETY: tile (bi, bj) of the output, which no other task writes.
        unsafe {
            tile(
                out.at(i0 * n2 + j0),
                n2,
                (a, i0..i1),
                (b, j0..j1),
                upper,
                alpha,
            )
        };
    };
    let depth = a.depth;
    if depth * n1 * n2 < super::PARALLEL_WORK {
        pairs.iter().for_each(run);
    } else {
        pairs.par_iter().for_each(run);
    }
}

/// One kernel call: C[0..rows, 0..cols] ← (C + Σ_{t < steps} left_t ⊗ right_t) · scale (C read
/// as 0 when `first`), with left_t[r] = `left[t]`[r] and right_t[8q + l] = `right[q·stride + t]`[l].
struct Block<'a> {
    rows: usize,
    cols: usize,
    steps: usize,
    left: &'a [Line],
    right: &'a [Line],
    right_stride: usize,
    first: bool,
    scale: f64,
}

impl Block<'_> {
    /// Runs the block on the widest vector unit the CPU has (AVX-512F: the 8 × 24 block in 24
    /// registers; AVX2 + FMA: two halves of at most 4 rows), in plain code elsewhere. Every
    /// path forms the same fused multiply-adds in the same order ([`block_lines`]), so the
    /// results agree bit for bit.
    ///
    /// # Safety
    /// `c` must be valid for reads and writes of rows 0..`rows` (row stride `ldc`), columns
    /// 0..`cols`, which no other thread accesses; `left` must hold `steps` lines and `right`
    /// `(⌈cols/8⌉ − 1)·right_stride + steps` lines.
    unsafe fn run(&self, c: *mut f64, ldc: usize) {
        assert!(self.rows <= LANES && self.cols <= RIGHT_GROUPS * LANES && self.cols > 0);
        let groups = self.cols.div_ceil(LANES);
        assert!(self.left.len() >= self.steps);
        assert!(self.right.len() >= (groups - 1) * self.right_stride + self.steps);
        /// `block_lines::<R, G>` for the block's row count R (from `lane0`) and group count G.
        macro_rules! by_shape {
            ($kernel:ident, $rows:expr, $lane0:expr, $c:expr) => {
                match ($rows, groups) {
                    (8, 3) => $kernel::<8, 3>(self, $lane0, $c, ldc),
                    (4, 3) => $kernel::<4, 3>(self, $lane0, $c, ldc),
                    (r, 3) => by_shape!(@rows $kernel, r, 3, $lane0, $c),
                    (r, 2) => by_shape!(@rows $kernel, r, 2, $lane0, $c),
                    (r, _) => by_shape!(@rows $kernel, r, 1, $lane0, $c),
                }
            };
            (@rows $kernel:ident, $r:expr, $g:literal, $lane0:expr, $c:expr) => {
                match $r {
                    1 => $kernel::<1, $g>(self, $lane0, $c, ldc),
                    2 => $kernel::<2, $g>(self, $lane0, $c, ldc),
                    3 => $kernel::<3, $g>(self, $lane0, $c, ldc),
                    4 => $kernel::<4, $g>(self, $lane0, $c, ldc),
                    5 => $kernel::<5, $g>(self, $lane0, $c, ldc),
                    6 => $kernel::<6, $g>(self, $lane0, $c, ldc),
                    7 => $kernel::<7, $g>(self, $lane0, $c, ldc),
                    _ => $kernel::<8, $g>(self, $lane0, $c, ldc),
                }
            };
        }
        // SAFETY (all three): the caller's contract, checked in part above; each tier runs only
        // where its features were detected.
        #[cfg(target_arch = "x86_64")]
        {
            use vector::{avx2, avx512};
            if super::tier_allowed(0) && std::arch::is_x86_feature_detected!("avx512f") {
                // SAFETY: the caller's contract; AVX-512F was detected.
                unsafe { by_shape!(avx512, self.rows, 0, c) };
                return;
            }
            if super::tier_allowed(1)
                && std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                // 16 vector registers: at most 4 rows × 3 groups × 2 halves at a time.
                for lane0 in (0..self.rows).step_by(4) {
                    let rows = 4.min(self.rows - lane0);
                    // SAFETY: rows lane0.. of the block.
                    let c = unsafe { c.add(lane0 * ldc) };
                    // SAFETY: the caller's contract for these rows; AVX2 and FMA were detected.
                    unsafe { by_shape!(avx2, rows, lane0, c) };
                }
                return;
            }
        }
        // SAFETY: the caller's contract; the portable kernel needs no CPU feature.
        unsafe { by_shape!(block_lines, self.rows, 0, c) };
    }
}

/// The kernel in plain code: rows lane0..lane0 + R of the block (left lanes lane0.., output
/// rows from `c`) and its G right groups, C ← (C + Σ_t left_t[lane0 + r] · right_t) · scale,
/// each sum formed by `mul_add` in a fixed order (t ascending) — the order and the fused
/// roundings of the vector kernels in [`vector`], which keep the R·G accumulator lines in
/// registers (LLVM does not find that form on its own: it vectorises across rows, with
/// gathers).
///
/// # Safety
/// As [`Block::run`] for those rows; R + lane0 ≤ 8, G = ⌈cols/8⌉.
#[inline(always)]
unsafe fn block_lines<const R: usize, const G: usize>(
    b: &Block<'_>,
    lane0: usize,
    c: *mut f64,
    ldc: usize,
) {
    let mut acc = [[[0.0f64; LANES]; G]; R];
    let (left, right) = (b.left.as_ptr(), b.right.as_ptr());
    for t in 0..b.steps {
        // SAFETY: t < steps; the caller's contract on the lines held.
        let (l, rv) = unsafe {
            let rv: [[f64; LANES]; G] =
                std::array::from_fn(|g| (*right.add(g * b.right_stride + t)).0);
            ((*left.add(t)).0, rv)
        };
        for (r, acc_r) in acc.iter_mut().enumerate() {
            let lr = l[lane0 + r];
            for (acc_g, rg) in acc_r.iter_mut().zip(&rv) {
                for (a, &x) in acc_g.iter_mut().zip(rg) {
                    *a = lr.mul_add(x, *a);
                }
            }
        }
    }
    let tail = b.cols - (G - 1) * LANES;
    for (r, acc_r) in acc.iter().enumerate() {
        for (g, acc_g) in acc_r.iter().enumerate() {
            // SAFETY: row r, columns 8g.. of the block (the caller's contract).
            let dst = unsafe { c.add(r * ldc + g * LANES) };
            if g + 1 < G || tail == LANES {
                // SAFETY: a whole line of the block.
                let line = unsafe { &mut *dst.cast::<[f64; LANES]>() };
                for (d, &a) in line.iter_mut().zip(acc_g) {
                    *d = if b.first { a } else { *d + a } * b.scale;
                }
            } else {
                for (k, &a) in acc_g.iter().enumerate().take(tail) {
                    // SAFETY: column 8g + k < cols.
                    let d = unsafe { &mut *dst.add(k) };
                    *d = if b.first { a } else { *d + a } * b.scale;
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod vector {
    use super::{Block, LANES};
    use std::arch::x86_64::*;

    /// [`super::block_lines`] on AVX-512F: R × G accumulators of one register each; per step
    /// G right lines loaded, and each left lane broadcast against them.
    ///
    /// # Safety
    /// As [`super::block_lines`]; the CPU must support AVX-512F.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn avx512<const R: usize, const G: usize>(
        b: &Block<'_>,
        lane0: usize,
        c: *mut f64,
        ldc: usize,
    ) {
        let tail = b.cols - (G - 1) * LANES;
        let mask: __mmask8 = if tail >= LANES {
            0xFF
        } else {
            (1u8 << tail) - 1
        };
        let mut acc = [[_mm512_setzero_pd(); G]; R];
        let (left, right) = (b.left.as_ptr(), b.right.as_ptr());
        // SAFETY: the caller's contract: `steps` lines of `left`, and of each right group.
        unsafe {
            for t in 0..b.steps {
                // The left group streams from L2 (the right lines stay in L1): ask for its line
                // 8 steps ahead (+10 % on a 1000 × 4096 Gram; a hint, never a fault).
                _mm_prefetch::<_MM_HINT_T0>(left.wrapping_add(t + 8).cast::<i8>());
                let l = left.add(t).cast::<f64>().add(lane0);
                let rv: [__m512d; G] = std::array::from_fn(|g| {
                    _mm512_load_pd(right.add(g * b.right_stride + t).cast::<f64>())
                });
                for (r, acc_r) in acc.iter_mut().enumerate() {
                    let lr = _mm512_set1_pd(*l.add(r));
                    for (a, &x) in acc_r.iter_mut().zip(&rv) {
                        *a = _mm512_fmadd_pd(lr, x, *a);
                    }
                }
            }
            let scale = _mm512_set1_pd(b.scale);
            for (r, acc_r) in acc.iter().enumerate() {
                for (g, &v) in acc_r.iter().enumerate() {
                    let m = if g + 1 == G { mask } else { 0xFF };
                    let p = c.add(r * ldc + g * LANES);
                    let sum = if b.first {
                        v
                    } else {
                        _mm512_add_pd(_mm512_maskz_loadu_pd(m, p), v)
                    };
                    _mm512_mask_storeu_pd(p, m, _mm512_mul_pd(sum, scale));
                }
            }
        }
    }

    /// [`super::block_lines`] on AVX2 + FMA: each line as two 4-lane halves (R ≤ 4 keeps the
    /// R × G × 2 accumulators in 16 registers with room for the right lines).
    ///
    /// # Safety
    /// As [`super::block_lines`]; the CPU must support AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn avx2<const R: usize, const G: usize>(
        b: &Block<'_>,
        lane0: usize,
        c: *mut f64,
        ldc: usize,
    ) {
        let mut acc = [[[_mm256_setzero_pd(); 2]; G]; R];
        let (left, right) = (b.left.as_ptr(), b.right.as_ptr());
        // SAFETY: the caller's contract, as in `avx512`.
        unsafe {
            for t in 0..b.steps {
                _mm_prefetch::<_MM_HINT_T0>(left.wrapping_add(t + 8).cast::<i8>());
                let l = left.add(t).cast::<f64>().add(lane0);
                let rv: [[__m256d; 2]; G] = std::array::from_fn(|g| {
                    let p = right.add(g * b.right_stride + t).cast::<f64>();
                    [_mm256_load_pd(p), _mm256_load_pd(p.add(4))]
                });
                for (r, acc_r) in acc.iter_mut().enumerate() {
                    let lr = _mm256_set1_pd(*l.add(r));
                    for (a, x) in acc_r.iter_mut().zip(&rv) {
                        a[0] = _mm256_fmadd_pd(lr, x[0], a[0]);
                        a[1] = _mm256_fmadd_pd(lr, x[1], a[1]);
                    }
                }
            }
            let tail = b.cols - (G - 1) * LANES;
            for (r, acc_r) in acc.iter().enumerate() {
                for (g, halves) in acc_r.iter().enumerate() {
                    let mut line = [0.0f64; LANES];
                    _mm256_storeu_pd(line.as_mut_ptr(), halves[0]);
                    _mm256_storeu_pd(line.as_mut_ptr().add(4), halves[1]);
                    let width = if g + 1 == G { tail } else { LANES };
                    for (k, &a) in line.iter().enumerate().take(width) {
                        let d = &mut *c.add(r * ldc + g * LANES + k);
                        *d = if b.first { a } else { *d + a } * b.scale;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Seed;

    fn random(rows: usize, cols: usize, seed: u64) -> Matrix {
        let mut rng = Seed(seed).stream("panels", 0);
        Matrix::from_fn(rows, cols, |_, _| rng.normal())
    }

    /// Σ_t a_it b_jt in plain f64, row by row.
    fn naive(a: &Matrix, b: &Matrix, i: usize, j: usize) -> f64 {
        a.row(i).iter().zip(b.row(j)).map(|(x, y)| x * y).sum()
    }

    #[test]
    fn panels_hold_the_matrix_in_groups_of_eight_rows() {
        let a = random(13, 5, 1);
        let p = Panels::from_matrix(&a);
        assert_eq!(p.lines().len(), 2 * Panels::stride_for(5));
        for i in 0..13 {
            for t in 0..5 {
                assert_eq!(p.get(i, t), a.get(i, t));
            }
        }
        // The padding rows of the last group are zero.
        for t in 0..5 {
            assert_eq!(&p.lines()[Panels::stride_for(5) + t].0[5..], &[0.0; 3]);
        }
    }

    #[test]
    fn panels_of_a_strided_view_hold_its_rows() {
        // Rows 3..14, columns 2..9 of a 20 × 11 matrix (row stride 11); a transposed view has
        // no contiguous rows.
        let a = random(20, 11, 7);
        let view = a.view().subrows(3, 11).subcols(2, 7);
        let p = Panels::from_view(view).expect("contiguous rows");
        assert_eq!((p.rows(), p.depth()), (11, 7));
        for i in 0..11 {
            for t in 0..7 {
                assert_eq!(p.get(i, t), a.get(3 + i, 2 + t));
            }
        }
        assert!(Panels::from_view(a.view().transpose()).is_none());
        // Empty shapes give empty panels of that shape.
        for (rows, depth) in [(4, 0), (0, 5)] {
            let p = Panels::from_rows(&[], rows, depth);
            assert_eq!((p.rows(), p.depth(), p.lines().len()), (rows, depth, 0));
        }
    }

    #[test]
    fn products_match_their_definition() {
        // Sizes around the kernel's 8 × 24 blocks, the 96-wide tiles and the 128-step depth
        // blocks; scaled by α.
        for &(n1, n2, k) in &[
            (1, 1, 1),
            (7, 9, 3),
            (25, 23, 129),
            (100, 97, 300),
            (200, 31, 17),
        ] {
            let a = random(n1, k, 2);
            let b = random(n2, k, 3);
            let (pa, pb) = (Panels::from_matrix(&a), Panels::from_matrix(&b));
            let mut c = Matrix::zeros(n1, n2);
            gemm_panels(&mut c, &pa, &pb, 0.5);
            for i in 0..n1 {
                for j in 0..n2 {
                    let want = 0.5 * naive(&a, &b, i, j);
                    let err = (c.get(i, j) - want).abs();
                    assert!(
                        err <= 1e-13 * (k as f64).sqrt() * 4.0,
                        "{n1}×{n2}×{k} ({i}, {j}): {err}"
                    );
                }
            }
            let mut g = Matrix::from_fn(n1, n1, |_, _| f64::NAN);
            gram_upper_panels(&mut g, &pa, 2.0);
            for i in 0..n1 {
                for j in i..n1 {
                    let want = 2.0 * naive(&a, &a, i, j);
                    let err = (g.get(i, j) - want).abs();
                    assert!(
                        err <= 1e-13 * (k as f64).sqrt() * 8.0,
                        "gram {n1}×{k} ({i}, {j}): {err}"
                    );
                }
            }
            // Below the diagonal, outside the blocks that straddle it, nothing is written.
            if n1 > 24 {
                assert!(g.get(n1 - 1, 0).is_nan());
            }
        }
    }

    #[test]
    fn products_do_not_depend_on_the_thread_count() {
        let a = random(300, 500, 4);
        let p = Panels::from_matrix(&a);
        let run = |threads: usize| {
            let mut c = Matrix::zeros(300, 300);
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .expect("pool")
                .install(|| gram_upper_panels(&mut c, &p, 1.0));
            c
        };
        let one = run(1);
        let three = run(3);
        assert!(one
            .data
            .iter()
            .zip(&three.data)
            .all(|(x, y)| x.to_bits() == y.to_bits()));
    }

    #[test]
    fn the_vector_kernel_rounds_as_the_portable_one() {
        // Every row count and column count of a block, two depth blocks (the second adds to
        // the first and scales), on AVX-512, AVX2 + FMA (halves of 4 rows) and plain code, each
        // where the CPU has it: the same bits.
        let a = random(8, 200, 5);
        let b = random(24, 200, 6);
        let (pa, pb) = (Panels::from_matrix(&a), Panels::from_matrix(&b));
        for rows in 1..=8 {
            for cols in 1..=24 {
                super::super::same_on_every_tier(|| {
                    let mut out = vec![0.0; 8 * 24];
                    for (t0, steps) in [(0, 128), (128, 72)] {
                        let block = Block {
                            rows,
                            cols,
                            steps,
                            left: &pa.lines()[t0..],
                            right: &pb.lines()[t0..],
                            right_stride: 200,
                            first: t0 == 0,
                            scale: if t0 == 128 { 0.25 } else { 1.0 },
                        };
                        // SAFETY: 8 × 24 outputs with row stride 24; the panels hold the lines.
                        unsafe { block.run(out.as_mut_ptr(), 24) };
                    }
                    out
                });
            }
        }
    }
}
