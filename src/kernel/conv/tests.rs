//! Closed-form cases: networks whose convolutions are 1 × 1 are the dense kernels at each
//! pair of positions (averaged over positions by `flatten`, over pairs of positions by
//! `global_avg_pool`); vectors through dense layers are the dense kernels themselves.

use super::*;
use crate::kernel::analytic::Network;
use crate::linalg::Matrix;
use crate::nn::{Activation, Parameterization};

/// n images of h × w × c with smooth pseudo-random entries.
fn images(n: usize, h: usize, w: usize, c: usize, seed: f64) -> Images {
    let data = (0..n * h * w * c)
        .map(|i| ((i as f64 + 1.0) * seed).sin() + 0.3 * ((i as f64) * 0.17 * seed).cos())
        .collect();
    Images::new("x", &[n, h, w, c], data).unwrap()
}

/// Every position of every image as a row (n·h·w × c).
fn positions(x: &Images) -> Matrix {
    Matrix::from_vec(x.data.len() / x.channels, x.channels, x.data.clone()).unwrap()
}

fn affine(w_std: f64, b_std: Option<f64>) -> Affine {
    Affine {
        w_std,
        b_std,
        parameterization: Parameterization::Ntk,
        out: None,
    }
}

/// [1 × 1 conv, activation] × depth, then `readout`, then Dense.
fn one_by_one(depth: usize, activation: Activation, readout: Layer, b_std: Option<f64>) -> ConvNet {
    let mut layers = Vec::new();
    for _ in 0..depth {
        layers.push(Layer::Conv(Conv {
            filter_shape: vec![1, 1],
            strides: None,
            padding: Padding::Same,
            affine: affine(1.3, b_std),
        }));
        layers.push(Layer::Activation(activation));
    }
    layers.push(readout);
    layers.push(Layer::Dense(affine(1.3, b_std)));
    ConvNet::new(layers)
}

fn dense_network(depth: usize, activation: Activation, b_std: Option<f64>) -> Network {
    Network {
        w_std: 1.3,
        b_std,
        ..Network::new(depth, activation)
    }
}

fn close(a: f64, b: f64, what: &str) {
    assert!(
        (a - b).abs() <= 1e-12 * b.abs().max(1e-300),
        "{what}: {a} vs {b} (relative {:e})",
        (a - b).abs() / b.abs()
    );
}

#[test]
fn one_by_one_convolutions_are_the_dense_kernels_averaged_over_positions() {
    let (h, w, c) = (2, 3, 4);
    let x1 = images(3, h, w, c, 0.71);
    let x2 = images(2, h, w, c, 1.37);
    let p = h * w;
    for activation in [
        Activation::Relu,
        Activation::Erf {
            a: 1.0,
            b: 1.0,
            c: 0.0,
        },
    ] {
        for b_std in [None, Some(0.2)] {
            let dense = dense_network(2, activation, b_std);
            for (second, gap) in [
                (None, false),
                (Some(&x2), false),
                (None, true),
                (Some(&x2), true),
            ] {
                let readout = if gap {
                    Layer::GlobalAvgPool
                } else {
                    Layer::Flatten
                };
                let net = one_by_one(2, activation, readout, b_std);
                let ours = net.kernels(&x1, second).unwrap();
                let y2 = second.unwrap_or(&x1);
                // An image with itself: cos θ = 1 exactly at equal positions, as in `same`.
                let per = dense
                    .kernels(&positions(&x1), Some(&positions(y2)))
                    .unwrap();
                let same = dense.kernels(&positions(&x1), None).unwrap();
                for i in 0..x1.n {
                    for j in 0..y2.n {
                        let m = if second.is_none() && i == j {
                            &same
                        } else {
                            &per
                        };
                        let pick = |q: usize, r: usize| {
                            let (a, b) = (i * p + q, j * p + r);
                            (m.nngp.get(a, b), m.ntk.get(a, b))
                        };
                        let (mut k, mut t) = (0.0, 0.0);
                        for q in 0..p {
                            for r in 0..p {
                                if gap || q == r {
                                    let (a, b) = pick(q, r);
                                    k += a;
                                    t += b;
                                }
                            }
                        }
                        let count = if gap { (p * p) as f64 } else { p as f64 };
                        let what = format!("{activation:?} b {b_std:?} gap {gap} ({i}, {j})");
                        close(ours.nngp.get(i, j), k / count, &format!("nngp {what}"));
                        close(ours.ntk.get(i, j), t / count, &format!("ntk {what}"));
                    }
                }
            }
        }
    }
}

