//! The layer maps of the module docs: the Dense update of (K, Θ), the a/b-ReLU family fused
//! and vectorised over a row, and every other activation entry by entry (closed forms or
//! Gauss–Hermite quadrature).

use super::*;
use crate::error::{Error, Result};
use crate::kernel::gauss_hermite::GaussHermite;
use crate::nn::Activation;
use std::f64::consts::PI;

/// (E[η(u)η(v)], E[η'(u)η'(v)]) for one activation.
pub(crate) struct ActivationMap {
    pub(crate) activation: Activation,
    pub(crate) quadrature: Option<GaussHermite>,
}

/// One Dense layer's update of (K, Θ) (module doc): K' = w2·K + b2, Θ' = (ck·K + c1) + w2·Θ
/// (each step a fused multiply-add), with (ck, c1) = (w2, b2) in the NTK parameterization and
/// (m_in, 1[bias]) in the standard one. `carry` is false for the first layer, where Θ⁰ = 0
/// (the Θ buffer is then not read, so reused buffers need no clearing, and the term is not
/// formed).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Dense {
    pub(crate) w2: f64,
    pub(crate) b2: f64,
    pub(crate) ck: f64,
    pub(crate) c1: f64,
    pub(crate) carry: bool,
}

impl Dense {
    #[inline(always)]
    pub(crate) fn apply(self, k: f64, t: f64) -> (f64, f64) {
        let fresh = self.ck.mul_add(k, self.c1);
        let ntk = if self.carry {
            self.w2.mul_add(t, fresh)
        } else {
            fresh
        };
        (self.w2.mul_add(k, self.b2), ntk)
    }
}

/// A Dense layer followed by the a/b-ReLU map over a row, fused and branch-free; `ab2` =
/// a² + b², `two_ab` = 2ab. The pre-activation standard deviations come precomputed:
/// `sd1` = √q₁ and `isd1` = 1/√q₁ (0 when q₁ = 0) for the row, `sd2`/`isd2` per column, so that
/// √(q₁q₂) = sd1·sd2 and cos θ = K · (isd1·isd2) need no square root or division (both products
/// are commutative, so K(x, x') and K(x', x) round alike). `post`, the network's final Dense
/// layer when this is its last hidden one, is applied in the same pass. ReLU itself (a = 1,
/// b = 0) runs a copy of the loop without the 2ab terms, which vanish (same results, bit for bit).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(super) fn dense_ab_relu_row_generic(
    dense: Dense,
    post: Option<Dense>,
    ab2: f64,
    two_ab: f64,
    (sd1, isd1): (f64, f64),
    (sd2, isd2): (&[f64], &[f64]),
    nngp: &mut [f64],
    ntk: &mut [f64],
) {
    #[inline(always)]
    fn pass<const RELU: bool>(
        dense: Dense,
        post: impl Fn(f64, f64) -> (f64, f64),
        (ab2, two_ab): (f64, f64),
        (sd1, isd1): (f64, f64),
        (sd2, isd2): (&[f64], &[f64]),
        nngp: &mut [f64],
        ntk: &mut [f64],
    ) {
        for (((k, t), &s2), &i2) in nngp.iter_mut().zip(ntk.iter_mut()).zip(sd2).zip(isd2) {
            let (pre, tpre) = dense.apply(*k, *t);
            let cos = (pre * (isd1 * i2)).clamp(-1.0, 1.0);
            let (theta, sin) = acos_sin_fast(cos);
            let (ab2, two_ab) = if RELU {
                (1.0, None)
            } else {
                (ab2, Some(two_ab))
            };
            let (kk, tdot) = ab_relu_map(ab2, two_ab, sd1 * s2, cos, sin, theta);
            (*k, *t) = post(kk, tpre * tdot);
        }
    }
    let coefficients = (ab2, two_ab);
    macro_rules! run {
        ($relu:literal) => {
            match post {
                Some(last) => pass::<$relu>(
                    dense,
                    |k, t| last.apply(k, t),
                    coefficients,
                    (sd1, isd1),
                    (sd2, isd2),
                    nngp,
                    ntk,
                ),
                None => pass::<$relu>(
                    dense,
                    |k, t| (k, t),
                    coefficients,
                    (sd1, isd1),
                    (sd2, isd2),
                    nngp,
                    ntk,
                ),
            }
        };
    }
    if coefficients == (1.0, 0.0) {
        run!(true)
    } else {
        run!(false)
    }
}

