//! `gradflow.ot`'s primitives: one function per solver, converting the arguments, calling the
//! library function the `gradflow ot` command calls ([`commands::ot::run`] on points,
//! [`commands::ot::run_costs`] on a cost matrix) and converting the result. The POT-named
//! functions (`emd`, `emd2`, `sinkhorn`, `sinkhorn2`, …) are in `gradflow/ot.py`: each picks
//! the parts of a primitive's result that POT's function of that name returns.

use crate::convert::{borrowed, to_numpy1, to_numpy2, values, Borrowed};
use crate::errors::{NumericalError, OrRaise};
use crate::kernel::count;
use crate::threads::run_cancellable;
use gradflow::commands::{self, ot::CostsOutput, InputView, Names};
use gradflow::transport::{cost_matrix, GroundCost, Measure, Method, Report, Settings, Solution};
use gradflow::{Error, Matrix};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

/// Cost-matrix entries above which a solve is cancellable (a helper thread polls Ctrl-C; below
/// it the solve is one plain call, milliseconds).
const LONG_COSTS: usize = 1 << 16;

/// `gradflow.ot.sinkhorn` / `sinkhorn2`'s names of the CLI's flags (POT's arguments).
const POT_SINKHORN: Names = &[
    ("--reg", "reg"),
    ("--tol", "stopThr"),
    ("tol", "stopThr"),
    ("--max-iter", "numItermax"),
    ("max_iter", "numItermax"),
    ("--eps-scaling", "eps_scaling"),
    ("--method sinkhorn", "gradflow.ot.sinkhorn"),
    ("--method exact", "gradflow.ot.emd"),
];

/// `gradflow.ot.solve`'s names of the CLI's flags (its keyword arguments).
const SOLVE: Names = &[
    ("--reg", "reg"),
    ("--tol", "tol"),
    ("--max-iter", "max_iter"),
    ("--eps-scaling", "eps_scaling"),
    ("--method sinkhorn", "method=\"sinkhorn\""),
    ("--method exact", "method=\"exact\""),
    ("--method", "method"),
    ("--online", "online"),
    ("--divergence", "divergence"),
    ("--projections", "projections"),
    ("--plan", "plan"),
    ("x (weights)", "wx"),
    ("y (weights)", "wy"),
];

/// `gradflow.ot.sliced`'s names of the CLI's flags (POT's arguments).
const SLICED: Names = &[
    ("--projections", "n_projections"),
    ("projections", "n_projections"),
    ("--seed", "seed"),
    ("X_s (weights)", "a"),
    ("X_t (weights)", "b"),
];

/// `gradflow.ot.wasserstein_1d`'s names of the library's fields.
const ONE_D: Names = &[
    ("u_values (weights)", "u_weights"),
    ("v_values (weights)", "v_weights"),
];

/// The (a, b, M or x/y) arguments of the POT-style functions, converted: the weights
/// (`None` or empty: uniform 1/n, POT's convention) and the n × m cost matrix — `M` as given,
/// or C_ij = ‖x_i − y_j‖^p between the rows of `x` and `y` (the ground cost of `gradflow ot`).
struct Problem<'py> {
    a: Vec<f64>,
    b: Vec<f64>,
    /// `M` read in place (C-contiguous float64) or converted, or the costs of the points.
    c: Borrowed<'py>,
}

impl<'py> Problem<'py> {
    #[allow(non_snake_case)]
    fn new(
        a: Option<&Bound<'py, PyAny>>,
        b: Option<&Bound<'py, PyAny>>,
        M: Option<&Bound<'py, PyAny>>,
        x: Option<&Bound<'py, PyAny>>,
        y: Option<&Bound<'py, PyAny>>,
        p: f64,
    ) -> PyResult<Problem<'py>> {
        let c = match (M, x, y) {
            (Some(m), None, None) => {
                let m = borrowed(m, "M")?;
                InputView::new("M", m.view()?).or_raise()?;
                m
            }
            (None, Some(x), Some(y)) => {
                // C-contiguous float64 points are read in place.
                let (bx, by) = (borrowed(x, "x")?, borrowed(y, "y")?);
                let x = InputView::new("x", bx.view()?).or_raise()?;
                let y = InputView::new("y", by.view()?).or_raise()?;
                let ground = GroundCost::for_order(p).or_raise()?;
                Borrowed::Copied(cost_matrix(x.matrix, y.matrix, ground).or_raise()?)
            }
            _ => {
                return Err(PyValueError::new_err(
                    "invalid M, x, y: give the cost matrix M, or the points x and y (not both)",
                ))
            }
        };
        let weights = |obj: Option<&Bound<'_, PyAny>>, name: &str, n: usize| {
            let w = match obj {
                Some(o) if !o.is_none() => values(o, name)?,
                _ => Vec::new(),
            };
            PyResult::Ok(if w.is_empty() {
                vec![1.0 / n.max(1) as f64; n]
            } else {
                w
            })
        };
        Ok(Problem {
            a: weights(a, "a", c.view()?.rows)?,
            b: weights(b, "b", c.view()?.cols)?,
            c,
        })
    }

    /// [`commands::ot::run_costs`] under `settings`, GIL released (cancellable when large);
    /// a result that cannot be trusted raises NumericalError with the library's message (the
    /// flags renamed by `names`).
    fn solve(
        self,
        py: Python<'_>,
        settings: Settings,
        threads: Option<i64>,
        names: Names,
    ) -> PyResult<CostsOutput> {
        let c = self.c.view()?;
        let (a, b) = (&self.a, &self.b);
        let long = c.data.len() > LONG_COSTS;
        let out = run_cancellable(py, threads, long, names, move |cancel| {
            commands::ot::run_costs(&settings, a, b, c, cancel)
        })?;
        match out.failure {
            Some(message) => Err(NumericalError::new_err(commands::renamed(&message, names))),
            None => Ok(out),
        }
    }
}