#[test]
fn vectors_through_dense_layers_are_the_dense_kernels() {
    let x = Matrix::from_fn(5, 3, |r, c| ((r * 3 + c) as f64 * 0.53).sin());
    let x2 = Matrix::from_fn(4, 3, |r, c| ((r * 3 + c) as f64 * 0.29).cos());
    for parameterization in [Parameterization::Ntk, Parameterization::Standard] {
        let dense = Network {
            parameterization,
            width: 7,
            ..dense_network(2, Activation::Relu, Some(0.1))
        };
        let layer = |out| {
            Layer::Dense(Affine {
                parameterization,
                out: Some(out),
                ..affine(1.3, Some(0.1))
            })
        };
        let relu = Layer::Activation(Activation::Relu);
        let net = ConvNet::new(vec![layer(7), relu.clone(), layer(7), relu, layer(1)]);
        for second in [None, Some(&x2)] {
            let ours = net
                .kernels(
                    &Images::from_matrix(&x),
                    second.map(Images::from_matrix).as_ref(),
                )
                .unwrap();
            let theirs = dense.kernels(&x, second).unwrap();
            for (a, b) in ours.ntk.data.iter().zip(&theirs.ntk.data) {
                close(*a, *b, &format!("ntk {parameterization:?}"));
            }
            for (a, b) in ours.nngp.data.iter().zip(&theirs.nngp.data) {
                close(*a, *b, &format!("nngp {parameterization:?}"));
            }
        }
    }
}

/// Two 3 × 3 SAME conv + ReLU, then `readout`, then Dense (the CNTK of the benchmarks).
fn three_by_three(readout: Layer) -> ConvNet {
    let conv = || {
        Layer::Conv(Conv {
            filter_shape: vec![3, 3],
            strides: None,
            padding: Padding::Same,
            affine: affine(1.4, None),
        })
    };
    let relu = Layer::Activation(Activation::Relu);
    ConvNet::new(vec![
        conv(),
        relu.clone(),
        conv(),
        relu,
        readout,
        Layer::Dense(affine(1.0, None)),
    ])
}

#[test]
fn pairs_are_the_same_bits_on_every_vector_unit_and_thread_count() {
    let (x, x2) = (images(3, 5, 6, 2, 0.37), images(2, 5, 6, 2, 0.91));
    for readout in [Layer::GlobalAvgPool, Layer::Flatten] {
        let net = three_by_three(readout);
        let pipeline = super::pair::Pipeline::new(&net, &x.spatial, x.channels).unwrap();
        crate::linalg::same_on_every_tier(|| {
            let (a, b) = (x.image(0), x2.image(1));
            let (oa, ob) = (
                pipeline.self_pair(a).unwrap(),
                pipeline.self_pair(b).unwrap(),
            );
            let (k, t) = pipeline.cross_pair(a, b, &oa.variances, &ob.variances);
            vec![k, t, oa.nngp, oa.ntk]
        });
        let with_threads = |threads| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let k = pool.install(|| net.kernels(&x, Some(&x2)).unwrap());
            let bits = |m: &Matrix| m.data.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            (bits(&k.nngp), bits(&k.ntk))
        };
        assert_eq!(with_threads(1), with_threads(3));
    }
}
