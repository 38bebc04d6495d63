//! The kernel dynamics against independent truths: the gradient flow of the kernel regression
//! against explicit Euler integration, its Krylov and eigendecomposition paths against each other,
//! the discrete-time descent and the GP posterior against their closed forms, and trained
//! networks against the kernel flow (lazy against rich training, wide nets). Run with the
//! binary's allocator, as the kernel tests.

/// The `gradflow` binary's allocator.
#[global_allocator]
static ALLOCATOR: gradflow::alloc::Allocator = gradflow::alloc::Allocator;

mod common;
use common::{inputs, rel_frobenius};

use gradflow::kernel::analytic::Network;
use gradflow::kernel::dynamics::{gradient_descent_mse, FlowSettings, Solver};
use gradflow::linalg::Matrix;
use gradflow::nn::{Activation, Model, TwoLayer};
use gradflow::rng::Seed;

#[test]
fn gradient_flow_matches_explicit_euler() {
    let x = inputs(8, 3, 7);
    let xt = inputs(3, 3, 8);
    let net = Network {
        b_std: Some(0.1),
        ..Network::new(2, Activation::ERF)
    };
    let theta = net.kernels(&x, None).unwrap().ntk;
    let theta_te = net.kernels(&xt, Some(&x)).unwrap().ntk;
    let y = Matrix::from_fn(8, 2, |i, c| ((i + 3 * c) as f64).sin());
    let f0 = Matrix::from_fn(8, 2, |i, c| 0.1 * ((i * c) as f64).cos());
    let f0_te = Matrix::from_fn(3, 2, |i, c| 0.05 * (i + c) as f64);
    let settings = FlowSettings {
        learning_rate: 2.0,
        ..FlowSettings::default()
    };
    let t_end = 30.0;
    let pred = gradient_descent_mse(
        &theta,
        &theta_te,
        &y,
        Some(&f0),
        Some(&f0_te),
        &[t_end],
        &settings,
    )
    .unwrap();
    // Euler on df/dt = −(η/N) Θ (f − y), df_te/dt = −(η/N) Θ_te (f − y), N = 16.
    let steps = 200_000;
    let dt = t_end / steps as f64;
    let c = settings.learning_rate / 16.0;
    let (mut f, mut ft) = (f0.clone(), f0_te.clone());
    for _ in 0..steps {
        let r = Matrix::from_fn(8, 2, |i, k| f.get(i, k) - y.get(i, k));
        let df = theta.matmul(&r).unwrap();
        let dft = theta_te.matmul(&r).unwrap();
        f.data
            .iter_mut()
            .zip(&df.data)
            .for_each(|(v, d)| *v -= dt * c * d);
        ft.data
            .iter_mut()
            .zip(&dft.data)
            .for_each(|(v, d)| *v -= dt * c * d);
    }
    assert!(rel_frobenius(&pred.train[0], &f) < 1e-4);
    assert!(rel_frobenius(&pred.test[0], &ft) < 1e-4);
    // The Krylov solver on the same problem (Auto picks the eigendecomposition at n = 8).
    assert_eq!(pred.solver, Solver::Eigen);
    let krylov = gradient_descent_mse(
        &theta,
        &theta_te,
        &y,
        Some(&f0),
        Some(&f0_te),
        &[t_end],
        &FlowSettings {
            solver: Solver::Krylov,
            ..settings
        },
    )
    .unwrap();
    assert!(rel_frobenius(&krylov.test[0], &ft) < 1e-4);
    assert!(rel_frobenius(&krylov.test[0], &pred.test[0]) < 1e-12);
    // t = ∞ interpolates the training targets.
    let inf = gradient_descent_mse(
        &theta,
        &theta_te,
        &y,
        Some(&f0),
        Some(&f0_te),
        &[f64::INFINITY],
        &settings,
    )
    .unwrap();
    assert!(rel_frobenius(&inf.train[0], &y) < 1e-12);
    // and equals the long-time limit of the finite-time formula.
    let long = gradient_descent_mse(
        &theta,
        &theta_te,
        &y,
        Some(&f0),
        Some(&f0_te),
        &[1e9],
        &settings,
    )
    .unwrap();
    assert!(rel_frobenius(&long.test[0], &inf.test[0]) < 1e-6);
}

