//! End to end through the `gradflow` binary: outputs, bad input (exit 2 with a message naming
//! what and where), divergence (exit 1, metrics kept), determinism across `--threads`.

use gradflow::data::io::{npy_bytes, read_npy_matrix};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
mod common;

use common::{gradflow, scratch, stderr};

const SMALL: &str = r#"
seed = 1
trials = 2
[data]
kind = "sphere"
n = 40
n_test = 20
dim = 3
target = { kind = "harmonic", degree = 1 }
[model]
kind = "two_layer"
width = 64
[[optimizer]]
kind = "sgd"
lr = 0.5
[train]
steps = 50
record_every = 10
"#;

/// Writes `spec` as `spec.toml` in a fresh folder and runs it; returns (folder, output).
fn run_spec(name: &str, spec: &str, extra: &[&str]) -> (PathBuf, Output) {
    let dir = scratch(name);
    std::fs::write(dir.join("spec.toml"), spec).unwrap();
    let mut args = vec!["run", "spec.toml", "--out", "out"];
    args.extend_from_slice(extra);
    let out = gradflow(&args, &dir);
    (dir, out)
}

#[test]
fn run_writes_metrics_summary_and_params() {
    let (dir, out) = run_spec("ok", SMALL, &["--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("out/summary.json")).unwrap()).unwrap();
    assert_eq!(summary["trials"].as_array().unwrap().len(), 2);
    assert_eq!(summary["num_params"], 64 * 3 + 64);
    let stdout: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(stdout, summary);
    let csv = std::fs::read_to_string(dir.join("out/metrics.csv")).unwrap();
    let header = csv.lines().next().unwrap();
    assert_eq!(
        header,
        "trial,step,train_loss,grad_norm,param_distance,param_distance_relative,test_loss"
    );
    // Steps 0, 10, …, 50 for each of 2 trials.
    assert_eq!(csv.lines().count(), 1 + 2 * 6);
    let params = read_npy_matrix(&dir.join("out/params.npy")).unwrap();
    assert_eq!((params.rows, params.cols), (2, 256));
}

#[test]
fn results_do_not_depend_on_the_thread_count() {
    let (d1, o1) = run_spec("t1", SMALL, &["--threads", "1"]);
    let (d2, o2) = run_spec("t2", SMALL, &["--threads", "2"]);
    assert!(o1.status.success() && o2.status.success());
    for f in ["out/metrics.csv", "out/params.npy"] {
        assert_eq!(
            std::fs::read(d1.join(f)).unwrap(),
            std::fs::read(d2.join(f)).unwrap(),
            "{f}"
        );
    }
    // No threads, or far more than cores (each costs its start-up): an error, not a hang.
    for threads in ["0", "1000000"] {
        let (_, o) = run_spec("t0", SMALL, &["--threads", threads]);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert!(
            stderr(&o).contains("invalid --threads: expected 1 to"),
            "{}",
            stderr(&o)
        );
    }
}

#[test]
fn checkpointed_and_resumed_runs_match_uninterrupted_ones() {
    let with_ckpt = SMALL.replace(
        "record_every = 10",
        "record_every = 10\ncheckpoint_every = 20",
    );
    let (plain, o) = run_spec("plain", SMALL, &[]);
    assert!(o.status.success());
    let (ck, o) = run_spec("ckpt", &with_ckpt, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(ck.join("out/checkpoint_trial0.bin").exists());
    // Resuming a finished run changes nothing.
    let again = gradflow(&["run", "spec.toml", "--out", "out", "--resume"], &ck);
    assert!(again.status.success(), "{}", stderr(&again));
    for f in ["out/metrics.csv", "out/params.npy"] {
        assert_eq!(
            std::fs::read(plain.join(f)).unwrap(),
            std::fs::read(ck.join(f)).unwrap()
        );
    }
}

fn expect_bad_input(name: &str, spec: &str, needles: &[&str]) {
    let (_, out) = run_spec(name, spec, &[]);
    assert_eq!(out.status.code(), Some(2), "{name}: {}", stderr(&out));
    let msg = stderr(&out);
    for n in needles {
        assert!(msg.contains(n), "{name}: '{n}' not in: {msg}");
    }
    assert!(!msg.contains("panicked"), "{name}: {msg}");
}

#[test]
fn bad_specs_are_clear_errors_with_exit_code_2() {
    let mlp = SMALL.replace(
        "kind = \"two_layer\"\nwidth = 64",
        "kind = \"mlp\"\nwidths = [8]",
    );
    expect_bad_input(
        "mean-field-on-mlp",
        &mlp.replace("kind = \"sgd\"", "kind = \"mean_field\""),
        &["optimizer[0].kind", "two-layer"],
    );
    expect_bad_input(
        "particles-on-mlp",
        &mlp.replace("[train]", "[train]\nparticles = true"),
        &["train.particles", "two-layer"],
    );
    expect_bad_input(
        "unknown-key",
        &SMALL.replace("lr = 0.5", "lr = 0.5\nlrr = 0.1"),
        &["spec.toml", "unknown field `lrr`"],
    );
    expect_bad_input(
        "misspelled-model-key",
        &SMALL.replace("width = 64", "widht = 64"),
        &["widht"],
    );
    expect_bad_input(
        "negative-width",
        &SMALL.replace("width = 64", "width = -3"),
        &["model.width", "-3"],
    );
    expect_bad_input(
        "zero-width",
        &SMALL.replace("width = 64", "width = 0"),
        &["model.width"],
    );
    expect_bad_input(
        "negative-lr",
        &SMALL.replace("lr = 0.5", "lr = -0.5"),
        &["optimizer[0].lr", "> 0"],
    );
    expect_bad_input(
        "zero-lr",
        &SMALL.replace("lr = 0.5", "lr = 0"),
        &["optimizer[0].lr"],
    );
    expect_bad_input(
        "unknown-optimizer",
        &SMALL.replace("kind = \"sgd\"", "kind = \"sgdd\""),
        &["sgdd"],
    );
    expect_bad_input("not-toml", "this is [not toml", &["spec.toml"]);
    expect_bad_input(
        "logistic-needs-labels",
        &SMALL.replace("[train]", "[loss]\nkind = \"logistic\"\n[train]"),
        &["±1 labels"],
    );
}

#[test]
fn sizes_beyond_the_machine_are_clear_errors_with_exit_code_2() {
    // 2^62 hidden units: 2^62 · 4 parameters (and their training buffers) overflow a count.
    expect_bad_input(
        "huge-width",
        &SMALL.replace("width = 64", "width = 4611686018427387904"),
        &["invalid model", "address space"],
    );
    expect_bad_input(
        "huge-n",
        &SMALL.replace("n = 40", "n = 4611686018427387904"),
        &["invalid data.n", "address space"],
    );
    // 3 million probe points (their data fit): 3e6² entries per probe kernel do not.
    expect_bad_input(
        "huge-probe",
        &SMALL
            .replace("n = 40", "n = 3000000")
            .replace("[train]", "[train]\nkernel_diagnostics = 3000000"),
        &["invalid train.kernel_diagnostics", "3000000 × 3000000 × 3"],
    );
    let dir = scratch("huge-kernel");
    write_npy(&dir, "x.npy", &[3, 2], &[0.5, 1.0, -1.0, 0.25, 2.0, 0.0]);
    let kernel = |extra: &[&str]| {
        let mut args = vec!["kernel", "--x", "x.npy", "--out", "k.npy"];
        args.extend_from_slice(extra);
        gradflow(&args, &dir)
    };
    for (extra, needle) in [
        (
            &["--depth", "1", "--w-std", "1e200"][..],
            "invalid w_std, b_std or depth",
        ),
        (&["--depth", "1000000000000000000"], "invalid depth"),
        (
            &[
                "--depth",
                "1",
                "--activation",
                "tanh",
                "--quadrature-degree",
                "5000",
            ],
            "invalid quadrature_degree",
        ),
    ] {
        let o = kernel(extra);
        assert_eq!(o.status.code(), Some(2), "{extra:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(needle), "{extra:?}: {}", stderr(&o));
        // The error came after the output file was started: nothing is left behind.
        let left: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .filter(|n| n != "x.npy")
            .collect();
        assert!(left.is_empty(), "{extra:?} left {left:?}");
    }
}

/// Memory the user's sizes need only indirectly is caught by the binary's allocator: with
/// the address space limited to 400 MB (a small run needs under 100 MB), an 8,000-point
/// training kernel (2 × 512 MB; within any test machine's memory, so the size check passes) is
/// refused and the run ends with a message and exit code 2 instead of an abort.
#[cfg(target_os = "linux")]
#[test]
fn refused_memory_ends_the_run_with_a_message_and_exit_code_2() {
    let dir = scratch("oom");
    let n = 8_000;
    let x: Vec<f64> = (0..n).map(|i| (i as f64 * 0.37).sin()).collect();
    write_npy(&dir, "x.npy", &[n, 1], &x);
    write_npy(&dir, "y.npy", &[n], &x);
    write_npy(&dir, "xt.npy", &[2, 1], &[0.1, 0.2]);
    let script = "ulimit -v 400000 && exec \"$0\" \"$@\"";
    let o = Command::new("sh")
        .args([
            "-c",
            script,
            env!("CARGO_BIN_EXE_gradflow"),
            "--threads",
            "2",
        ])
        .args(["predict", "--x-train", "x.npy", "--y-train", "y.npy"])
        .args(["--x-test", "xt.npy", "--depth", "1", "--out", "p.npy"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).starts_with("error: out of memory"),
        "{}",
        stderr(&o)
    );
    assert!(!dir.join("p.npy").exists());
}

fn write_npy(dir: &Path, name: &str, shape: &[usize], data: &[f64]) {
    std::fs::write(dir.join(name), npy_bytes(shape, data)).unwrap();
}

const NPY_SPEC: &str = r#"
[data]
kind = "npy"
x = "x.npy"
y = "y.npy"
[model]
kind = "mlp"
widths = [8]
[[optimizer]]
kind = "sgd"
lr = 0.1
[train]
steps = 5
"#;

fn npy_case(name: &str, x: &[f64], xshape: &[usize], y: &[f64], yshape: &[usize]) -> Output {
    let dir = scratch(name);
    std::fs::write(dir.join("spec.toml"), NPY_SPEC).unwrap();
    write_npy(&dir, "x.npy", xshape, x);
    write_npy(&dir, "y.npy", yshape, y);
    gradflow(&["run", "spec.toml", "--out", "out"], &dir)
}

#[test]
fn bad_data_files_are_clear_errors_with_exit_code_2() {
    let x: Vec<f64> = (0..12).map(|v| v as f64 * 0.1).collect();
    // Works when well formed.
    let ok = npy_case("npy-ok", &x, &[6, 2], &[1.0; 6], &[6]);
    assert!(ok.status.success(), "{}", stderr(&ok));
    // Row mismatch.
    let o = npy_case("npy-rows", &x, &[6, 2], &[1.0; 5], &[5]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("6 rows") && stderr(&o).contains("5 rows"),
        "{}",
        stderr(&o)
    );
    // NaN in the inputs.
    let mut bad = x.clone();
    bad[7] = f64::NAN;
    let o = npy_case("npy-nan", &bad, &[6, 2], &[1.0; 6], &[6]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("non-finite") && stderr(&o).contains("row 3, column 1"),
        "{}",
        stderr(&o)
    );
    // Truncated file, wrong dtype, missing file.
    let dir = scratch("npy-broken");
    std::fs::write(dir.join("spec.toml"), NPY_SPEC).unwrap();
    let good = npy_bytes(&[6, 2], &x);
    std::fs::write(dir.join("x.npy"), &good[..good.len() - 3]).unwrap();
    write_npy(&dir, "y.npy", &[6], &[1.0; 6]);
    let o = gradflow(&["run", "spec.toml"], &dir);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("x.npy") && stderr(&o).contains("truncated"),
        "{}",
        stderr(&o)
    );
    let mut wrong = good.clone();
    let pos = wrong.windows(3).position(|w| w == b"<f8").unwrap();
    wrong[pos + 1] = b'i';
    std::fs::write(dir.join("x.npy"), &wrong).unwrap();
    let o = gradflow(&["run", "spec.toml"], &dir);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("dtype"), "{}", stderr(&o));
    std::fs::remove_file(dir.join("x.npy")).unwrap();
    let o = gradflow(&["run", "spec.toml"], &dir);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("x.npy"), "{}", stderr(&o));
    // Missing spec file.
    let o = gradflow(&["run", "nowhere.toml"], &dir);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("nowhere.toml"));
}

