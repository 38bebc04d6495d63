//! Infinite-width NNGP and NTK of deep fully connected networks, as a serial composition of
//! layer maps acting on (cross-covariance, the two diagonal variances, NTK) — the kernel of
//! `stax.serial(Dense(m, W_std, b_std), act, …, Dense(m, …), act, Dense(1, W_std, b_std))` in
//! neural-tangents' conventions.
//!
//! Input: K⁰(x, x') = ⟨x, x'⟩ / d (normalized by the input dimension), Θ⁰ = 0.
//!
//! Dense layer (σ_w, σ_b; σ_b² only with a bias):
//! * NNGP: K' = σ_w² K + σ_b²;
//! * NTK parameterization: Θ' = K' + σ_w² Θ;
//! * standard parameterization: Θ' = m_in K + 1\[bias\] + σ_w² Θ, with m_in the layer's input
//!   width (the NTK of a standard-parameterized net grows with its width).
//!
//! Activation η, with (u, v) ~ N(0, [[q₁, q₁₂], [q₁₂, q₂]]): K' = E[η(u) η(v)],
//! Θ' = Θ · E[η'(u) η'(v)], q₁' = E[η(u)²]. Closed forms:
//! * the a/b ReLU family η = a·min(u, 0) + b·max(u, 0) (ReLU (0, 1), leaky ReLU (α, 1),
//!   |u| (−1, 1)), from the arc-cosine kernel of degree 1 (Cho & Saul 2009): with
//!   cos θ = q₁₂/√(q₁q₂) and J(θ) = √(q₁q₂)/(2π) (sin θ + (π − θ) cos θ) = E[relu(u) relu(v)],
//!   K' = (a² + b²) J(θ) − 2ab J(π − θ), where J(π − θ) = √(q₁q₂)/(2π) (sin θ − θ cos θ);
//!   E[η'η'] = ((a² + b²)(π − θ) + 2ab θ)/(2π); q' = (a² + b²) q/2;
//! * a·erf(b·u) + c (Williams 1997, with q scaled by b²):
//!   K' = a² (2/π) arcsin(2b²q₁₂/√((1 + 2b²q₁)(1 + 2b²q₂))) + c²,
//!   E[η'η'] = a²b² (4/π) / √((1 + 2b²q₁)(1 + 2b²q₂) − 4b⁴q₁₂²);
//! * identity: K' = q₁₂, E[η'η'] = 1;
//! * monomials u^k (writing v = ρ-part + independent part):
//!   E[u^k v^k] = Σ_{m ≡ k (mod 2)} C(k, m) (k + m − 1)!! (k − m − 1)!! q₁₂^m (q₁q₂ − q₁₂²)^{(k−m)/2},
//!   E[η'η'] = k² E[u^{k−1} v^{k−1}], q' = (2k − 1)!! q^k;
//! * every other activation: 2-D Gauss–Hermite quadrature with `quadrature_degree` points per
//!   axis (the default 48 points give ≤ 1e-6 relative error on smooth activations).
//!
//! On the diagonal of a kernel of one input set with itself, cos θ is set to exactly 1.

use super::gauss_hermite::GaussHermite;
use crate::error::{check_positive, Error, Result};
use crate::linalg::{
    check_fits, fill_lower_from_upper, gemm_nt, gemm_slice_sequential, gram, stream_fence,
    stream_store, transpose_group, Matrix, SharedPtr,
};
use crate::nn::{Activation, Parameterization};
use rayon::prelude::*;
use std::f64::consts::PI;

/// The fully connected architecture whose infinite-width kernels are computed.
#[derive(Clone, Debug, PartialEq)]
pub struct Network {
    /// Number of hidden (Dense + activation) layers before the final Dense(1); 1 is the
    /// document's two-layer network.
    pub depth: usize,
    /// η.
    pub activation: Activation,
    /// σ_w.
    pub w_std: f64,
    /// σ_b, `None` for layers without bias.
    pub b_std: Option<f64>,
    /// Weight convention.
    pub parameterization: Parameterization,
    /// Hidden width m (enters only the standard parameterization's NTK).
    pub width: usize,
    /// Points per axis of the Gauss–Hermite rule for activations without a closed form
    /// (1 to [`MAX_QUADRATURE_DEGREE`]).
    pub quadrature_degree: usize,
}

/// Which kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// The neural tangent kernel Θ.
    Ntk,
    /// The NNGP kernel K.
    Nngp,
}

