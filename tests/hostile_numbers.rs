//! Hostile numbers through the `gradflow` binary: every size a spec controls is checked
//! before anything is allocated (exit 2 naming the field by its table path, never a panic or an
//! allocation of the machine's memory); a Sinkhorn run that did not converge and a numerically
//! singular kernel exit 3 (a numerical failure) with the reason; method names as the flags
//! spell them.

mod common;
use std::sync::LazyLock;

use common::{gradflow, predict_args, scratch, stderr, write_npy};

static SPHERE: LazyLock<String> =
    LazyLock::new(|| common::sphere_spec(1, "n = 20", 16, "steps = 5"));

const CLUSTERS: &str = r#"
[data]
kind = "clusters"
n = 20
dim = 2
clusters = 4
[model]
kind = "two_layer"
width = 16
[loss]
kind = "logistic"
[[optimizer]]
kind = "sgd"
lr = 0.5
[train]
steps = 5
"#;

const COMPLETION: &str = r#"
[data]
kind = "completion"
size = 8
rank = 2
[model]
kind = "factorization"
rank = 2
[[optimizer]]
kind = "sgd"
lr = 0.5
[train]
steps = 5
"#;

const WELL: &str = r#"
[model]
kind = "potential"
potential = { kind = "double_well", height = 1.0 }
chains = 10
[[optimizer]]
kind = "sgd"
lr = 0.01
[[optimizer]]
kind = "langevin_noise"
lr = 0.01
inverse_temperature = 2.0
[train]
steps = 5
gibbs = { lo = -2, hi = 2, bins = 40 }
"#;

/// Runs `spec` and expects exit 2 with every needle in the message and no panic.
fn expect_field(name: &str, spec: &str, needles: &[&str]) {
    let dir = scratch(name);
    std::fs::write(dir.join("spec.toml"), spec).unwrap();
    let out = gradflow(&["run", "spec.toml", "--out", "out"], &dir);
    let msg = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{name}: {msg}");
    for n in needles {
        assert!(msg.contains(n), "{name}: '{n}' not in: {msg}");
    }
    assert!(!msg.contains("panicked"), "{name}: {msg}");
}

/// `base` with its `line` replaced by `with`, every `{}` in `with` set to `value`.
fn set(base: &str, line: &str, with: &str, value: &str) -> String {
    base.replace(line, &with.replace("{}", value))
}

/// The model lines of the sphere spec.
const TWO_LAYER: &str = "kind = \"two_layer\"\nwidth = 16";
/// The optimizer table of the double-well spec.
const SGD: &str = "[[optimizer]]\nkind = \"sgd\"";
/// A smoothing transform with `{}` samples before [`SGD`].
const SMOOTHING: &str =
    "[[optimizer]]\nkind = \"smoothing\"\ndelta = 0.1\nsamples = {}\n[[optimizer]]\nkind = \"sgd\"";

/// The reproductions of the hostile-input report: sizes that overflowed a count (a panic,
/// exit 101) and sizes of 10⁹–10¹² that allocated or failed naming no field.
#[test]
fn every_size_a_spec_controls_is_checked_before_allocation() {
    const HUGE: &str = "2305843009213693952"; // 2^61
    const I62: &str = "4611686018427387904"; // 2^62
    const E9: &str = "1000000000";
    const E12: &str = "1000000000000";
    // (name, spec, line replaced, its replacement with `{}` for the size, sizes, field).
    type Case<'a> = (&'a str, &'a str, &'a str, &'a str, &'a [&'a str], &'a str);
    let cases: [Case; 10] = [
        (
            "trials",
            &SPHERE,
            "trials = 1",
            "trials = {}",
            &[I62],
            "trials",
        ),
        (
            "completion-rank",
            COMPLETION,
            "rank = 2\n[model]",
            "rank = {}\n[model]",
            &[HUGE, E9],
            "data.rank",
        ),
        (
            "clusters",
            CLUSTERS,
            "clusters = 4",
            "clusters = {}",
            &[HUGE, E9],
            "data.clusters",
        ),
        (
            "terms",
            &SPHERE,
            TWO_LAYER,
            "kind = \"infinite_width\"\nterms = {}",
            &[HUGE, E12],
            "model.terms",
        ),
        (
            "gibbs-bins",
            WELL,
            "bins = 40",
            "bins = {}",
            &[HUGE, E9],
            "train.gibbs.bins",
        ),
        (
            "harmonic-degree",
            &SPHERE,
            "degree = 1",
            "degree = {}",
            &[E12],
            "data.target.degree",
        ),
        (
            "mlp-widths",
            &SPHERE,
            TWO_LAYER,
            "kind = \"mlp\"\nwidths = [{}, {}]",
            &[HUGE],
            "model.widths",
        ),
        (
            "chains",
            WELL,
            "chains = 10",
            "chains = {}",
            &[HUGE],
            "model.chains",
        ),
        (
            "smoothing-samples",
            WELL,
            SGD,
            SMOOTHING,
            &[E12],
            "optimizer[0].samples",
        ),
        (
            "records",
            &SPHERE,
            "steps = 5",
            "steps = {}\nrecord_every = 1",
            &[I62],
            "train.steps",
        ),
    ];
    for (name, spec, line, with, sizes, field) in cases {
        for size in sizes {
            expect_field(
                &format!("{name}-{size}"),
                &set(spec, line, with, size),
                &[field],
            );
        }
    }
}

