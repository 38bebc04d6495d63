//! Mean-field particle dynamics against independent truths: the velocity field of SPEC §4
//! (direct formula) against the rescaled flat gradient and finite differences, the Gibbs law of
//! non-interacting Langevin particles, the M^{-1/2} spread across seeds, Benamou–Brenier, and
//! the spec wiring.

mod common;
use common::error_naming;

use gradflow::commands::Cancel;
use gradflow::data::{synthetic, Dataset};
use gradflow::meanfield::{self, ParticleLayout, ParticleObserver, ParticleStep};
use gradflow::nn::{Activation, Loss, Model, OutputInit, TwoLayer};
use gradflow::optim::{Optimizer, Schedule};
use gradflow::train::{Batching, Objective, Trainer, Workspace};
use gradflow::{Matrix, Seed};

fn mean_field_net(d: usize, m: usize, activation: Activation) -> TwoLayer {
    TwoLayer {
        bias: true,
        output_init: OutputInit::Gaussian { std: 1.0 },
        ..TwoLayer::new(d, m, activation, 1.0).unwrap()
    }
}

fn regression_data(n: usize, d: usize, seed: u64) -> Dataset {
    let mut rng = Seed(seed).stream("data", 0);
    let x = synthetic::sphere(n, d, &mut rng);
    let y = synthetic::spherical_harmonic_target(&x, &vec![1.0; d], 2);
    Dataset::new("train", x, y).unwrap()
}

#[test]
fn velocity_field_equals_rescaled_gradient_and_finite_differences() {
    for (activation, loss) in [
        (Activation::Tanh, Loss::Squared),
        (Activation::Softplus, Loss::Logistic),
    ] {
        let (d, m) = (3, 17);
        let model = mean_field_net(d, m, activation);
        let mut data = regression_data(11, d, 1);
        if loss == Loss::Logistic {
            data.y
                .data
                .iter_mut()
                .for_each(|v| *v = if *v > 0.0 { 1.0 } else { -1.0 });
        }
        let params = model.init(&mut Seed(2).stream("init", 0));
        let layout = ParticleLayout::of(&model).unwrap();
        let v = meanfield::velocity(&layout, &params, activation, loss, &data).unwrap();
        let objective = Objective {
            model: &model,
            loss,
            l2: 0.0,
        };
        let mut ws = Workspace::default();
        let mut grad = vec![0.0; params.len()];
        objective.value_and_gradient(&params, &data, &mut ws, &mut grad);
        // The flat gradient laid out as particles, times −M.
        let g = meanfield::particles(&layout, &grad).unwrap();
        for (vj, gj) in v.data.iter().zip(&g.data) {
            assert!(
                (vj + m as f64 * gj).abs() <= 1e-12 * (1.0 + vj.abs()),
                "{vj} vs {}",
                -(m as f64) * gj
            );
        }
        // Finite differences of L along one coordinate of one particle (5-point stencil).
        let h = 1e-4;
        for (k, coord) in [(0usize, 0usize), (5, d), (9, d + 1)] {
            let index = match coord {
                c if c < d => k * d + c,
                c if c == d => m * d + k,
                _ => m * d + m + k,
            };
            let at = |delta: f64| {
                let mut p = params.clone();
                p[index] += delta;
                objective.value(&p, &data, &mut Workspace::default())
            };
            let fd = (-at(2.0 * h) + 8.0 * at(h) - 8.0 * at(-h) + at(-2.0 * h)) / (12.0 * h);
            let want = -v.get(k, coord) / m as f64;
            assert!(
                (fd - want).abs() <= 1e-8,
                "{activation:?} particle {k} coordinate {coord}: {fd} vs {want}"
            );
        }
    }
}

