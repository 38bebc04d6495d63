//! Langevin noise, the semi-implicit preconditioned step and smoothing (graduated optimisation).

use super::{Points, Schedule, State, StepContext, Transform};
use crate::error::{check_positive, Error, Result};
use rayon::prelude::*;
use serde::Deserialize;

/// Parameters per noise block: each block draws its own stream, so noise generation runs in
/// parallel and still does not depend on the thread count.
const NOISE_BLOCK: usize = 1 << 14;

/// Gaussian noise of gradient Langevin dynamics: Δθ ← Δθ + √(2η_t/β) ξ_t, ξ_t ~ N(0, I).
///
/// Placed after [`super::Sgd`] this is GLD, X_{k+1} = X_k − η∇L(X_k) + √(2η/β) ξ_k, whose
/// stationary law is π ∝ exp(−βL) as η → 0. ξ_t is drawn from the run's seed and the step
/// index alone (`seed.child("langevin", t)`), so a resumed run draws the same noise.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LangevinNoise {
    /// η_t (the same schedule as the gradient step).
    #[serde(deserialize_with = "Schedule::number_or_table")]
    pub lr: Schedule,
    /// Inverse temperature β.
    pub inverse_temperature: f64,
}

impl LangevinNoise {
    /// Adds std · ξ with ξ the step's standard normal vector: block b of [`NOISE_BLOCK`]
    /// entries of the whole parameter vector from its own stream. When `v` is a rank's part of
    /// a split θ (`ctx.shard`), the blocks that meet its segments are drawn and their entries
    /// there added, so every entry gets the noise it gets in one process, whatever P.
    pub fn add_noise(v: &mut [f64], std: f64, ctx: &StepContext) {
        let step_seed = ctx.seed.child("langevin", ctx.step);
        let Some(shard) = ctx.shard else {
            v.par_chunks_mut(NOISE_BLOCK)
                .enumerate()
                .for_each(|(b, chunk)| {
                    let mut rng = step_seed.stream("block", b as u64);
                    chunk.iter_mut().for_each(|x| *x += std * rng.normal());
                });
            return;
        };
        // (block, skipped draws, local run) for every block that meets a segment.
        let mut runs: Vec<(usize, usize, &mut [f64])> = Vec::new();
        let mut rest = v;
        let mut at = 0;
        for seg in shard.as_slice() {
            let (_, tail) = std::mem::take(&mut rest).split_at_mut(seg.local - at);
            let (mut part, tail) = tail.split_at_mut(seg.len);
            (rest, at) = (tail, seg.local + seg.len);
            let mut g = seg.global;
            while !part.is_empty() {
                let b = g / NOISE_BLOCK;
                let take = ((b + 1) * NOISE_BLOCK - g).min(part.len());
                let (run, more) = std::mem::take(&mut part).split_at_mut(take);
                runs.push((b, g - b * NOISE_BLOCK, run));
                (part, g) = (more, g + take);
            }
        }
        runs.into_par_iter().for_each(|(b, skip, run)| {
            let mut rng = step_seed.stream("block", b as u64);
            (0..skip).for_each(|_| {
                rng.normal();
            });
            run.iter_mut().for_each(|x| *x += std * rng.normal());
        });
    }
}

impl super::Optimizer {
    /// Gradient Langevin dynamics θ ← θ − η ∇L(θ) + √(2η/β) ξ: the chain of [`super::Sgd`] and
    /// [`LangevinNoise`] at the same step η and inverse temperature β.
    pub fn langevin(lr: f64, inverse_temperature: f64) -> super::Optimizer {
        super::Optimizer::chain(vec![
            Box::new(super::Sgd { lr: lr.into() }),
            Box::new(LangevinNoise {
                lr: lr.into(),
                inverse_temperature,
            }),
        ])
    }
}

