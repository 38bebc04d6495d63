//! Anisotropic Gaussian wells on a quadratic bowl in any dimension, as a model of the training
//! engine (C independent chains, like [`super::Potential`]), with its Gaussian smoothing in
//! closed form:
//!
//! U(x) = ½ (x − b)ᵀ Q (x − b) − Σ_j h_j exp(−½ (x − c_j)ᵀ Σ_j⁻¹ (x − c_j)),
//!
//! Û_δ(x) = E_{u ~ N(0, I)}[U(x + δu)] = ½ (x − b)ᵀ Q (x − b) + ½ δ² tr Q
//!          − Σ_j h_j √(det Σ_j / det(Σ_j + δ² I)) exp(−½ (x − c_j)ᵀ (Σ_j + δ² I)⁻¹ (x − c_j)),
//!
//! since E_u[exp(−½ (z + δu)ᵀ P (z + δu))] = det(I + δ² P)^{−1/2} exp(−½ zᵀ (P⁻¹ + δ² I)⁻¹ z):
//! the smoothed landscape is again one of this family (wells widened by δ², made shallower).

use crate::error::{Error, Result};
use crate::linalg::{cholesky_solve, symmetric_eigen, symmetric_eigenvalues, Matrix};
use crate::nn::potential::{chain_layout, chain_sum, chain_sum_gradient};
use crate::nn::{Cache, Model, ParamBlock};
use crate::rng::Rng;

/// One well −h exp(−½ (x − c)ᵀ Σ⁻¹ (x − c)).
#[derive(Clone, Debug, PartialEq)]
pub struct Well {
    /// h > 0.
    pub depth: f64,
    /// c.
    pub center: Vec<f64>,
    /// Σ (symmetric positive definite).
    pub covariance: Matrix,
    /// Σ⁻¹.
    precision: Matrix,
}

/// The landscape of the module docs, for C chains of dimension d (parameters θ ∈ ℝ^{C·d},
/// output Σ_c U(θ_c) whatever the input; with the linear loss and y = 1 the objective is
/// Σ_c U(θ_c)).
#[derive(Clone, Debug, PartialEq)]
pub struct GaussianWells {
    /// d.
    pub dim: usize,
    /// C.
    pub chains: usize,
    /// Q (symmetric positive semi-definite; zero for no bowl).
    pub bowl: Matrix,
    /// b.
    pub bowl_center: Vec<f64>,
    /// The wells.
    pub wells: Vec<Well>,
    /// The constant ½ δ² tr Q a smoothing adds.
    offset: f64,
}

/// The determinant of a symmetric positive definite matrix (product of its eigenvalues).
fn determinant(a: &Matrix) -> Result<f64> {
    Ok(symmetric_eigenvalues(a)?.iter().product())
}

impl GaussianWells {
    /// The landscape with bowl Q centred at b and wells (h_j, c_j, Σ_j), checked: Q symmetric
    /// positive semi-definite, every Σ_j symmetric positive definite, every h_j > 0, all of
    /// dimension `dim`.
    pub fn new(
        dim: usize,
        chains: usize,
        bowl: Matrix,
        bowl_center: Vec<f64>,
        wells: Vec<(f64, Vec<f64>, Matrix)>,
    ) -> Result<GaussianWells> {
        if dim == 0 || chains == 0 {
            return Err(Error::invalid("wells.dim / chains", "expected ≥ 1"));
        }
        let square = |m: &Matrix| m.rows == dim && m.cols == dim;
        let symmetric = |m: &Matrix| (0..dim).all(|i| (0..dim).all(|j| m.get(i, j) == m.get(j, i)));
        if !square(&bowl) || !symmetric(&bowl) || bowl_center.len() != dim {
            return Err(Error::invalid(
                "wells.bowl",
                format!("expected a symmetric {dim} × {dim} matrix and a centre of length {dim}"),
            ));
        }
        if symmetric_eigenvalues(&bowl)?
            .first()
            .copied()
            .unwrap_or(0.0)
            < 0.0
        {
            return Err(Error::invalid(
                "wells.bowl",
                "expected positive semi-definite",
            ));
        }
        let mut built = Vec::with_capacity(wells.len());
        for (k, (depth, center, covariance)) in wells.into_iter().enumerate() {
            let at = format!("wells.well[{k}]");
            if !(depth.is_finite() && depth > 0.0) || center.len() != dim {
                return Err(Error::invalid(
                    at,
                    format!("expected a depth > 0 and a centre of length {dim}"),
                ));
            }
            if !square(&covariance) || !symmetric(&covariance) {
                return Err(Error::invalid(at, "expected a symmetric covariance"));
            }
            let precision = cholesky_solve(&covariance, &Matrix::identity(dim))
                .map_err(|_| Error::invalid(format!("{at}.covariance"), "not positive definite"))?;
            built.push(Well {
                depth,
                center,
                covariance,
                precision,
            });
        }
        Ok(GaussianWells {
            dim,
            chains,
            bowl,
            bowl_center,
            wells: built,
            offset: 0.0,
        })
    }

