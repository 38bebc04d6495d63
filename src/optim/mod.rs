//! Optimizers as composable transforms over a flat parameter slice (the optax idea).
//!
//! A [`Transform`] turns the vector it is given in place: the first transform of a chain receives
//! the gradient ∇L(θ_t); the optimizer transform (SGD, Adam, …) turns it into the parameter
//! increment Δθ_t, learning rate included; later transforms act on the increment (Langevin noise,
//! the semi-implicit preconditioner). The training loop then sets θ_{t+1} = θ_t + Δθ_t.
//! Transforms placed before the optimizer act on the gradient ([`WeightDecay`], [`Anchor`]).
//!
//! So gradient Langevin dynamics is `[Sgd, LangevinNoise]`, averaged SGD with regularisation to
//! the initialisation is `[Anchor, Sgd]` plus an [`IterateAverage`] observer, and the
//! infinite-dimensional scheme is `[Sgd, LangevinNoise, SemiImplicit]`.
//!
//! The document's momentum and look-ahead Nesterov ([`Momentum`], [`Nesterov`]) and PyTorch's
//! ([`TorchSgd`]) are different transforms: the document's velocity is
//! Δw_t = θ Δw_{t−1} − (1−θ) η g_t, so its first step is −(1−θ)η g₁, whereas PyTorch's buffer
//! starts at b₁ = g₁ and the first step is −η g₁.

pub mod adaptive;
pub mod average;
pub mod langevin;
pub mod regularize;
pub mod schedule;
pub mod sgd;

pub use adaptive::{AdaGrad, Adam, RmsProp};
pub use average::IterateAverage;
pub use langevin::{LangevinNoise, SemiImplicit};
pub use regularize::{Anchor, WeightDecay};
pub use schedule::Schedule;
pub use sgd::{Momentum, Nesterov, Sgd, TorchSgd};

use crate::rng::Seed;
use serde::{Deserialize, Serialize};

/// What a transform knows about the current step.
#[derive(Clone, Copy, Debug)]
pub struct StepContext {
    /// The step index t, starting at 0.
    pub step: u64,
    /// The run's seed (noise transforms draw `seed.stream(.., step)`).
    pub seed: Seed,
}

/// The state of one transform: vectors the size of the parameters and a step counter.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    /// Buffers (momentum, second moments, θ₀, …), each as long as the parameters.
    pub buffers: Vec<Vec<f64>>,
    /// Number of updates applied so far.
    pub count: u64,
}

impl State {
    /// `count` zero buffers of length `len`.
    pub fn zeros(count: usize, len: usize) -> State {
        State {
            buffers: vec![vec![0.0; len]; count],
            count: 0,
        }
    }
}

/// One stage of an optimizer chain.
pub trait Transform: Send + Sync + std::fmt::Debug {
    /// The state before the first step, for parameters θ₀.
    fn init(&self, _params: &[f64]) -> State {
        State::default()
    }
    /// Transforms `v` in place (the gradient, or the increment built so far) at parameters θ_t.
    fn update(&self, v: &mut [f64], state: &mut State, params: &[f64], ctx: &StepContext);
    /// Where the gradient of the next step is to be evaluated, if not at θ_t (look-ahead
    /// methods): writes the point into `point` and returns true.
    fn lookahead(&self, _params: &[f64], _state: &State, _point: &mut [f64]) -> bool {
        false
    }
}

/// A chain of transforms applied in order, with their states.
#[derive(Debug)]
pub struct Optimizer {
    /// The transforms, first to last.
    pub transforms: Vec<Box<dyn Transform>>,
}

impl Optimizer {
    /// A chain of transforms.
    pub fn chain(transforms: Vec<Box<dyn Transform>>) -> Optimizer {
        Optimizer { transforms }
    }

    /// The initial states, one per transform.
    pub fn init(&self, params: &[f64]) -> Vec<State> {
        self.transforms.iter().map(|t| t.init(params)).collect()
    }

    /// Turns the gradient `grad` into the increment Δθ (in place), advancing every state.
    pub fn update(
        &self,
        grad: &mut [f64],
        states: &mut [State],
        params: &[f64],
        ctx: &StepContext,
    ) {
        for (t, s) in self.transforms.iter().zip(states.iter_mut()) {
            t.update(grad, s, params, ctx);
            s.count += 1;
        }
    }

    /// The point at which to evaluate the next gradient (θ_t unless a transform looks ahead).
    pub fn lookahead(&self, params: &[f64], states: &[State], point: &mut [f64]) -> bool {
        self.transforms
            .iter()
            .zip(states)
            .any(|(t, s)| t.lookahead(params, s, point))
    }
}

#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    /// Runs `opt` for `steps` steps on the gradient function `grad_fn`, returning every iterate.
    pub fn trajectory(
        opt: &Optimizer,
        theta0: &[f64],
        steps: usize,
        grad_fn: impl Fn(&[f64]) -> Vec<f64>,
    ) -> Vec<Vec<f64>> {
        let mut theta = theta0.to_vec();
        let mut states = opt.init(&theta);
        let mut out = vec![theta.clone()];
        let mut point = theta.clone();
        for t in 0..steps {
            let at = if opt.lookahead(&theta, &states, &mut point) {
                point.clone()
            } else {
                theta.clone()
            };
            let mut g = grad_fn(&at);
            let ctx = StepContext {
                step: t as u64,
                seed: Seed(0),
            };
            opt.update(&mut g, &mut states, &theta, &ctx);
            theta.iter_mut().zip(&g).for_each(|(p, d)| *p += d);
            out.push(theta.clone());
        }
        out
    }

    /// Gradient of L(θ) = ½ Σ_k c_k θ_k² + Σ_k sin(θ_k): a non-quadratic test objective.
    pub fn test_gradient(theta: &[f64]) -> Vec<f64> {
        theta
            .iter()
            .enumerate()
            .map(|(k, &x)| (1.0 + k as f64) * x + x.cos())
            .collect()
    }
}
