//! The free energy of a 1-D law and its dissipation, estimated from samples: GLD is the
//! Wasserstein gradient flow of F(ρ) = ∫U dρ + β⁻¹∫ρ log ρ (Jordan, Kinderlehrer, Otto 1998),
//! so along the law ρ_t of the chains F decreases at the rate dF/dt = −β⁻² I(ρ_t ‖ π), the
//! relative Fisher information I(ρ ‖ π) = ∫ρ |∇ log(ρ/π)|² = ∫ρ |ρ′/ρ + βU′|² (de Bruijn's
//! identity), down to its minimum F(π) = −β⁻¹ log Z at the Gibbs law π ∝ e^{−βU}.

use crate::error::{check_positive, Error, Result};

/// A Gaussian kernel density estimate of 1-D samples on a regular grid, with its derivative:
/// ρ̂(x) = (1/N) Σ_i K_h(x − x_i), K_h the N(0, h²) density, computed by linear binning of the
/// samples onto the grid and a discrete convolution with K_h and K_h′ truncated at ±6h (the
/// binned estimator of Wand & Jones, Kernel Smoothing, §D.2). The estimate is the density of
/// ρ * N(0, h²): its bias is O(h²).
#[derive(Clone, Debug)]
pub struct KernelDensity {
    /// The grid points x_j = lo + j·spacing.
    pub points: Vec<f64>,
    /// ρ̂(x_j).
    pub density: Vec<f64>,
    /// ρ̂′(x_j).
    pub derivative: Vec<f64>,
    /// The grid spacing.
    pub spacing: f64,
}

impl KernelDensity {
    /// The estimate of `samples` on `points` ≥ 3 grid points over [lo, hi] with bandwidth h > 0
    /// (samples off the grid are dropped; choose the grid wide enough). An error for an empty
    /// or non-finite sample, a bad grid or bandwidth.
    pub fn new(samples: &[f64], lo: f64, hi: f64, points: usize, bandwidth: f64) -> Result<Self> {
        if samples.is_empty() || samples.iter().any(|x| !x.is_finite()) {
            return Err(Error::invalid(
                "samples",
                "expected a non-empty sample of finite values",
            ));
        }
        if !(lo < hi && lo.is_finite() && hi.is_finite()) || points < 3 {
            return Err(Error::invalid(
                "grid",
                format!("expected lo < hi and ≥ 3 points, got [{lo}, {hi}] with {points}"),
            ));
        }
        check_positive("bandwidth", bandwidth)?;
        let spacing = (hi - lo) / (points - 1) as f64;
        // Linear binning: each sample splits its weight between the two nearest grid points.
        let mut weights = vec![0.0; points];
        let w = 1.0 / samples.len() as f64;
        for &x in samples {
            let s = (x - lo) / spacing;
            if s < 0.0 || s > (points - 1) as f64 {
                continue;
            }
            let j = (s.floor() as usize).min(points - 2);
            let f = s - j as f64;
            weights[j] += w * (1.0 - f);
            weights[j + 1] += w * f;
        }
        let reach = ((6.0 * bandwidth / spacing).ceil() as usize).min(points - 1);
        let norm = 1.0 / (bandwidth * (2.0 * std::f64::consts::PI).sqrt());
        let kernel: Vec<(f64, f64)> = (0..=reach)
            .map(|k| {
                let d = k as f64 * spacing;
                let v = norm * (-0.5 * d * d / (bandwidth * bandwidth)).exp();
                (v, -d / (bandwidth * bandwidth) * v)
            })
            .collect();
        let mut density = vec![0.0; points];
        let mut derivative = vec![0.0; points];
        for (i, &wi) in weights.iter().enumerate() {
            if wi == 0.0 {
                continue;
            }
            let (first, last) = (i.saturating_sub(reach), (i + reach).min(points - 1));
            for j in first..=last {
                let (v, dv) = kernel[i.abs_diff(j)];
                density[j] += wi * v;
                // K_h′(x_j − x_i): the kernel's derivative is odd in x_j − x_i.
                derivative[j] += if j >= i { wi * dv } else { -wi * dv };
            }
        }
        let points = (0..points).map(|j| lo + j as f64 * spacing).collect();
        Ok(KernelDensity {
            points,
            density,
            derivative,
            spacing,
        })
    }

    /// F(ρ̂) = ∫U ρ̂ + β⁻¹∫ρ̂ log ρ̂ by the trapezoidal rule on the grid (cells with ρ̂ = 0 add 0).
    pub fn free_energy(&self, u: &dyn Fn(f64) -> f64, beta: f64) -> f64 {
        self.integrate(|x, r, _| {
            if r > 0.0 {
                r * (u(x) + r.ln() / beta)
            } else {
                0.0
            }
        })
    }

    /// I(ρ̂ ‖ π) = ∫ρ̂ (ρ̂′/ρ̂ + βU′)² for π ∝ e^{−βU}, by the trapezoidal rule on the grid.
    pub fn relative_fisher(&self, du: &dyn Fn(f64) -> f64, beta: f64) -> f64 {
        self.integrate(|x, r, dr| {
            if r > 0.0 {
                let s = dr / r + beta * du(x);
                r * s * s
            } else {
                0.0
            }
        })
    }

    fn integrate(&self, f: impl Fn(f64, f64, f64) -> f64) -> f64 {
        let n = self.points.len();
        (0..n)
            .map(|j| {
                let w = if j == 0 || j == n - 1 { 0.5 } else { 1.0 };
                w * f(self.points[j], self.density[j], self.derivative[j])
            })
            .sum::<f64>()
            * self.spacing
    }
}

