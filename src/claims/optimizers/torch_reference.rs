//! The PyTorch-convention transforms of the library against the stored `torch.optim`
//! trajectories (float64, CPU; `tests/fixtures/torch_optim.json`, made by
//! `tests/fixtures/make_torch_fixtures.py`), inside the claim: the objective is the fixture's
//! separable cubic, ∂L/∂θ_k = (1 + k/2) θ_k + θ_k²/2 − 0.3, the gradient handed to torch as
//! `p.grad`, so the only torch computation compared is the optimizer step itself.

use crate::error::{Error, Result};
use crate::optim::{AdaGrad, Adam, Optimizer, RmsProp, TorchSgd, Transform};
use crate::rng::Seed;
use serde::Deserialize;
use std::collections::BTreeMap;

/// The fixture file, compiled in (the claim runs from any checkout or installed binary).
const FIXTURE: &str = include_str!("../../../tests/fixtures/torch_optim.json");

/// `torch_optim.json`.
#[derive(Deserialize)]
struct Fixture {
    theta0: Vec<f64>,
    configs: BTreeMap<String, Config>,
}

/// One configuration: the torch.optim class, its keyword arguments, θ₀ … θ_T.
#[derive(Deserialize)]
struct Config {
    optimizer: String,
    hyper: Hyper,
    trajectory: Vec<Vec<f64>>,
}

/// The keyword arguments (absent: PyTorch's default, read from the library's constructors).
#[derive(Deserialize)]
struct Hyper {
    lr: f64,
    momentum: Option<f64>,
    dampening: Option<f64>,
    nesterov: Option<bool>,
    weight_decay: Option<f64>,
    lr_decay: Option<f64>,
    initial_accumulator_value: Option<f64>,
    eps: Option<f64>,
    alpha: Option<f64>,
    centered: Option<bool>,
    betas: Option<[f64; 2]>,
    amsgrad: Option<bool>,
}

/// The families of torch.optim classes checked, each one check.
pub(super) const FAMILIES: [&str; 5] = ["SGD", "Adagrad", "RMSprop", "Adam", "AdamW"];

/// The fixture's gradient, g_k = (1 + k/2) θ_k + θ_k²/2 − 0.3 (the generator's formula).
fn gradient(theta: &[f64], g: &mut [f64]) {
    for (k, (gk, &t)) in g.iter_mut().zip(theta).enumerate() {
        *gk = (1.0 + 0.5 * k as f64) * t + 0.5 * t * t - 0.3;
    }
}

/// Rounds to the nearest single-precision number (the control `single-precision`).
fn single(v: f64) -> f64 {
    v as f32 as f64
}

/// The library transform of a torch.optim class with these keyword arguments.
fn transform(class: &str, h: &Hyper, round: impl Fn(f64) -> f64) -> Result<Box<dyn Transform>> {
    let lr = round(h.lr);
    let wd = |default: f64| round(h.weight_decay.unwrap_or(default));
    Ok(match class {
        "SGD" => Box::new(TorchSgd {
            lr: lr.into(),
            momentum: round(h.momentum.unwrap_or(0.0)),
            dampening: round(h.dampening.unwrap_or(0.0)),
            nesterov: h.nesterov.unwrap_or(false),
            weight_decay: wd(0.0),
        }),
        "Adagrad" => {
            let base = AdaGrad::torch_default(lr);
            Box::new(AdaGrad {
                lr_decay: round(h.lr_decay.unwrap_or(base.lr_decay)),
                weight_decay: wd(base.weight_decay),
                initial_accumulator_value: round(
                    h.initial_accumulator_value
                        .unwrap_or(base.initial_accumulator_value),
                ),
                eps: round(h.eps.unwrap_or(base.eps)),
                ..base
            })
        }
        "RMSprop" => {
            let base = RmsProp::torch_default(lr);
            Box::new(RmsProp {
                alpha: round(h.alpha.unwrap_or(base.alpha)),
                eps: round(h.eps.unwrap_or(base.eps)),
                weight_decay: wd(base.weight_decay),
                momentum: round(h.momentum.unwrap_or(base.momentum)),
                centered: h.centered.unwrap_or(base.centered),
                ..base
            })
        }
        "Adam" | "AdamW" => {
            let base = if class == "Adam" {
                Adam::torch_default(lr)
            } else {
                Adam::adamw_default(lr)
            };
            let [beta1, beta2] = h.betas.unwrap_or([base.beta1, base.beta2]);
            Box::new(Adam {
                beta1: round(beta1),
                beta2: round(beta2),
                eps: round(h.eps.unwrap_or(base.eps)),
                weight_decay: wd(base.weight_decay),
                amsgrad: h.amsgrad.unwrap_or(false),
                ..base
            })
        }
        other => {
            return Err(Error::invalid(
                "torch_optim.json: configs.*.optimizer",
                format!("unknown torch.optim class {other}"),
            ))
        }
    })
}

/// Per family of [`FAMILIES`]: (configurations, steps, the largest relative deviation
/// |θ_t,k − θ^torch_t,k| / max(|θ^torch_t,k|, 10⁻³) over its configurations, steps and
/// coordinates). Under `single_precision` θ₀, the hyper-parameters and every gradient are
/// rounded to f32, as a single-precision run would hold them.
pub(super) fn deviations(seed: Seed, single_precision: bool) -> Result<Vec<(usize, usize, f64)>> {
    let fixture: Fixture = serde_json::from_str(FIXTURE)
        .map_err(|e| Error::invalid("tests/fixtures/torch_optim.json", e.to_string()))?;
    let round = |v: f64| if single_precision { single(v) } else { v };
    let theta0: Vec<f64> = fixture.theta0.iter().map(|&v| round(v)).collect();
    let mut out = vec![(0usize, 0usize, 0.0f64); FAMILIES.len()];
    for (name, config) in &fixture.configs {
        let family = FAMILIES
            .iter()
            .position(|f| *f == config.optimizer)
            .ok_or_else(|| {
                Error::invalid(
                    format!("torch_optim.json: configs.{name}.optimizer"),
                    format!("unknown torch.optim class {}", config.optimizer),
                )
            })?;
        let opt = Optimizer::chain(vec![transform(&config.optimizer, &config.hyper, round)?]);
        let steps = config.trajectory.len().saturating_sub(1);
        let iterates = opt.iterates(&theta0, steps as u64, seed, |at, g| {
            gradient(at, g);
            g.iter_mut().for_each(|v| *v = round(*v));
        })?;
        let mut worst = 0.0f64;
        for (ours, theirs) in iterates.iter().zip(&config.trajectory) {
            if ours.len() != theirs.len() {
                return Err(Error::invalid(
                    format!("torch_optim.json: configs.{name}.trajectory"),
                    format!("rows of {} values, θ₀ has {}", theirs.len(), ours.len()),
                ));
            }
            for (a, b) in ours.iter().zip(theirs) {
                let rel = (a - b).abs() / b.abs().max(1e-3);
                worst = if rel.is_nan() { rel } else { worst.max(rel) };
            }
        }
        let entry = &mut out[family];
        entry.0 += 1;
        entry.1 = entry.1.max(steps);
        entry.2 = if worst.is_nan() {
            worst
        } else {
            entry.2.max(worst)
        };
    }
    Ok(out)
}
