//! `[model]`: which network, built for the data's dimensions.

use super::limits;
use crate::error::{Error, Result};
use crate::nn::{
    Activation, DeepLinear, Factorization, InfiniteWidth, Landscape, Mlp, MlpLayers, Model,
    OutputInit, Potential, TwoLayer,
};
use serde::Deserialize;
use std::path::{Path, PathBuf};

fn one() -> f64 {
    1.0
}
fn half() -> f64 {
    0.5
}
fn two() -> f64 {
    2.0
}
fn yes() -> bool {
    true
}
fn relu() -> Activation {
    Activation::Relu
}
fn sign_init() -> OutputInit {
    OutputInit::Sign { scale: 1.0 }
}

/// A model, as written in a spec.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", deny_unknown_fields)]
pub enum ModelSpec {
    /// [`TwoLayer`]: f(x) = α M^{−γ} Σ a_j η(w_jᵀx + b_j).
    TwoLayer {
        /// M.
        width: i64,
        /// η (default relu).
        #[serde(default = "relu")]
        activation: Activation,
        /// α (default 1).
        #[serde(default = "one")]
        alpha: f64,
        /// γ (default 0.5, the NTK scaling).
        #[serde(default = "half")]
        gamma: f64,
        /// Biases (default false).
        #[serde(default)]
        bias: bool,
        /// σ_w (default 1).
        #[serde(default = "one")]
        w_std: f64,
        /// σ_b (default 1).
        #[serde(default = "one")]
        b_std: f64,
        /// Output weights' law (default `{ kind = "sign", scale = 1 }`).
        #[serde(default = "sign_init")]
        output_init: OutputInit,
        /// Symmetric initialisation f₀ = 0 (default false).
        #[serde(default)]
        symmetric: bool,
        /// Train the first layer (default true).
        #[serde(default = "yes")]
        train_first: bool,
        /// Train the second layer (default true).
        #[serde(default = "yes")]
        train_second: bool,
    },
    /// [`Mlp`]: hidden Dense + activation layers, then Dense(k).
    Mlp {
        /// Hidden widths [m_1, …, m_L].
        widths: Vec<i64>,
        /// The library's layer settings, in the same table: `activation`, `parameterization`,
        /// `w_std`, `b_std`, `bias`, with [`MlpLayers`]' defaults.
        #[serde(flatten)]
        layers: MlpLayers,
    },
    /// [`DeepLinear`]: f(x) = W_L ⋯ W_1 x.
    DeepLinear {
        /// Hidden widths [m_1, …, m_{L−1}].
        widths: Vec<i64>,
        /// σ of W_ℓ ~ N(0, σ²/m_ℓ) (default 1).
        #[serde(default = "one")]
        init_std: f64,
    },
    /// [`Factorization`]: (UUᵀ)_ij on the observed entries (size from the data).
    Factorization {
        /// Rank of U.
        rank: i64,
        /// σ of U_ik ~ N(0, σ²) (default 1).
        #[serde(default = "one")]
        init_std: f64,
    },
    /// [`InfiniteWidth`]: Σ_{j≤K} j^{−γ} η(w_jᵀx).
    InfiniteWidth {
        /// Truncation K.
        terms: i64,
        /// η (default tanh).
        #[serde(default = "tanh")]
        activation: Activation,
        /// γ > 1/2 (default 1).
        #[serde(default = "one")]
        gamma: f64,
        /// p in μ_j = j^{−p} (default 2).
        #[serde(default = "two")]
        prior_decay: f64,
        /// σ (default 1).
        #[serde(default = "one")]
        init_std: f64,
    },
    /// [`crate::nn::ConvModel`]: a finite conv net with the layers of a NET.toml file.
    Conv {
        /// The shape of one input: `[H, W, C]`, `[L, C]` or `[d]` (rows of the data, NHWC).
        input_shape: Vec<i64>,
        /// The channel count of every `conv` / `dense` layer without `out_chan` / `out_dim`
        /// (the last `dense` without one: the number of outputs).
        #[serde(default)]
        width: Option<i64>,
        /// The layers, as NET.toml's `[[layer]]` tables (`[[model.layer]]`).
        #[serde(default)]
        layer: Vec<crate::kernel::conv::LayerSpec>,
        /// A NET.toml file (relative to the spec), instead of `[[model.layer]]`.
        #[serde(default)]
        net: Option<PathBuf>,
    },
    /// [`Potential`]: C independent chains on a landscape U (loss `linear` by default).
    Potential {
        /// The landscape, e.g. `{ kind = "double_well", height = 1.0 }`.
        potential: Landscape,
        /// d (default: the landscape's own dimension, else 1).
        #[serde(default)]
        dim: Option<i64>,
        /// Number of independent chains C (default 1).
        #[serde(default = "one_i")]
        chains: i64,
        /// Starting point of every chain (default 0).
        #[serde(default)]
        start: Option<Vec<f64>>,
        /// Standard deviation of the Gaussian spread around `start` (default 0).
        #[serde(default)]
        init_std: f64,
    },
}

