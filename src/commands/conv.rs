//! `gradflow kernel --net NET.toml` and `gradflow predict --net NET.toml`: the infinite-width
//! kernels of a network given as `[[layer]]` tables ([`crate::kernel::conv`]: convolutions,
//! pooling, flatten, dense layers, activations) on inputs (n, d), (n, L, C) or (n, H, W, C).

use super::{Cancel, Input};
use crate::distributed::krr::{self, Problem, Settings, Solution};
use crate::distributed::Communicator;
use crate::error::{Error, Result};
use crate::kernel::conv::{ConvNet, Images};
use crate::kernel::dynamics::{self, FlowSettings, Predictions};
use crate::kernel::{Kernels, Kind};
use crate::linalg::Matrix;
use std::path::{Path, PathBuf};

/// The settings of `kernel --net` / `predict --net`.
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    /// The NET.toml file (named in the summary).
    pub path: PathBuf,
    /// Its network.
    pub net: ConvNet,
    /// `--kind`: the NTK Θ or the NNGP kernel K.
    pub kind: Kind,
    /// `--block-rows`: rows computed per block (bounds the memory of a streamed kernel).
    pub block_rows: usize,
}

impl Request {
    /// The network of the NET.toml file `path` (errors name it and the table).
    pub fn read(path: &Path, kind: Kind) -> Result<Request> {
        Ok(Request {
            path: path.to_path_buf(),
            net: ConvNet::read(path)?,
            kind,
            block_rows: super::kernel::Request::default().block_rows,
        })
    }

    /// The network checked against `x`'s shape; errors name the NET.toml file.
    fn check(&self, x: &Images) -> Result<()> {
        self.net
            .validate(&x.spatial, x.channels)
            .map_err(|e| Error::invalid(format!("--net ({})", self.path.display()), e.to_string()))
    }

    /// K(x, x2) (K(x, x) without `x2`) in memory ([`kernels`]).
    pub fn kernel(&self, x: &Images, x2: Option<&Images>) -> Result<Matrix> {
        Ok(kernels(self, (x, x2), Some(self.kind), Cancel::NEVER)?.take(self.kind))
    }

    /// Both kernels, NNGP and NTK (`kind` ignored), of one computation in memory
    /// ([`kernels`]).
    pub fn kernels(&self, x: &Images, x2: Option<&Images>) -> Result<Kernels> {
        kernels(self, (x, x2), None, Cancel::NEVER)
    }
}

/// The kernels `keep` (`None`: both, NNGP and NTK, computed together) between `x` and `x2`
/// (`None`: x with itself) in memory, `request.block_rows` rows at a time — the blocks of
/// the file [`save`] streams ([`crate::kernel::analytic::KernelStream::in_memory`]); `cancel` is
/// polled before each block. Every entry is the same bits whatever `block_rows` (each pair of
/// inputs is computed on its own, [`crate::kernel::blocks::BlockKernel`]); one block
/// (`block_rows` ≥ n) is the single call [`ConvNet::kernels`]. Each block recomputes its
/// inputs' own terms (their variances at every layer), about 1/`block_rows` of its work.
pub fn kernels(
    request: &Request,
    (x, x2): (&Images, Option<&Images>),
    keep: Option<Kind>,
    cancel: Cancel,
) -> Result<Kernels> {
    request.check(x)?;
    if let Some(x2) = x2 {
        x.check_matches(x2)?;
    }
    let n = x.n;
    let stream = crate::kernel::analytic::KernelStream {
        network: &request.net,
        kind: keep.unwrap_or(request.kind),
        x1: x,
        x2,
        block_rows: request.block_rows,
    };
    stream.in_memory(keep.is_none(), |row| {
        cancel.check(|| format!("after {row} of {n} kernel rows"))
    })
}

/// The NPY file `path` as inputs (n, d), (n, L, C) or (n, H, W, C); errors name `flag (path)`.
pub fn read_images(path: &Path, flag: &str) -> Result<Images> {
    let array = crate::data::io::read_npy(path)?;
    Images::new(
        &format!("{flag} ({})", path.display()),
        &array.shape,
        array.data,
    )
}

