//! Interruption of the loops that are not handed a [`Cancel`] hook. The claims of `reproduce`
//! run sweeps ([`crate::sweep`]) and training loops ([`crate::train`]) through their plain entry
//! points, which pass [`Cancel::NEVER`]; for a caller's hook to reach them, [`watch`] runs the
//! computation while a helper thread polls the hook, and once it fires raises a process-wide
//! request that every [`Cancel::check`] (that of [`Cancel::NEVER`] included) and every sweep
//! cell honour until the watched computation returns. A computation stops at its next such
//! point: a claim within a training step or a sweep cell's first check, instead of at its end.
//!
//! The request is process-wide (rayon's workers run the cells, so no thread-local could carry
//! it): while it stands, any other gradflow computation in the process stops at its next
//! cancellation point too. The CLI does not need it (its signal handler ends the process).

use super::Cancel;
use crate::error::{Error, Result};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

/// Watched computations whose hook has fired and that have not returned yet.
static REQUESTS: AtomicUsize = AtomicUsize::new(0);

/// How often [`watch`]'s helper thread polls the hook.
const POLL: Duration = Duration::from_millis(10);

/// Whether an interruption is requested (a watched computation's hook fired, see the module
/// documentation).
pub fn requested() -> bool {
    REQUESTS.load(Ordering::Relaxed) > 0
}

/// Ok unless an interruption is requested; else [`Error::Interrupted`] naming `at`.
pub fn check(at: impl FnOnce() -> String) -> Result<()> {
    if requested() {
        return Err(Error::Interrupted { at: at() });
    }
    Ok(())
}

/// Runs `f` on this thread while a helper thread polls `cancel` every 10 ms; once it fires,
/// [`requested`] holds until `f` returns. Without a hook ([`Cancel::NEVER`]), or with one that
/// has already fired, just `f()`: `f` checks `cancel` itself before its first step, and no
/// request is raised for other computations of the process.
pub fn watch<T>(cancel: Cancel, f: impl FnOnce() -> T) -> T {
    let Some(hook) = cancel.hook.filter(|hook| !hook()) else {
        return f();
    };
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        let done = &done;
        let watcher = s.spawn(move || {
            let mut raised = false;
            while !done.load(Ordering::Acquire) {
                if !raised && hook() {
                    REQUESTS.fetch_add(1, Ordering::Relaxed);
                    raised = true;
                }
                std::thread::park_timeout(POLL);
            }
            if raised {
                REQUESTS.fetch_sub(1, Ordering::Relaxed);
            }
        });
        let out = f();
        done.store(true, Ordering::Release);
        watcher.thread().unpark();
        let _ = watcher.join();
        out
    })
}
