//! A branch-free, division-free arccos with its sine, for the vectorised layer maps.

use std::f64::consts::PI;

/// A(z) = (asin √z/√z − 1)/z on [0, 1/4]: Chebyshev fit of degree 12 (error 1.5e-17), lowest
/// coefficient first ([`acos_sin_fast`]).
pub(crate) const ASIN_A: [f64; 13] = [
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

/// Σ_k c[k]·z^k by Horner steps of fused multiply-adds (0 for no coefficients).
#[inline(always)]
pub(crate) fn horner(c: &[f64], z: f64) -> f64 {
    match c.split_last() {
        Some((&top, rest)) => rest.iter().rev().fold(top, |acc, &k| acc.mul_add(z, k)),
        None => 0.0,
    }
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
pub(super) fn acos_sin_fast(x: f64) -> (f64, f64) {
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
    let a = x.abs();
    let small = a <= 0.5;
    let z = if small {
        x * x
    } else {
        (-0.5f64).mul_add(a, 0.5)
    };
    let root = z.sqrt();
    let w = if small { x } else { root };
    let asin_like = w.mul_add(z * horner(&ASIN_A, z), w);
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
