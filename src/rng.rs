//! Seeds and random streams.
//!
//! A [`Seed`] is turned into independent streams by name and index:
//! `seed.stream("init", trial)`, `seed.stream("noise", step)`. A stream is a fresh
//! xoshiro256++ generator whose 256-bit state is derived from (seed, name, index) by
//! SplitMix64, so a stream never depends on how many other streams were drawn before it, or
//! on which thread draws it. That is what makes every result of gradflow bit-identical
//! whatever the thread count, and what makes checkpoints trivial: a step's noise is a pure
//! function of (seed, step).
//!
//! The generator is our own (30 lines, the reference algorithm of Blackman & Vigna) rather than
//! `rand_xoshiro`, so that its state is plain data that a checkpoint stores and restores.

use serde::{Deserialize, Serialize};

/// The root of all randomness of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Seed(pub u64);

/// FNV-1a hash of a stream name (stable across platforms and releases).
fn name_hash(name: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// One step of SplitMix64 (Steele, Lea & Flood 2014), used to expand seeds.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Seed {
    /// An independent stream identified by `name` and `index`.
    pub fn stream(self, name: &str, index: u64) -> Rng {
        let mut sm = self.0 ^ name_hash(name).rotate_left(17);
        let _ = splitmix64(&mut sm);
        sm ^= index.wrapping_mul(0xd6e8_feb8_6659_fd93);
        Rng::from_splitmix(sm)
    }

    /// A child seed, for a sub-experiment (a trial, a claim) that draws its own streams.
    pub fn child(self, name: &str, index: u64) -> Seed {
        let mut r = self.stream(name, index);
        Seed(r.next_u64())
    }
}

/// xoshiro256++ (Blackman & Vigna 2019) with Gaussian sampling by the ziggurat method.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rng {
    s: [u64; 4],
}

/// Layers of the normal ziggurat.
const ZIG_LAYERS: usize = 128;
/// The start of the tail, R, and the common area V of the layers (Marsaglia & Tsang 2000, for
/// 128 layers of the density e^{−x²/2}).
const ZIG_R: f64 = 3.442_619_855_899;
const ZIG_V: f64 = 9.912_563_035_262_17e-3;

/// The layer edges x_0 > x_1 = R > … > x_128 = 0 (x_0 = V/f(R) is the base strip's pseudo-edge)
/// and the ratios x_{i+1}/x_i below which a draw is accepted at once.
struct Ziggurat {
    x: [f64; ZIG_LAYERS + 1],
    ratio: [f64; ZIG_LAYERS],
}

fn ziggurat() -> &'static Ziggurat {
    static TABLE: std::sync::OnceLock<Ziggurat> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let mut x = [0.0; ZIG_LAYERS + 1];
        let mut f = (-0.5 * ZIG_R * ZIG_R).exp();
        x[0] = ZIG_V / f;
        x[1] = ZIG_R;
        for i in 2..ZIG_LAYERS {
            x[i] = (-2.0 * (ZIG_V / x[i - 1] + f).ln()).sqrt();
            f = (-0.5 * x[i] * x[i]).exp();
        }
        x[ZIG_LAYERS] = 0.0;
        let mut ratio = [0.0; ZIG_LAYERS];
        for i in 0..ZIG_LAYERS {
            ratio[i] = x[i + 1] / x[i];
        }
        Ziggurat { x, ratio }
    })
}

impl Rng {
    fn from_splitmix(mut sm: u64) -> Rng {
        let s = [
            splitmix64(&mut sm),
            splitmix64(&mut sm),
            splitmix64(&mut sm),
            splitmix64(&mut sm),
        ];
        Rng { s }
    }

    /// The next 64 random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform on [0, 1) with 53 random bits.
    #[inline]
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform integer in [0, n) (Lemire's nearly-divisionless method; `n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        let n = n as u64;
        let mut m = u128::from(self.next_u64()) * u128::from(n);
        if (m as u64) < n {
            let threshold = n.wrapping_neg() % n;
            while (m as u64) < threshold {
                m = u128::from(self.next_u64()) * u128::from(n);
            }
        }
        (m >> 64) as usize
    }

    /// Standard normal N(0, 1) by the ziggurat method (Marsaglia & Tsang 2000, in Doornik's
    /// 2005 form with independent bits for the layer and the abscissa): one 64-bit draw and a
    /// comparison in ≈ 98 % of the calls; exact (no approximation of the law).
    pub fn normal(&mut self) -> f64 {
        let z = ziggurat();
        loop {
            let bits = self.next_u64();
            let i = (bits & (ZIG_LAYERS as u64 - 1)) as usize;
            // A uniform on (−1, 1) from the top 53 bits.
            let u = 2.0 * ((bits >> 11) as f64 * (1.0 / (1u64 << 53) as f64)) - 1.0;
            if u.abs() < z.ratio[i] {
                return u * z.x[i];
            }
            if i == 0 {
                // The tail beyond R (Marsaglia 1964).
                loop {
                    let a = (1.0 - self.uniform()).ln() / ZIG_R;
                    let b = (1.0 - self.uniform()).ln();
                    if -2.0 * b >= a * a {
                        return if u < 0.0 { a - ZIG_R } else { ZIG_R - a };
                    }
                }
            }
            let x0 = u * z.x[i];
            let f0 = (-0.5 * (z.x[i] * z.x[i] - x0 * x0)).exp();
            let f1 = (-0.5 * (z.x[i + 1] * z.x[i + 1] - x0 * x0)).exp();
            if f1 + self.uniform() * (f0 - f1) < 1.0 {
                return x0;
            }
        }
    }

