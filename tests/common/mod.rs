//! Helpers shared by the integration tests.

/// The message of `r`'s error, after asserting that `r` is an error whose message names `what`
/// (the field or routine at fault); panics with the value when `r` is `Ok`.
#[allow(dead_code)]
pub fn error_naming<T: std::fmt::Debug>(r: gradflow::Result<T>, what: &str) -> String {
    match r {
        Ok(v) => panic!("expected an error naming '{what}', got Ok({v:?})"),
        Err(e) => {
            let message = e.to_string();
            assert!(message.contains(what), "'{message}' does not name '{what}'");
            message
        }
    }
}

/// `f` run on a fresh rayon pool of `threads` threads (for results that must not depend on the
/// thread count).
#[allow(dead_code)]
pub fn on_threads<R: Send>(threads: usize, f: impl FnOnce() -> R + Send) -> R {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .expect("thread pool")
        .install(f)
}

/// The `gradflow` binary under test: this build's, or `GRADFLOW_TEST_BINARY` (to run the
/// end-to-end tests against another build, e.g. to see them fail on an older one).
#[allow(dead_code)]
pub fn binary() -> std::path::PathBuf {
    std::env::var_os("GRADFLOW_TEST_BINARY")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from(env!("CARGO_BIN_EXE_gradflow")))
}

/// Runs the binary with `args` in `cwd` and returns its exit status and output.
#[allow(dead_code)]
pub fn gradflow(args: &[&str], cwd: &std::path::Path) -> std::process::Output {
    std::process::Command::new(binary())
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("the binary runs")
}

/// A fresh, empty scratch folder for one test (named after the test and this process).
#[allow(dead_code)]
pub fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("gradflow-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch folder");
    dir
}

/// The standard error of a finished run, as text.
#[allow(dead_code)]
pub fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// An n × d matrix of standard normal entries, the `index`-th of the kernel tests' inputs.
#[allow(dead_code)]
pub fn inputs(n: usize, d: usize, index: u64) -> gradflow::Matrix {
    let mut r = gradflow::Seed(21).stream("kernel-inputs", index);
    gradflow::Matrix::from_fn(n, d, |_, _| r.normal())
}

/// ‖a − b‖_F / ‖b‖_F.
#[allow(dead_code)]
pub fn rel_frobenius(a: &gradflow::Matrix, b: &gradflow::Matrix) -> f64 {
    gradflow::linalg::distance(&a.data, &b.data) / b.frobenius_norm()
}

/// The largest |a − b| over the largest |b|.
#[allow(dead_code)]
pub fn relative_gap(a: &[f64], b: &[f64]) -> f64 {
    let scale = b.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let gap = a
        .iter()
        .zip(b)
        .fold(0.0f64, |m, (u, v)| m.max((u - v).abs()));
    gap / scale
}

/// A spec of a two-layer net: the `top` lines (seed, trials), the `[data]` lines, the model's
/// lines after `kind = "two_layer"` (width, activation …), the tables after the model (loss,
/// optimizers) and the `[train]` lines.
#[allow(dead_code)]
pub fn two_layer_spec(top: &str, data: &str, model: &str, tables: &str, train: &str) -> String {
    format!(
        "\n{top}\n[data]\n{data}\n[model]\nkind = \"two_layer\"\n{model}\n{tables}\n\
         [train]\n{train}\n"
    )
}

/// The end-to-end tests' small run: a two-layer net trained by SGD (η = 0.5) on a degree-1
/// harmonic on S², seed 1; `data` holds the `[data]` sizes (`n = …`, optionally `n_test = …`)
/// and `train` the `[train]` lines. Tests vary it by replacing its lines (`width = 16` …).
#[allow(dead_code)]
pub fn sphere_spec(trials: usize, data: &str, width: usize, train: &str) -> String {
    two_layer_spec(
        &format!("seed = 1\ntrials = {trials}"),
        &format!(
            "kind = \"sphere\"\n{data}\ndim = 3\ntarget = {{ kind = \"harmonic\", degree = 1 }}"
        ),
        &format!("width = {width}"),
        "[[optimizer]]\nkind = \"sgd\"\nlr = 0.5",
        train,
    )
}

/// The arguments of `gradflow predict` trained on the folder's x.npy, y.npy and tested on its
/// xt.npy, followed by `extra`.
#[allow(dead_code)]
pub fn predict_args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
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
}

