//! `[[optimizer]]`: the transforms of the chain, in order.
//!
//! Each variant wraps the library's transform: its settings, their defaults (PyTorch's, from the
//! library's [`Default`] and torch-default constructors) and their checks (the transform's
//! `validate`) exist once, in the library. The spec adds the `kind` tag, learning rates written
//! as a number or a schedule table ([`crate::optim::Schedule::number_or_table`]), and what
//! comes from the model (the width of [`ParticleStep`], the prior of [`SemiImplicit`]).

use crate::error::{Error, Result};
use crate::meanfield::{ParticleLayout, ParticleStep};
use crate::nn::Model;
use crate::optim::{
    AdaGrad, Adam, Anchor, LangevinNoise, Momentum, Nesterov, Optimizer, RmsProp, SemiImplicit,
    Sgd, Smoothing, TorchSgd, Transform, WeightDecay,
};
use serde::{Deserialize, Deserializer};

/// One transform of the optimizer chain, as written in a spec (defaults are PyTorch's).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum TransformSpec {
    /// [`Sgd`].
    Sgd(Sgd),
    /// [`Momentum`] (the document's form).
    Momentum(Momentum),
    /// [`Nesterov`] (the document's look-ahead form).
    Nesterov(Nesterov),
    /// [`TorchSgd`].
    TorchSgd(TorchSgd),
    /// [`AdaGrad`].
    Adagrad(AdaGrad),
    /// [`RmsProp`].
    Rmsprop(RmsProp),
    /// [`Adam`] (coupled weight decay).
    Adam(Adam),
    /// [`Adam`] with decoupled weight decay (AdamW, defaults [`Adam::adamw_default`]).
    Adamw(#[serde(deserialize_with = "adamw")] Adam),
    /// [`WeightDecay`]: g ← g + λθ.
    WeightDecay(WeightDecay),
    /// [`Anchor`]: g ← g + λ(θ − θ₀).
    Anchor(Anchor),
    /// [`ParticleStep`]: the mean-field particle step Δθ = −η(M g + λθ) [+ √(2η T_t) ξ], M the
    /// model's width (time rescaled by M), T_t = anneal(t)/β (mean-field Langevin when β is set).
    MeanField(ParticleStep),
    /// [`Smoothing`]: the gradient is the mean of ∇L(θ + δ_t u_s) over S perturbations.
    Smoothing(Smoothing),
    /// [`LangevinNoise`]: Δθ ← Δθ + √(2η/β) ξ.
    LangevinNoise(LangevinNoise),
    /// [`SemiImplicit`]: Δθ ← (I + ηλA)^{−1}(θ + Δθ) − θ, A from the model's prior.
    SemiImplicit(SemiImplicit),
}

/// AdamW as written in a spec: Adam's settings, with AdamW's weight-decay default
/// ([`Adam::adamw_default`]) when `weight_decay` is not given, and decoupled decay.
fn adamw<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Adam, D::Error> {
    use serde::de::Error as _;
    let table = toml::Table::deserialize(d)?;
    let given = table.contains_key("weight_decay");
    let adam = Adam::deserialize(toml::Value::Table(table)).map_err(D::Error::custom)?;
    let default = Adam::adamw_default(Adam::TORCH_LR);
    Ok(Adam {
        weight_decay: if given {
            adam.weight_decay
        } else {
            default.weight_decay
        },
        decoupled: default.decoupled,
        ..adam
    })
}

impl TransformSpec {
    /// The inverse temperature β of a noise source (Langevin noise, tempered mean field).
    pub fn inverse_temperature(&self) -> Option<f64> {
        match self {
            TransformSpec::LangevinNoise(t) => Some(t.inverse_temperature),
            TransformSpec::MeanField(t) => t.inverse_temperature,
            _ => None,
        }
    }

