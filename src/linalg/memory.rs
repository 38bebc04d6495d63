//! Memory: size checks against the machine before allocating, zero-initialised and block-filled
//! buffers with huge-page advice, and non-temporal (streaming) stores.

use super::*;

/// Buffers of at least this many bytes are backed by transparent huge pages where the system
/// allows it.
pub(crate) const HUGE_PAGE_BYTES: usize = 4 << 20;

/// Checks, before an array whose size comes from user input is allocated, that the product of
/// `dims` f64 values fits: the count must not overflow, and (on Linux) the bytes must not
/// exceed the machine's memory, RAM and swap together. An oversized request is then an
/// [`Error::TooLarge`] naming `what` (the field to change) and the sizes, instead of the
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
    Err(Error::TooLarge {
        field: what.to_string(),
        message: format!("{shape} values of f64 need {problem}"),
    })
}

/// RAM plus swap in bytes (Linux `sysinfo`); `None` elsewhere or on error.
pub(crate) fn memory_bytes() -> Option<u128> {
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
pub(crate) fn advise_huge_pages(ptr: *const f64, len: usize) {
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
pub(crate) unsafe fn stream_store(dst: *mut f64, src: &[f64]) {
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
