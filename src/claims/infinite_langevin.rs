//! Claim `infinite-langevin`: the semi-implicit infinite-dimensional Langevin scheme samples the
//! GP posterior, with a bias that shrinks with the step size and does not depend on the
//! truncation.

use super::{Check, Claim, ClaimOutcome, Context, Control, Relation};
use crate::data::io::Table;
use crate::data::{synthetic, Dataset};
use crate::error::{Error, Result};
use crate::kernel::spectrum::fit_log_log;
use crate::langevin::{LinearGaussian, Scheme};
use crate::linalg::Matrix;
use crate::nn::{Activation, InfiniteWidth, Model};
use crate::optim::{LangevinNoise, Optimizer, SemiImplicit, Sgd, Transform};
use crate::report::{Figure, Scale};
use crate::train::{Objective, Trainer};

/// Bias ~ η^{1/2} or faster, independent of K; stationary law = GP posterior.
pub struct InfiniteLangevin;

impl Claim for InfiniteLangevin {
    fn id(&self) -> &'static str {
        "infinite-langevin"
    }
    fn title(&self) -> &'static str {
        "semi-implicit infinite-dimensional Langevin: truncation-free, bias → 0, GP posterior"
    }
    fn statement(&self) -> &'static str {
        "With coordinates x = Σ_k x_k f_k, A = diag(μ_k^{-1}), μ_k = k^{-2}, the scheme \
         X_{n+1} = (I + ηλA)^{-1}(X_n − η∇L(X_n) + √(2η/β) ξ_n) has the stationary law \
         π ∝ exp(−βL(x) − (βλ/2) xᵀAx) up to a bias: |E L(X_n) − E_π L| ≤ C η^{1/2−κ} for large n, \
         uniformly in the truncation K (Muzellec, Sato, Massias, Suzuki 2022). For a loss quadratic \
         in the coordinates π is the Gaussian (GP) posterior."
    }
    fn setup(&self) -> &'static str {
        "n = 15 points on S¹, target a degree-1 harmonic; f = Σ_{k≤K} k^{-1}·(w_kᵀx) (an identity \
         feature map, so L is quadratic in the coordinates), β = 20, λ = 0.2. The bias \
         E L(X_∞) − E_π L of the scheme is computed exactly (its stationary law solves a discrete \
         Lyapunov equation) for η = 0.2 … 0.025 and K = 50, 400 (full: also 1000); 8 chains of 3000 \
         steps (full: 16) at η = 0.05, K = 400, check the posterior mean of a prediction. Checks: \
         the log-log slope of the bias against η ≥ 0.5 (the theorem's rate); the relative change of \
         the bias from K = 50 to the largest K ≤ 5 %; the chains' mean prediction within 5 \
         standard errors of the posterior mean. Negative control: the explicit Euler scheme \
         (no (I + ηλA)^{-1}), which breaks down as K grows."
    }
    fn controls(&self) -> &'static [Control] {
        &[Control {
            name: "explicit-euler",
            breaks: "the explicit Euler scheme in place of the semi-implicit one",
        }]
    }
    fn run(&self, ctx: &Context) -> Result<ClaimOutcome> {
        let scheme = if ctx.under("explicit-euler") {
            Scheme::Explicit
        } else {
            Scheme::SemiImplicit
        };
        let (beta, lambda) = (20.0, 0.2);
        let mut rng = ctx.seed.stream("data", 0);
        let x = synthetic::sphere(15, 2, &mut rng);
        let y = synthetic::spherical_harmonic_target(&x, &[1.0, 0.5], 1);
        let data = Dataset::new("train", x.clone(), y.clone())?;
        let lrs = [0.2, 0.1, 0.05, 0.025];
        let truncations: Vec<usize> = if ctx.quick {
            vec![50, 400]
        } else {
            vec![50, 400, 1000]
        };
        let mut table = Table::new(&["terms", "lr", "bias"]);
        let mut figure = Figure::new("bias_vs_step", "bias of E L(X_n) against the step size")
            .x("step size η", Scale::Log)
            .y("|E L(X_∞) − E_π L|", Scale::Log);
        let mut biases = Vec::new();
        let mut slope_min = f64::INFINITY;
        for &terms in &truncations {
            let model = InfiniteWidth::new(2, terms, Activation::Identity, 1.0, 2.0, 1.0)?;
            let mu = model.prior_variances().unwrap_or_default();
            let phi = model.jacobian(&model.init(&mut rng), &x);
            let problem = LinearGaussian::new(&phi, &y.data, &mu, beta, lambda)?;
            let bias: Vec<f64> = lrs
                .iter()
                .map(|&lr| match problem.stationary_bias(lr, scheme) {
                    Ok(b) => b.abs(),
                    // An unstable scheme has no stationary law: infinite bias.
                    Err(_) => f64::INFINITY,
                })
                .collect();
            for (lr, b) in lrs.iter().zip(&bias) {
                table.push(vec![terms as f64, *lr, *b]);
            }
            let slope = if bias.iter().all(|b| b.is_finite()) {
                -fit_log_log(&lrs, &bias)?.exponent
            } else {
                f64::NAN
            };
            slope_min = if slope.is_nan() {
                f64::NAN
            } else {
                slope_min.min(slope)
            };
            figure = figure.series(
                &format!("K = {terms}"),
                if terms == truncations[0] {
                    crate::report::Style::Line
                } else {
                    crate::report::Style::Markers
                },
                lrs.iter().copied().zip(bias.iter().copied()),
            );
            biases.push(bias);
        }
        let first = &biases[0];
        figure = figure.prediction(
            "∝ η^{1/2}",
            lrs.iter().map(|&lr| (lr, first[0] * (lr / lrs[0]).sqrt())),
        );
        let change = biases[1..]
            .iter()
            .flat_map(|b| b.iter().zip(first).map(|(a, c)| (a / c - 1.0).abs()))
            .fold(
                0.0,
                |m: f64, v| if v.is_nan() { f64::NAN } else { m.max(v) },
            );

        // Chains at η = 0.05, K = 400: the mean of a prediction against the posterior.
        let terms = 400;
        let lr = 0.05;
        let model = InfiniteWidth::new(2, terms, Activation::Identity, 1.0, 2.0, 1.0)?;
        let mu = model.prior_variances().unwrap_or_default();
        let probe = Matrix::from_vec(1, 2, vec![0.6, 0.8])?;
        let phi = model.jacobian(&model.init(&mut rng), &x);
        let (mean, cov) = LinearGaussian::new(&phi, &y.data, &mu, beta, lambda)?.posterior()?;
        let g = model.jacobian(&mean, &probe);
        let post_mean: f64 = g.row(0).iter().zip(&mean).map(|(a, b)| a * b).sum();
        let mut gc = Matrix::zeros(1, g.cols);
        crate::linalg::gemm(&mut gc, 0.0, g.view(), cov.view(), 1.0);
        let post_var: f64 = gc.data.iter().zip(g.row(0)).map(|(a, b)| a * b).sum();
        let precondition: Box<dyn Transform> = match scheme {
            Scheme::SemiImplicit => Box::new(SemiImplicit {
                lr: lr.into(),
                lambda,
                mu: mu.clone(),
            }),
            // The explicit scheme: the prior's gradient λAθ taken explicitly.
            Scheme::Explicit => Box::new(crate::optim::PriorGradient {
                lr: lr.into(),
                lambda,
                mu: mu.clone(),
            }),
        };
        let opt = Optimizer::chain(vec![
            Box::new(Sgd { lr: lr.into() }),
            Box::new(LangevinNoise {
                lr: lr.into(),
                inverse_temperature: beta,
            }),
            precondition,
        ]);
        let chains = if ctx.quick { 8 } else { 16 };
        let (steps, burn_in) = (3000u64, 500.0);
        let mut values = Vec::new();
        let mut traces = Table::new(&["chain", "step", "prediction"]);
        for c in 0..chains {
            let seed = ctx.seed.child("chain", c);
            let trainer = Trainer {
                record_every: 10,
                ..Trainer::full_batch(Objective::squared(&model), &opt, seed, steps)
            };
            let mut probe_obs = crate::train::PredictionProbe::new(probe.clone());
            let mut state = trainer.start(model.init(&mut seed.stream("init", 0)));
            let mut t = trainer.table(&[&mut probe_obs]);
            match trainer.run(&mut state, &data, steps, &mut [&mut probe_obs], &mut t) {
                Ok(()) => {}
                Err(Error::Diverged { .. }) => values.push(f64::INFINITY),
                Err(e) => return Err(e),
            }
            let s = t.column("step")?;
            let f = t.column("prediction")?;
            for (s, f) in s.iter().zip(&f) {
                traces.push(vec![c as f64, *s, *f]);
                if *s >= burn_in {
                    values.push(*f);
                }
            }
        }
        let chain_mean = values.iter().sum::<f64>() / values.len().max(1) as f64;
        // ≈ 125 effective samples per chain after burn-in (autocorrelated records).
        let se = (post_var / (125.0 * chains as f64)).sqrt();
        Ok(ClaimOutcome {
            checks: vec![
                Check::new(
                    "min over K of the log-log slope of the bias against η",
                    slope_min,
                    Relation::AtLeast,
                    0.5,
                    0.0,
                ),
                Check::new(
                    "max relative change of the bias from K = 50 to larger K",
                    change,
                    Relation::AtMost,
                    0.05,
                    0.0,
                ),
                Check::new(
                    "|chain mean − posterior mean| of f(probe) / standard error",
                    (chain_mean - post_mean).abs() / se,
                    Relation::AtMost,
                    5.0,
                    0.0,
                ),
            ],
            tables: vec![("bias".into(), table), ("chains".into(), traces)],
            figures: vec![figure],
        })
    }
}
