//! `[[optimizer]]`: the transforms of the chain, in order.

use crate::error::{Error, Result};
use crate::meanfield::{ParticleLayout, ParticleStep};
use crate::nn::Model;
use crate::optim::{
    AdaGrad, Adam, Anchor, LangevinNoise, Momentum, Nesterov, Optimizer, RmsProp, Schedule,
    SemiImplicit, Sgd, Smoothing, SmoothingKind, TorchSgd, Transform, WeightDecay,
};
use serde::{Deserialize, Deserializer};

/// A learning rate: a number (constant) or a schedule table.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LearningRate(pub Schedule);

impl<'de> Deserialize<'de> for LearningRate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        use serde::de::Error as _;
        let value = toml::Value::deserialize(d)?;
        match value {
            toml::Value::Float(v) => Ok(LearningRate(Schedule::Constant { value: v })),
            toml::Value::Integer(v) => Ok(LearningRate(Schedule::Constant { value: v as f64 })),
            toml::Value::Table(t) => Schedule::deserialize(toml::Value::Table(t))
                .map(LearningRate)
                .map_err(D::Error::custom),
            other => Err(D::Error::custom(format!(
                "expected a number or a schedule table, got {}",
                other.type_str()
            ))),
        }
    }
}

fn one_sample() -> i64 {
    1
}

fn ball() -> SmoothingKind {
    SmoothingKind::Ball
}

// PyTorch's defaults, read from the library's constructors (one place for each).
fn lr_adagrad() -> LearningRate {
    LearningRate(AdaGrad::TORCH_LR.into())
}
fn lr_rmsprop() -> LearningRate {
    LearningRate(RmsProp::TORCH_LR.into())
}
fn lr_adam() -> LearningRate {
    LearningRate(Adam::TORCH_LR.into())
}
fn adam_beta1() -> f64 {
    Adam::torch_default(Adam::TORCH_LR).beta1
}
fn adam_beta2() -> f64 {
    Adam::torch_default(Adam::TORCH_LR).beta2
}
fn adam_eps() -> f64 {
    Adam::torch_default(Adam::TORCH_LR).eps
}
fn adamw_weight_decay() -> f64 {
    Adam::adamw_default(Adam::TORCH_LR).weight_decay
}
fn rmsprop_alpha() -> f64 {
    RmsProp::torch_default(RmsProp::TORCH_LR).alpha
}
fn rmsprop_eps() -> f64 {
    RmsProp::torch_default(RmsProp::TORCH_LR).eps
}
fn adagrad_eps() -> f64 {
    AdaGrad::torch_default(AdaGrad::TORCH_LR).eps
}

