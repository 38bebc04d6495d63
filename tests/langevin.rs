//! Langevin dynamics against independent truths: the exact discrete stationary variance of
//! GLD on a quadratic, the Gibbs law of a double well (TV falling with run length), the
//! Eyring–Kramers law of escape times, ESS/R̂ on AR(1) chains with known answers, the Gaussian
//! posterior of the semi-implicit infinite-dimensional scheme (and its independence of the
//! truncation), graduated optimisation against plain gradient descent, Lanczos sharpness.

mod common;
use common::error_naming;

use gradflow::commands::Cancel;
use gradflow::langevin::{self, FirstPassage, Grid};
use gradflow::nn::{Activation, InfiniteWidth, Landscape, Loss, Model, Potential};
use gradflow::optim::{
    LangevinNoise, Optimizer, Schedule, SemiImplicit, Sgd, Smoothing, SmoothingKind,
};
use gradflow::train::{Batching, Objective, PredictionProbe, Trainer};
use gradflow::{data::synthetic, data::Dataset, Matrix, Seed};

fn gld(lr: f64, beta: f64) -> Optimizer {
    Optimizer::chain(vec![
        Box::new(Sgd { lr: lr.into() }),
        Box::new(LangevinNoise {
            lr: lr.into(),
            inverse_temperature: beta,
        }),
    ])
}

fn linear(model: &dyn Model) -> Objective<'_> {
    Objective {
        model,
        loss: Loss::Linear,
        l2: 0.0,
    }
}

/// Runs `steps` of GLD on the chains of `potential` from their initial positions.
fn run_chains(potential: &Potential, lr: f64, beta: f64, steps: u64, seed: u64) -> Matrix {
    let opt = gld(lr, beta);
    let trainer = Trainer::full_batch(linear(potential), &opt, Seed(seed), steps);
    let (state, _) = trainer
        .fit(
            potential.init(&mut Seed(seed).stream("init", 0)),
            &Potential::unit_data().unwrap(),
        )
        .unwrap();
    potential.positions(&state.params)
}

#[test]
fn gld_on_a_quadratic_has_the_discrete_stationary_variance() {
    let (k, lr, beta) = (1.0, 0.5, 2.0);
    let p = Potential::new(Landscape::Quadratic { k }, 1, 8000, vec![0.0], 0.0).unwrap();
    let x = run_chains(&p, lr, beta, 60, 1);
    let var = x.data.iter().map(|v| v * v).sum::<f64>() / x.rows as f64;
    let discrete = langevin::discrete_quadratic_variance(k, lr, beta).unwrap();
    let continuous = 1.0 / (beta * k);
    // 8000 independent chains: relative standard error √(2/8000) ≈ 1.6 %.
    eprintln!("quadratic: var {var}, discrete {discrete}, continuous {continuous}");
    assert!((var / discrete - 1.0).abs() < 0.06, "{var} vs {discrete}");
    assert!(
        (var / continuous - 1.0).abs() > 0.2,
        "{var} vs {continuous}"
    );
    // Past ηk = 2 the chain has no stationary law: the formula's negative "variance" is an error.
    error_naming(
        langevin::discrete_quadratic_variance(k, 2.5, beta),
        "ηk < 2",
    );
    error_naming(
        langevin::eyring_kramers_time(8.0, 4.0, 1.0, beta),
        "curvature_saddle",
    );
}

#[test]
fn gibbs_quadrature_matches_the_gaussian_closed_form() {
    let grid = Grid::new(-3.0, 3.0, 30).unwrap();
    let (k, beta) = (2.0, 1.5);
    let p = langevin::gibbs_probabilities(&Landscape::Quadratic { k }, 1, beta, &grid).unwrap();
    let sd = 1.0 / (beta * k).sqrt();
    let cdf = |x: f64| 0.5 * (1.0 + libm::erf(x / (sd * 2f64.sqrt())));
    let inside = cdf(3.0) - cdf(-3.0);
    for (c, pc) in p.iter().enumerate() {
        let (a, b) = (-3.0 + 0.2 * c as f64, -3.0 + 0.2 * (c + 1) as f64);
        assert!((pc - (cdf(b) - cdf(a)) / inside).abs() < 2e-4, "cell {c}");
    }
    // 2-D: a product law; marginals of the quadratic in 2-D equal the 1-D cells.
    let g2 = Grid::new(-3.0, 3.0, 30).unwrap();
    let p2 = langevin::gibbs_probabilities(&Landscape::Quadratic { k }, 2, beta, &g2).unwrap();
    for i in 0..30 {
        let row: f64 = p2[i * 30..(i + 1) * 30].iter().sum();
        assert!((row - p[i]).abs() < 1e-12);
    }
}

