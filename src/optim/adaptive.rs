//! Adaptive methods with `torch.optim`'s defaults and update order: AdaGrad, RMSprop
//! (centered, momentum), Adam (AMSGrad) and AdamW (decoupled weight decay).
//!
//! Exponential averages are written as PyTorch computes them: `m.lerp_(g, 1−β)` is
//! m + (1−β)(g − m) (PyTorch's CPU lerp for weights < 1/2), `v.mul_(β).addcmul_(g, g, 1−β)` is
//! β v + (1−β) g². The remaining differences to PyTorch are fused multiply-adds inside its
//! vectorised kernels: a few units in the last place, which the trajectory tests bound.

use super::{Schedule, State, StepContext, Transform};
use crate::error::{check_non_negative, check_unit_interval, Result};
use serde::Deserialize;

/// `impl Default` as PyTorch's defaults, learning rate included: `T::torch_default(T::TORCH_LR)`.
macro_rules! torch_defaults {
    ($ty:ident, $torch:literal) => {
        impl Default for $ty {
            #[doc = concat!("`torch.optim.", $torch, "`'s defaults, learning rate included.")]
            fn default() -> $ty {
                $ty::torch_default($ty::TORCH_LR)
            }
        }
    };
}

/// PyTorch's lerp: a + w (b − a) for |w| < 1/2, b − (b − a)(1 − w) otherwise.
#[inline]
fn lerp(a: f64, b: f64, w: f64) -> f64 {
    if w.abs() < 0.5 {
        a + w * (b - a)
    } else {
        b - (b - a) * (1.0 - w)
    }
}

/// `torch.optim.Adagrad` (defaults: lr 0.01, lr_decay 0, weight_decay 0,
/// initial_accumulator_value 0, eps 1e-10):
/// g ← g + λθ; s ← s + g²; Δθ = −η/(1 + (t−1)·decay) · g / (√s + ε).
///
/// Read from a spec, a missing setting takes PyTorch's default ([`Default`]).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdaGrad {
    /// η.
    #[serde(deserialize_with = "Schedule::number_or_table")]
    pub lr: Schedule,
    /// lr_decay.
    pub lr_decay: f64,
    /// λ.
    pub weight_decay: f64,
    /// Initial value of s.
    pub initial_accumulator_value: f64,
    /// ε.
    pub eps: f64,
}

impl AdaGrad {
    /// `torch.optim.Adagrad`'s default learning rate.
    pub const TORCH_LR: f64 = 0.01;

    /// `torch.optim.Adagrad`'s defaults at learning rate `lr`.
    pub fn torch_default(lr: f64) -> AdaGrad {
        AdaGrad {
            lr: lr.into(),
            lr_decay: 0.0,
            weight_decay: 0.0,
            initial_accumulator_value: 0.0,
            eps: 1e-10,
        }
    }
}

torch_defaults!(AdaGrad, "Adagrad");

impl Transform for AdaGrad {
    fn validate(&self, at: &str) -> Result<()> {
        self.lr.validate(&format!("{at}.lr"))?;
        check_non_negative(&format!("{at}.lr_decay"), self.lr_decay)?;
        check_non_negative(&format!("{at}.weight_decay"), self.weight_decay)?;
        check_non_negative(
            &format!("{at}.initial_accumulator_value"),
            self.initial_accumulator_value,
        )?;
        check_non_negative(&format!("{at}.eps"), self.eps)?;
        Ok(())
    }
    fn init(&self, params: &[f64]) -> State {
        State {
            buffers: vec![vec![self.initial_accumulator_value; params.len()]],
            count: 0,
        }
    }
    fn update(&self, v: &mut [f64], state: &mut State, params: &[f64], ctx: &StepContext) {
        let step = (state.count + 1) as f64;
        let clr = self.lr.at(ctx.step) / (1.0 + (step - 1.0) * self.lr_decay);
        for (k, g) in v.iter_mut().enumerate() {
            let grad = if self.weight_decay != 0.0 {
                *g + self.weight_decay * params[k]
            } else {
                *g
            };
            let s = &mut state.buffers[0][k];
            *s += grad * grad;
            *g = -clr * (grad / (s.sqrt() + self.eps));
        }
    }
}

/// `torch.optim.RMSprop` (defaults: lr 0.01, alpha 0.99, eps 1e-8, weight_decay 0,
/// momentum 0, centered false): g ← g + λθ; v ← α v + (1−α) g²;
/// centered: ḡ ← lerp(ḡ, g, 1−α), d = √(v − ḡ²) + ε, else d = √v + ε;
/// momentum: b ← μ b + g/d, Δθ = −η b; otherwise Δθ = −η g/d.
///
/// Read from a spec, a missing setting takes PyTorch's default ([`Default`]).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RmsProp {
    /// η.
    #[serde(deserialize_with = "Schedule::number_or_table")]
    pub lr: Schedule,
    /// α.
    pub alpha: f64,
    /// ε.
    pub eps: f64,
    /// λ.
    pub weight_decay: f64,
    /// μ.
    pub momentum: f64,
    /// Subtract the squared mean gradient.
    pub centered: bool,
}

