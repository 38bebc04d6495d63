//! `gradflow kernel --net` and `gradflow predict --net` under `mpirun --oversubscribe -n 1/2/3`
//! (built with `--features mpi`, Open MPI installed):
//! * every rank computes its row blocks of the convolutional kernel and writes them in place;
//!   the file is byte-identical to the one a single process writes, for K(x, x) and K(x, x2),
//!   whatever `--block-rows`;
//! * the distributed `predict --net` (Lanczos at finite times, Nyström-preconditioned CG at
//!   t = ∞, rows stored or recomputed) writes the bytes one process's `predict --net --pcg`
//!   writes, on any number of ranks, and agrees with the direct `predict --net` within the CG
//!   tolerance.
//!
//! As root, mpirun needs OMPI_ALLOW_RUN_AS_ROOT=1 and OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; the
//! tests set them.
#![cfg(feature = "mpi")]

use gradflow::data::io::{npy_bytes, read_npy};
use std::path::Path;
use std::process::{Command, Output};
mod common;
use common::relative_gap;

use common::{assert_same_bytes, finish, mpirun, scratch};

const BIN: &str = env!("CARGO_BIN_EXE_gradflow");

/// `gradflow` with `args` on `ranks` ranks of `mpirun --oversubscribe`.
fn on_ranks(ranks: usize, args: &[&str]) -> Output {
    let n = ranks.to_string();
    let mut all = vec!["-n", n.as_str(), BIN];
    all.extend_from_slice(args);
    mpirun(&all)
}

/// `gradflow` with `args`, one process, no MPI.
fn single(args: &[&str]) -> Output {
    let mut c = Command::new(BIN);
    c.args(args);
    finish(c)
}

