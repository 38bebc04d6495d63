//! Hostile paths and faults through the `gradflow` binary: outputs that are not regular files,
//! inputs that never end, damaged, foreign and edited checkpoints, concurrent runs into one
//! folder, stale temporaries, and SIGINT / SIGTERM in the middle of a write.
//!
//! `GRADFLOW_TEST_BINARY` runs these checks against another build of the binary.

#![cfg(unix)]

use gradflow::data::io::npy_bytes;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};
mod common;
use std::sync::LazyLock;

use common::{binary, scratch, stderr};

fn spawn(args: &[&str], cwd: &Path) -> Child {
    Command::new(binary())
        .args(args)
        .current_dir(cwd)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs")
}

/// Runs the binary; one that has not finished after `limit` is killed and fails the test (an
/// input read without bound hangs).
fn gradflow_within(args: &[&str], cwd: &Path, limit: Duration) -> Output {
    let mut child = spawn(args, cwd);
    let start = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("gradflow {args:?} still running after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("output")
}

fn gradflow(args: &[&str], cwd: &Path) -> Output {
    gradflow_within(args, cwd, Duration::from_secs(120))
}

fn mkfifo(path: &Path) {
    let ok = Command::new("mkfifo").arg(path).status().expect("mkfifo");
    assert!(ok.success());
}

/// A folder with a small input `x.npy` (6 points in 2-D).
fn with_inputs(name: &str) -> PathBuf {
    let dir = scratch(name);
    let x: Vec<f64> = (0..12).map(|i| (i as f64 * 0.37).sin()).collect();
    std::fs::write(dir.join("x.npy"), npy_bytes(&[6, 2], &x)).unwrap();
    dir
}

fn kernel_to(dir: &Path, out: &str) -> Output {
    gradflow(
        &["kernel", "--x", "x.npy", "--depth", "1", "--out", out],
        dir,
    )
}

/// The names in `dir` of files that look like temporaries.
fn temporaries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("tmp"))
        .collect()
}

