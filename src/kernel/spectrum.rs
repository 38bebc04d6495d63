//! Gram spectra: eigenvalues (descending) and eigenvectors, λ_min, condition number, the
//! polynomial decay exponent of μ_j ≈ C j^{−β}, and projections of residuals on eigenvectors
//! (the spectral-bias view: under kernel gradient flow the component along eigenvector k
//! decays as e^{−η μ_k t / N}).

use crate::error::{Error, Result};
use crate::linalg::{symmetric_eigen, Matrix};

/// The eigendecomposition of a kernel matrix, largest eigenvalue first.
#[derive(Clone, Debug, PartialEq)]
pub struct Spectrum {
    /// μ_1 ≥ μ_2 ≥ … ≥ μ_n.
    pub values: Vec<f64>,
    /// Eigenvector k is column k (n × n).
    pub vectors: Matrix,
}

/// A least-squares fit of log μ_j = log C − β log j.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PowerLaw {
    /// β.
    pub exponent: f64,
    /// C.
    pub constant: f64,
    /// Standard error of β from the regression residuals.
    pub exponent_std_error: f64,
}

impl Spectrum {
    /// The spectrum of a symmetric matrix.
    pub fn of(k: &Matrix) -> Result<Spectrum> {
        let (values, vectors) = symmetric_eigen(k)?;
        let n = values.len();
        let order: Vec<usize> = (0..n).rev().collect();
        Ok(Spectrum {
            values: order.iter().map(|&i| values[i]).collect(),
            vectors: Matrix::from_fn(n, n, |r, c| vectors.get(r, order[c])),
        })
    }

    /// λ_min.
    pub fn lambda_min(&self) -> f64 {
        self.values.last().copied().unwrap_or(f64::NAN)
    }

    /// λ_max.
    pub fn lambda_max(&self) -> f64 {
        self.values.first().copied().unwrap_or(f64::NAN)
    }

    /// λ_max / λ_min.
    pub fn condition_number(&self) -> f64 {
        self.lambda_max() / self.lambda_min()
    }

    /// Fits μ_j ≈ C j^{−β} over the 1-based indices `first..=last`.
    pub fn power_law(&self, first: usize, last: usize) -> Result<PowerLaw> {
        fit_power_law(&self.values, first, last)
    }

    /// ‖θ_T − θ₀‖ of the model linearised at θ₀ (tangent kernel K = JJᵀ, this spectrum) after T
    /// steps of gradient descent on (1/2n)‖f − y‖² from f₀ = 0 with step η, `a` = η/n:
    /// θ_T − θ₀ = Jᵀ K⁻¹ (I − (I − aK)^T) y, so
    /// ‖θ_T − θ₀‖² = Σ_k (1 − (1 − aλ_k)^T)² ⟨v_k, y⟩²/λ_k, → yᵀK⁻¹y as T → ∞ (Arora et al.
    /// 2019, Lemma 5.3). Directions with λ_k ≤ 0 carry no movement and are skipped.
    pub fn linearised_distance(&self, y: &[f64], a: f64, steps: u64) -> Result<f64> {
        let proj = self.project(y)?;
        Ok(self
            .values
            .iter()
            .zip(&proj)
            .filter(|(l, _)| **l > 0.0)
            .map(|(l, p)| (1.0 - (1.0 - a * l).powf(steps as f64)).powi(2) * p * p / l)
            .sum::<f64>()
            .sqrt())
    }

    /// ⟨v_k, r⟩ for every eigenvector k (r of length n).
    pub fn project(&self, r: &[f64]) -> Result<Vec<f64>> {
        let n = self.values.len();
        if r.len() != n {
            return Err(Error::shape(
                "Spectrum::project",
                format!("a vector of length {} for {n} eigenvectors", r.len()),
            ));
        }
        Ok((0..n)
            .map(|k| (0..n).map(|i| self.vectors.get(i, k) * r[i]).sum())
            .collect())
    }
}