#[test]
fn noninteracting_langevin_particles_sample_the_discrete_gibbs_law() {
    // Frozen output weights a = 0: f ≡ 0, no interaction; the potential is (λ/2)‖θ‖² and each
    // coordinate is the chain θ ← (1 − ηλ)θ + √(2η/β)ξ, whose stationary variance is
    // 1/(βλ(1 − ηλ/2)), not the continuous-time 1/(βλ).
    let (d, m) = (3, 600);
    let model = TwoLayer {
        output_init: OutputInit::Gaussian { std: 0.0 },
        train_second: false,
        ..mean_field_net(d, m, Activation::Tanh)
    };
    let data = regression_data(10, d, 3);
    let (lr, l2, beta) = (0.5, 1.0, 4.0);
    let step = ParticleStep {
        lr: lr.into(),
        width: m,
        l2,
        inverse_temperature: Some(beta),
        anneal: None,
    };
    let opt = Optimizer::chain(vec![Box::new(step)]);
    let objective = Objective {
        model: &model,
        loss: Loss::Squared,
        l2: 0.0,
    };
    let trainer = Trainer {
        objective,
        optimizer: &opt,
        batching: Batching::Full,
        seed: Seed(4),
        steps: 250,
        record_every: 1000,
    };
    let (mut state, mut table) = trainer.begin(model.init(&mut Seed(5).stream("init", 0)), &[]);
    let layout = ParticleLayout::of(&model).unwrap();
    let (mut sum, mut count) = (0.0, 0.0);
    for snapshot in 0..20 {
        let until = 50 + 10 * snapshot as u64;
        trainer
            .run(&mut state, &data, until, &mut [], &mut table, Cancel::NEVER)
            .unwrap();
        let p = meanfield::particles(&layout, &state.params).unwrap();
        for j in 0..m {
            for c in 0..=d {
                sum += p.get(j, c).powi(2);
                count += 1.0;
            }
        }
    }
    let var = sum / count;
    let discrete = 1.0 / (beta * l2 * (1.0 - lr * l2 / 2.0));
    let continuous = 1.0 / (beta * l2);
    // 48 000 squares of nearly independent Gaussians (snapshots 10 steps apart, correlation
    // (1 − ηλ)^10 ≈ 1e-3): relative standard error ≈ √(2/48000) ≈ 0.7 %.
    assert!(
        (var / discrete - 1.0).abs() < 0.03,
        "variance {var} vs discrete {discrete}"
    );
    assert!((var / continuous - 1.0).abs() > 0.2);
}

fn trained_outputs(m: usize, seed: u64, data: &Dataset, probe: &Matrix) -> Vec<f64> {
    let model = mean_field_net(data.x.cols, m, Activation::Tanh);
    let opt = Optimizer::chain(vec![Box::new(ParticleStep {
        lr: 0.2.into(),
        width: m,
        l2: 0.0,
        inverse_temperature: None,
        anneal: None,
    })]);
    let trainer = Trainer::full_batch(Objective::squared(&model), &opt, Seed(seed), 150);
    let (state, _) = trainer
        .fit(model.init(&mut Seed(seed).stream("init", 0)), data)
        .unwrap();
    model.predict(&state.params, probe).unwrap().data
}

#[test]
fn spread_across_seeds_falls_like_m_to_the_minus_half() {
    let data = regression_data(20, 3, 6);
    let probe = synthetic::sphere(30, 3, &mut Seed(7).stream("probe", 0));
    let widths = [32usize, 128, 512, 2048];
    let spreads: Vec<f64> = widths
        .iter()
        .map(|&m| {
            let runs: Vec<Vec<f64>> = (0..8)
                .map(|s| trained_outputs(m, 100 + s, &data, &probe))
                .collect();
            gradflow::stats::spread(&runs).unwrap()
        })
        .collect();
    // Least-squares slope of log spread against log M.
    let m: Vec<f64> = widths.iter().map(|&m| m as f64).collect();
    let slope = gradflow::stats::fit_log_log(&m, &spreads).unwrap().slope;
    assert!(
        (slope + 0.5).abs() < 0.15,
        "slope {slope}, spreads {spreads:?}"
    );
}

