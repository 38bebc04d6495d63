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
mod iterates;
pub mod langevin;
pub mod regularize;
pub mod schedule;
pub mod sgd;

pub use adaptive::{AdaGrad, Adam, RmsProp};
pub use average::IterateAverage;
pub use langevin::{LangevinNoise, PriorGradient, SemiImplicit, Smoothing, SmoothingKind};
pub use regularize::{Anchor, WeightDecay};
pub use schedule::Schedule;
pub use sgd::{HeavyBall, Momentum, Nesterov, Sgd, TorchSgd};

use crate::error::{Error, Result};
use crate::rng::Seed;
use serde::{Deserialize, Serialize};

/// What a transform knows about the current step.
#[derive(Clone, Copy, Debug)]
pub struct StepContext {
    /// The step index t, starting at 0.
    pub step: u64,
    /// The run's seed; inside a chain, the transform's own seed (see
    /// [`StepContext::for_transform`]). Noise transforms draw `seed.child(.., step)`.
    pub seed: Seed,
    /// Where the vector a transform is given sits in the whole parameter vector, when θ is
    /// split over ranks ([`crate::train::shard`]); `None`: it is the whole vector.
    pub shard: Option<crate::train::shard::Segments>,
}

impl StepContext {
    /// The context of step t of a run with seed `seed`.
    pub fn new(step: u64, seed: Seed) -> StepContext {
        StepContext {
            step,
            seed,
            shard: None,
        }
    }

    /// The same context for this rank's part `shard` of a split θ.
    pub fn with_shard(self, shard: Option<crate::train::shard::Segments>) -> StepContext {
        StepContext { shard, ..self }
    }

    /// The context of the transform at position `index` of a chain: the same step, and a seed
    /// of its own (`seed.child("transform", index)`), so that two noise sources of one chain
    /// (two [`LangevinNoise`] transforms, or a tempered [`crate::meanfield::ParticleStep`] and
    /// a noise transform) draw independent noise.
    pub fn for_transform(&self, index: usize) -> StepContext {
        StepContext::new(self.step, self.seed.child("transform", index as u64))
            .with_shard(self.shard)
    }
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
    /// Checks the transform's settings (β ∈ [0, 1), rates > 0, …); errors name the field as
    /// `AT.FIELD`. The trainer calls it (through [`Optimizer::validate`]) before the first step,
    /// so a transform built in Rust is checked like one read from a spec. Required: a transform
    /// with nothing to check says so with `Ok(())`.
    fn validate(&self, at: &str) -> crate::error::Result<()>;
    /// Transforms `v` in place (the gradient, or the increment built so far) at parameters θ_t.
    fn update(&self, v: &mut [f64], state: &mut State, params: &[f64], ctx: &StepContext);
    /// Where the gradient of step t is to be evaluated, if not at θ_t: pushes one or more points
    /// onto `points` (empty on entry) and the loop uses the mean of the gradients there — one
    /// look-ahead point for Nesterov, S perturbed points for a smoothed objective ([`Smoothing`]).
    fn gradient_points(
        &self,
        _params: &[f64],
        _state: &State,
        _ctx: &StepContext,
        _points: &mut Points,
    ) {
    }
}

/// The buffers of a step, kept between steps: the evaluation points, a scratch gradient, and
/// the step's gradient (then its increment) in `grad`.
#[derive(Debug, Default)]
pub struct StepBuffers {
    /// The chain's evaluation points of the step.
    pub points: Points,
    scratch: Vec<f64>,
    /// The gradient after [`Optimizer::gradient`]; the increment Δθ after [`Optimizer::update`].
    pub grad: Vec<f64>,
}

/// Evaluation points of a step's gradient, with their buffers kept between steps.
#[derive(Debug, Default)]
pub struct Points {
    buffers: Vec<Vec<f64>>,
    len: usize,
}

impl Points {
    /// Forgets the points (keeps the buffers).
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// A new point of dimension `dim` to fill in (its content is unspecified).
    pub fn push(&mut self, dim: usize) -> &mut [f64] {
        if self.buffers.len() == self.len {
            self.buffers.push(Vec::new());
        }
        let b = &mut self.buffers[self.len];
        b.resize(dim, 0.0);
        self.len += 1;
        b
    }

    /// The points pushed since the last [`Points::clear`].
    pub fn as_slice(&self) -> &[Vec<f64>] {
        &self.buffers[..self.len]
    }

