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
use std::process::Command;
mod common;
use common::{finish, mpirun, ok, two_layer_spec};

const BIN: &str = env!("CARGO_BIN_EXE_gradflow");

/// A fresh folder for one test.
fn folder(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("gradflow-mpimf-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
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
    let spec = two_layer_spec(
        "seed = 3\ntrials = 2",
        "kind = \"sphere\"\nn = 60\nn_test = 20\ndim = 3\n\
         target = { kind = \"harmonic\", degree = 2 }",
        "width = 300\nactivation = \"relu\"\ngamma = 1.0\nbias = true",
        "[loss]\nl2 = 1e-3\n[[optimizer]]\nkind = \"sgd\"\nlr = 2.0",
        "steps = 30\nbatch_size = 16\nrecord_every = 5\naverage = true",
    );
    same_on_every_rank_count(
        "sgd",
        &spec,
        &["metrics.csv", "params.npy", "params_average.npy"],
    );
}

/// The `mean_field` particle step with Langevin noise (β = 100, annealed) and an L2 term,
/// M = 2900, d = 5 with biases: 20,300 parameters, so the noise spans two noise blocks and
/// the ranks' segments cut through them.
#[test]
fn mean_field_langevin_is_the_single_process_run() {
    let spec = two_layer_spec(
        "seed = 7",
        "kind = \"clusters\"\nn = 40\ndim = 5",
        "width = 2900\nactivation = \"tanh\"\ngamma = 1.0\nbias = true\n\
         output_init = { kind = \"gaussian\", std = 1.0 }",
        "[loss]\nkind = \"logistic\"\n[[optimizer]]\nkind = \"mean_field\"\nlr = 0.2\nl2 = 1e-3\n\
         inverse_temperature = 100.0\n\
         anneal = { kind = \"inverse_power\", a = 1.0, b = 1.0, c = 0.5 }",
        "steps = 12\nrecord_every = 3",
    );
    same_on_every_rank_count("langevin", &spec, &["metrics.csv", "params.npy"]);
}

/// NTK scaling (γ = 1/2) with Adam, a symmetric initialisation (f₀ = 0) and a frozen second
/// layer, M = 700 (six blocks); then SGD with a `langevin_noise` transform at M = 100, below one
/// neuron block, so that ranks 1 and 2 hold no neuron at all.
#[test]
fn ntk_scaling_with_adam_and_a_narrow_noisy_net_are_the_single_process_runs() {
    let adam = two_layer_spec(
        "seed = 11",
        "kind = \"gaussian\"\nn = 50\ndim = 4\ntarget = { kind = \"harmonic\", degree = 1 }",
        "width = 700\nactivation = \"gelu\"\ngamma = 0.5\nsymmetric = true\ntrain_second = false",
        "[[optimizer]]\nkind = \"adam\"\nlr = 0.01",
        "steps = 20\nrecord_every = 4",
    );
    same_on_every_rank_count("adam", &adam, &["metrics.csv", "params.npy"]);
    let narrow = two_layer_spec(
        "seed = 5",
        "kind = \"circle\"\nn = 24\ntarget = { kind = \"harmonic\", degree = 3 }",
        "width = 100\nactivation = \"tanh\"\ngamma = 0.75",
        "[[optimizer]]\nkind = \"nesterov\"\nlr = 0.1\ntheta = 0.5\n\
         [[optimizer]]\nkind = \"langevin_noise\"\nlr = 0.1\ninverse_temperature = 1e3",
        "steps = 10\nrecord_every = 2",
    );
    same_on_every_rank_count("narrow", &narrow, &["metrics.csv", "params.npy"]);
}

/// A rank that cannot read the spec ends the job (the other ranks wait in a collective) with
/// its message and a non-zero exit, and no output is written; what a sharded run cannot do is
/// refused naming the field.
#[test]
fn a_failing_rank_ends_the_sharded_run() {
    let dir = folder("fault");
    let spec = dir.join("spec.toml");
    let text = two_layer_spec(
        "",
        "kind = \"circle\"\nn = 10\ntarget = { kind = \"harmonic\", degree = 1 }",
        "width = 300\ngamma = 1.0",
        "[[optimizer]]\nkind = \"sgd\"\nlr = 0.1",
        "steps = 100000",
    );
    std::fs::write(&spec, &text).unwrap();
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
    std::fs::write(&particles, text + "particles = true\n").unwrap();
    let o = mpirun(&["-n", "2", BIN, "run", &particles.to_string_lossy()]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{stderr}");
    assert!(stderr.contains("train.particles"), "{stderr}");
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}