#[test]
fn divergence_names_the_step_keeps_the_metrics_and_exits_1() {
    let spec = SMALL
        .replace("lr = 0.5", "lr = 1e6")
        .replace("trials = 2", "trials = 1");
    let (dir, out) = run_spec("diverge", &spec, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("diverged at step"),
        "{}",
        stderr(&out)
    );
    let csv = std::fs::read_to_string(dir.join("out/metrics.csv")).unwrap();
    assert!(csv.lines().count() >= 2, "{csv}");
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("out/summary.json")).unwrap()).unwrap();
    assert!(summary["trials"][0]["diverged"]["step"].is_u64());
}

#[test]
fn list_and_reproduce() {
    let dir = scratch("reproduce");
    let list = gradflow(&["list"], &dir);
    assert!(list.status.success());
    let text = String::from_utf8_lossy(&list.stdout);
    assert!(text.contains("deep-linear") && text.contains("matrix-completion"));
    let bad = gradflow(&["reproduce", "--only", "no-such-claim"], &dir);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("no-such-claim"));
    let out = gradflow(
        &[
            "reproduce",
            "--quick",
            "--only",
            "deep-linear,matrix-completion",
            "--out",
            "r",
        ],
        &dir,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("r/summary.json")).unwrap()).unwrap();
    let claims = summary["claims"].as_array().unwrap();
    assert_eq!(claims.len(), 2);
    for c in claims {
        assert_eq!(c["passed"], true);
        for check in c["checks"].as_array().unwrap() {
            for field in [
                "name",
                "measured",
                "predicted",
                "tolerance",
                "relation",
                "passed",
                "basis",
                "control",
                "verdict",
                "separation",
            ] {
                assert!(!check[field].is_null(), "{field} missing in {check}");
            }
            // The check's own control ran and failed it, further than the tolerance.
            assert_eq!(check["control_result"]["passed"], false, "{check}");
            assert!(check["separation"]["control"].as_f64().unwrap() > 1.0);
            assert!(check["separation"]["normal"].as_f64().unwrap() <= 1.0);
        }
        assert!(!c["controls"].as_array().unwrap().is_empty(), "{c}");
        let mut figures = 0;
        for f in c["files"].as_array().unwrap() {
            let f = f.as_str().unwrap();
            let text = std::fs::read_to_string(dir.join("r").join(f)).unwrap();
            if f.ends_with(".csv") {
                // A header, then at least one row, each with the header's number of fields.
                let mut lines = text.lines();
                let columns = lines.next().unwrap().split(',').count();
                let rows: Vec<&str> = lines.collect();
                assert!(!rows.is_empty(), "{f}: no rows");
                for row in rows {
                    assert_eq!(row.split(',').count(), columns, "{f}: {row}");
                }
            } else {
                assert!(f.ends_with(".svg") && text.starts_with("<svg"), "{f}");
                figures += 1;
            }
        }
        assert!(figures >= 1, "{c}");
    }
    let html = std::fs::read_to_string(dir.join("r/index.html")).unwrap();
    assert!(html.contains("deep-linear") && !html.contains("http"));
    // Every figure inline: one <svg per figure file.
    let files: usize = claims
        .iter()
        .map(|c| {
            c["files"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|f| f.as_str().unwrap().ends_with(".svg"))
                .count()
        })
        .sum();
    assert_eq!(html.matches("<svg").count(), files);
    // Same seed, same numbers.
    let again = gradflow(
        &[
            "reproduce",
            "--quick",
            "--only",
            "deep-linear,matrix-completion",
            "--out",
            "r2",
            "--threads",
            "1",
        ],
        &dir,
    );
    assert!(again.status.success());
    assert_eq!(
        std::fs::read(dir.join("r/summary.json")).unwrap(),
        std::fs::read(dir.join("r2/summary.json")).unwrap()
    );
    // Several seeds: one folder per seed (seed 0's equal to the single run's) and a table.
    let seeds = gradflow(
        &[
            "reproduce",
            "--quick",
            "--only",
            "deep-linear,matrix-completion",
            "--out",
            "r3",
            "--seeds",
            "0-1",
        ],
        &dir,
    );
    assert!(seeds.status.success(), "{}", stderr(&seeds));
    assert_eq!(
        std::fs::read(dir.join("r/summary.json")).unwrap(),
        std::fs::read(dir.join("r3/seed-0/summary.json")).unwrap()
    );
    let table: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("r3/seeds.json")).unwrap()).unwrap();
    assert_eq!(table["seeds"], serde_json::json!([0, 1]));
    for row in table["checks"].as_array().unwrap() {
        assert_eq!(row["verdicts_pass"], 2, "{row}");
        assert_eq!(row["measured"].as_array().unwrap().len(), 2);
    }
    let bad = gradflow(&["reproduce", "--seeds", "3-1"], &dir);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("--seeds"));
}

