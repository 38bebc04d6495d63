//! Where the work runs: the GIL is released for the whole computation (other Python threads
//! run meanwhile), inside a rayon pool of the requested size (`threads=`, or the module-level
//! [`set_threads`]; default: rayon's global pool over all cores). Pools are built once per
//! size and kept, so `threads=` costs nothing per call after the first. Results never depend
//! on the thread count (the library's contract).
//!
//! Ctrl-C: Python runs its signal handlers only on the main thread, and only when asked
//! (`PyErr_CheckSignals`). [`run_cancellable`] runs a long computation on a helper thread
//! (in the pool) while the main thread, GIL released, wakes every 50 ms to ask; on a pending
//! KeyboardInterrupt it trips the library's cancellation hook ([`Cancel`]), which the
//! computation polls between its blocks, waits for it to stop and raises the exception.

use crate::errors::OrRaise;
use gradflow::commands::{Cancel, Names};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use rayon::ThreadPool;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// The pools built so far, by size.
static POOLS: Mutex<Vec<(usize, Arc<ThreadPool>)>> = Mutex::new(Vec::new());
/// The module-level thread count (0: rayon's global pool).
static DEFAULT: AtomicUsize = AtomicUsize::new(0);

/// The pool of `threads` workers (`None`: the module-level setting), `None` for the global one.
fn pool(threads: Option<i64>) -> PyResult<Option<Arc<ThreadPool>>> {
    let n = match threads {
        Some(t) => checked(t)?,
        None => DEFAULT.load(Ordering::Relaxed),
    };
    if n == 0 {
        return Ok(None);
    }
    let mut pools = POOLS
        .lock()
        .map_err(|_| PyValueError::new_err("threads: the pool registry is poisoned"))?;
    if let Some((_, p)) = pools.iter().find(|(k, _)| *k == n) {
        return Ok(Some(Arc::clone(p)));
    }
    let p = Arc::new(
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .thread_name(|i| format!("gradflow-{i}"))
            .build()
            .map_err(|e| PyValueError::new_err(format!("invalid threads: {e}")))?,
    );
    pools.push((n, Arc::clone(&p)));
    Ok(Some(p))
}

/// A thread count checked against the library's range (the CLI's `--threads`).
fn checked(threads: i64) -> PyResult<usize> {
    let n = usize::try_from(threads).map_err(|_| {
        gradflow::Error::invalid(
            "threads",
            format!("expected 1 or more threads, got {threads}"),
        )
    });
    let n = n.or_raise()?;
    gradflow::commands::threads::validate("threads", n).or_raise()?;
    Ok(n)
}

/// `gradflow.set_threads(n)`: the pool every later call uses when it is given no `threads=`
/// (`None` or 0: all cores, rayon's global pool).
#[pyfunction]
#[pyo3(signature = (threads))]
pub fn set_threads(threads: Option<i64>) -> PyResult<()> {
    let n = match threads {
        None | Some(0) => 0,
        Some(t) => checked(t)?,
    };
    DEFAULT.store(n, Ordering::Relaxed);
    Ok(())
}

/// `gradflow.get_threads()`: the module-level thread count (0: all cores).
#[pyfunction]
pub fn get_threads() -> usize {
    DEFAULT.load(Ordering::Relaxed)
}

