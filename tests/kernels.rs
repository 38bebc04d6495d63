//! Kernels against independent truths: Monte Carlo over initialisations, quadrature, the
//! document's named two-layer formulas and the Jacobian (the kernel dynamics are in
//! kernel_dynamics.rs). Run with the binary's allocator, which hands recycled memory to fresh outputs (an entry the tiled
//! kernels failed to write would hold an old value, not zero).

/// The `gradflow` binary's allocator.
#[global_allocator]
static ALLOCATOR: gradflow::alloc::Allocator = gradflow::alloc::Allocator;

mod common;
use common::{error_naming, inputs, on_threads, rel_frobenius};

use gradflow::kernel::analytic::{two_layer_ntk, Kernels, Network};
use gradflow::kernel::dynamics::{gradient_descent_mse, FlowSettings};
use gradflow::kernel::empirical::{empirical_ntk, jacobian_ntk};
use gradflow::linalg::{symmetric_eigenvalues, Matrix};
use gradflow::nn::{Activation, InfiniteWidth, Mlp, Model, OutputInit, Parameterization, TwoLayer};
use gradflow::rng::Seed;

/// Mean empirical NTK of a depth-1 MLP over `draws` initialisations.
fn monte_carlo_ntk(net: &Network, x: &Matrix, width: usize, draws: u64) -> Matrix {
    let mlp = Mlp::new(
        vec![x.cols, width, 1],
        net.activation,
        net.parameterization,
        net.w_std,
        net.b_std.unwrap_or(0.0),
        net.b_std.is_some(),
    )
    .unwrap();
    let mut mean = Matrix::zeros(x.rows, x.rows);
    for k in 0..draws {
        let p = mlp.init(&mut Seed(3).stream("mc", k));
        let kmat = jacobian_ntk(&mlp, &p, x, None).unwrap();
        mean.data
            .iter_mut()
            .zip(&kmat.data)
            .for_each(|(m, v)| *m += v / draws as f64);
    }
    mean
}

#[test]
fn analytic_ntk_matches_monte_carlo_for_every_activation_and_convention() {
    let x = inputs(5, 3, 0);
    for act in Activation::ALL {
        for param in [Parameterization::Ntk, Parameterization::Standard] {
            for b_std in [None, Some(0.5)] {
                let net = Network {
                    w_std: 1.2,
                    b_std,
                    parameterization: param,
                    width: 2048,
                    ..Network::new(1, act)
                };
                let exact = net.kernels(&x, None).unwrap().ntk;
                let mc = monte_carlo_ntk(&net, &x, 2048, 64);
                let err = rel_frobenius(&mc, &exact);
                assert!(err <= 0.03, "{act:?} {param:?} b={b_std:?}: {err}");
            }
        }
    }
}

#[test]
fn deeper_networks_match_monte_carlo() {
    let x = inputs(4, 3, 1);
    for act in [Activation::Relu, Activation::ERF, Activation::Tanh] {
        let net = Network {
            w_std: 1.3,
            b_std: Some(0.3),
            ..Network::new(2, act)
        };
        let exact = net.kernels(&x, None).unwrap().ntk;
        let mlp = Mlp::new(
            vec![3, 512, 512, 1],
            act,
            Parameterization::Ntk,
            1.3,
            0.3,
            true,
        )
        .unwrap();
        let draws = 24;
        let mut mean = Matrix::zeros(4, 4);
        for k in 0..draws {
            let p = mlp.init(&mut Seed(8).stream("deep-mc", k));
            let kmat = jacobian_ntk(&mlp, &p, &x, None).unwrap();
            mean.data
                .iter_mut()
                .zip(&kmat.data)
                .for_each(|(m, v)| *m += v / draws as f64);
        }
        let err = rel_frobenius(&mean, &exact);
        assert!(err <= 0.05, "{act:?}: {err}");
    }
}

#[test]
fn hyperparameters_change_the_kernels() {
    let x = inputs(5, 3, 2);
    let base = Network {
        b_std: Some(0.1),
        ..Network::new(2, Activation::Relu)
    };
    let k0 = base.kernels(&x, None).unwrap();
    for other in [
        Network {
            b_std: Some(0.8),
            ..base.clone()
        },
        Network {
            w_std: 1.5,
            ..base.clone()
        },
    ] {
        let k1 = other.kernels(&x, None).unwrap();
        assert!(rel_frobenius(&k1.nngp, &k0.nngp) > 0.05);
        assert!(rel_frobenius(&k1.ntk, &k0.ntk) > 0.05);
    }
}