#[test]
fn krylov_and_eigendecomposition_paths_agree() {
    // A ReLU NTK Gram matrix of 600 points (ill-conditioned: power-law spectrum), two outputs,
    // nonzero f₀, times from 0 to 10⁴ and ∞.
    let x = inputs(600, 5, 30);
    let xt = inputs(40, 5, 31);
    let net = Network::new(2, Activation::Relu);
    let theta = net.kernels(&x, None).unwrap().ntk;
    let theta_te = net.kernels(&xt, Some(&x)).unwrap().ntk;
    let y = Matrix::from_fn(600, 2, |i, c| (x.get(i, 0) * (1.0 + c as f64)).sin());
    let f0 = Matrix::from_fn(600, 2, |i, c| 0.1 * x.get(i, c + 1));
    let f0_te = Matrix::from_fn(40, 2, |i, c| 0.1 * xt.get(i, c + 1));
    let times = [0.0, 1.0, 10.0, 100.0, 1e4, f64::INFINITY];
    let run = |solver| {
        gradient_descent_mse(
            &theta,
            &theta_te,
            &y,
            Some(&f0),
            Some(&f0_te),
            &times,
            &FlowSettings {
                learning_rate: 3.0,
                diag_reg: 1e-6,
                solver,
                ..FlowSettings::default()
            },
        )
        .unwrap()
    };
    let (eigen, krylov, auto) = (run(Solver::Eigen), run(Solver::Krylov), run(Solver::Auto));
    assert_eq!(auto.solver, Solver::Krylov);
    assert_eq!(auto, krylov);
    assert_eq!(krylov.krylov_steps.len(), 2);
    assert!(
        krylov.krylov_steps.iter().all(|&m| m < 300),
        "{:?}",
        krylov.krylov_steps
    );
    for (t, ((ke, kk), (te, tk))) in times.iter().zip(
        eigen
            .train
            .iter()
            .zip(&krylov.train)
            .zip(eigen.test.iter().zip(&krylov.test)),
    ) {
        assert!(
            rel_frobenius(kk, ke) < 1e-10,
            "train at t = {t}: {}",
            rel_frobenius(kk, ke)
        );
        assert!(
            rel_frobenius(tk, te) < 1e-10,
            "test at t = {t}: {}",
            rel_frobenius(tk, te)
        );
    }
    // t = 0 returns f₀ exactly (the Krylov space of g(Θ) = 0 · … is trivial).
    assert!(rel_frobenius(&krylov.test[0], &f0_te) < 1e-14);
}

/// Final kernel movement of a two-layer tanh net trained by full-batch GD (spec::run with the
/// kernel diagnostics observer).
fn final_movement(width: usize, gamma: f64, lr: f64) -> (f64, f64) {
    let text = format!(
        r#"
seed = 3
[data]
kind = "sphere"
n = 40
dim = 3
target = {{ kind = "harmonic", degree = 1 }}
[model]
kind = "two_layer"
width = {width}
activation = "tanh"
gamma = {gamma}
[[optimizer]]
kind = "sgd"
lr = {lr}
[train]
steps = 300
record_every = 300
kernel_diagnostics = 40
"#
    );
    let spec = gradflow::spec::Spec::from_toml(&text, std::path::Path::new("spec")).unwrap();
    let out = gradflow::spec::run(&spec, std::path::Path::new("."), None, false).unwrap();
    let t = &out.trials[0].table;
    let movement = *t.column("kernel_movement").unwrap().last().unwrap();
    let loss = t.column("train_loss").unwrap();
    (movement, loss.last().unwrap() / loss[0])
}

#[test]
fn kernel_movement_separates_lazy_and_rich_training() {
    // NTK scaling (γ = 1/2): the kernel barely moves, less as the width grows (∝ M^{-1/2}).
    let (narrow, fit_narrow) = final_movement(100, 0.5, 1.0);
    let (wide, fit_wide) = final_movement(3200, 0.5, 1.0);
    assert!(
        fit_narrow < 0.2 && fit_wide < 0.2,
        "both fit: {fit_narrow} {fit_wide}"
    );
    assert!(wide < 0.4 * narrow, "NTK movement {narrow} → {wide}");
    // Mean-field scaling (γ = 1, learning rate ∝ M): at the same width the features move O(1).
    let (rich, fit_rich) = final_movement(3200, 1.0, 3200.0);
    assert!(fit_rich < 0.2, "{fit_rich}");
    eprintln!(
        "kernel movement: NTK M=100 {narrow:.4}, NTK M=3200 {wide:.4}, mean-field M=3200 {rich:.4}"
    );
    assert!(
        rich > 5.0 * wide,
        "mean-field movement {rich} vs NTK {wide}"
    );
}

