//! End to end through the `gradflow` binary: outputs, bad input (exit 2 with a message naming
//! what and where), divergence (exit 1, metrics kept), determinism across `--threads`.

use gradflow::data::io::{npy_bytes, read_npy_matrix};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
mod common;
use std::sync::LazyLock;

use common::{gradflow, scratch, stderr, write_npy};

static SMALL: LazyLock<String> = LazyLock::new(|| {
    common::sphere_spec(
        2,
        "n = 40\nn_test = 20",
        64,
        "steps = 50\nrecord_every = 10",
    )
});

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
    let (dir, out) = run_spec("ok", &SMALL, &["--json"]);
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
    let (d1, o1) = run_spec("t1", &SMALL, &["--threads", "1"]);
    let (d2, o2) = run_spec("t2", &SMALL, &["--threads", "2"]);
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
        let (_, o) = run_spec("t0", &SMALL, &["--threads", threads]);
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
    let (plain, o) = run_spec("plain", &SMALL, &[]);
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
