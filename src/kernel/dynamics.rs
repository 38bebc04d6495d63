//! Kernel dynamics: the infinitely wide network trained by gradient descent on the squared loss,
//! in neural-tangents' `predict.gradient_descent_mse` convention, and kernel ridge regression.
//!
//! Loss (1/2N) ‖f − y‖², N = the number of targets (n · k). Gradient flow with learning rate η:
//! * train: f_t = y + e^{−ηtΘ/N} (f₀ − y);
//! * test: f_t = f₀ + Θ_{te,tr} Θ^{−1} (I − e^{−ηtΘ/N}) (y − f₀(train));
//! * t = ∞: f_∞ = f₀ + Θ_{te,tr} Θ^{−1} (y − f₀(train)) by Cholesky.
//!
//! Finite times need e^{−aΘ} r and g(Θ) r with g(λ) = (1 − e^{−aλ})/λ, evaluated as
//! −expm1(−aλ)/λ (→ a as λ → 0), a = ηt/N, r = y − f₀. Two solvers ([`Solver`]):
//! * `Eigen`: Θ = V Λ Vᵀ once, then every time costs two products with V — the choice when
//!   many times or many outputs are asked for, or the spectrum is wanted anyway;
//! * `Krylov`: Lanczos matrix-function–vector products ([`crate::linalg::lanczos_apply`]), one
//!   Krylov basis per output column serving every time at once — O(n²) per step, tens of steps
//!   where the eigendecomposition costs O(n³).
//!
//! Both agree to ≈ 1e-12 relative (tests). `diag_reg` adds r·tr(Θ)/n (relative, the default)
//! or r (absolute) to the diagonal of Θ.

use crate::error::{check_non_negative, check_positive, Error, Result};
use crate::linalg::{
    cholesky_solve, cholesky_solve_with_pivots, gemm, lanczos_apply, symmetric_eigen,
    LanczosOutput, Matrix,
};

/// How [`gradient_descent_mse`] evaluates the matrix functions at finite times.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Solver {
    /// `Krylov` for n ≥ [`KRYLOV_MIN_SIZE`] with at most [`KRYLOV_MAX_OUTPUTS`] output columns,
    /// `Eigen` otherwise.
    Auto,
    /// A full eigendecomposition of Θ.
    Eigen,
    /// Lanczos matrix-function–vector products (relative tolerance 1e-13).
    Krylov,
}

/// The smallest training set for which `Solver::Auto` picks Krylov.
pub const KRYLOV_MIN_SIZE: usize = 400;
/// The most output columns for which `Solver::Auto` picks Krylov (each needs its own basis).
pub const KRYLOV_MAX_OUTPUTS: usize = 8;
/// The Lanczos stopping tolerance (see [`crate::linalg::lanczos`]).
pub const KRYLOV_TOLERANCE: f64 = 1e-13;

impl std::str::FromStr for Solver {
    type Err = String;
    /// The serde name (`auto`, `eigen`, `krylov`), as in specs and JSON.
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        crate::error::parse_variant(s)
    }
}

impl Solver {
    /// The solver `Auto` resolves to for n training points and k outputs.
    pub fn resolve(self, n: usize, k: usize) -> Solver {
        match self {
            Solver::Auto if n >= KRYLOV_MIN_SIZE && k <= KRYLOV_MAX_OUTPUTS => Solver::Krylov,
            Solver::Auto => Solver::Eigen,
            s => s,
        }
    }
}

/// Settings of [`gradient_descent_mse`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FlowSettings {
    /// η.
    pub learning_rate: f64,
    /// r.
    pub diag_reg: f64,
    /// r is absolute instead of relative to tr(Θ)/n.
    pub diag_reg_absolute: bool,
    /// How finite times are evaluated.
    pub solver: Solver,
}