    /// ±1 with probability 1/2 each.
    pub fn sign(&mut self) -> f64 {
        if self.next_u64() >> 63 == 0 {
            1.0
        } else {
            -1.0
        }
    }

    /// Fills `out` with N(0, std²) variates.
    pub fn fill_normal(&mut self, out: &mut [f64], std: f64) {
        for v in out {
            *v = std * self.normal();
        }
    }

    /// A uniformly random permutation of 0..n (Fisher–Yates).
    pub fn permutation(&mut self, n: usize) -> Vec<usize> {
        let mut p: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            let j = self.below(i + 1);
            p.swap(i, j);
        }
        p
    }

    /// A point uniform on the unit sphere S^{d−1} (normalized Gaussian). R⁰ has no unit vector:
    /// an empty `out` is left as it is (and draws nothing), instead of redrawing for ever.
    pub fn unit_vector(&mut self, out: &mut [f64]) {
        if out.is_empty() {
            return;
        }
        loop {
            self.fill_normal(out, 1.0);
            let norm = out.iter().map(|v| v * v).sum::<f64>().sqrt();
            if norm > 1e-300 {
                out.iter_mut().for_each(|v| *v /= norm);
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let seed = Seed(42);
        let a: Vec<u64> = (0..4).map(|_| seed.stream("init", 0).next_u64()).collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
        assert_ne!(
            seed.stream("init", 0).next_u64(),
            seed.stream("init", 1).next_u64()
        );
        assert_ne!(
            seed.stream("init", 0).next_u64(),
            seed.stream("noise", 0).next_u64()
        );
        assert_ne!(
            Seed(1).stream("init", 0).next_u64(),
            Seed(2).stream("init", 0).next_u64()
        );
    }

    /// Unit vectors have norm 1 in every dimension ≥ 1; in R⁰ the call returns at once without
    /// drawing (it used to redraw for ever), so the stream continues where it was.
    #[test]
    fn unit_vectors_have_norm_one_and_r0_draws_nothing() {
        let mut rng = Seed(3).stream("unit", 0);
        for d in 1..6 {
            let mut v = vec![0.0; d];
            rng.unit_vector(&mut v);
            let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
            assert!((norm - 1.0).abs() < 1e-15, "d = {d}: {norm}");
        }
        let (mut a, mut b) = (rng.clone(), rng.clone());
        a.unit_vector(&mut []);
        assert_eq!(a.next_u64(), b.next_u64());
    }

    #[test]
    fn xoshiro_matches_reference_sequence() {
        // Reference: state {1, 2, 3, 4} gives 41943041, 58720359, 3588806011781223 (the
        // published xoshiro256++ test vector).
        let mut r = Rng { s: [1, 2, 3, 4] };
        assert_eq!(r.next_u64(), 41943041);
        assert_eq!(r.next_u64(), 58720359);
        assert_eq!(r.next_u64(), 3588806011781223);
    }

    #[test]
    fn normal_moments_within_monte_carlo_error() {
        let mut r = Seed(7).stream("test", 0);
        let n = 200_000;
        let xs: Vec<f64> = (0..n).map(|_| r.normal()).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        let kurt = xs.iter().map(|x| x.powi(4)).sum::<f64>() / n as f64;
        // 5 standard errors: se(mean) = 1/√n, se(var) = √(2/n), se(E x⁴) = √(96/n).
        assert!(mean.abs() < 5.0 / (n as f64).sqrt());
        assert!((var - 1.0).abs() < 5.0 * (2.0 / n as f64).sqrt());
        assert!((kurt - 3.0).abs() < 5.0 * (96.0 / n as f64).sqrt());
    }

    #[test]
    fn normal_passes_kolmogorov_smirnov_against_phi() {
        // Exercises every path of the ziggurat (layers, wedges, tail: P(|z| > R) ≈ 5.8e-4).
        let mut r = Seed(11).stream("ks", 0);
        let n = 400_000;
        let mut xs: Vec<f64> = (0..n).map(|_| r.normal()).collect();
        xs.sort_by(f64::total_cmp);
        let phi = |x: f64| 0.5 * (1.0 + libm::erf(x / std::f64::consts::SQRT_2));
        let d = xs
            .iter()
            .enumerate()
            .map(|(k, &x)| {
                let f = phi(x);
                (f - k as f64 / n as f64)
                    .abs()
                    .max(((k + 1) as f64 / n as f64 - f).abs())
            })
            .fold(0.0, f64::max);
        // The 1 % critical value of the KS statistic: 1.63/√n.
        assert!(d < 1.63 / (n as f64).sqrt(), "D = {d}");
        let tail = xs.iter().filter(|x| x.abs() > 3.442_619_855_899).count() as f64 / n as f64;
        let want = 2.0 * (1.0 - phi(3.442_619_855_899));
        assert!(
            (tail - want).abs() < 5.0 * (want / n as f64).sqrt(),
            "{tail} vs {want}"
        );
    }

    #[test]
    fn below_is_uniform() {
        let mut r = Seed(3).stream("test", 0);
        let mut counts = [0usize; 7];
        let n = 70_000;
        for _ in 0..n {
            counts[r.below(7)] += 1;
        }
        // Each count ~ Binomial(n, 1/7): sd ≈ 92.6; allow 5 sd.
        for c in counts {
            assert!((c as f64 - 10_000.0).abs() < 463.0, "{counts:?}");
        }
    }

    #[test]
    fn permutation_is_a_permutation() {
        let mut r = Seed(5).stream("perm", 0);
        let mut p = r.permutation(100);
        p.sort_unstable();
        assert_eq!(p, (0..100).collect::<Vec<_>>());
    }
}
