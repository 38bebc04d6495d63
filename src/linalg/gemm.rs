//! Products over faer: GEMM (deterministic: the output is split among threads, never the inner
//! dimension), Gram matrices and A Bᵀ (tiled, or through [`super::panels`] for long rows), and the
//! symmetric fill of a triangle.

use super::*;

/// A row-major `rows × cols` view of a slice, as faer sees it.
pub fn view(data: &[f64], rows: usize, cols: usize) -> MatRef<'_, f64> {
    MatRef::from_row_major_slice(data, rows, cols)
}

/// A `rows × cols` view of a slice whose rows start `row_stride` values apart (e.g. every k-th
/// row of a row-major matrix).
pub fn strided_view(data: &[f64], rows: usize, cols: usize, row_stride: usize) -> MatRef<'_, f64> {
    MatRef::from_row_major_slice_with_stride(data, rows, cols, row_stride)
}

/// Products with at least this many multiply-adds run on the rayon pool.
pub(crate) const PARALLEL_WORK: usize = 1 << 21;

/// C ← β C + α A B for a row-major matrix C (see [`gemm_slice`]).
pub fn gemm(c: &mut Matrix, beta: f64, a: MatRef<'_, f64>, b: MatRef<'_, f64>, alpha: f64) {
    assert_eq!(
        (c.rows, c.cols),
        (a.nrows(), b.ncols()),
        "gemm: output shape"
    );
    gemm_slice(&mut c.data, beta, a, b, alpha, Threads::Pool);
}

/// Where a product may run: on the rayon pool, or on the calling thread only (for products
/// inside an outer parallel loop).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Threads {
    /// Large products run on the rayon pool.
    Pool,
    /// The calling thread only.
    Caller,
}

/// C ← β C + α A B, with C a row-major `m × n` slice (m rows of A, n columns of B) and A, B any
/// faer views (use `.transpose()` for Aᵀ). `beta` must be 0 or 1 (Replace / Add).
///
/// With [`Threads::Pool`], large products run on faer's rayon-parallel kernel, which
/// partitions the output and never the inner dimension, so every entry is the same sequence of
/// operations whatever the thread count (`tests::gemm_is_bit_identical_across_thread_counts`
/// holds us to it).
pub fn gemm_slice(
    c: &mut [f64],
    beta: f64,
    av: MatRef<'_, f64>,
    bv: MatRef<'_, f64>,
    alpha: f64,
    threads: Threads,
) {
    let (m, k, n) = (av.nrows(), av.ncols(), bv.ncols());
    assert_eq!(bv.nrows(), k, "gemm: inner dimensions differ");
    assert_eq!(c.len(), m * n, "gemm: output length");
    assert!(beta == 0.0 || beta == 1.0, "gemm: beta must be 0 or 1");
    let accum = if beta == 0.0 {
        Accum::Replace
    } else {
        Accum::Add
    };
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if beta == 0.0 {
            c.fill(0.0);
        }
        return;
    }
    let parallel =
        threads == Threads::Pool && m * n * k >= PARALLEL_WORK && rayon::current_num_threads() > 1;
    if parallel && (m == 1 || n == 1) {
        matrix_vector_chunks(c, accum, av, bv, alpha);
        clear_upper_vector_state();
        return;
    }
    let dst = faer::MatMut::from_row_major_slice_mut(c, m, n);
    if parallel {
        matmul(dst, accum, av, bv, alpha, Par::rayon(0));
        rayon::broadcast(|_| clear_upper_vector_state());
    } else {
        matmul(dst, accum, av, bv, alpha, Par::Seq);
    }
    clear_upper_vector_state();
}

/// Output entries per task of a parallel matrix–vector product: a constant, so the split — and
/// with it every entry's sequence of operations — does not depend on the thread count.
const VECTOR_CHUNK: usize = 256;

