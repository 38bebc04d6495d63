//! `gradflow.ot`: optimal transport with POT's argument names and return conventions
//! (`emd`, `emd2`, `sinkhorn`, `sinkhorn2`, `sliced`, `wasserstein_1d`), and `solve`, the
//! `gradflow ot` command. Every function calls the library's solvers
//! ([`gradflow::transport`]); the differences from POT are listed in each docstring.

use crate::convert::{matrix, to_numpy1, to_numpy2, values};
use crate::errors::{NumericalError, OrRaise};
use crate::threads::detach;
use gradflow::commands;
use gradflow::transport::{
    cost_matrix, exact, sinkhorn, GroundCost, Measure, Method, Report, Settings,
};
use gradflow::{Error, Matrix};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

/// Weights: `None` or empty → uniform 1/n (POT's convention); otherwise a 1-D array.
fn weights(obj: Option<&Bound<'_, PyAny>>, name: &str, n: usize) -> PyResult<Vec<f64>> {
    let w = match obj {
        Some(o) if !o.is_none() => values(o, name)?,
        _ => Vec::new(),
    };
    Ok(if w.is_empty() {
        vec![1.0 / n.max(1) as f64; n]
    } else {
        w
    })
}

/// The cost matrix: `M` as given, or ‖x_i − y_j‖^p between the rows of `x` and `y` (the
/// library's ground cost of W_p^p, as `gradflow ot`).
fn cost(
    m: Option<&Bound<'_, PyAny>>,
    x: Option<&Bound<'_, PyAny>>,
    y: Option<&Bound<'_, PyAny>>,
    p: f64,
) -> PyResult<Matrix> {
    match (m, x, y) {
        (Some(m), None, None) => matrix(m, "M"),
        (None, Some(x), Some(y)) => {
            let (x, y) = (matrix(x, "x")?, matrix(y, "y")?);
            if x.cols != y.cols {
                return Err(Error::shape(
                    "transport",
                    format!(
                        "x has points of dimension {}, y of dimension {}",
                        x.cols, y.cols
                    ),
                ))
                .or_raise();
            }
            let ground = GroundCost::for_order(p).or_raise()?;
            cost_matrix(&x, &y, ground).or_raise()
        }
        _ => Err(PyValueError::new_err(
            "invalid M, x, y: give the cost matrix M, or the points x and y (not both)",
        )),
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

/// The optimal plan G of min_{G ∈ Π(a, b)} ⟨M, G⟩ (exact, network simplex): an n × m float64
/// array. ``M`` is the cost matrix; or give the points ``x`` (n × d) and ``y`` (m × d) for
/// M_ij = ‖x_i − y_j‖^p. ``a``, ``b``: weights (``None`` or empty: uniform), non-negative with
/// equal sums (b is rescaled to a's sum when they differ by ≤ 1e-6 relative).
///
/// With ``log=True`` returns ``(G, log)``, log = {"cost": ⟨M, G⟩, "u", "v": the dual potentials
/// (u_i + v_j ≤ M_ij, Σ a u + Σ b v = cost), "dual_value", "pivots", "warning": None}.
///
/// POT equivalent: ``ot.emd(a, b, M)`` (same arguments and return; POT's ``numItermax``,
/// ``center_dual``, ``numThreads`` do not exist here: the simplex runs to optimality and the
/// potentials are not centred).
#[pyfunction]
#[pyo3(signature = (a=None, b=None, M=None, *, x=None, y=None, p=2.0, log=false, threads=None))]
#[allow(non_snake_case, clippy::too_many_arguments)]
pub fn emd<'py>(
    py: Python<'py>,
    a: Option<&Bound<'py, PyAny>>,
    b: Option<&Bound<'py, PyAny>>,
    M: Option<&Bound<'py, PyAny>>,
    x: Option<&Bound<'py, PyAny>>,
    y: Option<&Bound<'py, PyAny>>,
    p: f64,
    log: bool,
    threads: Option<i64>,
) -> PyResult<Bound<'py, PyAny>> {
    let (plan, cost, dict) = emd_solve(py, a, b, M, x, y, p, threads)?;
    let plan = to_numpy2(py, plan)?.into_any();
    if log {
        dict.set_item("cost", cost)?;
        return Ok(PyTuple::new(py, [plan, dict.into_any()])?.into_any());
    }
    Ok(plan)
}