#[test]
fn tv_to_the_gibbs_law_of_a_double_well_falls_with_run_length() {
    let (lr, beta) = (0.01, 2.0);
    let well = Landscape::DoubleWell {
        height: 1.0,
        tilt: 0.3,
    };
    let p = Potential::new(well, 1, 6000, vec![-1.0], 0.0).unwrap();
    let grid = Grid::new(-2.5, 2.5, 25).unwrap();
    let gibbs = langevin::gibbs_probabilities(&well, 1, beta, &grid).unwrap();
    let tv: Vec<f64> = [50u64, 500, 6000]
        .iter()
        .map(|&steps| {
            let x = run_chains(&p, lr, beta, steps, 2);
            let (h, outside) = langevin::histogram(&x, &grid).unwrap();
            langevin::total_variation(&h, outside, &gibbs).unwrap()
        })
        .collect();
    eprintln!("double well: TV {tv:?}");
    assert!(tv[0] > tv[1] && tv[1] > tv[2], "{tv:?}");
    // At the end: sampling noise (6000 chains, 25 cells: ≈ 0.02) plus the O(η) bias.
    assert!(tv[2] < 0.05, "{tv:?}");
    let x = run_chains(&p, lr, beta, 6000, 2);
    let (h, _) = langevin::histogram(&x, &grid).unwrap();
    assert!(langevin::kl_divergence(&h, &gibbs).unwrap() < 0.02);
}

#[test]
fn escape_times_follow_the_eyring_kramers_law() {
    let (lr, height) = (0.01, 1.0);
    let well = Landscape::DoubleWell { height, tilt: 0.0 };
    let betas = [2.0, 3.0, 4.0, 5.0];
    let mut log_tau = vec![];
    for (k, &beta) in betas.iter().enumerate() {
        let p = Potential::new(well, 1, 300, vec![-1.0], 0.0).unwrap();
        let opt = gld(lr, beta);
        let data = Potential::unit_data().unwrap();
        let predicted_steps =
            langevin::eyring_kramers_time(8.0 * height, -4.0 * height, height, beta).unwrap() / lr;
        let cap = (12.0 * predicted_steps) as u64;
        let trainer = Trainer {
            record_every: 5,
            ..Trainer::full_batch(linear(&p), &opt, Seed(10 + k as u64), cap)
        };
        let mut passage = FirstPassage::new(1, |x: &[f64]| x[0] >= 1.0);
        let (mut state, mut table) =
            trainer.begin(p.init(&mut Seed(3).stream("init", 0)), &[&mut passage]);
        while state.step < cap && passage.times().iter().filter(|t| t.is_some()).count() < 300 {
            let until = (state.step + 2000).min(cap);
            trainer
                .run(
                    &mut state,
                    &data,
                    until,
                    &mut [&mut passage],
                    &mut table,
                    Cancel::NEVER,
                )
                .unwrap();
        }
        let times: Vec<f64> = passage
            .times()
            .iter()
            .flatten()
            .map(|&t| t as f64 * lr)
            .collect();
        assert!(
            times.len() >= 297,
            "β = {beta}: only {} of 300 chains escaped",
            times.len()
        );
        log_tau.push((times.iter().sum::<f64>() / times.len() as f64).ln());
    }
    let mb = betas.iter().sum::<f64>() / 4.0;
    let ml = log_tau.iter().sum::<f64>() / 4.0;
    let slope = betas
        .iter()
        .zip(&log_tau)
        .map(|(b, l)| (b - mb) * (l - ml))
        .sum::<f64>()
        / betas.iter().map(|b| (b - mb).powi(2)).sum::<f64>();
    eprintln!("escape: slope {slope}, log τ {log_tau:?}");
    assert!(
        (slope / height - 1.0).abs() < 0.2,
        "slope {slope} vs ΔU = {height}; log τ = {log_tau:?}"
    );
}