impl RmsProp {
    /// `torch.optim.RMSprop`'s default learning rate.
    pub const TORCH_LR: f64 = 0.01;

    /// `torch.optim.RMSprop`'s defaults at learning rate `lr`.
    pub fn torch_default(lr: f64) -> RmsProp {
        RmsProp {
            lr: lr.into(),
            alpha: 0.99,
            eps: 1e-8,
            weight_decay: 0.0,
            momentum: 0.0,
            centered: false,
        }
    }
}

torch_defaults!(RmsProp, "RMSprop");

impl Transform for RmsProp {
    fn validate(&self, at: &str) -> Result<()> {
        self.lr.validate(&format!("{at}.lr"))?;
        check_unit_interval(&format!("{at}.alpha"), self.alpha)?;
        check_non_negative(&format!("{at}.eps"), self.eps)?;
        check_non_negative(&format!("{at}.weight_decay"), self.weight_decay)?;
        check_non_negative(&format!("{at}.momentum"), self.momentum)?;
        Ok(())
    }
    fn init(&self, params: &[f64]) -> State {
        State::zeros(3, params.len())
    }
    fn update(&self, v: &mut [f64], state: &mut State, params: &[f64], ctx: &StepContext) {
        let lr = self.lr.at(ctx.step);
        let alpha = self.alpha;
        let [sq, avg, buf] = &mut state.buffers[..] else {
            unreachable!("RmsProp state has three buffers")
        };
        for (k, g) in v.iter_mut().enumerate() {
            let grad = if self.weight_decay != 0.0 {
                *g + self.weight_decay * params[k]
            } else {
                *g
            };
            sq[k] = sq[k] * alpha + (1.0 - alpha) * (grad * grad);
            let denom = if self.centered {
                avg[k] = lerp(avg[k], grad, 1.0 - alpha);
                (sq[k] - avg[k] * avg[k]).sqrt() + self.eps
            } else {
                sq[k].sqrt() + self.eps
            };
            *g = if self.momentum > 0.0 {
                buf[k] = buf[k] * self.momentum + grad / denom;
                -lr * buf[k]
            } else {
                -lr * (grad / denom)
            };
        }
    }
}

/// `torch.optim.Adam` / `AdamW` (defaults: lr 1e-3, betas (0.9, 0.999), eps 1e-8,
/// weight_decay 0 for Adam and 1e-2 for AdamW, amsgrad false):
/// AdamW first shrinks θ ← θ(1 − ηλ) (decoupled), Adam adds λθ to g (coupled);
/// m ← lerp(m, g, 1−β₁); v ← β₂ v + (1−β₂) g²; v̂ = max(v̂, v) with AMSGrad;
/// Δθ = −(η / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε).
///
/// Read from a spec, a missing setting takes PyTorch's default ([`Default`]).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Adam {
    /// η.
    #[serde(deserialize_with = "Schedule::number_or_table")]
    pub lr: Schedule,
    /// β₁.
    pub beta1: f64,
    /// β₂.
    pub beta2: f64,
    /// ε.
    pub eps: f64,
    /// λ.
    pub weight_decay: f64,
    /// AMSGrad's running maximum of v.
    pub amsgrad: bool,
    /// Decoupled weight decay (AdamW; not a spec setting: the spec's `adamw` kind).
    #[serde(skip)]
    pub decoupled: bool,
}

impl Adam {
    /// `torch.optim.Adam`'s (and AdamW's) default learning rate.
    pub const TORCH_LR: f64 = 1e-3;

    /// `torch.optim.Adam`'s defaults at learning rate `lr`.
    pub fn torch_default(lr: f64) -> Adam {
        Adam {
            lr: lr.into(),
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            amsgrad: false,
            decoupled: false,
        }
    }

    /// `torch.optim.AdamW`'s defaults at learning rate `lr` (weight decay 1e-2).
    pub fn adamw_default(lr: f64) -> Adam {
        Adam {
            weight_decay: 1e-2,
            decoupled: true,
            ..Adam::torch_default(lr)
        }
    }
}

torch_defaults!(Adam, "Adam");

