//! Mean-field Langevin dynamics of a one-dimensional particle law, solved on a grid: the
//! entropy-regularised objective, its proximal Gibbs measure, the unique minimiser μ* as the
//! self-consistent Gibbs measure, and the McKean–Vlasov (Fokker–Planck) flow whose particle
//! approximation is noisy particle gradient descent ([`super::ParticleStep`] with
//! β = 1/λ and l2 = λ').
//!
//! Setting: a mean-field net f_μ(x) = ∫ σ(w x) dμ(w) with one scalar parameter per particle
//! (output weight 1, frozen) and scalar inputs x_i, targets y_i, i = 1…n. The objective is
//! F(μ) = L(μ) + (λ'/2) ∫ w² dμ + λ ∫ μ log μ, with L(μ) = (1/2n) Σ_i (f_μ(x_i) − y_i)².
//! Its first variation without the entropy is
//! V_μ(w) = (1/n) Σ_i (f_μ(x_i) − y_i) σ(w x_i) + λ' w²/2, the proximal Gibbs measure is
//! p_μ ∝ exp(−V_μ/λ), and the minimiser is the unique fixed point μ* = p_{μ*} (Nitanda, Wu,
//! Suzuki 2022; Chizat 2022). The flow is ∂_t μ = ∂_w(μ ∂_w V_μ) + λ ∂²_w μ.
//!
//! The density is piecewise constant on `cells` cells of [lo, hi] (values ρ_k, Σ_k ρ_k h = 1).

use crate::error::{check_positive, Error, Result};
use crate::linalg::Matrix;
use crate::nn::Activation;

/// A one-dimensional mean-field Langevin problem on a grid (see the module docs).
#[derive(Clone, Debug)]
pub struct MeanFieldGrid {
    /// The left end of the grid.
    pub lo: f64,
    /// The cell width h.
    pub h: f64,
    /// λ, the temperature (weight of the entropy).
    pub temperature: f64,
    /// λ', the weight of the L2 term (λ'/2) ∫ w² dμ.
    pub l2: f64,
    /// σ(w_k x_i) at the cell centres: n × cells.
    features: Matrix,
    targets: Vec<f64>,
}