/// Runs `f` with the GIL released, in the pool of `threads`, and maps its error.
pub fn detach<T, F>(py: Python<'_>, threads: Option<i64>, f: F) -> PyResult<T>
where
    T: Send,
    F: FnOnce() -> gradflow::Result<T> + Send,
{
    detach_raw(py, threads, f)?.or_raise()
}

/// [`detach`] leaving the library's result as it is.
fn detach_raw<T, F>(py: Python<'_>, threads: Option<i64>, f: F) -> PyResult<gradflow::Result<T>>
where
    T: Send,
    F: FnOnce() -> gradflow::Result<T> + Send,
{
    let pool = pool(threads)?;
    Ok(py.detach(move || match pool {
        Some(p) => p.install(f),
        None => f(),
    }))
}

/// How often the main thread asks for pending signals during a cancellable call.
const SIGNAL_POLL: Duration = Duration::from_millis(50);

/// Runs a computation that takes the library's cancellation hook with the GIL released, in
/// the pool of `threads`: Ctrl-C stops it at its next cancellation point (see the module
/// documentation) and raises KeyboardInterrupt (the outer error; the inner one is the
/// library's). The computation runs as a job on one of the pool's own workers (no thread is
/// started per call: a worker's allocator heap is reused from call to call, so a large
/// result's memory is not fresh pages each time). For long calls only.
fn cancellable<T, F>(py: Python<'_>, threads: Option<i64>, f: F) -> PyResult<gradflow::Result<T>>
where
    T: Send,
    F: FnOnce(Cancel<'_>) -> gradflow::Result<T> + Send,
{
    let pool = pool(threads)?;
    let stop = AtomicBool::new(false);
    let done = (Mutex::new(false), Condvar::new());
    let slot: Mutex<Option<gradflow::Result<T>>> = Mutex::new(None);
    let (stop, done, slot) = (&stop, &done, &slot);
    let wait = move |timeout: Option<Duration>| -> bool {
        let (lock, cv) = done;
        let Ok(guard) = lock.lock() else { return true };
        match timeout {
            Some(t) => cv
                .wait_timeout_while(guard, t, |d| !*d)
                .map_or(true, |(g, _)| *g),
            None => cv.wait_while(guard, |d| !*d).map_or(true, |g| *g),
        }
    };
    let mut raised: Option<PyErr> = None;
    in_place_scope(pool.as_deref(), |scope| {
        scope.spawn(move |_| {
            // Marks the job done however it ends (a panic included: the scope re-raises it).
            let _finished = Finished(done);
            let hook = move || stop.load(Ordering::Relaxed);
            let result = f(Cancel::new(&hook));
            if let Ok(mut s) = slot.lock() {
                *s = Some(result);
            }
        });
        while !py.detach(|| wait(Some(SIGNAL_POLL))) {
            if let Err(e) = py.check_signals() {
                raised = Some(e);
                stop.store(true, Ordering::Relaxed);
                py.detach(|| wait(None));
                break;
            }
        }
    });
    if let Some(e) = raised {
        return Err(e);
    }
    let result = slot.lock().ok().and_then(|mut s| s.take());
    result.ok_or_else(|| PyValueError::new_err("the computation ended without a result"))
}

/// `op` in a scope of `pool`'s (`None`: rayon's global pool) run on the calling thread, whose
/// spawned jobs run on the pool's workers; returns when they have all ended.
fn in_place_scope<'scope, R>(
    pool: Option<&ThreadPool>,
    op: impl FnOnce(&rayon::Scope<'scope>) -> R,
) -> R {
    match pool {
        Some(p) => p.in_place_scope(op),
        None => rayon::in_place_scope(op),
    }
}

/// Sets the done flag of [`cancellable`]'s job and wakes the waiting thread when dropped.
struct Finished<'a>(&'a (Mutex<bool>, Condvar));

impl Drop for Finished<'_> {
    fn drop(&mut self) {
        let (lock, cv) = self.0;
        if let Ok(mut d) = lock.lock() {
            *d = true;
        }
        cv.notify_all();
    }
}

/// A computation that takes the library's cancellation hook, run by [`cancellable`]
/// when `long` (Ctrl-C honoured), else by [`detach`] without a hook (no helper thread: the
/// per-call cost of a short call stays that of a plain library call). Its error names the
/// CLI's flags in `names` by the Python function's arguments.
pub fn run_cancellable<T, F>(
    py: Python<'_>,
    threads: Option<i64>,
    long: bool,
    names: Names,
    f: F,
) -> PyResult<T>
where
    T: Send,
    F: FnOnce(Cancel<'_>) -> gradflow::Result<T> + Send,
{
    let result = if long {
        cancellable(py, threads, f)?
    } else {
        detach_raw(py, threads, move || f(Cancel::NEVER))?
    };
    result.or_raise_as(names)
}
