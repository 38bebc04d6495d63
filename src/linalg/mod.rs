//! Thin glue over faer: a row-major [`Matrix`], deterministic parallel GEMM, symmetric
//! eigendecomposition, Cholesky solves and log-sum-exp; and, in [`panels`], the one product
//! faer is not used for: Gram matrices of long rows (≥ 512 values, in [`gram`] and the
//! two-layer empirical NTK) from a layout written once (faer repacks both operands of every
//! tile, a transpose of every row there).
//!
//! All faer calls of the crate live here (faer breaks its API at most 0.x minors).
//!
//! **Determinism.** faer's parallel GEMM splits the output among threads, never the inner
//! dimension, so each entry of a product is the same sequence of floating-point operations
//! whatever the number of threads; the tests below hold it to that.

pub mod lanczos;
pub mod panels;
mod transpose;

pub use lanczos::{lanczos_apply, tridiagonal, Lanczos, LanczosOutput};
pub use panels::{gemm_panels, gemm_panels_block, gram_upper_panels, Panels};
pub(crate) use transpose::transpose_group;

use crate::error::{Error, Result};
use faer::linalg::matmul::matmul;
use faer::linalg::solvers::Solve;
use faer::{Accum, MatRef, Par};
use rayon::prelude::*;

/// Defines `fn $name(args) -> ret` that runs `$generic` — an `#[inline(always)]` function
/// written for any vector width — compiled for AVX-512F or AVX2 + FMA when the CPU has them
/// (checked at run time, not a global `target-cpu`), and as plain code otherwise. Every path
/// rounds identically: Rust never contracts a·b + c into a fused multiply-add, and an explicit
/// `mul_add` is correctly rounded on every path (an FMA instruction on both vector tiers).
///
/// A trailing `tiers { tier: "features" if "detected", …; … }` replaces those two tiers with
/// others, tried in order: each compiles `$generic` with its `target_feature` list and runs it
/// when every named feature is detected (e.g. a popcount tier).
///
/// Unit tests hold the tiers to each other with [`same_on_every_tier`], which runs a closure
/// with the first 2, 1 and 0 tiers switched off on the calling thread.
macro_rules! simd_dispatch {
    ($(#[$meta:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? = $generic:path;) => {
        $crate::linalg::simd_dispatch! {
            $(#[$meta])* $vis fn $name($($arg: $ty),*) $(-> $ret)? = $generic;
            tiers {
                wide: "avx512f" if "avx512f";
                narrow: "avx2,fma" if "avx2", "fma";
            }
        }
    };
    ($(#[$meta:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? = $generic:path;
     tiers { $($tier:ident: $features:literal if $($detect:tt),+;)+ }) => {
        $(#[$meta])*
        #[allow(clippy::too_many_arguments)]
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            {
                $crate::linalg::simd_dispatch!(@tiers 0usize; [$($arg: $ty),*] [$($ret)?] $generic;
                    $($tier: $features if $($detect),+;)+);
            }
            $generic($($arg),*)
        }
    };
    // One tier after another: the tier's compiled copy, and its run-time test.
    (@tiers $index:expr; [$($arg:ident: $ty:ty),*] [$($ret:ty)?] $generic:path;
     $tier:ident: $features:literal if $($detect:tt),+; $($rest:tt)*) => {
        /// # Safety
        /// The CPU must support the tier's features.
        #[target_feature(enable = $features)]
        #[allow(clippy::too_many_arguments)]
        unsafe fn $tier($($arg: $ty),*) $(-> $ret)? {
            $generic($($arg),*)
        }
        if $crate::linalg::tier_allowed($index)
            $(&& std::arch::is_x86_feature_detected!($detect))+
        {
            // SAFETY: the features were detected at run time.
            return unsafe { $tier($($arg),*) };
        }
        $crate::linalg::simd_dispatch!(@tiers $index + 1; [$($arg: $ty),*] [$($ret)?] $generic;
            $($rest)*);
    };
    (@tiers $index:expr; [$($arg:ident: $ty:ty),*] [$($ret:ty)?] $generic:path;) => {};
}
pub(crate) use simd_dispatch;

#[cfg(test)]
thread_local! {
    /// Tiers of [`simd_dispatch`] switched off on this thread (the first this many).
    static SKIPPED_TIERS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Whether [`simd_dispatch`] may run its tier number `index` (0 = the first): always, outside
/// unit tests. The hand-dispatched kernels (explicit intrinsics: the panel kernel, the group
/// transposes, the streaming stores, the sign-bit paths) ask it too, AVX-512 as tier 0 and
/// AVX2 + FMA as tier 1, so that [`same_on_every_tier`] reaches their portable code as well.
#[inline(always)]
pub(crate) fn tier_allowed(index: usize) -> bool {
    #[cfg(test)]
    {
        SKIPPED_TIERS.with(|s| index >= s.get())
    }
    #[cfg(not(test))]
    {
        let _ = index;
        true
    }
}

/// `f()` with the first 2, 1 and 0 tiers of every [`simd_dispatch`] function switched off on
/// the calling thread — with the default tiers: plain code, AVX2 + FMA and AVX-512F, each where
/// the CPU has it (a tier it lacks falls through to the next) — asserted bit for bit the same;
/// returns the plain code's values. For tests that hold the tiers to each other.
#[cfg(test)]
#[track_caller]
pub(crate) fn same_on_every_tier(f: impl Fn() -> Vec<f64>) -> Vec<f64> {
    let run = |skip: usize| {
        let before = SKIPPED_TIERS.with(|s| s.replace(skip));
        let values = f();
        SKIPPED_TIERS.with(|s| s.set(before));
        values
    };
    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    let plain = run(2);
    for skip in [1, 0] {
        let values = run(skip);
        assert!(
            bits(&values) == bits(&plain),
            "with the first {skip} tiers off: {values:?}, plain code: {plain:?}"
        );
    }
    plain
}

/// Runs `f` on a scratch buffer of `len` values that the calling thread keeps for its next
/// call (a tile's or a block's working rows in a parallel task, without an allocation per
/// task). The values are whatever the thread's previous use left: callers write before they
/// read. A nested call (from `f`, or a task that rayon runs while `f` waits) gets a buffer of
/// its own.
pub(crate) fn with_scratch<R>(len: usize, f: impl FnOnce(&mut [f64]) -> R) -> R {
    thread_local! {
        static SCRATCH: std::cell::Cell<Vec<f64>> = const { std::cell::Cell::new(Vec::new()) };
    }
    with_thread_buffer(&SCRATCH, len, 0.0, f)
}

/// [`with_scratch`] for any element type, with the caller's own thread-local buffer `key`
/// (grown with `fill` values when shorter than `len`).
pub(crate) fn with_thread_buffer<T: Clone, R>(
    key: &'static std::thread::LocalKey<std::cell::Cell<Vec<T>>>,
    len: usize,
    fill: T,
    f: impl FnOnce(&mut [T]) -> R,
) -> R {
    let mut buffer = key.take();
    if buffer.len() < len {
        buffer.resize(len, fill);
    }
    let out = f(&mut buffer[..len]);
    key.set(buffer);
    out
}

/// A dense row-major matrix of f64: entry (i, j) is `data[i * cols + j]`.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Matrix {
    /// Number of rows.
    pub rows: usize,
    /// Number of columns.
    pub cols: usize,
    /// Row-major entries, `rows * cols` of them.
    pub data: Vec<f64>,
}

impl Matrix {
    /// The `rows × cols` zero matrix. Large ones ask for transparent huge pages (see
    /// [`zeroed`]).
    pub fn zeros(rows: usize, cols: usize) -> Matrix {
        Matrix {
            rows,
            cols,
            data: zeroed(rows * cols),
        }
    }

    /// A `rows × cols` matrix whose entries `write` stores through the pointer it is given (to
    /// the row-major buffer), on memory not initialised first: no zeroing pass ahead of writes
    /// that cover every entry anyway (with an allocator that recycles freed memory, a pass
    /// that costs as much as a fast kernel's own work on a 4000 × 4000 output). Returns the
    /// matrix and what `write` returns. Large ones ask for transparent huge pages as
    /// [`zeroed`] does. Should `write` panic, the buffer is freed and nothing is read.
    ///
    /// # Safety
    /// `write` must store every one of the `rows × cols` entries (and nothing beyond them).
    pub(crate) unsafe fn written_in_place<R>(
        rows: usize,
        cols: usize,
        write: impl FnOnce(*mut f64) -> R,
    ) -> (Matrix, R) {
        let len = rows * cols;
        let mut data: Vec<f64> = Vec::with_capacity(len);
        advise_huge_pages(data.as_ptr(), len);
        let value = write(data.as_mut_ptr());
        // SAFETY: the capacity is `len` and, by the caller's contract, every entry is written.
        unsafe { data.set_len(len) };
        (Matrix { rows, cols, data }, value)
    }

    /// Wraps row-major data, checking its length.
    pub fn from_vec(rows: usize, cols: usize, data: Vec<f64>) -> Result<Matrix> {
        if data.len() != rows * cols {
            return Err(Error::shape(
                "Matrix::from_vec",
                format!("{} values for a {rows}×{cols} matrix", data.len()),
            ));
        }
        Ok(Matrix { rows, cols, data })
    }

    /// A matrix from a function of (row, column).
    pub fn from_fn(rows: usize, cols: usize, mut f: impl FnMut(usize, usize) -> f64) -> Matrix {
        let mut data = Vec::with_capacity(rows * cols);
        for i in 0..rows {
            for j in 0..cols {
                data.push(f(i, j));
            }
        }
        Matrix { rows, cols, data }
    }

    /// The n × n identity.
    pub fn identity(n: usize) -> Matrix {
        Matrix::from_fn(n, n, |i, j| if i == j { 1.0 } else { 0.0 })
    }

    /// A column vector (n × 1).
    pub fn column(values: Vec<f64>) -> Matrix {
        Matrix {
            rows: values.len(),
            cols: 1,
            data: values,
        }
    }

    /// Entry (i, j).
    #[inline]
    pub fn get(&self, i: usize, j: usize) -> f64 {
        self.data[i * self.cols + j]
    }

    /// Sets entry (i, j).
    #[inline]
    pub fn set(&mut self, i: usize, j: usize, v: f64) {
        self.data[i * self.cols + j] = v;
    }

    /// Row i as a slice.
    #[inline]
    pub fn row(&self, i: usize) -> &[f64] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// Row i as a mutable slice.
    #[inline]
    pub fn row_mut(&mut self, i: usize) -> &mut [f64] {
        &mut self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// Resizes to `rows × cols`, reusing the allocation (contents unspecified afterwards).
    pub fn resize(&mut self, rows: usize, cols: usize) {
        self.rows = rows;
        self.cols = cols;
        self.data.resize(rows * cols, 0.0);
    }

    /// The transpose, as a new matrix.
    pub fn transpose(&self) -> Matrix {
        Matrix::from_fn(self.cols, self.rows, |i, j| self.get(j, i))
    }

    /// The rows listed in `index`, in that order.
    pub fn select_rows(&self, index: &[usize]) -> Matrix {
        let mut data = Vec::with_capacity(index.len() * self.cols);
        for &i in index {
            data.extend_from_slice(self.row(i));
        }
        Matrix {
            rows: index.len(),
            cols: self.cols,
            data,
        }
    }

    /// A faer view of this matrix.
    pub fn view(&self) -> MatRef<'_, f64> {
        MatRef::from_row_major_slice(&self.data, self.rows, self.cols)
    }

    /// Frobenius norm ‖A‖_F.
    pub fn frobenius_norm(&self) -> f64 {
        norm(&self.data)
    }

    /// Matrix product A·B (deterministic, parallel over output blocks).
    pub fn matmul(&self, other: &Matrix) -> Result<Matrix> {
        if self.cols != other.rows {
            return Err(Error::shape(
                "matmul",
                format!(
                    "{}×{} times {}×{}",
                    self.rows, self.cols, other.rows, other.cols
                ),
            ));
        }
        let mut out = Matrix::zeros(self.rows, other.cols);
        gemm(&mut out, 0.0, self.view(), other.view(), 1.0);
        Ok(out)
    }
}

/// Buffers of at least this many bytes are backed by transparent huge pages where the system
/// allows it.
const HUGE_PAGE_BYTES: usize = 4 << 20;

/// Checks, before an array whose size comes from user input is allocated, that the product of
/// `dims` f64 values fits: the count must not overflow, and (on Linux) the bytes must not
/// exceed the machine's memory, RAM and swap together. An oversized request is then an
/// [`Error::Invalid`] naming `what` (the field to change) and the sizes, instead of the
/// allocator's abort. It does not promise that memory is free now.
pub fn check_fits(what: &str, dims: &[usize]) -> Result<()> {
    let count = dims.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
    let bytes = count.and_then(|c| c.checked_mul(std::mem::size_of::<f64>()));
    let memory = memory_bytes();
    let problem = match (bytes, memory) {
        (None, _) => "more bytes than an address space holds".to_string(),
        (Some(b), Some(m)) if b as u128 > m => {
            format!(
                "{:.3e} bytes, more than this machine's {:.3e} bytes of memory",
                b as f64, m as f64
            )
        }
        _ => return Ok(()),
    };
    let shape = dims
        .iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join(" × ");
    Err(Error::invalid(
        what,
        format!("{shape} values of f64 need {problem}"),
    ))
}

/// RAM plus swap in bytes (Linux `sysinfo`); `None` elsewhere or on error.
fn memory_bytes() -> Option<u128> {
    #[cfg(target_os = "linux")]
    {
        let mut info = std::mem::MaybeUninit::<libc::sysinfo>::zeroed();
        // SAFETY: sysinfo fills the struct it is given and touches nothing else.
        if unsafe { libc::sysinfo(info.as_mut_ptr()) } != 0 {
            return None;
        }
        // SAFETY: zero-initialised, then filled by the successful call above.
        let info = unsafe { info.assume_init() };
        let unit = u128::from(info.mem_unit.max(1));
        Some((info.totalram as u128 + info.totalswap as u128) * unit)
    }
    #[cfg(not(target_os = "linux"))]
    None
}

/// A zeroed buffer of `len` values. On Linux, buffers of ≥ 4 MiB are marked MADV_HUGEPAGE
/// before their first touch: memory mapped fresh from the kernel (as the system allocator
/// maps every large block) is zeroed on first touch, and page faults at 4 KiB granularity cost
/// as much as the arithmetic of a kernel matrix (≈ 65,000 faults for two 4000 × 4000 outputs;
/// `perf` showed a quarter of the analytic kernel's time in the fault path). The values are
/// unaffected.
pub fn zeroed(len: usize) -> Vec<f64> {
    let v = vec![0.0; len];
    advise_huge_pages(v.as_ptr(), len);
    v
}

/// A buffer of `len` values filled block by block on the rayon pool, its first block starting
/// on a 64-byte line: returns the buffer and the number of values before that start (`lead`,
/// 0 to 7, zero). Each block of `block_len` values (the last one shorter) is zeroed by the task
/// that then hands it, with the block's own entry of `items` (one per block, in order), to
/// `fill(block_index, block, item)`, so the zeroing is shared by the cores and leaves the block
/// in the cache of the core that writes it next (a single-threaded `calloc` of a buffer that
/// the allocator reuses from its heap zeroes it on one core, out of cache: ≈ 2.5 ms of the
/// two-layer empirical NTK's 32 MB of features). The buffer is an ordinary `Vec<f64>`, not an
/// over-aligned type: the allocator then reuses its memory across calls, where an
/// over-aligned allocation of tens of MB is mapped fresh every time and zeroed by the kernel
/// page by page. Huge pages as for [`zeroed`].
pub fn filled_by_blocks<T: Send>(
    len: usize,
    block_len: usize,
    items: Vec<T>,
    fill: impl Fn(usize, &mut [f64], T) + Sync,
) -> (Vec<f64>, usize) {
    use rayon::prelude::*;
    let block_len = block_len.max(1);
    assert_eq!(
        items.len(),
        len.div_ceil(block_len),
        "filled_by_blocks: one item per block"
    );
    let mut v: Vec<f64> = Vec::with_capacity(len + 7);
    let lead = (v.as_ptr() as usize).wrapping_neg() % 64 / std::mem::size_of::<f64>();
    advise_huge_pages(v.as_ptr(), len + lead);
    let spare = &mut v.spare_capacity_mut()[..lead + len];
    spare[..lead].iter_mut().for_each(|x| {
        x.write(0.0);
    });
    spare[lead..]
        .par_chunks_mut(block_len)
        .zip(items)
        .enumerate()
        .for_each(|(b, (block, item))| {
            let (ptr, len) = (block.as_mut_ptr().cast::<f64>(), block.len());
            // SAFETY: the block is `len` values of the buffer's capacity, owned by this task;
            // once every byte is zero they are initialised (all-zero bits are 0.0).
            let block = unsafe {
                std::ptr::write_bytes(ptr, 0, len);
                std::slice::from_raw_parts_mut(ptr, len)
            };
            fill(b, block, item);
        });
    // SAFETY: every one of the first `lead + len` values was written above.
    unsafe { v.set_len(lead + len) };
    (v, lead)
}

/// Marks the whole 2 MiB pages of a buffer of `len` values at `ptr` MADV_HUGEPAGE when it is
/// at least [`HUGE_PAGE_BYTES`] long (Linux; elsewhere, and on error, nothing happens).
fn advise_huge_pages(ptr: *const f64, len: usize) {
    #[cfg(target_os = "linux")]
    if len * std::mem::size_of::<f64>() >= HUGE_PAGE_BYTES {
        const HUGE: usize = 2 << 20;
        let start = ptr as usize;
        let aligned = start.next_multiple_of(HUGE);
        let end = start + len * std::mem::size_of::<f64>();
        if end > aligned + HUGE {
            let length = (end - aligned) / HUGE * HUGE;
            // SAFETY: the range lies inside the buffer's allocation; madvise changes only the
            // kernel's paging policy for it (an error, e.g. no THP support, is ignored).
            unsafe {
                libc::madvise(aligned as *mut libc::c_void, length, libc::MADV_HUGEPAGE);
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (ptr, len);
}

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
const PARALLEL_WORK: usize = 1 << 21;

/// C ← β C + α A B for a row-major matrix C (see [`gemm_slice`]).
pub fn gemm(c: &mut Matrix, beta: f64, a: MatRef<'_, f64>, b: MatRef<'_, f64>, alpha: f64) {
    gemm_slice(&mut c.data, c.rows, c.cols, beta, a, b, alpha);
}

/// C ← β C + α A B, with C a row-major `rows × cols` slice and A, B any faer views (use
/// `.transpose()` for Aᵀ). `beta` must be 0 or 1 (Replace / Add).
///
/// Large products run on faer's rayon-parallel kernel, which partitions the output and never
/// the inner dimension, so every entry is the same sequence of operations whatever the thread
/// count (`tests::gemm_is_bit_identical_across_thread_counts` holds us to it).
pub fn gemm_slice(
    c: &mut [f64],
    rows: usize,
    cols: usize,
    beta: f64,
    av: MatRef<'_, f64>,
    bv: MatRef<'_, f64>,
    alpha: f64,
) {
    gemm_impl(c, rows, cols, beta, av, bv, alpha, true);
}

/// [`gemm_slice`] on the calling thread only (for products inside an outer parallel loop).
pub fn gemm_slice_sequential(
    c: &mut [f64],
    rows: usize,
    cols: usize,
    beta: f64,
    av: MatRef<'_, f64>,
    bv: MatRef<'_, f64>,
    alpha: f64,
) {
    gemm_impl(c, rows, cols, beta, av, bv, alpha, false);
}

#[allow(clippy::too_many_arguments)]
fn gemm_impl(
    c: &mut [f64],
    rows: usize,
    cols: usize,
    beta: f64,
    av: MatRef<'_, f64>,
    bv: MatRef<'_, f64>,
    alpha: f64,
    allow_parallel: bool,
) {
    let (m, k, n) = (av.nrows(), av.ncols(), bv.ncols());
    assert_eq!(bv.nrows(), k, "gemm: inner dimensions differ");
    assert_eq!((rows, cols), (m, n), "gemm: output shape");
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
    let dst = faer::MatMut::from_row_major_slice_mut(c, m, n);
    if allow_parallel && m * n * k >= PARALLEL_WORK && rayon::current_num_threads() > 1 {
        matmul(dst, accum, av, bv, alpha, Par::rayon(0));
        rayon::broadcast(|_| clear_upper_vector_state());
    } else {
        matmul(dst, accum, av, bv, alpha, Par::Seq);
    }
    clear_upper_vector_state();
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
const PANEL_MIN_DEPTH: usize = 512;

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
fn long_rows(a: MatRef<'_, f64>) -> Option<Panels> {
    (a.ncols() >= PANEL_MIN_DEPTH)
        .then(|| Panels::from_view(a))
        .flatten()
}

/// Tile edge of the parallel [`gram_upper`].
const GRAM_TILE: usize = 128;

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

/// Copies `src` to `dst` with non-temporal stores where the CPU has AVX-512F: the 64-byte lines
/// of `dst` that `src` covers whole go straight to memory, without the read-for-ownership an
/// ordinary store pays and without evicting the caller's working set (for outputs written once
/// and not read again soon); the partial lines at either end take ordinary stores. Elsewhere,
/// a plain copy. The stores are weakly ordered: call [`stream_fence`] before another thread
/// reads `dst`.
///
/// # Safety
/// `dst` must be valid for writes of `src.len()` values, which no other thread accesses during
/// the call, and must not overlap `src`.
pub unsafe fn stream_store(dst: *mut f64, src: &[f64]) {
    #[cfg(target_arch = "x86_64")]
    if tier_allowed(0) && std::arch::is_x86_feature_detected!("avx512f") {
        /// # Safety
        /// As [`stream_store`]; the CPU must support AVX-512F.
        #[target_feature(enable = "avx512f")]
        unsafe fn wide(dst: *mut f64, src: &[f64]) {
            use std::arch::x86_64::{_mm512_loadu_pd, _mm512_stream_pd};
            const LINE: usize = 8;
            let n = src.len();
            // Values before the first line boundary of `dst`.
            let head = ((dst as usize).next_multiple_of(64) - dst as usize) / 8;
            let head = head.min(n);
            let body = (n - head) / LINE * LINE;
            // SAFETY: every access lies inside `src` or the caller's range of `dst`; the body's
            // destinations are 64-byte aligned.
            unsafe {
                std::ptr::copy_nonoverlapping(src.as_ptr(), dst, head);
                for k in (head..head + body).step_by(LINE) {
                    _mm512_stream_pd(dst.add(k), _mm512_loadu_pd(src.as_ptr().add(k)));
                }
                let tail = head + body;
                std::ptr::copy_nonoverlapping(src.as_ptr().add(tail), dst.add(tail), n - tail);
            }
        }
        // SAFETY: the feature was detected at run time; the rest is the caller's contract.
        return unsafe { wide(dst, src) };
    }
    // SAFETY: the caller's contract.
    unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), dst, src.len()) };
}

/// Orders the calling thread's [`stream_store`]s before its later stores (`sfence`), so that a
/// thread which synchronises with it afterwards (a rayon join) sees them.
pub fn stream_fence() {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("sse") {
        // SAFETY: `sfence` has no operands and no effect besides ordering stores.
        unsafe { std::arch::x86_64::_mm_sfence() };
    }
}

/// Clears the upper halves of the vector registers after a wide-vector kernel: faer's AVX-512
/// kernels can leave them dirty, and then every legacy-SSE instruction that follows (glibc's
/// `tanh`, for one) pays a state-transition penalty (measured: 10× slower activations).
#[inline]
fn clear_upper_vector_state() {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx") {
            // SAFETY: `vzeroupper` only zeroes the upper bits of the vector registers, which no
            // live Rust value occupies across this call (the ABI treats them as clobbered).
            unsafe { std::arch::asm!("vzeroupper", options(nomem, nostack, preserves_flags)) };
        }
    }
}

/// Euclidean norm ‖v‖₂ (the squares summed over eight lanes, like [`dot8`]).
pub fn norm(v: &[f64]) -> f64 {
    dot8(v, v).sqrt()
}

/// Inner product ⟨u, v⟩.
pub fn dot(u: &[f64], v: &[f64]) -> f64 {
    u.iter().zip(v).map(|(a, b)| a * b).sum()
}

/// Σ_j u_j v_j with eight independent accumulators (vectorisable, deterministic order).
#[inline]
pub fn dot8(u: &[f64], v: &[f64]) -> f64 {
    let mut acc = [0.0f64; 8];
    let (uc, vc) = (u.chunks_exact(8), v.chunks_exact(8));
    let (ur, vr) = (uc.remainder(), vc.remainder());
    for (a, b) in uc.zip(vc) {
        for k in 0..8 {
            acc[k] += a[k] * b[k];
        }
    }
    let tail: f64 = ur.iter().zip(vr).map(|(a, b)| a * b).sum();
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail
}

/// Euclidean distance ‖u − v‖₂.
pub fn distance(u: &[f64], v: &[f64]) -> f64 {
    u.iter()
        .zip(v)
        .map(|(a, b)| (a - b) * (a - b))
        .sum::<f64>()
        .sqrt()
}

/// log Σ_i exp(v_i), computed stably as m + log Σ exp(v_i − m), m = max v.
pub fn log_sum_exp(v: &[f64]) -> f64 {
    let m = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !m.is_finite() {
        return m;
    }
    m + v.iter().map(|x| (x - m).exp()).sum::<f64>().ln()
}

/// Eigendecomposition of a symmetric matrix: eigenvalues ascending, eigenvectors as the
/// columns of the returned matrix (row-major n × n).
pub fn symmetric_eigen(a: &Matrix) -> Result<(Vec<f64>, Matrix)> {
    square("symmetric_eigen", a)?;
    let evd = a
        .view()
        .self_adjoint_eigen(faer::Side::Lower)
        .map_err(|e| Error::Numerical {
            routine: "symmetric_eigen".into(),
            message: format!("{e:?}"),
        })?;
    clear_upper_vector_state();
    let s = evd.S();
    let u = evd.U();
    let n = a.rows;
    let values = (0..n).map(|i| s[i]).collect();
    let vectors = Matrix::from_fn(n, n, |i, j| u[(i, j)]);
    Ok((values, vectors))
}

/// Eigenvalues (ascending) of a symmetric matrix.
pub fn symmetric_eigenvalues(a: &Matrix) -> Result<Vec<f64>> {
    square("symmetric_eigenvalues", a)?;
    let values = a
        .view()
        .self_adjoint_eigenvalues(faer::Side::Lower)
        .map_err(|e| Error::Numerical {
            routine: "symmetric_eigenvalues".into(),
            message: format!("{e:?}"),
        });
    clear_upper_vector_state();
    values
}

/// Solves A X = B for symmetric positive definite A by Cholesky (A = L Lᵀ).
pub fn cholesky_solve(a: &Matrix, b: &Matrix) -> Result<Matrix> {
    square("cholesky_solve", a)?;
    if b.rows != a.rows {
        return Err(Error::shape(
            "cholesky_solve",
            format!("A is {}×{}, B has {} rows", a.rows, a.cols, b.rows),
        ));
    }
    let llt = a
        .view()
        .llt(faer::Side::Lower)
        .map_err(|e| Error::Numerical {
            routine: "cholesky_solve".into(),
            message: format!("matrix is not positive definite ({e:?})"),
        })?;
    let x = llt.solve(b.view());
    clear_upper_vector_state();
    Ok(Matrix::from_fn(b.rows, b.cols, |i, j| x[(i, j)]))
}

/// Least-squares solution of min_X ‖A X − B‖_F (A of full column rank), by the normal
/// equations AᵀA X = AᵀB with a Cholesky factorization.
pub fn least_squares(a: &Matrix, b: &Matrix) -> Result<Matrix> {
    let mut ata = Matrix::zeros(a.cols, a.cols);
    gemm(&mut ata, 0.0, a.view().transpose(), a.view(), 1.0);
    let mut atb = Matrix::zeros(a.cols, b.cols);
    gemm(&mut atb, 0.0, a.view().transpose(), b.view(), 1.0);
    cholesky_solve(&ata, &atb)
}

fn square(routine: &str, a: &Matrix) -> Result<()> {
    if a.rows != a.cols {
        return Err(Error::shape(
            routine,
            format!("expected a square matrix, got {}×{}", a.rows, a.cols),
        ));
    }
    Ok(())
}

/// e^x for one lane, branch-free so that it vectorises: Cody–Waite reduction x = k ln 2 + r,
/// |r| ≤ ln2/2, the degree-12 Taylor polynomial of e^r (truncation < 2e-16 relative) and the
/// scale 2^k built in the exponent bits. Arguments are clamped to [−708, 709] (below, the result
/// is e^{−708} ≈ 3e-308 instead of a subnormal or 0). Within 2 ulp of the correctly rounded value
/// (`tests::fast_exp_is_accurate`). No fused multiply-adds are formed, so every vector width
/// gives the same bits.
#[inline(always)]
fn exp_lane(x: f64) -> f64 {
    const MAGIC: f64 = 6755399441055744.0; // 1.5 · 2^52: adding it rounds to an integer
    const LOG2E: f64 = std::f64::consts::LOG2_E;
    const LN2_HI: f64 = 0.693_147_180_369_123_8;
    const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
    const C: [f64; 13] = [
        1.0,
        1.0,
        0.5,
        1.0 / 6.0,
        1.0 / 24.0,
        1.0 / 120.0,
        1.0 / 720.0,
        1.0 / 5040.0,
        1.0 / 40320.0,
        1.0 / 362880.0,
        1.0 / 3628800.0,
        1.0 / 39916800.0,
        1.0 / 479001600.0,
    ];
    let x = x.clamp(-708.0, 709.0);
    let t = x * LOG2E + MAGIC;
    let k = t - MAGIC;
    let r = (x - k * LN2_HI) - k * LN2_LO;
    let mut p = C[12];
    for c in C[..12].iter().rev() {
        p = p * r + c;
    }
    let bits = (t.to_bits().wrapping_sub(MAGIC.to_bits()).wrapping_add(1023)) << 52;
    p * f64::from_bits(bits)
}

#[inline(always)]
fn exp_in_place_generic(v: &mut [f64]) {
    v.iter_mut().for_each(|x| *x = exp_lane(*x));
}

#[inline(always)]
fn sum_exp_generic(v: &[f64], shift: f64) -> f64 {
    let mut acc = [0.0f64; 8];
    let chunks = v.chunks_exact(8);
    let tail: f64 = chunks
        .remainder()
        .iter()
        .map(|&x| exp_lane(x - shift))
        .sum();
    for c in chunks {
        for l in 0..8 {
            acc[l] += exp_lane(c[l] - shift);
        }
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail
}

simd_dispatch! {
    /// v_i ← e^{v_i} on the widest vector unit: within 2 ulp of the correctly rounded value,
    /// arguments clamped to [−708, 709], the same bits on every vector width.
    pub fn exp_in_place(v: &mut [f64]) = exp_in_place_generic;
}

simd_dispatch! {
    /// Σ_i e^{v_i − shift}, summed over eight interleaved lanes in a fixed order (the same bits
    /// on every vector width and thread count).
    pub fn sum_exp(v: &[f64], shift: f64) -> f64 = sum_exp_generic;
}

/// max_i v_i over eight interleaved lanes (vectorises; −∞ for an empty slice; NaNs ignored).
pub fn max(v: &[f64]) -> f64 {
    let mut acc = [f64::NEG_INFINITY; 8];
    let chunks = v.chunks_exact(8);
    let mut m = chunks
        .remainder()
        .iter()
        .fold(f64::NEG_INFINITY, |a, &b| if b > a { b } else { a });
    for c in chunks {
        for l in 0..8 {
            acc[l] = if c[l] > acc[l] { c[l] } else { acc[l] };
        }
    }
    for a in acc {
        m = if a > m { a } else { m };
    }
    m
}

#[cfg(test)]
mod tests {
    #[test]
    fn check_fits_names_the_field_of_requests_beyond_memory() {
        assert!(super::check_fits("small", &[1000, 1000]).is_ok());
        assert!(super::check_fits("empty", &[0, usize::MAX]).is_ok());
        // 2^31 · 2^31 · 8 bytes = 2^65: the count fits in usize, the bytes do not.
        let msg = super::check_fits("model.width", &[1 << 31, 1 << 31])
            .unwrap_err()
            .to_string();
        assert!(
            msg.starts_with("invalid model.width: 2147483648 × 2147483648"),
            "{msg}"
        );
        assert!(msg.contains("address space"), "{msg}");
        // 2^57 values = 2^60 bytes (1.2e18): representable, beyond any machine's memory.
        let msg = super::check_fits("data.n", &[1 << 57])
            .unwrap_err()
            .to_string();
        if cfg!(target_os = "linux") {
            assert!(
                msg.contains("1.153e18 bytes, more than this machine's"),
                "{msg}"
            );
        }
    }

    #[test]
    fn fast_exp_is_accurate_and_identical_on_every_vector_width() {
        let xs: Vec<f64> = (0..200_001)
            .map(|k| -708.0 + 1417.0 * k as f64 / 200_000.0)
            .collect();
        let mut fast = xs.clone();
        super::exp_in_place(&mut fast);
        for (x, f) in xs.iter().zip(&fast) {
            let e = x.exp();
            assert!(
                (f - e).abs() <= 3.0 * f64::EPSILON * e,
                "exp({x}) = {f} vs {e}"
            );
        }
        let plain = super::same_on_every_tier(|| {
            let mut v = xs.clone();
            super::exp_in_place(&mut v);
            v
        });
        assert_eq!(plain, fast);
        let s: f64 = xs[..5000].iter().map(|x| (x / 708.0).exp()).sum();
        let scaled: Vec<f64> = xs[..5000].iter().map(|x| x / 708.0).collect();
        assert!((super::sum_exp(&scaled, 0.0) - s).abs() <= 1e-13 * s);
        super::same_on_every_tier(|| vec![super::sum_exp(&scaled[..4999], 0.25)]);
        assert_eq!(
            super::max(&scaled),
            scaled.iter().copied().fold(f64::NEG_INFINITY, f64::max)
        );
    }

    use super::*;
    use crate::rng::Seed;

    fn random(rows: usize, cols: usize, index: u64) -> Matrix {
        let mut r = Seed(1).stream("linalg-test", index);
        Matrix::from_fn(rows, cols, |_, _| r.normal())
    }

    fn naive(a: &Matrix, b: &Matrix) -> Matrix {
        Matrix::from_fn(a.rows, b.cols, |i, j| {
            (0..a.cols).map(|k| a.get(i, k) * b.get(k, j)).sum()
        })
    }

    #[test]
    fn gemm_matches_naive_product_in_every_split() {
        // Shapes exercising the single-block, row-split and column-split paths.
        for (idx, &(m, k, n)) in [(3, 4, 5), (300, 60, 200), (4, 300, 3000), (1000, 3, 2)]
            .iter()
            .enumerate()
        {
            let a = random(m, k, 2 * idx as u64);
            let b = random(k, n, 2 * idx as u64 + 1);
            let want = naive(&a, &b);
            let got = a.matmul(&b).unwrap();
            let err = distance(&got.data, &want.data) / want.frobenius_norm();
            assert!(err < 1e-13, "{m}×{k}×{n}: {err}");
            // Transposed views and accumulation: C = AB + (Aᵀ)ᵀ(Bᵀ)ᵀ = 2AB.
            let (at, bt) = (a.transpose(), b.transpose());
            let mut c = got.clone();
            gemm(
                &mut c,
                1.0,
                at.view().transpose(),
                bt.view().transpose(),
                1.0,
            );
            let err2 = c
                .data
                .iter()
                .zip(&want.data)
                .map(|(x, y)| (x - 2.0 * y).abs())
                .fold(0.0, f64::max);
            assert!(err2 < 1e-10 * want.frobenius_norm(), "{err2}");
        }
    }

    /// A scratch buffer has the asked length, a nested call does not share it, and the thread
    /// keeps the buffer for its next call (the values a previous call left are still there).
    #[test]
    fn scratch_buffers_are_per_call_and_kept_per_thread() {
        let outer = with_scratch(5, |a| {
            assert_eq!(a.len(), 5);
            a.fill(1.0);
            let inner = with_scratch(3, |b| {
                b.fill(2.0);
                b.as_ptr()
            });
            assert_ne!(inner, a.as_ptr(), "a nested call got the same buffer");
            assert_eq!(a, [1.0; 5], "a nested call wrote into the outer buffer");
            a.as_ptr()
        });
        let again = with_scratch(4, |c| {
            assert_eq!(c, [1.0; 4], "the thread's buffer was not kept");
            c.as_ptr()
        });
        assert_eq!(again, outer);
    }

    /// `f` on a rayon pool of `threads` threads.
    fn on_threads<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(f)
    }

    #[test]
    fn gemm_is_bit_identical_across_thread_counts() {
        let a = random(700, 90, 10);
        let b = random(90, 1500, 11);
        let run = |threads| on_threads(threads, || a.matmul(&b).unwrap());
        assert_eq!(run(1).data, run(2).data);
        assert_eq!(run(1).data, run(3).data);
    }

    /// Every block of `filled_by_blocks` starts zeroed (the buffer comes from fresh capacity), the
    /// first on a 64-byte line,
    /// is handed to `fill` once with its own item and its index, and the last one is short.
    #[test]
    fn filled_by_blocks_zeroes_and_fills_each_block_once() {
        for threads in [1, 3] {
            let (v, lead) = on_threads(threads, || {
                filled_by_blocks(1000, 128, (0..8).collect(), |b, block, item: usize| {
                    if b == 0 {
                        assert_eq!(block.as_ptr() as usize % 64, 0, "first block on a line");
                    }
                    assert_eq!(b, item);
                    assert_eq!(block.len(), if b == 7 { 1000 - 7 * 128 } else { 128 });
                    assert!(
                        block.iter().all(|&x| x.to_bits() == 0),
                        "block {b} not zeroed"
                    );
                    for (k, x) in block.iter_mut().enumerate() {
                        *x = (b * 128 + k) as f64;
                    }
                })
            });
            assert!(lead < 8 && v.len() == lead + 1000);
            assert!(v[..lead].iter().all(|&x| x == 0.0));
            assert!(v[lead..].iter().enumerate().all(|(i, &x)| x == i as f64));
        }
    }

    #[test]
    fn gram_is_a_a_transpose_symmetric_and_thread_independent() {
        let a = random(300, 700, 40);
        let want = naive(&a, &a.transpose());
        let run = |threads| {
            on_threads(threads, || {
                let mut c = Matrix::default();
                gram(&mut c, a.view(), 2.0);
                c
            })
        };
        let c1 = run(1);
        assert_eq!(c1.data, run(2).data);
        assert_eq!(c1.data, run(3).data);
        // The tiled upper triangle leaves the strictly lower triangle alone.
        let mut upper = Matrix::from_fn(300, 300, |_, _| f64::NAN);
        gram_upper(&mut upper, a.view(), 2.0);
        for i in 0..300 {
            for j in 0..300 {
                assert_eq!(upper.get(i, j).is_nan(), j < i, "({i}, {j})");
            }
        }
        for i in 0..300 {
            for j in 0..300 {
                assert_eq!(c1.get(i, j), c1.get(j, i));
                assert!((c1.get(i, j) - 2.0 * want.get(i, j)).abs() < 1e-10);
            }
        }
    }

    #[test]
    fn gemm_nt_is_a_b_transpose_on_both_paths() {
        // Long rows (the panel path), short rows (faer), and row views with a stride (every
        // other row, as a Jacobian's rows of one output are), against the definition.
        for (k, index) in [(700, 41), (60, 42)] {
            let (a, b) = (random(74, k, index), random(58, k, index + 10));
            fn odd(m: &Matrix, k: usize) -> (MatRef<'_, f64>, Matrix) {
                let rows = m.rows / 2;
                (
                    strided_view(&m.data[k..], rows, k, 2 * k),
                    Matrix::from_fn(rows, k, |i, j| m.get(2 * i + 1, j)),
                )
            }
            let empty = Matrix::zeros(0, k);
            let mut c = Matrix::default();
            gemm_nt(&mut c, empty.view(), b.view(), 1.0);
            assert_eq!((c.rows, c.cols), (0, b.rows));
            gemm_nt(&mut c, a.view(), empty.view(), 1.0);
            assert_eq!((c.rows, c.cols, c.data.len()), (a.rows, 0, 0));
            let ((av, a_odd), (bv, b_odd)) = (odd(&a, k), odd(&b, k));
            for (x, y, xm, ym) in [(a.view(), b.view(), &a, &b), (av, bv, &a_odd, &b_odd)] {
                let want = naive(xm, &ym.transpose());
                let mut c = Matrix::default();
                gemm_nt(&mut c, x, y, 0.5);
                assert_eq!((c.rows, c.cols), (xm.rows, ym.rows));
                for (g, w) in c.data.iter().zip(&want.data) {
                    assert!((g - 0.5 * w).abs() < 1e-11, "k = {k}: {g} vs {}", 0.5 * w);
                }
            }
        }
    }

    #[test]
    fn eigen_reconstructs_the_matrix() {
        let g = random(6, 6, 20);
        let s = naive(&g, &g.transpose());
        let (vals, vecs) = symmetric_eigen(&s).unwrap();
        assert!(vals.windows(2).all(|w| w[0] <= w[1]));
        let rebuilt = Matrix::from_fn(6, 6, |i, j| {
            (0..6)
                .map(|k| vecs.get(i, k) * vals[k] * vecs.get(j, k))
                .sum()
        });
        assert!(distance(&rebuilt.data, &s.data) < 1e-10 * s.frobenius_norm());
        let only = symmetric_eigenvalues(&s).unwrap();
        assert!(distance(&only, &vals) < 1e-10);
    }

    #[test]
    fn cholesky_solve_and_least_squares() {
        let g = random(8, 5, 30);
        let spd = naive(&g.transpose(), &g);
        let x_true = random(5, 2, 31);
        let b = naive(&spd, &x_true);
        let x = cholesky_solve(&spd, &b).unwrap();
        assert!(distance(&x.data, &x_true.data) < 1e-9);
        // Consistent system: least squares recovers the exact solution.
        let rhs = naive(&g, &x_true);
        let ls = least_squares(&g, &rhs).unwrap();
        assert!(distance(&ls.data, &x_true.data) < 1e-9);
        // A non-PD matrix is a clean error.
        let bad = Matrix::from_vec(2, 2, vec![1.0, 2.0, 2.0, 1.0]).unwrap();
        assert!(cholesky_solve(&bad, &Matrix::zeros(2, 1)).is_err());
    }

    #[test]
    fn stream_store_copies_exactly_its_range() {
        // Every start offset within a line and lengths around the line size: the head, the
        // streamed lines and the tail each land where they belong, and nothing beyond.
        let src: Vec<f64> = (0..100).map(|v| v as f64 + 0.5).collect();
        for offset in 0..9 {
            for len in [0, 1, 7, 8, 9, 15, 16, 17, 63, 64, 65, 90] {
                let mut dst = vec![-1.0; 120];
                // SAFETY: offset + len ≤ 99 < 120; `dst` is not shared.
                unsafe { stream_store(dst.as_mut_ptr().add(offset), &src[..len]) };
                stream_fence();
                for (k, &v) in dst.iter().enumerate() {
                    let want = if (offset..offset + len).contains(&k) {
                        src[k - offset]
                    } else {
                        -1.0
                    };
                    assert_eq!(v, want, "offset {offset}, len {len}, index {k}");
                }
            }
        }
    }

    #[test]
    fn log_sum_exp_is_stable() {
        let v = [1000.0, 1000.0];
        assert!((log_sum_exp(&v) - (1000.0 + 2f64.ln())).abs() < 1e-12);
        assert_eq!(log_sum_exp(&[]), f64::NEG_INFINITY);
    }
}
