//! Tests of the layer maps, the tiling and the settings checks.

use super::tiles::transpose_entries;
use super::*;
use crate::kernel::gauss_hermite::GaussHermite;
use crate::nn::activation::{normal_cdf, normal_pdf};
use std::f64::consts::PI;

/// (E[η(u)η(v)], E[η'(u)η'(v)]) for η = a·min(u, 0) + b·max(u, 0) by a 1-D integral over
/// z₁ ∈ (−12, 12) of the inner expectation in closed form (for X = μ + σz:
/// E max(X, 0) = μΦ(μ/σ) + σφ(μ/σ), E min(X, 0) = μ − E max(X, 0), P(X > 0) = Φ(μ/σ)),
/// composite Simpson with the kink at z₁ = 0 on a node: an independent check of the
/// arc-cosine formulas.
fn ab_relu_by_integration(a: f64, b: f64, q1: f64, q2: f64, q12: f64) -> (f64, f64) {
    let (s1, s2) = (q1.sqrt(), q2.sqrt());
    let rho = q12 / (s1 * s2);
    let sigma = s2 * (1.0 - rho * rho).sqrt();
    let steps = 40_000;
    let h = 24.0 / steps as f64;
    let (mut k, mut t) = (0.0, 0.0);
    for i in 0..=steps {
        let z = (i as f64 - (steps / 2) as f64) * h;
        let w = if i == 0 || i == steps {
            1.0
        } else if i % 2 == 1 {
            4.0
        } else {
            2.0
        };
        let mu = s2 * rho * z;
        let plus = mu * normal_cdf(mu / sigma) + sigma * normal_pdf(mu / sigma);
        let inner_value = a * (mu - plus) + b * plus;
        let p = normal_cdf(mu / sigma);
        let inner_slope = b * p + a * (1.0 - p);
        let outer = s1 * z;
        // At the kink (a node shared by two Simpson panels) the slope's two one-sided
        // limits are averaged.
        let (value, slope) = if outer > 0.0 {
            (b * outer, b)
        } else if outer < 0.0 {
            (a * outer, a)
        } else {
            (0.0, 0.5 * (a + b))
        };
        k += w * normal_pdf(z) * value * inner_value;
        t += w * normal_pdf(z) * slope * inner_slope;
    }
    (k * h / 3.0, t * h / 3.0)
}

#[test]
fn ab_relu_closed_form_matches_integration() {
    for act in Activation::ALL {
        let Some((a, b)) = (match act {
            Activation::Relu => Some((0.0, 1.0)),
            Activation::AbRelu { a, b } => Some((a, b)),
            _ => None,
        }) else {
            continue;
        };
        let map = ActivationMap::new(act, 1).unwrap();
        for &(q1, q2, q12) in &[
            (1.0, 1.0, 0.3),
            (2.0, 0.5, -0.7),
            (0.8, 1.7, 1.1),
            (1.0, 1.0, -0.99),
        ] {
            let (k, t) = map.pair(q1, q2, q12, false);
            let (ki, ti) = ab_relu_by_integration(a, b, q1, q2, q12);
            assert!(
                (k - ki).abs() <= 1e-6 * ki.abs().max(1e-3),
                "{act} K {k} vs {ki}"
            );
            assert!((t - ti).abs() <= 1e-6 * ti.abs(), "{act} Ṫ {t} vs {ti}");
            // The vectorised row map agrees with the scalar pair map (acos_sin_fast is a few ulp off).
            let (mut kr, mut tr) = ([q12], [1.0]);
            let identity = Dense {
                w2: 1.0,
                b2: 0.0,
                ck: 0.0,
                c1: 0.0,
                carry: true,
            };
            let mut v2 = LayerVariances::default();
            v2.push(q2);
            map.apply_layer((identity, None), q1, &v2, 0, &mut kr, &mut tr, None);
            assert!((kr[0] - k).abs() <= 1e-14 * k.abs().max(1.0), "{act}");
            assert!((tr[0] - t).abs() <= 1e-14 * t.abs(), "{act}");
        }
        let q = 1.7;
        let (kd, _) = ab_relu_by_integration(a, b, q, q, q * (1.0 - 1e-12));
        assert!((map.variance(q) - kd).abs() < 1e-6 * kd, "{act} variance");
    }
}

