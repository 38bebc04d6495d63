//! `gradflow.run` (an experiment spec) and `gradflow.reproduce` (the claims).

use crate::convert::to_numpy2;
use crate::errors::OrRaise;
use crate::threads::run_cancellable;
use gradflow::commands::{self, Names};
use gradflow::spec::{RunOutcome, Spec};
use gradflow::Error;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};
use std::path::{Path, PathBuf};

/// `gradflow.run`'s names of the CLI's flags.
const RUN: Names = &[("--out", "out"), ("--resume", "resume")];

/// `gradflow.reproduce`'s names of the CLI's flags.
const REPRODUCE: Names = &[
    ("--only", "only"),
    ("--seeds", "seeds"),
    ("--seed", "seed"),
    ("--out", "out"),
    ("--quick", "quick"),
];

/// A JSON value as Python objects.
fn from_json<'py>(py: Python<'py>, value: &serde_json::Value) -> PyResult<Bound<'py, PyAny>> {
    py.import("json")?
        .call_method1("loads", (value.to_string(),))
}

/// The spec from a dict (the TOML tables as nested dicts), TOML text, or a path to a TOML
/// file; with the folder relative data paths are resolved against.
fn load_spec(spec: &Bound<'_, PyAny>) -> PyResult<(Spec, PathBuf)> {
    let py = spec.py();
    let cwd = PathBuf::from(".");
    if spec.cast::<PyDict>().is_ok() {
        // dict → JSON → TOML text: the spec parser (and its error messages, with table paths)
        // is the one `gradflow run` uses.
        let json: String = py
            .import("json")?
            .call_method1("dumps", (spec,))
            .map_err(|e| PyValueError::new_err(format!("spec: not a JSON-like dict ({e})")))?
            .extract()?;
        let value: serde_json::Value =
            serde_json::from_str(&json).map_err(|e| PyValueError::new_err(e.to_string()))?;
        let text = toml::to_string(&value).map_err(|e| {
            PyValueError::new_err(format!("spec: the dict is not a TOML document ({e})"))
        })?;
        return Ok((
            Spec::from_toml(&text, Path::new("<spec dict>")).or_raise()?,
            cwd,
        ));
    }
    if let Ok(s) = spec.cast::<PyString>() {
        let text: String = s.extract()?;
        let text = text.as_str();
        if text.contains('\n') || text.contains('=') {
            return Ok((
                Spec::from_toml(text, Path::new("<spec string>")).or_raise()?,
                cwd,
            ));
        }
    }
    let path: PathBuf = spec.extract().map_err(|_| {
        PyValueError::new_err("spec: expected a dict, TOML text, or a path to a TOML file")
    })?;
    let parsed = Spec::load(&path).or_raise()?;
    Ok((parsed, gradflow::spec::base_dir(&path)))
}

/// The metrics table ([`RunOutcome::metrics`], the layout of `metrics.csv`) as columns: a
/// `pandas.DataFrame` when pandas is importable (gradflow does not depend on it), else a dict
/// of float64 arrays.
fn metrics_columns<'py>(py: Python<'py>, outcome: &RunOutcome) -> PyResult<Bound<'py, PyAny>> {
    let table = outcome.metrics();
    let columns = PyDict::new(py);
    for (k, name) in table.columns.iter().enumerate() {
        let column: Vec<f64> = table.rows.iter().map(|r| r[k]).collect();
        columns.set_item(name, crate::convert::to_numpy1(py, column))?;
    }
    match py.import("pandas") {
        Ok(pd) => pd.call_method1("DataFrame", (columns,)),
        Err(_) => Ok(columns.into_any()),
    }
}

