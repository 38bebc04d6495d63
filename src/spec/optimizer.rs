//! `[[optimizer]]`: the transforms of the chain, in order.

use crate::error::{check_non_negative, check_positive, Error, Result};
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

fn lr_001() -> LearningRate {
    LearningRate(0.01.into())
}
fn lr_0001() -> LearningRate {
    LearningRate(1e-3.into())
}
fn b09() -> f64 {
    0.9
}
fn b0999() -> f64 {
    0.999
}
fn a099() -> f64 {
    0.99
}
fn eps8() -> f64 {
    1e-8
}
fn eps10() -> f64 {
    1e-10
}
fn wd2() -> f64 {
    1e-2
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
        #[serde(default = "lr_001")]
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
        #[serde(default = "eps10")]
        eps: f64,
    },
    /// [`RmsProp`].
    Rmsprop {
        /// η (0.01).
        #[serde(default = "lr_001")]
        lr: LearningRate,
        /// α (0.99).
        #[serde(default = "a099")]
        alpha: f64,
        /// ε (1e-8).
        #[serde(default = "eps8")]
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
        #[serde(default = "lr_0001")]
        lr: LearningRate,
        /// β₁ (0.9).
        #[serde(default = "b09")]
        beta1: f64,
        /// β₂ (0.999).
        #[serde(default = "b0999")]
        beta2: f64,
        /// ε (1e-8).
        #[serde(default = "eps8")]
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
        #[serde(default = "lr_0001")]
        lr: LearningRate,
        /// β₁ (0.9).
        #[serde(default = "b09")]
        beta1: f64,
        /// β₂ (0.999).
        #[serde(default = "b0999")]
        beta2: f64,
        /// ε (1e-8).
        #[serde(default = "eps8")]
        eps: f64,
        /// λ (1e-2).
        #[serde(default = "wd2")]
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

fn unit_interval(field: &str, v: f64) -> Result<()> {
    if (0.0..1.0).contains(&v) {
        Ok(())
    } else {
        Err(Error::invalid(
            field,
            format!("expected a value in [0, 1), got {v}"),
        ))
    }
}

impl TransformSpec {
    /// Builds the transform (position `k` in the chain, for error messages).
    pub fn build(&self, k: usize, model: &dyn Model) -> Result<Box<dyn Transform>> {
        let at = |name: &str| format!("optimizer[{k}].{name}");
        let lr = |l: &LearningRate| -> Result<Schedule> {
            l.0.validate(&at("lr"))?;
            Ok(l.0)
        };
        Ok(match self {
            TransformSpec::Sgd { lr: l } => Box::new(Sgd { lr: lr(l)? }),
            TransformSpec::Momentum { lr: l, theta } => {
                unit_interval(&at("theta"), *theta)?;
                Box::new(Momentum {
                    theta: *theta,
                    lr: lr(l)?,
                })
            }
            TransformSpec::Nesterov { lr: l, theta } => {
                unit_interval(&at("theta"), *theta)?;
                Box::new(Nesterov {
                    theta: *theta,
                    lr: lr(l)?,
                })
            }
            TransformSpec::TorchSgd {
                lr: l,
                momentum,
                dampening,
                nesterov,
                weight_decay,
            } => {
                check_non_negative(&at("momentum"), *momentum)?;
                check_non_negative(&at("weight_decay"), *weight_decay)?;
                if *nesterov && (*momentum <= 0.0 || *dampening != 0.0) {
                    return Err(Error::invalid(
                        at("nesterov"),
                        "PyTorch's Nesterov momentum requires momentum > 0 and zero dampening",
                    ));
                }
                Box::new(TorchSgd {
                    lr: lr(l)?,
                    momentum: *momentum,
                    dampening: *dampening,
                    nesterov: *nesterov,
                    weight_decay: *weight_decay,
                })
            }
            TransformSpec::Adagrad {
                lr: l,
                lr_decay,
                weight_decay,
                initial_accumulator_value,
                eps,
            } => {
                check_non_negative(&at("lr_decay"), *lr_decay)?;
                check_non_negative(&at("weight_decay"), *weight_decay)?;
                check_non_negative(&at("initial_accumulator_value"), *initial_accumulator_value)?;
                check_non_negative(&at("eps"), *eps)?;
                Box::new(AdaGrad {
                    lr: lr(l)?,
                    lr_decay: *lr_decay,
                    weight_decay: *weight_decay,
                    initial_accumulator_value: *initial_accumulator_value,
                    eps: *eps,
                })
            }
            TransformSpec::Rmsprop {
                lr: l,
                alpha,
                eps,
                weight_decay,
                momentum,
                centered,
            } => {
                unit_interval(&at("alpha"), *alpha)?;
                check_non_negative(&at("eps"), *eps)?;
                check_non_negative(&at("weight_decay"), *weight_decay)?;
                check_non_negative(&at("momentum"), *momentum)?;
                Box::new(RmsProp {
                    lr: lr(l)?,
                    alpha: *alpha,
                    eps: *eps,
                    weight_decay: *weight_decay,
                    momentum: *momentum,
                    centered: *centered,
                })
            }
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
            } => {
                unit_interval(&at("beta1"), *beta1)?;
                unit_interval(&at("beta2"), *beta2)?;
                check_non_negative(&at("eps"), *eps)?;
                check_non_negative(&at("weight_decay"), *weight_decay)?;
                Box::new(Adam {
                    lr: lr(l)?,
                    beta1: *beta1,
                    beta2: *beta2,
                    eps: *eps,
                    weight_decay: *weight_decay,
                    amsgrad: *amsgrad,
                    decoupled: matches!(self, TransformSpec::Adamw { .. }),
                })
            }
            TransformSpec::WeightDecay { coefficient } => {
                check_non_negative(&at("coefficient"), *coefficient)?;
                Box::new(WeightDecay {
                    coefficient: *coefficient,
                })
            }
            TransformSpec::Anchor { lambda } => {
                check_non_negative(&at("lambda"), *lambda)?;
                Box::new(Anchor { lambda: *lambda })
            }
            TransformSpec::MeanField {
                lr: l,
                l2,
                inverse_temperature,
                anneal,
            } => {
                check_non_negative(&at("l2"), *l2)?;
                if let Some(beta) = inverse_temperature {
                    check_positive(&at("inverse_temperature"), *beta)?;
                }
                let anneal = anneal
                    .as_ref()
                    .map(|a| {
                        a.0.validate(&at("anneal"))?;
                        Ok::<_, Error>(a.0)
                    })
                    .transpose()?;
                let layout = ParticleLayout::of(model)
                    .map_err(|e| Error::invalid(at("kind"), e.to_string()))?;
                Box::new(ParticleStep {
                    lr: lr(l)?,
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
                delta.0.validate(&at("delta"))?;
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
            } => {
                check_positive(&at("inverse_temperature"), *inverse_temperature)?;
                Box::new(LangevinNoise {
                    lr: lr(l)?,
                    inverse_temperature: *inverse_temperature,
                })
            }
            TransformSpec::SemiImplicit { lr: l, lambda } => {
                check_positive(&at("lambda"), *lambda)?;
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
                    lr: lr(l)?,
                    lambda: *lambda,
                    mu,
                })
            }
        })
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