/// A Python dict from a serializable value (through JSON).
fn to_dict<'py>(py: Python<'py>, value: &impl serde::Serialize) -> PyResult<Bound<'py, PyDict>> {
    let text = serde_json::to_string(value).map_err(|e| PyValueError::new_err(e.to_string()))?;
    py.import("json")?
        .call_method1("loads", (text,))?
        .cast_into::<PyDict>()
        .map_err(|e| PyValueError::new_err(e.to_string()))
}

/// `(plan, log)` of the exact problem (network simplex): plan n × m (``None`` with
/// ``plan=False``), log = {"cost": ⟨M, G⟩, "u", "v" (dual potentials), "dual_value",
/// "pivots", "warning": None}. The primitive of ``gradflow.ot.emd`` and ``emd2``.
#[pyfunction]
#[pyo3(signature = (a=None, b=None, M=None, *, x=None, y=None, p=2.0, plan=true, threads=None))]
#[allow(non_snake_case, clippy::too_many_arguments)]
pub fn exact<'py>(
    py: Python<'py>,
    a: Option<&Bound<'py, PyAny>>,
    b: Option<&Bound<'py, PyAny>>,
    M: Option<&Bound<'py, PyAny>>,
    x: Option<&Bound<'py, PyAny>>,
    y: Option<&Bound<'py, PyAny>>,
    p: f64,
    plan: bool,
    threads: Option<i64>,
) -> PyResult<Bound<'py, PyTuple>> {
    let problem = Problem::new(a, b, M, x, y, p)?;
    let out = problem.solve(py, Settings::new(Method::Exact, p), threads, &[])?;
    let Solution::Exact(sol) = out.solution else {
        return Err(PyValueError::new_err(
            "the exact solver returned another solution",
        ));
    };
    let log = PyDict::new(py);
    log.set_item("cost", sol.cost)?;
    log.set_item("u", to_numpy1(py, sol.f))?;
    log.set_item("v", to_numpy1(py, sol.g))?;
    log.set_item("dual_value", sol.dual_value)?;
    log.set_item("pivots", sol.pivots)?;
    log.set_item("warning", py.None())?;
    let plan = match plan {
        true => to_numpy2(py, sol.plan.to_dense())?.into_any(),
        false => py.None().into_bound(py),
    };
    PyTuple::new(py, [plan, log.into_any()])
}

/// `(plan, log)` of the entropic problem at ε = ``reg`` (log-domain Sinkhorn with
/// ε-scaling): plan n × m, log = {"cost": ⟨M, P⟩, "entropic": OT_ε, "niter", "err",
/// "log_u", "log_v" (f/ε, g/ε), "f", "g"}; an unconverged or overflowed run raises
/// NumericalError. The primitive of ``gradflow.ot.sinkhorn`` and ``sinkhorn2``.
#[pyfunction]
#[pyo3(signature = (a=None, b=None, M=None, reg=None, *, x=None, y=None, p=2.0,
    numItermax=100_000, stopThr=1e-9, eps_scaling=None, threads=None))]
