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

/// xoshiro256++ (Blackman & Vigna 2019) with Gaussian sampling by the polar Box–Muller method.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rng {
    s: [u64; 4],
    spare: Option<f64>,
}

impl Rng {
    fn from_splitmix(mut sm: u64) -> Rng {
        let s = [
            splitmix64(&mut sm),
            splitmix64(&mut sm),
            splitmix64(&mut sm),
            splitmix64(&mut sm),
        ];
        Rng { s, spare: None }
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

    /// Standard normal N(0, 1), by the polar method (the second variate is kept for the next call).
    pub fn normal(&mut self) -> f64 {
        if let Some(z) = self.spare.take() {
            return z;
        }
        loop {
            let u = 2.0 * self.uniform() - 1.0;
            let v = 2.0 * self.uniform() - 1.0;
            let s = u * u + v * v;
            if s > 0.0 && s < 1.0 {
                let factor = (-2.0 * s.ln() / s).sqrt();
                self.spare = Some(v * factor);
                return u * factor;
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

    /// A point uniform on the unit sphere S^{d−1} (normalized Gaussian).
    pub fn unit_vector(&mut self, out: &mut [f64]) {
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

    #[test]
    fn xoshiro_matches_reference_sequence() {
        // Reference: state {1, 2, 3, 4} gives 41943041, 58720359, 3588806011781223 (the
        // published xoshiro256++ test vector).
        let mut r = Rng {
            s: [1, 2, 3, 4],
            spare: None,
        };
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