#[test]
fn ess_and_split_rhat_on_ar1_chains() {
    let rho: f64 = 0.9;
    let ar1 = |seed: u64, shift: f64, n: usize| {
        let mut r = Seed(seed).stream("ar1", 0);
        let mut x = r.normal();
        (0..n)
            .map(|_| {
                x = rho * x + (1.0 - rho * rho).sqrt() * r.normal();
                x + shift
            })
            .collect::<Vec<f64>>()
    };
    let chains: Vec<Vec<f64>> = (0..4).map(|c| ar1(c, 0.0, 20_000)).collect();
    let ess = langevin::effective_sample_size(&chains).unwrap();
    let want = 4.0 * 20_000.0 * (1.0 - rho) / (1.0 + rho);
    eprintln!("ESS {ess} vs {want}");
    assert!((ess / want - 1.0).abs() < 0.15, "ESS {ess} vs {want}");
    let rhat = langevin::split_rhat(&chains).unwrap();
    assert!(rhat < 1.01, "{rhat}");
    let apart: Vec<Vec<f64>> = (0..4).map(|c| ar1(c, c as f64, 2_000)).collect();
    assert!(langevin::split_rhat(&apart).unwrap() > 1.5);
    assert!(langevin::effective_sample_size(&[vec![1.0; 10]]).is_err());
    // Constant chains have no R̂ either (0/0 was returned as NaN).
    error_naming(
        langevin::split_rhat(&[vec![1.0; 10], vec![1.0; 10]]),
        "constant",
    );
    let grid = langevin::Grid::new(0.0, 1.0, 4).unwrap();
    error_naming(
        langevin::histogram(&Matrix::zeros(0, 1), &grid),
        "at least one sample",
    );
}

#[test]
fn semi_implicit_langevin_samples_the_gp_posterior_whatever_the_truncation() {
    let mut rng = Seed(20).stream("data", 0);
    let x = synthetic::sphere(15, 2, &mut rng);
    let y = synthetic::spherical_harmonic_target(&x, &[1.0, 0.5], 1);
    let data = Dataset::new("train", x, y).unwrap();
    let probe = Matrix::from_vec(1, 2, vec![0.6, 0.8]).unwrap();
    let (lr, beta, lambda) = (0.05, 20.0, 0.2);
    let mut results = vec![];
    for terms in [50usize, 500] {
        let model = InfiniteWidth::new(2, terms, Activation::Identity, 1.0, 2.0, 1.0).unwrap();
        let mu = model.prior_variances().unwrap();
        let phi = model.jacobian(&model.init(&mut rng), &data.x);
        let (mean, cov) =
            langevin::linear_gaussian_posterior(&phi, &data.y.data, &mu, beta, lambda).unwrap();
        let g = model.jacobian(&mean, &probe);
        let post_mean: f64 = g.row(0).iter().zip(&mean).map(|(a, b)| a * b).sum();
        let post_var: f64 = (0..mu.len())
            .map(|i| {
                g.get(0, i)
                    * (0..mu.len())
                        .map(|j| cov.get(i, j) * g.get(0, j))
                        .sum::<f64>()
            })
            .sum();
        let opt = Optimizer::chain(vec![
            Box::new(Sgd { lr: lr.into() }),
            Box::new(LangevinNoise {
                lr: lr.into(),
                inverse_temperature: beta,
            }),
            Box::new(SemiImplicit {
                lr: lr.into(),
                lambda,
                mu: mu.clone(),
            }),
        ]);
        let problem = langevin::LinearGaussian::new(&phi, &data.y.data, &mu, beta, lambda).unwrap();
        let (sm, ss) = problem
            .scheme_stationary(lr, langevin::Scheme::SemiImplicit)
            .unwrap();
        let scheme_loss = problem.expected_loss(&sm, &ss);
        let mut values = vec![];
        let mut losses = vec![];
        for chain in 0..8u64 {
            let trainer = Trainer {
                objective: Objective::squared(&model),
                optimizer: &opt,
                batching: Batching::Full,
                seed: Seed(100 + chain),
                steps: 3000,
                record_every: 10,
            };
            let mut obs = PredictionProbe::new(probe.clone());
            let init = model.init(&mut Seed(chain).stream("init", 0));
            let (_, table) = trainer.fit_with(init, &data, &mut [&mut obs]).unwrap();
            let steps = table.column("step").unwrap();
            let f = table.column("prediction").unwrap();
            values.extend(
                steps
                    .iter()
                    .zip(&f)
                    .filter(|(s, _)| **s >= 500.0)
                    .map(|(_, f)| *f),
            );
            let l = table.column("train_loss").unwrap();
            losses.extend(
                steps
                    .iter()
                    .zip(&l)
                    .filter(|(s, _)| **s >= 500.0)
                    .map(|(_, l)| *l),
            );
        }
        // The long-run average of L(X_n) against the exact stationary E L of the scheme
        // (L is a χ²-like variable: its standard deviation is about its mean over √(dof)).
        let avg = losses.iter().sum::<f64>() / losses.len() as f64;
        let sd =
            (losses.iter().map(|l| (l - avg).powi(2)).sum::<f64>() / losses.len() as f64).sqrt();
        eprintln!("K = {terms}: mean L {avg:.6} vs exact {scheme_loss:.6} (sd {sd:.2e})");
        assert!(
            (avg - scheme_loss).abs() < 5.0 * sd / (1000.0f64).sqrt(),
            "K = {terms}: long-run mean loss {avg} vs the scheme's exact {scheme_loss}"
        );
        let n = values.len() as f64;
        let m = values.iter().sum::<f64>() / n;
        let v = values.iter().map(|f| (f - m).powi(2)).sum::<f64>() / (n - 1.0);
        // 8 chains × 250 records, autocorrelated: allow 5 standard errors of ≈ 1000 effective
        // samples on the mean, and 15 % (the O(η) bias of the covariance) on the variance.
        assert!(
            (m - post_mean).abs() < 5.0 * (post_var / 1000.0).sqrt(),
            "K = {terms}: mean {m} vs {post_mean}"
        );
        assert!(
            (v / post_var - 1.0).abs() < 0.15,
            "K = {terms}: variance {v} vs {post_var}"
        );
        eprintln!("K = {terms}: chain mean {m} var {v}; posterior {post_mean} {post_var}");
        results.push((post_mean, post_var, m));
    }
    // The posterior (and the chains) do not change beyond tolerance from K = 50 to 500.
    let (a, b) = (results[0], results[1]);
    assert!(
        (a.0 - b.0).abs() < 1e-3 && (a.1 / b.1 - 1.0).abs() < 1e-2,
        "{results:?}"
    );
    assert!((a.2 - b.2).abs() < 5.0 * (a.1 / 1000.0).sqrt());
}