#[test]
fn benamou_brenier_action_bounds_w2_along_the_path() {
    let (d, m) = (2, 150);
    let model = mean_field_net(d, m, Activation::Tanh);
    let data = regression_data(30, d, 8);
    let opt = Optimizer::chain(vec![Box::new(ParticleStep {
        lr: Schedule::Constant { value: 0.5 },
        width: m,
        l2: 0.0,
        inverse_temperature: None,
        anneal: None,
    })]);
    let trainer = Trainer {
        record_every: 5,
        ..Trainer::full_batch(Objective::squared(&model), &opt, Seed(9), 200)
    };
    let mut observer = ParticleObserver::new(&model).unwrap();
    let (_, table) = trainer
        .fit_with(
            model.init(&mut Seed(9).stream("init", 0)),
            &data,
            &mut [&mut observer],
        )
        .unwrap();
    let w2 = table.column("w2_sq_init").unwrap();
    let disp = table.column("displacement_sq").unwrap();
    let action = table.column("action").unwrap();
    assert!(w2.last().unwrap() > &1e-3, "the particles moved");
    for k in 0..w2.len() {
        assert!(
            w2[k] <= disp[k] + 1e-12 && disp[k] <= action[k] + 1e-12,
            "row {k}: {} {} {}",
            w2[k],
            disp[k],
            action[k]
        );
    }
}

#[test]
fn implicit_bias_margin_grows_and_bad_models_are_rejected() {
    // Chizat & Bach's data: separable clusters in 2 dimensions and a bias coordinate.
    let clusters = synthetic::clusters(40, 2, 4, 0.05, &mut Seed(10).stream("cb", 0)).unwrap();
    let data = synthetic::with_bias_coordinate(&clusters).unwrap();
    assert!((0..40).all(|i| data.x.get(i, 2) == 1.0));
    let m = 100;
    let model = TwoLayer {
        w_std: 0.01,
        output_init: OutputInit::Gaussian { std: 0.01 },
        ..TwoLayer::new(3, m, Activation::Relu, 1.0).unwrap()
    };
    let opt = Optimizer::chain(vec![Box::new(ParticleStep {
        lr: 0.5.into(),
        width: m,
        l2: 0.0,
        inverse_temperature: None,
        anneal: None,
    })]);
    let objective = Objective {
        model: &model,
        loss: Loss::Exponential,
        l2: 0.0,
    };
    let trainer = Trainer {
        record_every: 250,
        ..Trainer::full_batch(objective, &opt, Seed(11), 2000)
    };
    let mut observer = ParticleObserver::new(&model)
        .unwrap()
        .with_margin(data.clone());
    let (_, table) = trainer
        .fit_with(
            model.init(&mut Seed(11).stream("init", 0)),
            &data,
            &mut [&mut observer],
        )
        .unwrap();
    let margin = table.column("normalized_margin").unwrap();
    let half = margin.len() / 2;
    assert!(margin[half] > 0.0, "separated by mid-training: {margin:?}");
    // It keeps growing towards the max-margin value (not monotone step by step: the discrete
    // flow wobbles by ~1e-5 here).
    assert!(margin.last().unwrap() > &margin[half], "{margin:?}");
    assert!(
        margin[half..].iter().all(|m| *m > margin[half] - 1e-3),
        "{margin:?}"
    );
    // A model without particles is a clear error.
    let mlp = gradflow::nn::Mlp::new(
        vec![3, 4, 1],
        Activation::Relu,
        gradflow::nn::Parameterization::Ntk,
        1.0,
        0.0,
        false,
    )
    .unwrap();
    let err = ParticleObserver::new(&mlp).err().unwrap();
    assert!(err.to_string().contains("two-layer"), "{err}");
}