/// A matrix–vector product (C is one column, m × 1, or one row, 1 × n) in parallel over fixed
/// chunks of the output, each on faer's sequential kernel. faer's own parallel kernel splits the
/// inner dimension of a matrix–vector product when the matrix is column-major, which changes
/// the summation order with the thread count.
fn matrix_vector_chunks(
    c: &mut [f64],
    accum: Accum,
    av: MatRef<'_, f64>,
    bv: MatRef<'_, f64>,
    alpha: f64,
) {
    let (m, n) = (av.nrows(), bv.ncols());
    c.par_chunks_mut(VECTOR_CHUNK)
        .enumerate()
        .for_each(|(chunk, out)| {
            let start = chunk * VECTOR_CHUNK;
            let len = out.len();
            if n == 1 {
                let dst = faer::MatMut::from_row_major_slice_mut(out, len, 1);
                matmul(dst, accum, av.subrows(start, len), bv, alpha, Par::Seq);
            } else {
                debug_assert_eq!(m, 1);
                let dst = faer::MatMut::from_row_major_slice_mut(out, 1, len);
                matmul(dst, accum, av, bv.subcols(start, len), alpha, Par::Seq);
            }
            clear_upper_vector_state();
        });
}

/// Copies the upper triangle of a square matrix onto its lower triangle, in place, in parallel
/// over row blocks of cache-sized tiles (each entry is a copy: thread-count independent).
pub fn fill_lower_from_upper(m: &mut Matrix) {
    assert_eq!(m.rows, m.cols, "fill_lower_from_upper: not square");
    fill_lower_from_upper_leading(&mut m.data, m.rows, m.cols);
}

/// [`fill_lower_from_upper`] on the leading `n × n` square of a row-major matrix with `stride`
/// columns (n ≤ stride); the columns beyond n are left alone.
pub fn fill_lower_from_upper_leading(data: &mut [f64], n: usize, stride: usize) {
    const TILE: usize = 64;
    assert!(
        n <= stride && data.len() >= n * stride,
        "fill_lower_from_upper_leading: shape"
    );
    let ptr = SharedPtr::new(data.as_mut_ptr());
    (0..n.div_ceil(TILE)).into_par_iter().for_each(|bi| {
        let i0 = bi * TILE;
        let i1 = (i0 + TILE).min(n);
        for j0 in (0..i1).step_by(TILE) {
            for i in i0..i1 {
                for j in j0..(j0 + TILE).min(i) {
                    // SAFETY: tasks write only entries (i, j) with j < i of their own rows and
                    // read only entries (j, i) with j < i, which lie in the upper triangle that
                    // no task writes; all indices are below n · stride ≤ data.len().
                    unsafe { *ptr.at(i * stride + j) = *ptr.at(j * stride + i) };
                }
            }
        }
    });
}

/// A raw pointer into a buffer handed to the tasks of one parallel pass, which each write
/// entries no other task touches (or only read). Reach entries through [`SharedPtr::at`]: a
/// method call makes a closure capture the whole `SharedPtr`, where a field access would capture
/// the bare pointer, which is neither `Send` nor `Sync`.
#[derive(Clone, Copy)]
pub(crate) struct SharedPtr(*mut f64);
// SAFETY: the passes that create one keep their tasks' accesses disjoint (or read-only), and the
// buffer outlives the pass (see each use).
unsafe impl Send for SharedPtr {}
// SAFETY: as for `Send`: shared use never makes two tasks write one entry.
unsafe impl Sync for SharedPtr {}

impl SharedPtr {
    /// A pointer to a buffer written by the pass's tasks.
    pub(crate) fn new(ptr: *mut f64) -> SharedPtr {
        SharedPtr(ptr)
    }

    /// A pointer to a buffer the pass's tasks only read (never written through [`Self::at`]).
    pub(crate) fn reading(ptr: *const f64) -> SharedPtr {
        SharedPtr(ptr.cast_mut())
    }

    /// Entry `k` from the start (address arithmetic only; the caller's access must be valid).
    pub(crate) fn at(&self, k: usize) -> *mut f64 {
        self.0.wrapping_add(k)
    }
}

/// Rows at least this long go through [`panels`] in [`gram`] and [`gemm_nt`] (measured here on
/// 1000 rows, the layout pass included: the Gram 7–11 % faster than faer at 512, 1024 and 4096
/// columns, level at 256, slower at 100; A Bᵀ with 800 rows in B 14–20 % faster from 512 on).
pub(crate) const PANEL_MIN_DEPTH: usize = 512;

