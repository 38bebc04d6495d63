//! Shared by the benchmarks: the allocator of the `gradflow` binary, the thread pool from
//! GRADFLOW_BENCH_THREADS (default 2, the CI machine's size) and the median of repeated
//! timings.

use std::time::Instant;

/// The benchmarks measure the library as the `gradflow` binary runs it: with its allocator
/// (`gradflow::alloc`), which keeps freed memory for the next allocations of the run.
#[global_allocator]
static ALLOCATOR: gradflow::alloc::Allocator = gradflow::alloc::Allocator;

/// Builds the global rayon pool; returns the thread count.
pub fn init_threads() -> usize {
    let threads: usize = std::env::var("GRADFLOW_BENCH_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2);
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global()
        .expect("thread pool");
    threads
}

/// Median of three timed runs after one warm-up run, in seconds.
#[allow(dead_code)]
pub fn median_of_3(mut f: impl FnMut()) -> f64 {
    f();
    let mut times: Vec<f64> = (0..3)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[1]
}

/// True when workload `name` should run: no filter words on the command line (other than
/// `--` flags), or one of them is a substring of `name`
/// (`cargo bench --bench kernels -- predict`).
#[allow(dead_code)]
pub fn selected(name: &str) -> bool {
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    filters.is_empty() || filters.iter().any(|f| name.contains(f.as_str()))
}

/// CPU seconds of this process so far, user and system time of all its threads (the rayon
/// pool's included): the library's `getrusage` reading. On a machine shared with other jobs
/// this, unlike the wall time, counts only the work done.
#[allow(unused_imports)]
pub use gradflow::distributed::operator::cpu_seconds;

/// One workload's timings: medians per call of the wall and CPU seconds, and the minor page
/// faults per call.
#[allow(dead_code)]
pub struct Timing {
    /// Median wall-clock seconds.
    pub wall: f64,
    /// Median CPU seconds of the process (all threads).
    pub cpu: f64,
    /// Minor page faults per timed call (mean).
    pub faults: f64,
}

/// Times `f` over GRADFLOW_BENCH_REPS calls (default 3) after one warm-up call.
#[allow(dead_code)]
pub fn timed(mut f: impl FnMut()) -> Timing {
    let reps: usize = std::env::var("GRADFLOW_BENCH_REPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
        .max(1);
    f();
    let faults = minor_faults();
    let (mut wall, mut cpu): (Vec<f64>, Vec<f64>) = (0..reps)
        .map(|_| {
            let (start, cpu) = (Instant::now(), cpu_seconds());
            f();
            (start.elapsed().as_secs_f64(), cpu_seconds() - cpu)
        })
        .unzip();
    let faults = (minor_faults() - faults) as f64 / reps as f64;
    wall.sort_by(f64::total_cmp);
    cpu.sort_by(f64::total_cmp);
    Timing {
        wall: wall[reps / 2],
        cpu: cpu[reps / 2],
        faults,
    }
}

/// Minor page faults of this process so far (first touches of freshly mapped memory), from
/// `getrusage`; 0 where it is not available.
#[allow(dead_code)]
pub fn minor_faults() -> u64 {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: `rusage` is plain integers, for which all-zero bytes are a valid value.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: getrusage writes one `rusage` struct into the valid, owned `usage`.
        if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } == 0 {
            return usage.ru_minflt as u64;
        }
    }
    0
}
