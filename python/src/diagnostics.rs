//! Langevin diagnostics (ESS, split-R̂, distance to the Gibbs law) and spectra (eigenvalues,
//! power-law fits, Funk–Hecke eigenvalues of zonal kernels).

use crate::convert::{matrix, to_numpy1, to_numpy2, vector};
use crate::errors::OrRaise;
use crate::threads::detach;
use gradflow::kernel::spectrum::{fit_power_law, zonal_eigenvalue, Spectrum};
use gradflow::langevin::{histogram, kl_divergence, total_variation, Grid};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

/// Chains (C × N: one row per chain) as the library's list of chains.
fn chain_list(obj: &Bound<'_, PyAny>) -> PyResult<Vec<Vec<f64>>> {
    let m = matrix(obj, "chains")?;
    Ok((0..m.rows).map(|i| m.row(i).to_vec()).collect())
}

/// The effective sample size of C chains of one scalar (``chains``: C × N, one row per
/// chain): Stan's estimator (Vehtari et al. 2021, without rank normalisation),
/// ESS = C·N / (−1 + 2 Σ_k (ρ_{2k} + ρ_{2k+1})) with ρ_t = 1 − (W − mean_c γ_{c,t})/V̂, summed
/// over Geyer's initial monotone positive sequence.
///
/// ArviZ equivalent: ``arviz.ess(x, method="bulk")`` without the rank normalisation.
#[pyfunction]
pub fn effective_sample_size(chains: &Bound<'_, PyAny>) -> PyResult<f64> {
    gradflow::langevin::effective_sample_size(&chain_list(chains)?).or_raise()
}

/// Split-R̂ (Gelman et al. 2013) of C chains (C × N): each chain is halved, then
/// R̂ = √(V̂ / W) with W the mean within-half variance and V̂ = (N−1)/N W + B/N. Values near 1
/// mean the chains mix.
///
/// ArviZ equivalent: ``arviz.rhat(x, method="split")``.
#[pyfunction]
pub fn split_rhat(chains: &Bound<'_, PyAny>) -> PyResult<f64> {
    gradflow::langevin::split_rhat(&chain_list(chains)?).or_raise()
}

/// The distance of samples to the Gibbs law π ∝ exp(−β U) on a grid: a dict with "tv"
/// (½ Σ |p − π| over the cells, the mass outside the grid counted in full), "kl" (KL(p ‖ π),
/// ∞ when samples fall outside), "outside" (that mass), "gibbs" (π per cell) and
/// "histogram" (p per cell).
///
/// ``samples``: n × dim (dim 1 or 2; a 1-D array is n × 1); ``potential``: a Python callable
/// U(x) of a point (a 1-D float64 array of length dim) → float; the grid is [lo, hi)^dim with
/// ``bins`` cells per axis, each integrated by the midpoint rule on 8 sub-points per axis
/// (choose it wide enough that π's mass outside is negligible). The same computation as the
/// ``tv_gibbs`` / ``kl_gibbs`` columns of ``gradflow run``. The first exception raised by
/// ``potential`` (KeyboardInterrupt on Ctrl-C included) stops the evaluations and is raised.
#[pyfunction]
#[pyo3(signature = (samples, potential, beta, *, lo, hi, bins=40))]
pub fn gibbs_distance<'py>(
    py: Python<'py>,
    samples: &Bound<'py, PyAny>,
    potential: &Bound<'py, PyAny>,
    beta: f64,
    lo: f64,
    hi: f64,
    bins: i64,
) -> PyResult<Bound<'py, PyDict>> {
    let (s, _) = crate::convert::matrix_or_column(samples, "samples")?;
    let grid = Grid::new(lo, hi, crate::kernel::count("bins", bins)?).or_raise()?;
    // U is Python code: evaluated with the GIL held; its first error is raised.
    let failure: std::cell::RefCell<Option<PyErr>> = std::cell::RefCell::new(None);
    let u = |x: &[f64]| -> f64 {
        // After the first error (a KeyboardInterrupt raised inside U included) U is not called
        // again: the grid's remaining cells cost nothing, and the error is raised.
        if failure.borrow().is_some() {
            return f64::NAN;
        }
        let point = to_numpy1(py, x.to_vec());
        match potential.call1((point,)).and_then(|v| v.extract::<f64>()) {
            Ok(v) => v,
            Err(e) => {
                failure.borrow_mut().get_or_insert(e);
                f64::NAN
            }
        }
    };
    let gibbs = gradflow::langevin::gibbs_probabilities_of(&u, s.cols, beta, &grid);
    if let Some(e) = failure.into_inner() {
        return Err(e);
    }
    let gibbs = gibbs.or_raise()?;
    let (p, outside) = histogram(&s, &grid).or_raise()?;
    let tv = total_variation(&p, outside, &gibbs).or_raise()?;
    let kl = if outside > 0.0 {
        f64::INFINITY
    } else {
        kl_divergence(&p, &gibbs).or_raise()?
    };
    let out = PyDict::new(py);
    out.set_item("tv", tv)?;
    out.set_item("kl", kl)?;
    out.set_item("outside", outside)?;
    out.set_item("gibbs", to_numpy1(py, gibbs))?;
    out.set_item("histogram", to_numpy1(py, p))?;
    Ok(out)
}