#[test]
fn graduated_optimisation_finds_the_global_minimum_from_more_starts() {
    let well = Landscape::MultiWell {
        depth: 1.0,
        scale: 2.0,
    };
    let p = Potential::new(well, 1, 1, vec![0.0], 0.0).unwrap();
    let data = Potential::unit_data().unwrap();
    let steps = 3000;
    let plain = Optimizer::chain(vec![Box::new(Sgd { lr: 0.01.into() })]);
    // δ_t decreases from 3 to 0 along a cosine; S = 8 perturbations uniform in the ball.
    let smooth = Optimizer::chain(vec![
        Box::new(Smoothing {
            delta: Schedule::Cosine {
                initial: 3.0,
                final_value: 0.0,
                total: steps,
            },
            samples: 8,
            kind: SmoothingKind::Ball,
        }),
        Box::new(Sgd { lr: 0.01.into() }),
    ]);
    let finish = |opt: &Optimizer, start: f64, seed: u64| {
        let trainer = Trainer::full_batch(linear(&p), opt, Seed(seed), steps);
        trainer.fit(vec![start], &data).unwrap().0.params[0]
    };
    let starts: Vec<f64> = (0..48).map(|k| -4.0 + 8.0 * k as f64 / 47.0).collect();
    let (mut gd_wins, mut smooth_wins) = (0, 0);
    for (k, &s) in starts.iter().enumerate() {
        gd_wins += usize::from(finish(&plain, s, k as u64).abs() < 0.5);
        smooth_wins += usize::from(finish(&smooth, s, k as u64).abs() < 0.5);
    }
    eprintln!("graduated {smooth_wins}, plain {gd_wins}");
    // The difference of the two success rates against its binomial standard error
    // √((p₁(1 − p₁) + p₂(1 − p₂))/n): graduated optimisation must win by more than 4 of them
    // and reach the global minimum from most starts. (48 starts: a count, not a fixed number
    // of wins, so that the noise streams of one version are not what passes it.)
    let n = starts.len() as f64;
    let (p1, p2) = (smooth_wins as f64 / n, gd_wins as f64 / n);
    let se = ((p1 * (1.0 - p1) + p2 * (1.0 - p2)) / n).sqrt();
    assert!(
        p1 - p2 > 4.0 * se && p1 > 0.5,
        "graduated {smooth_wins}, plain {gd_wins} of {n}"
    );
}

