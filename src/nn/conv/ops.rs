//! The compiled stages of a finite conv net and their forward and backward passes on a batch.
//!
//! Features are row-major (n·P) × C matrices: row i·P + p holds input i's channels at
//! position p (NHWC in C order, so the input batch n × (P·C) is already this layout, and
//! `flatten` is the identity on memory). Every loop either writes disjoint rows per input
//! (parallel over inputs) or runs in a fixed order, and the products go through
//! [`gemm_slice`] (which never splits the inner dimension): results do not depend on the
//! thread count.

use super::geometry::Window;
use crate::linalg::{gemm_slice, view, Threads};
use crate::nn::Activation;
use rayon::prelude::*;

/// A `conv` (with its window) or a `dense` (1 × 1, no window) layer:
/// h = s_w · A Wᵀ + s_b · b, A the input's patches (positions × |f|·C_in), W C_out × |f|·C_in.
#[derive(Clone, Debug)]
pub(super) struct Affine {
    /// The filter's taps (`None`: a dense layer acting on every row).
    pub(super) window: Option<Window>,
    /// Input channels.
    pub(super) cin: usize,
    /// Output channels.
    pub(super) cout: usize,
    /// The forward scale of W: σ_w/√fan_in (NTK parameterization) or 1 (standard).
    pub(super) w_scale: f64,
    /// The forward scale of b: σ_b (NTK) or 1 (standard).
    pub(super) b_scale: f64,
    /// The initial standard deviation of W's entries: 1 (NTK) or σ_w/√fan_in (standard).
    pub(super) w_init: f64,
    /// The initial standard deviation of b's entries: 1 (NTK) or σ_b (standard).
    pub(super) b_init: f64,
    /// Offset of W (C_out × fan_in, row-major) in the parameter vector.
    pub(super) w_offset: usize,
    /// Offset of b (C_out), `None` without a bias.
    pub(super) b_offset: Option<usize>,
}

impl Affine {
    /// fan_in = |f| · C_in.
    pub(super) fn fan_in(&self) -> usize {
        self.window.as_ref().map_or(1, |w| w.size) * self.cin
    }
}

/// One stage of the compiled network.
#[derive(Clone, Debug)]
pub(super) enum Op {
    /// `conv` or `dense`.
    Affine(Affine),
    /// An elementwise nonlinearity.
    Activation(Activation),
    /// `avg_pool`: z′_p = Σ_δ w_p z_{tap(p, δ)} (w_p = 1/|w|, or one over the taps inside the
    /// input with `normalize_edges`).
    AvgPool {
        /// The window's taps.
        window: Window,
        /// w_p per output position.
        weights: Vec<f64>,
    },
    /// z′ = (1/P) Σ_p z_p.
    GlobalAvgPool,
    /// (n·P) × C ↦ n × (P·C): the same memory.
    Flatten,
}

/// A stage with the shapes of its input and output (positions per input, channels).
#[derive(Clone, Debug)]
pub(super) struct Stage {
    /// The layer's index in the network (`layer[k]`).
    pub(super) layer: usize,
    /// What it does.
    pub(super) op: Op,
    /// (positions, channels) of its input.
    pub(super) input: (usize, usize),
    /// (positions, channels) of its output.
    pub(super) output: (usize, usize),
}

impl Stage {
    /// The stage on a batch of `n` inputs `src` ((n·P) × C): writes `dst`; a conv keeps its
    /// patches in `patches`.
    pub(super) fn forward(
        &self,
        params: &[f64],
        src: &[f64],
        n: usize,
        patches: &mut Vec<f64>,
        dst: &mut Vec<f64>,
    ) {
        let (p_in, c_in) = self.input;
        let (p_out, c_out) = self.output;
        dst.resize(n * p_out * c_out, 0.0);
        match &self.op {
            Op::Affine(a) => {
                let k = a.fan_in();
                let rows = n * p_out;
                let input: &[f64] = match &a.window {
                    Some(window) => {
                        im2col(window, src, n, p_in, c_in, patches);
                        patches
                    }
                    None => src,
                };
                let w = &params[a.w_offset..a.w_offset + a.cout * k];
                gemm_slice(
                    dst,
                    0.0,
                    view(input, rows, k),
                    view(w, a.cout, k).transpose(),
                    a.w_scale,
                    Threads::Pool,
                );
                if let Some(b) = a.b_offset {
                    let b = &params[b..b + a.cout];
                    dst.par_chunks_mut(a.cout).for_each(|row| {
                        for (h, bias) in row.iter_mut().zip(b) {
                            *h = a.b_scale.mul_add(*bias, *h);
                        }
                    });
                }
            }
            Op::Activation(act) => act.apply(src, dst),
            Op::AvgPool { window, weights } => {
                dst.par_chunks_mut(p_out * c_out)
                    .zip(src.par_chunks(p_in * c_in))
                    .for_each(|(out, image)| {
                        out.fill(0.0);
                        for (p, row) in out.chunks_mut(c_out).enumerate() {
                            for q in window.of(p).iter().flatten() {
                                let from = &image[q * c_in..(q + 1) * c_in];
                                for (o, v) in row.iter_mut().zip(from) {
                                    *o = weights[p].mul_add(*v, *o);
                                }
                            }
                        }
                    });
            }
            Op::GlobalAvgPool => {
                let scale = 1.0 / p_in as f64;
                dst.par_chunks_mut(c_out)
                    .zip(src.par_chunks(p_in * c_in))
                    .for_each(|(out, image)| {
                        out.fill(0.0);
                        for row in image.chunks(c_in) {
                            out.iter_mut().zip(row).for_each(|(o, v)| *o += v);
                        }
                        out.iter_mut().for_each(|o| *o *= scale);
                    });
            }
            Op::Flatten => dst.copy_from_slice(src),
        }
    }

