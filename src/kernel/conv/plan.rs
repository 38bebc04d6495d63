//! A network's layers checked against its inputs' shape and compiled into steps: the spatial
//! windows with their geometry, the Dense updates with their fan-in, the activation maps, the
//! reductions. Errors name the layer as its NET.toml table: `layer[k].field`.

use super::layers::{Affine, ConvNet, Layer, Padding};
use super::spatial::{Axis, Window};
use crate::error::{check_non_negative, check_positive, Error, Result};
use crate::kernel::analytic::{ActivationMap, Dense};
use crate::nn::Parameterization;

/// One step of the layer maps.
pub(super) enum Step {
    /// 𝒜 of a `conv` or the `avg_pool` map, on Σ and Θ.
    Window(Box<Window>),
    /// The Dense update (K, Θ) ↦ (w2·K + b2, ck·K + c1 + w2·Θ) entry by entry.
    Affine(Dense),
    /// An activation.
    Activation(ActivationMap),
    /// The mean over all pairs of positions.
    GlobalAvgPool,
    /// The mean over positions of the same-position covariance.
    Flatten,
}

/// The compiled network.
pub(super) struct Plan {
    pub(super) steps: Vec<Step>,
    /// Whether the full position-by-position covariance is needed (some layer mixes positions).
    pub(super) full: bool,
    /// The input's (height, width) (`None`: vectors) and channels.
    pub(super) input: (Option<(usize, usize)>, usize),
    /// The most positions any step holds.
    pub(super) positions: usize,
    /// The largest band a window's full map works through ([`Window::band`]).
    pub(super) band: usize,
}

fn field(k: usize, name: &str) -> String {
    format!("layer[{k}].{name}")
}

/// The per-axis entries of `values` (`filter_shape`, `window_shape` or `strides`), as
/// (height, width): one entry per spatial axis, each ≥ 1.
fn pair_of(k: usize, name: &str, values: &[usize], rank: usize) -> Result<(usize, usize)> {
    if values.len() != rank {
        return Err(Error::invalid(
            field(k, name),
            format!(
                "expected {rank} entr{} (one per spatial axis of the inputs), got {values:?}",
                if rank == 1 { "y" } else { "ies" }
            ),
        ));
    }
    if values.contains(&0) {
        return Err(Error::invalid(
            field(k, name),
            format!("entries must be ≥ 1, got {values:?}"),
        ));
    }
    Ok(if rank == 1 {
        (1, values[0])
    } else {
        (values[0], values[1])
    })
}

/// The Dense update of an `affine` layer whose fan-in (finite input width, standard
/// parameterization only) is `fan_in`.
fn dense(k: usize, affine: &Affine, fan_in: Option<usize>, from: &str) -> Result<Dense> {
    check_positive(&field(k, "w_std"), affine.w_std)?;
    if let Some(b) = affine.b_std {
        check_non_negative(&field(k, "b_std"), b)?;
    }
    let w2 = affine.w_std * affine.w_std;
    let b2 = affine.b_std.map_or(0.0, |b| b * b);
    let (ck, c1) = match affine.parameterization {
        Parameterization::Ntk => (w2, b2),
        Parameterization::Standard => {
            let fan_in = fan_in.ok_or_else(|| {
                Error::invalid(
                    from.to_string(),
                    format!(
                        "needed: the standard parameterization of layer[{k}] takes its fan-in \
                         from this finite channel count"
                    ),
                )
            })?;
            (
                fan_in as f64,
                if affine.b_std.is_some() { 1.0 } else { 0.0 },
            )
        }
    };
    Ok(Dense {
        w2,
        b2,
        ck,
        c1,
        carry: true,
    })
}

