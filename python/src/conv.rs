//! The `net=` argument of `gradflow.kernel` and `gradflow.predict`: convolutional networks
//! (conv, avg_pool, global_avg_pool, flatten, dense, activations) given as a list of layer
//! dicts — the `[[layer]]` tables of the CLI's NET.toml, with neural-tangents' argument names —
//! TOML text, or the path of a NET.toml file. The list goes through the NET.toml parser
//! ([`ConvNet::from_toml`]), so its checks and messages (`layer[k].field`) are the CLI's; the
//! kernels are [`commands::conv`]'s, the library functions `gradflow kernel --net` and
//! `gradflow predict --net` call.

use crate::convert::dense;
use crate::errors::OrRaise;
use crate::threads::run_cancellable;
use gradflow::commands::{self, conv::Request, Input, Names};
use gradflow::kernel::conv::{ConvNet, Images, Layer};
use gradflow::kernel::dynamics::{FlowSettings, Predictions};
use gradflow::kernel::{Kernels, Kind};
use gradflow::Error;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The names of the library's messages for a network given in memory (the request's source
/// is called `net`, as the argument).
pub const NET: Names = &[
    ("--net (net)", "net"),
    ("--net", "net"),
    ("--x", "x1"),
    ("x has", "x1 has"),
    ("--x2", "x2"),
];

/// The network of the `net` argument: a list of layer dicts, TOML text with `[[layer]]`
/// tables, or a path (str or os.PathLike) to a NET.toml file; `quadrature_degree` applies to
/// a list (a TOML file gives its own, default 48).
pub fn network(net: &Bound<'_, PyAny>, quadrature_degree: usize) -> PyResult<Request> {
    let py = net.py();
    let read = |path: PathBuf| Request::read(&path, Kind::Ntk).or_raise_as(NET);
    if let Ok(s) = net.cast::<PyString>() {
        let text: String = s.extract()?;
        if text.contains('\n') || text.contains('=') {
            let parsed = ConvNet::from_toml("net", &text).or_raise_as(NET)?;
            return Ok(in_memory(parsed));
        }
        return read(PathBuf::from(text));
    }
    if net.hasattr("__fspath__")? {
        return read(net.extract()?);
    }
    // Layer dicts → JSON → TOML text: the NET.toml parser and its messages. numpy scalars
    // become Python numbers (`.item()`); a value that is neither names its layer.
    let item = py
        .import("operator")?
        .call_method1("methodcaller", ("item",))?;
    let kwargs = PyDict::new(py);
    kwargs.set_item("default", item)?;
    let json: String = py
        .import("json")?
        .call_method("dumps", (net,), Some(&kwargs))
        .map_err(|e| {
            Error::invalid(
                "net",
                format!("expected a list of layer dicts of numbers, strings and lists ({e})"),
            )
        })
        .or_raise()?
        .extract()?;
    let value: serde_json::Value = serde_json::from_str(&json)
        .map_err(|e| Error::invalid("net", e.to_string()))
        .or_raise()?;
    let serde_json::Value::Array(layers) = value else {
        return Err(Error::invalid("net", "expected a list of layer dicts")).or_raise_as(NET);
    };
    let mut tables = Vec::with_capacity(layers.len());
    for (k, layer) in layers.into_iter().enumerate() {
        let serde_json::Value::Object(mut table) = layer else {
            return Err(Error::invalid(
                format!("layer[{k}]"),
                format!("expected a dict such as {{\"kind\": \"relu\"}}, got {layer}"),
            ))
            .or_raise();
        };
        // `None` means "the default", as an absent key.
        table.retain(|_, v| !v.is_null());
        tables.push(serde_json::Value::Object(table));
    }
    let text = toml::to_string(&serde_json::json!({ "layer": tables }))
        .map_err(|e| Error::invalid("net", format!("not a list of [[layer]] tables: {e}")))
        .or_raise()?;
    let mut parsed = ConvNet::from_toml("net", &text).or_raise_as(NET)?;
    parsed.quadrature_degree = quadrature_degree;
    Ok(in_memory(parsed))
}

fn in_memory(net: ConvNet) -> Request {
    Request {
        path: PathBuf::from("net"),
        net,
        kind: Kind::Ntk,
        block_rows: commands::kernel::Request::default().block_rows,
    }
}

/// An array (n, d), (n, L, C) or (n, H, W, C) as inputs (one copy, row-major f64).
pub fn images(obj: &Bound<'_, PyAny>, name: &str) -> PyResult<Images> {
    let d = dense(obj, name)?;
    Images::new(name, &d.shape, d.data).or_raise()
}

