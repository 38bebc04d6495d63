//! `gradflow` under `mpirun --oversubscribe -n 1/2/3` (built with `--features mpi`, Open MPI
//! installed): the distributed kernel file and the distributed conjugate-gradient predictions
//! against the single-process ones, and a failure on one rank ending every rank.
//!
//! As root, mpirun needs OMPI_ALLOW_RUN_AS_ROOT=1 and OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; the
//! tests set them.
#![cfg(feature = "mpi")]

use gradflow::data::io::write_npy_matrix;
use gradflow::linalg::Matrix;
use std::path::Path;
use std::process::{Command, Output};
mod common;
use common::relative_gap;

use common::{assert_same_bytes, finish, mpirun, ok, scratch};

const BIN: &str = env!("CARGO_BIN_EXE_gradflow");

/// `gradflow` with `args` on `ranks` ranks.
fn on_ranks(ranks: usize, args: &[&str]) -> Output {
    let n = ranks.to_string();
    let mut all = vec!["-n", n.as_str(), BIN];
    all.extend_from_slice(args);
    mpirun(&all)
}

/// `gradflow` with `args`, one process, no MPI.
fn single(args: &[&str]) -> Output {
    finish({
        let mut c = Command::new(BIN);
        c.args(args);
        c
    })
}

/// The rank counts every distributed prediction is compared over: P = 1, 2, 3 with the kernel
/// stored on the ranks, and P = 2, 3 with `--matrix-free`.
const RANK_RUNS: [(usize, Option<&str>); 5] = [
    (1, None),
    (2, None),
    (3, None),
    (2, Some("--matrix-free")),
    (3, Some("--matrix-free")),
];