    /// Builds the transform for `model` (position `k` in the chain, for error messages) and
    /// checks it with the library's `validate`.
    pub fn build(&self, k: usize, model: &dyn Model) -> Result<Box<dyn Transform>> {
        let at = format!("optimizer[{k}]");
        let transform: Box<dyn Transform> = match self {
            TransformSpec::Sgd(t) => Box::new(t.clone()),
            TransformSpec::Momentum(t) => Box::new(t.clone()),
            TransformSpec::Nesterov(t) => Box::new(t.clone()),
            TransformSpec::TorchSgd(t) => Box::new(t.clone()),
            TransformSpec::Adagrad(t) => Box::new(t.clone()),
            TransformSpec::Rmsprop(t) => Box::new(t.clone()),
            TransformSpec::Adam(t) | TransformSpec::Adamw(t) => Box::new(t.clone()),
            TransformSpec::WeightDecay(t) => Box::new(t.clone()),
            TransformSpec::Anchor(t) => Box::new(t.clone()),
            TransformSpec::Smoothing(t) => Box::new(t.clone()),
            TransformSpec::LangevinNoise(t) => Box::new(t.clone()),
            TransformSpec::MeanField(t) => {
                let layout = ParticleLayout::of(model)
                    .map_err(|e| Error::invalid(format!("{at}.kind"), e.to_string()))?;
                Box::new(ParticleStep {
                    width: layout.width,
                    ..t.clone()
                })
            }
            TransformSpec::SemiImplicit(t) => {
                let mu = model.prior_variances().ok_or_else(|| {
                    Error::invalid(
                        format!("{at}.kind"),
                        format!(
                            "semi_implicit needs a model with a prior (infinite_width), not {}",
                            model.describe()
                        ),
                    )
                })?;
                Box::new(SemiImplicit { mu, ..t.clone() })
            }
        };
        transform.validate(&at)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::{Schedule, SmoothingKind};

    fn parse(text: &str) -> std::result::Result<TransformSpec, toml::de::Error> {
        toml::from_str(text)
    }

    #[test]
    fn omitted_settings_take_the_library_defaults() {
        let cases = [
            ("kind = \"adam\"", TransformSpec::Adam(Adam::default())),
            (
                "kind = \"adamw\"\nlr = 0.01",
                TransformSpec::Adamw(Adam::adamw_default(0.01)),
            ),
            (
                "kind = \"adamw\"\nweight_decay = 0.5",
                TransformSpec::Adamw(Adam {
                    weight_decay: 0.5,
                    ..Adam::adamw_default(Adam::TORCH_LR)
                }),
            ),
            (
                "kind = \"rmsprop\"",
                TransformSpec::Rmsprop(RmsProp::default()),
            ),
            (
                "kind = \"adagrad\"",
                TransformSpec::Adagrad(AdaGrad::default()),
            ),
            (
                "kind = \"torch_sgd\"\nlr = 0.1",
                TransformSpec::TorchSgd(TorchSgd::torch_default(0.1)),
            ),
            (
                "kind = \"smoothing\"\ndelta = 0.5",
                TransformSpec::Smoothing(Smoothing {
                    delta: 0.5.into(),
                    samples: 1,
                    kind: SmoothingKind::Ball,
                }),
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(parse(text).unwrap(), expected, "{text}");
        }
    }

    #[test]
    fn learning_rates_are_numbers_or_schedule_tables() {
        let s = parse("kind = \"sgd\"\nlr = 1").unwrap();
        assert_eq!(s, TransformSpec::Sgd(Sgd { lr: 1.0.into() }));
        let s =
            parse("kind = \"sgd\"\nlr = { kind = \"inverse_power\", a = 1.0, b = 2.0, c = 0.5 }")
                .unwrap();
        let lr = Schedule::InversePower {
            a: 1.0,
            b: 2.0,
            c: 0.5,
        };
        assert_eq!(s, TransformSpec::Sgd(Sgd { lr }));
        let e = parse("kind = \"sgd\"\nlr = \"fast\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("expected a number or a schedule table"), "{e}");
    }

    #[test]
    fn unknown_and_library_only_fields_are_rejected() {
        for text in [
            "kind = \"adam\"\nbeta3 = 0.5",
            "kind = \"adam\"\ndecoupled = true",
            "kind = \"adamw\"\nmomentum = 0.5",
            "kind = \"mean_field\"\nlr = 0.1\nwidth = 3",
            "kind = \"semi_implicit\"\nlr = 0.1\nlambda = 1.0\nmu = [1.0]",
            "kind = \"smoothing\"\ndelta = 0.1\nkind_of = 1",
        ] {
            let e = parse(text).unwrap_err().to_string();
            assert!(e.contains("unknown field"), "{text}: {e}");
        }
    }

    #[test]
    fn the_library_checks_name_the_chain_position() {
        let quadratic = crate::nn::Landscape::Quadratic { k: 1.0 };
        let model = crate::nn::Potential::new(quadratic, 1, 1, vec![0.0], 0.0).unwrap();
        let bad = parse("kind = \"adam\"\nbeta1 = 1.5").unwrap();
        let e = bad.build(2, &model).unwrap_err().to_string();
        assert!(e.contains("optimizer[2].beta1"), "{e}");
        let bad = parse("kind = \"torch_sgd\"\nlr = 0.1\nnesterov = true").unwrap();
        let e = bad.build(0, &model).unwrap_err().to_string();
        assert!(e.contains("optimizer[0].nesterov"), "{e}");
    }
}
