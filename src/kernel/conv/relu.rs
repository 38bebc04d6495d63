//! The ReLU layer map on one row of the full position covariance of two different inputs,
//! fused with the Dense update of the `conv` before it: the hot loop of a CNTK with pooling.
//!
//! It is the arc-cosine map of [`crate::kernel::analytic`] (ReLU: a = 1, b = 0) evaluated
//! from shared intermediates with fewer operations than the general a/b-ReLU row: with
//! c = cos θ = K/√(q₁q₂) and φ = π − θ,
//! K′ = √(q₁q₂)/(2π) · (sin θ + φ c),  Θ′ = Θ · φ/(2π)
//! (Cho & Saul 2009's arc-cosine kernel of degree 1 and its derivative's of degree 0).
//! φ comes from the same reduced arcsine as the dense kernels' map (z = c² for |c| ≤ 1/2,
//! z = (1 − |c|)/2 otherwise, asin w = w + w·z·A(z) with A of degree 12), but sin θ from one
//! correctly rounded square root of (1 − c)(1 + c) instead of a second polynomial of degree 13
//! (the square root unit runs beside the fused multiply-adds), and the factors 1/(2π) are
//! folded into the row's √q₁ and the Θ factor. Branch-free: the loop vectorises, and every
//! vector unit rounds it alike (fused multiply-adds, square roots, minima and maxima).

use crate::kernel::analytic::{horner, Dense, ASIN_A};
use std::f64::consts::{FRAC_PI_2, PI};

/// π − arccos c = π/2 + arcsin c for c in [−1, 1] (0 at c = −1, π at c = 1), branch-free,
/// from the reduced arcsine described in the module docs: with z = min(c², (1 − |c|)/2)
/// (c² exactly when |c| ≤ 1/2), φ = π/2 + asin c for |c| ≤ 1/2, else
/// φ = [c > 0]·π − 2·sgn(c)·asin √z (arccos |c| = 2·asin √z). Every choice is made on the
/// polynomial's inputs (w, and φ = base + m·asin w), so it is evaluated once per entry.
#[inline(always)]
pub(super) fn pi_minus_acos(c: f64) -> f64 {
    let a = c.abs();
    let small = a <= 0.5;
    let z = if small {
        c * c
    } else {
        (-0.5f64).mul_add(a, 0.5)
    };
    let root = z.sqrt();
    let w = if small { c } else { root.copysign(-c) };
    let (base, m) = if small {
        (FRAC_PI_2, 1.0f64)
    } else if c > 0.0 {
        (PI, 2.0)
    } else {
        (0.0, 2.0)
    };
    // asin w + O(ulp): w + w·z·A(z), odd in w.
    let asin_like = w.mul_add(z * horner(&ASIN_A, z), w);
    m.mul_add(asin_like, base)
}

/// For every j: (K, Θ) ← `dense`(K, Θ), then the ReLU map (module docs) with
/// cos θ = K·(`isd1`·`isd2[j]`) clamped to [−1, 1] and √(q₁q₂) = `sd1`·`sd2[j]` — the
/// a/b-ReLU row map of the dense kernels at a = 1, b = 0 (`isd` = 1/√q, 0 for q = 0).
#[inline(always)]
pub(super) fn dense_relu_row_generic(
    dense: Dense,
    (sd1, isd1): (f64, f64),
    (sd2, isd2): (&[f64], &[f64]),
    nngp: &mut [f64],
    ntk: &mut [f64],
) {
    let inv_2pi = 0.5 / PI;
    let scale = sd1 * inv_2pi;
    let n = nngp.len();
    let (ntk, sd2, isd2) = (&mut ntk[..n], &sd2[..n], &isd2[..n]);
    for j in 0..n {
        let (pre, tpre) = dense.apply(nngp[j], ntk[j]);
        let c = (pre * (isd1 * isd2[j])).clamp(-1.0, 1.0);
        let phi = pi_minus_acos(c);
        let sin = ((1.0 - c) * (1.0 + c)).sqrt();
        nngp[j] = (scale * sd2[j]) * phi.mul_add(c, sin);
        ntk[j] = tpre * (phi * inv_2pi);
    }
}