impl Default for FlowSettings {
    fn default() -> Self {
        FlowSettings {
            learning_rate: 1.0,
            diag_reg: 0.0,
            diag_reg_absolute: false,
            solver: Solver::Auto,
        }
    }
}

/// Predictions at each requested time: `train[t]` (n × k) and `test[t]` (m × k).
#[derive(Clone, Debug, PartialEq)]
pub struct Predictions {
    /// On the training inputs.
    pub train: Vec<Matrix>,
    /// On the test inputs.
    pub test: Vec<Matrix>,
    /// The solver used for finite times.
    pub solver: Solver,
    /// With the Krylov solver, the Krylov dimension reached for each output column.
    pub krylov_steps: Vec<usize>,
}

impl FlowSettings {
    /// Checks η (finite, > 0) and r (finite, ≥ 0).
    pub fn validate(&self) -> Result<()> {
        check_positive("learning_rate", self.learning_rate)?;
        check_non_negative("diag_reg", self.diag_reg)
    }
}

/// Err unless the training kernel is n × n and the test–train kernel has n columns, for n
/// training targets.
fn check_kernels(
    routine: &str,
    theta_train: &Matrix,
    theta_test_train: &Matrix,
    n: usize,
) -> Result<()> {
    let (rows, cols) = (theta_train.rows, theta_train.cols);
    require(rows == n && cols == n, routine, || {
        format!("the training kernel is {rows}×{cols}, the targets have {n} rows")
    })?;
    let test_cols = theta_test_train.cols;
    require(test_cols == n, routine, || {
        format!("the test–train kernel has {test_cols} columns, expected {n}")
    })
}

/// A shape error in `routine` with `message()` unless `ok`.
fn require(ok: bool, routine: &str, message: impl FnOnce() -> String) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(Error::shape(routine, message()))
    }
}

fn regularized(theta: &Matrix, s: &FlowSettings) -> Matrix {
    let n = theta.rows;
    let trace: f64 = (0..n).map(|i| theta.get(i, i)).sum();
    let add = if s.diag_reg_absolute {
        s.diag_reg
    } else {
        s.diag_reg * trace / n as f64
    };
    shifted(theta, add)
}

fn sub(a: &Matrix, b: &Matrix) -> Matrix {
    Matrix {
        rows: a.rows,
        cols: a.cols,
        data: a.data.iter().zip(&b.data).map(|(x, y)| x - y).collect(),
    }
}