#[test]
fn lanczos_sharpness_equals_the_largest_hessian_eigenvalue() {
    // A double well at its minimum: U'' = 8h.
    let p = Potential::new(
        Landscape::DoubleWell {
            height: 1.5,
            tilt: 0.0,
        },
        1,
        1,
        vec![1.0],
        0.0,
    )
    .unwrap();
    let data = Potential::unit_data().unwrap();
    let s = langevin::sharpness(&linear(&p), &data, &[1.0], 5, Seed(1)).unwrap();
    assert!((s - 12.0).abs() < 1e-5, "{s}");
    // A point of the wrong length is an error naming the routine, not a panic.
    for wrong in [&[][..], &[1.0, 2.0][..]] {
        error_naming(
            langevin::sharpness(&linear(&p), &data, wrong, 5, Seed(1)),
            "sharpness",
        );
    }
    // A small MLP's loss: Lanczos with full reorthogonalisation against the dense Hessian.
    let mlp = gradflow::nn::Mlp::new(
        vec![2, 4, 1],
        Activation::Tanh,
        gradflow::nn::Parameterization::Ntk,
        1.0,
        0.5,
        true,
    )
    .unwrap();
    let mut rng = Seed(5).stream("d", 0);
    let x = synthetic::sphere(10, 2, &mut rng);
    let y = synthetic::spherical_harmonic_target(&x, &[1.0, 0.0], 2);
    let data = Dataset::new("train", x, y).unwrap();
    let params = mlp.init(&mut rng);
    let obj = Objective::squared(&mlp);
    let n = params.len();
    let grad = |q: &[f64]| {
        let mut g = vec![0.0; n];
        obj.value_and_gradient(q, &data, &mut gradflow::train::Workspace::default(), &mut g);
        g
    };
    let mut h = Matrix::zeros(n, n);
    for j in 0..n {
        let (mut a, mut b) = (params.clone(), params.clone());
        a[j] += 1e-5;
        b[j] -= 1e-5;
        let (ga, gb) = (grad(&a), grad(&b));
        for i in 0..n {
            h.set(i, j, (ga[i] - gb[i]) / 2e-5);
        }
    }
    let sym = Matrix::from_fn(n, n, |i, j| 0.5 * (h.get(i, j) + h.get(j, i)));
    let top = *gradflow::linalg::symmetric_eigenvalues(&sym)
        .unwrap()
        .last()
        .unwrap();
    let s = langevin::sharpness(&obj, &data, &params, n, Seed(2)).unwrap();
    assert!((s - top).abs() < 1e-6 * top.abs().max(1.0), "{s} vs {top}");
}

/// A small non-diagonal problem: Φ is 9 × 6 Gaussian, μ_k = k^{-2}.
fn small_problem(beta: f64, lambda: f64) -> langevin::LinearGaussian {
    let mut rng = Seed(31).stream("phi", 0);
    let mut phi = Matrix::zeros(9, 6);
    rng.fill_normal(&mut phi.data, 1.0);
    let mut y = vec![0.0; 9];
    rng.fill_normal(&mut y, 1.0);
    let mu: Vec<f64> = (1..=6).map(|k| (k as f64).powi(-2)).collect();
    langevin::LinearGaussian::new(&phi, &y, &mu, beta, lambda).unwrap()
}