impl Transform for LangevinNoise {
    fn validate(&self, at: &str) -> Result<()> {
        self.lr.validate(&format!("{at}.lr"))?;
        check_positive(
            &format!("{at}.inverse_temperature"),
            self.inverse_temperature,
        )?;
        Ok(())
    }
    fn update(&self, v: &mut [f64], _state: &mut State, _params: &[f64], ctx: &StepContext) {
        let std = (2.0 * self.lr.at(ctx.step) / self.inverse_temperature).sqrt();
        Self::add_noise(v, std, ctx);
    }
}

/// The semi-implicit Euler step of infinite-dimensional Langevin dynamics:
/// X_{n+1} = S_η (X_n + Δ) with S_η = (I + ηλA)^{−1}, A = diag(μ_k^{−1}), i.e. coordinate k is
/// divided by 1 + ηλ/μ_k. As an increment: Δ ← S_η(X_n + Δ) − X_n.
///
/// Read from a spec, μ is not a setting: it is the model's prior, filled in when the chain is
/// built for a model.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SemiImplicit {
    /// η_t.
    #[serde(deserialize_with = "Schedule::number_or_table")]
    pub lr: Schedule,
    /// λ, the strength of the prior term λ/2 ⟨X, A X⟩.
    pub lambda: f64,
    /// μ_k per coordinate (from [`crate::nn::Model::prior_variances`]).
    #[serde(skip)]
    pub mu: Vec<f64>,
}

impl Transform for SemiImplicit {
    fn validate(&self, at: &str) -> Result<()> {
        self.lr.validate(&format!("{at}.lr"))?;
        check_positive(&format!("{at}.lambda"), self.lambda)?;
        check_prior_variances(at, &self.mu)
    }
    fn update(&self, v: &mut [f64], _state: &mut State, params: &[f64], ctx: &StepContext) {
        let el = self.lr.at(ctx.step) * self.lambda;
        for ((d, &x), &mu) in v.iter_mut().zip(params).zip(&self.mu) {
            *d = (x + *d) / (1.0 + el / mu) - x;
        }
    }
}

/// Prior variances μ_k must be finite and > 0 (A = diag(μ_k^{−1}) divides by them).
fn check_prior_variances(at: &str, mu: &[f64]) -> Result<()> {
    match mu.iter().position(|m| !(m.is_finite() && *m > 0.0)) {
        None => Ok(()),
        Some(k) => Err(Error::invalid(
            format!("{at}.mu"),
            format!("prior variances must be finite and > 0; μ_{k} = {}", mu[k]),
        )),
    }
}

/// The explicit (Euler–Maruyama) counterpart of [`SemiImplicit`], with its settings: the
/// prior's gradient taken at X_n, Δ ← Δ − ηλ A X_n, A = diag(μ_k^{−1}). Stable only while
/// ηλ/μ_k < 2 for every k, so it breaks down as the truncation grows — the reason for the
/// semi-implicit step.
#[derive(Clone, Debug)]
pub struct PriorGradient(pub SemiImplicit);