/// Gradient-flow predictions of an infinitely wide network (see the module doc). `times` may
/// hold `f64::INFINITY`. `f0_train`/`f0_test` default to 0.
#[allow(clippy::too_many_arguments)]
pub fn gradient_descent_mse(
    theta_train: &Matrix,
    theta_test_train: &Matrix,
    y_train: &Matrix,
    f0_train: Option<&Matrix>,
    f0_test: Option<&Matrix>,
    times: &[f64],
    settings: &FlowSettings,
) -> Result<Predictions> {
    let (n, k) = (y_train.rows, y_train.cols);
    check_kernels("gradient_descent_mse", theta_train, theta_test_train, n)?;
    settings.validate()?;
    let m = theta_test_train.rows;
    let zeros_tr = Matrix::zeros(n, k);
    let zeros_te = Matrix::zeros(m, k);
    let f0_tr = f0_train.unwrap_or(&zeros_tr);
    let f0_te = f0_test.unwrap_or(&zeros_te);
    if (f0_tr.rows, f0_tr.cols) != (n, k) || (f0_te.rows, f0_te.cols) != (m, k) {
        return Err(Error::shape(
            "gradient_descent_mse",
            "f0 shapes do not match the targets",
        ));
    }
    let theta = regularized(theta_train, settings);
    let normalization = (n * k) as f64;
    let residual0 = sub(y_train, f0_tr); // y − f₀
    check_times(times)?;
    let finite: Vec<f64> = times.iter().copied().filter(|t| t.is_finite()).collect();
    let solver = settings.solver.resolve(n, k);
    // (e^{−aΘ} r, g(Θ) r) for every finite time, in the order of `finite`.
    let (pairs, krylov_steps) = if finite.is_empty() {
        (Vec::new(), Vec::new())
    } else if solver == Solver::Krylov {
        krylov_pairs(
            |column, functions| lanczos_apply(&theta, column, functions, KRYLOV_TOLERANCE),
            &residual0,
            &finite,
            settings.learning_rate / normalization,
        )?
    } else {
        let (values, vectors, proj) = eigen_projection(&theta, &residual0)?;
        let pairs = finite
            .iter()
            .map(|&t| {
                let a = settings.learning_rate * t / normalization;
                spectral_pair(&values, &vectors, &proj, |lam| {
                    ((-a * lam).exp(), flow_coefficient(a, lam))
                })
            })
            .collect();
        (pairs, Vec::new())
    };
    let mut pairs = pairs.into_iter();
    let mut out = Predictions {
        train: Vec::new(),
        test: Vec::new(),
        solver,
        krylov_steps,
    };
    for &t in times {
        // c = g(Θ)(y − f₀) with g = Θ^{-1}(I − e^{−aΘ}) (test) and e^{−aΘ} (train).
        let (train_res, coef) = if t.is_infinite() {
            (Matrix::zeros(n, k), solve_at_infinity(&theta, &residual0)?)
        } else {
            pairs.next().expect("one pair per finite time")
        };
        // train: f_t = y − e^{−aΘ}(y − f₀).
        out.train.push(sub(y_train, &train_res));
        let mut test = f0_te.clone();
        gemm(&mut test, 1.0, theta_test_train.view(), coef.view(), 1.0);
        out.test.push(test);
    }
    Ok(out)
}

/// The relative Cholesky pivot below which [`gradient_descent_mse`] calls a kernel of n
/// training points singular: n · ε (ε = 2.2e-16, f64's rounding unit), as LAPACK's rank
/// decisions.
pub fn singularity_threshold(n: usize) -> f64 {
    n.max(1) as f64 * f64::EPSILON
}

/// Θ⁻¹ R for t = ∞, refusing a kernel singular to working precision: by the Cholesky pivots
/// (min L_ii² / max Θ_ii ≥ λ_min/λ_max, see [`crate::linalg::cholesky_solve_with_pivots`])
/// against [`singularity_threshold`] — the same test whichever [`Solver`] evaluates the finite
/// times. A failed factorization is the same error.
fn solve_at_infinity(theta: &Matrix, residual: &Matrix) -> Result<Matrix> {
    let n = theta.rows;
    let threshold = singularity_threshold(n);
    let advice = "(e.g. repeated training inputs, or the bias-free ReLU NTK on a circle); add \
                  a diagonal regularisation (diag_reg, --diag-reg, e.g. 1e-6) or use finite times";
    match cholesky_solve_with_pivots(theta, residual) {
        Ok((coef, ratio)) if ratio >= threshold => Ok(coef),
        Ok((_, ratio)) => Err(Error::Numerical {
            routine: "gradient flow at t = ∞".into(),
            message: format!(
                "the training kernel is numerically singular: its smallest Cholesky pivot is \
                 {ratio:.2e} of its largest diagonal entry, below n·ε = {threshold:.2e} {advice}"
            ),
        }),
        Err(_) => Err(Error::Numerical {
            routine: "gradient flow at t = ∞".into(),
            message: format!(
                "the training kernel is singular to working precision (not positive definite) \
                 {advice}"
            ),
        }),
    }
}

/// Err naming `time` unless every time is t ≥ 0 (`f64::INFINITY` for t = ∞; NaN is refused).
pub fn check_times(times: &[f64]) -> Result<()> {
    if let Some(&t) = times.iter().find(|t| **t < 0.0 || t.is_nan()) {
        return Err(Error::invalid(
            "time",
            format!("expected t ≥ 0 or inf, got {t}"),
        ));
    }
    Ok(())
}