#[test]
fn kernel_and_predict_commands() {
    use gradflow::kernel::Network;
    use gradflow::linalg::Matrix;
    use gradflow::nn::Activation;
    let dir = scratch("kernel");
    let mut r = gradflow::rng::Seed(4).stream("cli-kernel", 0);
    let x = Matrix::from_fn(50, 3, |_, _| r.normal());
    let xt = Matrix::from_fn(7, 3, |_, _| r.normal());
    let y = Matrix::from_fn(50, 1, |i, _| (i as f64 * 0.3).sin());
    write_npy(&dir, "x.npy", &[50, 3], &x.data);
    write_npy(&dir, "xt.npy", &[7, 3], &xt.data);
    write_npy(&dir, "y.npy", &[50], &y.data);
    let base = [
        "--depth",
        "2",
        "--activation",
        "erf(0.9, 1.2, 0.1)",
        "--w-std",
        "1.5",
        "--b-std",
        "0.1",
    ];
    let mut args = vec!["kernel", "--x", "x.npy", "--out", "k.npy", "--json"];
    args.extend_from_slice(&base);
    let o = gradflow(&args, &dir);
    assert!(o.status.success(), "{}", stderr(&o));
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(summary["shape"], serde_json::json!([50, 50]));
    let net = Network {
        w_std: 1.5,
        b_std: Some(0.1),
        ..Network::new(
            2,
            Activation::Erf {
                a: 0.9,
                b: 1.2,
                c: 0.1,
            },
        )
    };
    let want = net.kernels(&x, None).unwrap().ntk;
    let got = read_npy_matrix(&dir.join("k.npy")).unwrap();
    assert_eq!(got, want);
    // Streaming in blocks of 7 rows gives the same kernel (up to GEMM round-off in ⟨x, x'⟩).
    let mut args = vec![
        "kernel",
        "--x",
        "x.npy",
        "--out",
        "k7.npy",
        "--block-rows",
        "7",
    ];
    args.extend_from_slice(&base);
    assert!(gradflow(&args, &dir).status.success());
    let streamed = read_npy_matrix(&dir.join("k7.npy")).unwrap();
    let err = gradflow::linalg::distance(&streamed.data, &want.data) / want.frobenius_norm();
    assert!(err < 1e-13, "{err}");
    // Every pair is computed once across the 8 blocks: the file is exactly symmetric, and its
    // diagonal (angle exactly 0) equals the in-memory one bit for bit.
    assert_eq!(streamed, streamed.transpose());
    for i in 0..50 {
        assert_eq!(streamed.get(i, i), want.get(i, i), "diagonal {i}");
    }
    // Predict at t = 1, 10, ∞: shape (3, 7, 1); t = ∞ on the training set interpolates y.
    // `predict` on the training set x.npy/y.npy and the test set xt.npy, then `extra`.
    let predict_args = |extra: &[&'static str]| -> Vec<&'static str> {
        let mut args = vec![
            "predict",
            "--x-train",
            "x.npy",
            "--y-train",
            "y.npy",
            "--x-test",
            "xt.npy",
        ];
        args.extend_from_slice(extra);
        args
    };
    let mut args = predict_args(&[
        "--time",
        "1,10,inf",
        "--out",
        "p.npy",
        "--out-train",
        "pt.npy",
    ]);
    args.extend_from_slice(&base);
    let o = gradflow(&args, &dir);
    assert!(o.status.success(), "{}", stderr(&o));
    let p = gradflow::data::io::read_npy(&dir.join("p.npy")).unwrap();
    assert_eq!(p.shape, vec![3, 7, 1]);
    let pt = gradflow::data::io::read_npy(&dir.join("pt.npy")).unwrap();
    let last = &pt.data[100..150];
    assert!(gradflow::linalg::distance(last, &y.data) < 1e-8);
    // Bad input: unknown activation, mismatched columns, negative time.
    let mut bad = vec![
        "kernel",
        "--x",
        "x.npy",
        "--out",
        "b.npy",
        "--depth",
        "1",
        "--activation",
        "rleu",
    ];
    let o = gradflow(&bad, &dir);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("rleu"));
    write_npy(&dir, "x4.npy", &[2, 4], &[1.0; 8]);
    bad = vec![
        "kernel", "--x", "x.npy", "--x2", "x4.npy", "--out", "b.npy", "--depth", "1",
    ];
    let o = gradflow(&bad, &dir);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("columns"), "{}", stderr(&o));
    // Negative numbers reach the checks in both spellings (not clap's "unexpected argument").
    for time in [&["--time=-1"][..], &["--time", "-1"]] {
        let mut args = predict_args(time);
        args.extend_from_slice(&["--out", "b.npy", "--depth", "1"]);
        let o = gradflow(&args, &dir);
        assert_eq!(o.status.code(), Some(2));
        assert!(stderr(&o).contains("invalid --time"), "{}", stderr(&o));
    }
    let o = gradflow(
        &[
            "kernel", "--x", "x.npy", "--out", "b.npy", "--depth", "1", "--w-std", "-1",
        ],
        &dir,
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("invalid w_std"), "{}", stderr(&o));
    // The Krylov solver forced on the small problem agrees with the default (eigen at n = 50);
    // an unknown solver is named.
    let predict = |solver: &str, out: &str| {
        let mut args = predict_args(&["--time", "1,10", "--depth", "1", "--solver"]);
        args.extend_from_slice(&[solver, "--out", out, "--json"]);
        gradflow(&args, &dir)
    };
    let o = predict("krylov", "pk.npy");
    assert!(o.status.success(), "{}", stderr(&o));
    let summary: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(summary["solver"], "krylov");
    assert!(predict("eigen", "pe.npy").status.success());
    let (pk, pe) = (
        gradflow::data::io::read_npy(&dir.join("pk.npy")).unwrap(),
        gradflow::data::io::read_npy(&dir.join("pe.npy")).unwrap(),
    );
    assert!(
        gradflow::linalg::distance(&pk.data, &pe.data) < 1e-10 * gradflow::linalg::norm(&pe.data)
    );
    let o = predict("lanczos", "pb.npy");
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("lanczos"), "{}", stderr(&o));
    let o = gradflow(
        &["kernel", "--x", "x.npy", "--out", "b.npy", "--depth", "0"],
        &dir,
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(!dir.join("b.npy").exists());
}

