//! `gradflow.kernel` (infinite-width NNGP / NTK) and `gradflow.predict` (kernel gradient flow).

use crate::conv;
use crate::convert::{borrowed, matrix, matrix_or_column, stack, to_numpy2, values};
use crate::errors::OrRaise;
use crate::threads::{detach, run_cancellable};
use gradflow::commands::{self, predict::Initial, Cancel, Input, InputView, Names};
use gradflow::kernel::dynamics::{FlowSettings, Solver};
use gradflow::kernel::{Kernels, Kind, Network};
use gradflow::{Error, Matrix};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A non-negative integer argument (Python ints can be negative; the library's counts cannot).
pub fn count(name: &str, v: i64) -> PyResult<usize> {
    usize::try_from(v)
        .map_err(|_| Error::invalid(name, format!("expected an integer ≥ 0, got {v}")))
        .or_raise()
}

/// `gradflow.kernel`'s names of the library's: its first input is `x1` (the CLI's `--x`).
const KERNEL: Names = &[("x has", "x1 has"), ("--x", "x1"), ("--x2", "x2")];

/// `gradflow.predict`'s names of the CLI's flags and the library's fields (its keyword
/// arguments): the advice of a singular kernel names `diag_reg` once, not the flag beside it.
const PREDICT: Names = &[
    ("diag_reg, --diag-reg", "diag_reg"),
    ("--diag-reg", "diag_reg"),
    ("--diag-reg-absolute", "diag_reg_absolute"),
    ("--learning-rate", "learning_rate"),
    ("--time", "t"),
    ("time", "t"),
    ("--solver", "solver"),
    ("--f0-train", "f0_train"),
    ("--f0-test", "f0_test"),
    ("--x-train", "x_train"),
    ("--x-test", "x_test"),
    ("--y-train", "y_train"),
    ("--kind", "kind"),
];

/// Which kernels a call returns: one of them, or both (NNGP, NTK).
#[derive(Clone, Copy, PartialEq)]
enum Which {
    One(Kind),
    Both,
}

fn which(kind: &str) -> PyResult<Which> {
    if kind.trim() == "both" {
        return Ok(Which::Both);
    }
    kind.parse::<Kind>()
        .map(Which::One)
        .map_err(|m| Error::invalid("kind", format!("{m} (or \"both\")")))
        .or_raise()
}

/// The architecture arguments shared by `kernel` and `predict` (`--depth`, `--activation`,
/// … of the CLI), as given.
struct Architecture<'a> {
    depth: Option<i64>,
    activation: &'a str,
    w_std: f64,
    b_std: Option<f64>,
    parameterization: &'a str,
    width: i64,
    quadrature_degree: i64,
    kind: &'a str,
}

impl Architecture<'_> {
    /// The network (checked by the library, [`Network::validate`]) and which kernels.
    fn parse(&self) -> PyResult<(Network, Which)> {
        let depth = self
            .depth
            .ok_or_else(|| Error::invalid("depth", "required (or net=[...] layers)"))
            .or_raise()?;
        let network = Network {
            depth: count("depth", depth)?,
            activation: self
                .activation
                .parse()
                .map_err(|m: String| Error::invalid("activation", m))
                .or_raise()?,
            w_std: self.w_std,
            b_std: self.b_std,
            parameterization: self
                .parameterization
                .parse()
                .map_err(|m: String| Error::invalid("parameterization", m))
                .or_raise()?,
            width: count("width", self.width)?,
            quadrature_degree: count("quadrature_degree", self.quadrature_degree)?,
        };
        network.validate().or_raise()?;
        Ok((network, which(self.kind)?))
    }
}