/// C ← α A Aᵀ (n × n, exactly symmetric): only the upper triangle is multiplied, then mirrored.
/// Rows of ≥ 512 contiguous values are first written as [`Panels`] (a pass over A, 1/n of the
/// product's work) and multiplied by the panel kernel; shorter ones by faer's triangular GEMM.
pub fn gram(c: &mut Matrix, a: MatRef<'_, f64>, alpha: f64) {
    let n = a.nrows();
    c.resize(n, n);
    match long_rows(a) {
        Some(p) => gram_upper_panels(c, &p, alpha),
        None => gram_upper(c, a, alpha),
    }
    fill_lower_from_upper(c);
}

/// C ← α A Bᵀ (A n₁ × k, B n₂ × k; C resized to n₁ × n₂), the cross product of [`gram`]: through
/// [`Panels`] when both have rows of ≥ 512 contiguous values, by faer's GEMM otherwise.
pub fn gemm_nt(c: &mut Matrix, a: MatRef<'_, f64>, b: MatRef<'_, f64>, alpha: f64) {
    assert_eq!(a.ncols(), b.ncols(), "gemm_nt: inner dimensions differ");
    c.resize(a.nrows(), b.nrows());
    match long_rows(a).zip(long_rows(b)) {
        Some((pa, pb)) => gemm_panels(c, &pa, &pb, alpha),
        None => gemm(c, 0.0, a, b.transpose(), alpha),
    }
}

/// The panels of `a` when its rows are long enough for the panel kernel to beat faer's
/// ([`PANEL_MIN_DEPTH`]) and contiguous; `None` otherwise.
pub(crate) fn long_rows(a: MatRef<'_, f64>) -> Option<Panels> {
    (a.ncols() >= PANEL_MIN_DEPTH)
        .then(|| Panels::from_view(a))
        .flatten()
}

/// Tile edge of the parallel [`gram_upper`].
pub(crate) const GRAM_TILE: usize = 128;

/// The upper triangle (diagonal included) of C ← α A Aᵀ; the strictly lower triangle of the
/// n × n matrix `c` is left untouched. Large products run as fixed 128 × 128 tiles on and above
/// the diagonal, one task per tile on the rayon pool, each a single-threaded faer product
/// (triangular on the diagonal tiles): two cores reach more this way than with faer's own
/// parallel split, and each entry is the same sequence of operations whatever the thread count.
pub fn gram_upper(c: &mut Matrix, a: MatRef<'_, f64>, alpha: f64) {
    use faer::linalg::matmul::triangular::{matmul as tri_matmul, BlockStructure};
    use rayon::prelude::*;
    let n = a.nrows();
    assert_eq!((c.rows, c.cols), (n, n), "gram_upper: output shape");
    // C_block ← α A_I A_Jᵀ, upper triangle only when `diagonal`, for a block at `ptr`.
    let block = |ptr: *mut f64, i0: usize, rows: usize, j0: usize, cols: usize, diagonal: bool| {
        // SAFETY: every caller passes a block of `c` that no other task touches.
        let dst = unsafe { faer::MatMut::from_raw_parts_mut(ptr, rows, cols, n as isize, 1) };
        let structure = if diagonal {
            BlockStructure::TriangularUpper
        } else {
            BlockStructure::Rectangular
        };
        tri_matmul(
            dst,
            structure,
            Accum::Replace,
            a.subrows(i0, rows),
            BlockStructure::Rectangular,
            a.subrows(j0, cols).transpose(),
            BlockStructure::Rectangular,
            alpha,
            Par::Seq,
        );
        clear_upper_vector_state();
    };
    let work = n * n * a.ncols() / 2;
    // (Not on the thread count: one thread runs the same tiles in turn.)
    if work < PARALLEL_WORK || n <= GRAM_TILE {
        block(c.data.as_mut_ptr(), 0, n, 0, n, true);
        return;
    }
    let tiles = n.div_ceil(GRAM_TILE);
    let pairs: Vec<(usize, usize)> = (0..tiles)
        .flat_map(|bi| (bi..tiles).map(move |bj| (bi, bj)))
        .collect();
    let base = SharedPtr::new(c.data.as_mut_ptr());
    pairs.par_iter().for_each(|&(bi, bj)| {
        let (i0, j0) = (bi * GRAM_TILE, bj * GRAM_TILE);
        let rows = GRAM_TILE.min(n - i0);
        let cols = GRAM_TILE.min(n - j0);
        // Tile (bi, bj) lies inside `c`; tiles are disjoint.
        block(base.at(i0 * n + j0), i0, rows, j0, cols, bi == bj);
    });
}