/// The minimum of the free energy, F(π) = −β⁻¹ log Z with Z = ∫_lo^hi e^{−βU}, by the
/// trapezoidal rule on `points` ≥ 3 points (log-sum-exp; choose [lo, hi] wide enough that the
/// mass outside is negligible).
pub fn gibbs_free_energy(
    u: &dyn Fn(f64) -> f64,
    beta: f64,
    lo: f64,
    hi: f64,
    points: usize,
) -> Result<f64> {
    check_positive("beta", beta)?;
    if !(lo < hi && lo.is_finite() && hi.is_finite()) || points < 3 {
        return Err(Error::invalid(
            "grid",
            format!("expected lo < hi and ≥ 3 points, got [{lo}, {hi}] with {points}"),
        ));
    }
    let h = (hi - lo) / (points - 1) as f64;
    let logs: Vec<f64> = (0..points).map(|j| -beta * u(lo + j as f64 * h)).collect();
    let top = logs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let sum: f64 = logs
        .iter()
        .enumerate()
        .map(|(j, l)| {
            let w = if j == 0 || j == points - 1 { 0.5 } else { 1.0 };
            w * (l - top).exp()
        })
        .sum();
    Ok(-(top + (sum * h).ln()) / beta)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Normal quantiles of N(m, s²) (a deterministic "sample"), by bisection on erf-free
    /// inversion of the CDF computed by the trapezoidal rule.
    fn normal_quantiles(m: f64, s: f64, n: usize) -> Vec<f64> {
        // The CDF of N(0, 1) on a fine grid, then inverted by interpolation.
        let (lo, cells) = (-8.0, 160_000usize);
        let h = 16.0 / cells as f64;
        let mut cdf = vec![0.0; cells + 1];
        let pdf = |x: f64| (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt();
        for i in 1..=cells {
            let x = lo + i as f64 * h;
            cdf[i] = cdf[i - 1] + 0.5 * h * (pdf(x) + pdf(x - h));
        }
        let mut out = Vec::with_capacity(n);
        let mut j = 0;
        for k in 0..n {
            let q = (k as f64 + 0.5) / n as f64;
            while cdf[j + 1] < q {
                j += 1;
            }
            let f = (q - cdf[j]) / (cdf[j + 1] - cdf[j]);
            out.push(m + s * (lo + (j as f64 + f) * h));
        }
        out
    }

    /// The estimate of a Gaussian sample is N(m, s² + h²): its free energy and relative Fisher
    /// information against π = N(0, 1/β) on U = x²/2 have closed forms (E U = (m² + v)/2,
    /// ∫ρ log ρ = −½ log(2πe v), I = v(β − 1/v)² + β²m² with v = s² + h²).
    #[test]
    fn gaussian_closed_forms() {
        let (m, s, h, beta) = (0.7, 0.5, 0.05, 2.0);
        let sample = normal_quantiles(m, s, 200_000);
        let kde = KernelDensity::new(&sample, -5.0, 5.0, 2001, h).unwrap();
        let v = s * s + h * h;
        let f = 0.5 * (m * m + v)
            - 0.5 * (2.0 * std::f64::consts::PI * std::f64::consts::E * v).ln() / beta;
        let i = v * (beta - 1.0 / v).powi(2) + beta * beta * m * m;
        let u = |x: f64| 0.5 * x * x;
        let du = |x: f64| x;
        assert!(
            (kde.free_energy(&u, beta) - f).abs() < 2e-3,
            "{}",
            kde.free_energy(&u, beta)
        );
        assert!(
            (kde.relative_fisher(&du, beta) - i).abs() < 1e-2 * i,
            "{}",
            kde.relative_fisher(&du, beta)
        );
        let mass: f64 = kde.density.iter().sum::<f64>() * kde.spacing;
        assert!((mass - 1.0).abs() < 1e-6);
        // At π itself (m = 0, v = 1/β) the relative Fisher information vanishes (up to the
        // binning error, against I ≈ 2.9 above).
        let at_pi = normal_quantiles(0.0, (1.0 / beta - h * h).sqrt(), 200_000);
        let kde = KernelDensity::new(&at_pi, -5.0, 5.0, 2001, h).unwrap();
        assert!(
            kde.relative_fisher(&du, beta) < 5e-3,
            "{}",
            kde.relative_fisher(&du, beta)
        );
        // … and F(π) is the Gibbs free energy −β⁻¹ log √(2π/β).
        let fpi = gibbs_free_energy(&u, beta, -8.0, 8.0, 4001).unwrap();
        let exact = -(2.0 * std::f64::consts::PI / beta).sqrt().ln() / beta;
        assert!((fpi - exact).abs() < 1e-10);
        assert!((kde.free_energy(&u, beta) - fpi).abs() < 1e-3);
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(KernelDensity::new(&[], 0.0, 1.0, 10, 0.1).is_err());
        assert!(KernelDensity::new(&[f64::NAN], 0.0, 1.0, 10, 0.1).is_err());
        assert!(KernelDensity::new(&[0.5], 1.0, 0.0, 10, 0.1).is_err());
        assert!(KernelDensity::new(&[0.5], 0.0, 1.0, 10, 0.0).is_err());
        assert!(gibbs_free_energy(&|x| x, 0.0, 0.0, 1.0, 10).is_err());
    }
}