    /// The same landscape for `chains` chains.
    pub fn with_chains(&self, chains: usize) -> GaussianWells {
        GaussianWells {
            chains: chains.max(1),
            ..self.clone()
        }
    }

    /// (x − c)ᵀ Σ⁻¹ (x − c), Σ⁻¹(x − c) of well `w`, the latter written into `z`.
    fn quadratic(w: &Well, x: &[f64], z: &mut [f64]) -> f64 {
        let d = x.len();
        let mut q = 0.0;
        for i in 0..d {
            z[i] = (0..d)
                .map(|j| w.precision.get(i, j) * (x[j] - w.center[j]))
                .sum();
            q += (x[i] - w.center[i]) * z[i];
        }
        q
    }

    /// U(x).
    pub fn value(&self, x: &[f64]) -> f64 {
        let d = self.dim;
        let mut z = vec![0.0; d];
        let bowl: f64 = (0..d)
            .map(|i| {
                (0..d)
                    .map(|j| {
                        (x[i] - self.bowl_center[i])
                            * self.bowl.get(i, j)
                            * (x[j] - self.bowl_center[j])
                    })
                    .sum::<f64>()
            })
            .sum();
        0.5 * bowl + self.offset
            - self
                .wells
                .iter()
                .map(|w| w.depth * (-0.5 * Self::quadratic(w, x, &mut z)).exp())
                .sum::<f64>()
    }

    /// ∇U(x) = Q (x − b) + Σ_j h_j e_j Σ_j⁻¹ (x − c_j), e_j = exp(−½ (x − c_j)ᵀ Σ_j⁻¹ (x − c_j)),
    /// written into `out`.
    pub fn gradient(&self, x: &[f64], out: &mut [f64]) {
        let d = self.dim;
        let mut z = vec![0.0; d];
        for (i, o) in out.iter_mut().enumerate().take(d) {
            *o = (0..d)
                .map(|j| self.bowl.get(i, j) * (x[j] - self.bowl_center[j]))
                .sum();
        }
        for w in &self.wells {
            let e = w.depth * (-0.5 * Self::quadratic(w, x, &mut z)).exp();
            out.iter_mut().zip(&z).for_each(|(o, v)| *o += e * v);
        }
    }

    /// ∇²U(x) = Q + Σ_j h_j e_j (Σ_j⁻¹ − Σ_j⁻¹(x − c_j)(x − c_j)ᵀΣ_j⁻¹).
    pub fn hessian(&self, x: &[f64]) -> Matrix {
        let d = self.dim;
        let mut h = self.bowl.clone();
        let mut z = vec![0.0; d];
        for w in &self.wells {
            let e = w.depth * (-0.5 * Self::quadratic(w, x, &mut z)).exp();
            for i in 0..d {
                for j in 0..d {
                    h.set(
                        i,
                        j,
                        h.get(i, j) + e * (w.precision.get(i, j) - z[i] * z[j]),
                    );
                }
            }
        }
        h
    }

    /// ‖∇U(x)‖.
    pub fn gradient_norm(&self, x: &[f64]) -> f64 {
        let mut g = vec![0.0; self.dim];
        self.gradient(x, &mut g);
        g.iter().map(|v| v * v).sum::<f64>().sqrt()
    }

    /// The largest eigenvalue of ∇²U(x) (the sharpness).
    pub fn sharpness(&self, x: &[f64]) -> Result<f64> {
        Ok(symmetric_eigenvalues(&self.hessian(x))?
            .last()
            .copied()
            .unwrap_or(f64::NAN))
    }