    /// Number of points.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no point was pushed.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// What the caller of [`Optimizer::step`] does inside a step: between the gradient and the
/// chain's update, and when the increment is applied. The training loop checks for divergence
/// and records its metrics row at θ_t there, zeroes frozen blocks and adds θ_t to its iterate
/// average; [`PlainStep`] only adds the increment.
pub trait StepHooks {
    /// Sees θ_t, the loss and the buffers of [`Optimizer::gradient`] (the gradient in
    /// `buffers.grad`, the evaluation points in `buffers.points`) before the chain's update; an
    /// error ends the step there.
    fn inspect(&mut self, _params: &[f64], _loss: f64, _buffers: &StepBuffers) -> Result<()> {
        Ok(())
    }
    /// θ ← θ + Δθ with Δθ = `delta` (which a hook may change first); returns false when some
    /// entry of θ_{t+1} is not finite.
    fn apply(&mut self, params: &mut [f64], delta: &mut [f64]) -> bool {
        params
            .iter_mut()
            .zip(delta.iter())
            .fold(true, |finite, (p, d)| {
                *p += d;
                finite & p.is_finite()
            })
    }
}

/// The step with no hooks: θ ← θ + Δθ.
#[derive(Clone, Copy, Debug, Default)]
pub struct PlainStep;

impl StepHooks for PlainStep {}

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

    /// Checks every transform's settings ([`Transform::validate`]); errors name the field as
    /// `optimizer[K].FIELD`, K the position in the chain.
    pub fn validate(&self) -> Result<()> {
        self.transforms
            .iter()
            .enumerate()
            .try_for_each(|(k, t)| t.validate(&format!("optimizer[{k}]")))
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
        for (k, (t, s)) in self.transforms.iter().zip(states.iter_mut()).enumerate() {
            t.update(grad, s, params, &ctx.for_transform(k));
            s.count += 1;
        }
    }

    /// The gradient of step t into `buffers.grad` (sized to θ) and the loss it came with:
    /// ∇L(θ_t) where no transform asks for other points, else the mean of ∇L over the points of
    /// [`Optimizer::gradient_points`] (a look-ahead, smoothing perturbations) and the mean loss
    /// there. `value_and_gradient(at, g)` writes ∇L(at) into g and returns L(at).
    pub fn gradient(
        &self,
        params: &[f64],
        states: &[State],
        ctx: &StepContext,
        buffers: &mut StepBuffers,
        mut value_and_gradient: impl FnMut(&[f64], &mut [f64]) -> f64,
    ) -> f64 {
        let p = params.len();
        let StepBuffers {
            points,
            scratch,
            grad,
        } = buffers;
        grad.resize(p, 0.0);
        self.gradient_points(params, states, ctx, points);
        if points.is_empty() {
            return value_and_gradient(params, grad);
        }
        scratch.resize(p, 0.0);
        grad.fill(0.0);
        let mut total = 0.0;
        for at in points.as_slice() {
            total += value_and_gradient(at, scratch);
            grad.iter_mut()
                .zip(scratch.iter())
                .for_each(|(g, q)| *g += q);
        }
        let k = points.len() as f64;
        grad.iter_mut().for_each(|g| *g /= k);
        total / k
    }

    /// One step θ_{t+1} = θ_t + Δθ_t, the one implementation of a step (the training loop and
    /// [`Optimizer::iterates`] both run it): the gradient of [`Optimizer::gradient`], then
    /// `hooks.inspect`, the chain's update ([`Optimizer::update`]) and `hooks.apply`. Returns
    /// the loss of that gradient; the inspect hook's error (θ and the states untouched), or
    /// [`Error::Diverged`] naming step t + 1 when θ_{t+1} is not finite.
    pub fn step(
        &self,
        params: &mut [f64],
        states: &mut [State],
        ctx: &StepContext,
        buffers: &mut StepBuffers,
        value_and_gradient: impl FnMut(&[f64], &mut [f64]) -> f64,
        hooks: &mut impl StepHooks,
    ) -> Result<f64> {
        let loss = self.gradient(params, states, ctx, buffers, value_and_gradient);
        hooks.inspect(params, loss, buffers)?;
        self.update(&mut buffers.grad, states, params, ctx);
        if !hooks.apply(params, &mut buffers.grad) {
            return Err(Error::Diverged {
                step: ctx.step + 1,
                loss: f64::NAN,
            });
        }
        Ok(loss)
    }

    /// The points at which to evaluate the gradient of step t (empty: at θ_t); the first
    /// transform of the chain that asks for points decides.
    pub fn gradient_points(
        &self,
        params: &[f64],
        states: &[State],
        ctx: &StepContext,
        points: &mut Points,
    ) {
        points.clear();
        for (k, (t, s)) in self.transforms.iter().zip(states).enumerate() {
            t.gradient_points(params, s, &ctx.for_transform(k), points);
            if !points.is_empty() {
                return;
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    /// [`Optimizer::iterates`] (seed 0) on a gradient returned as a vector; panics on an
    /// invalid chain or a non-finite iterate.
    pub fn trajectory(
        opt: &Optimizer,
        theta0: &[f64],
        steps: usize,
        grad_fn: impl Fn(&[f64]) -> Vec<f64>,
    ) -> Vec<Vec<f64>> {
        opt.iterates(theta0, steps as u64, Seed(0), |at, g| {
            g.copy_from_slice(&grad_fn(at))
        })
        .expect("a valid chain and finite iterates")
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