#[test]
fn depth_one_recursion_equals_the_documents_two_layer_kernel() {
    // Network(depth 1, σ_w = 1, no bias) on x√d equals k_∞(x) = E[ηη] + E[η'η'] xᵀx'.
    let x = inputs(6, 4, 3);
    let scaled = Matrix {
        data: x.data.iter().map(|v| v * 2.0).collect(),
        ..x.clone()
    };
    for act in Activation::ALL {
        let net = Network::new(1, act);
        let recursion = net.kernels(&scaled, None).unwrap().ntk;
        let named = two_layer_ntk(&x, None, act).unwrap();
        let err = rel_frobenius(&recursion, &named);
        assert!(err < 1e-12, "{act:?}: {err}");
    }
}

#[test]
fn kernels_are_symmetric_psd_and_x2_equal_x_agrees() {
    let x = inputs(30, 5, 4);
    for act in [
        Activation::Relu,
        Activation::ERF,
        Activation::Gelu,
        Activation::Identity,
    ] {
        let net = Network {
            b_std: Some(0.2),
            ..Network::new(3, act)
        };
        let k = net.kernels(&x, None).unwrap();
        let k2 = net.kernels(&x, Some(&x)).unwrap();
        for m in [&k.nngp, &k.ntk] {
            for i in 0..30 {
                for j in 0..30 {
                    assert_eq!(m.get(i, j), m.get(j, i));
                }
            }
            let eig = symmetric_eigenvalues(m).unwrap();
            let max = eig.last().copied().unwrap();
            assert!(eig[0] >= -1e-10 * max, "{act:?}: λ_min {}", eig[0]);
        }
        assert!(rel_frobenius(&k2.ntk, &k.ntk) < 1e-7, "{act:?}");
        assert!(rel_frobenius(&k2.nngp, &k.nngp) < 1e-7, "{act:?}");
    }
}

