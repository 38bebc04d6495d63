//! A finite-width convolutional network with the layers of a NET.toml file
//! ([`crate::kernel::conv`]: `conv` 1-D/2-D with strides and `VALID` | `SAME` | `CIRCULAR`
//! padding, every activation, `avg_pool`, `global_avg_pool`, `flatten`, `dense`), in
//! neural-tangents' `stax` conventions, so that its infinite-width limit is exactly the
//! CNN-GP / CNTK that [`crate::kernel::conv::ConvNet::kernels`] computes for the same layers
//! ([`ConvModel::net`]).
//!
//! **Inputs.** One row per input, NHWC (or NLC) in C order: an (n, H, W, C) NPY array read
//! row by row is n × (H·W·C); the model is told the shape of one input (`[H, W, C]`,
//! `[L, C]`, or `[d]` for vectors).
//!
//! **Layers** (z: the features at every position, C_in channels; fan_in = |f|·C_in for a
//! filter of |f| offsets, C_in for `dense`, P·C after `flatten`):
//! * `conv`: h_p = s_w Σ_{δ, c} W\[o, δ, c\] z_{tap(p, δ), c} + s_b b_o, taps in the zero
//!   padding contributing 0 (XLA's geometry, [`geometry`]); NTK parameterization
//!   s_w = σ_w/√fan_in, s_b = σ_b, W, b ~ N(0, 1); standard s_w = s_b = 1,
//!   W ~ N(0, σ_w²/fan_in), b ~ N(0, σ_b²) (no bias without `b_std`);
//! * `dense`: the same with one offset (per position before the spatial axes are reduced);
//! * activations entry by entry; `avg_pool` z′_p = (1/|w|) Σ_δ z_{tap(p, δ)} (with
//!   `normalize_edges` and `SAME`, one over the taps inside the input);
//! * `global_avg_pool` z′ = (1/P) Σ_p z_p; `flatten` the P·C values in (position, channel)
//!   order.
//!
//! The channel counts are the `out_chan` / `out_dim` of the layers; a layer without one takes
//! the model's default width, and the last affine layer without one the number of outputs.
//! Gradients by backpropagation ([`ops`]); the parameter blocks are `W{k}` (C_out × |f|·C_in,
//! offsets row-major over the window, then channels) and `b{k}` for layer k.

mod geometry;
mod ops;

use crate::error::{Error, Result};
use crate::kernel::conv::{ConvNet, Layer};
use crate::linalg::Matrix;
use crate::nn::model::{Backward, Cache, Model, ParamBlock};
use crate::nn::Parameterization;
use crate::rng::Rng;
use geometry::Window;
use ops::{Affine, Op, Stage};

/// A finite-width conv net (module docs).
#[derive(Clone, Debug)]
pub struct ConvModel {
    /// The layers, every `out_chan` / `out_dim` filled in: the network whose infinite-width
    /// kernels ([`ConvNet::kernels`]) are this model's limit.
    net: ConvNet,
    /// The shape of one input: spatial axes, then channels.
    input_shape: Vec<usize>,
    stages: Vec<Stage>,
    params: usize,
}

fn field(k: usize, name: &str) -> String {
    format!("layer[{k}].{name}")
}

