//! Where the work runs: the GIL is released for the whole computation (other Python threads
//! run meanwhile), inside a rayon pool of the requested size (`threads=`, or the module-level
//! [`set_threads`]; default: rayon's global pool over all cores). Pools are built once per
//! size and kept, so `threads=` costs nothing per call after the first. Results never depend
//! on the thread count (the library's contract).

use crate::errors::OrRaise;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use rayon::ThreadPool;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

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
    let n = usize::try_from(threads).unwrap_or(0);
    // The CLI's --threads range (1 to 16 per core, at least 256 allowed).
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let most = (16 * cores).max(256);
    if !(1..=most).contains(&n) {
        return Err(gradflow::Error::invalid(
            "threads",
            format!("expected 1 to {most} threads (16 per core, at least 256), got {threads}"),
        ))
        .or_raise();
    }
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
    let pool = pool(threads)?;
    py.detach(move || match pool {
        Some(p) => p.install(f),
        None => f(),
    })
    .or_raise()
}