/// One transform of the optimizer chain, as written in a spec (defaults are PyTorch's).
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", deny_unknown_fields)]
pub enum TransformSpec {
    /// [`Sgd`].
    Sgd {
        /// η.
        lr: LearningRate,
    },
    /// [`Momentum`] (the document's form).
    Momentum {
        /// η.
        lr: LearningRate,
        /// θ.
        theta: f64,
    },
    /// [`Nesterov`] (the document's look-ahead form).
    Nesterov {
        /// η.
        lr: LearningRate,
        /// θ.
        theta: f64,
    },
    /// [`TorchSgd`].
    TorchSgd {
        /// η.
        lr: LearningRate,
        /// μ.
        #[serde(default)]
        momentum: f64,
        /// τ.
        #[serde(default)]
        dampening: f64,
        /// PyTorch's Nesterov.
        #[serde(default)]
        nesterov: bool,
        /// λ.
        #[serde(default)]
        weight_decay: f64,
    },
    /// [`AdaGrad`].
    Adagrad {
        /// η (0.01).
        #[serde(default = "lr_adagrad")]
        lr: LearningRate,
        /// lr_decay (0).
        #[serde(default)]
        lr_decay: f64,
        /// λ (0).
        #[serde(default)]
        weight_decay: f64,
        /// Initial accumulator (0).
        #[serde(default)]
        initial_accumulator_value: f64,
        /// ε (1e-10).
        #[serde(default = "adagrad_eps")]
        eps: f64,
    },
    /// [`RmsProp`].
    Rmsprop {
        /// η (0.01).
        #[serde(default = "lr_rmsprop")]
        lr: LearningRate,
        /// α (0.99).
        #[serde(default = "rmsprop_alpha")]
        alpha: f64,
        /// ε (1e-8).
        #[serde(default = "rmsprop_eps")]
        eps: f64,
        /// λ (0).
        #[serde(default)]
        weight_decay: f64,
        /// μ (0).
        #[serde(default)]
        momentum: f64,
        /// Centered (false).
        #[serde(default)]
        centered: bool,
    },
    /// [`Adam`] (coupled weight decay).
    Adam {
        /// η (1e-3).
        #[serde(default = "lr_adam")]
        lr: LearningRate,
        /// β₁ (0.9).
        #[serde(default = "adam_beta1")]
        beta1: f64,
        /// β₂ (0.999).
        #[serde(default = "adam_beta2")]
        beta2: f64,
        /// ε (1e-8).
        #[serde(default = "adam_eps")]
        eps: f64,
        /// λ (0).
        #[serde(default)]
        weight_decay: f64,
        /// AMSGrad (false).
        #[serde(default)]
        amsgrad: bool,
    },
    /// [`Adam`] with decoupled weight decay (AdamW).
    Adamw {
        /// η (1e-3).
        #[serde(default = "lr_adam")]
        lr: LearningRate,
        /// β₁ (0.9).
        #[serde(default = "adam_beta1")]
        beta1: f64,
        /// β₂ (0.999).
        #[serde(default = "adam_beta2")]
        beta2: f64,
        /// ε (1e-8).
        #[serde(default = "adam_eps")]
        eps: f64,
        /// λ (1e-2).
        #[serde(default = "adamw_weight_decay")]
        weight_decay: f64,
        /// AMSGrad (false).
        #[serde(default)]
        amsgrad: bool,
    },
    /// [`WeightDecay`]: g ← g + λθ.
    WeightDecay {
        /// λ.
        coefficient: f64,
    },
    /// [`Anchor`]: g ← g + λ(θ − θ₀).
    Anchor {
        /// λ.
        lambda: f64,
    },
    /// [`ParticleStep`]: the mean-field particle step Δθ = −η(M g + λθ) [+ √(2η T_t) ξ], M the
    /// model's width (time rescaled by M), T_t = anneal(t)/β (mean-field Langevin when β is set).
    MeanField {
        /// η (the time step of the M → ∞ flow).
        lr: LearningRate,
        /// λ, the L2 term (default 0).
        #[serde(default)]
        l2: f64,
        /// β (default: none, noiseless particle gradient descent).
        #[serde(default)]
        inverse_temperature: Option<f64>,
        /// Temperature multiplier schedule (default constant 1), e.g.
        /// `{ kind = "inverse_power", a = 1.0, b = 1.0, c = 0.5 }`.
        #[serde(default)]
        anneal: Option<LearningRate>,
    },
    /// [`Smoothing`]: the gradient is the mean of ∇L(θ + δ_t u_s) over S perturbations.
    Smoothing {
        /// δ_t > 0 (a number or a schedule, e.g. `{ kind = "cosine", initial = 3.0, final = 1e-3,
        /// total = 3000 }`).
        delta: LearningRate,
        /// S (default 1).
        #[serde(default = "one_sample")]
        samples: i64,
        /// `ball` (default) or `gaussian`.
        #[serde(default = "ball")]
        perturbation: SmoothingKind,
    },
    /// [`LangevinNoise`]: Δθ ← Δθ + √(2η/β) ξ.
    LangevinNoise {
        /// η.
        lr: LearningRate,
        /// β.
        inverse_temperature: f64,
    },
    /// [`SemiImplicit`]: Δθ ← (I + ηλA)^{−1}(θ + Δθ) − θ, A from the model's prior.
    SemiImplicit {
        /// η.
        lr: LearningRate,
        /// λ.
        lambda: f64,
    },
}