/// The infinite-width kernel of a fully connected network between the rows of ``x1`` (n × d)
/// and of ``x2`` (m × d; default ``x1``): an n × m float64 array, or the pair
/// ``(nngp, ntk)`` for ``kind="both"`` (computed together at the cost of one).
///
/// The network is ``depth`` hidden layers Dense(σ_w, σ_b) + activation η and a final
/// Dense(1). With K⁰(x, x') = ⟨x, x'⟩/d and Θ⁰ = 0, each Dense layer maps
/// K ↦ σ_w² K + σ_b² and (NTK parameterization) Θ ↦ K' + σ_w² Θ; each activation maps
/// K ↦ E[η(u)η(v)] and Θ ↦ Θ · E[η'(u)η'(v)] for (u, v) ~ N(0, K). Closed forms for the
/// ReLU family (arc-cosine), erf, identity and monomials; Gauss–Hermite quadrature
/// (``quadrature_degree`` points per axis) otherwise. With ``x2`` omitted the result is
/// exactly symmetric.
///
/// neural-tangents equivalent::
///
///     _, _, kernel_fn = stax.serial(stax.Dense(512, W_std=w_std, b_std=b_std), stax.Relu(),
///                                   ..., stax.Dense(1, W_std=w_std, b_std=b_std))
///     kernel_fn(x1, x2, "ntk")          # gradflow.kernel(x1, x2, depth=..., w_std=w_std)
///
/// Arguments: ``activation`` is one of relu, leaky_relu(α), abs, ab_relu(a, b), erf,
/// erf(a, b, c), sigmoid_like, tanh, sigmoid, softplus, gelu, quadratic, monomial(k),
/// identity; ``parameterization`` "ntk" or "standard" (``width`` enters only the latter's
/// NTK); ``threads`` the worker threads (default: ``gradflow.set_threads`` or all cores).
/// Inputs: float64 or float32 arrays of any memory layout; C-contiguous float64 arrays are
/// read in place (no copy, held read-only for the call), others converted once. The GIL is
/// released during the computation. Raises ValueError (bad arguments, NaN inputs),
/// MemoryError (an output that cannot fit in memory).
///
/// **Convolutional networks** (``net=`` instead of ``depth``): a list of layer dicts — the
/// ``[[layer]]`` tables of the CLI's NET.toml, neural-tangents' argument names, e.g.
/// ``{"kind": "conv", "filter_shape": [3, 3], "padding": "SAME", "w_std": 1.4, "b_std": 0.1}``,
/// ``{"kind": "relu"}``, ``{"kind": "avg_pool", "window_shape": [2, 2]}``,
/// ``{"kind": "global_avg_pool"}``, ``{"kind": "flatten"}``, ``{"kind": "dense"}`` (see
/// ``gradflow.stax`` for a builder) — or TOML text, or the path of a NET.toml file; inputs
/// NHWC ``(n, H, W, C)``, ``(n, L, C)`` or ``(n, d)``. Each conv layer maps the
/// position-by-position covariance Σ ↦ σ_w² 𝒜(Σ) + σ_b² with 𝒜 the filter-window mean (the
/// same offset on both positions), Θ ↦ Σ′ + σ_w² 𝒜(Θ); pooling averages positions, flatten
/// averages the same-position covariances (the layer maps of ``gradflow kernel --net``).
/// A bad layer raises ValueError naming ``layer[k].key``. neural-tangents equivalent::
///
///     _, _, kernel_fn = stax.serial(stax.Conv(64, (3, 3), padding="SAME"), stax.Relu(),
///                                   stax.GlobalAvgPool(), stax.Dense(1))
///     kernel_fn(x1, x2, "ntk")   # gradflow.kernel(x1, x2, net=gradflow.stax.serial(...))
///
/// With ``net`` the kernel is computed in blocks of rows (those ``gradflow kernel --net``
/// streams), sized to a fraction of a second each: Ctrl-C raises KeyboardInterrupt between
/// two blocks, and the entries are the same bits whatever the block size.
#[pyfunction]
#[pyo3(signature = (x1, x2=None, *, depth=None, activation="relu", w_std=1.0, b_std=None,
    parameterization="ntk", width=512, kind="ntk", quadrature_degree=48, net=None,
    threads=None))]