impl Transform for Adam {
    fn validate(&self, at: &str) -> Result<()> {
        self.lr.validate(&format!("{at}.lr"))?;
        check_unit_interval(&format!("{at}.beta1"), self.beta1)?;
        check_unit_interval(&format!("{at}.beta2"), self.beta2)?;
        check_non_negative(&format!("{at}.eps"), self.eps)?;
        check_non_negative(&format!("{at}.weight_decay"), self.weight_decay)?;
        Ok(())
    }
    fn init(&self, params: &[f64]) -> State {
        State::zeros(if self.amsgrad { 3 } else { 2 }, params.len())
    }
    fn update(&self, v: &mut [f64], state: &mut State, params: &[f64], ctx: &StepContext) {
        let lr = self.lr.at(ctx.step);
        let step = (state.count + 1) as f64;
        let bias1 = 1.0 - self.beta1.powf(step);
        let bias2_sqrt = (1.0 - self.beta2.powf(step)).sqrt();
        let step_size = lr / bias1;
        let (wd, b1, b2) = (self.weight_decay, self.beta1, self.beta2);
        let (m, rest) = state.buffers.split_at_mut(1);
        let (sq, max_sq) = rest.split_at_mut(1);
        let (m, sq) = (&mut m[0], &mut sq[0]);
        for (k, g) in v.iter_mut().enumerate() {
            let mut grad = *g;
            // The decoupled decay multiplies θ by (1 − ηλ): as an increment, θ(1 − ηλ) − θ.
            let decay = if wd != 0.0 && self.decoupled {
                params[k] * (1.0 - lr * wd) - params[k]
            } else {
                0.0
            };
            if wd != 0.0 && !self.decoupled {
                grad += wd * params[k];
            }
            m[k] = lerp(m[k], grad, 1.0 - b1);
            sq[k] = sq[k] * b2 + (1.0 - b2) * (grad * grad);
            let second = if self.amsgrad {
                let mx = &mut max_sq[0][k];
                *mx = mx.max(sq[k]);
                *mx
            } else {
                sq[k]
            };
            let denom = second.sqrt() / bias2_sqrt + self.eps;
            *g = decay + -step_size * (m[k] / denom);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{test_gradient, trajectory};
    use super::super::Optimizer;
    use super::*;

    #[test]
    fn adam_first_step_is_lr_times_sign() {
        // With m₀ = v₀ = 0: m̂₁ = g, v̂₁ = g², so Δθ = −η g/(|g| + ε) ≈ −η sign(g).
        let opt = Optimizer::chain(vec![Box::new(Adam::torch_default(0.01))]);
        let traj = trajectory(&opt, &[0.5, -2.0], 1, |x| vec![3.0 * x[0], x[1]]);
        assert!((traj[1][0] - (0.5 - 0.01)).abs() < 1e-9);
        assert!((traj[1][1] - (-2.0 + 0.01)).abs() < 1e-9);
    }

    #[test]
    fn adagrad_by_hand() {
        // g₁ = 2 (θ = 1, L = θ²): s = 4, Δ = −0.1·2/(2 + ε) ≈ −0.1.
        let opt = Optimizer::chain(vec![Box::new(AdaGrad {
            lr: 0.1.into(),
            lr_decay: 0.0,
            weight_decay: 0.0,
            initial_accumulator_value: 0.0,
            eps: 1e-10,
        })]);
        let traj = trajectory(&opt, &[1.0], 2, |x| vec![2.0 * x[0]]);
        assert!((traj[1][0] - 0.9).abs() < 1e-10);
        // g₂ = 1.8, s = 4 + 3.24 = 7.24: θ₂ = 0.9 − 0.1·1.8/√7.24.
        assert!((traj[2][0] - (0.9 - 0.18 / 7.24f64.sqrt())).abs() < 1e-10);
    }

    #[test]
    fn rmsprop_centered_momentum_matches_formula() {
        let (lr, alpha, eps, mu) = (0.01, 0.9, 1e-8, 0.5);
        let opt = Optimizer::chain(vec![Box::new(RmsProp {
            lr: lr.into(),
            alpha,
            eps,
            weight_decay: 0.0,
            momentum: mu,
            centered: true,
        })]);
        let theta0 = [1.0, -0.5];
        let traj = trajectory(&opt, &theta0, 4, test_gradient);
        let mut th = theta0.to_vec();
        let (mut v, mut a, mut b) = ([0.0; 2], [0.0; 2], [0.0; 2]);
        for _ in 0..4 {
            let g = test_gradient(&th);
            for k in 0..2 {
                v[k] = alpha * v[k] + (1.0 - alpha) * g[k] * g[k];
                a[k] = alpha * a[k] + (1.0 - alpha) * g[k];
                let d = (v[k] - a[k] * a[k]).sqrt() + eps;
                b[k] = mu * b[k] + g[k] / d;
                th[k] -= lr * b[k];
            }
        }
        for k in 0..2 {
            assert!(
                (traj[4][k] - th[k]).abs() < 1e-12,
                "{} vs {}",
                traj[4][k],
                th[k]
            );
        }
    }

    #[test]
    fn adamw_decay_is_decoupled() {
        // With a zero gradient Adam's moment terms vanish and only the decay moves θ:
        // AdamW: θ₁ = θ₀(1 − ηλ); coupled Adam: θ moves by ≈ −η sign(λθ₀).
        let w = Optimizer::chain(vec![Box::new(Adam {
            weight_decay: 0.1,
            ..Adam::adamw_default(0.01)
        })]);
        let t = trajectory(&w, &[2.0], 1, |_| vec![0.0]);
        assert!((t[1][0] - 2.0 * (1.0 - 0.001)).abs() < 1e-15);
        let c = Optimizer::chain(vec![Box::new(Adam {
            weight_decay: 0.1,
            ..Adam::torch_default(0.01)
        })]);
        let t = trajectory(&c, &[2.0], 1, |_| vec![0.0]);
        assert!((t[1][0] - (2.0 - 0.01)).abs() < 1e-8);
    }
}