#[test]
fn ot_command_matches_the_library_and_rejects_bad_input() {
    let dir = scratch("ot");
    // x = {0, 1, 3}, y = {1, 2, 5} on the line: W_2² = (1 + 1 + 4)/3 = 2 by sorting.
    write_npy(&dir, "x.npy", &[3, 1], &[3.0, 0.0, 1.0]);
    write_npy(&dir, "y.npy", &[3, 1], &[5.0, 1.0, 2.0]);
    for method in ["exact", "1d"] {
        let o = gradflow(
            &[
                "ot", "--x", "x.npy", "--y", "y.npy", "--method", method, "--json", "--plan",
                "plan.npy",
            ],
            &dir,
        );
        assert!(o.status.success(), "{}", stderr(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert!((v["cost"].as_f64().unwrap() - 2.0).abs() < 1e-12, "{v}");
        assert!((v["distance"].as_f64().unwrap() - 2f64.sqrt()).abs() < 1e-12);
        let plan = read_npy_matrix(&dir.join("plan.npy")).unwrap();
        // The monotone map: 3 → 5, 0 → 1, 1 → 2, each carrying 1/3.
        assert_eq!((plan.rows, plan.cols), (3, 3));
        assert!(
            (plan.get(0, 0) - 1.0 / 3.0).abs() < 1e-15
                && (plan.get(1, 1) - 1.0 / 3.0).abs() < 1e-15
        );
    }
    let o = gradflow(
        &[
            "ot",
            "--x",
            "x.npy",
            "--y",
            "y.npy",
            "--method",
            "sinkhorn",
            "--reg",
            "0.05",
            "--json",
            "--divergence",
        ],
        &dir,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        (v["cost"].as_f64().unwrap() - 2.0).abs() < 1e-3 && v["converged"] == true,
        "{v}"
    );
    assert!(v["divergence"].as_f64().unwrap() > 0.0);
    // Bad input: a negative weight, mismatched dimensions, ε ≤ 0, a NaN point → exit 2, named.
    write_npy(&dir, "w.npy", &[3], &[0.5, -0.5, 1.0]);
    write_npy(&dir, "y2.npy", &[3, 2], &[0.0; 6]);
    write_npy(&dir, "nan.npy", &[3, 1], &[0.0, f64::NAN, 1.0]);
    for (args, needle) in [
        (
            vec!["--x", "x.npy", "--y", "y.npy", "--wx", "w.npy"],
            "w.npy",
        ),
        (vec!["--x", "x.npy", "--y", "y2.npy"], "dimension"),
        (
            vec![
                "--x", "x.npy", "--y", "y.npy", "--method", "sinkhorn", "--reg=-1",
            ],
            "ε",
        ),
        (vec!["--x", "nan.npy", "--y", "y.npy"], "nan.npy"),
        (
            vec![
                "--x",
                "x.npy",
                "--y",
                "y.npy",
                "--method",
                "sliced",
                "--projections",
                "4611686018427387904",
            ],
            "invalid projections",
        ),
    ] {
        let mut all = vec!["ot"];
        all.extend(args.iter().copied());
        let o = gradflow(&all, &dir);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(needle), "{args:?}: {}", stderr(&o));
    }
}

#[test]
fn mean_field_runs_write_particle_snapshots_and_the_spread_across_trials() {
    let spec = SMALL
        .replace("width = 64", "width = 64\ngamma = 1.0\nbias = true")
        .replace(
            "kind = \"sgd\"\nlr = 0.5",
            "kind = \"mean_field\"\nlr = 0.5\nl2 = 1e-3\ninverse_temperature = 1e5",
        )
        .replace("record_every = 10", "record_every = 10\nparticles = true");
    let (dir, out) = run_spec("mean-field", &spec, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let snaps = gradflow::data::io::read_npy(&dir.join("out/particles_trial1.npy")).unwrap();
    // Steps 0, 10, …, 50: six clouds of 64 particles (w ∈ R³, b, a).
    assert_eq!(snaps.shape, vec![6, 64, 5]);
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("out/summary.json")).unwrap()).unwrap();
    let spread = summary["prediction_spread"]["value"].as_f64().unwrap();
    assert!(
        spread > 0.0 && summary["prediction_spread"]["set"] == "test",
        "{summary}"
    );
    let metrics = std::fs::read_to_string(dir.join("out/metrics.csv")).unwrap();
    let header = metrics.lines().next().unwrap();
    for column in ["w2_sq_init", "displacement_sq", "action"] {
        assert!(header.contains(column), "{header}");
    }
}

