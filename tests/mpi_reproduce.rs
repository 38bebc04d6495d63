//! `mpirun --oversubscribe -n P gradflow reproduce` (built with `--features mpi`, Open MPI
//! installed): the claims × seeds spread over 2 and 3 ranks write the files one process
//! writes — byte for byte, but for `index.html`'s date and thread count — and a failing or
//! interrupted rank ends the job with no output.
//!
//! As root, mpirun needs OMPI_ALLOW_RUN_AS_ROOT=1 and OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; the
//! tests set them.
#![cfg(feature = "mpi")]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_gradflow");

/// Three cheap claims (in the quick setting, under a second, under a second and a few
/// seconds), with tables and figures.
const CLAIMS: &str = "ntk-concentration,ntk-positive,smoothing";

/// A fresh folder for one test.
fn folder(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gradflow-mpirep-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Waits for `child`, killing it and failing the test after `limit` (a hang).
fn wait(mut child: Child, limit: Duration, what: &str) -> Output {
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > limit {
            let _ = child.kill();
            panic!("{what} still running after {limit:?}: a rank hangs");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

/// `mpirun --oversubscribe` with `args`, started (stdout and stderr piped).
fn mpirun(args: &[&str]) -> Child {
    Command::new("mpirun")
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .env("OMPI_MCA_rmaps_base_oversubscribe", "1")
        .arg("--oversubscribe")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("mpirun (Open MPI) must be installed to test the mpi feature")
}

/// The `reproduce` flags of these tests, writing into `out`.
fn flags(out: &Path) -> Vec<String> {
    let out = out.to_string_lossy().into_owned();
    [
        "reproduce",
        "--quick",
        "--only",
        CLAIMS,
        "--seeds",
        "0-1",
        "--quiet",
        "--out",
        &out,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// Every file under `dir`, as paths relative to it, sorted.
fn files(dir: &Path) -> Vec<PathBuf> {
    fn walk(root: &Path, dir: &Path, into: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, into);
            } else {
                into.push(path.strip_prefix(root).unwrap().to_path_buf());
            }
        }
    }
    let mut all = Vec::new();
    walk(dir, dir, &mut all);
    all.sort();
    all
}

/// `index.html` without its date and thread-count lines (`<dt>date</dt><dd>…</dd>`, the time
/// of the run, and `<dt>threads</dt><dd>…</dd>`, rank 0's worker threads: mpirun binds each
/// rank to a core), the fields that differ between two runs.
fn without_run_fields(html: &[u8]) -> String {
    let mut text = String::from_utf8(html.to_vec()).unwrap();
    for field in ["<dt>date</dt><dd>", "<dt>threads</dt><dd>"] {
        let start = text.find(field).expect("the header line");
        let end = start + text[start..].find("</dd>").unwrap();
        text.replace_range(start..end, "");
    }
    text
}

/// The single-process run and the runs on 2 and 3 ranks write the same files: every file
/// byte for byte (summary.json, seeds.json, seeds.csv, each claim's CSV and SVG files), but
/// for index.html's date and thread count; the same results table on stdout and the same exit
/// code.
#[test]
fn ranks_write_the_files_of_one_process() {
    let dir = folder("same");
    let single_out = dir.join("single");
    let single = wait(
        Command::new(BIN)
            .args(flags(&single_out))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
        Duration::from_secs(600),
        "gradflow reproduce",
    );
    let reference = files(&single_out);
    for f in [
        "seeds.json",
        "seeds.csv",
        "seed-0/summary.json",
        "seed-1/index.html",
    ] {
        assert!(reference.contains(&PathBuf::from(f)), "{f}: {reference:?}");
    }
    assert!(reference
        .iter()
        .any(|f| f.extension().is_some_and(|e| e == "svg")));
    for ranks in [2, 3] {
        let out = dir.join(format!("ranks-{ranks}"));
        let n = ranks.to_string();
        let mut args: Vec<String> = vec!["-n".into(), n, BIN.into()];
        args.extend(flags(&out));
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = wait(mpirun(&a), Duration::from_secs(600), "mpirun reproduce");
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(
            o.status.code(),
            single.status.code(),
            "{ranks} ranks: {stderr}"
        );
        assert_eq!(o.stdout, single.stdout, "{ranks} ranks: the results table");
        assert_eq!(files(&out), reference, "{ranks} ranks: the files written");
        for f in &reference {
            let (a, b) = (
                std::fs::read(single_out.join(f)).unwrap(),
                std::fs::read(out.join(f)).unwrap(),
            );
            if f.file_name().is_some_and(|n| n == "index.html") {
                assert_eq!(
                    without_run_fields(&a),
                    without_run_fields(&b),
                    "{ranks} ranks: {}",
                    f.display()
                );
            } else {
                assert!(a == b, "{ranks} ranks: {} differs", f.display());
            }
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A rank started with a bad flag ends the job (the others are running claims): non-zero
/// exit, the failing rank's message, and nothing written.
#[test]
fn a_bad_flag_on_one_rank_ends_the_job_with_no_output() {
    let dir = folder("fault");
    let out = dir.join("out");
    let mut args: Vec<String> = vec!["-n".into(), "1".into(), BIN.into()];
    args.extend(flags(&out));
    args.extend([":".into(), "-n".into(), "1".into(), BIN.into()]);
    let mut bad = flags(&out);
    bad[3] = "ntk-positive,no-such-claim".into();
    args.extend(bad);
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = wait(mpirun(&a), Duration::from_secs(300), "mpirun reproduce");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{stderr}");
    assert!(stderr.contains("no-such-claim"), "{stderr}");
    assert!(stderr.contains("rank 1 of 2"), "{stderr}");
    assert!(!out.join("seed-0").join("summary.json").exists());
    assert!(!out.join("seeds.csv").exists());
    // Ranks that agree on nothing but each valid: refused before any claim runs.
    let mut args: Vec<String> = vec!["-n".into(), "1".into(), BIN.into()];
    args.extend(flags(&out));
    args.extend([":".into(), "-n".into(), "1".into(), BIN.into()]);
    let mut other = flags(&out);
    other[5] = "0-2".into();
    args.extend(other);
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = wait(mpirun(&a), Duration::from_secs(300), "mpirun reproduce");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{stderr}");
    assert!(stderr.contains("other `reproduce` flags"), "{stderr}");
    assert!(!out.join("seeds.csv").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The processes whose parent is `pid` (from /proc/*/stat).
fn children(pid: u32) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid …: the fields after the last ')'.
        let after = &stat[stat.rfind(')').map_or(0, |i| i + 1)..];
        if after.split_whitespace().nth(1) == Some(&pid.to_string()) {
            found.push(child);
        }
    }
    found
}

/// Ctrl-C (SIGINT) to one rank while the claims run ends every rank: mpirun exits non-zero
/// and no output is written.
#[test]
fn an_interrupted_rank_ends_the_job_with_no_output() {
    let dir = folder("interrupt");
    let out = dir.join("out");
    let mut args: Vec<String> = vec!["-n".into(), "2".into(), BIN.into()];
    // Twenty seeds: a job long enough to be running when the signal comes, however fast the
    // machine (with two it could finish first, and there was nothing left to signal).
    args.extend(
        flags(&out)
            .into_iter()
            .map(|f| if f == "0-1" { "0-19".into() } else { f }),
    );
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let child = mpirun(&a);
    let launcher = child.id();
    // The two ranks: gradflow processes under mpirun.
    let started = Instant::now();
    let ranks = loop {
        let ranks: Vec<u32> = children(launcher)
            .into_iter()
            .filter(|&p| {
                std::fs::read_to_string(format!("/proc/{p}/comm"))
                    .is_ok_and(|c| c.trim() == "gradflow")
            })
            .collect();
        if ranks.len() == 2 || started.elapsed() > Duration::from_secs(60) {
            break ranks;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(ranks.len(), 2, "the ranks under mpirun {launcher}");
    std::thread::sleep(Duration::from_millis(500));
    let sent = Command::new("kill")
        .args(["-INT", &ranks[1].to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let o = wait(child, Duration::from_secs(120), "mpirun reproduce");
    assert!(
        !o.status.success(),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    for f in [
        "seeds.csv",
        "seeds.json",
        "seed-0/summary.json",
        "seed-1/summary.json",
    ] {
        assert!(!out.join(f).exists(), "{f} was written");
    }
    std::thread::sleep(Duration::from_millis(300));
    for p in ranks {
        assert!(
            !Path::new(&format!("/proc/{p}")).exists()
                || std::fs::read_to_string(format!("/proc/{p}/stat"))
                    .is_ok_and(|s| s.contains(") Z")),
            "rank process {p} still runs"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