fn one_i() -> i64 {
    1
}

impl ModelSpec {
    /// Whether this is a potential (no data needed, loss `linear` by default).
    pub fn is_potential(&self) -> bool {
        matches!(self, ModelSpec::Potential { .. })
    }

    /// This spec with its file paths (`net`) taken relative to `base` (the spec's folder).
    pub fn with_base(&self, base: &Path) -> ModelSpec {
        match self {
            ModelSpec::Conv {
                net: Some(net),
                input_shape,
                width,
                layer,
            } => ModelSpec::Conv {
                net: Some(base.join(net)),
                input_shape: input_shape.clone(),
                width: *width,
                layer: layer.clone(),
            },
            other => other.clone(),
        }
    }

    /// The finite conv model of a `conv` table at `path`.
    fn conv_model(&self, path: &str, outputs: usize) -> Result<crate::nn::ConvModel> {
        let ModelSpec::Conv {
            input_shape,
            width,
            layer,
            net,
        } = self
        else {
            return Err(Error::invalid(format!("{path}.kind"), "not a conv model"));
        };
        let at = |f: &str| format!("{path}.{f}");
        let shape = input_shape
            .iter()
            .map(|&v| limits::count(&at("input_shape"), v, 1))
            .collect::<Result<Vec<_>>>()?;
        let width = width
            .map(|w| limits::count(&at("width"), w, 1))
            .transpose()?;
        let net =
            match (net, layer.is_empty()) {
                (Some(file), true) => {
                    let source = format!("{} ({})", at("net"), file.display());
                    let text = std::fs::read_to_string(file)
                        .map_err(|e| Error::invalid(&source, e.to_string()))?;
                    crate::kernel::conv::ConvNet::from_toml(&source, &text)?
                }
                (None, false) => {
                    crate::kernel::conv::ConvNet::from_specs(layer).map_err(|e| match e {
                        Error::Invalid { field, message } => Error::invalid(at(&field), message),
                        other => other,
                    })?
                }
                (Some(_), false) => return Err(Error::invalid(
                    at("net"),
                    "give the layers either as [[model.layer]] tables or as a net file, not both",
                )),
                (None, true) => {
                    return Err(Error::invalid(
                        at("layer"),
                        "expected [[model.layer]] tables or net = \"NET.toml\"",
                    ))
                }
            };
        crate::nn::ConvModel::new(&net, &shape, width, outputs).map_err(|e| match e {
            Error::Invalid { field, message } if !field.starts_with(path) => {
                Error::invalid(at(&field), message)
            }
            other => other,
        })
    }
}

/// What the data fixes of a model: the input dimension, the number of outputs, and the n of a
/// completion data set.
#[derive(Clone, Copy)]
struct Dims {
    input_dim: usize,
    outputs: usize,
    matrix_size: Option<usize>,
}

fn tanh() -> Activation {
    Activation::Tanh
}

impl ModelSpec {
    /// Builds the model for inputs of dimension `input_dim` and `outputs` targets;
    /// `matrix_size` is the n of a completion data set. Errors name the fields as `model.FIELD`.
    pub fn build(
        &self,
        input_dim: usize,
        outputs: usize,
        matrix_size: Option<usize>,
    ) -> Result<Box<dyn Model>> {
        self.build_at("model", input_dim, outputs, matrix_size)
    }