/// Frequency analysis on the equispaced circle grid θ_i = 2πi/n: the amplitude of frequency k
/// of a function sampled there, a_0 = |mean| and a_k = (2/n)|Σ_i r_i e^{−ikθ_i}| for
/// 1 ≤ k < n/2 (so r = c cos(kθ + φ) has a_k = c), for k = 0 ..= `max_frequency` (a direct DFT).
pub fn circle_frequencies(values: &[f64], max_frequency: usize) -> Result<Vec<f64>> {
    let n = values.len();
    if n == 0 {
        return Err(Error::invalid(
            "circle_frequencies",
            "no values on the grid",
        ));
    }
    Ok((0..=max_frequency)
        .map(|k| {
            let (mut re, mut im) = (0.0, 0.0);
            for (i, v) in values.iter().enumerate() {
                // k·i mod n keeps the angle exact for large k·i.
                let angle = std::f64::consts::TAU * ((k * i) % n) as f64 / n as f64;
                re += v * angle.cos();
                im -= v * angle.sin();
            }
            let scale = if k == 0 || 2 * k == n { 1.0 } else { 2.0 };
            scale * (re * re + im * im).sqrt() / n as f64
        })
        .collect())
}

/// The eigenvalue of a rotation-invariant (circulant) kernel matrix on the equispaced circle
/// grid for frequency k: μ_k = Σ_j K_{0j} cos(2πjk/n), with eigenvectors cos(kθ), sin(kθ)
/// (SPEC §3: on the circle the Gram eigenvectors are the Fourier modes).
pub fn circulant_eigenvalue(first_row: &[f64], k: usize) -> f64 {
    let n = first_row.len();
    first_row
        .iter()
        .enumerate()
        .map(|(j, v)| v * (std::f64::consts::TAU * ((j * k) % n) as f64 / n as f64).cos())
        .sum()
}

/// N(k, d): the dimension of the degree-k spherical harmonics on S^{d−1},
/// (2k + d − 2)/(k + d − 2) · C(k + d − 2, k) (1 for k = 0; 2 on the circle; 2k + 1 on S²),
/// for d ≥ 2.
pub fn harmonic_dimension(k: usize, d: usize) -> Result<f64> {
    check_sphere("harmonic_dimension", d)?;
    if k == 0 {
        return Ok(1.0);
    }
    if d == 2 {
        return Ok(2.0);
    }
    let mut binom = 1.0;
    for i in 1..=k {
        binom *= (k + d - 2 - k + i) as f64 / i as f64;
    }
    Ok((2 * k + d - 2) as f64 / (k + d - 2) as f64 * binom)
}

/// Err unless d ≥ 2 (a sphere S^{d−1} with a circle or more).
fn check_sphere(routine: &str, d: usize) -> Result<()> {
    if d < 2 {
        return Err(Error::invalid(
            routine,
            format!("expected a dimension d ≥ 2 (the sphere S^(d−1)), got {d}"),
        ));
    }
    Ok(())
}