/// The exact solve behind `emd` / `emd2`: plan, cost and the log dict (without the cost).
#[allow(non_snake_case, clippy::too_many_arguments, clippy::type_complexity)]
fn emd_solve<'py>(
    py: Python<'py>,
    a: Option<&Bound<'py, PyAny>>,
    b: Option<&Bound<'py, PyAny>>,
    M: Option<&Bound<'py, PyAny>>,
    x: Option<&Bound<'py, PyAny>>,
    y: Option<&Bound<'py, PyAny>>,
    p: f64,
    threads: Option<i64>,
) -> PyResult<(Matrix, f64, Bound<'py, PyDict>)> {
    let c = cost(M, x, y, p)?;
    let (a, b) = (weights(a, "a", c.rows)?, weights(b, "b", c.cols)?);
    let sol = detach(py, threads, move || exact::solve(&a, &b, &c))?;
    let dict = PyDict::new(py);
    dict.set_item("u", to_numpy1(py, sol.f))?;
    dict.set_item("v", to_numpy1(py, sol.g))?;
    dict.set_item("dual_value", sol.dual_value)?;
    dict.set_item("pivots", sol.pivots)?;
    dict.set_item("warning", py.None())?;
    Ok((sol.plan.to_dense(), sol.cost, dict))
}

/// The exact transport cost ⟨M, G*⟩ (a float): with M_ij = ‖x_i − y_j‖^p (from ``x``, ``y``)
/// it is W_p^p, not W_p — as POT's ``emd2`` (take ``** (1/p)`` for the distance).
/// ``log=True`` returns ``(cost, log)`` as ``emd``; ``return_matrix=True`` adds the plan as
/// log["G"].
///
/// POT equivalent: ``ot.emd2(a, b, M)``.
#[pyfunction]
#[pyo3(signature = (a=None, b=None, M=None, *, x=None, y=None, p=2.0, log=false,
    return_matrix=false, threads=None))]
#[allow(non_snake_case, clippy::too_many_arguments)]
pub fn emd2<'py>(
    py: Python<'py>,
    a: Option<&Bound<'py, PyAny>>,
    b: Option<&Bound<'py, PyAny>>,
    M: Option<&Bound<'py, PyAny>>,
    x: Option<&Bound<'py, PyAny>>,
    y: Option<&Bound<'py, PyAny>>,
    p: f64,
    log: bool,
    return_matrix: bool,
    threads: Option<i64>,
) -> PyResult<Bound<'py, PyAny>> {
    let (plan, cost, dict) = emd_solve(py, a, b, M, x, y, p, threads)?;
    if !(log || return_matrix) {
        return Ok(cost.into_pyobject(py)?.into_any());
    }
    dict.set_item("cost", cost)?;
    if return_matrix {
        dict.set_item("G", to_numpy2(py, plan)?)?;
    }
    Ok(PyTuple::new(py, [cost.into_pyobject(py)?.into_any(), dict.into_any()])?.into_any())
}

/// The Sinkhorn solve behind `sinkhorn` / `sinkhorn2`: the solution, or NumericalError with
/// the library's message when it did not converge or overflowed.
#[allow(non_snake_case, clippy::too_many_arguments)]
fn sinkhorn_solve<'py>(
    py: Python<'py>,
    a: Option<&Bound<'py, PyAny>>,
    b: Option<&Bound<'py, PyAny>>,
    M: Option<&Bound<'py, PyAny>>,
    reg: f64,
    x: Option<&Bound<'py, PyAny>>,
    y: Option<&Bound<'py, PyAny>>,
    p: f64,
    numItermax: i64,
    stopThr: f64,
    eps_scaling: Option<f64>,
    threads: Option<i64>,
) -> PyResult<(sinkhorn::SinkhornSolution, Bound<'py, PyDict>)> {
    let mut opts = sinkhorn::Options::new(reg).or_raise()?;
    opts.tol = stopThr;
    opts.max_iter = crate::kernel::count("numItermax", numItermax)?;
    opts.eps_scaling = eps_scaling;
    let settings = Settings {
        reg: Some(reg),
        tol: stopThr,
        max_iter: opts.max_iter,
        eps_scaling,
        ..Settings::new(Method::Sinkhorn, p)
    };
    settings.validate().or_raise()?;
    let c = cost(M, x, y, p)?;
    let (a, b) = (weights(a, "a", c.rows)?, weights(b, "b", c.cols)?);
    let (n, m) = (c.rows, c.cols);
    let sol = detach(py, threads, move || sinkhorn::solve(&a, &b, &c, &opts))?;
    // The library's verdict and message on a run that did not converge (`gradflow ot` exits 3).
    let report = Report {
        method: Method::Sinkhorn,
        p,
        n,
        m,
        dim: 0,
        cost: sol.cost,
        distance: f64::NAN,
        dual_value: None,
        pivots: None,
        assignment: None,
        projections: None,
        reg: Some(reg),
        entropic: Some(sol.entropic),
        iterations: Some(sol.iterations),
        marginal_error: Some(sol.marginal_error),
        tol: Some(stopThr),
        converged: Some(sol.converged && sol.cost.is_finite() && sol.entropic.is_finite()),
        divergence: None,
        plan: None,
    };
    if let Some(message) = report.failure() {
        return Err(NumericalError::new_err(message));
    }
    let dict = PyDict::new(py);
    dict.set_item("cost", sol.cost)?;
    dict.set_item("entropic", sol.entropic)?;
    dict.set_item("niter", sol.iterations)?;
    dict.set_item("err", sol.marginal_error)?;
    dict.set_item(
        "log_u",
        to_numpy1(py, sol.phi.iter().map(|v| v / reg).collect()),
    )?;
    dict.set_item(
        "log_v",
        to_numpy1(py, sol.psi.iter().map(|v| v / reg).collect()),
    )?;
    dict.set_item("f", to_numpy1(py, sol.phi.clone()))?;
    dict.set_item("g", to_numpy1(py, sol.psi.clone()))?;
    Ok((sol, dict))
}