/// Writes K(x, x2) to the NPY file `out` `block_rows` rows at a time (memory bounded by a
/// block), atomically, over the ranks of `comm` — the route and the bytes of the dense
/// kernels' [`super::kernel::save`] ([`crate::distributed::npy::save`]); returns its shape.
/// `cancel` is polled before each block of rows; an interrupted or failed computation leaves
/// no file.
pub fn save(
    request: &Request,
    (x, x2): (&Images, Option<&Images>),
    out: &Path,
    comm: &dyn Communicator,
    cancel: Cancel,
) -> Result<(usize, usize)> {
    request.check(x)?;
    crate::kernel::analytic::check_stream(&request.net, x, x2, request.block_rows)?;
    if let Some(x2) = x2 {
        x.check_matches(x2)?;
    }
    crate::distributed::npy::save(
        comm,
        &request.net,
        request.kind,
        (x, x2),
        request.block_rows,
        out,
        cancel,
    )
}

/// The JSON summary `gradflow kernel --net … --json` prints.
pub fn summary(request: &Request, out: &Path, shape: (usize, usize)) -> serde_json::Value {
    serde_json::json!({"out": out, "shape": [shape.0, shape.1], "kind": request.kind,
        "net": request.path, "layers": request.net.layers.len()})
}

/// Checks `predict --net`'s inputs: the network against the training inputs, the test
/// inputs of the training inputs' shape, one target row per training input.
fn check_predict(
    request: &Request,
    (x_train, y_train, x_test): (&Images, &Input, &Images),
) -> Result<()> {
    request.check(x_train)?;
    if (&x_test.spatial, x_test.channels) != (&x_train.spatial, x_train.channels) {
        return Err(Error::shape(
            "predict",
            format!(
                "x_test has inputs of spatial shape {:?} × {} channels, x_train {:?} × {}",
                x_test.spatial, x_test.channels, x_train.spatial, x_train.channels
            ),
        ));
    }
    if y_train.matrix.rows != x_train.n {
        return Err(Error::shape(
            "predict",
            format!(
                "x_train has {} inputs, y_train {} rows",
                x_train.n, y_train.matrix.rows
            ),
        ));
    }
    Ok(())
}

/// The predictions at each of `times` on `x_test` (and `x_train`) of the network trained on
/// (`x_train`, `y_train`) by gradient flow from `f0` (zero when `None`): the kernels of
/// [`Request::kernel`], then [`dynamics::gradient_descent_mse`] (the solvers of `predict`).
pub fn predict(
    request: &Request,
    inputs: (&Images, &Input, &Images),
    f0: Option<(&Input, &Input)>,
    times: &[f64],
    flow: &FlowSettings,
) -> Result<Predictions> {
    predict_cancellable(request, inputs, f0, times, flow, Cancel::NEVER)
}

/// [`predict`] polling `cancel` before each block of rows of its two kernels ([`kernels`])
/// and before the flow (whose eigendecomposition or Krylov solve is not interrupted).
pub fn predict_cancellable(
    request: &Request,
    (x_train, y_train, x_test): (&Images, &Input, &Images),
    f0: Option<(&Input, &Input)>,
    times: &[f64],
    flow: &FlowSettings,
    cancel: Cancel,
) -> Result<Predictions> {
    check_predict(request, (x_train, y_train, x_test))?;
    let kind = Some(request.kind);
    let theta = kernels(request, (x_train, None), kind, cancel)?.take(request.kind);
    let theta_test = kernels(request, (x_test, Some(x_train)), kind, cancel)?.take(request.kind);
    cancel.check(|| "before the flow".into())?;
    dynamics::gradient_descent_mse(
        &theta,
        &theta_test,
        &y_train.matrix,
        f0.map(|f| &f.0.matrix),
        f0.map(|f| &f.1.matrix),
        times,
        flow,
    )
}

/// [`predict`] over the ranks of `comm` (`predict --net` with `--pcg`, `--matrix-free` or
/// under mpirun): the distributed solve of the dense kernels ([`krr::solve`]: the training
/// kernel as a row-distributed operator, Lanczos at finite times, Nyström-preconditioned CG
/// at t = ∞) with this network's kernel. Collective; every rank returns the whole result,
/// which does not depend on the number of ranks, bit for bit.
#[allow(clippy::too_many_arguments)]
pub fn predict_distributed(
    comm: &dyn Communicator,
    request: &Request,
    settings: &Settings,
    (x_train, y_train, x_test): (&Images, &Input, &Images),
    f0: Option<(&Input, &Input)>,
    times: &[f64],
    flow: &FlowSettings,
    cancel: Cancel,
) -> Result<Solution> {
    check_predict(request, (x_train, y_train, x_test))?;
    let problem = Problem {
        network: &request.net,
        kind: request.kind,
        times,
        flow,
    };
    krr::solve(
        comm,
        &problem,
        settings,
        (x_train, &y_train.matrix, x_test),
        f0.map(|(train, test)| (&train.matrix, &test.matrix)),
        cancel,
    )
}
