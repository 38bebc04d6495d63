//! Vector operations: norms, inner products, distances, max, and exp / log-sum-exp.

use super::*;

/// Euclidean norm ‖v‖₂ (the squares summed over eight lanes, like [`dot8`]).
pub fn norm(v: &[f64]) -> f64 {
    dot8(v, v).sqrt()
}

/// Inner product ⟨u, v⟩.
pub fn dot(u: &[f64], v: &[f64]) -> f64 {
    u.iter().zip(v).map(|(a, b)| a * b).sum()
}

/// Σ_j u_j v_j with eight independent accumulators (vectorisable, deterministic order).
#[inline]
pub fn dot8(u: &[f64], v: &[f64]) -> f64 {
    let mut acc = [0.0f64; 8];
    let (uc, vc) = (u.chunks_exact(8), v.chunks_exact(8));
    let (ur, vr) = (uc.remainder(), vc.remainder());
    for (a, b) in uc.zip(vc) {
        for k in 0..8 {
            acc[k] += a[k] * b[k];
        }
    }
    let tail: f64 = ur.iter().zip(vr).map(|(a, b)| a * b).sum();
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail
}

/// Euclidean distance ‖u − v‖₂.
pub fn distance(u: &[f64], v: &[f64]) -> f64 {
    u.iter()
        .zip(v)
        .map(|(a, b)| (a - b) * (a - b))
        .sum::<f64>()
        .sqrt()
}

/// log Σ_i exp(v_i), computed stably as m + log Σ exp(v_i − m), m = max v.
pub fn log_sum_exp(v: &[f64]) -> f64 {
    let m = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !m.is_finite() {
        return m;
    }
    m + v.iter().map(|x| (x - m).exp()).sum::<f64>().ln()
}

/// e^x for one lane, branch-free so that it vectorises: Cody–Waite reduction x = k ln 2 + r,
/// |r| ≤ ln2/2, the degree-12 Taylor polynomial of e^r (truncation < 2e-16 relative) and the
/// scale 2^k built in the exponent bits. Arguments are clamped to [−708, 709] (below, the result
/// is e^{−708} ≈ 3e-308 instead of a subnormal or 0). Within 2 ulp of the correctly rounded value
/// (`tests::fast_exp_is_accurate`). No fused multiply-adds are formed, so every vector width
/// gives the same bits.
#[inline(always)]
pub(crate) fn exp_lane(x: f64) -> f64 {
    const MAGIC: f64 = 6755399441055744.0; // 1.5 · 2^52: adding it rounds to an integer
    const LOG2E: f64 = std::f64::consts::LOG2_E;
    const LN2_HI: f64 = 0.693_147_180_369_123_8;
    const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
    const C: [f64; 13] = [
        1.0,
        1.0,
        0.5,
        1.0 / 6.0,
        1.0 / 24.0,
        1.0 / 120.0,
        1.0 / 720.0,
        1.0 / 5040.0,
        1.0 / 40320.0,
        1.0 / 362880.0,
        1.0 / 3628800.0,
        1.0 / 39916800.0,
        1.0 / 479001600.0,
    ];
    let x = x.clamp(-708.0, 709.0);
    let t = x * LOG2E + MAGIC;
    let k = t - MAGIC;
    let r = (x - k * LN2_HI) - k * LN2_LO;
    let mut p = C[12];
    for c in C[..12].iter().rev() {
        p = p * r + c;
    }
    let bits = (t.to_bits().wrapping_sub(MAGIC.to_bits()).wrapping_add(1023)) << 52;
    p * f64::from_bits(bits)
}

#[inline(always)]
pub(crate) fn exp_in_place_generic(v: &mut [f64]) {
    v.iter_mut().for_each(|x| *x = exp_lane(*x));
}

#[inline(always)]
pub(crate) fn sum_exp_generic(v: &[f64], shift: f64) -> f64 {
    let mut acc = [0.0f64; 8];
    let chunks = v.chunks_exact(8);
    let tail: f64 = chunks
        .remainder()
        .iter()
        .map(|&x| exp_lane(x - shift))
        .sum();
    for c in chunks {
        for l in 0..8 {
            acc[l] += exp_lane(c[l] - shift);
        }
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail
}

simd_dispatch! {
    /// v_i ← e^{v_i} on the widest vector unit: within 2 ulp of the correctly rounded value,
    /// arguments clamped to [−708, 709], the same bits on every vector width.
    pub fn exp_in_place(v: &mut [f64]) = exp_in_place_generic;
}

simd_dispatch! {
    /// Σ_i e^{v_i − shift}, summed over eight interleaved lanes in a fixed order (the same bits
    /// on every vector width and thread count).
    pub fn sum_exp(v: &[f64], shift: f64) -> f64 = sum_exp_generic;
}

/// max_i v_i over eight interleaved lanes (vectorises; −∞ for an empty slice; NaNs ignored).
pub fn max(v: &[f64]) -> f64 {
    let mut acc = [f64::NEG_INFINITY; 8];
    let chunks = v.chunks_exact(8);
    let mut m = chunks
        .remainder()
        .iter()
        .fold(f64::NEG_INFINITY, |a, &b| if b > a { b } else { a });
    for c in chunks {
        for l in 0..8 {
            acc[l] = if c[l] > acc[l] { c[l] } else { acc[l] };
        }
    }
    for a in acc {
        m = if a > m { a } else { m };
    }
    m
}