impl Transform for PriorGradient {
    fn validate(&self, at: &str) -> Result<()> {
        self.0.validate(at)
    }
    fn update(&self, v: &mut [f64], _state: &mut State, params: &[f64], ctx: &StepContext) {
        let el = self.0.lr.at(ctx.step) * self.0.lambda;
        for ((d, &x), &mu) in v.iter_mut().zip(params).zip(&self.0.mu) {
            *d -= el * x / mu;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Optimizer, PlainStep, Sgd, StepBuffers};
    use super::*;
    use crate::rng::Seed;

    /// One step of each prior discretisation against its formula, coordinate by coordinate:
    /// explicit X − η(g + λX/μ), semi-implicit (X − ηg)/(1 + ηλ/μ).
    #[test]
    fn prior_steps_follow_their_formulas() {
        let (eta, lambda) = (0.1, 0.5);
        let mu = vec![1.0, 0.25, 0.01];
        let x = vec![0.3, -1.2, 2.0];
        let g = vec![0.7, 0.1, -0.4];
        let ctx = StepContext::new(0, Seed(0));
        for explicit in [true, false] {
            let settings = SemiImplicit {
                lr: eta.into(),
                lambda,
                mu: mu.clone(),
            };
            let prior: Box<dyn Transform> = if explicit {
                Box::new(PriorGradient(settings))
            } else {
                Box::new(settings)
            };
            let opt = Optimizer::chain(vec![Box::new(Sgd { lr: eta.into() }), prior]);
            let mut states = opt.init(&x);
            let mut v = g.clone();
            opt.update(&mut v, &mut states, &x, &ctx);
            for k in 0..3 {
                let next = if explicit {
                    x[k] - eta * (g[k] + lambda * x[k] / mu[k])
                } else {
                    (x[k] - eta * g[k]) / (1.0 + eta * lambda / mu[k])
                };
                assert!((x[k] + v[k] - next).abs() < 1e-15, "{explicit} {k}");
            }
        }
    }

    #[test]
    fn gld_on_a_quadratic_has_the_discrete_stationary_variance() {
        // X ← X − ηkX + √(2η/β)ξ is AR(1) with coefficient (1 − ηk), stationary variance
        // (2η/β)/(1 − (1−ηk)²) = 1/(βk(1 − ηk/2)). Many independent coordinates = many chains.
        let (k, eta, beta) = (2.0, 0.2, 3.0);
        let opt = Optimizer::langevin(eta, beta);
        let chains = 20_000;
        let mut x = vec![0.0; chains];
        let mut states = opt.init(&x);
        let mut buffers = StepBuffers::default();
        for t in 0..200 {
            let ctx = StepContext::new(t, Seed(11));
            let value_and_gradient = |at: &[f64], g: &mut [f64]| {
                g.iter_mut().zip(at).for_each(|(g, v)| *g = k * v);
                0.0
            };
            opt.step(
                &mut x,
                &mut states,
                &ctx,
                &mut buffers,
                value_and_gradient,
                &mut PlainStep,
            )
            .unwrap();
        }
        let var = x.iter().map(|v| v * v).sum::<f64>() / chains as f64;
        let exact = 1.0 / (beta * k * (1.0 - eta * k / 2.0));
        let continuous = 1.0 / (beta * k);
        // Standard error of a variance estimate: var·√(2/N) ≈ 0.0026 here.
        let se = exact * (2.0 / chains as f64).sqrt();
        assert!((var - exact).abs() < 5.0 * se, "{var} vs {exact}");
        assert!(
            (var - continuous).abs() > 5.0 * se,
            "the discrete correction is visible"
        );
    }

    #[test]
    fn noise_is_a_function_of_seed_and_step_only() {
        let ctx = StepContext::new(5, Seed(1));
        let mut a = vec![0.0; 40_000];
        let mut b = vec![0.0; 40_000];
        LangevinNoise::add_noise(&mut a, 1.0, &ctx);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        pool.install(|| LangevinNoise::add_noise(&mut b, 1.0, &ctx));
        assert_eq!(a, b);
        let mut c = vec![0.0; 40_000];
        LangevinNoise::add_noise(&mut c, 1.0, &StepContext::new(6, Seed(1)));
        assert_ne!(a, c);
    }

    /// Two noise transforms in one chain draw independent noise: one step from a zero gradient
    /// has variance 2·(2η/β) per coordinate, not the 4·(2η/β) of the same ξ added twice. (Before
    /// the per-transform seeds both drew `seed.child("langevin", t)`.)
    #[test]
    fn two_noise_transforms_in_one_chain_are_independent() {
        let noise = || -> Box<dyn crate::optim::Transform> {
            Box::new(LangevinNoise {
                lr: 0.5.into(),
                inverse_temperature: 4.0,
            })
        };
        let chain = crate::optim::Optimizer::chain(vec![noise(), noise()]);
        let n = 200_000;
        let mut v = vec![0.0; n];
        let mut states = chain.init(&v);
        let params = vec![0.0; n];
        let ctx = StepContext::new(3, Seed(9));
        chain.update(&mut v, &mut states, &params, &ctx);
        let var = v.iter().map(|x| x * x).sum::<f64>() / n as f64;
        let one = 2.0 * 0.5 / 4.0;
        // Standard error of the variance estimate: 2·one·√(2/n) ≈ 0.0016.
        assert!(
            (var - 2.0 * one).abs() < 5.0 * 2.0 * one * (2.0 / n as f64).sqrt(),
            "{var}"
        );
    }

    #[test]
    fn semi_implicit_step_divides_by_one_plus_eta_lambda_over_mu() {
        let t = SemiImplicit {
            lr: 0.1.into(),
            lambda: 2.0,
            mu: vec![1.0, 0.25],
        };
        let mut d = vec![0.5, 0.5];
        let params = [1.0, 1.0];
        t.update(
            &mut d,
            &mut State::default(),
            &params,
            &StepContext::new(0, Seed(0)),
        );
        // X + Δ = 1.5; divided by 1 + 0.2/1 = 1.2 and 1 + 0.2/0.25 = 1.8.
        assert!((params[0] + d[0] - 1.25).abs() < 1e-15);
        assert!((params[1] + d[1] - 1.5 / 1.8).abs() < 1e-15);
    }
}

/// How [`Smoothing`] draws its perturbations u.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmoothingKind {
    /// u uniform in the unit ball (the default).
    #[default]
    Ball,
    /// u ~ N(0, I).
    Gaussian,
}