impl ConvModel {
    /// The model of `net` for inputs of `input_shape` (`[H, W, C]`, `[L, C]` or `[d]`) and
    /// `outputs` targets; layers without a channel count take `width` (the last affine layer:
    /// `outputs`). Errors name `layer[k].field` (or `input_shape`, `width`).
    pub fn new(
        net: &ConvNet,
        input_shape: &[usize],
        width: Option<usize>,
        outputs: usize,
    ) -> Result<ConvModel> {
        if input_shape.is_empty() || input_shape.len() > 3 || input_shape.contains(&0) {
            return Err(Error::invalid(
                "input_shape",
                format!("expected [H, W, C], [L, C] or [d], all ≥ 1; got {input_shape:?}"),
            ));
        }
        let mut net = net.clone();
        let last_affine = net
            .layers
            .iter()
            .rposition(|l| matches!(l, Layer::Conv(_) | Layer::Dense(_)));
        for (k, layer) in net.layers.iter_mut().enumerate() {
            let (out, name, dense) = match layer {
                Layer::Conv(c) => (&mut c.affine.out, "out_chan", false),
                Layer::Dense(a) => (&mut a.out, "out_dim", true),
                _ => continue,
            };
            if out.is_none() {
                *out = if Some(k) == last_affine && dense {
                    Some(outputs)
                } else {
                    Some(width.ok_or_else(|| {
                        Error::invalid(
                            field(k, name),
                            "needed: the finite network's channel count (or give the model a \
                             default width)",
                        )
                    })?)
                };
            }
        }
        let (spatial, channels) = input_shape.split_at(input_shape.len() - 1);
        let channels = channels[0];
        net.validate(spatial, channels)?;
        let mut shape = match spatial {
            [] => None,
            [l] => Some((1, *l)),
            [h, w] => Some((*h, *w)),
            _ => unreachable!("checked above"),
        };
        let rank = spatial.len();
        let pair = |v: &[usize]| if rank == 1 { (1, v[0]) } else { (v[0], v[1]) };
        let mut features = (shape.map_or(1, |(h, w)| h * w), channels);
        let (mut stages, mut params) = (Vec::new(), 0usize);
        for (k, layer) in net.layers.iter().enumerate() {
            let input = features;
            let op = match layer {
                Layer::Conv(c) => {
                    let ones = vec![1; rank];
                    let strides = c.strides.as_deref().unwrap_or(&ones);
                    let (h, w) = shape.unwrap_or((1, 1));
                    let window =
                        Window::new((h, w), pair(&c.filter_shape), pair(strides), c.padding)
                            .ok_or_else(|| {
                                Error::invalid(field(k, "filter_shape"), "does not fit")
                            })?;
                    shape = Some(window.shape);
                    let cout = c.affine.out.unwrap_or(1);
                    features = (window.outputs, cout);
                    affine(&c.affine, Some(window), input.1, cout, &mut params, k)?
                }
                Layer::Dense(a) => {
                    let cout = a.out.unwrap_or(1);
                    features = (input.0, cout);
                    affine(a, None, input.1, cout, &mut params, k)?
                }
                Layer::Activation(act) => Op::Activation(*act),
                Layer::AvgPool(pool) => {
                    let ones = vec![1; rank];
                    let strides = pool.strides.as_deref().unwrap_or(&ones);
                    let (h, w) = shape.unwrap_or((1, 1));
                    let window = Window::new(
                        (h, w),
                        pair(&pool.window_shape),
                        pair(strides),
                        pool.padding,
                    )
                    .ok_or_else(|| Error::invalid(field(k, "window_shape"), "does not fit"))?;
                    let edges =
                        pool.normalize_edges && pool.padding == crate::kernel::conv::Padding::Same;
                    let weights = (0..window.outputs)
                        .map(|p| {
                            let inside = window.of(p).iter().flatten().count();
                            1.0 / if edges { inside } else { window.size } as f64
                        })
                        .collect();
                    shape = Some(window.shape);
                    features = (window.outputs, input.1);
                    Op::AvgPool { window, weights }
                }
                Layer::GlobalAvgPool => {
                    shape = None;
                    features = (1, input.1);
                    Op::GlobalAvgPool
                }
                Layer::Flatten => {
                    shape = None;
                    let width = input.0.checked_mul(input.1).ok_or_else(|| {
                        Error::invalid(field(k, "kind"), "too many features to flatten")
                    })?;
                    features = (1, width);
                    Op::Flatten
                }
            };
            stages.push(Stage {
                layer: k,
                op,
                input,
                output: features,
            });
        }
        if features != (1, outputs) {
            return Err(Error::invalid(
                match last_affine {
                    Some(k) => field(k, "out_dim"),
                    None => "layer".to_string(),
                },
                format!(
                    "the network ends with {} values per input, the targets have {outputs} \
                     columns",
                    features.0 * features.1
                ),
            ));
        }
        Ok(ConvModel {
            net,
            input_shape: input_shape.to_vec(),
            stages,
            params,
        })
    }

    /// The layers with every channel count filled in: [`ConvNet::kernels`] of it is the
    /// infinite-width NNGP and NTK of this model (the NTK with the standard parameterization:
    /// at these finite fan-ins).
    pub fn net(&self) -> &ConvNet {
        &self.net
    }

    /// The shape of one input (spatial axes, then channels).
    pub fn input_shape(&self) -> &[usize] {
        &self.input_shape
    }

    /// The rows of `x` as images of this model's input shape, for [`ConvNet::kernels`].
    pub fn images(&self, what: &str, x: &Matrix) -> Result<crate::kernel::conv::Images> {
        let mut shape = vec![x.rows];
        shape.extend(&self.input_shape);
        crate::kernel::conv::Images::new(what, &shape, x.data.clone())
    }
}

