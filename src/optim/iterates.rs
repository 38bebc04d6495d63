//! An optimizer chain run on a gradient formula rather than a model: the iterates
//! θ₀, θ₁, …, θ_T of θ_{t+1} = θ_t + Δθ_t, each step one [`Optimizer::step`] (the chain's
//! evaluation points, its update, then the increment), with the step context the training loop
//! gives step t. For quadratics and test objectives whose iterates are compared with closed
//! forms or reference trajectories.

use super::{Optimizer, PlainStep, StepBuffers, StepContext};
use crate::error::Result;
use crate::rng::Seed;

impl Optimizer {
    /// The iterates θ₀ … θ_T of `steps` steps from `theta0`, with the gradient
    /// `gradient(at, g)` (writing ∇L(at) into g) and the run's `seed` (what noise transforms
    /// draw from, as in [`crate::train::Trainer`]). The chain is validated first; a non-finite
    /// iterate stops the run with [`crate::error::Error::Diverged`] naming the step.
    pub fn iterates(
        &self,
        theta0: &[f64],
        steps: u64,
        seed: Seed,
        mut gradient: impl FnMut(&[f64], &mut [f64]),
    ) -> Result<Vec<Vec<f64>>> {
        self.validate()?;
        let mut theta = theta0.to_vec();
        let mut states = self.init(&theta);
        let mut buffers = StepBuffers::default();
        let mut out = Vec::with_capacity(steps as usize + 1);
        out.push(theta.clone());
        for step in 0..steps {
            let ctx = StepContext::new(step, seed);
            let value_and_gradient = |at: &[f64], g: &mut [f64]| {
                gradient(at, g);
                0.0
            };
            self.step(
                &mut theta,
                &mut states,
                &ctx,
                &mut buffers,
                value_and_gradient,
                &mut PlainStep,
            )?;
            out.push(theta.clone());
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;
    use crate::optim::{Nesterov, Sgd};

    #[test]
    fn gradient_descent_iterates_follow_the_closed_form_and_divergence_is_reported() {
        // L = ½ c θ² with GD: θ_t = (1 − ηc)^t θ₀ exactly (powers of a dyadic rational).
        let opt = Optimizer::chain(vec![Box::new(Sgd { lr: 0.25.into() })]);
        let it = opt
            .iterates(&[1.0], 8, Seed(0), |at, g| g[0] = 2.0 * at[0])
            .unwrap();
        for (t, th) in it.iter().enumerate() {
            assert_eq!(th[0], 0.5f64.powi(t as i32));
        }
        // η c = 3 > 2: |θ| grows by 2 per step and overflows.
        let opt = Optimizer::chain(vec![Box::new(Sgd { lr: 1.5.into() })]);
        let err = opt
            .iterates(&[1.0], 2000, Seed(0), |at, g| g[0] = 2.0 * at[0])
            .unwrap_err();
        assert!(matches!(err, Error::Diverged { step, .. } if step > 1000));
    }

    #[test]
    fn nesterov_is_evaluated_at_its_look_ahead_point() {
        // Second step of the document's Nesterov on L = ½θ²: Δw₀ = −(1−θ)η θ₀, then the
        // gradient at w₁ + θΔw₀.
        let (theta, lr) = (0.5, 0.5);
        let opt = Optimizer::chain(vec![Box::new(Nesterov {
            theta,
            lr: lr.into(),
        })]);
        let it = opt
            .iterates(&[1.0], 2, Seed(0), |at, g| g[0] = at[0])
            .unwrap();
        let d0 = -(1.0 - theta) * lr * 1.0;
        let w1 = 1.0 + d0;
        let d1 = theta * d0 - (1.0 - theta) * lr * (w1 + theta * d0);
        assert_eq!(it[1][0], w1);
        assert!((it[2][0] - (w1 + d1)).abs() < 1e-15);
    }
}