#[allow(clippy::too_many_arguments)]
pub fn kernel<'py>(
    py: Python<'py>,
    x1: &Bound<'py, PyAny>,
    x2: Option<&Bound<'py, PyAny>>,
    depth: Option<i64>,
    activation: &str,
    w_std: f64,
    b_std: Option<f64>,
    parameterization: &str,
    width: i64,
    kind: &str,
    quadrature_degree: i64,
    net: Option<&Bound<'py, PyAny>>,
    threads: Option<i64>,
) -> PyResult<Bound<'py, PyAny>> {
    if let Some(net) = net {
        not_with_net(depth, b_std)?;
        let request = conv::network(net, count("quadrature_degree", quadrature_degree)?)?;
        let which = which(kind)?;
        let keep = match which {
            Which::One(kind) => Some(kind),
            Which::Both => None,
        };
        let x1 = conv::images(x1, "x1")?;
        let x2 = x2.map(|x| conv::images(x, "x2")).transpose()?;
        let k = conv::kernels(py, request, keep, (x1, x2), threads)?;
        return kernels_out(py, which, k);
    }
    let (network, which) = Architecture {
        depth,
        activation,
        w_std,
        b_std,
        parameterization,
        width,
        quadrature_degree,
        kind,
    }
    .parse()?;
    // C-contiguous float64 inputs are read in place (held read-only for the call).
    let b1 = borrowed(x1, "x1")?;
    let b2 = x2.map(|x| borrowed(x, "x2")).transpose()?;
    let x1 = InputView::new("x1", b1.view()?).or_raise()?;
    let x2 = match &b2 {
        Some(b) => Some(InputView::new("x2", b.view()?).or_raise()?),
        None => None,
    };
    let (n, m) = (
        x1.matrix.rows,
        x2.as_ref().map_or(x1.matrix.rows, |x| x.matrix.rows),
    );
    let request = commands::kernel::Request {
        kind: match which {
            Which::One(k) => k,
            Which::Both => Kind::Ntk,
        },
        block_rows: block_rows(m, network.depth),
        network,
    };
    let long = is_long(n, m, request.network.depth);
    let compute = move |cancel: Cancel<'_>| match which {
        // The one kernel in its slot of the pair (the other empty).
        Which::One(kind) => commands::kernel::run_view(&request, x1, x2, cancel).map(|k| {
            let mut pair = Kernels::default();
            match kind {
                Kind::Ntk => pair.ntk = k,
                Kind::Nngp => pair.nngp = k,
            }
            pair
        }),
        Which::Both => commands::kernel::run_both_view(&request, x1, x2, cancel),
    };
    let k = run_cancellable(py, threads, long, KERNEL, compute)?;
    kernels_out(py, which, k)
}

/// The dense-only arguments `net` replaces: an error naming the first one given.
fn not_with_net(depth: Option<i64>, b_std: Option<f64>) -> PyResult<()> {
    let given = [("depth", depth.is_some()), ("b_std", b_std.is_some())];
    match given.iter().find(|(_, set)| *set) {
        Some((name, _)) => Err(Error::invalid(
            *name,
            "not with net (the layers give the architecture: w_std, b_std per layer)",
        ))
        .or_raise(),
        None => Ok(()),
    }
}

