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
use gradflow::kernel::conv::{ConvNet, Images};
use gradflow::kernel::dynamics::{FlowSettings, Predictions};
use gradflow::kernel::{Kernels, Kind};
use gradflow::Error;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};
use std::path::PathBuf;

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

/// Both kernels of the network between `x1` and `x2` (`None`: x1 with itself), GIL released.
pub fn kernels(
    py: Python<'_>,
    request: Request,
    x1: Images,
    x2: Option<Images>,
    threads: Option<i64>,
) -> PyResult<Kernels> {
    run_cancellable(py, threads, false, NET, move |_| {
        request.kernels(&x1, x2.as_ref())
    })
}

/// The predictions of [`commands::conv::predict`] (the network's kernel `kind`), GIL released.
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
    run_cancellable(py, threads, false, NET, move |_| {
        commands::conv::predict(
            &request,
            (&x_train, &y_train, &x_test),
            f0.as_ref().map(|(a, b)| (a, b)),
            &times,
            &flow,
        )
    })
}