#[test]
fn wide_two_layer_nets_follow_the_kernel_dynamics() {
    // A TwoLayer net (γ = 1/2, σ_w = 1, |a_j| = 1, f₀ = 0 by symmetric initialisation) trained by
    // full-batch GD on L = (1/2n)‖f − y‖² against the same GD in function space with the limit
    // kernel k_∞: f ← f − (η/n) Θ (f − y) on train, f_te ← f_te − (η/n) Θ_te (f − y).
    use gradflow::data::{synthetic, Dataset};
    use gradflow::kernel::analytic::two_layer_ntk;
    use gradflow::optim::{Optimizer, Sgd};
    use gradflow::train::{Objective, Trainer};
    let (n, steps, lr) = (20, 300, 1.0);
    let mut r = Seed(12).stream("follow", 0);
    let x = synthetic::sphere(n, 3, &mut r);
    let xt = synthetic::sphere(10, 3, &mut r);
    let y = synthetic::spherical_harmonic_target(&x, &[0.0, 0.6, 0.8], 2);
    let data = Dataset::new("train", x.clone(), y.clone()).unwrap();
    let theta = two_layer_ntk(&x, None, Activation::Relu).unwrap();
    let theta_te = two_layer_ntk(&xt, Some(&x), Activation::Relu).unwrap();
    let (mut f, mut ft) = (Matrix::zeros(n, 1), Matrix::zeros(10, 1));
    for _ in 0..steps {
        let res = Matrix::from_fn(n, 1, |i, _| f.data[i] - y.data[i]);
        let df = theta.matmul(&res).unwrap();
        let dft = theta_te.matmul(&res).unwrap();
        f.data
            .iter_mut()
            .zip(&df.data)
            .for_each(|(v, d)| *v -= lr / n as f64 * d);
        ft.data
            .iter_mut()
            .zip(&dft.data)
            .for_each(|(v, d)| *v -= lr / n as f64 * d);
    }
    let optimizer = Optimizer::chain(vec![Box::new(Sgd { lr: lr.into() })]);
    let gap = |width: usize| -> f64 {
        let model = TwoLayer {
            symmetric: true,
            ..TwoLayer::new(3, width, Activation::Relu, 0.5).unwrap()
        };
        let mut total = 0.0;
        for seed in 0..3 {
            let trainer =
                Trainer::full_batch(Objective::squared(&model), &optimizer, Seed(seed), steps);
            let init = model.init(&mut Seed(seed).stream("init", 0));
            let (state, _) = trainer.fit(init, &data).unwrap();
            let pred = model.predict(&state.params, &xt).unwrap();
            total += rel_frobenius(&pred, &ft) / 3.0;
        }
        total
    };
    let gaps: Vec<f64> = [256, 1024, 4096].iter().map(|&m| gap(m)).collect();
    eprintln!("network-vs-kernel test gap at M = 256, 1024, 4096: {gaps:?}");
    assert!(gaps[0] > gaps[1] && gaps[1] > gaps[2], "{gaps:?}");
    assert!(gaps[2] < 0.1, "{gaps:?}");
}

#[test]
fn discrete_time_kernel_descent_and_gp_posterior() {
    use gradflow::kernel::dynamics::{gp_posterior, gradient_descent_mse_discrete};
    let x = inputs(9, 3, 20);
    let xt = inputs(4, 3, 21);
    let net = Network {
        b_std: Some(0.2),
        ..Network::new(1, Activation::Tanh)
    };
    let theta = net.kernels(&x, None).unwrap().ntk;
    let theta_te = net.kernels(&xt, Some(&x)).unwrap().ntk;
    let y = Matrix::from_fn(9, 1, |i, _| (i as f64).cos());
    let settings = FlowSettings {
        learning_rate: 3.0,
        ..FlowSettings::default()
    };
    let pred =
        gradient_descent_mse_discrete(&theta, &theta_te, &y, &[0, 1, 37], &settings).unwrap();
    // Against the plain iteration f ← f − (η/N) Θ (f − y), f_te ← f_te − (η/N) Θ_te (f − y).
    let (mut f, mut ft) = (Matrix::zeros(9, 1), Matrix::zeros(4, 1));
    for step in 0..=37 {
        if step == 37 {
            assert!(rel_frobenius(&pred.train[2], &f) < 1e-10);
            assert!(rel_frobenius(&pred.test[2], &ft) < 1e-10);
        }
        let res = Matrix::from_fn(9, 1, |i, _| f.data[i] - y.data[i]);
        let df = theta.matmul(&res).unwrap();
        let dft = theta_te.matmul(&res).unwrap();
        f.data
            .iter_mut()
            .zip(&df.data)
            .for_each(|(v, d)| *v -= 3.0 / 9.0 * d);
        ft.data
            .iter_mut()
            .zip(&dft.data)
            .for_each(|(v, d)| *v -= 3.0 / 9.0 * d);
    }
    assert!(pred.train[0].frobenius_norm() < 1e-12);
    // GP posterior at a training point with tiny noise: mean ≈ y, variance ≈ 0; with huge noise
    // the data says nothing and the variance is the prior variance.
    let k = net.kernels(&x, None).unwrap().nngp;
    let probe = Matrix::from_fn(2, 3, |i, j| {
        if i == 0 {
            x.get(0, j)
        } else {
            0.3 * j as f64 - 0.2
        }
    });
    let k_pt = net.kernels(&probe, Some(&x)).unwrap().nngp;
    let k_pp = net.kernels(&probe, None).unwrap().nngp;
    let (mean, var) =
        gp_posterior(&k, &k_pt, &[k_pp.get(0, 0), k_pp.get(1, 1)], &y, 1e-10).unwrap();
    assert!((mean.data[0] - y.data[0]).abs() < 1e-4);
    assert!(var[0].abs() < 1e-6 * k_pp.get(0, 0));
    assert!(var[1] >= 0.0 && var[1] < k_pp.get(1, 1));
    let (_, prior) = gp_posterior(&k, &k_pt, &[k_pp.get(0, 0), k_pp.get(1, 1)], &y, 1e12).unwrap();
    assert!((prior[1] - k_pp.get(1, 1)).abs() < 1e-9 * k_pp.get(1, 1));
}