    /// [`ModelSpec::build`] for the model table at `path` (`model`, `data.target.model`): every
    /// field error names its full path, and the parameter count is checked (overflow, memory)
    /// before anything is allocated.
    pub fn build_at(
        &self,
        path: &str,
        input_dim: usize,
        outputs: usize,
        matrix_size: Option<usize>,
    ) -> Result<Box<dyn Model>> {
        let dims = Dims {
            input_dim,
            outputs,
            matrix_size,
        };
        let (field, params) = self.parameter_count(path, dims)?;
        // The parameters, their gradient and up to two optimizer moments of the same size.
        limits::fits(&field, &[params, 4])?;
        self.build_unchecked(path, dims).map_err(|e| match e {
            Error::Invalid { field, message } if !field.starts_with(path) => {
                Error::invalid(format!("{path}.{field}"), message)
            }
            Error::TooLarge { field, message } if !field.starts_with(path) => Error::TooLarge {
                field: format!("{path}.{field}"),
                message,
            },
            other => other,
        })
    }

    /// The field that sets the size of the parameter vector, and (by checked arithmetic) that
    /// size: an upper bound of what the model will allocate per copy of θ.
    fn parameter_count(&self, path: &str, dims: Dims) -> Result<(String, usize)> {
        let Dims {
            input_dim: d,
            outputs,
            matrix_size,
        } = dims;
        let at = |f: &str| format!("{path}.{f}");
        match self {
            ModelSpec::TwoLayer { width, .. } => {
                let f = at("width");
                let m = limits::count(&f, *width, 1)?;
                Ok((f.clone(), limits::product(&f, m, d.saturating_add(2))?))
            }
            ModelSpec::Mlp { widths, .. } | ModelSpec::DeepLinear { widths, .. } => {
                let f = at("widths");
                let mut all = vec![d];
                for &w in widths {
                    all.push(limits::count(&f, w, 1)?);
                }
                all.push(outputs);
                let mut total = 0usize;
                for pair in all.windows(2) {
                    let layer = limits::product(&f, pair[0].saturating_add(1), pair[1])?;
                    total = total.checked_add(layer).ok_or_else(|| {
                        Error::invalid(&f, "the layers hold more parameters than an address space")
                    })?;
                }
                Ok((f, total))
            }
            ModelSpec::Factorization { rank, .. } => {
                let f = at("rank");
                let r = limits::count(&f, *rank, 1)?;
                Ok((f.clone(), limits::product(&f, r, matrix_size.unwrap_or(1))?))
            }
            ModelSpec::InfiniteWidth { terms, .. } => {
                let f = at("terms");
                let k = limits::count(&f, *terms, 1)?;
                Ok((f.clone(), limits::product(&f, k, d.saturating_add(1))?))
            }
            ModelSpec::Conv { .. } => {
                let model = self.conv_model(path, outputs)?;
                Ok((at("width"), model.num_params()))
            }
            ModelSpec::Potential {
                potential,
                dim,
                chains,
                ..
            } => {
                let f = at("chains");
                let c = limits::count(&f, *chains, 1)?;
                let d = match dim {
                    Some(v) => limits::count(&at("dim"), *v, 1)?,
                    None => potential.required_dim().unwrap_or(1),
                };
                Ok((format!("{f} × {path}.dim"), limits::product(&f, c, d)?))
            }
        }
    }