/// The entropic plan P_ε = argmin ⟨M, P⟩ + ε KL(P ‖ a ⊗ b) over Π(a, b) (ε = ``reg``), by
/// log-domain Sinkhorn with ε-scaling: an n × m array with P_ij = exp((f_i + g_j − M_ij)/ε).
/// Stops when both marginals are within ``stopThr`` (Euclidean norm); a run that does not
/// (after ``numItermax`` iterations at the final ε) or overflows raises
/// ``gradflow.NumericalError`` (the CLI's exit code 3). ``log=True`` returns ``(P, log)``,
/// log = {"cost": ⟨M, P⟩, "entropic": OT_ε, "niter", "err": the marginal error, "log_u",
/// "log_v" (f/ε, g/ε: P = exp(log_u + log_v − M/ε) as POT's ``sinkhorn_log``), "f", "g"}.
///
/// POT equivalent: ``ot.sinkhorn(a, b, M, reg, method="sinkhorn_log")``. Differences: POT's
/// default ``numItermax`` is 1000 and it only warns when it stops unconverged; weights must be
/// > 0 here (drop the points of zero weight).
#[pyfunction]
#[pyo3(name = "sinkhorn", signature = (a=None, b=None, M=None, reg=None, *, x=None, y=None, p=2.0,
    numItermax=100_000, stopThr=1e-9, eps_scaling=None, log=false, threads=None))]
#[allow(non_snake_case, clippy::too_many_arguments)]
pub fn sinkhorn_plan<'py>(
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
    log: bool,
    threads: Option<i64>,
) -> PyResult<Bound<'py, PyAny>> {
    let reg = required_reg(reg)?;
    let (sol, dict) = sinkhorn_solve(
        py,
        a,
        b,
        M,
        reg,
        x,
        y,
        p,
        numItermax,
        stopThr,
        eps_scaling,
        threads,
    )?;
    let plan = to_numpy2(py, sol.plan)?.into_any();
    if log {
        return Ok(PyTuple::new(py, [plan, dict.into_any()])?.into_any());
    }
    Ok(plan)
}

fn required_reg(reg: Option<f64>) -> PyResult<f64> {
    reg.ok_or_else(|| Error::invalid("reg (ε)", "Sinkhorn needs reg = ε > 0"))
        .or_raise()
}

/// The transport cost of the entropic plan, ⟨M, P_ε⟩ (a float; not OT_ε, which is
/// log["entropic"]) — what POT's ``sinkhorn2`` returns. ``log=True`` returns ``(cost, log)``
/// with the log of ``sinkhorn``.
///
/// POT equivalent: ``ot.sinkhorn2(a, b, M, reg, method="sinkhorn_log")`` (see ``sinkhorn``
/// for the differences).
#[pyfunction]
#[pyo3(signature = (a=None, b=None, M=None, reg=None, *, x=None, y=None, p=2.0,
    numItermax=100_000, stopThr=1e-9, eps_scaling=None, log=false, threads=None))]