/// The documented limits are the boundary itself: a harmonic of degree 10⁴, 10⁴ smoothing
/// samples and a Gibbs grid of 10⁶ cells run (in a few seconds); one more is refused naming the
/// field and the limit.
#[test]
fn size_limits_accept_their_bound_and_refuse_one_more() {
    use gradflow::optim::langevin::MAX_SMOOTHING_SAMPLES;
    use gradflow::spec::limits::{MAX_GIBBS_CELLS, MAX_HARMONIC_DEGREE};
    let degree = |k: usize| set(&SPHERE, "degree = 1", "degree = {}", &k.to_string());
    let samples =
        |k: usize| set(WELL, SGD, SMOOTHING, &k.to_string()).replace("steps = 5", "steps = 1");
    // A 1-D grid: the cell count is the bins.
    let bins = |k: usize| set(WELL, "bins = 40", "bins = {}", &k.to_string());
    let cases: [(&str, String, String, &str); 3] = [
        (
            "degree-limit",
            degree(MAX_HARMONIC_DEGREE),
            degree(MAX_HARMONIC_DEGREE + 1),
            "data.target.degree",
        ),
        (
            "samples-limit",
            samples(MAX_SMOOTHING_SAMPLES),
            samples(MAX_SMOOTHING_SAMPLES + 1),
            "optimizer[0].samples",
        ),
        (
            "bins-limit",
            bins(MAX_GIBBS_CELLS),
            bins(MAX_GIBBS_CELLS + 1),
            "train.gibbs.bins",
        ),
    ];
    for (name, at, above, field) in cases {
        let dir = scratch(name);
        std::fs::write(dir.join("spec.toml"), &at).unwrap();
        let out = gradflow(&["run", "spec.toml", "--out", "out", "--quiet"], &dir);
        assert!(
            out.status.success(),
            "{name} at the limit: {}",
            stderr(&out)
        );
        expect_field(name, &above, &[field]);
    }
}

/// Field errors name their full table path: the model's γ is `model.gamma`, a teacher's σ_w is
/// `data.target.model.w_std`.
#[test]
fn field_errors_name_their_table_path() {
    expect_field(
        "model-gamma",
        &SPHERE.replace(
            TWO_LAYER,
            "kind = \"infinite_width\"\nterms = 10\ngamma = 0.2",
        ),
        &["model.gamma"],
    );
    expect_field(
        "teacher-w-std",
        &SPHERE.replace(
            "target = { kind = \"harmonic\", degree = 1 }",
            "target = { kind = \"teacher\", model = { kind = \"two_layer\", width = 4, w_std = -1.0 } }",
        ),
        &["data.target.model.w_std"],
    );
}

