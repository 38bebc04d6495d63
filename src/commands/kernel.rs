//! `gradflow kernel`: the infinite-width NTK or NNGP kernel of a fully connected network
//! between two input sets (the layer recursion of [`crate::kernel::analytic`]).

use super::{Cancel, Input, InputView};
use crate::distributed::Communicator;
use crate::error::Result;
use crate::kernel::analytic::{check_stream, KernelStream, Network};
use crate::kernel::{Kernels, Kind};
use crate::linalg::Matrix;
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
    /// [`Network::check_inputs`]) and that a block's kernels fit in memory; returns the
    /// kernel's shape (n, m). Shared by every route that writes the kernel
    /// ([`save`], [`crate::distributed::npy::save`]).
    pub(crate) fn prepare(&self, x: &Input, x2: Option<&Input>) -> Result<(usize, usize)> {
        self.prepare_view(x.view(), x2.map(Input::view))
    }

    /// [`Request::prepare`] of borrowed inputs.
    fn prepare_view(&self, x: InputView, x2: Option<InputView>) -> Result<(usize, usize)> {
        self.validate()?;
        for input in std::iter::once(x).chain(x2) {
            self.network.check_inputs(input.name, input.matrix)?;
        }
        check_stream(
            &self.network,
            x.matrix,
            x2.map(|i| i.matrix),
            self.block_rows,
        )
    }
}

/// K(x, x2) (K(x, x) without `x2`), n × m, in memory: the same blocks, hence the same bits,
/// as [`save`] writes with the same `block_rows` (other block sizes may differ in the last
/// bits). `cancel` is polled before each block of rows.
///
/// When one block holds the whole kernel (`block_rows` ≥ n) it is the single library call
/// [`Network::kernels`] — the same entries as the block, without assembling a copy.
pub fn run(request: &Request, x: &Input, x2: Option<&Input>, cancel: Cancel) -> Result<Matrix> {
    run_view(request, x.view(), x2.map(Input::view), cancel)
}

/// [`run`] on inputs borrowed from their owner (read in place: no copy of them is made).
pub fn run_view(
    request: &Request,
    x: InputView,
    x2: Option<InputView>,
    cancel: Cancel,
) -> Result<Matrix> {
    let kernels = in_blocks(request, false, x, x2, cancel)?;
    Ok(kernels.take(request.kind))
}

/// Both kernels (NNGP and NTK, `request.kind` ignored), computed together in one pass of
/// [`run`]'s blocks (the same bits as [`run`] of either kind).
pub fn run_both(
    request: &Request,
    x: &Input,
    x2: Option<&Input>,
    cancel: Cancel,
) -> Result<Kernels> {
    run_both_view(request, x.view(), x2.map(Input::view), cancel)
}

/// [`run_both`] on inputs borrowed from their owner (no copy of them is made).
pub fn run_both_view(
    request: &Request,
    x: InputView,
    x2: Option<InputView>,
    cancel: Cancel,
) -> Result<Kernels> {
    in_blocks(request, true, x, x2, cancel)
}

/// The kernel `request.kind`, or both kernels when `both`, by [`KernelStream::in_memory`],
/// `cancel` polled before each block of rows.
fn in_blocks(
    request: &Request,
    both: bool,
    x: InputView,
    x2: Option<InputView>,
    cancel: Cancel,
) -> Result<Kernels> {
    let (rows, _) = request.prepare_view(x, x2)?;
    let stream = KernelStream {
        network: &request.network,
        kind: request.kind,
        x1: x.matrix,
        x2: x2.map(|i| i.matrix),
        block_rows: request.block_rows,
    };
    stream.in_memory(both, |row| {
        cancel.check(|| format!("after {row} of {rows} kernel rows"))
    })
}

/// Writes K(x, x2) to the NPY file `out` block by block (memory bounded by `block_rows`
/// rows), atomically, over the ranks of `comm` ([`crate::distributed::Local`]: one process;
/// [`crate::distributed::npy::save`]: the same bytes for any number of ranks); returns the
/// shape. `cancel` is polled before each block of rows; an interrupted or failed computation
/// leaves no file.
pub fn save(
    request: &Request,
    (x, x2): (&Input, Option<&Input>),
    out: &Path,
    comm: &dyn Communicator,
    cancel: Cancel,
) -> Result<(usize, usize)> {
    request.prepare(x, x2)?;
    let inputs = (x.matrix.as_view(), x2.map(|i| i.matrix.as_view()));
    crate::distributed::npy::save(
        comm,
        &request.network,
        request.kind,
        inputs,
        request.block_rows,
        out,
        cancel,
    )
}