#[test]
fn tiled_kernels_are_symmetric_thread_independent_and_overwrite_reused_buffers() {
    // 300 and 304 points: three row blocks of the 128-wide tiles (the last one partial); with
    // 304 the output rows are whole 64-byte lines apart, and the transposed writes take the
    // line-aligned non-temporal path (where the CPU has AVX-512), with 300 the general one.
    for (n, act) in [300, 304].into_iter().flat_map(|n| {
        [
            (n, Activation::leaky_relu(0.2)),
            (
                n,
                Activation::Erf {
                    a: 0.8,
                    b: 1.4,
                    c: 0.1,
                },
            ),
        ]
    }) {
        let x = inputs(n, 6, 40);
        let net = Network {
            w_std: 1.3,
            b_std: Some(0.2),
            ..Network::new(2, act)
        };
        let run = |threads: usize| on_threads(threads, || net.kernels(&x, None).unwrap());
        let fresh = run(1);
        assert!(fresh == run(3), "{act}: thread count changed the bits");
        // The cross layout (x2 given: every tile computed, none mirrored) agrees off the
        // diagonal to round-off; the leading layout is exactly symmetric.
        let cross = net.kernels(&x, Some(&x)).unwrap();
        for (m, c) in [(&fresh.nngp, &cross.nngp), (&fresh.ntk, &cross.ntk)] {
            for i in 0..n {
                for j in 0..n {
                    assert_eq!(m.get(i, j), m.get(j, i), "{act}, n = {n}: ({i}, {j})");
                    let tol = if i == j { 1e-7 } else { 1e-12 };
                    assert!(
                        (m.get(i, j) - c.get(i, j)).abs() <= tol * c.get(i, j).abs().max(1e-3),
                        "{act}, n = {n}: ({i}, {j}) {} vs {}",
                        m.get(i, j),
                        c.get(i, j)
                    );
                }
            }
        }
        // Buffers of the right shape holding NaN (or another network's kernels) are reused and
        // every entry is overwritten: the same bits as fresh outputs.
        let mut reused = Kernels {
            nngp: Matrix::from_fn(n, n, |_, _| f64::NAN),
            ntk: Matrix::from_fn(n, n, |_, _| f64::NAN),
        };
        net.kernels_into(&x, None, &mut reused).unwrap();
        assert!(reused == fresh, "{act}: NaN-filled buffers not overwritten");
        Network::new(3, Activation::ABS)
            .kernels_into(&x, None, &mut reused)
            .unwrap();
        net.kernels_into(&x, None, &mut reused).unwrap();
        assert!(
            reused == fresh,
            "{act}: buffers of another network not overwritten"
        );
        // A leading row block (the streaming layout: 200 rows against all n, two row blocks
        // with a tile that crosses the square's edge) holds the same bits as those rows.
        let block = net.kernels_upper_block(&x, 200).unwrap();
        for (b, m) in [(&block.nngp, &fresh.nngp), (&block.ntk, &fresh.ntk)] {
            assert_eq!((b.rows, b.cols), (200, n));
            for i in 0..200 {
                assert!(b.row(i) == m.row(i), "{act}, n = {n}: block row {i}");
            }
        }
        // The cross layout against another set x2 (n + 9 rows: tiles that end mid-row):
        // thread-independent, written over NaN-filled buffers, and each entry the entry of the
        // stacked set's symmetric kernel that pairs the same points (rows of x, columns of x2).
        let x2 = inputs(n + 9, 6, 41);
        let cross_run =
            |threads: usize| on_threads(threads, || net.kernels(&x, Some(&x2)).unwrap());
        let cross = cross_run(1);
        assert!(
            cross == cross_run(3),
            "{act}: thread count changed the bits"
        );
        let mut reused = Kernels {
            nngp: Matrix::from_fn(n, n + 9, |_, _| f64::NAN),
            ntk: Matrix::from_fn(n, n + 9, |_, _| f64::NAN),
        };
        net.kernels_into(&x, Some(&x2), &mut reused).unwrap();
        assert!(
            reused == cross,
            "{act}: NaN-filled cross buffers not overwritten"
        );
        let stacked = Matrix::from_fn(2 * n + 9, 6, |i, c| {
            if i < n {
                x.get(i, c)
            } else {
                x2.get(i - n, c)
            }
        });
        // A few rows against many (one row block, its column tiles spread over the threads):
        // thread-independent, and the same rows of the cross kernel to round-off.
        let head = x.select_rows(&[0, 1, 2, 3, 4]);
        let thin_run =
            |threads: usize| on_threads(threads, || net.kernels(&head, Some(&x2)).unwrap());
        let thin = thin_run(1);
        assert!(thin == thin_run(3), "{act}: thread count changed the bits");
        for (t, c) in [(&thin.nngp, &cross.nngp), (&thin.ntk, &cross.ntk)] {
            for i in 0..5 {
                for j in 0..n + 9 {
                    let (a, b) = (t.get(i, j), c.get(i, j));
                    assert!(
                        (a - b).abs() <= 1e-12 * b.abs().max(1e-3),
                        "{act}: ({i}, {j})"
                    );
                }
            }
        }
        let whole = net.kernels(&stacked, None).unwrap();
        for (c, w) in [(&cross.nngp, &whole.nngp), (&cross.ntk, &whole.ntk)] {
            for i in 0..n {
                for j in 0..n + 9 {
                    let (a, b) = (c.get(i, j), w.get(i, n + j));
                    assert!(
                        (a - b).abs() <= 1e-12 * b.abs().max(1e-3),
                        "{act}, n = {n}: cross ({i}, {j}) {a} vs {b}"
                    );
                }
            }
        }
    }
}

#[test]
fn structured_two_layer_ntk_equals_the_jacobian_and_approaches_k_infinity() {
    let x = inputs(7, 3, 5);
    let x2 = inputs(4, 3, 6);
    for (first, second, bias) in [
        (true, true, false),
        (true, false, true),
        (false, true, true),
    ] {
        let model = TwoLayer {
            bias,
            train_first: first,
            train_second: second,
            output_init: OutputInit::Gaussian { std: 1.0 },
            ..TwoLayer::new(3, 50, Activation::Tanh, 0.5).unwrap()
        };
        let p = model.init(&mut Seed(1).stream("ntk", 0));
        let fast = empirical_ntk(&model, &p, &x, Some(&x2)).unwrap();
        let slow = jacobian_ntk(&model, &p, &x, Some(&x2)).unwrap();
        assert!(rel_frobenius(&fast, &slow) < 1e-12);
    }
    // At γ = 1/2, |a_j| = 1, σ_w = 1: Θ_W → k_∞ as M → ∞ (Monte Carlo error O(M^{-1/2})).
    let model = TwoLayer::new(3, 40_000, Activation::Relu, 0.5).unwrap();
    let p = model.init(&mut Seed(2).stream("ntk", 0));
    let emp = empirical_ntk(&model, &p, &x, None).unwrap();
    let exact = two_layer_ntk(&x, None, Activation::Relu).unwrap();
    assert!(rel_frobenius(&emp, &exact) < 0.03);
}

