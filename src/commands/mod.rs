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
//! polls it before each block of rows, `predict` before each of its kernels and before the
//! flow, `ot` in its solvers' loops (every Sinkhorn iteration, every few dozen pivots of the
//! network simplex), `run` before every training step and `reproduce` before every claim and,
//! through [`interrupt::watch`], inside them (every sweep cell, every training step).
//!
//! Messages: the library names a command's settings by the CLI's flags (`--max-iter`); a
//! front end with other names (Python's keyword arguments) rewrites them with [`renamed`].

pub mod args;
pub mod conv;
pub mod input;
pub mod interrupt;
pub mod kernel;
pub mod list;
pub mod ot;
pub mod predict;
pub mod reproduce;
pub mod run;
pub mod threads;

pub use input::{Input, InputView};

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

    /// Ok while not cancelled (by the hook, or by a request of [`interrupt::watch`]); else
    /// [`Error::Interrupted`] naming `at`, where it stopped.
    pub fn check(&self, at: impl FnOnce() -> String) -> Result<()> {
        match self.hook {
            Some(hook) if hook() => Err(Error::Interrupted { at: at() }),
            _ => interrupt::check(at),
        }
    }
}

/// The commands that run over the ranks of an MPI job; the others refuse to start under mpirun
/// (on one process every command runs).
pub const DISTRIBUTED: [&str; 4] = ["kernel", "predict", "reproduce", "run"];

/// Ok when `command` may run on `ranks` processes (see [`DISTRIBUTED`]); else an error naming
/// mpirun and the commands that do.
pub fn check_ranks(command: &str, ranks: usize) -> Result<()> {
    if ranks > 1 && !DISTRIBUTED.contains(&command) {
        return Err(Error::invalid(
            "mpirun",
            format!(
                "`{command}` does not run over MPI (only `{}` do); start it without mpirun",
                DISTRIBUTED.join("`, `")
            ),
        ));
    }
    Ok(())
}

/// How a front end other than the CLI names the CLI's flags: pairs (flag, its name there),
/// e.g. `("--max-iter", "numItermax")` for Python's `gradflow.ot.sinkhorn`. The library's
/// messages name settings by the CLI's flags; [`renamed`] turns a message into the front
/// end's words, so that the messages themselves exist once.
pub type Names<'a> = &'a [(&'a str, &'a str)];

/// `message` with every flag or field of `names` (as a whole word: neither preceded nor
/// followed by a letter, digit, `-` or `_`) replaced by its name there; longer ones first
/// (`--method exact` before `--method`). Each replacement is final (not rewritten again).
pub fn renamed(message: &str, names: Names) -> String {
    let mut order: Vec<&(&str, &str)> = names.iter().collect();
    order.sort_by_key(|(flag, _)| std::cmp::Reverse(flag.len()));
    let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '-' || c == '_');
    // Pieces of the message: (text, already replaced).
    let mut pieces: Vec<(String, bool)> = vec![(message.to_string(), false)];
    for (flag, name) in order {
        let mut next = Vec::new();
        for (text, done) in pieces {
            if done {
                next.push((text, true));
                continue;
            }
            let mut start = 0;
            let mut from = 0;
            while let Some(k) = text[from..].find(flag).map(|k| k + from) {
                let end = k + flag.len();
                let whole =
                    !word(text[..k].chars().next_back()) && !word(text[end..].chars().next());
                if whole {
                    next.push((text[start..k].to_string(), false));
                    next.push((name.to_string(), true));
                    start = end;
                }
                from = end;
            }
            next.push((text[start..].to_string(), false));
        }
        pieces = next;
    }
    pieces.into_iter().map(|(text, _)| text).collect()
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

    /// `ot` and `list` refuse several ranks, naming mpirun; every command runs on one.
    #[test]
    fn only_the_distributed_commands_run_on_several_ranks() {
        for command in DISTRIBUTED {
            assert!(check_ranks(command, 4).is_ok());
        }
        for command in ["ot", "list"] {
            assert!(check_ranks(command, 1).is_ok());
            let e = check_ranks(command, 2).unwrap_err().to_string();
            assert!(e.contains("mpirun") && e.contains(command), "{e}");
        }
    }

    #[test]
    fn renamed_replaces_whole_flags_only() {
        let names: Names = &[
            ("--max-iter", "numItermax"),
            ("--method", "method"),
            ("--method exact", "gradflow.ot.emd"),
            ("--reg", "reg"),
        ];
        let m = "raise --max-iter or --reg, or --method exact; --method, --regular, --max-iters";
        assert_eq!(
            renamed(m, names),
            "raise numItermax or reg, or gradflow.ot.emd; method, --regular, --max-iters"
        );
        // Plain field names as whole words only; a replacement is not rewritten again.
        let fields: Names = &[("tol", "stopThr"), ("--tol", "tol")];
        assert_eq!(
            renamed("invalid tol: loosen --tol (a tolerance), not stol", fields),
            "invalid stopThr: loosen tol (a tolerance), not stol"
        );
        assert_eq!(renamed("invalid --only: x", &[]), "invalid --only: x");
    }

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
