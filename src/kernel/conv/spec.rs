//! NET.toml: a network as a list of `[[layer]]` tables with neural-tangents' argument names.
//!
//! ```toml
//! quadrature_degree = 48        # optional
//! [[layer]]
//! kind = "conv"                 # conv | dense | avg_pool | global_avg_pool | flatten
//! filter_shape = [3, 3]         #   or an activation: relu, erf, leaky_relu(0.1), …
//! strides = [1, 1]              # optional (default 1)
//! padding = "SAME"              # VALID (default) | SAME | CIRCULAR
//! w_std = 1.0                   # optional (default 1)
//! b_std = 0.1                   # optional (default: no bias)
//! parameterization = "ntk"      # ntk (default) | standard
//! out_chan = 64                 # conv (dense: out_dim); needed by standard parameterization
//! [[layer]]
//! kind = "relu"
//! [[layer]]
//! kind = "global_avg_pool"
//! [[layer]]
//! kind = "dense"
//! ```
//!
//! Errors name the table: `layer[k].field`, k counted from 0.

use super::layers::{Affine, Conv, ConvNet, Layer, Padding, Pool};
use crate::error::{Error, Result};
use crate::nn::Parameterization;
use serde::Deserialize;

/// One `[[layer]]` table, as written (checked by [`LayerSpec::layer`]).
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LayerSpec {
    /// conv, dense, avg_pool, global_avg_pool, flatten, or an activation.
    pub kind: String,
    /// conv: the filter's extent per spatial axis.
    pub filter_shape: Option<Vec<usize>>,
    /// avg_pool: the window's extent per spatial axis.
    pub window_shape: Option<Vec<usize>>,
    /// conv, avg_pool: strides per spatial axis (default 1).
    pub strides: Option<Vec<usize>>,
    /// conv, avg_pool: VALID (default), SAME or CIRCULAR.
    pub padding: Option<Padding>,
    /// conv, dense: σ_w (default 1).
    #[serde(rename = "w_std", alias = "W_std")]
    pub w_std: Option<f64>,
    /// conv, dense: σ_b (default: no bias).
    pub b_std: Option<f64>,
    /// conv, dense: ntk (default) or standard.
    pub parameterization: Option<Parameterization>,
    /// conv: output channels.
    pub out_chan: Option<usize>,
    /// dense: output width.
    pub out_dim: Option<usize>,
    /// avg_pool: normalise by the window's positions inside the input (with SAME).
    pub normalize_edges: Option<bool>,
}

/// A whole NET.toml file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NetFile {
    #[serde(default)]
    layer: Vec<toml::Table>,
    quadrature_degree: Option<usize>,
}

impl LayerSpec {
    /// The layer of table `k`; errors name `layer[k].field` (a field the kind does not take,
    /// one it needs and lacks, an unknown kind).
    pub fn layer(&self, k: usize) -> Result<Layer> {
        let name = |f: &str| format!("layer[{k}].{f}");
        let kind = self.kind.trim();
        let given: [(&str, bool); 10] = [
            ("filter_shape", self.filter_shape.is_some()),
            ("window_shape", self.window_shape.is_some()),
            ("strides", self.strides.is_some()),
            ("padding", self.padding.is_some()),
            ("w_std", self.w_std.is_some()),
            ("b_std", self.b_std.is_some()),
            ("parameterization", self.parameterization.is_some()),
            ("out_chan", self.out_chan.is_some()),
            ("out_dim", self.out_dim.is_some()),
            ("normalize_edges", self.normalize_edges.is_some()),
        ];
        let takes: &[&str] = match kind {
            "conv" => &[
                "filter_shape",
                "strides",
                "padding",
                "w_std",
                "b_std",
                "parameterization",
                "out_chan",
            ],
            "dense" => &["w_std", "b_std", "parameterization", "out_dim"],
            "avg_pool" => &["window_shape", "strides", "padding", "normalize_edges"],
            _ => &[],
        };
        if let Some((field, _)) = given.iter().find(|(f, set)| *set && !takes.contains(f)) {
            return Err(Error::invalid(
                name(field),
                format!("a `{kind}` layer takes no `{field}`"),
            ));
        }
        let affine = |out: Option<usize>| Affine {
            w_std: self.w_std.unwrap_or(1.0),
            b_std: self.b_std,
            parameterization: self.parameterization.unwrap_or(Parameterization::Ntk),
            out,
        };
        let required = |v: &Option<Vec<usize>>, f: &str| {
            v.clone()
                .ok_or_else(|| Error::invalid(name(f), format!("required by a `{kind}` layer")))
        };
        Ok(match kind {
            "conv" => Layer::Conv(Conv {
                filter_shape: required(&self.filter_shape, "filter_shape")?,
                strides: self.strides.clone(),
                padding: self.padding.unwrap_or(Padding::Valid),
                affine: affine(self.out_chan),
            }),
            "dense" => Layer::Dense(affine(self.out_dim)),
            "avg_pool" => Layer::AvgPool(Pool {
                window_shape: required(&self.window_shape, "window_shape")?,
                strides: self.strides.clone(),
                padding: self.padding.unwrap_or(Padding::Valid),
                normalize_edges: self.normalize_edges.unwrap_or(false),
            }),
            "global_avg_pool" => Layer::GlobalAvgPool,
            "flatten" => Layer::Flatten,
            other => Layer::Activation(other.parse().map_err(|m: String| {
                Error::invalid(
                    name("kind"),
                    format!(
                        "expected conv, dense, avg_pool, global_avg_pool, flatten or an \
                         activation; {m}"
                    ),
                )
            })?),
        })
    }
}

impl ConvNet {
    /// The network of the `[[layer]]` tables `specs`.
    pub fn from_specs(specs: &[LayerSpec]) -> Result<ConvNet> {
        let layers = specs
            .iter()
            .enumerate()
            .map(|(k, s)| s.layer(k))
            .collect::<Result<_>>()?;
        Ok(ConvNet::new(layers))
    }

    /// A NET.toml text (`source` names it in errors).
    pub fn from_toml(source: &str, text: &str) -> Result<ConvNet> {
        let file: NetFile = toml::from_str(text)
            .map_err(|e| Error::invalid(source, format!("not a NET.toml file: {e}")))?;
        if file.layer.is_empty() {
            return Err(Error::invalid(
                format!("{source}: layer"),
                "expected at least one [[layer]] table",
            ));
        }
        let specs = file
            .layer
            .into_iter()
            .enumerate()
            .map(|(k, table)| {
                toml::Value::Table(table)
                    .try_into::<LayerSpec>()
                    .map_err(|e| Error::invalid(format!("{source}: layer[{k}]"), e.to_string()))
            })
            .collect::<Result<Vec<_>>>()?;
        let mut net =
            ConvNet::from_specs(&specs).map_err(|e| Error::invalid(source, e.to_string()))?;
        if let Some(q) = file.quadrature_degree {
            net.quadrature_degree = q;
        }
        Ok(net)
    }

    /// The NET.toml file at `path`.
    pub fn read(path: &std::path::Path) -> Result<ConvNet> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::invalid(format!("--net ({})", path.display()), e.to_string()))?;
        ConvNet::from_toml(&format!("--net ({})", path.display()), &text)
    }
}
