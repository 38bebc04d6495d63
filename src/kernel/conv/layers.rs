//! The layers of a convolutional network's kernel (neural-tangents' `stax` names and
//! arguments), its inputs as images, and the public entry point.

use super::pair::Pipeline;
use crate::error::{Error, Result};
use crate::kernel::analytic::Kernels;
use crate::linalg::Matrix;
use crate::nn::{Activation, Parameterization};
use rayon::prelude::*;

/// Padding of `conv` and `avg_pool` (module docs: XLA's geometry).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Padding {
    /// No padding: the output shrinks by f − 1 (before striding).
    #[serde(rename = "VALID", alias = "valid")]
    Valid,
    /// Zero padding to ⌈n/s⌉ outputs.
    #[serde(rename = "SAME", alias = "same")]
    Same,
    /// `SAME`'s geometry on the input wrapped around (a torus).
    #[serde(rename = "CIRCULAR", alias = "circular")]
    Circular,
}

/// The weights of a `conv` or `dense` layer.
#[derive(Clone, Debug, PartialEq)]
pub struct Affine {
    /// σ_w.
    pub w_std: f64,
    /// σ_b (`None`: no bias).
    pub b_std: Option<f64>,
    /// Weight convention.
    pub parameterization: Parameterization,
    /// The finite output channel count (`out_chan` of `conv`, `out_dim` of `dense`): needed
    /// only as the next layer's fan-in in the standard parameterization.
    pub out: Option<usize>,
}

impl Default for Affine {
    /// σ_w = 1, no bias, NTK parameterization (neural-tangents' defaults).
    fn default() -> Affine {
        Affine {
            w_std: 1.0,
            b_std: None,
            parameterization: Parameterization::Ntk,
            out: None,
        }
    }
}

/// A `conv` layer (`stax.Conv`).
#[derive(Clone, Debug, PartialEq)]
pub struct Conv {
    /// The filter's extent per spatial axis (one entry for 1-D inputs, two for images).
    pub filter_shape: Vec<usize>,
    /// Strides per spatial axis (`None`: 1).
    pub strides: Option<Vec<usize>>,
    /// Padding (neural-tangents' default `VALID`).
    pub padding: Padding,
    /// The weights.
    pub affine: Affine,
}

/// An `avg_pool` layer (`stax.AvgPool`).
#[derive(Clone, Debug, PartialEq)]
pub struct Pool {
    /// The window's extent per spatial axis.
    pub window_shape: Vec<usize>,
    /// Strides per spatial axis (`None`: 1, neural-tangents' default).
    pub strides: Option<Vec<usize>>,
    /// Padding (default `VALID`).
    pub padding: Padding,
    /// With `SAME`: divide by the window's positions inside the input, not by the window size.
    pub normalize_edges: bool,
}

/// One layer.
#[derive(Clone, Debug, PartialEq)]
pub enum Layer {
    /// `stax.Conv`.
    Conv(Conv),
    /// `stax.Dense` (on the channels of every position before the spatial axes are reduced).
    Dense(Affine),
    /// An elementwise nonlinearity (every activation of the dense kernels).
    Activation(Activation),
    /// `stax.AvgPool`.
    AvgPool(Pool),
    /// `stax.GlobalAvgPool`.
    GlobalAvgPool,
    /// `stax.Flatten`.
    Flatten,
}

/// A network: its layers in order, and the Gauss–Hermite degree of activations without a
/// closed form.
#[derive(Clone, Debug, PartialEq)]
pub struct ConvNet {
    /// The layers (errors name them `layer[k]`, counted from 0, as the `[[layer]]` tables of a
    /// NET.toml file).
    pub layers: Vec<Layer>,
    /// Points per axis of the Gauss–Hermite rule (1 to 1000).
    pub quadrature_degree: usize,
}

/// Input points with 0, 1 or 2 spatial axes, channels last, in C order.
#[derive(Clone, Debug, PartialEq)]
pub struct Images {
    /// Number of inputs.
    pub n: usize,
    /// The spatial shape: `[]` (vectors), `[L]` or `[H, W]`.
    pub spatial: Vec<usize>,
    /// Channels (the feature dimension d of vectors).
    pub channels: usize,
    /// n × ∏ spatial × channels values.
    pub data: Vec<f64>,
}

impl Images {
    /// An array of shape `shape` = (n, d), (n, L, C) or (n, H, W, C); Err naming `what`
    /// otherwise, or on a NaN or ±∞ entry.
    pub fn new(what: &str, shape: &[usize], data: Vec<f64>) -> Result<Images> {
        if !(2..=4).contains(&shape.len()) {
            return Err(Error::shape(
                what,
                format!("expected (n, d), (n, L, C) or (n, H, W, C) inputs, got shape {shape:?}"),
            ));
        }
        if shape.iter().product::<usize>() != data.len() {
            return Err(Error::shape(
                what,
                format!("shape {shape:?} but {} values", data.len()),
            ));
        }
        let channels = shape[shape.len() - 1];
        if shape[1..].contains(&0) {
            return Err(Error::shape(
                what,
                format!("shape {shape:?} has an empty axis"),
            ));
        }
        crate::error::check_finite(what, &data, channels)?;
        Ok(Images {
            n: shape[0],
            spatial: shape[1..shape.len() - 1].to_vec(),
            channels,
            data,
        })
    }

    /// The rows of `m` as vectors (no spatial axes).
    pub fn from_matrix(m: &Matrix) -> Images {
        Images {
            n: m.rows,
            spatial: Vec::new(),
            channels: m.cols,
            data: m.data.clone(),
        }
    }