/// The requested kernel as an array, or the pair (nngp, ntk) for "both".
fn kernels_out(py: Python<'_>, which: Which, k: Kernels) -> PyResult<Bound<'_, PyAny>> {
    match which {
        Which::One(kind) => Ok(to_numpy2(py, k.take(kind))?.into_any()),
        Which::Both => {
            let pair = (to_numpy2(py, k.nngp)?, to_numpy2(py, k.ntk)?);
            Ok(PyTuple::new(py, [pair.0.into_any(), pair.1.into_any()])?.into_any())
        }
    }
}

/// Entries × layers per kernel block (≈ 0.5 s on two cores): Ctrl-C is honoured between
/// blocks. `_set_block_work` changes it (tests of the blocked path).
static BLOCK_WORK: AtomicUsize = AtomicUsize::new(1 << 27);

/// Entries × layers above which a call is cancellable (a helper thread polls for Ctrl-C;
/// below, ≈ 10 ms on two cores, the call is one plain library call).
const LONG_WORK: usize = 1 << 22;

/// Sets the work per kernel block (entries × layers); for tests of the blocked path.
#[pyfunction]
pub fn _set_block_work(work: usize) {
    BLOCK_WORK.store(work.max(1), Ordering::Relaxed);
}

/// Rows per block for kernels of `m` columns through `depth` layers.
fn block_rows(m: usize, depth: usize) -> usize {
    (BLOCK_WORK.load(Ordering::Relaxed) / m.saturating_mul(depth).max(1)).max(1)
}

/// Whether a kernel of n × m entries through `depth` layers is long enough to be cancellable.
fn is_long(n: usize, m: usize, depth: usize) -> bool {
    n.saturating_mul(m).saturating_mul(depth) > LONG_WORK
}

/// Prediction times from a number or a 1-D array (the request checks each: t ≥ 0 or ∞); also
/// whether it was a number.
fn times(t: &Bound<'_, PyAny>) -> PyResult<(Vec<f64>, bool)> {
    let scalar = t.extract::<f64>().is_ok();
    Ok((values(t, "t")?, scalar))
}

/// Predictions on ``x_test`` of the infinitely wide network trained by gradient flow on the
/// squared loss (1/2N)‖f − y‖² (N = n·k targets) at the times ``t``:
///
/// * train: f_t = y + e^{−ηtΘ/N} (f₀ − y);
/// * test: f_t = f₀ + Θ_{te,tr} Θ⁻¹ (I − e^{−ηtΘ/N}) (y − f₀(train));
/// * t = ∞: f_∞ = f₀ + Θ_{te,tr} Θ⁻¹ (y − f₀(train)) by Cholesky (a numerically singular Θ
///   raises ``gradflow.NumericalError``; add ``diag_reg``).
///
/// Θ is the kernel of ``gradflow.kernel`` with the same architecture arguments (``kind``
/// "ntk", or "nngp" for the NNGP posterior mean). ``t`` is a number (result m × k) or a 1-D
/// array of times (result len(t) × m × k); ``inf`` is allowed, and ``None`` (the default) means t = ∞. A 1-D ``y_train`` (n) gives
/// results without the k axis. ``solver``: "eigen" (one eigendecomposition serves every time),
/// "krylov" (Lanczos matrix-function–vector products) or "auto" (krylov for n ≥ 400 and at
/// most 8 outputs). ``diag_reg`` r adds r·tr(Θ)/n (or r with ``diag_reg_absolute``) to Θ's
/// diagonal. ``f0_train`` / ``f0_test`` (together): the initial outputs (default 0).
/// ``return_train=True`` returns ``(train, test)``.
///
/// neural-tangents equivalent::
///
///     predict_fn = nt.predict.gradient_descent_mse(kernel_fn(x_train, None, "ntk"), y_train,
///                                                  learning_rate=learning_rate,
///                                                  diag_reg=diag_reg)
///     predict_fn(t, fx_train_0, fx_test_0, k_test_train)
///
/// ``net=`` (instead of ``depth`` and the architecture arguments) trains the convolutional
/// network of ``gradflow.kernel``'s ``net``, on inputs ``(n, H, W, C)`` or ``(n, L, C)``.
///
/// The same computation as ``gradflow predict`` (``--net``); the GIL is released. Errors name
/// the arguments (``diag_reg``, ``learning_rate``, ``t``, …). Ctrl-C raises KeyboardInterrupt
/// before each kernel (with ``net``: between the blocks of rows of each kernel) and before the
/// flow; the flow itself — one eigendecomposition of Θ (O(n³), ≈ 18 s of one core at
/// n = 4000) or the Lanczos solve — is not interrupted: the interrupt comes when it returns.
#[pyfunction]
#[pyo3(signature = (x_train, y_train, x_test, t=None, *, depth=None, activation="relu",
    w_std=1.0, b_std=None, parameterization="ntk", width=512, kind="ntk", quadrature_degree=48,
    learning_rate=1.0, diag_reg=0.0, diag_reg_absolute=false, solver="auto", f0_train=None,
    f0_test=None, return_train=false, net=None, threads=None))]