/// `ot --method sinkhorn` that stops at its iteration cap, or at an ε below what f64 resolves
/// for the costs, exits 3 with the marginal error in a warning (the exact W2² of these 10 × 12
/// points is ≈ 1.27; at ε = 1e-20 a value far from it used to come with exit 0).
#[test]
fn sinkhorn_that_did_not_converge_exits_3_with_the_marginal_error() {
    let dir = scratch("sinkhorn");
    let mut r = gradflow::rng::Seed(5).stream("points", 0);
    let x: Vec<f64> = (0..20).map(|_| r.normal()).collect();
    let y: Vec<f64> = (0..24).map(|_| r.normal() + 0.5).collect();
    write_npy(&dir, "x.npy", &[10, 2], &x);
    write_npy(&dir, "y.npy", &[12, 2], &y);
    let ot = |extra: &[&str]| {
        let mut args = vec!["ot", "--x", "x.npy", "--y", "y.npy", "--json"];
        args.extend_from_slice(extra);
        gradflow(&args, &dir)
    };
    let exact: serde_json::Value =
        serde_json::from_slice(&ot(&["--method", "exact"]).stdout).unwrap();
    let w2 = exact["cost"].as_f64().unwrap();
    for extra in [
        &["--method", "sinkhorn", "--reg", "1e-20"][..],
        &["--method", "sinkhorn", "--reg", "0.05", "--max-iter", "3"],
    ] {
        let o = ot(extra);
        assert_eq!(o.status.code(), Some(3), "{extra:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("marginal error"), "{}", stderr(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["converged"], false, "{v}");
        assert!(v["marginal_error"]
            .as_f64()
            .is_none_or(|e| e.is_nan() || e >= 1e-9));
    }
    // A converged run at a moderate ε: exit 0, within the entropic bias of the exact value.
    let o = ot(&["--method", "sinkhorn", "--reg", "0.05", "--plan", "p.npy"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        (v["cost"].as_f64().unwrap() - w2).abs() < 0.05 * w2,
        "{v} vs {w2}"
    );
    // A plan is written only for a converged run.
    let o = ot(&[
        "--method",
        "sinkhorn",
        "--reg",
        "0.05",
        "--max-iter",
        "3",
        "--plan",
        "q.npy",
    ]);
    assert_eq!(o.status.code(), Some(3));
    assert!(!dir.join("q.npy").exists());
    // --reg is required with sinkhorn (clap's usage error), and method names are the flags'.
    let o = ot(&["--method", "sinkhorn"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--reg"), "{}", stderr(&o));
    write_npy(&dir, "u.npy", &[3, 1], &[0.0, 1.0, 3.0]);
    let o = gradflow(
        &[
            "ot", "--x", "u.npy", "--y", "u.npy", "--method", "1d", "--json",
        ],
        &dir,
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["method"], "1d", "{v}");
    assert!(stderr(&o).contains("by 1d"), "{}", stderr(&o));
}

/// Two identical training inputs with different targets: the kernel is singular to working
/// precision (λ_min/λ_max ≈ 1e-16) although its Cholesky factorization succeeds. `predict` at
/// t = ∞ exits 3 naming `--diag-reg`, for either finite-time solver; with the regularisation it
/// runs.
#[test]
fn predict_refuses_a_numerically_singular_kernel() {
    let dir = scratch("singular");
    let mut r = gradflow::rng::Seed(8).stream("x", 0);
    let mut x: Vec<f64> = (0..40 * 3).map(|_| r.normal()).collect();
    let dup: Vec<f64> = x[..3].to_vec();
    x[3..6].copy_from_slice(&dup); // row 1 = row 0
    let y: Vec<f64> = (0..40).map(|i| (i as f64 * 0.7).sin()).collect();
    write_npy(&dir, "x.npy", &[40, 3], &x);
    write_npy(&dir, "y.npy", &[40], &y);
    write_npy(&dir, "xt.npy", &[2, 3], &x[6..12]);
    for solver in ["eigen", "krylov"] {
        let o = gradflow(
            &predict_args(&[
                "--depth", "1", "--b-std", "0.5", "--time", "1,inf", "--solver", solver, "--out",
                "p.npy",
            ]),
            &dir,
        );
        assert_eq!(o.status.code(), Some(3), "{solver}: {}", stderr(&o));
        assert!(stderr(&o).contains("--diag-reg"), "{}", stderr(&o));
        assert!(stderr(&o).contains("singular"), "{}", stderr(&o));
        assert!(!dir.join("p.npy").exists());
    }
    let o = gradflow(
        &predict_args(&[
            "--depth",
            "1",
            "--b-std",
            "0.5",
            "--diag-reg",
            "1e-6",
            "--out",
            "p.npy",
        ]),
        &dir,
    );
    assert!(o.status.success(), "{}", stderr(&o));
}

/// The README's worked example runs as written and predicts cos 3θ at the midpoints to the
/// errors it states (RMSE 0.0024 at t = ∞, 0.010 at t = 1000); without the bias the kernel is
/// singular on the circle and `predict --time inf` exits 3 (it exited 1, the code of a failed
/// check).
#[test]
fn the_readme_predict_example_runs_and_predicts() {
    let dir = scratch("readme");
    let tau = std::f64::consts::TAU;
    let t: Vec<f64> = (0..100).map(|i| tau * i as f64 / 100.0).collect();
    let ts: Vec<f64> = t.iter().map(|v| v + std::f64::consts::PI / 100.0).collect();
    let circle = |a: &[f64]| -> Vec<f64> { a.iter().flat_map(|v| [v.cos(), v.sin()]).collect() };
    write_npy(&dir, "x.npy", &[100, 2], &circle(&t));
    write_npy(&dir, "xt.npy", &[100, 2], &circle(&ts));
    let y: Vec<f64> = t.iter().map(|v| (3.0 * v).cos()).collect();
    write_npy(&dir, "y.npy", &[100], &y);
    let predict = |extra: &[&str]| {
        let mut args = predict_args(&[
            "--depth",
            "1",
            "--activation",
            "relu",
            "--out",
            "pred.npy",
            "--json",
        ]);
        args.extend_from_slice(extra);
        gradflow(&args, &dir)
    };
    let o = predict(&["--b-std", "0.5", "--time", "10,100,1000,inf"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let p = gradflow::data::io::read_npy(&dir.join("pred.npy")).unwrap();
    assert_eq!(p.shape, vec![4, 100, 1]);
    let truth: Vec<f64> = ts.iter().map(|v| (3.0 * v).cos()).collect();
    let rmse: Vec<f64> = p
        .data
        .chunks(100)
        .map(|row| {
            (row.iter()
                .zip(&truth)
                .map(|(a, b)| (a - b).powi(2))
                .sum::<f64>()
                / 100.0)
                .sqrt()
        })
        .collect();
    for (got, stated) in rmse.iter().zip([0.68, 0.45, 0.010, 0.0024]) {
        assert!((got / stated - 1.0).abs() < 0.05, "{rmse:?}");
    }
    let o = predict(&["--time", "inf"]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    assert!(stderr(&o).contains("--diag-reg"), "{}", stderr(&o));
}

/// A type error inside the model table (an internally tagged table, which the TOML parser
/// reports at its header) points at the key's line and column; `run --out FILE` names the
/// path and says it is not a folder instead of "File exists (os error 17)"; huge finite kernel inputs name the file, not
/// w_std.
#[test]
fn messages_point_at_the_key_the_flag_and_the_file() {
    let dir = scratch("messages");
    std::fs::write(
        dir.join("spec.toml"),
        SPHERE.replace("width = 16", "activation = \"relu\"\nwidth = \"abc\""),
    )
    .unwrap();
    let o = gradflow(&["run", "spec.toml", "--out", "out"], &dir);
    assert_eq!(o.status.code(), Some(2));
    let line = SPHERE
        .replace("width = 16", "activation = \"relu\"\nwidth = \"abc\"")
        .lines()
        .position(|l| l.starts_with("width"))
        .unwrap()
        + 1;
    let want = format!("line {line}, column 1 (key `width`)");
    assert!(stderr(&o).contains(&want), "{want} not in {}", stderr(&o));
    std::fs::write(dir.join("good.toml"), SPHERE.as_str()).unwrap();
    std::fs::write(dir.join("afile"), "").unwrap();
    let o = gradflow(&["run", "good.toml", "--out", "afile"], &dir);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("afile: exists and is not a folder")
            && !stderr(&o).contains("os error"),
        "{}",
        stderr(&o)
    );
    write_npy(&dir, "hx.npy", &[2, 2], &[1e200, 1.0, 0.5, 2.0]);
    let o = gradflow(
        &["kernel", "--x", "hx.npy", "--depth", "1", "--out", "k.npy"],
        &dir,
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("--x (hx.npy)") && !stderr(&o).contains("w_std"),
        "{}",
        stderr(&o)
    );
}