/// With a/b-ReLU activations the first layer's part of the two-layer kernel is counted from
/// packed sign bits instead of multiplied (popcounts for ±a output weights, subset-sum tables for
/// Gaussian ones); it must equal the Jacobian's J Jᵀ for same-set and cross kernels, with and
/// without biases, over a width that fills several 64-bit words and a ragged one.
#[test]
fn counted_two_layer_ntk_equals_the_jacobian() {
    let x = inputs(9, 3, 11);
    let x2 = inputs(5, 3, 12);
    let sign = OutputInit::Sign { scale: 0.7 };
    let gaussian = OutputInit::Gaussian { std: 1.0 };
    for act in [
        Activation::Relu,
        Activation::leaky_relu(0.1),
        Activation::ABS,
        Activation::AbRelu { a: -0.5, b: 2.0 },
    ] {
        for (output_init, symmetric, bias, first, second) in [
            (sign, false, false, true, true),
            (sign, true, true, true, true),
            (sign, false, true, true, false),
            (gaussian, false, true, true, true),
        ] {
            let model = TwoLayer {
                bias,
                b_std: 0.5,
                symmetric,
                output_init,
                train_first: first,
                train_second: second,
                ..TwoLayer::new(3, 200, act, 0.5).unwrap()
            };
            let p = model.init(&mut Seed(4).stream("counted", 0));
            for other in [None, Some(&x2)] {
                let fast = empirical_ntk(&model, &p, &x, other).unwrap();
                let slow = jacobian_ntk(&model, &p, &x, other).unwrap();
                let err = rel_frobenius(&fast, &slow);
                assert!(
                    err < 1e-13,
                    "{act} {output_init:?} symmetric={symmetric} bias={bias}: {err:e}"
                );
            }
        }
    }
}

/// The infinite-width net's empirical NTK (first layer only, output weights a_j = j^{−γ}, all
/// different: the table path for ReLU-family activations, the GEMM path otherwise) equals the
/// Jacobian's J Jᵀ, same-set and cross.
#[test]
fn infinite_width_ntk_equals_the_jacobian() {
    let x = inputs(11, 3, 41);
    let x2 = inputs(6, 3, 42);
    for act in [
        Activation::Relu,
        Activation::leaky_relu(0.2),
        Activation::Tanh,
    ] {
        let model = InfiniteWidth::new(3, 90, act, 0.8, 2.0, 1.0).unwrap();
        let p = model.init(&mut Seed(8).stream("infinite", 0));
        for other in [None, Some(&x2)] {
            let fast = empirical_ntk(&model, &p, &x, other).unwrap();
            let slow = jacobian_ntk(&model, &p, &x, other).unwrap();
            let err = rel_frobenius(&fast, &slow);
            assert!(err < 1e-13, "{act} cross={}: {err:e}", other.is_some());
        }
    }
}

/// The two-layer empirical NTK (popcount, table and GEMM paths, same-set and cross, with bias)
/// gives the same bits on 1, 2 and 3 threads: its 64-sample feature blocks, its table tiles and
/// its Gram tiles are fixed. 300 samples span five feature blocks, ten 32-row table tasks and
/// four 96-row Gram tiles per side (ten on and above the diagonal).
#[test]
fn two_layer_ntk_is_thread_independent() {
    let x = inputs(300, 5, 31);
    let x2 = inputs(70, 5, 32);
    for (output_init, act) in [
        (OutputInit::Sign { scale: 1.0 }, Activation::Relu),
        (OutputInit::Gaussian { std: 1.0 }, Activation::Relu),
        (OutputInit::Gaussian { std: 1.0 }, Activation::Tanh),
    ] {
        let model = TwoLayer {
            bias: true,
            b_std: 0.3,
            output_init,
            ..TwoLayer::new(5, 160, act, 0.5).unwrap()
        };
        let p = model.init(&mut Seed(6).stream("threads", 0));
        for other in [None, Some(&x2)] {
            let run = |threads: usize| {
                on_threads(threads, || empirical_ntk(&model, &p, &x, other).unwrap())
            };
            let one = run(1);
            for threads in [2, 3] {
                assert!(
                    one == run(threads),
                    "{act} {output_init:?} cross={}: {threads} threads changed the bits",
                    other.is_some()
                );
            }
        }
    }
}

