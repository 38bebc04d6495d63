//! Run-time dispatch over vector instruction tiers (AVX-512F, AVX2 + FMA, plain code) with
//! identical rounding on every tier, the tier switch of the unit tests, thread-local scratch
//! buffers, and the vector-state hygiene after wide kernels.

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
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
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

/// `f` on a rayon pool of `threads` threads: for tests that hold results to be the same
/// whatever the thread count.
#[cfg(test)]
pub(crate) fn on_threads<T: Send>(threads: usize, f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("a rayon pool for the test")
        .install(f)
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

/// Clears the upper halves of the vector registers after a wide-vector kernel: faer's AVX-512
/// kernels can leave them dirty, and then every legacy-SSE instruction that follows (glibc's
/// `tanh`, for one) pays a state-transition penalty (measured: 10× slower activations).
#[inline]
pub(crate) fn clear_upper_vector_state() {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx") {
            // SAFETY: `vzeroupper` only zeroes the upper bits of the vector registers, which no
            // live Rust value occupies across this call (the ABI treats them as clobbered).
            unsafe { std::arch::asm!("vzeroupper", options(nomem, nostack, preserves_flags)) };
        }
    }
}
