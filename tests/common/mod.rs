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