    /// Values per input.
    pub fn size(&self) -> usize {
        self.spatial.iter().product::<usize>() * self.channels
    }

    /// Err (naming `x2`) unless `x2`'s inputs have the shape of these.
    pub fn check_matches(&self, x2: &Images) -> Result<()> {
        if (&x2.spatial, x2.channels) != (&self.spatial, self.channels) {
            return Err(Error::shape(
                "x2",
                format!(
                    "inputs of spatial shape {:?} × {} channels, but x has {:?} × {}",
                    x2.spatial, x2.channels, self.spatial, self.channels
                ),
            ));
        }
        Ok(())
    }

    /// An empty set of inputs of the same shape.
    fn clone_shape(&self) -> Images {
        Images {
            n: 0,
            spatial: self.spatial.clone(),
            channels: self.channels,
            data: Vec::new(),
        }
    }

    /// Input i, positions × channels.
    pub(super) fn image(&self, i: usize) -> &[f64] {
        let s = self.size();
        &self.data[i * s..(i + 1) * s]
    }
}

impl ConvNet {
    /// A network of `layers` with 48 quadrature points.
    pub fn new(layers: Vec<Layer>) -> ConvNet {
        ConvNet {
            layers,
            quadrature_degree: 48,
        }
    }

    /// NNGP and NTK between the inputs `x1` and `x2` (`None`: x2 = x1, the kernels exactly
    /// symmetric, their diagonal from each input with itself). Errors name the layer
    /// (`layer[k].field`) or the input. Parallel over pairs of inputs; each entry is the
    /// same sequence of operations whatever the thread count.
    pub fn kernels(&self, x1: &Images, x2: Option<&Images>) -> Result<Kernels> {
        self.compute(x1, x2, x1.n)
    }

    /// The upper part of a row block of K(x, x): the kernels between the first `rows` inputs
    /// of `x` and all of `x` (a `rows` × n matrix), its leading square computed on the upper
    /// triangle and mirrored, every entry as [`ConvNet::kernels`] with x2 omitted computes it
    /// (pair (i, j), i < j, from xᵢ and xⱼ in that order; the diagonal from xᵢ with itself).
    pub fn kernels_upper_block(&self, x: &Images, rows: usize) -> Result<Kernels> {
        if rows > x.n {
            return Err(Error::shape(
                "kernels_upper_block",
                format!("{rows} block rows, but x has {}", x.n),
            ));
        }
        self.compute(x, None, rows)
    }

    /// Rows 0..`rows` of K(x1, x2) (all of them with `x2`; of K(x1, x1) without).
    fn compute(&self, x1: &Images, x2: Option<&Images>, rows: usize) -> Result<Kernels> {
        if let Some(x2) = x2 {
            x1.check_matches(x2)?;
        }
        let pipeline = Pipeline::new(self, &x1.spatial, x1.channels)?;
        let n1 = x1.n;
        let n2 = x2.map_or(n1, |x| x.n);
        crate::linalg::check_fits("kernel size (NNGP and NTK)", &[2, rows, n2])?;
        // Each input with itself: its variances at every activation, and the diagonal.
        let own = |x: &Images| -> Result<Vec<_>> {
            (0..x.n)
                .into_par_iter()
                .map(|i| pipeline.self_pair(x.image(i)))
                .collect()
        };
        let own1 = own(x1)?;
        let own2 = x2.map(own).transpose()?;
        let pairs: Vec<(usize, usize)> = match x2 {
            Some(_) => (0..rows)
                .flat_map(|i| (0..n2).map(move |j| (i, j)))
                .collect(),
            None => (0..rows)
                .flat_map(|i| (i + 1..n1).map(move |j| (i, j)))
                .collect(),
        };
        let values: Vec<(f64, f64)> = pairs
            .par_iter()
            .map(|&(i, j)| {
                let (b, vb) = match (x2, &own2) {
                    (Some(x2), Some(o2)) => (x2.image(j), &o2[j].variances),
                    _ => (x1.image(j), &own1[j].variances),
                };
                pipeline.cross_pair(x1.image(i), b, &own1[i].variances, vb)
            })
            .collect();
        let mut out = Kernels {
            nngp: Matrix::zeros(rows, n2),
            ntk: Matrix::zeros(rows, n2),
        };
        for (&(i, j), &(k, t)) in pairs.iter().zip(&values) {
            out.nngp.set(i, j, k);
            out.ntk.set(i, j, t);
            if x2.is_none() && j < rows {
                out.nngp.set(j, i, k);
                out.ntk.set(j, i, t);
            }
        }
        if x2.is_none() {
            for (i, o) in own1.iter().take(rows).enumerate() {
                out.nngp.set(i, i, o.nngp);
                out.ntk.set(i, i, o.ntk);
            }
        }
        Ok(out)
    }

    /// Inputs `rows` of `x`.
    pub fn select(x: &Images, rows: std::ops::Range<usize>) -> Images {
        let s = x.size();
        Images {
            n: rows.len(),
            data: x.data[rows.start * s..rows.end * s].to_vec(),
            ..x.clone_shape()
        }
    }

    /// Checks the layers against inputs of `spatial` shape and `channels` (errors name
    /// `layer[k].field`).
    pub fn validate(&self, spatial: &[usize], channels: usize) -> Result<()> {
        Pipeline::new(self, spatial, channels).map(|_| ())
    }
}