#[test]
fn first_layer_kernel_concentrates_like_m_to_the_minus_half_within_hoeffding() {
    use gradflow::data::synthetic;
    use gradflow::kernel::monte_carlo::{first_layer_concentration, mean_empirical_ntk};
    let x = synthetic::sphere(12, 4, &mut Seed(30).stream("conc", 0));
    let widths = [64, 256, 1024, 4096];
    let rows = first_layer_concentration(&x, &widths, 8, 0.05, Seed(31)).unwrap();
    for r in &rows {
        assert_eq!(r.violations, 0.0, "{r:?}");
        assert!(r.frobenius_error < r.bound);
    }
    // Least-squares slope of log error against log M.
    let pts: Vec<(f64, f64)> = rows
        .iter()
        .map(|r| ((r.width as f64).ln(), r.frobenius_error.ln()))
        .collect();
    let mx = pts.iter().map(|p| p.0).sum::<f64>() / 4.0;
    let my = pts.iter().map(|p| p.1).sum::<f64>() / 4.0;
    let slope = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum::<f64>()
        / pts.iter().map(|p| (p.0 - mx).powi(2)).sum::<f64>();
    assert!((slope + 0.5).abs() < 0.1, "slope {slope}");
    // The mean over draws of the empirical NTK also approaches k_∞ (error shrinks with draws).
    let model = TwoLayer::new(4, 256, Activation::Relu, 0.5).unwrap();
    let exact = two_layer_ntk(&x, None, Activation::Relu).unwrap();
    let one = mean_empirical_ntk(&model, &x, 1, Seed(5)).unwrap();
    let many = mean_empirical_ntk(&model, &x, 64, Seed(5)).unwrap();
    assert!(rel_frobenius(&many, &exact) < 0.5 * rel_frobenius(&one, &exact));
    assert!(first_layer_concentration(&inputs(3, 3, 0), &[8], 1, 0.05, Seed(0)).is_err());
}

#[test]
fn structured_mlp_ntk_equals_the_jacobian() {
    let x = inputs(6, 3, 40);
    let x2 = inputs(5, 3, 41);
    for (widths, param, bias, act) in [
        (vec![3, 7, 1], Parameterization::Ntk, true, Activation::Relu),
        (
            vec![3, 6, 5, 2],
            Parameterization::Standard,
            true,
            Activation::Tanh,
        ),
        (
            vec![3, 4, 4, 4, 3],
            Parameterization::Ntk,
            false,
            Activation::Gelu,
        ),
        (
            vec![3, 5, 2],
            Parameterization::Standard,
            false,
            Activation::ERF,
        ),
        // 4,546 parameters: the Jacobian's rows take the panel path.
        (
            vec![3, 64, 64, 2],
            Parameterization::Ntk,
            true,
            Activation::Relu,
        ),
    ] {
        let model = Mlp::new(widths.clone(), act, param, 1.3, 0.4, bias).unwrap();
        let p = model.init(&mut Seed(6).stream("mlp-ntk", 0));
        for second in [None, Some(&x2)] {
            let fast = empirical_ntk(&model, &p, &x, second).unwrap();
            let slow = jacobian_ntk(&model, &p, &x, second).unwrap();
            let err = rel_frobenius(&fast, &slow);
            assert!(err < 1e-12, "{widths:?} {param:?} bias={bias}: {err}");
            if second.is_none() {
                assert_eq!(slow, slow.transpose(), "{widths:?}: J Jᵀ exactly symmetric");
            }
        }
        // Empty input sets give empty kernels of the right shape, on both paths.
        let none = Matrix::zeros(0, 3);
        for ntk in [jacobian_ntk, empirical_ntk] {
            let k = ntk(&model, &p, &none, Some(&x2)).unwrap();
            assert_eq!((k.rows, k.cols), (0, 5));
            let k = ntk(&model, &p, &x, Some(&none)).unwrap();
            assert_eq!((k.rows, k.cols), (6, 0));
            assert_eq!(ntk(&model, &p, &none, None).unwrap().rows, 0);
        }
    }
    let dl = gradflow::nn::DeepLinear::new(vec![3, 4, 2], 1.0).unwrap();
    let p = dl.init(&mut Seed(7).stream("dl", 0));
    let err = rel_frobenius(
        &empirical_ntk(&dl, &p, &x, None).unwrap(),
        &jacobian_ntk(&dl, &p, &x, None).unwrap(),
    );
    assert!(err < 1e-12, "{err}");
}