impl std::str::FromStr for Kind {
    type Err = String;
    /// The spec's spelling (snake case), via [`crate::error::parse_variant`].
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        crate::error::parse_variant(s)
    }
}

/// NNGP and NTK matrices between two input sets.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Kernels {
    /// The NNGP kernel K(x_i, x'_j).
    pub nngp: Matrix,
    /// The NTK Θ(x_i, x'_j).
    pub ntk: Matrix,
}

/// (E[η(u)η(v)], E[η'(u)η'(v)]) for one activation.
struct ActivationMap {
    activation: Activation,
    quadrature: Option<GaussHermite>,
}

/// (arccos x, sin(arccos x)) = (θ, √(1 − x²)) on [−1, 1] without branches or divisions, so
/// that loops over it vectorise and avoid the divider (one square root per entry). With
/// z = x² for |x| ≤ 1/2 and z = (1 − |x|)/2 otherwise (z ≤ 1/4 in both cases):
/// asin w = w + w·z·A(z) for w = x, resp. w = √z, with A(z) = (asin √z/√z − 1)/z, and
/// √(1 − x²) = S(z) for |x| ≤ 1/2, resp. 2√z·S(z), with S(z) = √(1 − z). A and S are
/// Chebyshev fits on [0, 1/4] of degrees 12 and 13 (approximation errors 1.5e-17 and 1.1e-18;
/// a few ulp on θ and sin θ, with θ = 0 and sin θ = 0 exactly at x = 1). Horner steps are fused
/// multiply-adds, which round alike on every vector unit.
#[inline(always)]
fn acos_sin_fast(x: f64) -> (f64, f64) {
    const A: [f64; 13] = [
        0.16666666666666669,
        0.07499999999998433,
        0.04464285714635543,
        0.030381944138531247,
        0.02237217294214989,
        0.017352392720869973,
        0.013971212973552933,
        0.011479177415184906,
        0.01032281435018578,
        0.005457506718640358,
        0.01740087944269402,
        -0.014851887071247204,
        0.028757851367421566,
    ];
    const S: [f64; 14] = [
        1.0,
        -0.5000000000000013,
        -0.12499999999964427,
        -0.06250000003623023,
        -0.03906249807995615,
        -0.027343810748751328,
        -0.0205065724197494,
        -0.016130373120496453,
        -0.01292903598397512,
        -0.011994108376185898,
        -0.004292463264233535,
        -0.02331758834028454,
        0.02220132904044821,
        -0.03486143336663775,
    ];
    let horner = |c: &[f64], z: f64| match c.split_last() {
        Some((&top, rest)) => rest.iter().rev().fold(top, |acc, &k| acc.mul_add(z, k)),
        None => 0.0,
    };
    let a = x.abs();
    let small = a <= 0.5;
    let z = if small {
        x * x
    } else {
        (-0.5f64).mul_add(a, 0.5)
    };
    let root = z.sqrt();
    let w = if small { x } else { root };
    let asin_like = w.mul_add(z * horner(&A, z), w);
    let s = horner(&S, z);
    let sin = if small { s } else { 2.0 * root * s };
    let theta = if small {
        std::f64::consts::FRAC_PI_2 - asin_like
    } else if x > 0.0 {
        2.0 * asin_like
    } else {
        PI - 2.0 * asin_like
    };
    (theta, sin)
}

/// One Dense layer's update of (K, Θ) (module doc): K' = w2·K + b2, Θ' = (ck·K + c1) + w2·Θ
/// (each step a fused multiply-add), with (ck, c1) = (w2, b2) in the NTK parameterization and
/// (m_in, 1[bias]) in the standard one. `carry` is false for the first layer, where Θ⁰ = 0
/// (the Θ buffer is then not read, so reused buffers need no clearing, and the term is not
/// formed).
#[derive(Clone, Copy, Debug)]
struct Dense {
    w2: f64,
    b2: f64,
    ck: f64,
    c1: f64,
    carry: bool,
}