/// The stage of an affine layer (`conv` with its window, or `dense`), its parameters placed
/// at `*params` (advanced past them).
fn affine(
    a: &crate::kernel::conv::Affine,
    window: Option<Window>,
    cin: usize,
    cout: usize,
    params: &mut usize,
    k: usize,
) -> Result<Op> {
    crate::error::check_positive(&field(k, "w_std"), a.w_std)?;
    let fan_in = window.as_ref().map_or(1, |w| w.size) * cin;
    let (sigma_w, sigma_b) = (a.w_std, a.b_std.unwrap_or(0.0));
    crate::error::check_non_negative(&field(k, "b_std"), sigma_b)?;
    let root = (fan_in as f64).sqrt();
    let (w_scale, b_scale, w_init, b_init) = match a.parameterization {
        Parameterization::Ntk => (sigma_w / root, sigma_b, 1.0, 1.0),
        Parameterization::Standard => (1.0, 1.0, sigma_w / root, sigma_b),
    };
    let too_many = || Error::invalid(field(k, "out_chan"), "more parameters than memory holds");
    let w_offset = *params;
    let weights = cout.checked_mul(fan_in).ok_or_else(too_many)?;
    *params = params.checked_add(weights).ok_or_else(too_many)?;
    let b_offset = a.b_std.map(|_| *params);
    if b_offset.is_some() {
        *params = params.checked_add(cout).ok_or_else(too_many)?;
    }
    Ok(Op::Affine(Affine {
        window,
        cin,
        cout,
        w_scale,
        b_scale,
        w_init,
        b_init,
        w_offset,
        b_offset,
    }))
}

impl Model for ConvModel {
    fn describe(&self) -> String {
        let layers: Vec<String> = self
            .net
            .layers
            .iter()
            .map(|l| match l {
                Layer::Conv(c) => format!(
                    "conv({:?}, {:?}, {})",
                    c.filter_shape,
                    c.padding,
                    c.affine.out.unwrap_or(1)
                ),
                Layer::Dense(a) => format!("dense({})", a.out.unwrap_or(1)),
                Layer::Activation(a) => a.name(),
                Layer::AvgPool(p) => format!("avg_pool({:?})", p.window_shape),
                Layer::GlobalAvgPool => "global_avg_pool".into(),
                Layer::Flatten => "flatten".into(),
            })
            .collect();
        format!("conv(input {:?}: {})", self.input_shape, layers.join(", "))
    }

    fn input_dim(&self) -> usize {
        self.input_shape.iter().product()
    }

    fn output_dim(&self) -> usize {
        self.stages.last().map_or(1, |s| s.output.1)
    }

    fn layout(&self) -> Vec<ParamBlock> {
        let mut blocks = Vec::new();
        for stage in &self.stages {
            if let Op::Affine(a) = &stage.op {
                let k = stage.layer;
                let shape = vec![a.cout, a.fan_in()];
                blocks.push(ParamBlock::new(format!("W{k}"), a.w_offset, shape, true));
                if let Some(b) = a.b_offset {
                    blocks.push(ParamBlock::new(format!("b{k}"), b, vec![a.cout], true));
                }
            }
        }
        blocks
    }

    fn num_params(&self) -> usize {
        self.params
    }

    fn init(&self, rng: &mut Rng) -> Vec<f64> {
        let mut params = vec![0.0; self.params];
        for stage in &self.stages {
            if let Op::Affine(a) = &stage.op {
                let w = a.w_offset..a.w_offset + a.cout * a.fan_in();
                rng.fill_normal(&mut params[w], a.w_init);
                if let Some(b) = a.b_offset {
                    rng.fill_normal(&mut params[b..b + a.cout], a.b_init);
                }
            }
        }
        params
    }

    /// Cache: [the input of every stage after the first, the final output, the patches of
    /// every conv stage, two back-propagation buffers].
    fn forward(&self, params: &[f64], x: &Matrix, cache: &mut Cache, out: &mut Matrix) {
        let (n, l) = (x.rows, self.stages.len());
        cache.ensure(2 * l + 2);
        let (features, rest) = cache.mats.split_at_mut(l);
        for (k, stage) in self.stages.iter().enumerate() {
            let (before, after) = features.split_at_mut(k);
            let src: &[f64] = if k == 0 { &x.data } else { &before[k - 1].data };
            stage.forward(params, src, n, &mut rest[k].data, &mut after[0].data);
        }
        out.resize(n, self.output_dim());
        match features.last() {
            Some(last) => out.data.copy_from_slice(&last.data),
            None => out.data.copy_from_slice(&x.data),
        }
    }

    fn backward_pass(&self, pass: Backward<'_>, grad: &mut [f64]) {
        let (params, x, cache, d_out) = (pass.params, pass.x, pass.cache, pass.d_out);
        let (n, l) = (x.rows, self.stages.len());
        cache.ensure(2 * l + 2);
        let (features, rest) = cache.mats.split_at_mut(l);
        let (patches, buffers) = rest.split_at_mut(l);
        let [delta, next] = &mut buffers[..2] else {
            unreachable!("two buffers ensured")
        };
        delta.data.clear();
        delta.data.extend_from_slice(&d_out.data);
        for (k, stage) in self.stages.iter().enumerate().rev() {
            let src: &[f64] = if k == 0 {
                &x.data
            } else {
                &features[k - 1].data
            };
            stage.backward(
                params,
                src,
                n,
                &patches[k].data,
                &delta.data,
                k > 0,
                grad,
                &mut next.data,
            );
            std::mem::swap(&mut delta.data, &mut next.data);
        }
    }
}