/// Parses prediction times: each a number t ≥ 0 or `inf` / `infinity` (t = ∞); errors name
/// `field` and the value.
pub fn parse_times(field: &str, values: &[String]) -> Result<Vec<f64>> {
    values
        .iter()
        .map(|t| match t.trim() {
            "inf" | "infinity" => Ok(f64::INFINITY),
            v => v
                .parse::<f64>()
                .ok()
                .filter(|x| *x >= 0.0 && x.is_finite())
                .ok_or_else(|| Error::invalid(field, format!("expected t ≥ 0 or inf, got '{v}'"))),
        })
        .collect()
}

/// (e^{−aΘ} r, g(Θ) r) at one time: the decayed training residual and the test coefficients.
pub(crate) type DecayAndCoefficients = (Matrix, Matrix);

/// g(λ) = (1 − e^{−aλ})/λ = −expm1(−aλ)/λ, → a as λ → 0.
fn flow_coefficient(a: f64, lam: f64) -> f64 {
    if lam.abs() > 0.0 {
        -(-a * lam).exp_m1() / lam
    } else {
        a
    }
}

/// (e^{−aΘ} R, g(Θ) R) with a = `rate`·t for each time, by Lanczos on each column of R (one
/// Krylov basis per column serves every time); also the Krylov dimensions. `lanczos(b, fs)`
/// returns f(Θ) b for each f of `fs` ([`lanczos_apply`] on the stored kernel, or with a
/// distributed product, [`crate::distributed::flow`]).
pub(crate) fn krylov_pairs(
    mut lanczos: impl FnMut(&[f64], &[&dyn Fn(f64) -> f64]) -> Result<LanczosOutput>,
    residual: &Matrix,
    times: &[f64],
    rate: f64,
) -> Result<(Vec<DecayAndCoefficients>, Vec<usize>)> {
    let (n, k) = (residual.rows, residual.cols);
    let decays: Vec<Box<dyn Fn(f64) -> f64>> = times
        .iter()
        .map(|&t| Box::new(move |lam: f64| (-rate * t * lam).exp()) as Box<dyn Fn(f64) -> f64>)
        .collect();
    let coefficients: Vec<Box<dyn Fn(f64) -> f64>> = times
        .iter()
        .map(|&t| {
            Box::new(move |lam: f64| flow_coefficient(rate * t, lam)) as Box<dyn Fn(f64) -> f64>
        })
        .collect();
    let functions: Vec<&dyn Fn(f64) -> f64> = decays
        .iter()
        .chain(&coefficients)
        .map(|f| f.as_ref())
        .collect();
    let mut pairs = vec![(Matrix::zeros(n, k), Matrix::zeros(n, k)); times.len()];
    let mut steps = Vec::with_capacity(k);
    for c in 0..k {
        let column: Vec<f64> = (0..n).map(|i| residual.get(i, c)).collect();
        let out = lanczos(&column, &functions)?;
        steps.push(out.iterations);
        for (ti, (decay, coef)) in pairs.iter_mut().enumerate() {
            let (d, g) = (&out.products[ti], &out.products[times.len() + ti]);
            for i in 0..n {
                decay.data[i * k + c] = d[i];
                coef.data[i * k + c] = g[i];
            }
        }
    }
    Ok((pairs, steps))
}

/// Θ = V Λ Vᵀ and the projections P = Vᵀ R of the columns of R: (Λ, V, P).
fn eigen_projection(theta: &Matrix, r: &Matrix) -> Result<(Vec<f64>, Matrix, Matrix)> {
    let (values, vectors) = symmetric_eigen(theta)?;
    let mut proj = Matrix::zeros(r.rows, r.cols);
    gemm(&mut proj, 0.0, vectors.view().transpose(), r.view(), 1.0);
    Ok((values, vectors, proj))
}