#[test]
fn scheme_stationary_law_solves_the_lyapunov_equation() {
    use langevin::Scheme;
    let (beta, lambda, lr) = (3.0, 0.5, 0.05);
    let problem = small_problem(beta, lambda);
    let p = problem.mu.len();
    for scheme in [Scheme::SemiImplicit, Scheme::Explicit] {
        let (mean, sigma) = problem.scheme_stationary(lr, scheme).unwrap();
        // Independent truth: vec(Σ) = (I − M ⊗ M)^{-1} vec(Q), a dense p² × p² solve.
        let m = Matrix::from_fn(p, p, |i, j| {
            let a = lambda / problem.mu[i];
            let d = if i == j { 1.0 } else { 0.0 };
            match scheme {
                Scheme::SemiImplicit => (d - lr * problem.h.get(i, j)) / (1.0 + lr * a),
                Scheme::Explicit => d - lr * (problem.h.get(i, j) + d * a),
            }
        });
        let q = |i: usize| {
            let a = lambda / problem.mu[i];
            match scheme {
                Scheme::SemiImplicit => 2.0 * lr / beta / (1.0 + lr * a).powi(2),
                Scheme::Explicit => 2.0 * lr / beta,
            }
        };
        let big = Matrix::from_fn(p * p, p * p, |r, c| {
            let (i, j, k, l) = (r / p, r % p, c / p, c % p);
            let d = if r == c { 1.0 } else { 0.0 };
            d - m.get(i, k) * m.get(j, l)
        });
        let rhs = Matrix::column(
            (0..p * p)
                .map(|r| if r / p == r % p { q(r / p) } else { 0.0 })
                .collect(),
        );
        let vec_sigma = gradflow::linalg::least_squares(&big, &rhs).unwrap();
        for (a, b) in sigma.data.iter().zip(&vec_sigma.data) {
            assert!(
                (a - b).abs() < 1e-10 * sigma.frobenius_norm(),
                "{scheme:?}: {a} vs {b}"
            );
        }
        // The fixed mean is the posterior mean, and Σ_η → Σ as η → 0.
        let (m0, s0) = problem.posterior().unwrap();
        for (a, b) in mean.iter().zip(&m0) {
            assert!((a - b).abs() < 1e-12);
        }
        let (_, fine) = problem.scheme_stationary(1e-4, scheme).unwrap();
        let diff: f64 = fine
            .data
            .iter()
            .zip(&s0.data)
            .map(|(a, b)| (a - b).powi(2))
            .sum();
        assert!(diff.sqrt() < 1e-3 * s0.frobenius_norm());
    }
    // The explicit scheme is unstable once ηλ/μ_K > 2; the semi-implicit one is not.
    assert!(problem.scheme_stationary(0.3, Scheme::Explicit).is_err());
    assert!(problem.scheme_stationary(0.3, Scheme::SemiImplicit).is_ok());
}

#[test]
fn semi_implicit_bias_in_the_expected_loss_shrinks_with_the_step_and_not_with_truncation() {
    use langevin::Scheme;
    let mut rng = Seed(21).stream("data", 0);
    let x = synthetic::sphere(15, 2, &mut rng);
    let y = synthetic::spherical_harmonic_target(&x, &[1.0, 0.5], 1);
    let lrs = [0.2, 0.1, 0.05, 0.025];
    let mut by_k = vec![];
    for terms in [50usize, 400] {
        let model = InfiniteWidth::new(2, terms, Activation::Identity, 1.0, 2.0, 1.0).unwrap();
        let mu = model.prior_variances().unwrap();
        let phi = model.jacobian(&model.init(&mut rng), &x);
        let problem = langevin::LinearGaussian::new(&phi, &y.data, &mu, 20.0, 0.2).unwrap();
        let bias: Vec<f64> = lrs
            .iter()
            .map(|&lr| {
                problem
                    .stationary_bias(lr, Scheme::SemiImplicit)
                    .unwrap()
                    .abs()
            })
            .collect();
        let slope = -gradflow::kernel::spectrum::fit_log_log(&lrs, &bias)
            .unwrap()
            .exponent;
        eprintln!("K = {terms}: bias {bias:?}, slope {slope}");
        // At least the η^{1/2} rate of the theory (here, a smooth quadratic loss, close to η).
        assert!(slope >= 0.5, "K = {terms}: slope {slope}");
        by_k.push(bias);
        // The explicit scheme breaks down at this truncation for the larger steps.
        if terms == 400 {
            assert!(problem.scheme_stationary(0.2, Scheme::Explicit).is_err());
        }
    }
    for (a, b) in by_k[0].iter().zip(&by_k[1]) {
        assert!((a / b - 1.0).abs() < 0.05, "{a} vs {b}");
    }
}
