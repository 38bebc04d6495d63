//! One library function per command of the `gradflow` CLI — the functions the CLI, the Python
//! module and any other front end call, so that every rule (defaults, validation, formulas)
//! exists once.
//!
//! Each command module has
//! * a typed `Request` (plain Rust values; defaults by [`Default`], the CLI's defaults) whose
//!   `validate()` owns every check of the command's settings — each error names the field;
//! * `run(&Request, inputs…, …)` computing a typed result (matrices, reports) from in-memory
//!   inputs ([`Input`], [`crate::transport::Measure`]): no file is read or written, except by
//!   the commands whose result *is* a folder (`run` with an output folder, `reproduce`);
//! * for the CLI, `save`/`write` helpers that write the result atomically (temporary file +
//!   rename, [`crate::data::io::write_atomic`]) and the JSON summaries the CLI prints.
//!
//! | command | request | computation |
//! |---|---|---|
//! | `kernel` | [`kernel::Request`] | [`kernel::run`] (in memory), [`kernel::save`] (streamed) |
//! | `predict` | [`predict::Request`] | [`predict::run`] |
//! | `ot` | [`ot::Request`] (= [`crate::transport::Settings`]) | [`ot::run`] |
//! | `run` | [`run::Request`] | [`run::run`] |
//! | `reproduce` | [`reproduce::Request`] (= [`crate::claims::Options`]) | [`reproduce::run`] |
//! | `list` | — | [`list::run`] |
//! | `--threads` | [`threads::validate`] | [`threads::install`] |
//!
//! Interruption: the CLI installs [`crate::signals::install`] (SIGINT / SIGTERM remove every
//! temporary file and exit with 130 / 143), which stops any computation. A caller that must
//! survive the interruption (a Python session) passes a [`Cancel`] hook instead: `kernel`
//! polls it before each block of rows and `predict` before each of its kernels and before the
//! flow; the optimal-transport solvers, training runs and claims do not poll it (they stop
//! only by the signal handling).

pub mod args;
pub mod conv;
pub mod input;
pub mod kernel;
pub mod list;
pub mod ot;
pub mod predict;
pub mod reproduce;
pub mod run;
pub mod threads;

pub use input::Input;

use crate::error::{Error, Result};

/// A cancellation hook: a function polled at the cancellation points of a long computation;
/// once it returns `true` the computation stops with [`Error::Interrupted`]. The default never
/// cancels.
#[derive(Clone, Copy, Default)]
pub struct Cancel<'a> {
    hook: Option<&'a (dyn Fn() -> bool + Sync)>,
}

impl<'a> Cancel<'a> {
    /// Never cancels.
    pub const NEVER: Cancel<'static> = Cancel { hook: None };

    /// Cancels once `hook()` returns `true` (e.g. a flag set by a signal handler, or a poll
    /// of the host language's pending interrupts).
    pub fn new(hook: &'a (dyn Fn() -> bool + Sync)) -> Cancel<'a> {
        Cancel { hook: Some(hook) }
    }

    /// Ok while not cancelled; else [`Error::Interrupted`] naming `at`, where it stopped.
    pub fn check(&self, at: impl FnOnce() -> String) -> Result<()> {
        match self.hook {
            Some(hook) if hook() => Err(Error::Interrupted { at: at() }),
            _ => Ok(()),
        }
    }
}

impl std::fmt::Debug for Cancel<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = if self.hook.is_some() { "hook" } else { "never" };
        f.debug_tuple("Cancel").field(&what).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cancel_stops_once_its_hook_says_so() {
        assert!(Cancel::NEVER.check(|| unreachable!()).is_ok());
        assert!(Cancel::default().check(|| unreachable!()).is_ok());
        let flag = std::sync::atomic::AtomicBool::new(false);
        let hook = || flag.load(std::sync::atomic::Ordering::Relaxed);
        let cancel = Cancel::new(&hook);
        assert!(cancel.check(|| "here".into()).is_ok());
        flag.store(true, std::sync::atomic::Ordering::Relaxed);
        let e = cancel.check(|| "here".into()).unwrap_err();
        assert_eq!(e.to_string(), "interrupted here");
        assert_eq!(e.exit_code(), 130);
    }
}