crate::linalg::simd_dispatch! {
    /// [`dense_relu_row_generic`] on the widest vector unit (every path rounds alike).
    pub(super) fn dense_relu_row(
        dense: Dense,
        row_sd: (f64, f64),
        column_sd: (&[f64], &[f64]),
        nngp: &mut [f64],
        ntk: &mut [f64],
    ) = dense_relu_row_generic;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::analytic::ActivationMap;
    use crate::nn::Activation;

    /// Cosines over the whole domain: a grid, the branch point ±1/2 and its neighbours, and
    /// ±(1 − 2⁻ᵏ) up to ±1 itself.
    fn cosines() -> Vec<f64> {
        let mut c: Vec<f64> = (0..=2000).map(|i| -1.0 + i as f64 / 1000.0).collect();
        for k in 1..=53 {
            let e = (-(k as f64)).exp2();
            c.extend([1.0 - e, e - 1.0, e, -e]);
        }
        for x in [0.5f64, -0.5] {
            c.extend([
                x,
                f64::from_bits(x.to_bits() + 1),
                f64::from_bits(x.to_bits() - 1),
            ]);
        }
        c.extend([1.0, -1.0, 0.0]);
        c
    }

    #[test]
    fn pi_minus_acos_is_within_a_few_ulp_of_the_library_arccos() {
        for c in cosines() {
            // π − arccos c = arccos(−c): the library's arccos, without a cancelling subtraction.
            let (ours, exact) = (pi_minus_acos(c), (-c).acos());
            let tolerance = 4.0 * f64::EPSILON * exact;
            assert!(
                (ours - exact).abs() <= tolerance,
                "c = {c:e}: {ours:e} vs π − acos c = {exact:e}"
            );
        }
        assert_eq!(pi_minus_acos(1.0), PI);
        assert_eq!(pi_minus_acos(-1.0), 0.0);
    }

    #[test]
    fn the_relu_row_is_the_scalar_pair_map_over_the_whole_domain() {
        let map = ActivationMap::new(Activation::Relu, 8).unwrap();
        let (q1, q2) = (2.3f64, 0.7f64);
        let s = (q1 * q2).sqrt();
        // Pre-Dense entries whose cosine after the Dense update (w2 = 2, b2 = 0) sweeps the
        // domain, ±1 and beyond (clamped) included.
        let cos: Vec<f64> = cosines().into_iter().chain([1.0 + 1e-12, -1.5]).collect();
        for carry in [true, false] {
            let dense = Dense {
                w2: 2.0,
                b2: 0.0,
                ck: 2.0,
                c1: 0.25,
                carry,
            };
            let mut k: Vec<f64> = cos.iter().map(|c| c * s / 2.0).collect();
            let mut t: Vec<f64> = (0..cos.len()).map(|j| 0.3 + (j as f64).sin()).collect();
            // The scalar map: θ = acos c from the library, then π − θ (whose rounding at the
            // scale of π bounds the comparison: absolute, against s and |Θ| after the Dense
            // update, not relative to a small result near c = −1).
            let expected: Vec<(f64, f64, f64)> = k
                .iter()
                .zip(&t)
                .map(|(&k, &t)| {
                    let (pre, tpre) = dense.apply(k, t);
                    let (kk, tdot) = map.pair(q1, q2, pre, false);
                    (kk, tpre * tdot, tpre)
                })
                .collect();
            let sd2 = vec![q2.sqrt(); cos.len()];
            let isd2 = vec![1.0 / q2.sqrt(); cos.len()];
            let row = (q1.sqrt(), 1.0 / q1.sqrt());
            dense_relu_row(dense, row, (&sd2, &isd2), &mut k, &mut t);
            for (j, (&(kk, tt, tpre), (&a, &b))) in
                expected.iter().zip(k.iter().zip(&t)).enumerate()
            {
                let c = cos[j];
                // Θ′ ∝ φ(c) has dφ/dc = 1/sin θ, and the scalar map's sin θ = √(1 − c²) loses
                // ≈ ulp/sin θ near c = ±1; the two maps' cosines (K·(1/√q₁)(1/√q₂) and
                // K/√(q₁q₂)) differ by up to ≈ 4 ulp: both comparisons hold to that
                // conditioning (φ's own accuracy is the test above).
                let sin = (1.0 - c.clamp(-1.0, 1.0).powi(2)).sqrt().max(1e-300);
                let conditioning = 8.0 * f64::EPSILON / (2.0 * PI * sin);
                assert!(
                    (a - kk).abs() <= (1e-15 + conditioning) * s,
                    "K′ at cos {c:e}: {a:e} vs {kk:e}"
                );
                assert!(
                    (b - tt).abs() <= (1e-15 + conditioning) * tpre.abs(),
                    "Θ′ at cos {c:e}: {b:e} vs {tt:e}"
                );
            }
        }
    }

    #[test]
    fn the_relu_row_is_the_same_on_every_vector_unit() {
        let n = 37;
        let dense = Dense {
            w2: 1.7,
            b2: 0.1,
            ck: 1.7,
            c1: 0.1,
            carry: true,
        };
        let sd2: Vec<f64> = (0..n).map(|j| 0.5 + (j as f64 * 0.3).cos().abs()).collect();
        let isd2: Vec<f64> = sd2.iter().map(|s| 1.0 / s).collect();
        crate::linalg::same_on_every_tier(|| {
            let mut k: Vec<f64> = (0..n).map(|j| (j as f64 * 0.71).sin() * 0.8).collect();
            let mut t: Vec<f64> = (0..n).map(|j| 1.0 + (j as f64 * 0.13).cos()).collect();
            dense_relu_row(dense, (1.1, 1.0 / 1.1), (&sd2, &isd2), &mut k, &mut t);
            k.into_iter().chain(t).collect()
        });
    }
}
