//! `gradflow kernel`: the infinite-width NTK or NNGP kernel of a fully connected network
//! between two input sets (the layer recursion of [`crate::kernel::analytic`]).

use super::{Cancel, Input};
use crate::error::Result;
use crate::kernel::analytic::{check_stream, stream_blocks, stream_to_npy_with, Network};
use crate::kernel::{Kernels, Kind};
use crate::linalg::{check_fits, Matrix};
use crate::nn::Activation;
use std::path::Path;

/// The settings of `gradflow kernel` (and the architecture of `gradflow predict`).
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    /// The architecture: `--depth`, `--activation`, `--w-std`, `--b-std`,
    /// `--parameterization`, `--width`, `--quadrature-degree`.
    pub network: Network,
    /// `--kind`: the NTK Θ or the NNGP kernel K.
    pub kind: Kind,
    /// `--block-rows`: rows computed per block (bounds the memory of a streamed kernel).
    pub block_rows: usize,
}

impl Default for Request {
    /// The CLI's defaults: one hidden ReLU layer, σ_w = 1, no bias, NTK parameterization,
    /// width 512, 48 quadrature points, the NTK, 1024 rows per block.
    fn default() -> Request {
        Request {
            network: default_network(),
            kind: Kind::Ntk,
            block_rows: 1024,
        }
    }
}

/// The CLI's default architecture (see [`Request::default`]).
pub fn default_network() -> Network {
    Network {
        width: 512,
        ..Network::new(1, Activation::Relu)
    }
}

impl Request {
    /// Checks the architecture ([`Network::validate`]: depth ≥ 1, σ_w > 0, σ_b ≥ 0, width ≥ 1,
    /// 1 to 1000 quadrature points) and `block_rows` ≥ 1; errors name the field.
    pub fn validate(&self) -> Result<()> {
        self.network.validate()?;
        crate::kernel::analytic::check_block_rows(self.block_rows)
    }

    /// Checks the settings and the inputs (each within the range the layer maps hold,
    /// [`Network::check_inputs`]); returns the kernel's shape (n, m).
    fn prepare(&self, x: &Input, x2: Option<&Input>) -> Result<(usize, usize)> {
        self.validate()?;
        for input in std::iter::once(x).chain(x2) {
            self.network.check_inputs(&input.name, &input.matrix)?;
        }
        check_stream(
            &self.network,
            &x.matrix,
            x2.map(|i| &i.matrix),
            self.block_rows,
        )
    }
}

/// K(x, x2) (K(x, x) without `x2`), n × m, in memory: the same blocks, hence the same bits,
/// as [`save`] writes. `cancel` is polled before each block.
///
/// When one block holds the whole kernel (`block_rows` ≥ n) it is the single library call
/// [`Network::kernels`] — the same entries as the block, without assembling a copy.
pub fn run(request: &Request, x: &Input, x2: Option<&Input>, cancel: Cancel) -> Result<Matrix> {
    let (rows, cols) = request.prepare(x, x2)?;
    check_fits("the kernel", &[rows, cols])?;
    if request.block_rows >= rows {
        cancel.check(|| "before the kernel".into())?;
        let kernels = request.network.kernels(&x.matrix, x2.map(|i| &i.matrix))?;
        return Ok(kernels.take(request.kind));
    }
    let mut k = Matrix::zeros(rows, cols);
    let mut blocks = 0;
    stream_blocks(
        &request.network,
        request.kind,
        &x.matrix,
        x2.map(|i| &i.matrix),
        request.block_rows,
        |row, col, block| {
            cancel.check(|| format!("after {blocks} kernel blocks"))?;
            blocks += 1;
            for r in 0..block.rows {
                k.row_mut(row + r)[col..col + block.cols].copy_from_slice(block.row(r));
            }
            Ok(())
        },
    )?;
    Ok(k)
}

/// Both kernels (NNGP and NTK, `request.kind` ignored): from one computation when one block
/// holds the whole kernel ([`Network::kernels`] computes them together), else one blocked
/// pass ([`run`]) per kernel.
pub fn run_both(
    request: &Request,
    x: &Input,
    x2: Option<&Input>,
    cancel: Cancel,
) -> Result<Kernels> {
    let (rows, cols) = request.prepare(x, x2)?;
    if request.block_rows >= rows {
        check_fits("the kernels", &[rows, cols, 2])?;
        cancel.check(|| "before the kernels".into())?;
        return request.network.kernels(&x.matrix, x2.map(|i| &i.matrix));
    }
    let of = |kind| {
        let one = Request {
            kind,
            ..request.clone()
        };
        run(&one, x, x2, cancel)
    };
    Ok(Kernels {
        nngp: of(Kind::Nngp)?,
        ntk: of(Kind::Ntk)?,
    })
}

/// Writes K(x, x2) to the NPY file `out` block by block (memory bounded by `block_rows`
/// rows), atomically; returns the shape. `cancel` is polled before each block; an
/// interrupted or failed computation leaves no file.
pub fn save(
    request: &Request,
    x: &Input,
    x2: Option<&Input>,
    out: &Path,
    cancel: Cancel,
) -> Result<(usize, usize)> {
    request.prepare(x, x2)?;
    let mut blocks = 0;
    stream_to_npy_with(
        &request.network,
        request.kind,
        &x.matrix,
        x2.map(|i| &i.matrix),
        request.block_rows,
        out,
        || {
            blocks += 1;
            cancel.check(|| format!("after {} kernel blocks", blocks - 1))
        },
    )
}

/// The JSON summary `gradflow kernel --json` prints.
pub fn summary(request: &Request, out: &Path, shape: (usize, usize)) -> serde_json::Value {
    serde_json::json!({"out": out, "shape": [shape.0, shape.1], "kind": request.kind,
        "depth": request.network.depth, "activation": request.network.activation})
}