/// Every public kernel routine answers wrong shapes and out-of-range settings with an error that
/// names the routine or field — none panics, and none returns NaN or a silently wrong result.
#[test]
fn bad_kernel_inputs_are_errors_naming_the_field() {
    use gradflow::kernel::dynamics::{gp_posterior, gradient_descent_mse_discrete, kernel_ridge};
    use gradflow::kernel::observer::KernelDiagnostics;
    use gradflow::kernel::spectrum::{
        circle_frequencies, fit_log_log, harmonic_dimension, zonal_eigenvalue, Spectrum,
    };
    let k = Matrix::from_fn(4, 4, |i, j| if i == j { 2.0 } else { 0.1 });
    let rect = Matrix::from_fn(4, 3, |_, _| 1.0);
    let k_test = Matrix::from_fn(2, 4, |_, _| 0.5);
    let y = Matrix::from_fn(4, 1, |i, _| i as f64);
    let ok = FlowSettings::default();

    error_naming(kernel_ridge(&rect, &k_test, &y, 0.1), "kernel_ridge");
    error_naming(kernel_ridge(&k, &rect, &y, 0.1), "kernel_ridge");
    error_naming(kernel_ridge(&k, &k_test, &y, -1.0), "ridge");
    error_naming(gp_posterior(&k, &k_test, &[1.0], &y, 0.1), "gp_posterior");
    for (field, settings) in [
        (
            "learning_rate",
            FlowSettings {
                learning_rate: -1.0,
                ..ok
            },
        ),
        (
            "learning_rate",
            FlowSettings {
                learning_rate: f64::NAN,
                ..ok
            },
        ),
        (
            "diag_reg",
            FlowSettings {
                diag_reg: -1e-3,
                ..ok
            },
        ),
        (
            "diag_reg",
            FlowSettings {
                diag_reg: f64::INFINITY,
                ..ok
            },
        ),
    ] {
        error_naming(
            gradient_descent_mse(&k, &k_test, &y, None, None, &[1.0], &settings),
            field,
        );
        error_naming(
            gradient_descent_mse_discrete(&k, &k_test, &y, &[1], &settings),
            field,
        );
    }
    error_naming(
        gradient_descent_mse(&rect, &k_test, &y, None, None, &[1.0], &ok),
        "gradient_descent_mse",
    );
    error_naming(
        gradient_descent_mse_discrete(&k, &rect, &y, &[1], &ok),
        "test–train kernel",
    );

    error_naming(
        Spectrum::of(&k).unwrap().project(&[1.0]),
        "Spectrum::project",
    );
    error_naming(circle_frequencies(&[], 3), "circle_frequencies");
    error_naming(harmonic_dimension(2, 1), "harmonic_dimension");
    error_naming(zonal_eigenvalue(&|t| t, 0, 1, 8), "zonal_eigenvalue");
    error_naming(zonal_eigenvalue(&|t| t, 3, 1, 0), "zonal_eigenvalue");
    error_naming(
        fit_log_log(&[1.0, 2.0, f64::INFINITY], &[1.0, 2.0, 3.0]),
        "power-law fit",
    );
    error_naming(fit_log_log(&[2.0; 3], &[1.0, 2.0, 3.0]), "power-law fit");

    let model = TwoLayer::new(3, 8, Activation::Relu, 0.5).unwrap();
    let params = model.init(&mut Seed(0).stream("init", 0));
    error_naming(jacobian_ntk(&model, &params, &k, None), "jacobian_ntk x");
    error_naming(
        jacobian_ntk(&model, &params[1..], &rect, None),
        "jacobian_ntk",
    );
    error_naming(
        empirical_ntk(&model, &params, &rect, Some(&k)),
        "empirical_ntk x2",
    );
    error_naming(
        KernelDiagnostics::new(rect.clone(), &Matrix::zeros(4, 0)).map(|_| ()),
        "kernel diagnostics",
    );
    error_naming(
        KernelDiagnostics::new(rect, &Matrix::zeros(3, 1)).map(|_| ()),
        "kernel diagnostics",
    );

    let path = std::env::temp_dir().join(format!("gradflow-bad-block-{}.npy", std::process::id()));
    let net = Network::new(1, Activation::Relu);
    let x = inputs(5, 3, 99);
    error_naming(
        gradflow::kernel::analytic::KernelStream {
            network: &net,
            kind: gradflow::kernel::Kind::Ntk,
            x1: x.as_view(),
            x2: None,
            block_rows: 0,
        }
        .to_npy(&path),
        "block_rows",
    );
    assert!(!path.exists(), "a failed stream leaves no file");

    error_naming(net.kernels(&Matrix::zeros(3, 0), None), "no columns");
    let empty = net.kernels(&x, Some(&Matrix::zeros(0, 3))).unwrap();
    assert_eq!((empty.ntk.rows, empty.ntk.cols), (5, 0));
    let limit = two_layer_ntk(&x, None, Activation::Relu).unwrap();
    use gradflow::kernel::monte_carlo::concentration_against;
    error_naming(
        concentration_against(&x, &k, &[8], 2, 0.1, Seed(0)),
        "limit kernel",
    );
    error_naming(
        concentration_against(&x, &limit, &[8], 0, 0.1, Seed(0)),
        "draws",
    );
}