#[test]
fn erf_and_monomial_closed_forms_match_quadrature() {
    // erf(1.3u) at q = 2 needs more than 64 points for 1e-6 (64 give 8e-6).
    let gh = GaussHermite::new(160).unwrap();
    for act in Activation::ALL
        .into_iter()
        .filter(|a| matches!(a, Activation::Erf { .. } | Activation::Monomial(_)))
    {
        let closed = ActivationMap::new(act, 1).unwrap();
        for &(q1, q2, q12) in &[(1.0, 1.0, 0.3), (2.0, 0.5, -0.7), (0.3, 0.4, 0.1)] {
            let (k, t) = closed.pair(q1, q2, q12, false);
            let kq = gh.expect2(q1, q2, q12, |u| act.value(u), |v| act.value(v));
            let tq = gh.expect2(q1, q2, q12, |u| act.derivative(u), |v| act.derivative(v));
            assert!((k - kq).abs() <= 1e-6 * kq.abs(), "{act}: {k} vs {kq}");
            assert!((t - tq).abs() <= 1e-6 * tq.abs(), "{act}: {t} vs {tq}");
            let (v, vq) = (closed.variance(q1), gh.expect(q1, |u| act.value(u).powi(2)));
            assert!((v - vq).abs() < 1e-6 * v, "{act}: {v} vs {vq}");
        }
    }
    // Monomials: Gauss–Hermite is exact for polynomials, so the agreement is to round-off,
    // up to degree 6; and on the diagonal E[u^k u^k] = (2k − 1)!! q^k.
    for k in 0..=6u32 {
        let act = Activation::Monomial(k);
        let map = ActivationMap::new(act, 1).unwrap();
        let (q1, q2, q12) = (1.3, 0.6, -0.4);
        let (m, t) = map.pair(q1, q2, q12, false);
        let mq = gh.expect2(q1, q2, q12, |u| act.value(u), |v| act.value(v));
        let tq = gh.expect2(q1, q2, q12, |u| act.derivative(u), |v| act.derivative(v));
        assert!(
            (m - mq).abs() <= 1e-12 * mq.abs().max(1.0),
            "u^{k}: {m} vs {mq}"
        );
        assert!(
            (t - tq).abs() <= 1e-12 * tq.abs().max(1.0),
            "u^{k}: {t} vs {tq}"
        );
        let (d, _) = map.pair(0.7, 0.7, 0.0, true);
        assert!(
            (d - map.variance(0.7)).abs() <= 1e-15 * d.max(1.0),
            "u^{k} diagonal"
        );
    }
}

#[test]
fn mirrored_upper_triangles_match_their_definition() {
    // The mirror of a 19 × 19 upper triangle (ragged groups, diagonal blocks entry by entry)
    // against the definition; the diagonal and the upper part stay as they were.
    let n = 19;
    let upper = |i: usize, j: usize| if j >= i { (i * n + j) as f64 } else { f64::NAN };
    let mut m: Vec<f64> = (0..n * n).map(|k| upper(k / n, k % n)).collect();
    let base = m.as_mut_ptr();
    // SAFETY: inside the n × n buffer; only c > i is read, only c < i written.
    unsafe { transpose_entries((base, n), (base, n), 0..n, 0..n, true) };
    for i in 0..n {
        for j in 0..n {
            assert_eq!(m[i * n + j], upper(i.min(j), i.max(j)), "mirror ({i}, {j})");
        }
    }
}