/// Fails the test with the standard error unless the run succeeded.
fn ok(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Images (n, 4, 3, 2) with smooth pseudo-random entries, written to `path`.
fn images(path: &Path, n: usize, seed: f64) {
    let data: Vec<f64> = (0..n * 24)
        .map(|i| ((i as f64 + 1.0) * seed).sin() + 0.3 * (i as f64 * 0.17 * seed).cos())
        .collect();
    std::fs::write(path, npy_bytes(&[n, 4, 3, 2], &data)).unwrap();
}

/// A CNTK with global average pooling: conv, ReLU, GAP, Dense.
const NET: &str = "[[layer]]\nkind = \"conv\"\nfilter_shape = [3, 2]\npadding = \"SAME\"\n\
                   w_std = 1.3\nb_std = 0.2\n[[layer]]\nkind = \"relu\"\n[[layer]]\n\
                   kind = \"global_avg_pool\"\n[[layer]]\nkind = \"dense\"\n";

fn s(p: &Path) -> String {
    p.to_str().unwrap().to_string()
}

#[test]
fn the_net_kernel_file_is_the_single_process_one_on_any_number_of_ranks() {
    let dir = scratch("mpiconv-kernel");
    let (x, x2, net) = (dir.join("x.npy"), dir.join("x2.npy"), dir.join("net.toml"));
    images(&x, 7, 0.71);
    images(&x2, 5, 1.37);
    std::fs::write(&net, NET).unwrap();
    for second in [false, true] {
        let mut common = vec!["--quiet".to_string(), "kernel".into(), "--x".into(), s(&x)];
        if second {
            common.extend(["--x2".to_string(), s(&x2)]);
        }
        common.extend(["--net".to_string(), s(&net), "--kind".into(), "ntk".into()]);
        let one = dir.join("one.npy");
        let mut args = common.clone();
        args.extend(["--out".to_string(), s(&one)]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        ok(&single(&args), "single-process kernel --net");
        let want = std::fs::read(&one).unwrap();
        for (ranks, block_rows) in [(1, 3), (2, 1), (2, 2), (3, 2)] {
            let path = dir.join(format!("k{ranks}{block_rows}.npy"));
            let mut args = common.clone();
            args.extend([
                "--block-rows".to_string(),
                block_rows.to_string(),
                "--out".into(),
                s(&path),
            ]);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            ok(&on_ranks(ranks, &args), "kernel --net on ranks");
            let what = format!("x2: {second}, {ranks} ranks, {block_rows} block rows");
            assert_same_bytes(&path, &want, &what);
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// `mpirun -n P gradflow predict --net` (finite times and t = ∞, the NTK and the NNGP kernel):
/// the test and training predictions are the bytes of one process's `predict --net --pcg` for
/// P = 1, 2, 3, rows stored or `--matrix-free`, with the same Lanczos steps and CG iterations;
/// against the direct `predict --net --solver krylov`, the training predictions at finite
/// times bit for bit, the test ones within 1e-12 relative (Θ(X*, X) C summed in another
/// order), and at t = ∞ within 1e-8 relative (CG to a relative residual 1e-12, times the
/// conditioning of Θ + λI with λ = 10⁻³ tr Θ / n).
#[test]
fn distributed_net_predictions_are_the_single_process_bytes_on_any_number_of_ranks() {
    let dir = scratch("mpiconv-predict");
    let (x, xt, y, net) = (
        dir.join("x.npy"),
        dir.join("xt.npy"),
        dir.join("y.npy"),
        dir.join("net.toml"),
    );
    images(&x, 11, 0.71);
    images(&xt, 5, 1.37);
    let targets: Vec<f64> = (0..22).map(|i| (i as f64 * 1.3).cos()).collect();
    std::fs::write(&y, npy_bytes(&[11, 2], &targets)).unwrap();
    std::fs::write(&net, NET).unwrap();
    for kind in ["ntk", "nngp"] {
        let args = |tag: &str, extra: &[&str]| -> (Vec<String>, String, String) {
            let test = s(&dir.join(format!("{kind}-{tag}.npy")));
            let train = s(&dir.join(format!("{kind}-{tag}-train.npy")));
            let mut a: Vec<String> = vec!["predict".into(), "--net".into(), s(&net)];
            for (flag, value) in [
                ("--x-train", s(&x)),
                ("--y-train", s(&y)),
                ("--x-test", s(&xt)),
                ("--kind", kind.into()),
                ("--time", "0.5,30,inf".into()),
                ("--diag-reg", "1e-3".into()),
                ("--solver", "krylov".into()),
                ("--pcg-tol", "1e-12".into()),
                ("--pcg-rank", "6".into()),
                ("--block-rows", "3".into()),
                ("--out", test.clone()),
                ("--out-train", train.clone()),
            ] {
                a.extend([flag.to_string(), value]);
            }
            a.push("--json".into());
            a.extend(extra.iter().map(|e| e.to_string()));
            (a, test, train)
        };
        let run_single = |tag: &str, extra: &[&str]| {
            let (a, test, train) = args(tag, extra);
            let a: Vec<&str> = a.iter().map(String::as_str).collect();
            let o = single(&a);
            ok(&o, "single-process predict --net");
            let summary: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
            (summary, test, train)
        };
        let values = |p: &str| read_npy(Path::new(p)).unwrap().data;
        let (direct, direct_test, direct_train) = run_single("direct", &[]);
        let (pcg, pcg_test, pcg_train) = run_single("pcg", &["--pcg"]);
        assert_eq!(pcg["krylov_steps"], direct["krylov_steps"], "{pcg}");
        let iterations = pcg["pcg"]["iterations"].as_array().unwrap();
        assert_eq!(iterations.len(), 2, "{pcg}");
        // Times × rows × outputs: the two finite times, then t = ∞.
        let (finite, finite_train) = (2 * 5 * 2, 2 * 11 * 2);
        let (a, b) = (values(&pcg_test), values(&direct_test));
        let (at, bt) = (values(&pcg_train), values(&direct_train));
        assert!(at[..finite_train] == bt[..finite_train], "{kind}: training");
        let gap = relative_gap(&a[..finite], &b[..finite]);
        assert!(gap <= 1e-12, "{kind}, finite times: {gap:e}");
        let gap = relative_gap(&a[finite..], &b[finite..]);
        assert!(gap <= 1e-8, "{kind}, t = inf: {gap:e}");
        let (want, want_train) = (
            std::fs::read(&pcg_test).unwrap(),
            std::fs::read(&pcg_train).unwrap(),
        );
        for (ranks, extra) in [
            (1, None),
            (2, None),
            (3, None),
            (2, Some("--matrix-free")),
            (3, Some("--matrix-free")),
        ] {
            let (a, test, train) = args(&format!("p{ranks}-{}", extra.is_some()), &[]);
            let mut a: Vec<&str> = a.iter().map(String::as_str).collect();
            a.extend(extra);
            let o = on_ranks(ranks, &a);
            ok(&o, "predict --net on ranks");
            let summary: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
            assert_eq!(summary["pcg"]["ranks"], ranks, "{summary}");
            assert_eq!(summary["pcg"]["iterations"], pcg["pcg"]["iterations"]);
            assert_eq!(summary["krylov_steps"], pcg["krylov_steps"]);
            let what = format!("{kind} on {ranks} ranks {extra:?}");
            assert_same_bytes(&test, &want, &what);
            assert_same_bytes(&train, &want_train, &what);
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A bad input of `predict --net` on 2 ranks ends the job with an error naming it, no file.
#[test]
fn a_bad_net_prediction_under_mpirun_names_the_input() {
    let dir = scratch("mpiconv-bad");
    let (x, xt, y, net) = (
        dir.join("x.npy"),
        dir.join("xt.npy"),
        dir.join("y.npy"),
        dir.join("net.toml"),
    );
    images(&x, 6, 0.71);
    std::fs::write(&xt, npy_bytes(&[2, 3, 4, 2], &[0.5; 48])).unwrap();
    std::fs::write(&y, npy_bytes(&[6], &[1.0; 6])).unwrap();
    std::fs::write(&net, NET).unwrap();
    let (x, xt, y, net, out) = (s(&x), s(&xt), s(&y), s(&net), s(&dir.join("p.npy")));
    let args = [
        "predict",
        "--net",
        &net,
        "--x-train",
        &x,
        "--y-train",
        &y,
        "--x-test",
        &xt,
        "--diag-reg",
        "1e-3",
        "--out",
        &out,
    ];
    let o = on_ranks(2, &args);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{stderr}");
    assert!(stderr.contains("x_test"), "{stderr}");
    assert!(!Path::new(&out).exists());
    let _ = std::fs::remove_dir_all(&dir);
}