impl MeanFieldGrid {
    /// The problem of the net ∫ σ(w x) dμ(w) on data (x_i, y_i), with the density on `cells`
    /// cells of [lo, hi]. Errors name the offending argument.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        activation: Activation,
        x: &[f64],
        y: &[f64],
        (lo, hi): (f64, f64),
        cells: usize,
        temperature: f64,
        l2: f64,
    ) -> Result<MeanFieldGrid> {
        if x.is_empty() || x.len() != y.len() {
            return Err(Error::shape(
                "mean-field grid data",
                format!("{} inputs and {} targets", x.len(), y.len()),
            ));
        }
        if !(lo.is_finite() && hi.is_finite() && lo < hi) || cells < 2 {
            return Err(Error::invalid(
                "mean-field grid",
                format!("expected lo < hi and ≥ 2 cells, got [{lo}, {hi}] with {cells}"),
            ));
        }
        check_positive("mean-field grid temperature", temperature)?;
        crate::error::check_non_negative("mean-field grid l2", l2)?;
        let h = (hi - lo) / cells as f64;
        let features = Matrix::from_fn(x.len(), cells, |i, k| {
            activation.value((lo + (k as f64 + 0.5) * h) * x[i])
        });
        Ok(MeanFieldGrid {
            lo,
            h,
            temperature,
            l2,
            features,
            targets: y.to_vec(),
        })
    }

    /// The number of cells.
    pub fn cells(&self) -> usize {
        self.features.cols
    }

    /// The cell centres w_k = lo + (k + ½) h.
    pub fn centres(&self) -> Vec<f64> {
        (0..self.cells())
            .map(|k| self.lo + (k as f64 + 0.5) * self.h)
            .collect()
    }

    /// The density of N(mean, std²) on the grid (cell-centre values, renormalised to mass 1).
    pub fn gaussian(&self, mean: f64, std: f64) -> Vec<f64> {
        let rho: Vec<f64> = self
            .centres()
            .iter()
            .map(|w| (-(w - mean).powi(2) / (2.0 * std * std)).exp())
            .collect();
        self.normalised(rho)
    }

    fn normalised(&self, mut rho: Vec<f64>) -> Vec<f64> {
        let mass: f64 = rho.iter().sum::<f64>() * self.h;
        rho.iter_mut().for_each(|r| *r /= mass);
        rho
    }

    /// The net's outputs f_ρ(x_i) = Σ_k σ(w_k x_i) ρ_k h.
    pub fn predictions(&self, rho: &[f64]) -> Vec<f64> {
        (0..self.features.rows)
            .map(|i| {
                self.features
                    .row(i)
                    .iter()
                    .zip(rho)
                    .map(|(s, r)| s * r)
                    .sum::<f64>()
                    * self.h
            })
            .collect()
    }

    /// The first variation without the entropy,
    /// V_ρ(w_k) = (1/n) Σ_i (f_ρ(x_i) − y_i) σ(w_k x_i) + λ' w_k²/2.
    pub fn potential(&self, rho: &[f64]) -> Vec<f64> {
        let n = self.targets.len() as f64;
        let residual: Vec<f64> = self
            .predictions(rho)
            .iter()
            .zip(&self.targets)
            .map(|(f, y)| (f - y) / n)
            .collect();
        let mut v: Vec<f64> = self
            .centres()
            .iter()
            .map(|w| 0.5 * self.l2 * w * w)
            .collect();
        for (i, r) in residual.iter().enumerate() {
            for (vk, s) in v.iter_mut().zip(self.features.row(i)) {
                *vk += r * s;
            }
        }
        v
    }

    /// The proximal Gibbs density p_ρ ∝ exp(−V_ρ/λ).
    pub fn proximal_gibbs(&self, rho: &[f64]) -> Vec<f64> {
        let v = self.potential(rho);
        let min = v.iter().copied().fold(f64::INFINITY, f64::min);
        self.normalised(
            v.iter()
                .map(|x| (-(x - min) / self.temperature).exp())
                .collect(),
        )
    }

    /// F(ρ) = (1/2n) Σ_i (f_ρ(x_i) − y_i)² + (λ'/2) Σ_k w_k² ρ_k h + λ Σ_k ρ_k log ρ_k h.
    pub fn objective(&self, rho: &[f64]) -> f64 {
        let n = self.targets.len() as f64;
        let loss: f64 = self
            .predictions(rho)
            .iter()
            .zip(&self.targets)
            .map(|(f, y)| (f - y).powi(2))
            .sum::<f64>()
            / (2.0 * n);
        let (mut second, mut entropy) = (0.0, 0.0);
        for (w, r) in self.centres().iter().zip(rho) {
            second += w * w * r;
            if *r > 0.0 {
                entropy += r * r.ln();
            }
        }
        loss + self.h * (0.5 * self.l2 * second + self.temperature * entropy)
    }

    /// The minimiser μ*: the fixed point of ρ ↦ p_ρ by the damped iteration
    /// ρ ← (1 − s) ρ + s p_ρ (s = 0.1, from the prior's Gibbs law), until
    /// Σ_k |p_ρ − ρ|_k h < `tolerance`; an error if `max_iterations` do not reach it.
    pub fn minimiser(&self, tolerance: f64, max_iterations: usize) -> Result<Vec<f64>> {
        let mut rho = self.normalised(
            self.centres()
                .iter()
                .map(|w| (-0.5 * self.l2 * w * w / self.temperature).exp())
                .collect(),
        );
        for _ in 0..max_iterations {
            let p = self.proximal_gibbs(&rho);
            let residual: f64 = p.iter().zip(&rho).map(|(a, b)| (a - b).abs()).sum::<f64>();
            if residual * self.h < tolerance {
                return Ok(p);
            }
            rho.iter_mut()
                .zip(&p)
                .for_each(|(r, q)| *r = 0.9 * *r + 0.1 * q);
        }
        Err(Error::Numerical {
            routine: "MeanFieldGrid::minimiser".into(),
            message: format!(
                "the fixed point ρ = p_ρ was not reached to {tolerance:e} in {max_iterations} \
                 iterations"
            ),
        })
    }

    /// The largest stable time step of [`MeanFieldGrid::step`] with some margin:
    /// h²/(4λ(1 + max|ΔV|/λ)) for the potential of `rho`.
    pub fn stable_step(&self, rho: &[f64]) -> f64 {
        let v = self.potential(rho);
        let dv = v
            .windows(2)
            .map(|p| (p[1] - p[0]).abs())
            .fold(0.0, f64::max);
        self.h * self.h / (4.0 * (self.temperature + dv))
    }

    /// One explicit Euler step of length dt of the McKean–Vlasov flow in the
    /// Scharfetter–Gummel flux form (positive, mass-conserving, exactly stationary at the
    /// discrete Gibbs law of a frozen potential): with z = (V_{k+1} − V_k)/λ and
    /// B(z) = z/(e^z − 1), the flux between cells k and k + 1 is
    /// J = (λ/h)(B(z) ρ_k − B(−z) ρ_{k+1}), zero at the boundary, and ρ_k ← ρ_k − dt (J_{k+½} − J_{k−½})/h.
    pub fn step(&self, rho: &mut [f64], dt: f64) {
        let v = self.potential(rho);
        let flux: Vec<f64> = (0..rho.len() - 1)
            .map(|k| {
                let z = (v[k + 1] - v[k]) / self.temperature;
                self.temperature / self.h * (bernoulli(z) * rho[k] - bernoulli(-z) * rho[k + 1])
            })
            .collect();
        let c = dt / self.h;
        for (k, j) in flux.iter().enumerate() {
            rho[k] -= c * j;
            rho[k + 1] += c * j;
        }
    }

    /// The slowest exponential rates of the flow near its minimiser μ* (a fixed point
    /// μ* = p_{μ*}, e.g. from [`MeanFieldGrid::minimiser`]): (γ_lin, λ α_P).
    ///
    /// Linearising [`MeanFieldGrid::step`] at μ* (where every flux vanishes) gives
    /// dδρ/dt = −G S δρ with G = Dᵀ diag(a/h²) D the weighted graph Laplacian of the cells
    /// (D the edge differences, a_{k+½} = B(z_k) μ*_k the Scharfetter–Gummel mobility) and
    /// S = λ diag(1/μ*) + K the Hessian of F at μ*, K_{kl} = (h/n) Σ_i σ(w_k x_i) σ(w_l x_i)
    /// the loss's (positive semi-definite) part. G S has the eigenvalues of the symmetric
    /// W^{1/2} D S Dᵀ W^{1/2}, W = diag(a/h²), plus the mass mode 0; the smallest, γ_lin, is the
    /// rate at which δρ (and W1) decays near μ*, and F − F(μ*) ≈ ½ δρᵀSδρ h decays at 2γ_lin.
    /// Without K, the same matrix is the generator of the linear Fokker–Planck flow of the
    /// frozen potential V_{μ*}: its smallest eigenvalue is λ α_P, α_P the Poincaré constant of
    /// μ* (Var_{μ*} f ≤ α_P⁻¹ E_{μ*} f′²), the spectral gap of the Sturm–Liouville operator
    /// λ f″ − V′ f′. Since K ⪰ 0, γ_lin ≥ λ α_P (Rayleigh quotients), and λ α_P ≥ λ α_LSI, the
    /// rate e^{−2αλt} of Nitanda, Wu, Suzuki (2022) halved for δρ.
    pub fn linearised_rates(&self, minimiser: &[f64]) -> Result<(f64, f64)> {
        let cells = self.cells();
        if minimiser.len() != cells || minimiser.iter().any(|r| r.is_nan() || *r <= 0.0) {
            return Err(Error::invalid(
                "mean-field grid minimiser",
                format!("expected {cells} positive cell densities"),
            ));
        }
        let v = self.potential(minimiser);
        // W^{1/2} on the cells − 1 edges.
        let root_w: Vec<f64> = (0..cells - 1)
            .map(|k| {
                let z = (v[k + 1] - v[k]) / self.temperature;
                (bernoulli(z) * minimiser[k]).sqrt() / self.h
            })
            .collect();
        let n = self.targets.len() as f64;
        // D S Dᵀ for S = λ diag(1/μ*) (+ K): (D S Dᵀ)_{ef} = S_{e+1,f+1} − S_{e+1,f} − S_{e,f+1} + S_{e,f}.
        let rates = |with_loss: bool| -> Result<f64> {
            let f = &self.features;
            let s = Matrix::from_fn(cells, cells, |k, l| {
                let diagonal = if k == l {
                    self.temperature / minimiser[k]
                } else {
                    0.0
                };
                let loss = if with_loss {
                    self.h / n * (0..f.rows).map(|i| f.get(i, k) * f.get(i, l)).sum::<f64>()
                } else {
                    0.0
                };
                diagonal + loss
            });
            let a = Matrix::from_fn(cells - 1, cells - 1, |e, g| {
                root_w[e]
                    * root_w[g]
                    * (s.get(e + 1, g + 1) - s.get(e + 1, g) - s.get(e, g + 1) + s.get(e, g))
            });
            let values = crate::linalg::symmetric_eigenvalues(&a)?;
            values.first().copied().ok_or_else(|| Error::Numerical {
                routine: "MeanFieldGrid::linearised_rates".into(),
                message: "no eigenvalue".into(),
            })
        };
        Ok((rates(true)?, rates(false)?))
    }

    /// The cumulative distribution at the cell edges: C_0 = 0, C_{k+1} = C_k + ρ_k h.
    pub fn cdf(&self, rho: &[f64]) -> Vec<f64> {
        let mut c = Vec::with_capacity(rho.len() + 1);
        c.push(0.0);
        let mut acc = 0.0;
        for r in rho {
            acc += r * self.h;
            c.push(acc);
        }
        c
    }

    /// W1 between two grid densities: Σ_k |C_ρ − C_ν| over the cells by the trapezoidal rule
    /// on the edges (exact for piecewise-linear CDFs that do not cross inside a cell).
    pub fn w1(&self, rho: &[f64], nu: &[f64]) -> f64 {
        let (a, b) = (self.cdf(rho), self.cdf(nu));
        let d: Vec<f64> = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).collect();
        d.windows(2).map(|p| 0.5 * (p[0] + p[1])).sum::<f64>() * self.h
    }

    /// W1 = ∫ |F_M(w) − F_ρ(w)| dw between the empirical law of `particles` (any order) and the
    /// grid density ρ (CDF piecewise linear on the cells, 0 left and 1 right of the grid),
    /// integrated exactly piece by piece.
    pub fn w1_to_particles(&self, rho: &[f64], particles: &[f64]) -> f64 {
        let mut w: Vec<f64> = particles.to_vec();
        w.sort_by(f64::total_cmp);
        let m = w.len() as f64;
        let cdf = self.cdf(rho);
        let hi = self.lo + self.h * self.cells() as f64;
        // ∫_a^b |c + s (t − a)| dt for a linear function of slope s.
        let abs_linear = |a: f64, b: f64, at_a: f64, slope: f64| {
            let at_b = at_a + slope * (b - a);
            if at_a * at_b >= 0.0 {
                0.5 * (at_a.abs() + at_b.abs()) * (b - a)
            } else {
                0.5 * (at_a * at_a + at_b * at_b) / slope.abs()
            }
        };
        // Breakpoints: the particles and the cell edges; on each piece F_M is constant and
        // F_ρ linear.
        let mut total = 0.0;
        let (first, last) = (w[0].min(self.lo), w[w.len() - 1].max(hi));
        let mut points: Vec<f64> = w.clone();
        points.extend((0..=self.cells()).map(|k| self.lo + k as f64 * self.h));
        points.push(first);
        points.push(last);
        points.sort_by(f64::total_cmp);
        let mut below = 0usize;
        for pair in points.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            while below < w.len() && w[below] <= a {
                below += 1;
            }
            if b <= a {
                continue;
            }
            let fm = below as f64 / m;
            let (at_a, slope) = if a < self.lo {
                (0.0, 0.0)
            } else if a >= hi {
                (1.0, 0.0)
            } else {
                let k = (((a - self.lo) / self.h) as usize).min(self.cells() - 1);
                let at = cdf[k] + rho[k] * (a - (self.lo + k as f64 * self.h));
                (at, rho[k])
            };
            total += abs_linear(a, b, at_a - fm, slope);
        }
        total
    }
}