impl Plan {
    /// Compiles `net` for inputs of `spatial` shape (`[]`, `[L]` or `[H, W]`) and `channels`.
    pub(super) fn new(net: &ConvNet, spatial: &[usize], channels: usize) -> Result<Plan> {
        let rank = spatial.len();
        let mut shape = match spatial {
            [] => None,
            [l] => Some((1, *l)),
            [h, w] => Some((*h, *w)),
            _ => {
                return Err(Error::shape(
                    "inputs",
                    format!("expected 0, 1 or 2 spatial axes, got {spatial:?}"),
                ))
            }
        };
        let input = (shape, channels);
        let mut positions = shape.map_or(1, |(h, w)| h * w);
        // The finite channel count of the current features and the field that gave it.
        let mut width = Some(channels);
        let mut width_from = "inputs (channels)".to_string();
        let (mut steps, mut full) = (Vec::new(), false);
        let mut reduced_by: Option<usize> = None;
        for (k, layer) in net.layers.iter().enumerate() {
            match layer {
                Layer::Conv(conv) => {
                    let (h, w) = spatial_only(k, shape, reduced_by)?;
                    let (fh, fw) = pair_of(k, "filter_shape", &conv.filter_shape, rank)?;
                    let ones = vec![1; rank];
                    let strides = conv.strides.as_deref().unwrap_or(&ones);
                    let (sh, sw) = pair_of(k, "strides", strides, rank)?;
                    let window = window(
                        k,
                        "filter_shape",
                        (h, w),
                        (fh, fw),
                        (sh, sw),
                        conv.padding,
                        true,
                        false,
                    )?;
                    shape = Some((window.h.output, window.w.output));
                    steps.push(Step::Window(Box::new(window)));
                    let fan_in = width.map(|c| c * fh * fw);
                    steps.push(Step::Affine(dense(k, &conv.affine, fan_in, &width_from)?));
                    width = conv.affine.out;
                    width_from = field(k, "out_chan");
                }
                Layer::Dense(affine) => {
                    steps.push(Step::Affine(dense(k, affine, width, &width_from)?));
                    width = affine.out;
                    width_from = field(k, "out_dim");
                }
                Layer::Activation(activation) => {
                    let map = ActivationMap::new(*activation, net.quadrature_degree)
                        .map_err(|e| Error::invalid(field(k, "kind"), e.to_string()))?;
                    steps.push(Step::Activation(map));
                }
                Layer::AvgPool(pool) => {
                    let (h, w) = spatial_only(k, shape, reduced_by)?;
                    let (fh, fw) = pair_of(k, "window_shape", &pool.window_shape, rank)?;
                    let ones = vec![1; rank];
                    let strides = pool.strides.as_deref().unwrap_or(&ones);
                    let (sh, sw) = pair_of(k, "strides", strides, rank)?;
                    let norm = pool.normalize_edges;
                    let window = window(
                        k,
                        "window_shape",
                        (h, w),
                        (fh, fw),
                        (sh, sw),
                        pool.padding,
                        false,
                        norm,
                    )?;
                    shape = Some((window.h.output, window.w.output));
                    steps.push(Step::Window(Box::new(window)));
                    full = true;
                }
                Layer::GlobalAvgPool => {
                    spatial_only(k, shape, reduced_by)?;
                    shape = None;
                    reduced_by = Some(k);
                    full = true;
                    steps.push(Step::GlobalAvgPool);
                }
                Layer::Flatten => {
                    if let Some((h, w)) = shape {
                        width = width.map(|c| c * h * w);
                        width_from = format!("{width_from} (flattened by layer[{k}])");
                        shape = None;
                        reduced_by = Some(k);
                        steps.push(Step::Flatten);
                    }
                }
            }
            positions = positions.max(shape.map_or(1, |(h, w)| h * w));
        }
        if shape.is_some() {
            return Err(Error::invalid(
                "layer",
                "the network must reduce the spatial axes: end them with a `flatten` or a \
                 `global_avg_pool` layer",
            ));
        }
        if net.quadrature_degree == 0
            || net.quadrature_degree > crate::kernel::analytic::MAX_QUADRATURE_DEGREE
        {
            return Err(Error::invalid(
                "quadrature_degree",
                format!(
                    "expected 1 to {} points per axis, got {}",
                    crate::kernel::analytic::MAX_QUADRATURE_DEGREE,
                    net.quadrature_degree
                ),
            ));
        }
        let band = steps
            .iter()
            .map(|step| match step {
                Step::Window(w) => w.band(),
                _ => 0,
            })
            .max()
            .unwrap_or(0);
        Ok(Plan {
            steps,
            full,
            input,
            positions,
            band,
        })
    }
}

/// The (height, width) of the features before layer `k`, which needs spatial axes.
fn spatial_only(
    k: usize,
    shape: Option<(usize, usize)>,
    reduced_by: Option<usize>,
) -> Result<(usize, usize)> {
    shape.ok_or_else(|| {
        Error::invalid(
            field(k, "kind"),
            match reduced_by {
                Some(j) => format!("needs spatial axes, but layer[{j}] reduced them"),
                None => "needs spatial axes, but the inputs are vectors (n, d)".to_string(),
            },
        )
    })
}

/// The window of layer `k` over an (h, w) input; errors name `layer[k].{name}`.
#[allow(clippy::too_many_arguments)]
fn window(
    k: usize,
    name: &str,
    (h, w): (usize, usize),
    (fh, fw): (usize, usize),
    (sh, sw): (usize, usize),
    padding: Padding,
    shared: bool,
    normalize_edges: bool,
) -> Result<Window> {
    let axis = |n, f, s| {
        Axis::new(n, f, s, padding, shared, normalize_edges).ok_or_else(|| {
            Error::invalid(
                field(k, name),
                format!("a window of {f} does not fit in {n} positions with VALID padding"),
            )
        })
    };
    Ok(Window::new(axis(h, fh, sh)?, axis(w, fw, sw)?))
}