/// Runs `gradflow args` (then `extra`, when given) on `ranks` ranks, asserts that it succeeded
/// and returns its `--json` summary.
fn json_on_ranks(ranks: usize, args: &[String], extra: Option<&str>) -> serde_json::Value {
    let mut a: Vec<&str> = args.iter().map(String::as_str).collect();
    a.extend(extra);
    let o = on_ranks(ranks, &a);
    ok(&o, &format!("{} on {ranks} ranks {extra:?}", args[0]));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// One job of `gradflow good` on rank 0 and `gradflow bad` (whose input `missing.npy` does not
/// exist) on the next `bad_ranks` ranks: asserts that it fails with a message naming the file
/// and returns its standard error.
fn fails_on_missing_input(good: Vec<String>, bad: Vec<String>, bad_ranks: usize) -> String {
    let mut args: Vec<String> = vec!["-n".into(), "1".into(), BIN.into()];
    args.extend(good);
    args.extend([":".into(), "-n".into(), bad_ranks.to_string(), BIN.into()]);
    args.extend(bad);
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = mpirun(&a);
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(!o.status.success(), "{stderr}");
    assert!(stderr.contains("missing.npy"), "{stderr}");
    stderr
}

/// The values of an f64 NPY file (version 1 header).
fn values(path: &Path) -> Vec<f64> {
    let bytes = std::fs::read(path).unwrap();
    let header = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    bytes[10 + header..]
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

fn inputs(dir: &Path, n: usize, m: usize) -> (String, String, String) {
    let x = Matrix::from_fn(n, 3, |i, j| ((i * 7 + j * 3) as f64 * 0.37).sin());
    let y = Matrix::from_fn(n, 2, |i, j| {
        (x.get(i, 0) * (j + 1) as f64).cos() + x.get(i, 2)
    });
    let xt = Matrix::from_fn(m, 3, |i, j| ((i * 5 + j * 11) as f64 * 0.23).cos());
    let name = |f: &str| dir.join(f).to_string_lossy().into_owned();
    write_npy_matrix(Path::new(&name("x.npy")), &x).unwrap();
    write_npy_matrix(Path::new(&name("y.npy")), &y).unwrap();
    write_npy_matrix(Path::new(&name("xt.npy")), &xt).unwrap();
    (name("x.npy"), name("y.npy"), name("xt.npy"))
}

/// `mpirun -n P gradflow kernel` writes the single-process file byte for byte, for K(x, x)
/// (symmetric: every pair computed once) and K(x, x2), P = 1, 2, 3, blocks not aligned with
/// the ranks' rows.
#[test]
fn distributed_kernel_files_are_the_single_process_ones() {
    let dir = scratch("mpi-kernel");
    let (x, _, xt) = inputs(&dir, 37, 11);
    for x2 in [None, Some(xt.as_str())] {
        let args = |out: &str| {
            let mut a = vec![
                "kernel",
                "--x",
                x.as_str(),
                "--depth",
                "2",
                "--activation",
                "erf",
            ];
            a.extend(["--b-std", "0.2", "--block-rows", "5", "--out"]);
            a.push(Box::leak(out.to_string().into_boxed_str()));
            if let Some(x2) = x2 {
                a.extend(["--x2", x2]);
            }
            a
        };
        let reference = dir.join("k1.npy").to_string_lossy().into_owned();
        ok(&single(&args(&reference)), "single-process kernel");
        let expected = std::fs::read(&reference).unwrap();
        for p in 1..=3 {
            let out = dir
                .join(format!("k-{p}.npy"))
                .to_string_lossy()
                .into_owned();
            ok(&on_ranks(p, &args(&out)), &format!("kernel on {p} ranks"));
            assert_same_bytes(&out, &expected, &format!("kernel on {p} ranks, x2 {x2:?}"));
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `mpirun -n P gradflow predict` (t = ∞, PCG): bit-identical for P = 1, 2, 3 and with
/// --matrix-free, equal to one process's `predict --pcg` bit for bit, and to the Cholesky
/// `predict` within 1e-8 relative (the CG tolerance 1e-12 times the conditioning).
#[test]
fn distributed_predictions_do_not_depend_on_the_ranks_and_match_cholesky() {
    let dir = scratch("mpi-predict");
    let (x, y, xt) = inputs(&dir, 60, 9);
    let base = |out: &str| -> Vec<String> {
        let mut a: Vec<String> = ["predict", "--x-train", &x, "--y-train", &y, "--x-test", &xt]
            .iter()
            .map(|s| s.to_string())
            .collect();
        for s in [
            "--depth",
            "2",
            "--diag-reg",
            "1e-3",
            "--pcg-tol",
            "1e-12",
            "--pcg-rank",
        ] {
            a.push(s.into());
        }
        a.extend(["12".into(), "--block-rows".into(), "7".into()]);
        a.extend(["--json".into(), "--out".into(), out.into()]);
        a
    };
    let refs = |v: &[String]| -> Vec<String> { v.to_vec() };
    let run_single = |extra: &[&str], out: &str| {
        let mut a = refs(&base(out));
        a.extend(extra.iter().map(|s| s.to_string()));
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        let o = single(&a);
        ok(&o, "single-process predict");
        o
    };
    let cholesky = dir.join("chol.npy").to_string_lossy().into_owned();
    run_single(&[], &cholesky);
    let pcg = dir.join("pcg.npy").to_string_lossy().into_owned();
    let o = run_single(&["--pcg"], &pcg);
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let iterations = summary["pcg"]["iterations"].as_array().unwrap();
    assert_eq!(iterations.len(), 2, "{summary}");
    assert!(iterations.iter().all(|i| i.as_u64().unwrap() >= 1));
    let residual = &summary["pcg"]["residuals"][0];
    assert!(
        residual
            .as_array()
            .unwrap()
            .last()
            .unwrap()
            .as_f64()
            .unwrap()
            <= 1e-12
    );
    let (a, b) = (values(Path::new(&cholesky)), values(Path::new(&pcg)));
    let scale = a.iter().map(|v| v.abs()).fold(0.0, f64::max);
    let gap = a
        .iter()
        .zip(&b)
        .map(|(u, v)| (u - v).abs())
        .fold(0.0, f64::max);
    assert!(
        gap <= 1e-8 * scale,
        "PCG vs Cholesky: {gap:e} (scale {scale:e})"
    );
    let expected = std::fs::read(&pcg).unwrap();
    for (p, extra) in RANK_RUNS {
        let out = dir
            .join(format!("p-{p}-{}.npy", extra.is_some()))
            .to_string_lossy()
            .into_owned();
        let s = json_on_ranks(p, &base(&out), extra);
        assert_eq!(s["pcg"]["ranks"], p, "{s}");
        assert_eq!(s["pcg"]["iterations"], summary["pcg"]["iterations"]);
        assert_same_bytes(&out, &expected, &format!("predict on {p} ranks {extra:?}"));
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `mpirun -n P gradflow predict` at finite times (Lanczos over the distributed product):
/// the test and training predictions bit-identical for P = 1, 2, 3 and with --matrix-free,
/// equal to one process's `predict --pcg`; against the single-process `predict --solver
/// krylov` the training predictions bit for bit and the test ones within 1e-12 relative.
#[test]
fn distributed_finite_times_do_not_depend_on_the_ranks_and_match_one_process() {
    let dir = scratch("mpi-flow");
    let (x, y, xt) = inputs(&dir, 50, 8);
    let args = |tag: &str, extra: &[&str]| -> (Vec<String>, String, String) {
        let test = dir
            .join(format!("{tag}.npy"))
            .to_string_lossy()
            .into_owned();
        let train = dir
            .join(format!("{tag}-train.npy"))
            .to_string_lossy()
            .into_owned();
        let mut a: Vec<String> = ["predict", "--x-train", &x, "--y-train", &y, "--x-test", &xt]
            .iter()
            .map(|s| s.to_string())
            .collect();
        for s in [
            "--depth",
            "2",
            "--time",
            "0.5,30,1000",
            "--diag-reg",
            "1e-4",
        ] {
            a.push(s.into());
        }
        for s in [
            "--solver",
            "krylov",
            "--block-rows",
            "7",
            "--json",
            "--out",
            &test,
        ] {
            a.push(s.into());
        }
        a.extend(["--out-train".into(), train.clone()]);
        a.extend(extra.iter().map(|s| s.to_string()));
        (a, test, train)
    };
    let strs = |v: &[String]| -> Vec<String> { v.to_vec() };
    let run_single = |tag: &str, extra: &[&str]| {
        let (a, test, train) = args(tag, extra);
        let a = strs(&a);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        let o = single(&a);
        ok(&o, "single-process predict");
        let s: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        (s, values(Path::new(&test)), values(Path::new(&train)))
    };
    let (plain, plain_test, plain_train) = run_single("plain", &[]);
    let (summary, test, train) = run_single("local", &["--pcg"]);
    assert_eq!(summary["solver"], "krylov", "{summary}");
    assert_eq!(summary["krylov_steps"], plain["krylov_steps"], "{summary}");
    assert!(
        train == plain_train,
        "training predictions differ from one process's"
    );
    let gap = relative_gap(&test, &plain_test);
    assert!(gap <= 1e-12, "test predictions {gap:e} from one process's");
    let local = |f: &str| std::fs::read(dir.join(f)).unwrap();
    let (local_test, local_train) = (local("local.npy"), local("local-train.npy"));
    for (p, extra) in RANK_RUNS {
        let (a, out, out_train) = args(&format!("p{p}-{}", extra.is_some()), &[]);
        let s = json_on_ranks(p, &a, extra);
        assert_eq!(s["krylov_steps"], summary["krylov_steps"], "{s}");
        let what = format!("predict on {p} ranks {extra:?}");
        assert_same_bytes(&out, &local_test, &what);
        assert_same_bytes(&out_train, &local_train, &what);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A rank that cannot read its input ends the whole job: non-zero exit, the failing rank's
/// message, no hang (the other ranks wait in a collective), and no output file.
#[test]
fn a_failure_on_one_rank_ends_every_rank_with_its_message() {
    let dir = scratch("mpi-fault");
    let (x, y, xt) = inputs(&dir, 30, 4);
    let missing = dir.join("missing.npy").to_string_lossy().into_owned();
    let out = dir.join("p.npy").to_string_lossy().into_owned();
    let predict = |x: &str| -> Vec<String> {
        [
            "predict",
            "--x-train",
            x,
            "--y-train",
            &y,
            "--x-test",
            &xt,
            "--depth",
            "1",
        ]
        .iter()
        .chain(&["--diag-reg", "1e-3", "--out", &out])
        .map(|s| s.to_string())
        .collect()
    };
    // Rank 0 reads good inputs and goes on into the solve; ranks 1 and 2 fail.
    let stderr = fails_on_missing_input(predict(&x), predict(&missing), 2);
    assert!(
        stderr.contains("rank 1 of 3") || stderr.contains("rank 2 of 3"),
        "{stderr}"
    );
    assert!(!Path::new(&out).exists());
    // The kernel: rank 0 has created the temporary when rank 1 fails; nothing stays behind.
    let k = dir.join("k.npy").to_string_lossy().into_owned();
    let kernel = |x: &str| -> Vec<String> {
        ["kernel", "--x", x, "--depth", "1", "--out", &k]
            .iter()
            .map(|s| s.to_string())
            .collect()
    };
    fails_on_missing_input(kernel(&x), kernel(&missing), 1);
    std::thread::sleep(std::time::Duration::from_millis(500));
    let left: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|f| f.starts_with(".k.npy") || f == "k.npy")
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}