/// The set-with-itself layout is chosen by `None`, not by pointer identity: `None` is exactly
/// symmetric, and a copy of the set passed as `Some` (the cross layout) agrees to round-off off
/// the diagonal. On the diagonal only the same-set layout knows that the angle is exactly 0;
/// the cross layout's cosine is 1 − O(ε), and arccos near 1 turns that into an angle of
/// O(√ε) ≈ 1e-8, so the diagonal agrees to 1e-7 relative.
#[test]
fn two_layer_kernels_take_the_same_set_explicitly() {
    use gradflow::kernel::analytic::{two_layer_first_layer_ntk, two_layer_ntk};
    let mut rng = gradflow::Seed(3).stream("x", 0);
    let x = gradflow::data::synthetic::sphere(40, 5, &mut rng);
    let copy = x.clone();
    for both in [true, false] {
        let kernel = |x2| {
            if both {
                two_layer_ntk(&x, x2, Activation::Relu).unwrap()
            } else {
                two_layer_first_layer_ntk(&x, x2, Activation::Relu).unwrap()
            }
        };
        let (same, cross) = (kernel(None), kernel(Some(&copy)));
        for i in 0..40 {
            for j in 0..40 {
                assert_eq!(same.get(i, j).to_bits(), same.get(j, i).to_bits());
                let tolerance = if i == j { 1e-7 * same.get(i, i) } else { 1e-12 };
                let d = (same.get(i, j) - cross.get(i, j)).abs();
                assert!(d < tolerance, "({i}, {j}): {d:e}");
            }
        }
    }
}

/// faer's factorizations split their work by a fixed count, not by the pool's threads: the
/// eigendecomposition and the Cholesky solve of a 400 × 400 kernel are bit-identical on 1, 2
/// and 3 threads. (With faer's default, one piece per thread, they differed in the last bits,
/// and so did two claims' summaries.)
#[test]
fn factorizations_do_not_depend_on_the_thread_count() {
    use gradflow::linalg::{cholesky_solve, symmetric_eigen};
    let mut rng = Seed(4).stream("x", 0);
    let x = gradflow::data::synthetic::sphere(400, 6, &mut rng);
    let mut k = two_layer_ntk(&x, None, Activation::Relu).unwrap();
    for i in 0..400 {
        k.data[i * 400 + i] += 1e-3;
    }
    let b = Matrix::from_fn(400, 2, |i, j| ((i * 7 + j * 3) % 11) as f64 - 5.0);
    let run = |threads| {
        on_threads(threads, || {
            let (values, vectors) = symmetric_eigen(&k).unwrap();
            let solved = cholesky_solve(&k, &b).unwrap();
            let mut all = values;
            all.extend(vectors.data);
            all.extend(solved.data);
            all.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        })
    };
    let one = run(1);
    assert!(one == run(2) && one == run(3));
}
