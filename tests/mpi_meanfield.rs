//! `mpirun --oversubscribe -n 1/2/3 gradflow run SPEC` with a two-layer net whose neurons are
//! sharded over the ranks: the metrics, parameters (and their average) written by the job are
//! the single process's, byte for byte, for the mean-field scaling with SGD, the `mean_field`
//! particle step with Langevin noise, and the NTK scaling with Adam — widths not divisible by
//! the ranks, a width below one neuron block (ranks holding no neuron), noise over several
//! noise blocks. A rank's failure ends the job.
//!
//! As root, mpirun needs OMPI_ALLOW_RUN_AS_ROOT=1 and OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; the
//! tests set them.
#![cfg(feature = "mpi")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
mod common;
use common::{finish, mpirun};

const BIN: &str = env!("CARGO_BIN_EXE_gradflow");

/// A fresh folder for one test.
fn folder(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gradflow-mpimf-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn ok(o: &Output, what: &str) {
    assert!(
        o.status.success(),
        "{what}: {:?}\n{}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Writes `spec`, runs it in one process and under `mpirun -n 1, 2, 3` (two threads per
/// process), and checks that every file the single process writes is written byte for byte
/// by every job: `files` (metrics, parameters, …) and the summary's per-trial numbers.
fn same_on_every_rank_count(name: &str, spec: &str, files: &[&str]) {
    let dir = folder(name);
    let spec_path = dir.join("spec.toml");
    std::fs::write(&spec_path, spec).unwrap();
    let spec_path = spec_path.to_string_lossy().into_owned();
    let one = dir.join("one").to_string_lossy().into_owned();
    let o = finish({
        let mut c = Command::new(BIN);
        c.args(["--threads", "2", "run", &spec_path, "--out", &one]);
        c
    });
    ok(&o, "one process");
    let read = |d: &str, f: &str| {
        std::fs::read(Path::new(d).join(f)).unwrap_or_else(|e| panic!("{d}/{f}: {e}"))
    };
    let summary = |d: &str| -> serde_json::Value {
        serde_json::from_slice(&read(d, "summary.json")).unwrap()
    };
    let want = summary(&one);
    for p in ["1", "2", "3"] {
        let out = dir.join(format!("ranks{p}")).to_string_lossy().into_owned();
        let o = mpirun(&[
            "-n",
            p,
            BIN,
            "--threads",
            "2",
            "run",
            &spec_path,
            "--out",
            &out,
        ]);
        ok(&o, &format!("-n {p}"));
        for f in files {
            assert!(
                read(&out, f) == read(&one, f),
                "{name}: -n {p}: {f} differs"
            );
        }
        let got = summary(&out);
        for key in ["trials", "num_params", "model", "prediction_spread"] {
            assert_eq!(got[key], want[key], "{name}: -n {p}: summary {key}");
        }
        assert!(Path::new(&out).join("report.html").is_file());
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Mean-field scaling (γ = 1), plain SGD with an L2 term, two trials, minibatches, a test set
/// and the iterate average; M = 300 (three neuron blocks, the last short), d = 3.
#[test]
fn mean_field_scaling_with_sgd_is_the_single_process_run() {
    let spec = r#"
seed = 3
trials = 2
[data]
kind = "sphere"
n = 60
n_test = 20
dim = 3
target = { kind = "harmonic", degree = 2 }
[model]
kind = "two_layer"
width = 300
activation = "relu"
gamma = 1.0
bias = true
[loss]
l2 = 1e-3
[[optimizer]]
kind = "sgd"
lr = 2.0
[train]
steps = 30
batch_size = 16
record_every = 5
average = true
"#;
    same_on_every_rank_count(
        "sgd",
        spec,
        &["metrics.csv", "params.npy", "params_average.npy"],
    );
}

/// The `mean_field` particle step with Langevin noise (β = 100, annealed) and an L2 term,
/// M = 2900, d = 5 with biases: 20,300 parameters, so the noise spans two noise blocks and
/// the ranks' segments cut through them.
#[test]
fn mean_field_langevin_is_the_single_process_run() {
    let spec = r#"
seed = 7
[data]
kind = "clusters"
n = 40
dim = 5
[model]
kind = "two_layer"
width = 2900
activation = "tanh"
gamma = 1.0
bias = true
output_init = { kind = "gaussian", std = 1.0 }
[loss]
kind = "logistic"
[[optimizer]]
kind = "mean_field"
lr = 0.2
l2 = 1e-3
inverse_temperature = 100.0
anneal = { kind = "inverse_power", a = 1.0, b = 1.0, c = 0.5 }
[train]
steps = 12
record_every = 3
"#;
    same_on_every_rank_count("langevin", spec, &["metrics.csv", "params.npy"]);
}

/// NTK scaling (γ = 1/2) with Adam, a symmetric initialisation (f₀ = 0) and a frozen second
/// layer, M = 700 (six blocks); then SGD with a `langevin_noise` transform at M = 100, below one
/// neuron block, so that ranks 1 and 2 hold no neuron at all.
#[test]
fn ntk_scaling_with_adam_and_a_narrow_noisy_net_are_the_single_process_runs() {
    let adam = r#"
seed = 11
[data]
kind = "gaussian"
n = 50
dim = 4
target = { kind = "harmonic", degree = 1 }
[model]
kind = "two_layer"
width = 700
activation = "gelu"
gamma = 0.5
symmetric = true
train_second = false
[[optimizer]]
kind = "adam"
lr = 0.01
[train]
steps = 20
record_every = 4
"#;
    same_on_every_rank_count("adam", adam, &["metrics.csv", "params.npy"]);
    let narrow = r#"
seed = 5
[data]
kind = "circle"
n = 24
target = { kind = "harmonic", degree = 3 }
[model]
kind = "two_layer"
width = 100
activation = "tanh"
gamma = 0.75
[[optimizer]]
kind = "nesterov"
lr = 0.1
theta = 0.5
[[optimizer]]
kind = "langevin_noise"
lr = 0.1
inverse_temperature = 1e3
[train]
steps = 10
record_every = 2
"#;
    same_on_every_rank_count("narrow", narrow, &["metrics.csv", "params.npy"]);
}

/// A rank that cannot read the spec ends the job (the other ranks wait in a collective) with
/// its message and a non-zero exit, and no output is written; what a sharded run cannot do is
/// refused naming the field.
#[test]
fn a_failing_rank_ends_the_sharded_run() {
    let dir = folder("fault");
    let spec = dir.join("spec.toml");
    std::fs::write(
        &spec,
        "[data]\nkind = \"circle\"\nn = 10\ntarget = { kind = \"harmonic\", degree = 1 }\n[model]\nkind = \"two_layer\"\nwidth = 300\n\
         gamma = 1.0\n[[optimizer]]\nkind = \"sgd\"\nlr = 0.1\n[train]\nsteps = 100000\n",
    )
    .unwrap();
    let spec = spec.to_string_lossy().into_owned();
    let missing = dir.join("missing.toml").to_string_lossy().into_owned();
    let out = dir.join("out").to_string_lossy().into_owned();
    let o = mpirun(&[
        "-n", "1", BIN, "run", &spec, "--out", &out, ":", "-n", "1", BIN, "run", &missing, "--out",
        &out,
    ]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{stderr}");
    assert!(stderr.contains("missing.toml"), "{stderr}");
    assert!(stderr.contains("rank 1 of 2"), "{stderr}");
    assert!(!Path::new(&out).join("metrics.csv").exists());
    // Particle snapshots need every particle in one place: refused, naming the field.
    let particles = dir.join("particles.toml");
    std::fs::write(
        &particles,
        std::fs::read_to_string(&spec).unwrap() + "particles = true\n",
    )
    .unwrap();
    let o = mpirun(&["-n", "2", BIN, "run", &particles.to_string_lossy()]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{stderr}");
    assert!(stderr.contains("train.particles"), "{stderr}");
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}