/// With Θ = V Λ Vᵀ and p = Vᵀ r: (V d(Λ) p, V g(Λ) p) for the pair (d, g) = `functions(λ)` —
/// the decay of the training residual and the test coefficients of a kernel descent.
fn spectral_pair(
    values: &[f64],
    vectors: &Matrix,
    proj: &Matrix,
    functions: impl Fn(f64) -> (f64, f64),
) -> (Matrix, Matrix) {
    let (n, k) = (proj.rows, proj.cols);
    let mut decay = proj.clone();
    let mut inv = proj.clone();
    for (i, &lam) in values.iter().enumerate() {
        let (d, g) = functions(lam);
        for c in 0..k {
            decay.data[i * k + c] *= d;
            inv.data[i * k + c] *= g;
        }
    }
    let mut res = Matrix::zeros(n, k);
    gemm(&mut res, 0.0, vectors.view(), decay.view(), 1.0);
    let mut coef = Matrix::zeros(n, k);
    gemm(&mut coef, 0.0, vectors.view(), inv.view(), 1.0);
    (res, coef)
}

/// Kernel ridge regression / GP posterior mean: f(x*) = K_{*,tr} (K + λ I)^{−1} y.
pub fn kernel_ridge(
    k_train: &Matrix,
    k_test_train: &Matrix,
    y: &Matrix,
    ridge: f64,
) -> Result<Matrix> {
    check_kernels("kernel_ridge", k_train, k_test_train, y.rows)?;
    check_non_negative("ridge", ridge)?;
    let alpha = cholesky_solve(&shifted(k_train, ridge), y)?;
    k_test_train.matmul(&alpha)
}

/// K + λ I.
fn shifted(k: &Matrix, lambda: f64) -> Matrix {
    let mut k = k.clone();
    let n = k.rows;
    for i in 0..n {
        k.data[i * n + i] += lambda;
    }
    k
}

/// The generalization quantity √(yᵀ K^{−1} y / n) of Arora et al. (2019).
pub fn complexity(k_train: &Matrix, y: &Matrix) -> Result<f64> {
    let alpha = cholesky_solve(k_train, y)?;
    let q: f64 = alpha.data.iter().zip(&y.data).map(|(a, b)| a * b).sum();
    Ok((q / y.rows as f64).sqrt())
}

/// Err unless a prediction's inputs agree: x_train has one row per row of y_train
/// (`y_rows`), x_test as many columns as x_train. Shared by every prediction route
/// ([`predict_with`], the distributed solve).
pub fn check_predict_shapes(
    x_train: crate::linalg::MatrixView<'_>,
    y_rows: usize,
    x_test: crate::linalg::MatrixView<'_>,
) -> Result<()> {
    let (n, d, d_test) = (x_train.rows, x_train.cols, x_test.cols);
    require(n == y_rows, "predict", || {
        format!("x_train has {n} rows, y_train {y_rows}")
    })?;
    require(d_test == d, "predict", || {
        format!("x_test has {d_test} columns, x_train {d}")
    })
}

/// Gradient-flow predictions of the infinitely wide `network` trained on (x_train, y_train):
/// computes Θ(train, train) and Θ(test, train) (or the NNGP kernel, `kind`) and calls
/// [`gradient_descent_mse`], calling `before(stage)` before each of its three stages ("the
/// training kernel", "the test kernel", "the flow"): a cancellation point, whose error stops
/// it (`|_| Ok(())` for none).
#[allow(clippy::too_many_arguments)]
pub fn predict_with<'a>(
    network: &super::Network,
    kind: super::Kind,
    x_train: impl Into<crate::linalg::MatrixView<'a>>,
    y_train: &Matrix,
    x_test: impl Into<crate::linalg::MatrixView<'a>>,
    f0: Option<(&Matrix, &Matrix)>,
    times: &[f64],
    settings: &FlowSettings,
    mut before: impl FnMut(&'static str) -> Result<()>,
) -> Result<Predictions> {
    let (x_train, x_test) = (x_train.into(), x_test.into());
    check_predict_shapes(x_train, y_train.rows, x_test)?;
    before("the training kernel")?;
    let theta = network.kernels_view(x_train, None)?.take(kind);
    before("the test kernel")?;
    let theta_te = network.kernels_view(x_test, Some(x_train))?.take(kind);
    before("the flow")?;
    gradient_descent_mse(
        &theta,
        &theta_te,
        y_train,
        f0.map(|f| f.0),
        f0.map(|f| f.1),
        times,
        settings,
    )
}