    fn build_unchecked(&self, path: &str, dims: Dims) -> Result<Box<dyn Model>> {
        let Dims {
            input_dim,
            outputs,
            matrix_size,
        } = dims;
        let count = |field: &str, v: i64| limits::count(&format!("{path}.{field}"), v, 1);
        let counts = |field: &str, v: &[i64]| -> Result<Vec<usize>> {
            v.iter().map(|&w| count(field, w)).collect()
        };
        let single_output = |kind: &str| -> Result<()> {
            if outputs != 1 {
                return Err(Error::shape(
                    format!("{path}.kind = \"{kind}\""),
                    format!("this model has one output, the targets have {outputs} columns"),
                ));
            }
            Ok(())
        };
        let model: Box<dyn Model> = match self {
            ModelSpec::TwoLayer {
                width,
                activation,
                alpha,
                gamma,
                bias,
                w_std,
                b_std,
                output_init,
                symmetric,
                train_first,
                train_second,
            } => {
                single_output("two_layer")?;
                Box::new(
                    TwoLayer {
                        input_dim,
                        width: count("width", *width)?,
                        activation: *activation,
                        alpha: *alpha,
                        gamma: *gamma,
                        bias: *bias,
                        w_std: *w_std,
                        b_std: *b_std,
                        output_init: *output_init,
                        symmetric: *symmetric,
                        train_first: *train_first,
                        train_second: *train_second,
                    }
                    .validated()?,
                )
            }
            ModelSpec::Mlp { widths, layers } => {
                let mut all = vec![input_dim];
                all.extend(counts("widths", widths)?);
                all.push(outputs);
                Box::new(Mlp::with_layers(all, *layers)?)
            }
            ModelSpec::DeepLinear { widths, init_std } => {
                let mut all = vec![input_dim];
                all.extend(counts("widths", widths)?);
                all.push(outputs);
                Box::new(DeepLinear::new(all, *init_std)?)
            }
            ModelSpec::Factorization { rank, init_std } => {
                single_output("factorization")?;
                let size = matrix_size.ok_or_else(|| {
                    Error::invalid(
                        format!("{path}.kind"),
                        "a factorization model needs completion data ([data] kind = \"completion\")",
                    )
                })?;
                Box::new(Factorization::new(size, count("rank", *rank)?, *init_std)?)
            }
            ModelSpec::InfiniteWidth {
                terms,
                activation,
                gamma,
                prior_decay,
                init_std,
            } => {
                single_output("infinite_width")?;
                Box::new(InfiniteWidth::new(
                    input_dim,
                    count("terms", *terms)?,
                    *activation,
                    *gamma,
                    *prior_decay,
                    *init_std,
                )?)
            }
            ModelSpec::Conv { .. } => Box::new(self.conv_model(path, outputs)?),
            ModelSpec::Potential {
                potential,
                dim,
                chains,
                start,
                init_std,
            } => {
                let d = match dim {
                    Some(d) => count("dim", *d)?,
                    None => potential.required_dim().unwrap_or(1),
                };
                let start = start.clone().unwrap_or_else(|| vec![0.0; d]);
                Box::new(Potential::new(
                    *potential,
                    d,
                    count("chains", *chains)?,
                    start,
                    *init_std,
                )?)
            }
        };
        Ok(model)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> std::result::Result<ModelSpec, toml::de::Error> {
        toml::from_str(text)
    }

    /// The mlp table reads the library's layer settings in place, with the library's defaults,
    /// and still refuses a field it does not know (the layer settings are flattened into it).
    #[test]
    fn the_mlp_table_reads_the_library_layer_settings() {
        let ModelSpec::Mlp { widths, layers } = parse("kind = \"mlp\"\nwidths = [4, 5]").unwrap()
        else {
            panic!("not an mlp");
        };
        assert_eq!((widths, layers), (vec![4, 5], MlpLayers::default()));
        let text = "kind = \"mlp\"\nwidths = [3]\nactivation = \"tanh\"\nb_std = 0.5\nbias = false";
        let Ok(ModelSpec::Mlp { layers, .. }) = parse(text) else {
            panic!("{text}");
        };
        assert_eq!(
            (layers.activation, layers.b_std, layers.bias),
            (Activation::Tanh, 0.5, false)
        );
        for text in [
            "kind = \"mlp\"\nwidths = [3]\nactivaton = \"tanh\"",
            "kind = \"mlp\"\nwidths = [3]\nwidth = 3",
        ] {
            let e = parse(text).unwrap_err().to_string();
            assert!(e.contains("unknown field"), "{text}: {e}");
        }
        let e = parse("kind = \"mlp\"\nactivation = \"tanh\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing field `widths`"), "{e}");
        // The library's checks, naming the field under the table's path.
        let bad = parse("kind = \"mlp\"\nwidths = [3]\nw_std = 0").unwrap();
        let e = bad.build(2, 1, None).err().map(|e| e.to_string());
        assert!(
            e.as_deref().is_some_and(|e| e.contains("model.w_std")),
            "{e:?}"
        );
    }
}