#[test]
fn outputs_that_are_not_regular_files_are_refused() {
    let dir = with_inputs("outputs");
    // A FIFO: refused, and still a FIFO.
    mkfifo(&dir.join("fifo"));
    let o = kernel_to(&dir, "fifo");
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("fifo: exists and is a FIFO"),
        "{}",
        stderr(&o)
    );
    let t = std::fs::symlink_metadata(dir.join("fifo"))
        .unwrap()
        .file_type();
    assert!(t.is_fifo(), "the FIFO was replaced");
    // A directory.
    std::fs::create_dir(dir.join("sub")).unwrap();
    let o = kernel_to(&dir, "sub");
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("sub: exists and is a directory"),
        "{}",
        stderr(&o)
    );
    // A socket.
    let _listener = std::os::unix::net::UnixListener::bind(dir.join("sock")).unwrap();
    let o = kernel_to(&dir, "sock");
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("is a socket"), "{}", stderr(&o));
    // A character device (the numbers of /dev/null; creating one needs root).
    let made = Command::new("mknod")
        .args(["node", "c", "1", "3"])
        .current_dir(&dir)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if made {
        let o = kernel_to(&dir, "node");
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert!(
            stderr(&o).contains("is a character device"),
            "{}",
            stderr(&o)
        );
        let t = std::fs::symlink_metadata(dir.join("node"))
            .unwrap()
            .file_type();
        assert!(t.is_char_device(), "the device node was replaced");
    }
    // A link to a directory is refused the same way, naming both.
    std::os::unix::fs::symlink("sub", dir.join("to_sub")).unwrap();
    let o = kernel_to(&dir, "to_sub");
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("links to"), "{}", stderr(&o));
    // `run --out` naming a file.
    std::fs::write(dir.join("spec.toml"), SPEC.as_str()).unwrap();
    std::fs::write(dir.join("afile"), b"").unwrap();
    let o = gradflow(&["run", "spec.toml", "--out", "afile"], &dir);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("afile: exists and is not a folder"),
        "{}",
        stderr(&o)
    );
    assert!(temporaries(&dir).is_empty(), "{:?}", temporaries(&dir));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_symbolic_link_is_written_through_and_kept() {
    let dir = with_inputs("symlink");
    std::fs::create_dir(dir.join("store")).unwrap();
    std::os::unix::fs::symlink("store/k.npy", dir.join("k.npy")).unwrap();
    let o = kernel_to(&dir, "k.npy");
    assert!(o.status.success(), "{}", stderr(&o));
    let link = std::fs::symlink_metadata(dir.join("k.npy")).unwrap();
    assert!(link.file_type().is_symlink(), "the link was replaced");
    let k = gradflow::data::io::read_npy_matrix(&dir.join("store/k.npy")).unwrap();
    assert_eq!((k.rows, k.cols), (6, 6));
    // Written again through the link: replaced atomically, still through it.
    let o = kernel_to(&dir, "k.npy");
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(std::fs::symlink_metadata(dir.join("k.npy"))
        .unwrap()
        .file_type()
        .is_symlink());
    assert!(temporaries(&dir).is_empty() && temporaries(&dir.join("store")).is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn inputs_that_never_end_are_read_only_as_far_as_the_header_declares() {
    let dir = with_inputs("inputs");
    let limit = Duration::from_secs(30);
    // /dev/zero as points and as a spec: refused at once, not read without end.
    let o = gradflow_within(
        &[
            "kernel",
            "--x",
            "/dev/zero",
            "--depth",
            "1",
            "--out",
            "k.npy",
        ],
        &dir,
        limit,
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("/dev/zero: not an NPY file"),
        "{}",
        stderr(&o)
    );
    let o = gradflow_within(&["run", "/dev/zero", "--out", "out"], &dir, limit);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("/dev/zero"), "{}", stderr(&o));
    // A directory as input.
    let o = gradflow_within(
        &["kernel", "--x", ".", "--depth", "1", "--out", "k.npy"],
        &dir,
        limit,
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("is a directory"), "{}", stderr(&o));
    // A FIFO whose writer sends a valid array and then zeros without end: the array is read,
    // the rest is not (the writer stops on the closed pipe).
    let fifo = dir.join("x.fifo");
    mkfifo(&fifo);
    let bytes = std::fs::read(dir.join("x.npy")).unwrap();
    let writer = std::thread::spawn({
        let fifo = fifo.clone();
        move || {
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
            f.write_all(&bytes).unwrap();
            let zeros = vec![0u8; 1 << 16];
            let mut sent = 0u64;
            while f.write_all(&zeros).is_ok() {
                sent += zeros.len() as u64;
                if sent > 1 << 34 {
                    break;
                }
            }
            sent
        }
    });
    let o = gradflow_within(
        &["kernel", "--x", "x.fifo", "--depth", "1", "--out", "k.npy"],
        &dir,
        limit,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(writer.join().unwrap() < 1 << 34, "the reader never stopped");
    let k = gradflow::data::io::read_npy_matrix(&dir.join("k.npy")).unwrap();
    assert_eq!((k.rows, k.cols), (6, 6));
    let _ = std::fs::remove_dir_all(&dir);
}

static SPEC: LazyLock<String> = LazyLock::new(|| {
    common::sphere_spec(
        2,
        "n = 30",
        16,
        "steps = 40\nrecord_every = 10\ncheckpoint_every = 20",
    )
});

/// A finished checkpointed run of `spec` in a fresh folder.
fn checkpointed(name: &str, spec: &str) -> PathBuf {
    let dir = scratch(name);
    std::fs::write(dir.join("spec.toml"), spec).unwrap();
    let o = gradflow(&["run", "spec.toml", "--out", "out"], &dir);
    assert!(o.status.success(), "{}", stderr(&o));
    dir
}

fn resume(dir: &Path) -> Output {
    gradflow(&["run", "spec.toml", "--out", "out", "--resume"], dir)
}

fn assert_refused(o: &Output, needles: &[&str]) {
    assert_eq!(o.status.code(), Some(2), "{}", stderr(o));
    for n in needles {
        assert!(stderr(o).contains(n), "'{n}' not in: {}", stderr(o));
    }
}

#[test]
fn damaged_foreign_and_edited_checkpoints_are_refused() {
    let dir = checkpointed("ckpt", &SPEC);
    let ck0 = dir.join("out/checkpoint_trial0.bin");
    let ck1 = dir.join("out/checkpoint_trial1.bin");
    let good = std::fs::read(&ck0).unwrap();
    assert!(
        resume(&dir).status.success(),
        "the run's own checkpoints resume"
    );
    // A flipped bit in the middle (θ).
    let mut flipped = good.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x10;
    std::fs::write(&ck0, &flipped).unwrap();
    assert_refused(
        &resume(&dir),
        &["checkpoint_trial0.bin", "checksum does not match"],
    );
    // Trial 1's checkpoint in trial 0's place.
    std::fs::copy(&ck1, &ck0).unwrap();
    assert_refused(&resume(&dir), &["trial: 1 in the checkpoint, 0 now"]);
    std::fs::write(&ck0, &good).unwrap();
    // The seed, the learning rate, the width, the number of trials or steps edited.
    for (from, to, needle) in [
        ("seed = 1", "seed = 2", "seed: 1 in the checkpoint, 2 now"),
        ("lr = 0.5", "lr = 0.25", "optimizer[0].lr"),
        (
            "width = 16",
            "width = 17",
            "model.width: 16 in the checkpoint, 17 now",
        ),
        (
            "trials = 2",
            "trials = 3",
            "trials: 2 in the checkpoint, 3 now",
        ),
        (
            "steps = 40",
            "steps = 60",
            "train.steps: 40 in the checkpoint, 60 now",
        ),
    ] {
        std::fs::write(dir.join("spec.toml"), SPEC.replace(from, to)).unwrap();
        assert_refused(&resume(&dir), &["cannot resume", needle]);
    }
    // What changes no result does not block a resume: the title, the checkpoint interval,
    // `lr = 0.5` written as `lr = 5e-1`.
    let cosmetic = SPEC
        .replace("seed = 1", "name = \"renamed\"\nseed = 1")
        .replace("checkpoint_every = 20", "checkpoint_every = 10")
        .replace("lr = 0.5", "lr = 5e-1");
    std::fs::write(dir.join("spec.toml"), cosmetic).unwrap();
    let o = resume(&dir);
    assert!(o.status.success(), "{}", stderr(&o));
    std::fs::write(dir.join("spec.toml"), SPEC.as_str()).unwrap();
    // A header claiming step 10⁹ (with a valid checksum and fingerprint).
    let mut c = gradflow::train::Checkpoint::load(&ck0).unwrap();
    c.state.step = 1_000_000_000;
    c.save(&ck0).unwrap();
    assert_refused(
        &resume(&dir),
        &["step 1000000000 is beyond train.steps = 40"],
    );
    // A format-1 file.
    std::fs::write(&ck0, b"gradflow-checkpoint 1\n\0\0\0\0").unwrap();
    assert_refused(&resume(&dir), &["format 1"]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_output_folder_is_locked_while_a_run_writes_it() {
    let dir = checkpointed("lock", &SPEC);
    // A run holding the folder (this process, through the same lock).
    let held = gradflow::fsutil::lock::FolderLock::acquire(&dir.join("out")).unwrap();
    let o = gradflow(&["run", "spec.toml", "--out", "out"], &dir);
    assert_refused(
        &o,
        &[
            ".gradflow.lock",
            &format!("being written by process {}", std::process::id()),
        ],
    );
    drop(held);
    // A lock file left by a process that no longer exists is taken over, and the temporaries
    // such a process left (killed while writing a checkpoint) are removed.
    let mut child = Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    std::fs::write(dir.join("out/.gradflow.lock"), format!("{dead}\n")).unwrap();
    let stale = dir.join(format!("out/.checkpoint_trial0.bin.gradflow-tmp.{dead}"));
    std::fs::write(&stale, b"partial").unwrap();
    let o = resume(&dir);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!stale.exists(), "the stale temporary stayed");
    // Two runs started together: exactly one writes (the other exits 2 naming the lock), or
    // they ran one after the other.
    let slow = SPEC.replace("steps = 40", "steps = 4000");
    std::fs::write(dir.join("spec.toml"), slow).unwrap();
    let a = spawn(&["run", "spec.toml", "--out", "both"], &dir);
    let b = spawn(&["run", "spec.toml", "--out", "both"], &dir);
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    let codes = [a.status.code(), b.status.code()];
    assert!(
        codes.contains(&Some(0)),
        "{codes:?}: {} {}",
        stderr(&a),
        stderr(&b)
    );
    if codes.contains(&Some(2)) {
        let loser = if a.status.code() == Some(2) { &a } else { &b };
        assert!(
            stderr(loser).contains(".gradflow.lock"),
            "{}",
            stderr(loser)
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Sends `signal` (`kill`'s spelling, e.g. `-INT`) to `child` and checks that it ends with
/// exit code `code` within `limit` of the signal; returns its output.
fn signal_and_wait(
    mut child: std::process::Child,
    signal: &str,
    code: i32,
    limit: Duration,
) -> Output {
    let pid = child.id().to_string();
    let sent = Command::new("kill").args([signal, &pid]).status().unwrap();
    assert!(sent.success());
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        assert!(
            start.elapsed() < limit,
            "still running {limit:?} after kill {signal}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(code), "{:?} {}", o.status, stderr(&o));
    o
}

/// Starts a long `kernel` job, waits for its temporary file, sends `signal`, and checks the
/// exit code and that no temporary and no output remains.
fn interrupted(name: &str, signal: &str, code: i32) {
    let dir = scratch(name);
    let n = 3000;
    let x: Vec<f64> = (0..n * 3).map(|i| (i as f64 * 0.731).sin()).collect();
    std::fs::write(dir.join("x.npy"), npy_bytes(&[n, 3], &x)).unwrap();
    let mut child = spawn(
        &[
            "kernel",
            "--x",
            "x.npy",
            "--depth",
            "3",
            "--activation",
            "gelu",
            "--block-rows",
            "64",
            "--out",
            "k.npy",
        ],
        &dir,
    );
    let start = Instant::now();
    while temporaries(&dir).is_empty() {
        assert!(
            child.try_wait().unwrap().is_none(),
            "finished before the signal"
        );
        assert!(start.elapsed() < Duration::from_secs(60), "no temporary");
        std::thread::sleep(Duration::from_millis(10));
    }
    signal_and_wait(child, signal, code, Duration::from_secs(60));
    assert!(temporaries(&dir).is_empty(), "{:?}", temporaries(&dir));
    assert!(!dir.join("k.npy").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sigterm_removes_the_temporary_and_exits_143() {
    interrupted("sigterm", "-TERM", 143);
}

#[test]
fn sigint_removes_the_temporary_and_exits_130() {
    interrupted("sigint", "-INT", 130);
}

/// Starts a long command in `dir`, sends SIGINT after a second and checks that it ends with
/// 130 within two seconds of the signal, leaving no temporary in `dir` or `dir/out`.
fn interrupted_command(dir: &Path, args: &[&str]) {
    let mut child = spawn(args, dir);
    std::thread::sleep(Duration::from_secs(1));
    assert!(
        child.try_wait().unwrap().is_none(),
        "{args:?} finished before the signal"
    );
    signal_and_wait(child, "-INT", 130, Duration::from_secs(2));
    assert!(temporaries(dir).is_empty(), "{:?}", temporaries(dir));
    if dir.join("out").is_dir() {
        assert!(
            temporaries(&dir.join("out")).is_empty(),
            "{:?}",
            temporaries(&dir.join("out"))
        );
    }
}

#[test]
fn sigint_stops_a_long_sinkhorn_run_with_130() {
    let dir = scratch("sigint-ot");
    let n = 1500;
    let x: Vec<f64> = (0..n * 2).map(|i| (i as f64 * 0.731).sin()).collect();
    let y: Vec<f64> = (0..n * 2).map(|i| (i as f64 * 0.377).cos()).collect();
    std::fs::write(dir.join("x.npy"), npy_bytes(&[n, 2], &x)).unwrap();
    std::fs::write(dir.join("y.npy"), npy_bytes(&[n, 2], &y)).unwrap();
    // An unreachable tolerance: 10⁶ passes over 2.25e6 costs without the signal.
    interrupted_command(
        &dir,
        &[
            "ot",
            "--x",
            "x.npy",
            "--y",
            "y.npy",
            "--method",
            "sinkhorn",
            "--reg",
            "1e-3",
            "--tol",
            "1e-300",
            "--max-iter",
            "1000000",
            "--plan",
            "plan.npy",
        ],
    );
    assert!(!dir.join("plan.npy").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sigint_stops_a_long_training_run_with_130() {
    let dir = scratch("sigint-run");
    // 10⁹ steps of gradient descent on a quadratic: minutes without the signal.
    std::fs::write(
        dir.join("long.toml"),
        "[model]\nkind = \"potential\"\npotential = { kind = \"quadratic\", k = 1.0 }\n\
         dim = 2\n[[optimizer]]\nkind = \"sgd\"\nlr = 1e-9\n\
         [train]\nsteps = 1000000000\nrecord_every = 10000000\ncheckpoint_every = 50000000\n",
    )
    .unwrap();
    interrupted_command(&dir, &["run", "long.toml", "--out", "out"]);
    assert!(!dir.join("out/metrics.csv").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn sigint_stops_reproduce_in_the_middle_of_a_claim_with_130() {
    let dir = scratch("sigint-reproduce");
    // ntk-linear-rate takes tens of seconds even with --quick: the signal comes inside it.
    interrupted_command(
        &dir,
        &[
            "reproduce",
            "--only",
            "ntk-linear-rate",
            "--quick",
            "--quiet",
            "--out",
            "out",
        ],
    );
    // No finished report: no summary, no page, no folder of the interrupted claim.
    for left in ["summary.json", "index.html", "ntk-linear-rate"] {
        assert!(!dir.join("out").join(left).exists(), "{left} was written");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Output into a pipe its reader has closed (`gradflow ot … --json | head -c 10`) ends the
/// process quietly — by SIGPIPE, as `cat` or `grep` end — never with a panic (exit 101,
/// "failed printing to stdout: Broken pipe", seen before the fix).
#[test]
fn a_closed_stdout_pipe_ends_the_run_without_a_panic() {
    let dir = scratch("closed-pipe");
    let x: Vec<f64> = (0..2000).map(|i| (i as f64 * 0.37).sin()).collect();
    std::fs::write(dir.join("x.npy"), npy_bytes(&[2000, 1], &x)).unwrap();
    let mut child = Command::new(binary())
        .args([
            "ot", "--x", "x.npy", "--y", "x.npy", "--method", "1d", "--json",
        ])
        .current_dir(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let message = stderr(&out);
    assert!(!message.contains("panicked"), "{message}");
    assert_ne!(out.status.code(), Some(101), "{message}");
    let _ = std::fs::remove_dir_all(&dir);
}