#[test]
fn potential_specs_run_chains_without_data_and_reject_bad_settings() {
    let spec = r#"
[model]
kind = "potential"
potential = { kind = "quadratic", k = 1.0 }
dim = 3
chains = 500
[[optimizer]]
kind = "sgd"
lr = 0.5
[[optimizer]]
kind = "langevin_noise"
lr = 0.5
inverse_temperature = 2.0
[train]
steps = 60
"#;
    let (dir, out) = run_spec("potential", spec, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let params = read_npy_matrix(&dir.join("out/params.npy")).unwrap();
    assert_eq!((params.rows, params.cols), (1, 1500));
    // Every coordinate of every chain: variance 1/(βk(1 − ηk/2)) = 2/3 (1500 draws: ±7 %).
    let var = params.data.iter().map(|v| v * v).sum::<f64>() / 1500.0;
    assert!((var / (2.0 / 3.0) - 1.0).abs() < 0.15, "{var}");
    expect_bad_input(
        "potential-dim",
        &spec.replace(
            "kind = \"quadratic\", k = 1.0",
            "kind = \"double_well\", height = 1.0",
        ),
        &["model.dim", "1-dimensional"],
    );
    expect_bad_input(
        "potential-k",
        &spec.replace("k = 1.0", "k = -1.0"),
        &["potential.k"],
    );
    expect_bad_input(
        "no-data",
        "[model]\nkind = \"two_layer\"\nwidth = 4\n[[optimizer]]\nkind = \"sgd\"\nlr = 0.1\n[train]\nsteps = 5\n",
        &["missing [data]"],
    );
}

/// `[train] gibbs`: TV and KL of the chains' law to exp(−βU) against time, on a double well
/// whose chains all start in the right well: TV starts near the left well's Gibbs mass and
/// decays (geometric ergodicity) to the Monte Carlo floor of 2000 chains on 30 cells.
#[test]
fn gibbs_distance_of_the_chains_falls_with_time() {
    let spec = r#"
seed = 3
[model]
kind = "potential"
potential = { kind = "double_well", height = 0.5 }
chains = 2000
start = [1.0]
[[optimizer]]
kind = "sgd"
lr = 0.01
[[optimizer]]
kind = "langevin_noise"
lr = 0.01
inverse_temperature = 2.0
[train]
steps = 3000
record_every = 100
gibbs = { lo = -2.5, hi = 2.5, bins = 30 }
"#;
    let (dir, out) = run_spec("gibbs", spec, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let csv = std::fs::read_to_string(dir.join("out/metrics.csv")).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let rows: Vec<Vec<f64>> = lines
        .map(|l| l.split(',').map(|v| v.parse().unwrap()).collect())
        .collect();
    let column = |name: &str| -> Vec<f64> {
        let k = header.iter().position(|h| *h == name).unwrap();
        rows.iter().map(|r| r[k]).collect()
    };
    let (tv, kl) = (column("tv_gibbs"), column("kl_gibbs"));
    // Start: a point mass in one cell, TV = 1 − π(cell) > 0.9; end: ≈ floor, ≤ 0.06.
    assert!(tv[0] > 0.9, "{tv:?}");
    assert!(*tv.last().unwrap() < 0.06, "{tv:?}");
    assert!(kl[0] > 10.0 * kl.last().unwrap(), "{kl:?}");
    // Half-way down the decay at some intermediate record (a decay, not a jump).
    assert!(tv.iter().any(|&t| t > 0.2 && t < 0.8), "{tv:?}");
    expect_bad_input(
        "gibbs-no-noise",
        &spec.replace(
            "kind = \"langevin_noise\"\nlr = 0.01\ninverse_temperature = 2.0",
            "kind = \"sgd\"\nlr = 0.01",
        ),
        &["train.gibbs", "langevin_noise"],
    );
    expect_bad_input(
        "gibbs-bins",
        &spec.replace("bins = 30", "bins = 0"),
        &["train.gibbs.bins"],
    );
}

#[test]
fn every_example_spec_parses_and_builds() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments");
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let spec = gradflow::spec::Spec::load(&path).unwrap_or_else(|e| panic!("{e}"));
            let data = spec
                .load_data(&dir)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let model = spec
                .model
                .build(
                    data.train.input_dim(),
                    data.train.output_dim(),
                    data.matrix_size,
                )
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            gradflow::spec::optimizer::build_chain(&spec.optimizer, model.as_ref())
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            count += 1;
        }
    }
    assert!(count >= 10, "{count} specs");
}