/// The eigenvalue of a zonal kernel κ(⟨x, y⟩) on S^{d−1} (integral operator against the uniform
/// probability measure) for the degree-k harmonics, by the Funk–Hecke formula
/// μ_k = Γ(d/2)/(√π Γ((d−1)/2)) ∫₀^π κ(cos φ) P_{k,d}(cos φ) sin^{d−2} φ dφ with P_{k,d}(1) = 1,
/// computed by the composite Gauss–Legendre rule (`panels` panels of 8 nodes) in φ. On the
/// circle (d = 2) it is the Fourier coefficient (1/π)∫₀^π κ(cos φ) cos kφ dφ; an n-point Gram
/// matrix has eigenvalues ≈ n μ_k (SPEC §3: the spectrum behind the spectral bias). Needs d ≥ 2
/// and at least one panel.
pub fn zonal_eigenvalue(
    kappa: &dyn Fn(f64) -> f64,
    d: usize,
    k: usize,
    panels: usize,
) -> Result<f64> {
    check_sphere("zonal_eigenvalue", d)?;
    if panels == 0 {
        return Err(Error::invalid("zonal_eigenvalue", "expected ≥ 1 panel"));
    }
    // 8-point Gauss–Legendre nodes and weights on [−1, 1].
    const NODES: [f64; 4] = [
        0.183_434_642_495_649_8,
        0.525_532_409_916_329,
        0.796_666_477_413_626_7,
        0.960_289_856_497_536_3,
    ];
    const WEIGHTS: [f64; 4] = [
        0.362_683_783_378_362,
        0.313_706_645_877_887_3,
        0.222_381_034_453_374_5,
        0.101_228_536_290_376_3,
    ];
    let ratio = libm::exp(libm::lgamma(d as f64 / 2.0) - libm::lgamma((d as f64 - 1.0) / 2.0))
        / std::f64::consts::PI.sqrt();
    let h = std::f64::consts::PI / panels as f64;
    let integrand = |phi: f64| {
        let t = phi.cos();
        kappa(t)
            * crate::data::synthetic::legendre_polynomial(k, d, t)
            * phi.sin().powi(d as i32 - 2)
    };
    let mut total = 0.0;
    for p in 0..panels {
        let mid = (p as f64 + 0.5) * h;
        for (x, w) in NODES.iter().zip(&WEIGHTS) {
            total += w * (integrand(mid + 0.5 * h * x) + integrand(mid - 0.5 * h * x));
        }
    }
    Ok(ratio * total * 0.5 * h)
}

/// Frequency analysis on the sphere: the energy of each spherical-harmonic degree of a function
/// sampled at n points uniform on S^{d−1}, E_k = (1/n²) Σ_ij f_i f_j N(k, d) P_{k,d}(⟨x_i, x_j⟩)
/// for k = 0 ..= `max_degree` — the addition theorem makes N(k, d) P_{k,d}(⟨x, y⟩) the kernel of
/// the projection onto degree k, so E_k estimates ‖P_k f‖² in L²(σ) (Σ_k E_k ≈ mean f²).
pub fn sphere_degree_energies(x: &Matrix, f: &[f64], max_degree: usize) -> Result<Vec<f64>> {
    let (n, d) = (x.rows, x.cols);
    if f.len() != n || d < 2 {
        return Err(Error::shape(
            "sphere_degree_energies",
            format!("{n} points in dimension {d}, {} values", f.len()),
        ));
    }
    let mut gram = Matrix::zeros(n, n);
    crate::linalg::gram(&mut gram, x.view(), 1.0);
    (0..=max_degree)
        .map(|k| {
            let dim = harmonic_dimension(k, d)?;
            let mut e = 0.0;
            for i in 0..n {
                for j in 0..n {
                    let t = gram.get(i, j).clamp(-1.0, 1.0);
                    e += f[i] * f[j] * crate::data::synthetic::legendre_polynomial(k, d, t);
                }
            }
            Ok(dim * e / (n * n) as f64)
        })
        .collect()
}

/// Least-squares fit of log μ_j = log C − β log j over 1-based j in `first..=last` (all μ_j > 0).
pub fn fit_power_law(values: &[f64], first: usize, last: usize) -> Result<PowerLaw> {
    if first < 1 || last > values.len() || last < first + 2 {
        return Err(Error::invalid(
            "index range",
            format!(
                "need 1 ≤ first, first + 2 ≤ last ≤ {}, got {first}..={last}",
                values.len()
            ),
        ));
    }
    let x: Vec<f64> = (first..=last).map(|j| j as f64).collect();
    fit_log_log(&x, &values[first - 1..last])
}