#[test]
fn mean_field_langevin_without_interaction_samples_the_gibbs_law_of_a_convex_potential() {
    // The linear loss L(ρ) = (1/n) Σ_i y_i f_ρ(x_i) = ∫ V dρ has no interaction: each particle
    // runs Langevin dynamics on V(w) + (λ/2)w² with V(w) = a (1/n) Σ_i y_i softplus(w x_i) (its
    // output weight a = ±1 frozen), whose Gibbs law ∝ exp(−β(V + λw²/2)) is log-concave for
    // λ = 1 > |V''| (≤ 1/4 here). The particle cloud must match the mixture of the two laws.
    use gradflow::langevin::{self, Grid};
    let m = 20_000;
    let model = TwoLayer {
        train_second: false,
        ..TwoLayer::new(1, m, Activation::Softplus, 1.0).unwrap()
    };
    let x = Matrix::from_vec(3, 1, vec![1.0, -0.5, 0.8]).unwrap();
    let y = Matrix::from_vec(3, 1, vec![1.0, 2.0, 0.5]).unwrap();
    let data = Dataset::new("points", x, y).unwrap();
    let (lr, l2, beta) = (0.02, 1.0, 3.0);
    let opt = Optimizer::chain(vec![Box::new(ParticleStep {
        lr: lr.into(),
        width: m,
        l2,
        inverse_temperature: Some(beta),
        anneal: None,
    })]);
    let objective = Objective {
        model: &model,
        loss: Loss::Linear,
        l2: 0.0,
    };
    let trainer = Trainer::full_batch(objective, &opt, Seed(30), 600);
    let (state, _) = trainer
        .fit(model.init(&mut Seed(31).stream("init", 0)), &data)
        .unwrap();
    let layout = ParticleLayout::of(&model).unwrap();
    let p = meanfield::particles(&layout, &state.params).unwrap();
    let potential = |a: f64| {
        move |w: &[f64]| {
            let v: f64 = [(1.0, 1.0), (-0.5, 2.0), (0.8, 0.5)]
                .iter()
                .map(|(xi, yi)| yi * gradflow::nn::Activation::Softplus.value(w[0] * xi))
                .sum::<f64>()
                / 3.0;
            a * v + 0.5 * l2 * w[0] * w[0]
        }
    };
    let grid = Grid::new(-3.0, 3.0, 30).unwrap();
    let plus = langevin::gibbs_probabilities_of(&potential(1.0), 1, beta, &grid).unwrap();
    let minus = langevin::gibbs_probabilities_of(&potential(-1.0), 1, beta, &grid).unwrap();
    let share = (0..m).filter(|&j| p.get(j, 1) > 0.0).count() as f64 / m as f64;
    let mixture: Vec<f64> = plus
        .iter()
        .zip(&minus)
        .map(|(a, b)| share * a + (1.0 - share) * b)
        .collect();
    let w = Matrix::from_fn(m, 1, |j, _| p.get(j, 0));
    let (h, outside) = langevin::histogram(&w, &grid).unwrap();
    let tv = langevin::total_variation(&h, outside, &mixture).unwrap();
    // 20 000 particles in 30 cells: sampling TV ≈ 0.02; the O(η) bias is smaller at η = 0.02.
    assert!(tv < 0.035, "TV {tv}");
    // The check can fail: either law alone (or a = 0, no potential term) is far off.
    let tv_plus = langevin::total_variation(&h, outside, &plus).unwrap();
    let tv_minus = langevin::total_variation(&h, outside, &minus).unwrap();
    eprintln!(
        "TV to the mixture {tv}, to π₊ {tv_plus}, to π₋ {tv_minus} (share of a = +1: {share})"
    );
    assert!(tv_plus > 2.0 * tv && tv_minus > 2.0 * tv);
}

/// Aligning a neuron-permuted, slightly perturbed copy of θ recovers θ's order: the aligned
/// vector is within the perturbation of θ, and computes the same function as the copy.
#[test]
fn align_neurons_undoes_a_permutation() {
    let model = mean_field_net(3, 40, Activation::Tanh);
    let layout = ParticleLayout::of(&model).unwrap();
    let theta = model.init(&mut Seed(4).stream("init", 0));
    let cloud = meanfield::particles(&layout, &theta).unwrap();
    let order: Vec<usize> = (0..40).map(|j| (j * 7 + 3) % 40).collect();
    let mut other = theta.clone();
    meanfield::set_particles(&layout, &cloud.select_rows(&order), &mut other).unwrap();
    let noise: Vec<f64> = (0..other.len())
        .map(|k| 1e-4 * ((k % 5) as f64 - 2.0))
        .collect();
    other.iter_mut().zip(&noise).for_each(|(v, e)| *v += e);
    let aligned = meanfield::align_neurons(&layout, &theta, &other).unwrap();
    // The aligned copy is θ plus a permutation of the perturbation: as far as the perturbation.
    let gap = gradflow::linalg::distance(&aligned, &theta);
    assert!(
        (gap - gradflow::linalg::norm(&noise)).abs() < 1e-12,
        "{gap}"
    );
    assert!(gradflow::linalg::distance(&other, &theta) > 1.0);
    let x = synthetic::sphere(10, 3, &mut Seed(5).stream("x", 0));
    let f = model.predict(&other, &x).unwrap();
    let g = model.predict(&aligned, &x).unwrap();
    assert!(gradflow::linalg::distance(&f.data, &g.data) < 1e-12);
}