/// Work units (≈ 1.6 ns of one core each, [`entry_work`]) per block of rows and per worker
/// thread: ≈ 0.5 s per block whatever the pool (as the dense kernels), so Ctrl-C is honoured
/// within a second.
/// `_set_conv_block_rows` fixes the rows instead (tests of the blocked path).
const BLOCK_WORK_PER_THREAD: f64 = 3e8;

/// Rows per block fixed by `_set_conv_block_rows` (0: from [`BLOCK_WORK_PER_THREAD`]).
static BLOCK_ROWS: AtomicUsize = AtomicUsize::new(0);

/// Fewest rows per block: each block recomputes its inputs' own terms (one per input it
/// reads), which costs about 1/rows of the block's work.
const MIN_ROWS: usize = 8;

/// Work units of a whole call above which it is cancellable (≈ 10 ms of one core; below, one
/// plain library call without the helper thread that polls for Ctrl-C).
const LONG_WORK: f64 = 6e6;

/// Sets the rows per block of `net=` kernels (0: chosen from the work per row); for tests of
/// the blocked path.
#[pyfunction]
pub fn _set_conv_block_rows(rows: usize) {
    BLOCK_ROWS.store(rows, Ordering::Relaxed);
}

/// A kernel entry's work in units of ≈ 1.6 ns of one core (measured on the networks of
/// `python/tests/test_conv_blocks.py`): per layer P² when a layer mixes positions
/// (`avg_pool`, `global_avg_pool`: the full position-by-position covariance), else 8·P (the
/// same-position covariances), P the input's positions (the module documentation of
/// [`gradflow::kernel::conv`]). An estimate that only sizes the blocks: the entries do not
/// depend on it.
fn entry_work(net: &ConvNet, x: &Images) -> f64 {
    let positions = x.spatial.iter().product::<usize>().max(1) as f64;
    let mixes = net
        .layers
        .iter()
        .any(|l| matches!(l, Layer::AvgPool(_) | Layer::GlobalAvgPool));
    let per_layer = if mixes {
        positions * positions
    } else {
        8.0 * positions
    };
    net.layers.len().max(1) as f64 * per_layer
}

/// Rows per block of kernels with `m` columns on `threads` workers, for entries of
/// `per_entry` work.
fn block_rows(per_entry: f64, m: usize, threads: usize) -> usize {
    match BLOCK_ROWS.load(Ordering::Relaxed) {
        0 => {
            let rows = BLOCK_WORK_PER_THREAD * threads as f64 / (per_entry * m.max(1) as f64);
            (rows as usize).max(MIN_ROWS)
        }
        fixed => fixed,
    }
}

/// The kernels `keep` (`None`: both) of the network between `x1` and `x2` (`None`: x1 with
/// itself), GIL released, in blocks of rows ([`commands::conv::kernels`], the blocks of
/// `gradflow kernel --net`): Ctrl-C stops a long call between two blocks.
pub fn kernels(
    py: Python<'_>,
    request: Request,
    keep: Option<Kind>,
    (x1, x2): (Images, Option<Images>),
    threads: Option<i64>,
) -> PyResult<Kernels> {
    let m = x2.as_ref().map_or(x1.n, |x| x.n);
    let per_entry = entry_work(&request.net, &x1);
    let long = per_entry * x1.n as f64 * m as f64 > LONG_WORK;
    run_cancellable(py, threads, long, NET, move |cancel| {
        // Inside the call's pool: its size is the number of workers.
        let request = Request {
            block_rows: block_rows(per_entry, m, rayon::current_num_threads()),
            ..request
        };
        commands::conv::kernels(&request, (&x1, x2.as_ref()), keep, cancel)
    })
}

/// The predictions of [`commands::conv::predict_cancellable`] (the network's kernel `kind`),
/// GIL released; Ctrl-C stops a long call between two blocks of its kernels.
#[allow(clippy::too_many_arguments)]
pub fn predict(
    py: Python<'_>,
    mut request: Request,
    kind: Kind,
    (x_train, y_train, x_test): (Images, Input, Images),
    f0: Option<(Input, Input)>,
    times: Vec<f64>,
    flow: FlowSettings,
    threads: Option<i64>,
) -> PyResult<Predictions> {
    request.kind = kind;
    // The blocks of both kernels (n × n, then n_test × n) sized by their n columns.
    let n = x_train.n;
    let per_entry = entry_work(&request.net, &x_train);
    let long = per_entry * (n + x_test.n) as f64 * n as f64 > LONG_WORK;
    run_cancellable(py, threads, long, NET, move |cancel| {
        let request = Request {
            block_rows: block_rows(per_entry, n, rayon::current_num_threads()),
            ..request
        };
        commands::conv::predict_cancellable(
            &request,
            (&x_train, &y_train, &x_test),
            f0.as_ref().map(|(a, b)| (a, b)),
            &times,
            &flow,
            cancel,
        )
    })
}