    /// Û_δ in closed form (module docs): Σ_j → Σ_j + δ²I, h_j → h_j √(det Σ_j / det(Σ_j + δ²I)),
    /// plus the constant ½ δ² tr Q.
    pub fn smoothed(&self, delta: f64) -> Result<GaussianWells> {
        let d = self.dim;
        let v = delta * delta;
        let mut wells = Vec::with_capacity(self.wells.len());
        for w in &self.wells {
            let widened = Matrix::from_fn(d, d, |i, j| {
                w.covariance.get(i, j) + if i == j { v } else { 0.0 }
            });
            let depth = w.depth * (determinant(&w.covariance)? / determinant(&widened)?).sqrt();
            wells.push((depth, w.center.clone(), widened));
        }
        let mut out = GaussianWells::new(
            d,
            self.chains,
            self.bowl.clone(),
            self.bowl_center.clone(),
            wells,
        )?;
        out.offset = self.offset + 0.5 * v * (0..d).map(|i| self.bowl.get(i, i)).sum::<f64>();
        Ok(out)
    }

    /// A local minimiser reached from `start`: saddle-free Newton steps
    /// Δ = −Σ_k (v_kᵀg / max(|λ_k|, 10⁻⁶ λ_max)) v_k over the eigenpairs (λ_k, v_k) of the
    /// Hessian (Newton where it is positive definite, a descent direction everywhere), each
    /// halved until U decreases; stops at ‖∇U‖ < 10⁻¹² (an error after 10⁴ steps).
    pub fn local_minimum(&self, start: &[f64]) -> Result<Vec<f64>> {
        let d = self.dim;
        let mut x = start.to_vec();
        let mut g = vec![0.0; d];
        for _ in 0..10_000 {
            self.gradient(&x, &mut g);
            if self.gradient_norm(&x) < 1e-12 {
                return Ok(x);
            }
            let (values, vectors) = symmetric_eigen(&self.hessian(&x))?;
            let top = values.iter().fold(0.0f64, |m, l| m.max(l.abs())).max(1e-12);
            let step: Vec<f64> = (0..d)
                .map(|i| {
                    -(0..d)
                        .map(|k| {
                            let vg: f64 = (0..d).map(|j| vectors.get(j, k) * g[j]).sum();
                            vectors.get(i, k) * vg / values[k].abs().max(1e-6 * top)
                        })
                        .sum::<f64>()
                })
                .collect();
            // Accepted when U decreases, or (near the minimum, where U cannot resolve the
            // decrease) when U stays level to rounding and the gradient shrinks.
            let (u0, g0) = (self.value(&x), self.gradient_norm(&x));
            let mut t = 1.0;
            loop {
                let trial: Vec<f64> = x.iter().zip(&step).map(|(a, s)| a + t * s).collect();
                let v = self.value(&trial);
                let level = v <= u0 + 1e-13 * (1.0 + u0.abs());
                if v < u0 || (level && self.gradient_norm(&trial) < g0) || t < 1e-12 {
                    x = trial;
                    break;
                }
                t *= 0.5;
            }
        }
        Err(Error::invalid(
            "wells.local_minimum",
            "no minimum within 10⁴ steps",
        ))
    }
}

impl Model for GaussianWells {
    fn describe(&self) -> String {
        format!(
            "gaussian_wells(d={}, wells={}, chains={})",
            self.dim,
            self.wells.len(),
            self.chains
        )
    }

    fn input_dim(&self) -> usize {
        1
    }

    fn layout(&self) -> Vec<ParamBlock> {
        chain_layout(self.chains, self.dim)
    }

    /// Every chain at the bowl's centre b.
    fn init(&self, _rng: &mut Rng) -> Vec<f64> {
        (0..self.chains)
            .flat_map(|_| self.bowl_center.iter().copied())
            .collect()
    }

    fn forward(&self, params: &[f64], x: &Matrix, _cache: &mut Cache, out: &mut Matrix) {
        chain_sum(self.dim, params, x, out, |c| self.value(c));
    }