#[allow(non_snake_case, clippy::too_many_arguments)]
pub fn sinkhorn2<'py>(
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
    log: bool,
    threads: Option<i64>,
) -> PyResult<Bound<'py, PyAny>> {
    let reg = required_reg(reg)?;
    let (sol, dict) = sinkhorn_solve(
        py,
        a,
        b,
        M,
        reg,
        x,
        y,
        p,
        numItermax,
        stopThr,
        eps_scaling,
        threads,
    )?;
    let cost = sol.cost.into_pyobject(py)?.into_any();
    if log {
        return Ok(PyTuple::new(py, [cost, dict.into_any()])?.into_any());
    }
    Ok(cost)
}

/// A measure from points (1-D: points on the line) and optional weights (normalised to sum 1).
fn measure(
    name: &str,
    wname: &str,
    points: &Bound<'_, PyAny>,
    w: Option<&Bound<'_, PyAny>>,
) -> PyResult<Measure> {
    let d = crate::convert::dense(points, name)?;
    let pts = match d.shape.len() {
        1 => Matrix::from_vec(d.shape[0], 1, d.data),
        2 => Matrix::from_vec(d.shape[0], d.shape[1], d.data),
        _ => {
            return Err(PyValueError::new_err(format!(
                "{name}: expected a 1-D or 2-D array of points, got shape {:?}",
                d.shape
            )))
        }
    }
    .or_raise()?;
    let w = match w {
        Some(o) if !o.is_none() => Some(values(o, wname)?).filter(|v| !v.is_empty()),
        _ => None,
    };
    Measure::new(name, pts, w).or_raise()
}

/// The sliced Wasserstein distance SW_p = (E_θ W_p^p(θ#μ, θ#ν))^{1/p} over ``n_projections``
/// seeded directions θ uniform on the sphere (a float; the same seed gives the same value on
/// any thread count). ``log=True`` returns ``(SW_p, {"cost": SW_p^p, "projections"})``.
///
/// POT equivalent: ``ot.sliced_wasserstein_distance(X_s, X_t, a, b, n_projections, p,
/// seed)`` (also returns SW_p). Differences: the default is 100 projections (POT: 50) and the
/// directions come from gradflow's seeded generator, not numpy's.
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
    let mu = measure("X_s", "a", X_s, a)?;
    let nu = measure("X_t", "b", X_t, b)?;
    let settings = Settings {
        projections: crate::kernel::count("n_projections", n_projections)?,
        seed,
        ..Settings::new(Method::Sliced, p)
    };
    let report = detach(py, threads, move || commands::ot::run(&settings, &mu, &nu))?.report;
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
/// (unbatched: one pair of measures per call).
#[pyfunction]
#[pyo3(signature = (u_values, v_values, u_weights=None, v_weights=None, p=1.0, threads=None))]
#[allow(clippy::too_many_arguments)]
pub fn wasserstein_1d(
    py: Python<'_>,
    u_values: &Bound<'_, PyAny>,
    v_values: &Bound<'_, PyAny>,
    u_weights: Option<&Bound<'_, PyAny>>,
    v_weights: Option<&Bound<'_, PyAny>>,
    p: f64,
    threads: Option<i64>,
) -> PyResult<f64> {
    for (name, v) in [("u_values", u_values), ("v_values", v_values)] {
        let d = crate::convert::dense(v, name)?;
        if d.shape.len() != 1 {
            return Err(PyValueError::new_err(format!(
                "{name}: expected a 1-D array of values, got shape {:?}",
                d.shape
            )));
        }
    }
    let mu = measure("u_values", "u_weights", u_values, u_weights)?;
    let nu = measure("v_values", "v_weights", v_values, v_weights)?;
    let settings = Settings::new(Method::OneD, p);
    let output = detach(py, threads, move || commands::ot::run(&settings, &mu, &nu))?;
    Ok(output.report.cost)
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
        max_iter: crate::kernel::count("max_iter", max_iter)?,
        eps_scaling,
        online,
        divergence,
        projections: crate::kernel::count("projections", projections)?,
        seed,
        plan,
    };
    settings.validate().or_raise()?;
    let mu = measure("x", "wx", x, wx)?;
    let nu = measure("y", "wy", y, wy)?;
    let mut output = detach(py, threads, move || commands::ot::run(&settings, &mu, &nu))?;
    if let Some(message) = output.failure {
        return Err(NumericalError::new_err(message));
    }
    let report = &mut output.report;
    let plan = report.plan.take();
    let dict = to_dict(py, &*report)?;
    if let Some(p) = plan {
        dict.set_item("plan", to_numpy2(py, p)?)?;
    }
    Ok(dict)
}