/// The most perturbations [`Smoothing`] draws per step: the step costs `samples` gradient
/// evaluations (and holds as many perturbed copies of θ).
pub const MAX_SMOOTHING_SAMPLES: usize = 10_000;

/// Graduated optimisation (Hazan, Levy & Shalev-Shwartz 2016): the gradient of step t is the
/// Monte Carlo estimate (1/S) Σ_s ∇L(θ_t + δ_t u_s) of ∇L̂_δ(θ_t), L̂_δ(θ) = E_u[L(θ + δu)],
/// with S fresh perturbations per step (stream ("smoothing", t) of the run's seed) and a
/// decreasing schedule δ_t (e.g. cosine from δ₀ to 0). It only moves the evaluation points;
/// chain it before `sgd` (or any step rule).
///
/// Read from a spec: `delta`, `samples` (default 1) and `perturbation` (the law of u, default
/// `ball`).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Smoothing {
    /// δ_t.
    #[serde(deserialize_with = "Schedule::number_or_table")]
    pub delta: Schedule,
    /// S ≥ 1.
    #[serde(default = "Smoothing::one_sample")]
    pub samples: usize,
    /// The law of u.
    #[serde(rename = "perturbation", default)]
    pub kind: SmoothingKind,
}

impl Smoothing {
    /// The default S: one perturbation per step.
    fn one_sample() -> usize {
        1
    }
}

impl Transform for Smoothing {
    fn validate(&self, at: &str) -> Result<()> {
        self.delta.validate_non_negative(&format!("{at}.delta"))?;
        if self.samples == 0 || self.samples > MAX_SMOOTHING_SAMPLES {
            return Err(Error::invalid(
                format!("{at}.samples"),
                format!(
                    "expected 1 to {MAX_SMOOTHING_SAMPLES} (each sample is one more gradient \
                     evaluation per step), got {}",
                    self.samples
                ),
            ));
        }
        Ok(())
    }
    fn update(&self, _v: &mut [f64], _state: &mut State, _params: &[f64], _ctx: &StepContext) {}

    fn gradient_points(
        &self,
        params: &[f64],
        _state: &State,
        ctx: &StepContext,
        points: &mut Points,
    ) {
        let delta = self.delta.at(ctx.step);
        let mut rng = ctx.seed.stream("smoothing", ctx.step);
        let p = params.len();
        for _ in 0..self.samples.max(1) {
            let u = points.push(p);
            match self.kind {
                SmoothingKind::Gaussian => rng.fill_normal(u, 1.0),
                SmoothingKind::Ball => {
                    rng.unit_vector(u);
                    let r = rng.uniform().powf(1.0 / p as f64);
                    u.iter_mut().for_each(|v| *v *= r);
                }
            }
            u.iter_mut()
                .zip(params)
                .for_each(|(v, w)| *v = w + delta * *v);
        }
    }
}