/// The a/b-ReLU map at one angle (module doc): (K', E[η'η']) from s = √(q₁q₂), cos θ, sin θ
/// and θ, with `ab2` = a² + b² and `two_ab` = 2ab (`None` where b = 0, whose terms vanish) —
/// the one place the formula is written, shared by the vectorised row pass and the scalar pair
/// map:
/// K' = s/(2π)·[(a² + b²)(sin θ + (π − θ) cos θ) − 2ab (sin θ − θ cos θ)],
/// E[η'η'] = [(a² + b²)(π − θ) + 2ab θ]/(2π).
#[inline(always)]
pub(super) fn ab_relu_map(
    ab2: f64,
    two_ab: Option<f64>,
    s: f64,
    cos: f64,
    sin: f64,
    theta: f64,
) -> (f64, f64) {
    let inv_2pi = 0.5 / PI;
    let (mut k, mut tdot) = (ab2 * (PI - theta).mul_add(cos, sin), ab2 * (PI - theta));
    if let Some(two_ab) = two_ab {
        k = (-two_ab).mul_add((-theta).mul_add(cos, sin), k);
        tdot = two_ab.mul_add(theta, tdot);
    }
    (s * inv_2pi * k, tdot * inv_2pi)
}

crate::linalg::simd_dispatch! {
    /// [`dense_ab_relu_row_generic`] with runtime dispatch to the widest vector unit (8 lanes
    /// with AVX-512, 4 with AVX2); every path rounds identically.
    pub(super) fn dense_ab_relu_row(
        dense: Dense,
        post: Option<Dense>,
        ab2: f64,
        two_ab: f64,
        row_sd: (f64, f64),
        column_sd: (&[f64], &[f64]),
        nngp: &mut [f64],
        ntk: &mut [f64],
    ) = dense_ab_relu_row_generic;
}

/// [`dense_ab_relu_row_generic`] at matched entries: entry j has its own row deviation
/// (`sd1[j]`, `isd1[j]`) and column one (`sd2[j]`, `isd2[j]`) — the same-position
/// covariances of a convolutional network. `two_ab` = `None` where b = 0.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(crate) fn dense_ab_relu_pairs_generic(
    dense: Dense,
    ab2: f64,
    two_ab: Option<f64>,
    (sd1, isd1): (&[f64], &[f64]),
    (sd2, isd2): (&[f64], &[f64]),
    nngp: &mut [f64],
    ntk: &mut [f64],
) {
    let sds = sd1.iter().zip(isd1).zip(sd2.iter().zip(isd2));
    for ((k, t), ((&s1, &i1), (&s2, &i2))) in nngp.iter_mut().zip(ntk.iter_mut()).zip(sds) {
        let (pre, tpre) = dense.apply(*k, *t);
        let cos = (pre * (i1 * i2)).clamp(-1.0, 1.0);
        let (theta, sin) = acos_sin_fast(cos);
        let (kk, tdot) = ab_relu_map(ab2, two_ab, s1 * s2, cos, sin, theta);
        (*k, *t) = (kk, tpre * tdot);
    }
}

crate::linalg::simd_dispatch! {
    /// [`dense_ab_relu_pairs_generic`] on the widest vector unit (every path rounds alike).
    pub(crate) fn dense_ab_relu_pairs(
        dense: Dense,
        ab2: f64,
        two_ab: Option<f64>,
        sd1: (&[f64], &[f64]),
        sd2: (&[f64], &[f64]),
        nngp: &mut [f64],
        ntk: &mut [f64],
    ) = dense_ab_relu_pairs_generic;
}

/// The pre-activation variances q of one layer, with √q and 1/√q (0 for q = 0).
#[derive(Clone, Debug, Default)]
pub(crate) struct LayerVariances {
    pub(crate) q: Vec<f64>,
    pub(crate) sd: Vec<f64>,
    pub(crate) isd: Vec<f64>,
}

impl LayerVariances {
    pub(crate) fn push(&mut self, q: f64) {
        let sd = q.sqrt();
        self.q.push(q);
        self.sd.push(sd);
        self.isd.push(if sd > 0.0 { 1.0 / sd } else { 0.0 });
    }
}

/// (a² + b², 2ab) of the a/b-ReLU family, `None` for other activations.
pub(super) fn ab_relu_coefficients(activation: Activation) -> Option<(f64, f64)> {
    match activation {
        Activation::Relu => Some((1.0, 0.0)),
        Activation::AbRelu { a, b } => Some((a * a + b * b, 2.0 * a * b)),
        _ => None,
    }
}

/// (2k − 1)!! for k ≥ 0, with (−1)!! = 1.
pub(super) fn double_factorial_odd(k: u32) -> f64 {
    (1..=k).map(|i| (2 * i - 1) as f64).product()
}

