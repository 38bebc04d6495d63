//! SIGINT and SIGTERM: every writer's temporary files are removed before the process exits.
//!
//! [`install`] starts a thread that waits for either signal (through `signal-hook`, so the
//! handler itself only records the signal), then removes every registered temporary
//! ([`crate::fsutil::temp`]) and exits with 128 + the signal number: 130 for SIGINT, 143 for
//! SIGTERM, the codes a shell reports for a process those signals end. Finished outputs are
//! never removed: each is complete, or not yet renamed into place. SIGKILL cannot be caught; the
//! temporaries it leaves are removed by the next gradflow process that writes into that
//! folder.

/// Restores SIGPIPE's default action (the Rust runtime ignores it), for a command-line
/// process: writing to a closed pipe (`gradflow ot … --json | head -c 10`) then ends the
/// process quietly, as it ends `cat` or `grep`, instead of a panic in `println!` (exit 101).
/// Not for a process that embeds the library (a Python interpreter sets its own).
pub fn default_sigpipe() {
    #[cfg(target_os = "linux")]
    // SAFETY: `signal` with SIG_DFL installs no handler code; it only resets the disposition
    // of one signal, which is sound at any point of a single- or multi-threaded process.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// The exit code after a signal: 128 + its number.
pub fn exit_code(signal: i32) -> i32 {
    128 + signal
}

/// Installs the SIGINT / SIGTERM handling described in the module doc (once per process; on
/// systems without Unix signals, nothing).
pub fn install() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use signal_hook::consts::{SIGINT, SIGTERM};
        let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])?;
        std::thread::Builder::new()
            .name("gradflow-signals".into())
            .spawn(move || {
                if let Some(signal) = signals.forever().next() {
                    let name = if signal == SIGINT {
                        "SIGINT"
                    } else {
                        "SIGTERM"
                    };
                    eprintln!("gradflow: {name}: removing temporary files and exiting");
                    crate::fsutil::temp::remove_all_and_exit(exit_code(signal));
                }
            })?;
    }
    Ok(())
}