/// The spectrum of a symmetric matrix ``k`` (n × n): ``(values, vectors)`` with the
/// eigenvalues in decreasing order μ_1 ≥ … ≥ μ_n and eigenvector j in column j.
///
/// numpy equivalent: ``numpy.linalg.eigh(k)`` (increasing order there). The GIL is released.
/// One O(n³) decomposition without a cancellation point: Ctrl-C raises KeyboardInterrupt only
/// once it returns (as numpy's LAPACK call).
#[pyfunction]
#[pyo3(signature = (k, *, threads=None))]
pub fn eigh<'py>(
    py: Python<'py>,
    k: &Bound<'py, PyAny>,
    threads: Option<i64>,
) -> PyResult<Bound<'py, PyTuple>> {
    let k = matrix(k, "k")?;
    let s = detach(py, threads, move || Spectrum::of(&k))?;
    PyTuple::new(
        py,
        [
            to_numpy1(py, s.values).into_any(),
            to_numpy2(py, s.vectors)?.into_any(),
        ],
    )
}

/// A least-squares fit of log μ_j = log C − β log j over the 1-based indices
/// ``first..=last`` of ``values`` (all > 0; default: all of them): a dict with "exponent"
/// (β), "constant" (C) and "exponent_std_error" (from the regression residuals).
#[pyfunction]
#[pyo3(signature = (values, first=1, last=None))]
pub fn power_law_fit<'py>(
    py: Python<'py>,
    values: &Bound<'py, PyAny>,
    first: i64,
    last: Option<i64>,
) -> PyResult<Bound<'py, PyDict>> {
    let v = vector(values, "values")?;
    let first = crate::kernel::count("first", first)?;
    let last = match last {
        Some(l) => crate::kernel::count("last", l)?,
        None => v.len(),
    };
    let fit = fit_power_law(&v, first, last).or_raise()?;
    let out = PyDict::new(py);
    out.set_item("exponent", fit.exponent)?;
    out.set_item("constant", fit.constant)?;
    out.set_item("exponent_std_error", fit.exponent_std_error)?;
    Ok(out)
}

/// The eigenvalues μ_k of a zonal kernel κ(⟨x, y⟩) on the sphere S^{d−1} (integral operator
/// against the uniform probability measure) for the degrees ``k`` (an int or a list), by the
/// Funk–Hecke formula μ_k = Γ(d/2)/(√π Γ((d−1)/2)) ∫₀^π κ(cos φ) P_{k,d}(cos φ) sin^{d−2} φ dφ
/// (composite 8-point Gauss–Legendre, ``panels`` panels). An n-point Gram matrix of uniform
/// points has eigenvalues ≈ n μ_k, each with multiplicity N(k, d). ``kappa`` is a Python
/// callable of t = cos φ ∈ [−1, 1] → float; needs d ≥ 2. The first exception raised by
/// ``kappa`` (KeyboardInterrupt on Ctrl-C included) stops the evaluations and is raised.
#[pyfunction]
#[pyo3(signature = (kappa, d, k, *, panels=256))]
pub fn funk_hecke<'py>(
    py: Python<'py>,
    kappa: &Bound<'py, PyAny>,
    d: i64,
    k: &Bound<'py, PyAny>,
    panels: i64,
) -> PyResult<Bound<'py, PyAny>> {
    let d = crate::kernel::count("d", d)?;
    let panels = crate::kernel::count("panels", panels)?;
    let (degrees, scalar) = match k.extract::<i64>() {
        Ok(k) => (vec![k], true),
        Err(_) => (
            k.extract::<Vec<i64>>()
                .map_err(|_| PyValueError::new_err("k: expected a degree or a list of degrees"))?,
            false,
        ),
    };
    let failure: std::cell::RefCell<Option<PyErr>> = std::cell::RefCell::new(None);
    let f = |t: f64| -> f64 {
        // After the first error (a KeyboardInterrupt raised inside κ included) κ is not called
        // again.
        if failure.borrow().is_some() {
            return f64::NAN;
        }
        match kappa.call1((t,)).and_then(|v| v.extract::<f64>()) {
            Ok(v) => v,
            Err(e) => {
                failure.borrow_mut().get_or_insert(e);
                f64::NAN
            }
        }
    };
    let mut out = Vec::with_capacity(degrees.len());
    for k in degrees {
        let k = crate::kernel::count("k", k)?;
        let mu = zonal_eigenvalue(&f, d, k, panels);
        if let Some(e) = failure.borrow_mut().take() {
            return Err(e);
        }
        out.push(mu.or_raise()?);
    }
    if scalar {
        return Ok(out[0].into_pyobject(py)?.into_any());
    }
    Ok(to_numpy1(py, out).into_any())
}