#[test]
fn row_maps_round_alike_on_every_tier() {
    // The row map on every tier the CPU has (AVX-512, AVX2 + FMA, and the code compiled
    // without vector features, with libm's fma for every fused step): the same bits for
    // ReLU's own loop and the general a/b loop, first and later layers, with and without
    // the final Dense, on row lengths that leave vector remainders.
    let mut r = crate::rng::Seed(3).stream("row-maps", 0);
    for len in [1, 7, 8, 29, 64] {
        let sd2: Vec<f64> = (0..len).map(|_| 0.5 + r.uniform()).collect();
        let isd2: Vec<f64> = sd2.iter().map(|s| 1.0 / s).collect();
        let k0: Vec<f64> = (0..len)
            .map(|j| (r.uniform() - 0.5) * 0.9 * sd2[j])
            .collect();
        let t0: Vec<f64> = (0..len).map(|_| r.uniform()).collect();
        for (ab2, two_ab) in [(1.0, 0.0), (1.04, 0.4), (2.0, -2.0)] {
            for carry in [false, true] {
                let dense = Dense {
                    w2: 1.7,
                    b2: 0.01,
                    ck: 1.7,
                    c1: 0.01,
                    carry,
                };
                for post in [
                    None,
                    Some(Dense {
                        carry: true,
                        ..dense
                    }),
                ] {
                    let values = crate::linalg::same_on_every_tier(|| {
                        let (mut k, mut t) = (k0.clone(), t0.clone());
                        let columns = (&sd2[..], &isd2[..]);
                        let row = (1.1, 1.0 / 1.1);
                        dense_ab_relu_row(dense, post, ab2, two_ab, row, columns, &mut k, &mut t);
                        [k, t].concat()
                    });
                    assert!(values.iter().all(|x| x.is_finite()));
                }
            }
        }
    }
}

#[test]
fn whole_kernels_round_alike_on_every_tier() {
    // The tiled kernels (inputs product over the packed column blocks, the upper part only on
    // the diagonal tiles, the layer maps, the mirror) on every tier, on a one-thread pool whose
    // worker runs every tile (the tiers are switched on the calling thread): 140 points, two
    // row blocks of the 128-wide tiles (a partial one), d = 7 (no whole vector of inputs); the
    // symmetric layout and the cross one.
    let mut r = crate::rng::Seed(5).stream("tiers", 0);
    let x = Matrix::from_fn(140, 7, |_, _| r.normal());
    let x2 = Matrix::from_fn(131, 7, |_, _| r.normal());
    let net = Network {
        w_std: 1.4,
        b_std: Some(0.1),
        ..Network::new(2, Activation::leaky_relu(0.1))
    };
    for other in [None, Some(&x2)] {
        let values = crate::linalg::on_threads(1, || {
            crate::linalg::same_on_every_tier(|| {
                let k = net.kernels(&x, other).unwrap();
                [k.nngp.data, k.ntk.data].concat()
            })
        });
        assert!(values.iter().all(|v| v.is_finite()));
    }
}

#[test]
fn fast_acos_and_sin_are_accurate() {
    let (mut worst_theta, mut worst_sin): (f64, f64) = (0.0, 0.0);
    let near_ends = (0..2000).flat_map(|k| {
        let e = 1e-16 * 1.02f64.powi(k);
        [1.0 - e, -1.0 + e]
    });
    let grid = (0..=200_000).map(|i| -1.0 + i as f64 * 1e-5);
    for x in grid.chain(near_ends).map(|x: f64| x.clamp(-1.0, 1.0)) {
        let (theta, sin) = acos_sin_fast(x);
        worst_theta = worst_theta.max((theta - x.acos()).abs());
        // √((1 − x)(1 + x)): no cancellation near ±1.
        let exact = ((1.0 - x) * (1.0 + x)).sqrt();
        worst_sin = worst_sin.max((sin - exact).abs() / exact.max(f64::MIN_POSITIVE));
    }
    assert!(worst_theta < 2e-15, "θ: {worst_theta:e}");
    assert!(worst_sin < 1e-15, "sin θ: {worst_sin:e}");
    assert_eq!(acos_sin_fast(1.0), (0.0, 0.0));
    let (theta, sin) = acos_sin_fast(-1.0);
    assert!((theta - PI).abs() < 1e-15 && sin == 0.0);
    assert_eq!(acos_sin_fast(0.0), (std::f64::consts::FRAC_PI_2, 1.0));
}