impl TransformSpec {
    /// Builds the transform (position `k` in the chain, for error messages).
    pub fn build(&self, k: usize, model: &dyn Model) -> Result<Box<dyn Transform>> {
        let at = |name: &str| format!("optimizer[{k}].{name}");
        let transform: Box<dyn Transform> = match self {
            TransformSpec::Sgd { lr: l } => Box::new(Sgd { lr: l.0 }),
            TransformSpec::Momentum { lr: l, theta } => Box::new(Momentum {
                theta: *theta,
                lr: l.0,
            }),
            TransformSpec::Nesterov { lr: l, theta } => Box::new(Nesterov {
                theta: *theta,
                lr: l.0,
            }),
            TransformSpec::TorchSgd {
                lr: l,
                momentum,
                dampening,
                nesterov,
                weight_decay,
            } => Box::new(TorchSgd {
                lr: l.0,
                momentum: *momentum,
                dampening: *dampening,
                nesterov: *nesterov,
                weight_decay: *weight_decay,
            }),
            TransformSpec::Adagrad {
                lr: l,
                lr_decay,
                weight_decay,
                initial_accumulator_value,
                eps,
            } => Box::new(AdaGrad {
                lr: l.0,
                lr_decay: *lr_decay,
                weight_decay: *weight_decay,
                initial_accumulator_value: *initial_accumulator_value,
                eps: *eps,
            }),
            TransformSpec::Rmsprop {
                lr: l,
                alpha,
                eps,
                weight_decay,
                momentum,
                centered,
            } => Box::new(RmsProp {
                lr: l.0,
                alpha: *alpha,
                eps: *eps,
                weight_decay: *weight_decay,
                momentum: *momentum,
                centered: *centered,
            }),
            TransformSpec::Adam {
                lr: l,
                beta1,
                beta2,
                eps,
                weight_decay,
                amsgrad,
            }
            | TransformSpec::Adamw {
                lr: l,
                beta1,
                beta2,
                eps,
                weight_decay,
                amsgrad,
            } => Box::new(Adam {
                lr: l.0,
                beta1: *beta1,
                beta2: *beta2,
                eps: *eps,
                weight_decay: *weight_decay,
                amsgrad: *amsgrad,
                decoupled: matches!(self, TransformSpec::Adamw { .. }),
            }),
            TransformSpec::WeightDecay { coefficient } => Box::new(WeightDecay {
                coefficient: *coefficient,
            }),
            TransformSpec::Anchor { lambda } => Box::new(Anchor { lambda: *lambda }),
            TransformSpec::MeanField {
                lr: l,
                l2,
                inverse_temperature,
                anneal,
            } => {
                let anneal = anneal.as_ref().map(|a| a.0);
                let layout = ParticleLayout::of(model)
                    .map_err(|e| Error::invalid(at("kind"), e.to_string()))?;
                Box::new(ParticleStep {
                    lr: l.0,
                    width: layout.width,
                    l2: *l2,
                    inverse_temperature: *inverse_temperature,
                    anneal,
                })
            }
            TransformSpec::Smoothing {
                delta,
                samples,
                perturbation,
            } => {
                if *samples < 1 {
                    return Err(Error::invalid(
                        at("samples"),
                        format!("expected ≥ 1, got {samples}"),
                    ));
                }
                Box::new(Smoothing {
                    delta: delta.0,
                    samples: *samples as usize,
                    kind: *perturbation,
                })
            }
            TransformSpec::LangevinNoise {
                lr: l,
                inverse_temperature,
            } => Box::new(LangevinNoise {
                lr: l.0,
                inverse_temperature: *inverse_temperature,
            }),
            TransformSpec::SemiImplicit { lr: l, lambda } => {
                let mu = model.prior_variances().ok_or_else(|| {
                    Error::invalid(
                        at("kind"),
                        format!(
                            "semi_implicit needs a model with a prior (infinite_width), not {}",
                            model.describe()
                        ),
                    )
                })?;
                Box::new(SemiImplicit {
                    lr: l.0,
                    lambda: *lambda,
                    mu,
                })
            }
        };
        // The library owns the rules; the spec only names the chain position.
        transform.validate(&format!("optimizer[{k}]"))?;
        Ok(transform)
    }
}

/// Builds the whole chain.
pub fn build_chain(specs: &[TransformSpec], model: &dyn Model) -> Result<Optimizer> {
    if specs.is_empty() {
        return Err(Error::invalid(
            "optimizer",
            "the spec needs at least one [[optimizer]] entry",
        ));
    }
    let transforms = specs
        .iter()
        .enumerate()
        .map(|(k, s)| s.build(k, model))
        .collect::<Result<Vec<_>>>()?;
    Ok(Optimizer::chain(transforms))
}