/// Gradient descent with a finite learning rate in function space (the discrete-time version of
/// the flow): after t steps, train f_t = y + (I − ηΘ/N)^t (f₀ − y) and test
/// f_t = f₀ + Θ_{te,tr} Σ_{s<t} (η/N)(I − ηΘ/N)^s (y − f₀) = f₀ + Θ_{te,tr} Θ^{−1}(I − (I − ηΘ/N)^t)(y − f₀),
/// evaluated through Θ = V Λ Vᵀ with (1 − (1 − aλ)^t)/λ computed as a·Σ-free closed form
/// (→ a t as λ → 0), a = η/N. `steps` are step counts.
pub fn gradient_descent_mse_discrete(
    theta_train: &Matrix,
    theta_test_train: &Matrix,
    y_train: &Matrix,
    steps: &[u64],
    settings: &FlowSettings,
) -> Result<Predictions> {
    let (n, k) = (y_train.rows, y_train.cols);
    check_kernels(
        "gradient_descent_mse_discrete",
        theta_train,
        theta_test_train,
        n,
    )?;
    settings.validate()?;
    let theta = regularized(theta_train, settings);
    let a = settings.learning_rate / (n * k) as f64;
    let (values, vectors, proj) = eigen_projection(&theta, y_train)?;
    let mut out = Predictions {
        train: Vec::new(),
        test: Vec::new(),
        solver: Solver::Eigen,
        krylov_steps: Vec::new(),
    };
    for &t in steps {
        let (res, coef) = spectral_pair(&values, &vectors, &proj, |lam| {
            let factor = (1.0 - a * lam).powf(t as f64);
            let g = if lam.abs() > 0.0 {
                (1.0 - factor) / lam
            } else {
                a * t as f64
            };
            (factor, g)
        });
        out.train.push(sub(y_train, &res));
        out.test.push(theta_test_train.matmul(&coef)?);
    }
    Ok(out)
}

/// The Gaussian-process posterior of the NNGP (or any kernel) with noise variance σ²:
/// mean K_{*,tr}(K + σ²I)^{−1} y and the marginal variances
/// diag(K_{**}) − diag(K_{*,tr}(K + σ²I)^{−1}K_{tr,*}).
pub fn gp_posterior(
    k_train: &Matrix,
    k_test_train: &Matrix,
    k_test_diagonal: &[f64],
    y: &Matrix,
    noise_variance: f64,
) -> Result<(Matrix, Vec<f64>)> {
    if k_test_diagonal.len() != k_test_train.rows {
        return Err(Error::shape(
            "gp_posterior",
            format!(
                "{} test diagonal values for {} test points",
                k_test_diagonal.len(),
                k_test_train.rows
            ),
        ));
    }
    let mean = kernel_ridge(k_train, k_test_train, y, noise_variance)?;
    let n = k_train.rows;
    let solved = cholesky_solve(&shifted(k_train, noise_variance), &k_test_train.transpose())?;
    let var = (0..k_test_train.rows)
        .map(|j| {
            let explained: f64 = (0..n)
                .map(|i| k_test_train.get(j, i) * solved.get(i, j))
                .sum();
            k_test_diagonal[j] - explained
        })
        .collect();
    Ok((mean, var))
}