/// The JSON summary `gradflow kernel --json` prints.
pub fn summary(request: &Request, out: &Path, shape: (usize, usize)) -> serde_json::Value {
    serde_json::json!({"out": out, "shape": [shape.0, shape.1], "kind": request.kind,
        "depth": request.network.depth, "activation": request.network.activation})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distributed::Local;
    use std::f64::consts::PI;

    fn input(name: &str, rows: usize, cols: usize, f: impl FnMut(usize, usize) -> f64) -> Input {
        Input::new(name, Matrix::from_fn(rows, cols, f)).unwrap()
    }

    /// The two-layer ReLU net (NTK parameterization, σ_w = 1, no bias) in closed form (Cho &
    /// Saul's arc-cosine kernel of degree 1): with q = ⟨x, x'⟩/d, cos θ = q₁₂/√(q₁q₂),
    /// NNGP = √(q₁q₂)/(2π) (sin θ + (π − θ) cos θ), NTK = NNGP + q₁₂ (π − θ)/(2π).
    fn arc_cosine(x: &[f64], y: &[f64]) -> (f64, f64) {
        let d = x.len() as f64;
        let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(u, v)| u * v).sum::<f64>() / d;
        let (q1, q2, q12) = (dot(x, x), dot(y, y), dot(x, y));
        let theta = (q12 / (q1 * q2).sqrt()).clamp(-1.0, 1.0).acos();
        let nngp = (q1 * q2).sqrt() / (2.0 * PI) * (theta.sin() + (PI - theta) * theta.cos());
        (nngp, nngp + q12 * (PI - theta) / (2.0 * PI))
    }

    #[test]
    fn the_two_layer_relu_kernels_are_the_arc_cosine_closed_form() {
        let x = input("x", 2, 3, |r, c| [[1.0, 0.0, 2.0], [0.5, -1.0, 1.0]][r][c]);
        for (kind, pick) in [(Kind::Ntk, 1), (Kind::Nngp, 0)] {
            let request = Request {
                kind,
                ..Request::default()
            };
            let k = run(&request, &x, None, Cancel::NEVER).unwrap();
            for (i, j) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                let (nngp, ntk) = arc_cosine(x.matrix.row(i), x.matrix.row(j));
                let want = [nngp, ntk][pick];
                let got = k.get(i, j);
                assert!(
                    (got - want).abs() < 1e-14 * want.abs(),
                    "{kind:?} ({i}, {j}): {got} vs {want}"
                );
            }
        }
    }

    #[test]
    fn in_memory_and_streamed_kernels_are_the_same_bits_for_any_block_size() {
        let x = input("x", 7, 4, |r, c| ((r * 4 + c) as f64 * 0.37).sin());
        let x2 = input("x2", 5, 4, |r, c| ((r * 4 + c) as f64 * 0.91).cos());
        let dir = std::env::temp_dir().join(format!("gradflow-cmd-kernel-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("k.npy");
        for second in [None, Some(&x2)] {
            let mut first: Option<Matrix> = None;
            for block_rows in [1, 2, 3, 7, 100] {
                let request = Request {
                    block_rows,
                    ..Request::default()
                };
                let k = run(&request, &x, second, Cancel::NEVER).unwrap();
                let shape = save(&request, (&x, second), &path, &Local, Cancel::NEVER).unwrap();
                assert_eq!(shape, (k.rows, k.cols));
                let file = crate::data::io::read_npy_matrix(&path).unwrap();
                assert_eq!(file, k, "block_rows {block_rows}");
                if second.is_none() {
                    assert_eq!(k, k.transpose(), "exactly symmetric");
                }
                // Other block sizes round differently (the tiles' order of operations), by a
                // few units in the last place at most.
                match &first {
                    Some(f) => {
                        for (a, b) in k.data.iter().zip(&f.data) {
                            assert!((a - b).abs() <= 1e-14 * b.abs().max(1.0), "{a} vs {b}");
                        }
                    }
                    None => first = Some(k),
                }
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_cancelled_kernel_stops_between_blocks_and_leaves_no_file() {
        let x = input("x", 6, 2, |r, c| (r + c) as f64);
        let request = Request {
            block_rows: 2,
            ..Request::default()
        };
        let polls = std::sync::atomic::AtomicUsize::new(0);
        let hook = || polls.fetch_add(1, std::sync::atomic::Ordering::Relaxed) >= 2;
        let e = run(&request, &x, None, Cancel::new(&hook)).unwrap_err();
        assert!(matches!(e, crate::Error::Interrupted { .. }), "{e}");
        assert_eq!(e.exit_code(), 130);
        let dir = std::env::temp_dir().join(format!("gradflow-cmd-cancel-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("k.npy");
        polls.store(0, std::sync::atomic::Ordering::Relaxed);
        let e = save(&request, (&x, None), &path, &Local, Cancel::new(&hook)).unwrap_err();
        assert_eq!(e.to_string(), "interrupted after 4 of 6 kernel rows");
        assert!(
            std::fs::read_dir(&dir).unwrap().next().is_none(),
            "no file, no temporary"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn validation_errors_name_the_field_or_the_input() {
        let x = input("x", 3, 2, |r, c| (r * c) as f64);
        let bad = |request: Request, x2: Option<&Input>| {
            run(&request, &x, x2, Cancel::NEVER)
                .unwrap_err()
                .to_string()
        };
        let mut request = Request::default();
        request.network.depth = 0;
        assert!(bad(request, None).starts_with("invalid depth:"));
        let request = Request {
            block_rows: 0,
            ..Request::default()
        };
        assert!(bad(request.clone(), None).starts_with("invalid block_rows:"));
        assert!(request.validate().is_err());
        let mut request = Request::default();
        request.network.w_std = f64::NAN;
        assert!(bad(request, None).starts_with("invalid w_std:"));
        let huge = input("x2 (huge)", 1, 2, |_, _| 1e200);
        let e = bad(Request::default(), Some(&huge));
        assert!(e.contains("x2 (huge)"), "{e}");
        let wide = input("x2", 1, 3, |_, _| 1.0);
        let e = bad(Request::default(), Some(&wide));
        assert!(e.contains("columns"), "{e}");
    }
}
