//! Plain gradient descent, the document's momentum and look-ahead Nesterov, and PyTorch's SGD.

use super::{Points, Schedule, State, StepContext, Transform};
use crate::error::{check_non_negative, check_unit_interval, Result};
use serde::Deserialize;

/// Gradient descent: Δw_t = −η_t g_t.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sgd {
    /// η_t.
    #[serde(deserialize_with = "Schedule::number_or_table")]
    pub lr: Schedule,
}

impl Transform for Sgd {
    fn validate(&self, at: &str) -> Result<()> {
        self.lr.validate(&format!("{at}.lr"))?;
        Ok(())
    }
    fn update(&self, v: &mut [f64], _state: &mut State, _params: &[f64], ctx: &StepContext) {
        let lr = self.lr.at(ctx.step);
        v.iter_mut().for_each(|g| *g *= -lr);
    }
}

/// The document's heavy ball, Δw_t = θ Δw_{t−1} − (1−θ) η_t g_t with Δw_0 = 0, its gradient
/// taken at w_t ([`Momentum`]) or at the look-ahead point w_t + θ Δw_{t−1} ([`Nesterov`]).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeavyBall<const LOOK_AHEAD: bool> {
    /// θ ∈ [0, 1).
    pub theta: f64,
    /// η_t.
    #[serde(deserialize_with = "Schedule::number_or_table")]
    pub lr: Schedule,
}

/// Momentum in the source document's form: Δw_t = θ Δw_{t−1} − (1−θ) η_t g_t, Δw_0 = 0.
pub type Momentum = HeavyBall<false>;

/// Nesterov's accelerated gradient in the source document's form: the gradient is taken at the
/// look-ahead point, g_t = ∇L(w_t + θ Δw_{t−1}), and Δw_t = θ Δw_{t−1} − (1−θ) η_t g_t.
pub type Nesterov = HeavyBall<true>;

impl<const LOOK_AHEAD: bool> Transform for HeavyBall<LOOK_AHEAD> {
    fn validate(&self, at: &str) -> Result<()> {
        self.lr.validate(&format!("{at}.lr"))?;
        check_unit_interval(&format!("{at}.theta"), self.theta)?;
        Ok(())
    }
    fn init(&self, params: &[f64]) -> State {
        State::zeros(1, params.len())
    }
    fn update(&self, v: &mut [f64], state: &mut State, _params: &[f64], ctx: &StepContext) {
        let c = (1.0 - self.theta) * self.lr.at(ctx.step);
        for (g, d) in v.iter_mut().zip(state.buffers[0].iter_mut()) {
            *d = self.theta * *d - c * *g;
            *g = *d;
        }
    }
    /// Nesterov: the look-ahead point w_t + θ Δw_{t−1}; momentum: none (the gradient at w_t).
    fn gradient_points(
        &self,
        params: &[f64],
        state: &State,
        _ctx: &StepContext,
        points: &mut Points,
    ) {
        if LOOK_AHEAD {
            let point = points.push(params.len());
            for ((p, &w), &d) in point.iter_mut().zip(params).zip(&state.buffers[0]) {
                *p = w + self.theta * d;
            }
        }
    }
}

/// `torch.optim.SGD` with its update order and defaults (momentum 0, dampening 0,
/// nesterov false, weight_decay 0):
/// g ← g + λθ; b₁ = g, b_t = μ b_{t−1} + (1−τ) g; g ← g + μ b (nesterov) or b; Δθ = −η g.
///
/// Read from a spec, every setting but `lr` defaults to PyTorch's, all zero (false).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TorchSgd {
    /// η.
    #[serde(deserialize_with = "Schedule::number_or_table")]
    pub lr: Schedule,
    /// μ.
    #[serde(default)]
    pub momentum: f64,
    /// τ.
    #[serde(default)]
    pub dampening: f64,
    /// Nesterov's variant (PyTorch's, not the document's look-ahead).
    #[serde(default)]
    pub nesterov: bool,
    /// λ (coupled L2: added to the gradient).
    #[serde(default)]
    pub weight_decay: f64,
}

impl TorchSgd {
    /// `torch.optim.SGD`'s defaults (no momentum, dampening or weight decay) at learning rate
    /// `lr`.
    pub fn torch_default(lr: f64) -> TorchSgd {
        TorchSgd {
            lr: lr.into(),
            momentum: 0.0,
            dampening: 0.0,
            nesterov: false,
            weight_decay: 0.0,
        }
    }
}

