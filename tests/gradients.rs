//! Gradients of every model × activation × loss against central finite differences.

use gradflow::data::Dataset;
use gradflow::linalg::Matrix;
use gradflow::nn::{
    Activation, DeepLinear, Factorization, InfiniteWidth, Loss, Mlp, Model, OutputInit,
    Parameterization, TwoLayer,
};
use gradflow::rng::Seed;
use gradflow::train::{Objective, Workspace};

/// Relative error ‖g − g_fd‖ / max(‖g_fd‖, 1e-8) of the analytic gradient of L(θ) against
/// central finite differences.
fn gradient_error(model: &dyn Model, loss: Loss, l2: f64, data: &Dataset, params: &[f64]) -> f64 {
    let objective = Objective { model, loss, l2 };
    let mut ws = Workspace::default();
    let mut grad = vec![0.0; params.len()];
    objective.value_and_gradient(params, data, &mut ws, &mut grad);
    let mut fd = vec![0.0; params.len()];
    let mut p = params.to_vec();
    let trainable: Vec<bool> = {
        let mut t = vec![true; params.len()];
        for b in model.layout() {
            if !b.trainable {
                t[b.range()].iter_mut().for_each(|v| *v = false);
            }
        }
        t
    };
    for k in 0..params.len() {
        if !trainable[k] {
            continue;
        }
        // Five-point central stencil, truncation error O(h⁴).
        let h = 1e-4 * (1.0 + params[k].abs());
        let mut at = |delta: f64| {
            p[k] = params[k] + delta;
            let v = objective.value(&p, data, &mut ws);
            p[k] = params[k];
            v
        };
        fd[k] = (8.0 * (at(h) - at(-h)) - (at(2.0 * h) - at(-2.0 * h))) / (12.0 * h);
    }
    let diff: f64 = grad
        .iter()
        .zip(&fd)
        .map(|(a, b)| (a - b) * (a - b))
        .sum::<f64>()
        .sqrt();
    let scale = fd.iter().map(|v| v * v).sum::<f64>().sqrt().max(1e-8);
    diff / scale
}

fn data(n: usize, d: usize, outputs: usize, classify: bool, index: u64) -> Dataset {
    let mut r = Seed(99).stream("grad-data", index);
    let x = Matrix::from_fn(n, d, |_, _| r.normal());
    let y = Matrix::from_fn(
        n,
        outputs,
        |_, _| {
            if classify {
                r.sign()
            } else {
                r.normal()
            }
        },
    );
    Dataset::new("test", x, y).unwrap()
}

/// Checks one model at a fixed draw of parameters. For ReLU the inputs and parameters are fixed
/// draws whose pre-activations stay away from the kink by more than the stencil (a crossing
/// would show up as a large error, so the test cannot pass by accident).
fn check(model: &dyn Model, loss: Loss, l2: f64, data: &Dataset, label: &str) {
    let params = model.init(&mut Seed(5).stream("grad-init", 0));
    let err = gradient_error(model, loss, l2, data, &params);
    assert!(
        err < 1e-6,
        "{label} {loss:?}: relative gradient error {err:e}"
    );
}

#[test]
fn mlp_gradients_all_activations_losses_parameterizations() {
    for act in Activation::ALL {
        for loss in Loss::ALL {
            for param in [Parameterization::Ntk, Parameterization::Standard] {
                for bias in [true, false] {
                    let model = Mlp::new(vec![3, 5, 4, 2], act, param, 0.9, 0.4, bias).unwrap();
                    let d = data(7, 3, 2, loss.is_classification(), 1);
                    check(
                        &model,
                        loss,
                        0.0,
                        &d,
                        &format!("mlp {act:?} {param:?} bias={bias}"),
                    );
                }
            }
        }
    }
}

#[test]
fn two_layer_gradients_scaling_family_and_frozen_layers() {
    for act in Activation::ALL {
        for loss in Loss::ALL {
            for &(gamma, alpha, bias, first, second, symmetric) in &[
                (0.5, 1.0, false, true, true, false),
                (1.0, 3.0, true, true, true, false),
                (0.75, 1.0, true, true, false, true),
                (0.5, 2.0, true, false, true, false),
            ] {
                let model = TwoLayer {
                    input_dim: 4,
                    width: 6,
                    activation: act,
                    alpha,
                    gamma,
                    bias,
                    w_std: 0.8,
                    b_std: 0.5,
                    output_init: OutputInit::Gaussian { std: 1.0 },
                    symmetric,
                    train_first: first,
                    train_second: second,
                }
                .validated()
                .unwrap();
                let d = data(9, 4, 1, loss.is_classification(), 2);
                check(
                    &model,
                    loss,
                    0.01,
                    &d,
                    &format!(
                        "two_layer {act:?} γ={gamma} bias={bias} first={first} second={second}"
                    ),
                );
            }
        }
    }
}