#[allow(non_snake_case, clippy::too_many_arguments)]
pub fn entropic<'py>(
    py: Python<'py>,
    a: Option<&Bound<'py, PyAny>>,
    b: Option<&Bound<'py, PyAny>>,
    M: Option<&Bound<'py, PyAny>>,
    reg: Option<f64>,
    x: Option<&Bound<'py, PyAny>>,
    y: Option<&Bound<'py, PyAny>>,
    p: f64,
    numItermax: i64,
    stopThr: f64,
    eps_scaling: Option<f64>,
    threads: Option<i64>,
) -> PyResult<Bound<'py, PyTuple>> {
    let settings = Settings {
        reg,
        tol: stopThr,
        max_iter: count("numItermax", numItermax)?,
        eps_scaling,
        ..Settings::new(Method::Sinkhorn, p)
    };
    // The settings first: a missing reg is reported before the arrays are looked at.
    settings.validate().or_raise_as(POT_SINKHORN)?;
    let problem = Problem::new(a, b, M, x, y, p)?;
    let out = problem.solve(py, settings, threads, POT_SINKHORN)?;
    let (Solution::Sinkhorn(sol), Some(reg)) = (out.solution, out.report.reg) else {
        return Err(PyValueError::new_err(
            "the Sinkhorn solver returned another solution",
        ));
    };
    let log = PyDict::new(py);
    log.set_item("cost", sol.cost)?;
    log.set_item("entropic", sol.entropic)?;
    log.set_item("niter", sol.iterations)?;
    log.set_item("err", sol.marginal_error)?;
    let scaled = |v: &[f64]| to_numpy1(py, v.iter().map(|x| x / reg).collect());
    log.set_item("log_u", scaled(&sol.phi))?;
    log.set_item("log_v", scaled(&sol.psi))?;
    log.set_item("f", to_numpy1(py, sol.phi))?;
    log.set_item("g", to_numpy1(py, sol.psi))?;
    PyTuple::new(py, [to_numpy2(py, sol.plan)?.into_any(), log.into_any()])
}

/// A measure from points (1-D: points on the line, when `line`; else n × d) and optional
/// weights (normalised to sum 1).
fn measure(
    (name, points): (&str, &Bound<'_, PyAny>),
    (wname, w): (&str, Option<&Bound<'_, PyAny>>),
    line: bool,
    names: Names,
) -> PyResult<Measure> {
    let d = crate::convert::dense(points, name)?;
    let pts = match (d.shape.len(), line) {
        (1, _) => Matrix::from_vec(d.shape[0], 1, d.data),
        (2, false) => Matrix::from_vec(d.shape[0], d.shape[1], d.data),
        (_, false) => {
            return Err(PyValueError::new_err(format!(
                "{name}: expected a 1-D or 2-D array of points, got shape {:?}",
                d.shape
            )))
        }
        (_, true) => {
            return Err(PyValueError::new_err(format!(
                "{name}: expected a 1-D array of values, got shape {:?}",
                d.shape
            )))
        }
    }
    .or_raise()?;
    let w = match w {
        Some(o) if !o.is_none() => Some(values(o, wname)?).filter(|v| !v.is_empty()),
        _ => None,
    };
    Measure::new(name, pts, w).or_raise_as(names)
}

/// [`commands::ot::run`] between two measures, GIL released (cancellable when large); a
/// result that cannot be trusted raises NumericalError.
fn run(
    py: Python<'_>,
    settings: Settings,
    (mu, nu): (Measure, Measure),
    threads: Option<i64>,
    names: Names,
) -> PyResult<Report> {
    // The sliced estimate's work is projections × (n + m) sorted values, not n × m costs.
    let work = match settings.method {
        Method::Sliced => settings.projections.saturating_mul(mu.len() + nu.len()),
        _ => mu.len().saturating_mul(nu.len()),
    };
    let long = work > LONG_COSTS;
    let output = run_cancellable(py, threads, long, names, move |cancel| {
        commands::ot::run(&settings, &mu, &nu, cancel)
    })?;
    match output.failure {
        Some(message) => Err(NumericalError::new_err(commands::renamed(&message, names))),
        None => Ok(output.report),
    }
}

/// The sliced Wasserstein distance SW_p = (E_θ W_p^p(θ#μ, θ#ν))^{1/p} over ``n_projections``
/// seeded directions θ uniform on the sphere (a float; the same seed gives the same value on
/// any thread count). ``log=True`` returns ``(SW_p, {"cost": SW_p^p, "projections"})``.
///
/// POT equivalent: ``ot.sliced_wasserstein_distance(X_s, X_t, a, b, n_projections, p,
/// seed)`` (also returns SW_p). Differences: the default is 100 projections (POT: 50) and the
/// directions come from gradflow's seeded generator, not numpy's. The GIL is released; Ctrl-C
/// stops a large estimate between two directions.
#[pyfunction]
#[pyo3(signature = (X_s, X_t, a=None, b=None, n_projections=100, p=2.0, seed=0, log=false,
    threads=None))]