/// Asserts that the file at `path` holds exactly the bytes `expected` (`what` names the run
/// that wrote it).
#[allow(dead_code)]
pub fn assert_same_bytes(path: impl AsRef<std::path::Path>, expected: &[u8], what: &str) {
    let path = path.as_ref();
    let found = std::fs::read(path).unwrap_or_else(|e| panic!("{what}: {}: {e}", path.display()));
    assert!(
        found == expected,
        "{what}: {} differs from the reference",
        path.display()
    );
}

/// A matrix of a neural-tangents fixture (a JSON list of rows).
#[allow(dead_code)]
pub fn fixture_matrix(v: &serde_json::Value) -> gradflow::Matrix {
    let rows = v.as_array().expect("a list of rows");
    let data: Vec<f64> = rows
        .iter()
        .flat_map(|r| r.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()))
        .collect();
    gradflow::Matrix::from_vec(rows.len(), data.len() / rows.len(), data).unwrap()
}

/// Our kernels of one set with itself (`same`) and of two sets (`cross`) against a
/// neural-tangents fixture case's `nngp`, `ntk`, `nngp_cross` and `ntk_cross`, entry by entry
/// relative to max(|theirs|, 10⁻⁶ max|theirs|): ≤ 1e-12 except on the diagonal of a set with
/// itself, ≤ 1e-7 there (neural-tangents computes the angle of a point with itself from
/// q₁₂/√(q₁q₂) and carries ~1e-8 round-off, where gradflow sets it to exactly 0). Returns the
/// worst (off-diagonal, diagonal) relative errors.
#[allow(dead_code)]
pub fn compare_with_neural_tangents(
    same: &gradflow::kernel::Kernels,
    cross: &gradflow::kernel::Kernels,
    case: &serde_json::Value,
    label: &str,
) -> (f64, f64) {
    let (mut off, mut diag) = (0.0f64, 0.0f64);
    for (ours, key, same_set) in [
        (&same.nngp, "nngp", true),
        (&same.ntk, "ntk", true),
        (&cross.nngp, "nngp_cross", false),
        (&cross.ntk, "ntk_cross", false),
    ] {
        let theirs = fixture_matrix(&case[key]);
        assert_eq!(
            (ours.rows, ours.cols),
            (theirs.rows, theirs.cols),
            "{label} {key}"
        );
        let scale = theirs.data.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let (mut key_off, mut key_diag) = (0.0f64, 0.0f64);
        for i in 0..theirs.rows {
            for j in 0..theirs.cols {
                let (a, b) = (ours.get(i, j), theirs.get(i, j));
                let rel = (a - b).abs() / b.abs().max(1e-6 * scale);
                if same_set && i == j {
                    key_diag = key_diag.max(rel);
                } else {
                    key_off = key_off.max(rel);
                }
            }
        }
        assert!(
            key_off <= 1e-12,
            "{label} {key}: off-diagonal relative error {key_off:e}"
        );
        assert!(
            key_diag <= 1e-7,
            "{label} {key}: diagonal relative error {key_diag:e}"
        );
        (off, diag) = (off.max(key_off), diag.max(key_diag));
    }
    (off, diag)
}

/// Writes an f64 NPY file `name` of the given shape in `dir`.
#[allow(dead_code)]
pub fn write_npy(dir: &std::path::Path, name: &str, shape: &[usize], data: &[f64]) {
    std::fs::write(dir.join(name), gradflow::data::io::npy_bytes(shape, data)).unwrap();
}

/// Asserts that the finished command `o` succeeded (`what` names it; its status and standard
/// error otherwise).
#[allow(dead_code)]
pub fn ok(o: &std::process::Output, what: &str) {
    assert!(
        o.status.success(),
        "{what}: {:?}\n{}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Runs a command to completion, failing the test if it runs past two minutes (a hang).
#[allow(dead_code)]
pub fn finish(mut command: std::process::Command) -> std::process::Output {
    use std::process::Stdio;
    use std::time::{Duration, Instant};
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("mpirun (Open MPI) must be installed to test the mpi feature");
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            panic!("{command:?} still running after 120 s: a rank hangs");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

/// `mpirun --oversubscribe` with the given arguments (ranks, then `gradflow` and its flags or
/// several `:`-separated programs), as root where the tests run as root (Open MPI's two
/// consent variables), to completion ([`finish`]).
#[allow(dead_code)]
pub fn mpirun(args: &[&str]) -> std::process::Output {
    let mut c = std::process::Command::new("mpirun");
    c.env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .env("OMPI_MCA_rmaps_base_oversubscribe", "1")
        .arg("--oversubscribe")
        .args(args);
    finish(c)
}
