//! The allocator of the `gradflow` binary and of the benchmarks, for any program built on the
//! library: declare it with
//!
//! ```
//! #[global_allocator]
//! static ALLOCATOR: gradflow::alloc::Allocator = gradflow::alloc::Allocator;
//!
//! fn main() {
//!     let v = vec![0.5_f64; 1 << 22]; // 32 MiB
//!     assert_eq!(v.iter().sum::<f64>(), (1 << 21) as f64);
//! }
//! ```
//!
//! It is mimalloc (version 3, pinned by `Cargo.lock`) behind a thin wrapper, and differs from
//! the system allocator in two ways that matter here:
//!
//! * Freed memory is kept for the next allocations of the run (and given back to the system
//!   after a short idle delay). glibc maps every block above its mmap threshold (at most
//!   32 MiB) fresh from the kernel and unmaps it on free, so each new 4000 × 4000 kernel is
//!   zeroed by the kernel page by page on first touch — for the one-layer analytic kernel
//!   ≈ 20 ms of a 55 ms call on two cores. Outputs whose every entry is written anyway (the
//!   analytic kernels build theirs without initialising them) then cost no zeroing at all.
//! * (The wrapper.) A refused allocation ends the run with a message and exit code 2 instead
//!   of the default abort (exit 134). The sizes users set directly are checked before anything
//!   is allocated ([`crate::linalg::check_fits`], naming the field); this catches what depends
//!   on them only indirectly.
//!
//! Values never depend on the allocator (addresses only decide how stores are grouped).

use std::alloc::{GlobalAlloc, Layout};

/// mimalloc, ending the process with a message and exit code 2 when memory is refused (see the
/// module documentation).
pub struct Allocator;

// SAFETY: every call is forwarded unchanged to mimalloc, itself a correct allocator; a null
// result does not return.
unsafe impl GlobalAlloc for Allocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract, forwarded.
        granted(unsafe { mimalloc::MiMalloc.alloc(layout) }, layout.size())
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as above.
        granted(
            unsafe { mimalloc::MiMalloc.alloc_zeroed(layout) },
            layout.size(),
        )
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as above; `ptr` came from this allocator, hence from mimalloc.
        granted(
            unsafe { mimalloc::MiMalloc.realloc(ptr, layout, new_size) },
            new_size,
        )
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { mimalloc::MiMalloc.dealloc(ptr, layout) }
    }
}

fn granted(ptr: *mut u8, bytes: usize) -> *mut u8 {
    if ptr.is_null() {
        out_of_memory(bytes);
    }
    ptr
}

/// Writes the message without allocating (into a stack buffer, then unbuffered stderr) and
/// exits with code 2.
#[cold]
fn out_of_memory(bytes: usize) -> ! {
    use std::io::Write;
    let mut message = [0u8; 256];
    let len = {
        let mut cursor = std::io::Cursor::new(&mut message[..]);
        let _ = writeln!(
            cursor,
            "error: out of memory: the system refused {:.3e} bytes; the sizes in the input \
             files or settings are too large for this machine",
            bytes as f64
        );
        cursor.position() as usize
    };
    let _ = std::io::stderr().write_all(&message[..len]);
    std::process::exit(2)
}