#[test]
fn diagonal_angle_is_exactly_zero() {
    let net = Network::new(2, Activation::Relu);
    let x = Matrix::from_fn(3, 3, |i, j| (i + 2 * j) as f64 * 0.37 + 0.1);
    let k = net.kernels(&x, None).unwrap();
    // On the diagonal, ReLU's Ṫ is exactly 1/2 at every layer (θ = 0).
    let q: f64 = x.row(1).iter().map(|v| v * v).sum::<f64>() / 3.0;
    // depth 2, σ_w = 1, no bias: nngp doubles down each layer: q → q/2 → q/4.
    assert_eq!(k.nngp.get(1, 1), q / 4.0);
    assert_eq!(k.ntk.get(1, 1), q / 4.0 + 0.5 * (q / 2.0 + 0.5 * q));
    assert!(Network {
        depth: 0,
        ..net.clone()
    }
    .kernels(&x, None)
    .is_err());
}

#[test]
fn settings_beyond_f64_or_memory_are_errors_naming_them() {
    let x = Matrix::from_fn(4, 2, |i, j| (i + j) as f64 * 0.5 + 0.25);
    let message = |net: &Network| net.kernels(&x, None).unwrap_err().to_string();
    let relu = Network::new(1, Activation::Relu);
    // σ_w² = 1e400 overflows at the first layer.
    let msg = message(&Network {
        w_std: 1e200,
        ..relu.clone()
    });
    assert!(
        msg.contains("w_std, b_std or depth") && msg.contains("layer-1"),
        "{msg}"
    );
    // x⁵⁰ (E[u¹⁰⁰] = 99!! q⁵⁰ ≈ 2.7e78 q⁵⁰): one layer at σ_w = 1 keeps the output in
    // range (the inputs' q lie in 0.31–4.1); with three, the first row's q goes 0.31 →
    // 1.5e53 (layer 2) → beyond f64 (layer 3).
    let mono = Network::new(1, Activation::Monomial(50));
    let k = mono.kernels(&x, None).unwrap();
    assert!(k.ntk.data.iter().chain(&k.nngp.data).all(|v| v.is_finite()));
    let msg = message(&Network {
        depth: 3,
        ..mono.clone()
    });
    assert!(msg.contains("layer-3 pre-activation"), "{msg}");
    let msg = message(&Network {
        w_std: 1e30,
        ..mono
    });
    assert!(msg.contains("the output variance"), "{msg}");
    // Just inside the bound every entry is finite and exact: without bias the ReLU kernels
    // are homogeneous in σ_w², K and Θ of depth L scale by (σ_w²)^(L+1) (σ_w² a power of
    // 2: no rounding in the scaling), here to an output variance of ≈ 4.2e149.
    let scale = 2f64.powi(124); // σ_w² = 2^248 ≈ 4.5e74
    let near = Network {
        w_std: scale,
        ..relu.clone()
    }
    .kernels(&x, None)
    .unwrap();
    let unit = relu.kernels(&x, None).unwrap();
    let factor = scale.powi(4);
    for (got, base) in [(&near.nngp, &unit.nngp), (&near.ntk, &unit.ntk)] {
        assert!(got.data.iter().all(|v| v.is_finite()));
        let want: Vec<f64> = base.data.iter().map(|v| v * factor).collect();
        assert_eq!(got.data, want);
    }
    assert!(near.nngp.data.iter().cloned().fold(0.0, f64::max) > 1e149);
    let msg = message(&Network {
        depth: 1 << 62,
        ..relu.clone()
    });
    assert!(msg.starts_with("invalid depth"), "{msg}");
    let msg = message(&Network {
        activation: Activation::Tanh,
        quadrature_degree: MAX_QUADRATURE_DEGREE + 1,
        ..relu
    });
    assert!(msg.contains("quadrature_degree"), "{msg}");
}
