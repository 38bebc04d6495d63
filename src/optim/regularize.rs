//! Gradient-side regularisers: weight decay (L2) and anchoring to the initialisation.

use super::{State, StepContext, Transform};
use crate::error::{check_non_negative, Result};
use serde::Deserialize;

/// Weight decay as an L2 term on the gradient: g ← g + λ θ (the gradient of λ/2 ‖θ‖²).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeightDecay {
    /// λ.
    pub coefficient: f64,
}

impl Transform for WeightDecay {
    fn validate(&self, at: &str) -> Result<()> {
        check_non_negative(&format!("{at}.coefficient"), self.coefficient)?;
        Ok(())
    }
    fn update(&self, v: &mut [f64], _state: &mut State, params: &[f64], _ctx: &StepContext) {
        v.iter_mut()
            .zip(params)
            .for_each(|(g, &p)| *g += self.coefficient * p);
    }
}

/// Regularisation towards the initialisation: g ← g + λ(θ − θ₀), the gradient of
/// λ/2 ‖θ − θ₀‖² (averaged SGD in the NTK regime, Nitanda & Suzuki 2020). θ₀ is the parameter
/// vector the optimizer state was initialised with.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Anchor {
    /// λ.
    pub lambda: f64,
}

impl Transform for Anchor {
    fn validate(&self, at: &str) -> Result<()> {
        check_non_negative(&format!("{at}.lambda"), self.lambda)?;
        Ok(())
    }
    fn init(&self, params: &[f64]) -> State {
        State {
            buffers: vec![params.to_vec()],
            count: 0,
        }
    }
    fn update(&self, v: &mut [f64], state: &mut State, params: &[f64], _ctx: &StepContext) {
        for ((g, &p), &p0) in v.iter_mut().zip(params).zip(&state.buffers[0]) {
            *g += self.lambda * (p - p0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::trajectory;
    use super::super::{Optimizer, Sgd};
    use super::*;

    #[test]
    fn anchor_pulls_back_to_the_initialisation() {
        // L = 0 plus anchor: the fixed point is θ₀; on L = ½(θ − 3)² with λ = 1 it is
        // the midpoint (3 + θ₀)/2.
        let opt = Optimizer::chain(vec![
            Box::new(Anchor { lambda: 1.0 }),
            Box::new(Sgd { lr: 0.1.into() }),
        ]);
        let traj = trajectory(&opt, &[1.0], 400, |x| vec![x[0] - 3.0]);
        assert!((traj[400][0] - 2.0).abs() < 1e-12);
    }

    #[test]
    fn weight_decay_adds_lambda_theta() {
        let opt = Optimizer::chain(vec![
            Box::new(WeightDecay { coefficient: 0.5 }),
            Box::new(Sgd { lr: 0.1.into() }),
        ]);
        let traj = trajectory(&opt, &[2.0], 1, |_| vec![1.0]);
        // θ₁ = 2 − 0.1 (1 + 0.5·2) = 1.8.
        assert!((traj[1][0] - 1.8).abs() < 1e-15);
    }
}