/// Particle routines answer a parameter vector of another model, a cloud of the wrong shape,
/// data of the wrong dimension and mismatched histograms with errors naming the routine, not
/// panics or truncated sums.
#[test]
fn bad_particle_inputs_are_errors_naming_the_routine() {
    use gradflow::langevin::{kl_divergence, total_variation};
    let model = mean_field_net(3, 6, Activation::Tanh);
    let layout = ParticleLayout::of(&model).unwrap();
    let theta = model.init(&mut Seed(4).stream("init", 0));
    error_naming(meanfield::particles(&layout, &theta[1..]), "particles");
    let cloud = meanfield::particles(&layout, &theta).unwrap();
    let mut copy = theta.clone();
    error_naming(
        meanfield::set_particles(&layout, &cloud.select_rows(&[0, 1]), &mut copy),
        "set_particles",
    );
    error_naming(
        meanfield::set_particles(&layout, &cloud, &mut copy[1..]),
        "set_particles",
    );
    error_naming(
        meanfield::align_neurons(&layout, &theta, &theta[..5]),
        "particles",
    );
    let x = synthetic::sphere(4, 2, &mut Seed(5).stream("x", 0));
    let data = Dataset::new("d", x, Matrix::zeros(4, 1)).unwrap();
    error_naming(
        meanfield::velocity(&layout, &theta, Activation::Tanh, Loss::Squared, &data),
        "velocity",
    );
    error_naming(total_variation(&[0.5, 0.5], 0.0, &[1.0]), "total_variation");
    error_naming(kl_divergence(&[1.0], &[0.5, 0.5]), "kl_divergence");
}

/// A tempered particle step followed by a Langevin noise transform in one chain: each draws
/// from its own stream (derived from its position in the chain), so the two noises are
/// independent and their variances add: 2η/β (particle step, g = 0, λ = 0) + 2η'/β' (the
/// noise transform). With one shared stream the increments would be perfectly correlated and
/// the variance (√a + √b)². Here a = b = 0.5: independent σ² = 1, correlated 2. Monte Carlo
/// over n = 200,000 coordinates: the estimate's standard error is σ²√(2/n) ≈ 0.32 % of σ²; the
/// tolerance is 5 standard errors, the correlated value is 300 standard errors away.
#[test]
fn a_tempered_particle_step_and_a_noise_transform_draw_independent_noise() {
    use gradflow::optim::{LangevinNoise, StepContext, Transform};
    let n = 200_000;
    let particle = ParticleStep {
        lr: 0.5.into(),
        width: 1,
        l2: 0.0,
        inverse_temperature: Some(2.0),
        anneal: None,
    };
    let noise = LangevinNoise {
        lr: 0.25.into(),
        inverse_temperature: 1.0,
    };
    particle.validate("particle").unwrap();
    let chain: Vec<Box<dyn Transform>> = vec![Box::new(particle), Box::new(noise)];
    let chain = Optimizer::chain(chain);
    let (params, mut v) = (vec![0.0; n], vec![0.0; n]);
    let mut states = chain.init(&params);
    chain.update(&mut v, &mut states, &params, &StepContext::new(5, Seed(11)));
    let var = v.iter().map(|x| x * x).sum::<f64>() / n as f64;
    let (a, b) = (2.0 * 0.5 / 2.0, 2.0 * 0.25 / 1.0);
    let se = (a + b) * (2.0 / n as f64).sqrt();
    assert!(
        (var - (a + b)).abs() < 5.0 * se,
        "variance {var}, independent {}",
        a + b
    );
}