/// Runs an experiment spec — ``gradflow run`` — and returns its results.
///
/// ``spec`` is a dict of the spec's TOML tables (``{"model": {...}, "optimizer": [...],
/// "train": {...}, "data": {...}}``), TOML text, or the path of a spec file (relative data
/// paths are then resolved against its folder). Returns a dict:
///
/// * "metrics": the recorded metrics of every trial, one column per metric and a leading
///   "trial" column (``metrics.csv``): a ``pandas.DataFrame`` when pandas is importable,
///   otherwise a dict of float64 arrays;
/// * "params": the final parameters θ_T, trials × P;
/// * "params_average": the averaged iterates (``train.average = true``), or None;
/// * "summary": the run's summary (``summary.json``) as a dict.
///
/// With ``out`` the CLI's files (metrics.csv, params.npy, summary.json, checkpoints) are also
/// written there, and ``resume=True`` continues each trial from its checkpoint. A run whose
/// loss becomes NaN raises ``gradflow.DivergedError`` (the files, if any, are written first).
/// The GIL is released while training, and Ctrl-C stops it between two steps
/// (KeyboardInterrupt; no output files are written then, the checkpoints so far stay);
/// ``threads`` as for every call. There is no per-step callback: the library's observers are
/// chosen by the spec's ``[train]`` table.
///
/// Equivalent: ``gradflow run spec.toml --out out``.
#[pyfunction]
#[pyo3(signature = (spec, *, out=None, resume=false, threads=None))]
pub fn run<'py>(
    py: Python<'py>,
    spec: &Bound<'py, PyAny>,
    out: Option<PathBuf>,
    resume: bool,
    threads: Option<i64>,
) -> PyResult<Bound<'py, PyDict>> {
    let (spec, base) = load_spec(spec)?;
    let request = commands::run::Request {
        spec,
        base,
        out,
        resume,
    };
    request.validate().or_raise_as(RUN)?;
    let outcome = run_cancellable(py, threads, true, RUN, move |cancel| {
        commands::run::run(&request, cancel)
    })?;
    let result = PyDict::new(py);
    result.set_item("metrics", metrics_columns(py, &outcome)?)?;
    result.set_item("params", to_numpy2(py, outcome.params())?)?;
    match outcome.params_average() {
        Some(average) => result.set_item("params_average", to_numpy2(py, average)?)?,
        None => result.set_item("params_average", py.None())?,
    }
    result.set_item("summary", from_json(py, &outcome.summary)?)?;
    Ok(result)
}

/// Runs the claims of the source document and checks each against its prediction —
/// ``gradflow reproduce`` — and returns the summary (``summary.json``: every claim with its
/// checks, verdicts and controls) as a dict; with several ``seeds`` (e.g. "0-4" or [0, 3])
/// the table over seeds (``seeds.json``). ``only``: claim ids (see ``gradflow list``);
/// ``quick``: the quick setting; outputs (CSV, figures, index.html) go to ``out``. The GIL is
/// released; Ctrl-C stops the run within a second, inside the running claim (its sweep cells
/// and training steps are cancellation points): KeyboardInterrupt, the folders of the claims
/// already finished kept, neither the interrupted claim's folder nor a summary written. Whether
/// every check passed is ``all(c["passed"] for c in summary["claims"])`` (the CLI's exit
/// code 0 or 1).
#[pyfunction]
#[pyo3(signature = (only=None, *, quick=false, out=PathBuf::from("gradflow-out"), seed=0,
    seeds=None, verbose=false, threads=None))]
#[allow(clippy::too_many_arguments)]
pub fn reproduce<'py>(
    py: Python<'py>,
    only: Option<Vec<String>>,
    quick: bool,
    out: PathBuf,
    seed: u64,
    seeds: Option<&Bound<'py, PyAny>>,
    verbose: bool,
    threads: Option<i64>,
) -> PyResult<Bound<'py, PyAny>> {
    let seeds = match seeds {
        None => vec![seed],
        Some(s) => match s.extract::<String>() {
            Ok(text) => gradflow::claims::parse_seeds(&text).or_raise_as(REPRODUCE)?,
            Err(_) => s.extract::<Vec<u64>>().map_err(|_| {
                PyValueError::new_err(
                    "invalid seeds: expected \"0-9\"-style text or a list of seeds",
                )
            })?,
        },
    };
    let several = seeds.len() > 1;
    let options = commands::reproduce::Request {
        quick,
        only: only.unwrap_or_default(),
        out: out.clone(),
        seeds,
        quiet: !verbose,
        negative_control: false,
    };
    run_cancellable(py, threads, true, REPRODUCE, move |cancel| {
        commands::reproduce::run(&options, cancel)
    })?;
    let file = out.join(if several {
        "seeds.json"
    } else {
        "summary.json"
    });
    let text = std::fs::read_to_string(&file)
        .map_err(|e| Error::io(&file, e))
        .or_raise()?;
    py.import("json")?.call_method1("loads", (text,))
}