/// A width over several blocks of neurons (the passes run in fixed blocks of 128; here 128, 128
/// and a ragged 4), for an activation whose derivative is read from its value (tanh, ReLU) and
/// one that keeps its pre-activations (softplus). The parallel path runs the same per-block code
/// (tests/train.rs holds it to bit-identical results across thread counts at M = 600).
#[test]
fn two_layer_gradients_across_neuron_blocks() {
    let model = |act| TwoLayer {
        bias: true,
        w_std: 0.7,
        b_std: 0.3,
        output_init: OutputInit::Gaussian { std: 1.0 },
        ..TwoLayer::new(2, 260, act, 0.5).unwrap()
    };
    let d = data(40, 2, 1, false, 3);
    for act in [Activation::Tanh, Activation::Softplus] {
        check(
            &model(act),
            Loss::Squared,
            0.0,
            &d,
            &format!("two_layer M=300 {act:?}"),
        );
    }
    // ReLU: 30,000 pre-activations put some within any stencil of the kink, so the ReLU pass
    // (derivative read from the value) is checked against the a/b-ReLU pass with a = 0, b = 1
    // (derivative from the pre-activation), whose smooth siblings pass above.
    let gradient = |act| {
        let m = model(act);
        let objective = Objective {
            model: &m,
            loss: Loss::Squared,
            l2: 0.0,
        };
        let params = m.init(&mut Seed(5).stream("grad-init", 0));
        let mut grad = vec![0.0; params.len()];
        objective.value_and_gradient(&params, &d, &mut Workspace::default(), &mut grad);
        grad
    };
    let relu = gradient(Activation::Relu);
    let ab = gradient(Activation::AbRelu { a: 0.0, b: 1.0 });
    let diff = relu
        .iter()
        .zip(&ab)
        .map(|(u, v)| (u - v).abs())
        .fold(0.0, f64::max);
    assert!(diff <= 1e-14, "relu against ab_relu(0, 1): {diff:e}");
    assert!(relu.iter().any(|&g| g != 0.0));
}

#[test]
fn deep_linear_factorization_infinite_width_gradients() {
    for loss in Loss::ALL {
        let dl = DeepLinear::new(vec![3, 4, 4, 2], 1.0).unwrap();
        check(
            &dl,
            loss,
            0.0,
            &data(6, 3, 2, loss.is_classification(), 3),
            "deep_linear",
        );
        for act in Activation::ALL {
            let iw = InfiniteWidth::new(3, 10, act, 1.0, 2.0, 1.0).unwrap();
            check(
                &iw,
                loss,
                0.0,
                &data(6, 3, 1, loss.is_classification(), 4),
                "infinite_width",
            );
        }
        let fact = Factorization::new(5, 2, 1.0).unwrap();
        let pairs: Vec<(usize, usize)> = vec![(0, 0), (0, 3), (1, 2), (2, 4), (4, 4), (3, 1)];
        let x = Matrix::from_fn(pairs.len(), 2, |r, c| {
            if c == 0 {
                pairs[r].0 as f64
            } else {
                pairs[r].1 as f64
            }
        });
        let mut r = Seed(1).stream("f", 0);
        let y = Matrix::from_fn(pairs.len(), 1, |_, _| {
            if loss.is_classification() {
                r.sign()
            } else {
                r.normal()
            }
        });
        check(
            &fact,
            loss,
            0.0,
            &Dataset::new("f", x, y).unwrap(),
            "factorization",
        );
    }
}

#[test]
fn jacobian_rows_are_gradients_of_each_output() {
    // The default Jacobian (backward per sample and output) against finite differences of f.
    let model = Mlp::new(
        vec![3, 4, 2],
        Activation::Tanh,
        Parameterization::Ntk,
        1.0,
        0.5,
        true,
    )
    .unwrap();
    let params = model.init(&mut Seed(2).stream("j", 0));
    let x = data(3, 3, 1, false, 5).x;
    let jac = model.jacobian(&params, &x);
    let f0 = model.predict(&params, &x).unwrap();
    assert_eq!((jac.rows, jac.cols), (6, params.len()));
    for k in 0..params.len() {
        let h = 1e-6;
        let mut p = params.clone();
        p[k] += h;
        let up = model.predict(&p, &x).unwrap();
        p[k] -= 2.0 * h;
        let down = model.predict(&p, &x).unwrap();
        for row in 0..6 {
            let fd = (up.data[row] - down.data[row]) / (2.0 * h);
            assert!(
                (fd - jac.get(row, k)).abs() < 1e-7 * (1.0 + fd.abs()),
                "row {row} param {k}"
            );
        }
        let _ = &f0;
    }
}