/// The CLI's files are the library commands' results, bit for bit (what a front end calling
/// `gradflow::commands` relies on): `kernel` (streamed, and in memory) and `predict`.
#[test]
fn the_cli_writes_exactly_what_the_library_commands_compute() {
    use gradflow::commands::{kernel, predict, Cancel, Input};
    let dir = scratch("commands-bits");
    let x = gradflow::Matrix::from_fn(30, 4, |r, c| ((r * 4 + c) as f64 * 0.43).sin());
    let y = gradflow::Matrix::from_fn(30, 2, |r, c| ((r * 2 + c) as f64 * 0.77).cos());
    let xt = gradflow::Matrix::from_fn(9, 4, |r, c| ((r * 4 + c) as f64 * 0.19).cos());
    for (name, m) in [("x.npy", &x), ("y.npy", &y), ("xt.npy", &xt)] {
        write_npy(&dir, name, &[m.rows, m.cols], &m.data);
    }
    let flags = [
        "--depth",
        "2",
        "--activation",
        "erf",
        "--b-std",
        "0.3",
        "--kind",
        "nngp",
    ];
    let mut args = vec!["kernel", "--x", "x.npy", "--x2", "xt.npy", "--out", "k.npy"];
    args.extend_from_slice(&flags);
    args.extend_from_slice(&["--block-rows", "7"]);
    let o = gradflow(&args, &dir);
    assert!(o.status.success(), "{}", stderr(&o));
    let mut network = kernel::default_network();
    network.depth = 2;
    network.activation = "erf".parse().unwrap();
    network.b_std = Some(0.3);
    let request = kernel::Request {
        network: network.clone(),
        kind: gradflow::kernel::Kind::Nngp,
        block_rows: 7,
    };
    let (xi, xti) = (
        Input::new("x", x.clone()).unwrap(),
        Input::new("xt", xt.clone()).unwrap(),
    );
    let k = kernel::run(&request, &xi, Some(&xti), Cancel::NEVER).unwrap();
    let file = std::fs::read(dir.join("k.npy")).unwrap();
    assert_eq!(file, npy_bytes(&[30, 9], &k.data));
    let mut args = vec![
        "predict",
        "--x-train",
        "x.npy",
        "--y-train",
        "y.npy",
        "--x-test",
        "xt.npy",
        "--time",
        "0.5,inf",
        "--out",
        "p.npy",
    ];
    args.extend_from_slice(&flags);
    let o = gradflow(&args, &dir);
    assert!(o.status.success(), "{}", stderr(&o));
    let request = predict::Request {
        network,
        kind: gradflow::kernel::Kind::Nngp,
        times: vec![0.5, f64::INFINITY],
        ..predict::Request::default()
    };
    let yi = Input::new("y", y).unwrap();
    let p = predict::run(&request, &xi, &yi, &xti, None, Cancel::NEVER).unwrap();
    let (shape, data) = predict::stack(&p.test);
    assert_eq!(
        std::fs::read(dir.join("p.npy")).unwrap(),
        npy_bytes(&shape, &data)
    );
}