/// Least-squares fit of y ≈ C x^{−β} on a log-log scale (x, y > 0, at least 3 points): the
/// exponent β (so the log-log slope is −β), C, and the standard error of β from the residuals.
pub fn fit_log_log(x: &[f64], y: &[f64]) -> Result<PowerLaw> {
    let fit = crate::stats::fit_log_log(x, y)?;
    Ok(PowerLaw {
        exponent: -fit.slope,
        constant: fit.intercept.exp(),
        exponent_std_error: fit.slope_std_error,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn funk_hecke_eigenvalues_and_sphere_degree_energies() -> Result<()> {
        assert_eq!(harmonic_dimension(3, 3)?, 7.0);
        assert_eq!(harmonic_dimension(2, 4)?, 9.0);
        assert_eq!(harmonic_dimension(5, 2)?, 2.0);
        // κ(t) = t on S^{d−1}: E[⟨x, y⟩ y] = x/d, so μ_1 = 1/d and every other μ_k = 0.
        for d in [2usize, 3, 5] {
            let mu1 = zonal_eigenvalue(&|t| t, d, 1, 64)?;
            assert!((mu1 - 1.0 / d as f64).abs() < 1e-12, "d = {d}: {mu1}");
            for k in [0usize, 2, 3] {
                assert!(zonal_eigenvalue(&|t| t, d, k, 64)?.abs() < 1e-12);
            }
        }
        // On the circle the Gram matrix of n equispaced points has eigenvalues n μ_k.
        let n = 256;
        let theta: Vec<f64> = (0..n)
            .map(|i| std::f64::consts::TAU * i as f64 / n as f64)
            .collect();
        let row: Vec<f64> = theta.iter().map(|t| t.cos().exp()).collect();
        for k in 0..6 {
            let mu = zonal_eigenvalue(&|t: f64| t.exp(), 2, k, 64)?;
            assert!(
                (circulant_eigenvalue(&row, k) / n as f64 - mu).abs() < 1e-12,
                "k = {k}"
            );
        }
        // A degree-2 zonal harmonic on S²: its energy is in degree 2, and the energies sum to
        // the mean square.
        let mut rng = crate::rng::Seed(8).stream("sphere", 0);
        let x = crate::data::synthetic::sphere(1500, 3, &mut rng);
        let f: Vec<f64> = (0..1500)
            .map(|i| crate::data::synthetic::legendre_polynomial(2, 3, x.row(i)[2]))
            .collect();
        let e = sphere_degree_energies(&x, &f, 4).unwrap();
        let mean_sq = f.iter().map(|v| v * v).sum::<f64>() / 1500.0;
        // ‖P₂‖² = 1/N(2, 3) = 0.2 for the normalised Legendre polynomial.
        assert!((e[2] - 0.2).abs() < 0.02, "{e:?}");
        assert!(
            e[0].abs() < 0.01 && e[1].abs() < 0.01 && e[3].abs() < 0.01,
            "{e:?}"
        );
        assert!(e.iter().sum::<f64>() < mean_sq + 0.02, "{e:?} vs {mean_sq}");
        Ok(())
    }

    #[test]
    fn circle_frequencies_and_circulant_eigenvalues() {
        let n = 64;
        let theta: Vec<f64> = (0..n)
            .map(|i| std::f64::consts::TAU * i as f64 / n as f64)
            .collect();
        let r: Vec<f64> = theta
            .iter()
            .map(|t| 0.5 + 2.0 * (3.0 * t + 0.4).cos() - 0.7 * (10.0 * t).sin())
            .collect();
        let a = circle_frequencies(&r, 12).unwrap();
        for (k, want) in a.iter().enumerate() {
            let expect = match k {
                0 => 0.5,
                3 => 2.0,
                10 => 0.7,
                _ => 0.0,
            };
            assert!((want - expect).abs() < 1e-12, "k = {k}: {want}");
        }
        // A circulant kernel k(θ − θ') = exp(cos(θ − θ')): its Fourier eigenvalues are
        // eigenvalues of the Gram matrix (each k ≥ 1 twice).
        let gram = Matrix::from_fn(n, n, |i, j| (theta[i] - theta[j]).cos().exp());
        let spectrum = Spectrum::of(&gram).unwrap();
        for k in 0..5 {
            let mu = circulant_eigenvalue(gram.row(0), k);
            assert!(
                spectrum
                    .values
                    .iter()
                    .any(|v| (v - mu).abs() < 1e-10 * mu.abs().max(1.0)),
                "k = {k}: {mu}"
            );
        }
    }
    use crate::kernel::dynamics::{gradient_descent_mse, FlowSettings};
    use crate::kernel::Network;
    use crate::nn::Activation;

    #[test]
    fn power_law_recovers_the_exponent() {
        let values: Vec<f64> = (1..=50).map(|j| 3.0 * (j as f64).powf(-2.5)).collect();
        let fit = fit_power_law(&values, 2, 40).unwrap();
        assert!((fit.exponent - 2.5).abs() < 1e-12);
        assert!((fit.constant - 3.0).abs() < 1e-10);
        assert!(fit.exponent_std_error < 1e-10);
        assert!(fit_power_law(&values, 0, 10).is_err());
        assert!(fit_power_law(&[1.0, -1.0, 0.5, 0.2], 1, 4).is_err());
    }

    #[test]
    fn residual_components_decay_at_their_own_rates() {
        // Spectral bias: along eigenvector k the training residual of kernel gradient flow is
        // e^{−η μ_k t/N} times its initial value.
        let x = Matrix::from_fn(12, 2, |i, j| {
            let t = i as f64 * std::f64::consts::FRAC_PI_6;
            if j == 0 {
                t.cos()
            } else {
                t.sin()
            }
        });
        let net = Network {
            b_std: Some(0.5),
            ..Network::new(1, Activation::Relu)
        };
        let theta = net.kernels(&x, None).unwrap().ntk;
        let spec = Spectrum::of(&theta).unwrap();
        assert!(spec.values.windows(2).all(|w| w[0] >= w[1]));
        assert!(spec.lambda_min() > 0.0 && spec.condition_number() > 1.0);
        let y = Matrix::column(
            (0..12)
                .map(|i| (3.0 * i as f64 * std::f64::consts::FRAC_PI_6).cos())
                .collect(),
        );
        let t = 5.0;
        let pred = gradient_descent_mse(
            &theta,
            &theta,
            &y,
            None,
            None,
            &[t],
            &FlowSettings::default(),
        )
        .unwrap();
        let r0: Vec<f64> = y.data.iter().map(|v| -v).collect();
        let rt: Vec<f64> = pred.train[0]
            .data
            .iter()
            .zip(&y.data)
            .map(|(f, y)| f - y)
            .collect();
        let (c0, ct) = (spec.project(&r0).unwrap(), spec.project(&rt).unwrap());
        for k in 0..12 {
            if c0[k].abs() > 1e-8 {
                let want = c0[k] * (-spec.values[k] * t / 12.0).exp();
                assert!((ct[k] - want).abs() < 1e-10, "component {k}");
            }
        }
    }
}

#[cfg(test)]
mod linearised_tests {
    use super::*;

    /// The closed form against the dynamics it describes: a linear model f = Jθ (J of size
    /// n × p, p > n) trained by T explicit gradient steps on (1/2n)‖Jθ − y‖² from θ₀ = 0.
    #[test]
    fn linearised_distance_equals_gradient_descent_on_the_linear_model() {
        let (n, p, steps, lr) = (6, 15, 40u64, 0.3);
        let mut rng = crate::Seed(5).stream("j", 0);
        let j = crate::data::synthetic::gaussian(n, p, 1.0, &mut rng);
        let y: Vec<f64> = (0..n).map(|i| (i as f64 * 0.7).sin()).collect();
        let mut theta = vec![0.0; p];
        for _ in 0..steps {
            let r: Vec<f64> = (0..n)
                .map(|i| (0..p).map(|c| j.get(i, c) * theta[c]).sum::<f64>() - y[i])
                .collect();
            for (c, t) in theta.iter_mut().enumerate() {
                *t -= lr / n as f64 * (0..n).map(|i| j.get(i, c) * r[i]).sum::<f64>();
            }
        }
        let moved = theta.iter().map(|t| t * t).sum::<f64>().sqrt();
        let k = j.matmul(&j.transpose()).unwrap();
        let closed = Spectrum::of(&k)
            .unwrap()
            .linearised_distance(&y, lr / n as f64, steps)
            .unwrap();
        assert!((closed / moved - 1.0).abs() < 1e-10, "{closed} vs {moved}");
    }
}