/// The Bernoulli function B(z) = z/(e^z − 1) of the Scharfetter–Gummel flux (1 − z/2 near 0).
fn bernoulli(z: f64) -> f64 {
    if z.abs() < 1e-10 {
        1.0 - z / 2.0
    } else {
        z / z.exp_m1()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn linear_problem(cells: usize) -> (MeanFieldGrid, f64, f64) {
        let x: Vec<f64> = (0..8).map(|i| -1.0 + i as f64 / 3.5).collect();
        let y: Vec<f64> = x.iter().map(|x| 0.7 * x + 0.1 * x * x).collect();
        let n = x.len() as f64;
        let sxx = x.iter().map(|x| x * x).sum::<f64>() / n;
        let sxy = x.iter().zip(&y).map(|(x, y)| x * y).sum::<f64>() / n;
        let grid = MeanFieldGrid::new(Activation::Identity, &x, &y, (-4.0, 4.0), cells, 0.05, 0.2)
            .unwrap();
        (grid, sxy / (sxx + 0.2), 0.05 / 0.2)
    }

    /// For σ(u) = u, f_μ(x) = m x with m the mean of μ and the fixed point is Gaussian:
    /// μ* = N(s_xy/(s_xx + λ'), λ/λ').
    #[test]
    fn linear_features_give_the_gaussian_minimiser() {
        let (grid, mean, var) = linear_problem(1600);
        let mu = grid.minimiser(1e-12, 100_000).unwrap();
        let w = grid.centres();
        let m1: f64 = w.iter().zip(&mu).map(|(w, r)| w * r).sum::<f64>() * grid.h;
        let m2: f64 = w
            .iter()
            .zip(&mu)
            .map(|(w, r)| (w - m1).powi(2) * r)
            .sum::<f64>()
            * grid.h;
        assert!((m1 - mean).abs() < 1e-6, "{m1} vs {mean}");
        assert!((m2 - var).abs() < 1e-4 * var, "{m2} vs {var}");
    }

    /// The flow conserves mass, decreases F, and reaches the fixed point.
    #[test]
    fn the_flow_decreases_the_objective_to_the_minimiser() {
        let (grid, _, _) = linear_problem(400);
        let mu = grid.minimiser(1e-12, 100_000).unwrap();
        let mut rho = grid.gaussian(-2.0, 0.3);
        let dt = grid.stable_step(&rho);
        let mut last = grid.objective(&rho);
        for k in 0..30_000 {
            grid.step(&mut rho, dt);
            if k % 100 == 0 {
                let f = grid.objective(&rho);
                assert!(f <= last + 1e-12, "F rose from {last} to {f}");
                last = f;
            }
        }
        let mass: f64 = rho.iter().sum::<f64>() * grid.h;
        assert!((mass - 1.0).abs() < 1e-12);
        assert!(grid.w1(&rho, &mu) < 1e-4, "{}", grid.w1(&rho, &mu));
        assert!(grid.objective(&rho) >= grid.objective(&mu) - 1e-9);
    }

    /// For σ(u) = u the flow is an Ornstein–Uhlenbeck flow with a mean-field drift on the mean:
    /// perturbations along the Hermite polynomials of μ* decay at s_xx + λ' (the mean, sped up
    /// by the loss) and jλ', j ≥ 2 (the loss does not see them), so γ_lin = min(s_xx + λ', 2λ'),
    /// while the frozen potential's generator (K = 0) has the OU gap λ α_P = λ'.
    #[test]
    fn linearised_rates_match_the_ornstein_uhlenbeck_spectrum() {
        for l2 in [0.2, 0.5] {
            let x: Vec<f64> = (0..8).map(|i| -1.0 + i as f64 / 3.5).collect();
            let y: Vec<f64> = x.iter().map(|x| 0.7 * x).collect();
            let sxx = x.iter().map(|x| x * x).sum::<f64>() / x.len() as f64;
            let grid = MeanFieldGrid::new(Activation::Identity, &x, &y, (-3.0, 3.0), 600, 0.05, l2)
                .unwrap();
            let mu = grid.minimiser(1e-12, 100_000).unwrap();
            let (linear, poincare) = grid.linearised_rates(&mu).unwrap();
            let expected = (sxx + l2).min(2.0 * l2);
            assert!(
                (linear - expected).abs() < 2e-3 * expected,
                "{linear} vs {expected}"
            );
            assert!((poincare - l2).abs() < 2e-3 * l2, "{poincare} vs {l2}");
        }
    }

    /// W1 of a point mass at c against the uniform law on [0, 1]: ∫|t − c| dt = c² − c + ½ for
    /// c ∈ [0, 1], and |c − ½| outside.
    #[test]
    fn w1_to_particles_matches_the_uniform_closed_form() {
        let grid = MeanFieldGrid::new(
            Activation::Identity,
            &[1.0],
            &[0.0],
            (0.0, 1.0),
            10,
            1.0,
            0.0,
        )
        .unwrap();
        let rho = vec![1.0; 10];
        for c in [0.0, 0.123, 0.5, 0.77, 1.0, 1.5, -2.0] {
            let exact = if (0.0..=1.0).contains(&c) {
                c * c - c + 0.5
            } else {
                (c - 0.5f64).abs()
            };
            let got = grid.w1_to_particles(&rho, &[c, c, c]);
            assert!((got - exact).abs() < 1e-12, "c = {c}: {got} vs {exact}");
        }
        // Evenly spread particles: W1 = 1/(4M) for M points at the cell midpoints of [0, 1].
        let m = 50;
        let points: Vec<f64> = (0..m).map(|j| (j as f64 + 0.5) / m as f64).collect();
        let got = grid.w1_to_particles(&rho, &points);
        assert!((got - 0.25 / m as f64).abs() < 1e-12, "{got}");
    }
}