/// E[u^k v^k] for (u, v) centred Gaussian with variances q₁, q₂ and covariance q₁₂ (module
/// doc); `det` = q₁q₂ − q₁₂² (0 on the diagonal).
pub(super) fn monomial_moment(k: u32, q12: f64, det: f64) -> f64 {
    let mut binomial = 1.0; // C(k, m)
    let mut total = 0.0;
    for m in 0..=k {
        if m > 0 {
            binomial = binomial * (k - m + 1) as f64 / m as f64;
        }
        if (k - m) % 2 == 1 {
            continue;
        }
        let j = (k - m) / 2;
        // (k + m − 1)!! = (2·((k + m)/2) − 1)!!, (k − m − 1)!! = (2j − 1)!!.
        let coefficient = binomial * double_factorial_odd((k + m) / 2) * double_factorial_odd(j);
        let det_power = if j == 0 { 1.0 } else { det.powi(j as i32) };
        total += coefficient * q12.powi(m as i32) * det_power;
    }
    total
}

impl ActivationMap {
    /// A Dense layer then the activation on one row: for every j, (K, Θ) ← Dense(K, Θ), then
    /// (K, Θ) ← (E[η(u)η(v)], Θ · E[η'(u)η'(v)]) with q₁ = `q1` (the row's pre-activation
    /// variance), q₂ = `v2.q[j]`, q₁₂ = K; entry `diagonal` (if any) has cos θ = 1; then `post`
    /// (the final Dense layer, after the last hidden one), if any. The a/b-ReLU family runs as
    /// one fused branch-free loop; the other activations entry by entry.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn apply_layer(
        &self,
        (dense, post): (Dense, Option<Dense>),
        q1: f64,
        v2: &LayerVariances,
        start: usize,
        nngp: &mut [f64],
        ntk: &mut [f64],
        diagonal: Option<usize>,
    ) {
        let q2 = &v2.q[start..];
        let finish = |k: f64, t: f64| post.map_or((k, t), |last| last.apply(k, t));
        if let Some((ab2, two_ab)) = ab_relu_coefficients(self.activation) {
            let saved = diagonal.map(|j| dense.apply(nngp[j], ntk[j]));
            let sd1 = q1.sqrt();
            let isd1 = if sd1 > 0.0 { 1.0 / sd1 } else { 0.0 };
            let column_sd = (&v2.sd[start..], &v2.isd[start..]);
            dense_ab_relu_row(dense, post, ab2, two_ab, (sd1, isd1), column_sd, nngp, ntk);
            // θ = 0 exactly on the diagonal: the pair map at cos θ = 1.
            if let (Some(j), Some((k, t))) = (diagonal, saved) {
                let (kk, tdot) = self.pair(q1, q2[j], k, true);
                (nngp[j], ntk[j]) = finish(kk, t * tdot);
            }
        } else {
            for (j, ((k, t), &q2)) in nngp.iter_mut().zip(ntk.iter_mut()).zip(q2).enumerate() {
                let (pre, tpre) = dense.apply(*k, *t);
                let (kk, tdot) = self.pair(q1, q2, pre, diagonal == Some(j));
                (*k, *t) = finish(kk, tpre * tdot);
            }
        }
    }

    /// A Dense layer then the activation at matched entries: for every j, (K, Θ) ←
    /// Dense(K, Θ), then (K, Θ) ← (E[η(u)η(v)], Θ · E[η'(u)η'(v)]) with q₁ = `v1.q[j]`,
    /// q₂ = `v2.q[j]`, q₁₂ = K; `diagonal`: cos θ = 1 at every entry (an input with itself).
    /// The a/b-ReLU family off the diagonal runs vectorised ([`dense_ab_relu_pairs`]).
    pub(crate) fn apply_positions(
        &self,
        dense: Dense,
        (v1, v2): (&LayerVariances, &LayerVariances),
        nngp: &mut [f64],
        ntk: &mut [f64],
        diagonal: bool,
    ) {
        match ab_relu_coefficients(self.activation) {
            Some((ab2, two_ab)) if !diagonal => {
                let two_ab = (two_ab != 0.0).then_some(two_ab);
                let (sd1, sd2) = ((&v1.sd[..], &v1.isd[..]), (&v2.sd[..], &v2.isd[..]));
                dense_ab_relu_pairs(dense, ab2, two_ab, sd1, sd2, nngp, ntk);
            }
            _ => {
                let entries = nngp.iter_mut().zip(ntk.iter_mut());
                for ((k, t), (&q1, &q2)) in entries.zip(v1.q.iter().zip(&v2.q)) {
                    let (pre, tpre) = dense.apply(*k, *t);
                    let (kk, tdot) = self.pair(q1, q2, pre, diagonal);
                    (*k, *t) = (kk, tpre * tdot);
                }
            }
        }
    }

    pub(crate) fn new(activation: Activation, degree: usize) -> Result<ActivationMap> {
        activation
            .validate()
            .map_err(|e| Error::invalid("activation", e))?;
        let closed = matches!(
            activation,
            Activation::Relu
                | Activation::AbRelu { .. }
                | Activation::Erf { .. }
                | Activation::Identity
                | Activation::Monomial(_)
        );
        Ok(ActivationMap {
            activation,
            quadrature: if closed {
                None
            } else {
                Some(GaussHermite::new(degree)?)
            },
        })
    }

    /// E[η(u)²] for u ~ N(0, q).
    pub(crate) fn variance(&self, q: f64) -> f64 {
        match self.activation {
            Activation::Relu => 0.5 * q,
            Activation::AbRelu { a, b } => 0.5 * (a * a + b * b) * q,
            Activation::Erf { a, b, c } => {
                let bq = b * b * q;
                a * a * (2.0 / PI * (2.0 * bq / (1.0 + 2.0 * bq)).asin()) + c * c
            }
            Activation::Identity => q,
            Activation::Monomial(k) => double_factorial_odd(k) * q.powi(k as i32),
            act => match &self.quadrature {
                Some(gh) => gh.expect(q, |u| act.value(u).powi(2)),
                None => f64::NAN,
            },
        }
    }

    /// (E[η(u)η(v)], E[η'(u)η'(v)]); `diagonal` forces cos θ = 1.
    pub(crate) fn pair(&self, q1: f64, q2: f64, q12: f64, diagonal: bool) -> (f64, f64) {
        match self.activation {
            Activation::Relu | Activation::AbRelu { .. } => {
                let (ab2, two_ab) = ab_relu_coefficients(self.activation).unwrap_or_default();
                let s = (q1 * q2).sqrt();
                if diagonal && s > 0.0 {
                    // θ = 0 exactly: K' = (a² + b²) s/2, E[η'η'] = (a² + b²)/2.
                    return (0.5 * ab2 * s, 0.5 * ab2);
                }
                let cos = if s == 0.0 {
                    0.0
                } else {
                    (q12 / s).clamp(-1.0, 1.0)
                };
                let sin = (1.0 - cos * cos).max(0.0).sqrt();
                ab_relu_map(ab2, Some(two_ab), s, cos, sin, cos.acos())
            }
            Activation::Erf { a, b, c } => {
                let q12 = if diagonal { (q1 * q2).sqrt() } else { q12 };
                let b2 = b * b;
                let (p1, p2, p12) = (b2 * q1, b2 * q2, b2 * q12);
                let prod = (1.0 + 2.0 * p1) * (1.0 + 2.0 * p2);
                let arg = (2.0 * p12 / prod.sqrt()).clamp(-1.0, 1.0);
                (
                    a * a * (2.0 / PI * arg.asin()) + c * c,
                    a * a
                        * b2
                        * (4.0 / PI / (prod - 4.0 * p12 * p12).max(f64::MIN_POSITIVE).sqrt()),
                )
            }
            Activation::Identity => (q12, 1.0),
            Activation::Monomial(k) => {
                let (q12, det) = if diagonal {
                    ((q1 * q2).sqrt(), 0.0)
                } else {
                    (q12, (q1 * q2 - q12 * q12).max(0.0))
                };
                let tdot = if k == 0 {
                    0.0
                } else {
                    (k * k) as f64 * monomial_moment(k - 1, q12, det)
                };
                (monomial_moment(k, q12, det), tdot)
            }
            act => match &self.quadrature {
                Some(gh) => {
                    let q12 = if diagonal { (q1 * q2).sqrt() } else { q12 };
                    (
                        gh.expect2(q1, q2, q12, |u| act.value(u), |v| act.value(v)),
                        gh.expect2(q1, q2, q12, |u| act.derivative(u), |v| act.derivative(v)),
                    )
                }
                None => (f64::NAN, f64::NAN),
            },
        }
    }
}

/// The largest pre-activation variance the layer maps accept: products of two variances
/// (q₁q₂, and q₁₂² beside it) then stay below f64's largest value, ≈ 1.8e308.
pub(crate) const VARIANCE_RANGE: f64 = 1e150;