#[allow(non_snake_case, clippy::too_many_arguments)]
pub fn sliced<'py>(
    py: Python<'py>,
    X_s: &Bound<'py, PyAny>,
    X_t: &Bound<'py, PyAny>,
    a: Option<&Bound<'py, PyAny>>,
    b: Option<&Bound<'py, PyAny>>,
    n_projections: i64,
    p: f64,
    seed: u64,
    log: bool,
    threads: Option<i64>,
) -> PyResult<Bound<'py, PyAny>> {
    let settings = Settings {
        projections: count("n_projections", n_projections)?,
        seed,
        ..Settings::new(Method::Sliced, p)
    };
    settings.validate().or_raise_as(SLICED)?;
    let mu = measure(("X_s", X_s), ("a", a), false, SLICED)?;
    let nu = measure(("X_t", X_t), ("b", b), false, SLICED)?;
    let report = run(py, settings, (mu, nu), threads, SLICED)?;
    let distance = report.distance.into_pyobject(py)?.into_any();
    if log {
        let dict = PyDict::new(py);
        dict.set_item("cost", report.cost)?;
        dict.set_item("projections", report.projections)?;
        return Ok(PyTuple::new(py, [distance, dict.into_any()])?.into_any());
    }
    Ok(distance)
}

/// W_p^p between two measures on the line (a float: the p-th power, as POT), exactly, through
/// the quantile functions: ∫₀¹ |F⁻¹(t) − G⁻¹(t)|^p dt. Values are 1-D arrays; weights default
/// to uniform and are normalised to sum 1.
///
/// POT equivalent: ``ot.wasserstein_1d(u_values, v_values, u_weights, v_weights, p)``
/// (unbatched: one pair of measures per call). One sort of each measure (O(n log n)), not
/// interrupted by Ctrl-C.
#[pyfunction]
#[pyo3(signature = (u_values, v_values, u_weights=None, v_weights=None, p=1.0, threads=None))]
pub fn wasserstein_1d(
    py: Python<'_>,
    u_values: &Bound<'_, PyAny>,
    v_values: &Bound<'_, PyAny>,
    u_weights: Option<&Bound<'_, PyAny>>,
    v_weights: Option<&Bound<'_, PyAny>>,
    p: f64,
    threads: Option<i64>,
) -> PyResult<f64> {
    let mu = measure(
        ("u_values", u_values),
        ("u_weights", u_weights),
        true,
        ONE_D,
    )?;
    let nu = measure(
        ("v_values", v_values),
        ("v_weights", v_weights),
        true,
        ONE_D,
    )?;
    Ok(run(py, Settings::new(Method::OneD, p), (mu, nu), threads, ONE_D)?.cost)
}

/// ``gradflow ot``: W_p between the point clouds ``x`` (n × d) and ``y`` (m × d) with weights
/// ``wx``, ``wy`` (default uniform; normalised), by ``method`` "exact" (network simplex),
/// "sinkhorn" (at ``reg`` = ε), "sliced" (``projections`` directions, ``seed``) or "1d". Returns
/// the CLI's JSON report as a dict: "cost" (W_p^p), "distance" (W_p), "method", "p", "n",
/// "m", "dim", and what the method knows ("dual_value", "pivots", "assignment" for uniform
/// clouds of equal size, "iterations", "marginal_error", "entropic", "divergence" — the
/// debiased Sinkhorn divergence with ``divergence=True`` —, …); with ``plan=True`` also "plan"
/// (n × m). A Sinkhorn run that does not converge raises ``gradflow.NumericalError``.
#[pyfunction]
#[pyo3(signature = (x, y, wx=None, wy=None, *, method="exact", p=2.0, reg=None, tol=1e-9,
    max_iter=100_000, eps_scaling=None, online=false, divergence=false, projections=100,
    seed=0, plan=false, threads=None))]
#[allow(clippy::too_many_arguments)]
pub fn solve<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyAny>,
    y: &Bound<'py, PyAny>,
    wx: Option<&Bound<'py, PyAny>>,
    wy: Option<&Bound<'py, PyAny>>,
    method: &str,
    p: f64,
    reg: Option<f64>,
    tol: f64,
    max_iter: i64,
    eps_scaling: Option<f64>,
    online: bool,
    divergence: bool,
    projections: i64,
    seed: u64,
    plan: bool,
    threads: Option<i64>,
) -> PyResult<Bound<'py, PyDict>> {
    let method: Method = method
        .parse()
        .map_err(|m: String| Error::invalid("method", m))
        .or_raise()?;
    let settings = Settings {
        method,
        p,
        reg,
        tol,
        max_iter: count("max_iter", max_iter)?,
        eps_scaling,
        online,
        divergence,
        projections: count("projections", projections)?,
        seed,
        plan,
    };
    settings.validate().or_raise_as(SOLVE)?;
    let mu = measure(("x", x), ("wx", wx), false, SOLVE)?;
    let nu = measure(("y", y), ("wy", wy), false, SOLVE)?;
    let mut report = run(py, settings, (mu, nu), threads, SOLVE)?;
    let plan = report.plan.take();
    let dict = to_dict(py, &report)?;
    if let Some(p) = plan {
        dict.set_item("plan", to_numpy2(py, p)?)?;
    }
    Ok(dict)
}