    fn backward(&self, params: &[f64], _: &Matrix, _: &mut Cache, d_out: &Matrix, g: &mut [f64]) {
        chain_sum_gradient(self.dim, params, d_out, g, |c, gc| self.gradient(c, gc));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::gauss_hermite::GaussHermite;
    use crate::rng::Seed;

    /// Two rotated anisotropic wells on a tilted bowl in 2-D.
    fn example() -> GaussianWells {
        let cov = |a: f64, b: f64, c: f64| Matrix::from_vec(2, 2, vec![a, c, c, b]).unwrap();
        GaussianWells::new(
            2,
            1,
            cov(0.4, 0.2, 0.1),
            vec![0.5, -0.3],
            vec![
                (1.0, vec![0.0, 0.0], cov(0.04, 0.09, 0.02)),
                (0.7, vec![1.5, 1.0], cov(1.0, 0.5, -0.3)),
            ],
        )
        .unwrap()
    }

    /// The gradient and the Hessian against central finite differences.
    #[test]
    fn derivatives_match_finite_differences() {
        let u = example();
        let mut rng = Seed(3).stream("points", 0);
        for _ in 0..20 {
            let mut x = vec![0.0; 2];
            rng.fill_normal(&mut x, 1.0);
            let (mut g, mut gp, mut gm) = (vec![0.0; 2], vec![0.0; 2], vec![0.0; 2]);
            u.gradient(&x, &mut g);
            let h = u.hessian(&x);
            let e = 1e-5;
            for i in 0..2 {
                let (mut p, mut m) = (x.clone(), x.clone());
                p[i] += e;
                m[i] -= e;
                let fd = (u.value(&p) - u.value(&m)) / (2.0 * e);
                assert!(
                    (fd - g[i]).abs() < 1e-7 * (1.0 + g[i].abs()),
                    "{fd} vs {}",
                    g[i]
                );
                u.gradient(&p, &mut gp);
                u.gradient(&m, &mut gm);
                for j in 0..2 {
                    let fd = (gp[j] - gm[j]) / (2.0 * e);
                    assert!((fd - h.get(j, i)).abs() < 1e-6 * (1.0 + fd.abs()));
                }
            }
        }
    }

    /// The closed-form smoothing against Gauss–Hermite quadrature of E[U(x + δu)] on a 60 × 60
    /// product grid, and its gradient against E[∇U(x + δu)].
    #[test]
    fn smoothing_matches_quadrature() {
        let u = example();
        let rule = GaussHermite::new(60).unwrap();
        for delta in [0.05, 0.2, 0.5] {
            let s = u.smoothed(delta).unwrap();
            for x in [[0.0, 0.0], [0.3, -0.2], [1.2, 0.9]] {
                let (mut value, mut grad, mut g) = (0.0, [0.0; 2], vec![0.0; 2]);
                for (a, wa) in rule.nodes.iter().zip(&rule.weights) {
                    for (b, wb) in rule.nodes.iter().zip(&rule.weights) {
                        let p = [x[0] + delta * a, x[1] + delta * b];
                        value += wa * wb * u.value(&p);
                        u.gradient(&p, &mut g);
                        grad[0] += wa * wb * g[0];
                        grad[1] += wa * wb * g[1];
                    }
                }
                // The quadrature error of the narrow well (width 0.2 against δ) is ~10⁻⁸; a wrong
                // depth factor or width would be off by 10⁻².
                assert!(
                    (s.value(&x) - value).abs() < 1e-6,
                    "δ = {delta}, x = {x:?}: {} vs {value}",
                    s.value(&x)
                );
                s.gradient(&x, &mut g);
                assert!(
                    (g[0] - grad[0]).abs() < 1e-6 && (g[1] - grad[1]).abs() < 1e-6,
                    "δ = {delta}, x = {x:?}: {g:?} vs {grad:?}"
                );
            }
        }
    }

    /// The minimiser has a zero gradient and a positive definite Hessian; a non-definite
    /// covariance is refused, naming the well.
    #[test]
    fn minimum_and_validation() {
        let u = example();
        let x = u.local_minimum(&[0.1, 0.1]).unwrap();
        let mut g = vec![0.0; 2];
        u.gradient(&x, &mut g);
        assert!(g[0].abs() < 1e-12 && g[1].abs() < 1e-12);
        assert!(symmetric_eigenvalues(&u.hessian(&x)).unwrap()[0] > 0.0);
        let bad = Matrix::from_vec(2, 2, vec![1.0, 2.0, 2.0, 1.0]).unwrap();
        let err = GaussianWells::new(
            2,
            1,
            Matrix::zeros(2, 2),
            vec![0.0, 0.0],
            vec![(1.0, vec![0.0, 0.0], bad)],
        )
        .unwrap_err();
        assert!(err.to_string().contains("well[0]"), "{err}");
    }
}