impl Transform for TorchSgd {
    fn validate(&self, at: &str) -> Result<()> {
        self.lr.validate(&format!("{at}.lr"))?;
        check_non_negative(&format!("{at}.momentum"), self.momentum)?;
        check_non_negative(&format!("{at}.dampening"), self.dampening)?;
        check_non_negative(&format!("{at}.weight_decay"), self.weight_decay)?;
        if self.nesterov && (self.momentum <= 0.0 || self.dampening != 0.0) {
            return Err(crate::error::Error::invalid(
                format!("{at}.nesterov"),
                "PyTorch's Nesterov momentum requires momentum > 0 and zero dampening",
            ));
        }
        Ok(())
    }
    fn init(&self, params: &[f64]) -> State {
        State::zeros(usize::from(self.momentum != 0.0), params.len())
    }
    fn update(&self, v: &mut [f64], state: &mut State, params: &[f64], ctx: &StepContext) {
        let lr = self.lr.at(ctx.step);
        let first = state.count == 0;
        let (mu, wd) = (self.momentum, self.weight_decay);
        for (k, g) in v.iter_mut().enumerate() {
            let mut grad = *g;
            if wd != 0.0 {
                grad += wd * params[k];
            }
            if mu != 0.0 {
                let b = &mut state.buffers[0][k];
                *b = if first {
                    grad
                } else {
                    *b * mu + (1.0 - self.dampening) * grad
                };
                grad = if self.nesterov { grad + mu * *b } else { *b };
            }
            *g = -lr * grad;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{test_gradient, trajectory};
    use super::super::Optimizer;
    use super::*;

    #[test]
    fn sgd_and_document_momentum_by_hand() {
        // L = ½ θ² (gradient θ), θ₀ = 1, η = 0.1, θ = 0.5:
        // Δ₁ = −0.5·0.1·1 = −0.05 → θ₁ = 0.95; Δ₂ = 0.5(−0.05) − 0.05·0.95 = −0.0725 → 0.8775.
        let m = Optimizer::chain(vec![Box::new(Momentum {
            theta: 0.5,
            lr: 0.1.into(),
        })]);
        let traj = trajectory(&m, &[1.0], 2, |x| x.to_vec());
        assert!((traj[1][0] - 0.95).abs() < 1e-15);
        assert!((traj[2][0] - 0.8775).abs() < 1e-15);
        let s = Optimizer::chain(vec![Box::new(Sgd { lr: 0.1.into() })]);
        let traj = trajectory(&s, &[1.0], 2, |x| x.to_vec());
        assert!((traj[2][0] - 0.81).abs() < 1e-15);
    }

    #[test]
    fn nesterov_takes_the_gradient_at_the_look_ahead_point() {
        // Gradient ∇L(w) = w²: step 1 at w₀ = 1 (Δ₀ = 0): Δ₁ = −0.5·0.1·1 = −0.05, w₁ = 0.95.
        // Step 2 at w₁ + 0.5Δ₁ = 0.925: Δ₂ = 0.5(−0.05) − 0.05·0.925² = −0.067781…
        let n = Optimizer::chain(vec![Box::new(Nesterov {
            theta: 0.5,
            lr: 0.1.into(),
        })]);
        let traj = trajectory(&n, &[1.0], 2, |x| vec![x[0] * x[0]]);
        let d2 = 0.5 * -0.05 - 0.05 * 0.925f64.powi(2);
        assert!((traj[2][0] - (0.95 + d2)).abs() < 1e-15);
        // And it differs from momentum on the same problem.
        let m = Optimizer::chain(vec![Box::new(Momentum {
            theta: 0.5,
            lr: 0.1.into(),
        })]);
        let tm = trajectory(&m, &[1.0], 2, |x| vec![x[0] * x[0]]);
        assert!((tm[2][0] - traj[2][0]).abs() > 1e-4);
    }

    #[test]
    fn torch_sgd_first_buffer_is_the_gradient() {
        // PyTorch: b₁ = g₁, so the first step is −η g₁ (the document's would be −(1−θ)η g₁).
        let t = Optimizer::chain(vec![Box::new(TorchSgd {
            lr: 0.1.into(),
            momentum: 0.5,
            dampening: 0.0,
            nesterov: false,
            weight_decay: 0.0,
        })]);
        let traj = trajectory(&t, &[1.0], 2, |x| x.to_vec());
        assert!((traj[1][0] - 0.9).abs() < 1e-15);
        // b₂ = 0.5·1 + 0.9 = 1.4 → θ₂ = 0.9 − 0.14 = 0.76.
        assert!((traj[2][0] - 0.76).abs() < 1e-15);
    }

    /// Momentum, weight decay and dampening (PyTorch's plain variant), and momentum, weight
    /// decay and Nesterov (which PyTorch allows only without dampening).
    #[test]
    fn torch_sgd_with_everything_matches_the_formula() {
        let (lr, mu, wd) = (0.05, 0.9, 0.01);
        for (nesterov, tau) in [(false, 0.1), (true, 0.0)] {
            let t = Optimizer::chain(vec![Box::new(TorchSgd {
                lr: lr.into(),
                momentum: mu,
                dampening: tau,
                nesterov,
                weight_decay: wd,
            })]);
            let theta0 = [0.3, -1.2, 2.0];
            let traj = trajectory(&t, &theta0, 5, test_gradient);
            // Independent re-implementation, written out per coordinate.
            let mut th = theta0.to_vec();
            let mut buf = [0.0; 3];
            for step in 0..5 {
                let g0 = test_gradient(&th);
                for k in 0..3 {
                    let g = g0[k] + wd * th[k];
                    buf[k] = if step == 0 {
                        g
                    } else {
                        mu * buf[k] + (1.0 - tau) * g
                    };
                    let direction = if nesterov { g + mu * buf[k] } else { buf[k] };
                    th[k] -= lr * direction;
                }
            }
            for k in 0..3 {
                assert!((traj[5][k] - th[k]).abs() < 1e-14, "nesterov {nesterov}");
            }
        }
    }
}
