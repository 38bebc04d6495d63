//! The document's setting of `averaged-sgd`: a finite-width two-layer ReLU network in the NTK
//! regime, f(x) = M^{−1/2} Σ_j a_j relu(w_jᵀx) with both layers trained, on the circle, trained
//! by one pass of SGD (one fresh sample per step) with regularisation towards its
//! initialisation, θ_{t+1} = θ_t − η[(f_θt(x_t) − y_t)∇_θ f_θt(x_t) + λ(θ_t − θ₀)] — the
//! library's `[Anchor, Sgd]` chain under the [`Trainer`] — and read at the average
//! θ̄_T = (1/T) Σ_{t<T} θ_t (the trainer's iterate average; SPEC §2).

use super::ntk::{Problem, NOISE, STEP};
use crate::data::Dataset;
use crate::error::Result;
use crate::linalg::Matrix;
use crate::nn::{Activation, Cache, Model, OutputInit, TwoLayer};
use crate::optim::{Anchor, Optimizer, Sgd};
use crate::rng::Seed;
use crate::train::{Batching, Objective, Trainer};

/// Quadrature points of the excess risk ‖f_θ − f*‖²_{L²(S¹)} (the trapezoid rule on the
/// circle; the ReLU net is piecewise smooth, so its error is O(G^{−2}) relative).
const GRID: usize = 1024;

/// The network of width `width`: ReLU, no bias, a_j = ±1, NTK scaling M^{−1/2}, symmetric
/// initialisation (f₀ = 0), both layers trained; its parameters are drawn by [`stratified`]. Its NTK is the ReLU NTK
/// κ(u) = [√(1−u²) + 2(π − arccos u)u]/(2π) with κ(1) = 1 (kernel::analytic::two_layer_ntk).
pub(super) fn network(width: usize) -> Result<TwoLayer> {
    TwoLayer {
        symmetric: true,
        output_init: OutputInit::Sign { scale: 1.0 },
        ..TwoLayer::new(2, width, Activation::Relu, 0.5)?
    }
    .validated()
}

/// One run of the document's averaged SGD: T fresh samples y = f*(x) + σξ, x uniform on the
/// circle, one pass with one sample per step, step η = [`STEP`], anchor λ; returns the excess
/// risk ‖f_θ̄T − f*‖²_{L²} of the average θ̄_T. The label noise is `noise_sign`·σξ: two runs of
/// the same seed with signs ±1 are an antithetic pair (each one a run on i.i.d. samples).
pub(super) fn excess_risk(
    problem: &Problem,
    model: &TwoLayer,
    steps: usize,
    lambda: f64,
    noise_sign: f64,
    seed: Seed,
) -> Result<f64> {
    let mut rng = seed.stream("averaged-sgd-samples", 0);
    let angles: Vec<f64> = (0..steps)
        .map(|_| std::f64::consts::TAU * rng.uniform())
        .collect();
    let x = Matrix::from_fn(steps, 2, |i, j| {
        if j == 0 {
            angles[i].cos()
        } else {
            angles[i].sin()
        }
    });
    let target = problem.values(&angles);
    let y = Matrix::from_fn(steps, 1, |i, _| {
        target[i] + noise_sign * NOISE * rng.normal()
    });
    let data = Dataset::new("averaged-sgd", x, y)?;
    let params = stratified(model, seed);
    let optimizer = Optimizer::chain(vec![
        Box::new(Anchor { lambda }),
        Box::new(Sgd { lr: STEP.into() }),
    ]);
    let trainer = Trainer {
        objective: Objective::squared(model),
        optimizer: &optimizer,
        batching: Batching::Minibatch(1),
        seed: seed.child("averaged-sgd-order", 0),
        steps: steps as u64,
        record_every: steps as u64,
    };
    let (state, _) = trainer.fit(params, &data)?;
    Ok(l2_distance(problem, model, &state.average.mean()))
}

/// The stratified initialisation θ₀: neuron j < M/2 has w_j = √2 (cos ω_j, sin ω_j),
/// ω_j = ω + 4πj/M (equally spaced directions, one uniform random rotation ω), a_j = 1, and
/// neuron j + M/2 the same w_j with a = −1 (f₀ = 0). Same second moments as w ~ N(0, I₂)
/// (E‖w‖² = 2), so the width-M NTK is the infinite-width one up to the trapezoid rule's
/// error in the direction integral instead of a Monte Carlo error O(M^{−1/2}).
fn stratified(model: &TwoLayer, seed: Seed) -> Vec<f64> {
    let m = model.width;
    let half = m / 2;
    let rotation = std::f64::consts::TAU * seed.stream("averaged-sgd-init", 0).uniform();
    let mut p = vec![0.0; model.num_params()];
    for j in 0..half {
        let omega = rotation + std::f64::consts::TAU * j as f64 / half as f64;
        for (copy, sign) in [(j, 1.0), (j + half, -1.0)] {
            p[2 * copy] = std::f64::consts::SQRT_2 * omega.cos();
            p[2 * copy + 1] = std::f64::consts::SQRT_2 * omega.sin();
            p[2 * m + copy] = sign;
        }
    }
    p
}

/// ‖f_θ − f*‖²_{L²} = (1/G) Σ_g (f_θ(φ_g) − f*(φ_g))², φ_g = 2πg/G.
fn l2_distance(problem: &Problem, model: &TwoLayer, params: &[f64]) -> f64 {
    let angles: Vec<f64> = (0..GRID)
        .map(|g| std::f64::consts::TAU * g as f64 / GRID as f64)
        .collect();
    let x = Matrix::from_fn(GRID, 2, |i, j| {
        if j == 0 {
            angles[i].cos()
        } else {
            angles[i].sin()
        }
    });
    let mut out = Matrix::zeros(GRID, 1);
    model.forward(params, &x, &mut Cache::default(), &mut out);
    let target = problem.values(&angles);
    out.data
        .iter()
        .zip(&target)
        .map(|(f, t)| (f - t).powi(2))
        .sum::<f64>()
        / GRID as f64
}
