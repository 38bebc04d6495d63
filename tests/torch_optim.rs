//! The PyTorch-compatible transforms against torch.optim trajectories (float64, CPU), from
//! `tests/fixtures/torch_optim.json` (made by `tests/fixtures/make_torch_fixtures.py`).
//!
//! Tolerance: 1e-12 relative per coordinate over 60 steps. Bit equality is not expected:
//! PyTorch's CPU kernels for `add_`, `addcdiv_` and `lerp_` may use fused multiply-adds, which
//! round once where our scalar code rounds twice (a few ulps per step at most); the measured
//! worst case is printed by the test.

use gradflow::optim::{AdaGrad, Adam, Optimizer, RmsProp, TorchSgd, Transform};
use gradflow::rng::Seed;
use serde_json::Value;

fn gradient(theta: &[f64]) -> Vec<f64> {
    theta
        .iter()
        .enumerate()
        .map(|(k, &t)| (1.0 + 0.5 * k as f64) * t + 0.5 * t * t - 0.3)
        .collect()
}

fn get(h: &Value, key: &str, default: f64) -> f64 {
    h.get(key).and_then(Value::as_f64).unwrap_or(default)
}

fn flag(h: &Value, key: &str, default: bool) -> bool {
    h.get(key).and_then(Value::as_bool).unwrap_or(default)
}

/// The transform a fixture names, with the settings it lists; every other setting is the
/// library's torch default (so the trajectories check those defaults against torch's too).
fn transform(optimizer: &str, h: &Value) -> Box<dyn Transform> {
    let lr = get(h, "lr", f64::NAN);
    match optimizer {
        "SGD" => {
            let d = TorchSgd::torch_default(lr);
            Box::new(TorchSgd {
                momentum: get(h, "momentum", d.momentum),
                dampening: get(h, "dampening", d.dampening),
                nesterov: flag(h, "nesterov", d.nesterov),
                weight_decay: get(h, "weight_decay", d.weight_decay),
                ..d
            })
        }
        "Adagrad" => {
            let d = AdaGrad::torch_default(lr);
            Box::new(AdaGrad {
                lr_decay: get(h, "lr_decay", d.lr_decay),
                weight_decay: get(h, "weight_decay", d.weight_decay),
                initial_accumulator_value: get(
                    h,
                    "initial_accumulator_value",
                    d.initial_accumulator_value,
                ),
                eps: get(h, "eps", d.eps),
                ..d
            })
        }
        "RMSprop" => {
            let d = RmsProp::torch_default(lr);
            Box::new(RmsProp {
                alpha: get(h, "alpha", d.alpha),
                eps: get(h, "eps", d.eps),
                weight_decay: get(h, "weight_decay", d.weight_decay),
                momentum: get(h, "momentum", d.momentum),
                centered: flag(h, "centered", d.centered),
                ..d
            })
        }
        "Adam" | "AdamW" => {
            let d = if optimizer == "Adam" {
                Adam::torch_default(lr)
            } else {
                Adam::adamw_default(lr)
            };
            let betas = h.get("betas").and_then(Value::as_array);
            Box::new(Adam {
                beta1: betas.map_or(d.beta1, |b| b[0].as_f64().unwrap()),
                beta2: betas.map_or(d.beta2, |b| b[1].as_f64().unwrap()),
                eps: get(h, "eps", d.eps),
                weight_decay: get(h, "weight_decay", d.weight_decay),
                amsgrad: flag(h, "amsgrad", d.amsgrad),
                ..d
            })
        }
        other => panic!("fixture names an unknown optimizer {other}"),
    }
}

#[test]
fn torch_compatible_transforms_match_torch_optim() {
    let text = include_str!("fixtures/torch_optim.json");
    let fixtures: Value = serde_json::from_str(text).unwrap();
    let theta0: Vec<f64> = fixtures["theta0"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let configs = fixtures["configs"].as_object().unwrap();
    assert!(configs.len() >= 12);
    let mut worst_overall: f64 = 0.0;
    for (name, config) in configs {
        let opt = Optimizer::chain(vec![transform(
            config["optimizer"].as_str().unwrap(),
            &config["hyper"],
        )]);
        let expected = config["trajectory"].as_array().unwrap();
        // The library's step loop (the trainer's step, with its step contexts).
        let steps = expected.len() as u64 - 1;
        let iterates = opt
            .iterates(&theta0, steps, Seed(0), |at, g| {
                g.copy_from_slice(&gradient(at))
            })
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut worst: f64 = 0.0;
        for (theta, row) in iterates.iter().zip(expected).skip(1) {
            for (k, want) in row.as_array().unwrap().iter().enumerate() {
                let want = want.as_f64().unwrap();
                let rel = (theta[k] - want).abs() / want.abs().max(1e-3);
                worst = worst.max(rel);
            }
        }
        eprintln!("{name:<28} worst relative deviation from torch: {worst:.2e}");
        assert!(worst < 1e-12, "{name}: {worst:e}");
        worst_overall = worst_overall.max(worst);
    }
    eprintln!("worst over all configurations: {worst_overall:.2e}");
}