impl Dense {
    #[inline(always)]
    fn apply(self, k: f64, t: f64) -> (f64, f64) {
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
fn dense_ab_relu_row_generic(
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
fn ab_relu_map(
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
    fn dense_ab_relu_row(
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

/// Writes `dst[c·dst_stride + i] = src[i·src_stride + c]` for i in `rows`, c in `cols` (only
/// c > i when `upper_only`): a transpose between two row-major buffers, or with `src` = `dst`
/// the mirror of a block's upper part onto its lower part. Runs over groups of 8 rows
/// ([`transpose_group`], ordinary stores); with `upper_only` the entries of each group's
/// diagonal 8 × 8 block are copied one by one.
///
/// # Safety
/// Both buffers must be valid for the entries read and written, which no other thread may
/// access; a read entry is never a written one (with `src` = `dst`, `upper_only` must hold).
unsafe fn transpose_entries(
    (src, ss): (*const f64, usize),
    (dst, ds): (*mut f64, usize),
    rows: std::ops::Range<usize>,
    cols: std::ops::Range<usize>,
    upper_only: bool,
) {
    for ib in rows.clone().step_by(8) {
        let ie = (ib + 8).min(rows.end);
        // Columns every row of the group keeps (all of them, or those right of the group).
        let c0 = if upper_only {
            cols.start.max(ie)
        } else {
            cols.start
        };
        // SAFETY: the caller's contract; every entry below lies in `rows` × `cols`.
        unsafe {
            if upper_only {
                for i in ib..ie {
                    for c in cols.start.max(i + 1)..ie.min(cols.end) {
                        *dst.add(c * ds + i) = *src.add(i * ss + c);
                    }
                }
            }
            if c0 < cols.end {
                let (from, to) = (src.add(ib * ss + c0), dst.add(c0 * ds + ib));
                transpose_group((from, ss), (to, ds), ie - ib, cols.end - c0, false);
            }
        }
    }
}

/// The pre-activation variances q of one layer, with √q and 1/√q (0 for q = 0).
#[derive(Clone, Debug, Default)]
struct LayerVariances {
    q: Vec<f64>,
    sd: Vec<f64>,
    isd: Vec<f64>,
}

impl LayerVariances {
    fn push(&mut self, q: f64) {
        let sd = q.sqrt();
        self.q.push(q);
        self.sd.push(sd);
        self.isd.push(if sd > 0.0 { 1.0 / sd } else { 0.0 });
    }
}

/// (a² + b², 2ab) of the a/b-ReLU family, `None` for other activations.
fn ab_relu_coefficients(activation: Activation) -> Option<(f64, f64)> {
    match activation {
        Activation::Relu => Some((1.0, 0.0)),
        Activation::AbRelu { a, b } => Some((a * a + b * b, 2.0 * a * b)),
        _ => None,
    }
}

/// (2k − 1)!! for k ≥ 0, with (−1)!! = 1.
fn double_factorial_odd(k: u32) -> f64 {
    (1..=k).map(|i| (2 * i - 1) as f64).product()
}

/// E[u^k v^k] for (u, v) centred Gaussian with variances q₁, q₂ and covariance q₁₂ (module
/// doc); `det` = q₁q₂ − q₁₂² (0 on the diagonal).
fn monomial_moment(k: u32, q12: f64, det: f64) -> f64 {
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
    fn apply_layer(
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

    fn new(activation: Activation, degree: usize) -> Result<ActivationMap> {
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
    fn variance(&self, q: f64) -> f64 {
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
    fn pair(&self, q1: f64, q2: f64, q12: f64, diagonal: bool) -> (f64, f64) {
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
const VARIANCE_RANGE: f64 = 1e150;

/// The largest Gauss–Hermite degree: the rule's nodes come from a dense degree × degree
/// eigenproblem, and each kernel entry costs degree² activation evaluations per layer.
pub const MAX_QUADRATURE_DEGREE: usize = 1000;

impl Network {
    /// A network in the NTK parameterization with σ_w = 1, no bias, ReLU.
    pub fn new(depth: usize, activation: Activation) -> Network {
        Network {
            depth,
            activation,
            w_std: 1.0,
            b_std: None,
            parameterization: Parameterization::Ntk,
            width: 1,
            quadrature_degree: 48,
        }
    }

    /// Checks the settings.
    pub fn validate(&self) -> Result<()> {
        if self.depth == 0 {
            return Err(Error::invalid("depth", "expected at least 1 hidden layer"));
        }
        check_positive("w_std", self.w_std)?;
        if let Some(b) = self.b_std {
            crate::error::check_non_negative("b_std", b)?;
        }
        if self.width == 0 {
            return Err(Error::invalid("width", "expected ≥ 1"));
        }
        if !(1..=MAX_QUADRATURE_DEGREE).contains(&self.quadrature_degree) {
            return Err(Error::invalid(
                "quadrature_degree",
                format!(
                    "expected 1 to {MAX_QUADRATURE_DEGREE} points per axis, got {}",
                    self.quadrature_degree
                ),
            ));
        }
        Ok(())
    }

    /// Err naming `what` (the file or argument the inputs came from) when some row of `x` has
    /// ‖x‖²/d beyond the variance range the layer maps hold (1e150) — huge finite inputs, whose
    /// kernel would otherwise be blamed on w_std, b_std or the depth.
    pub fn check_inputs(&self, what: &str, x: &Matrix) -> Result<()> {
        let d = x.cols.max(1) as f64;
        for i in 0..x.rows {
            // Scaled so that the sum of squares cannot overflow: ‖x‖² = s² Σ (x_j / s)².
            let row = x.row(i);
            let s = row.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            if s == 0.0 {
                continue;
            }
            let q0 = s * s * row.iter().map(|v| (v / s) * (v / s)).sum::<f64>() / d;
            if q0.is_nan() || q0 > VARIANCE_RANGE {
                return Err(Error::invalid(
                    what,
                    format!(
                        "row {i} (largest entry {s:.3e}) has ‖x‖²/d = {q0:.3e}, beyond the range \
                         the kernel's layer maps hold in f64 (≤ {VARIANCE_RANGE:e}); rescale the \
                         inputs"
                    ),
                ));
            }
        }
        Ok(())
    }

    fn bias_var(&self) -> f64 {
        self.b_std.map_or(0.0, |b| b * b)
    }

    /// The pre-activation variances of every hidden layer for inputs with K⁰(x, x) = q₀.
    /// Each of them, and the output variance after the final Dense layer, must lie within
    /// [`VARIANCE_RANGE`], so that the layer maps' products of two variances stay finite; by
    /// Cauchy–Schwarz (|K(x, x′)| ≤ √(K(x, x) K(x′, x′)), the same for Θ) the off-diagonal
    /// entries are then bounded as well. Otherwise an error names the layer and q₀.
    fn variances(&self, map: &ActivationMap, q0: f64) -> Result<Vec<f64>> {
        let w2 = self.w_std * self.w_std;
        let mut out = Vec::with_capacity(self.depth);
        let mut q = q0;
        for l in 0..=self.depth {
            let pre = w2 * q + self.bias_var();
            if pre.is_nan() || pre.abs() > VARIANCE_RANGE {
                let layer = if l < self.depth {
                    format!("layer-{} pre-activation", l + 1)
                } else {
                    "output".to_string()
                };
                return Err(Error::invalid(
                    "w_std, b_std or depth",
                    format!(
                        "for an input with ‖x‖²/d = {q0:.3e} the {layer} variance is {pre:.3e}, \
                         beyond the range the layer maps can hold in f64 (≤ \
                         {VARIANCE_RANGE:e}); lower w_std, b_std or the depth, or rescale \
                         the inputs"
                    ),
                ));
            }
            if l == self.depth {
                break;
            }
            out.push(pre);
            q = map.variance(pre);
        }
        Ok(out)
    }

    /// The Dense update of layer `l` (0 = the first, `depth` = the final Dense(1)).
    fn dense(&self, l: usize, input_dim: usize) -> Dense {
        let w2 = self.w_std * self.w_std;
        let b2 = self.bias_var();
        let carry = l > 0;
        match self.parameterization {
            Parameterization::Ntk => Dense {
                w2,
                b2,
                ck: w2,
                c1: b2,
                carry,
            },
            Parameterization::Standard => Dense {
                w2,
                b2,
                ck: if l == 0 { input_dim } else { self.width } as f64,
                c1: if self.b_std.is_some() { 1.0 } else { 0.0 },
                carry,
            },
        }
    }

    /// One row of the kernels, in place: on entry `nngp` holds K⁰ = ⟨x_i, x'_j⟩/d for
    /// j ≥ `start`, on exit K and Θ of the whole network (the layer maps run over the row).
    #[allow(clippy::too_many_arguments)]
    fn row(
        &self,
        map: &ActivationMap,
        v1: &[f64],
        v2_layers: &[LayerVariances],
        start: usize,
        nngp: &mut [f64],
        ntk: &mut [f64],
        diagonal: Option<usize>,
        input_dim: usize,
    ) {
        let last = self.dense(self.depth, input_dim);
        for (l, v2) in v2_layers.iter().enumerate() {
            let post = (l + 1 == self.depth).then_some(last);
            let dense = self.dense(l, input_dim);
            map.apply_layer((dense, post), v1[l], v2, start, nngp, ntk, diagonal);
        }
    }

    /// NNGP and NTK between the rows of `x1` and of `x2` (`None`: x2 = x1, the kernels are
    /// exactly symmetric and the diagonal angle is exactly 0). Parallel over rows; each entry is independent of the thread count.
    pub fn kernels(&self, x1: &Matrix, x2: Option<&Matrix>) -> Result<Kernels> {
        let mut out = Kernels::default();
        self.kernels_into(x1, x2, &mut out)?;
        Ok(out)
    }

    /// [`Network::kernels`] written into `out`, whose buffers are reused when their shapes
    /// match (every entry is overwritten, none read): repeated calls of one size (a sweep over
    /// σ_w, σ_b or depth) then need no fresh memory. Fresh outputs are not zeroed first either,
    /// but the memory itself may be: the system allocator maps each 4000 × 4000 output fresh
    /// and the operating system zeroes it page by page on first touch (≈ 20 ms of a 55 ms
    /// call for one hidden layer on two cores), where [`crate::alloc::Allocator`] reuses the
    /// memory of outputs freed earlier in the run.
    pub fn kernels_into(&self, x1: &Matrix, x2: Option<&Matrix>, out: &mut Kernels) -> Result<()> {
        match x2 {
            Some(x2) => self.compute(x1, x2, false, out),
            None => self.compute(x1, x1, true, out),
        }
    }

    /// The upper part of a row block of K(x, x): with `x` = rows b..n of an input set whose
    /// block rows b..b + `rows` come first, the kernels between those `rows` rows and all of
    /// `x` (a `rows` × x.rows matrix). Its leading `rows` × `rows` square is computed on the
    /// upper triangle and mirrored, with the diagonal angle exactly 0, as in
    /// [`Network::kernels`] with x2 omitted. Used to stream kernels larger than memory with
    /// every pair computed once (so the file is exactly symmetric).
    pub fn kernels_upper_block(&self, x: &Matrix, rows: usize) -> Result<Kernels> {
        if rows > x.rows {
            return Err(Error::shape(
                "kernels_upper_block",
                format!("{rows} block rows, but x has {}", x.rows),
            ));
        }
        let head: Vec<usize> = (0..rows).collect();
        let mut out = Kernels::default();
        self.compute(&x.select_rows(&head), x, true, &mut out)?;
        Ok(out)
    }

    /// The tiled computation of [`Network::compute`]: K and Θ between the rows of `x1` and of
    /// `x2`, written to the r × n₂ outputs at `kp` and `tp` (r = rows of x1, n₂ = rows of x2).
    /// Work is split into TILE × TILE tiles, each a parallel task (so that a few rows against
    /// many still use every core): a tile is computed in a per-thread scratch that stays in
    /// cache — K⁰ = ⟨x, x'⟩/d by a small GEMM, then the layer maps row by row — and written
    /// out once, with non-temporal stores ([`stream_store`]: no read of the output's lines
    /// before they are written). In the `leading` layout (x1 = the first r rows of x2) only
    /// the tiles on and right of the diagonal are computed, with cos θ = 1 at j = i; inside the
    /// leading r × r square each one is also written transposed into the rows below (entries no
    /// other task writes). Each entry is the same sequence of operations whatever the thread
    /// count.
    ///
    /// Every one of the r × n₂ entries of both outputs is written and none is read, so the
    /// outputs may be uninitialised memory.
    ///
    /// # Safety
    /// `kp` and `tp` must each be valid for writes of r × n₂ values, which nothing else
    /// accesses during the call.
    #[allow(clippy::too_many_arguments)]
    unsafe fn tiles(
        &self,
        map: &ActivationMap,
        var1: &[Vec<f64>],
        var2_layers: &[LayerVariances],
        (x1, x2, scale): (&Matrix, &Matrix, f64),
        leading: bool,
        (kp, tp): (SharedPtr, SharedPtr),
    ) {
        const TILE: usize = 128;
        let (r, n2) = (x1.rows, x2.rows);
        let input_dim = x1.cols;
        // The tiles (bi, bj), each a task: all of them in the cross layout, those with bj ≥ bi
        // in the leading one (whose tile columns start at the row block's own start).
        let (row_blocks, col_blocks) = (r.div_ceil(TILE), n2.div_ceil(TILE));
        let tiles: Vec<(usize, usize)> = (0..row_blocks)
            .flat_map(|bi| (if leading { bi } else { 0 }..col_blocks).map(move |bj| (bi, bj)))
            .collect();
        tiles.into_par_iter().for_each(|(bi, bj)| {
            let (i0, i1) = (bi * TILE, ((bi + 1) * TILE).min(r));
            let (j0, ri) = (bj * TILE, i1 - i0);
            let cj = (j0 + TILE).min(n2) - j0;
            // The K and Θ tiles.
            crate::linalg::with_scratch(2 * TILE * TILE, |scratch| {
                let (k_tile, t_tile) = scratch.split_at_mut(TILE * TILE);
                let (k_tile, t_tile) = (&mut k_tile[..ri * cj], &mut t_tile[..ri * cj]);
                // K⁰ of the tile, ⟨x_i, x'_j⟩/d, in cache.
                let (a, b) = (x1.view().subrows(i0, ri), x2.view().subrows(j0, cj));
                gemm_slice_sequential(k_tile, ri, cj, 0.0, a, b.transpose(), scale);
                let diagonal_tile = leading && j0 == i0;
                // The tile's columns inside the leading square (c < r), whose transposes
                // go below the diagonal: rows j0 + c, columns i0.. (no other task writes
                // there). In groups of rows that start a 64-byte line of those output rows
                // (when the row length allows), so that each group's transpose is whole
                // lines; the groups are written while the next ones are computed.
                let square = if leading {
                    (j0 + cj).min(r).saturating_sub(j0)
                } else {
                    0
                };
                let offset = (kp.at(0) as usize / 8 + j0 * n2 + i0) % 8;
                let lead = if n2.is_multiple_of(8) {
                    (8 - offset) % 8
                } else {
                    0
                };
                let mut g0 = 0;
                while g0 < ri {
                    let g1 = if g0 == 0 && lead > 0 { lead } else { g0 + 8 }.min(ri);
                    for li in g0..g1 {
                        let i = i0 + li;
                        let start = if leading { j0.max(i) } else { j0 };
                        if start >= j0 + cj {
                            continue;
                        }
                        let diagonal = (leading && start == i).then_some(0);
                        let span = li * cj + (start - j0)..(li + 1) * cj;
                        let (k_row, t_row) = (&mut k_tile[span.clone()], &mut t_tile[span]);
                        let (v1, v2) = (&var1[i], var2_layers);
                        self.row(map, v1, v2, start, k_row, t_row, diagonal, input_dim);
                    }
                    if !diagonal_tile {
                        for (tile, out) in [(&*k_tile, kp), (&*t_tile, tp)] {
                            let rows = &tile[g0 * cj..g1 * cj];
                            // SAFETY: rows i0 + g0..i0 + g1, columns j0..j0 + cj are this
                            // task's tile, which no other task writes (in the leading layout
                            // it lies above the diagonal); below the diagonal, rows j0..,
                            // columns i0 + g0..i0 + g1, as said above. The outputs are valid
                            // for all of it (the caller's contract).
                            unsafe {
                                for (li, row) in rows.chunks_exact(cj).enumerate() {
                                    stream_store(out.at((i0 + g0 + li) * n2 + j0), row);
                                }
                                if square > 0 {
                                    let src = (rows.as_ptr(), cj);
                                    let dst = (out.at(j0 * n2 + i0 + g0), n2);
                                    transpose_group(src, dst, g1 - g0, square, true);
                                }
                            }
                        }
                    }
                    g0 = g1;
                }
                if diagonal_tile {
                    for (tile, out) in [(&mut *k_tile, kp), (&mut *t_tile, tp)] {
                        // Its lower part is its upper part mirrored.
                        let base = tile.as_mut_ptr();
                        // SAFETY: inside the tile; only c > i is read, only c < i written;
                        // then this task's tile, rows i0.., columns j0 = i0.. on the
                        // diagonal (no other task writes it).
                        unsafe {
                            transpose_entries((base, cj), (base, cj), 0..ri, 0..square, true);
                            for (li, row) in tile.chunks_exact(cj).enumerate() {
                                stream_store(out.at((i0 + li) * n2 + j0), row);
                            }
                        }
                    }
                }
            });
            stream_fence();
        });
    }

    /// K and Θ between the rows of `x1` and of `x2`; `leading` says that `x1` is the first
    /// rows of `x2` (x1 = x2 included): only entries j ≥ i are computed, with cos θ = 1 at
    /// j = i, and the leading square is mirrored.
    fn compute(&self, x1: &Matrix, x2: &Matrix, leading: bool, out: &mut Kernels) -> Result<()> {
        self.validate()?;
        let d = x1.cols;
        if x2.cols != d {
            return Err(Error::shape(
                "kernel",
                format!("x has {d} columns but x2 has {}", x2.cols),
            ));
        }
        if d == 0 {
            return Err(Error::shape(
                "kernel",
                "the inputs have no columns (the kernels normalise by the input dimension)",
            ));
        }
        let map = ActivationMap::new(self.activation, self.quadrature_degree)?;
        // The per-layer variances below: q of every input, and q, √q, 1/√q of x2's.
        let inputs = x1.rows + x2.rows;
        check_fits(
            "depth (the per-layer variances of the inputs)",
            &[inputs, self.depth, 4],
        )?;
        if [&out.nngp, &out.ntk]
            .iter()
            .any(|m| (m.rows, m.cols) != (x1.rows, x2.rows))
        {
            check_fits(
                "kernel size (NNGP and NTK, rows of x × rows of x2)",
                &[2, x1.rows, x2.rows],
            )?;
        }
        let scale = 1.0 / d as f64;
        let sq = |x: &Matrix| -> Vec<f64> {
            (0..x.rows)
                .map(|i| x.row(i).iter().map(|v| v * v).sum::<f64>() * scale)
                .collect()
        };
        let var2: Vec<Vec<f64>> = sq(x2)
            .into_iter()
            .map(|q| self.variances(&map, q))
            .collect::<Result<_>>()?;
        let var1: Vec<Vec<f64>> = if leading {
            var2[..x1.rows].to_vec()
        } else {
            sq(x1)
                .into_iter()
                .map(|q| self.variances(&map, q))
                .collect::<Result<_>>()?
        };
        // Per layer, the variances of the second set as arrays (rows run over j).
        let var2_layers: Vec<LayerVariances> = (0..self.depth)
            .map(|l| {
                let mut layer = LayerVariances::default();
                var2.iter().for_each(|v| layer.push(v[l]));
                layer
            })
            .collect();
        let (r, n2) = (x1.rows, x2.rows);
        let tiles = |kp: *mut f64, tp: *mut f64| {
            let inputs = (x1, x2, scale);
            let outputs = (SharedPtr::new(kp), SharedPtr::new(tp));
            // SAFETY: both outputs are r × n₂ values (the buffers below), used by nothing else
            // during the call.
            unsafe { self.tiles(&map, &var1, &var2_layers, inputs, leading, outputs) }
        };
        let Kernels { nngp, ntk } = out;
        if [&*nngp, &*ntk].iter().all(|m| (m.rows, m.cols) == (r, n2)) {
            // Reused buffers: every entry is overwritten, none read.
            tiles(nngp.data.as_mut_ptr(), ntk.data.as_mut_ptr());
        } else {
            // Fresh outputs, not initialised first (no zeroing pass before the tiles write
            // every entry; where the allocator recycles memory, none of its pages is touched
            // twice).
            // SAFETY: `tiles` writes every one of the r × n₂ entries of each.
            (*nngp, *ntk) = unsafe {
                Matrix::written_in_place(r, n2, |kp| {
                    Matrix::written_in_place(r, n2, |tp| tiles(kp, tp)).0
                })
            };
        }
        Ok(())
    }
}

impl Kernels {
    /// The requested kernel.
    pub fn take(self, kind: Kind) -> Matrix {
        match kind {
            Kind::Ntk => self.ntk,
            Kind::Nngp => self.nngp,
        }
    }
}

/// Writes K(x1, x2) (or K(x1, x1) when `x2` is `None`) to an NPY file, computing `block_rows`
/// rows at a time so that memory stays bounded whatever the size; the file appears atomically
/// when complete. Returns the shape.
///
/// For K(x1, x1) block b (rows s..e) computes only the columns s..n
/// ([`Network::kernels_upper_block`]) and writes them both at rows s..e and, transposed, at
/// columns s..e of rows e..n: every pair is computed once, so the file is exactly symmetric
/// and the work is half that of the full rows.
pub fn stream_to_npy(
    network: &Network,
    kind: Kind,
    x1: &Matrix,
    x2: Option<&Matrix>,
    block_rows: usize,
    path: &std::path::Path,
) -> Result<(usize, usize)> {
    network.validate()?;
    if block_rows == 0 {
        return Err(Error::invalid("block_rows", "expected ≥ 1 row per block"));
    }
    let n = x1.rows;
    let cols = x2.map_or(n, |x| x.rows);
    // A block's two kernels, and for K(x1, x1) the transposed part below it.
    check_fits(
        "block_rows (each block's kernels)",
        &[block_rows.min(n), cols, 3],
    )?;
    let mut writer = crate::data::io::NpyWriter::create(path, &[n, cols])?;
    let block = block_rows;
    let mut start = 0;
    while start < n {
        let end = (start + block).min(n);
        match x2 {
            Some(x2) => {
                let rows: Vec<usize> = (start..end).collect();
                let k = network.kernels(&x1.select_rows(&rows), Some(x2))?;
                writer.write(&k.take(kind).data)?;
            }
            None => {
                let tail: Vec<usize> = (start..n).collect();
                let k = network
                    .kernels_upper_block(&x1.select_rows(&tail), end - start)?
                    .take(kind);
                writer.write_rect(start, start, &k)?;
                if end < n {
                    // The block's columns beyond its square, transposed, below it.
                    let below =
                        Matrix::from_fn(n - end, end - start, |r, c| k.get(c, end - start + r));
                    writer.write_rect(end, start, &below)?;
                }
            }
        }
        start = end;
    }
    writer.finish()?;
    Ok((n, cols))
}

/// The document's K_∞,ij = E_{w~N(0,I)}[x_iᵀx_j η'(wᵀx_i) η'(wᵀx_j)]: the NTK of a two-layer
/// net with only the first layer trained (unit output weights, 1/√M scaling), between `x1` and
/// `x2`, or of `x1` with itself (exactly symmetric) when `x2` is `None`.
pub fn two_layer_first_layer_ntk(
    x1: &Matrix,
    x2: Option<&Matrix>,
    activation: Activation,
) -> Result<Matrix> {
    two_layer(x1, x2, activation, false)
}

/// The document's k_∞(x, x') = E[η(wᵀx) η(wᵀx')] + E[η'(wᵀx) η'(wᵀx')] xᵀx', w ~ N(0, I): the
/// NTK of a two-layer net with both layers trained — the limit of
/// [`crate::nn::TwoLayer`] at γ = 1/2 with σ_w = 1, |a_j| = 1, no bias — between `x1` and `x2`,
/// or of `x1` with itself (exactly symmetric, half the work) when `x2` is `None`.
pub fn two_layer_ntk(x1: &Matrix, x2: Option<&Matrix>, activation: Activation) -> Result<Matrix> {
    two_layer(x1, x2, activation, true)
}

fn two_layer(
    x1: &Matrix,
    x2: Option<&Matrix>,
    activation: Activation,
    both: bool,
) -> Result<Matrix> {
    let same = x2.is_none();
    let x2 = x2.unwrap_or(x1);
    if x1.cols != x2.cols {
        return Err(Error::shape(
            "two-layer kernel",
            "x1 and x2 differ in columns",
        ));
    }
    let map = ActivationMap::new(activation, 48)?;
    let norms = |x: &Matrix| -> Vec<f64> {
        (0..x.rows)
            .map(|i| x.row(i).iter().map(|v| v * v).sum())
            .collect()
    };
    let (q1, q2) = (norms(x1), norms(x2));
    let mut cross = Matrix::default();
    if same {
        gram(&mut cross, x1.view(), 1.0);
    } else {
        gemm_nt(&mut cross, x1.view(), x2.view(), 1.0);
    }
    let n2 = x2.rows;
    let mut out = Matrix::zeros(x1.rows, n2);
    out.data
        .par_chunks_mut(n2)
        .zip(cross.data.par_chunks(n2))
        .enumerate()
        .for_each(|(i, (o_row, c_row))| {
            let start = if same { i } else { 0 };
            for j in start..n2 {
                let (k, tdot) = map.pair(q1[i], q2[j], c_row[j], same && i == j);
                o_row[j] = tdot * c_row[j] + if both { k } else { 0.0 };
            }
        });
    if same {
        fill_lower_from_upper(&mut out);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::activation::{normal_cdf, normal_pdf};

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
                            dense_ab_relu_row(
                                dense, post, ab2, two_ab, row, columns, &mut k, &mut t,
                            );
                            [k, t].concat()
                        });
                        assert!(values.iter().all(|x| x.is_finite()));
                    }
                }
            }
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
}