    /// The backward pass after [`Stage::forward`] on the same `src`: given `delta` = ∂/∂(the
    /// stage's output), writes the stage's parameter gradients into `grad` and, when
    /// `propagate`, ∂/∂(its input) into `next`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn backward(
        &self,
        params: &[f64],
        src: &[f64],
        n: usize,
        patches: &[f64],
        delta: &[f64],
        propagate: bool,
        grad: &mut [f64],
        next: &mut Vec<f64>,
    ) {
        let (p_in, c_in) = self.input;
        let (p_out, c_out) = self.output;
        if propagate {
            next.resize(n * p_in * c_in, 0.0);
        }
        match &self.op {
            Op::Affine(a) => {
                let k = a.fan_in();
                let rows = n * p_out;
                let input = if a.window.is_some() { patches } else { src };
                // ∂/∂W = s_w δᵀ A, ∂/∂b = s_b Σ_rows δ.
                gemm_slice(
                    &mut grad[a.w_offset..a.w_offset + a.cout * k],
                    0.0,
                    view(delta, rows, a.cout).transpose(),
                    view(input, rows, k),
                    a.w_scale,
                    Threads::Pool,
                );
                if let Some(b) = a.b_offset {
                    let g = &mut grad[b..b + a.cout];
                    g.fill(0.0);
                    for row in delta.chunks(a.cout) {
                        g.iter_mut().zip(row).for_each(|(g, d)| *g += d);
                    }
                    g.iter_mut().for_each(|g| *g *= a.b_scale);
                }
                if !propagate {
                    return;
                }
                // ∂/∂A = s_w δ W, then scattered back onto the input positions.
                let w = &params[a.w_offset..a.w_offset + a.cout * k];
                let product = |out: &mut [f64]| {
                    gemm_slice(
                        out,
                        0.0,
                        view(delta, rows, a.cout),
                        view(w, a.cout, k),
                        a.w_scale,
                        Threads::Pool,
                    )
                };
                match &a.window {
                    None => product(next),
                    Some(window) => {
                        let mut d_patches = vec![0.0; rows * k];
                        product(&mut d_patches);
                        col2im(window, &d_patches, p_in, c_in, next);
                    }
                }
            }
            Op::Activation(act) => {
                if propagate {
                    let act = *act;
                    next.par_iter_mut()
                        .zip(delta.par_iter().zip(src.par_iter()))
                        .with_min_len(1 << 12)
                        .for_each(|(o, (d, u))| *o = d * act.derivative(*u));
                }
            }
            Op::AvgPool { window, weights } => {
                if propagate {
                    next.par_chunks_mut(p_in * c_in)
                        .zip(delta.par_chunks(p_out * c_out))
                        .for_each(|(out, image)| {
                            out.fill(0.0);
                            for (p, row) in image.chunks(c_out).enumerate() {
                                for q in window.of(p).iter().flatten() {
                                    let to = &mut out[q * c_in..(q + 1) * c_in];
                                    for (o, v) in to.iter_mut().zip(row) {
                                        *o = weights[p].mul_add(*v, *o);
                                    }
                                }
                            }
                        });
                }
            }
            Op::GlobalAvgPool => {
                if propagate {
                    let scale = 1.0 / p_in as f64;
                    next.par_chunks_mut(p_in * c_in)
                        .zip(delta.par_chunks(c_out))
                        .for_each(|(out, d)| {
                            for row in out.chunks_mut(c_in) {
                                row.iter_mut().zip(d).for_each(|(o, v)| *o = v * scale);
                            }
                        });
                }
            }
            Op::Flatten => {
                if propagate {
                    next.copy_from_slice(delta);
                }
            }
        }
    }
}

/// The patches of a batch: row i·P′ + p holds, offset by offset, the C_in channels of input
/// i at the window's taps of output position p (zeros in the padding).
fn im2col(
    window: &Window,
    src: &[f64],
    n: usize,
    p_in: usize,
    c_in: usize,
    patches: &mut Vec<f64>,
) {
    let k = window.size * c_in;
    patches.resize(n * window.outputs * k, 0.0);
    patches
        .par_chunks_mut(window.outputs * k)
        .zip(src.par_chunks(p_in * c_in))
        .for_each(|(out, image)| {
            for (p, row) in out.chunks_mut(k).enumerate() {
                for (slot, tap) in row.chunks_mut(c_in).zip(window.of(p)) {
                    match tap {
                        Some(q) => slot.copy_from_slice(&image[q * c_in..(q + 1) * c_in]),
                        None => slot.fill(0.0),
                    }
                }
            }
        });
}

/// The adjoint of [`im2col`]: each patch entry added back onto its input position.
fn col2im(window: &Window, d_patches: &[f64], p_in: usize, c_in: usize, next: &mut [f64]) {
    let k = window.size * c_in;
    next.par_chunks_mut(p_in * c_in)
        .zip(d_patches.par_chunks(window.outputs * k))
        .for_each(|(out, image)| {
            out.fill(0.0);
            for (p, row) in image.chunks(k).enumerate() {
                for (slot, tap) in row.chunks(c_in).zip(window.of(p)) {
                    if let Some(q) = tap {
                        let to = &mut out[q * c_in..(q + 1) * c_in];
                        to.iter_mut().zip(slot).for_each(|(o, v)| *o += v);
                    }
                }
            }
        });
}