#[allow(clippy::too_many_arguments)]
pub fn predict<'py>(
    py: Python<'py>,
    x_train: &Bound<'py, PyAny>,
    y_train: &Bound<'py, PyAny>,
    x_test: &Bound<'py, PyAny>,
    t: Option<&Bound<'py, PyAny>>,
    depth: Option<i64>,
    activation: &str,
    w_std: f64,
    b_std: Option<f64>,
    parameterization: &str,
    width: i64,
    kind: &str,
    quadrature_degree: i64,
    learning_rate: f64,
    diag_reg: f64,
    diag_reg_absolute: bool,
    solver: &str,
    f0_train: Option<&Bound<'py, PyAny>>,
    f0_test: Option<&Bound<'py, PyAny>>,
    return_train: bool,
    net: Option<&Bound<'py, PyAny>>,
    threads: Option<i64>,
) -> PyResult<Bound<'py, PyAny>> {
    let one_kind = |which| match which {
        Which::One(k) => Ok(k),
        Which::Both => Err(PyValueError::new_err(
            "invalid kind: predict needs one kernel, \"ntk\" or \"nngp\"",
        )),
    };
    let (times, scalar) = match t {
        Some(t) => times(t)?,
        None => (vec![f64::INFINITY], true),
    };
    let solver: Solver = solver
        .parse()
        .map_err(|m: String| Error::invalid("solver", m))
        .or_raise()?;
    let flow = FlowSettings {
        learning_rate,
        diag_reg,
        diag_reg_absolute,
        solver,
    };
    let (ytr, vector_targets) = matrix_or_column(y_train, "y_train")?;
    let ytr = Input::new("y_train", ytr).or_raise()?;
    let f0 = match (f0_train, f0_test) {
        (Some(a), Some(b)) => Some((
            Input::new("f0_train", matrix_or_column(a, "f0_train")?.0).or_raise()?,
            Input::new("f0_test", matrix_or_column(b, "f0_test")?.0).or_raise()?,
        )),
        (None, None) => None,
        _ => {
            return Err(PyValueError::new_err(
                "invalid f0_train, f0_test: give both initial outputs or neither",
            ))
        }
    };
    let pred = match net {
        Some(net) => {
            not_with_net(depth, b_std)?;
            let request = conv::network(net, count("quadrature_degree", quadrature_degree)?)?;
            let kind = one_kind(which(kind)?)?;
            // The checks of the times and the flow settings, as without a network.
            commands::predict::Request {
                times: times.clone(),
                flow,
                ..Default::default()
            }
            .validate()
            .or_raise_as(PREDICT)?;
            let inputs = (
                conv::images(x_train, "x_train")?,
                ytr,
                conv::images(x_test, "x_test")?,
            );
            conv::predict(py, request, kind, inputs, f0, times, flow, threads)?
        }
        None => {
            let (network, which) = Architecture {
                depth,
                activation,
                w_std,
                b_std,
                parameterization,
                width,
                quadrature_degree,
                kind,
            }
            .parse()?;
            let request = commands::predict::Request {
                network,
                kind: one_kind(which)?,
                times,
                flow,
            };
            request.validate().or_raise_as(PREDICT)?;
            // C-contiguous float64 inputs are read in place (held read-only for the call).
            let (btr, bte) = (borrowed(x_train, "x_train")?, borrowed(x_test, "x_test")?);
            let xtr = InputView::new("x_train", btr.view()?).or_raise()?;
            let xte = InputView::new("x_test", bte.view()?).or_raise()?;
            let (n, m) = (xtr.matrix.rows, xte.matrix.rows);
            let long = is_long(n, n + m, request.network.depth);
            let compute = move |cancel: Cancel<'_>| {
                let initial = f0.as_ref().map(|(train, test)| Initial { train, test });
                commands::predict::run_view(&request, xtr, &ytr, xte, initial, cancel)
            };
            run_cancellable(py, threads, long, PREDICT, compute)?
        }
    };
    let shape = |ms: Vec<Matrix>| -> PyResult<Bound<'py, PyAny>> {
        let out: Bound<'py, PyAny> = if scalar {
            let m = ms
                .into_iter()
                .next()
                .ok_or_else(|| PyValueError::new_err("no prediction time"))?;
            to_numpy2(py, m)?.into_any()
        } else {
            stack(py, ms)?.into_any()
        };
        if vector_targets {
            // (…, m, 1) → (…, m): a view of the same buffer.
            let shape: Vec<usize> = out.getattr("shape")?.extract()?;
            let squeezed = &shape[..shape.len() - 1];
            return out.call_method1("reshape", (squeezed.to_vec(),));
        }
        Ok(out)
    };
    let test = shape(pred.test)?;
    if return_train {
        let train = shape(pred.train)?;
        return Ok(PyTuple::new(py, [train, test])?.into_any());
    }
    Ok(test)
}

/// Seconds per call of the library's `commands::kernel::run` on `x1` (its NTK with itself,
/// `depth` hidden ReLU layers) over `number` calls, timed in Rust: the Rust side of the
/// per-call overhead benchmark (`bench/python_kernels.py`).
#[pyfunction]
pub fn _bench_kernel_rust(
    py: Python<'_>,
    x1: &Bound<'_, PyAny>,
    depth: usize,
    number: usize,
) -> PyResult<f64> {
    let x = Input::new("x1", matrix(x1, "x1")?).or_raise()?;
    let request = commands::kernel::Request {
        network: Network {
            depth,
            ..commands::kernel::default_network()
        },
        kind: Kind::Ntk,
        block_rows: block_rows(x.matrix.rows, depth),
    };
    detach(py, None, move || {
        let start = std::time::Instant::now();
        for _ in 0..number.max(1) {
            commands::kernel::run(&request, &x, None, Cancel::NEVER)?;
        }
        Ok(start.elapsed().as_secs_f64() / number.max(1) as f64)
    })
}
