//! Symmetric low-rank matrix factorization / completion: min_U Σ_{(i,j)∈E} (Y_ij − (UUᵀ)_ij)².
//!
//! As a [`Model`], an input row is an observed position (i, j) and the output is
//! (UUᵀ)_ij = ⟨U_i, U_j⟩, so the squared loss on the observed set is exactly the completion
//! objective (up to the ½ and 1/|E| factors of the empirical risk).

use crate::error::{check_positive, Error, Result};
use crate::linalg::Matrix;
use crate::nn::{Backward, Cache, Model, ParamBlock};
use crate::rng::Rng;

/// f(i, j) = (UUᵀ)_ij with U ∈ R^{n×r}, U_ik ~ N(0, σ²).
#[derive(Clone, Debug, PartialEq)]
pub struct Factorization {
    /// Matrix size n.
    pub size: usize,
    /// Rank r of the factor U.
    pub rank: usize,
    /// σ, the initialisation scale (small σ: the implicit-bias regime).
    pub init_std: f64,
}

impl Factorization {
    /// An n × n factorization of rank r.
    pub fn new(size: usize, rank: usize, init_std: f64) -> Result<Factorization> {
        if size == 0 || rank == 0 {
            return Err(Error::invalid(
                "size/rank",
                format!("expected size ≥ 1 and rank ≥ 1, got {size} and {rank}"),
            ));
        }
        check_positive("init_std", init_std)?;
        Ok(Factorization {
            size,
            rank,
            init_std,
        })
    }

    /// The product UUᵀ (n × n, exactly symmetric).
    pub fn product(&self, params: &[f64]) -> Matrix {
        let u = Matrix {
            rows: self.size,
            cols: self.rank,
            data: params.to_vec(),
        };
        let mut out = Matrix::default();
        crate::linalg::gram(&mut out, u.view(), 1.0);
        out
    }

    fn index(&self, v: f64) -> usize {
        v as usize
    }
}

impl Model for Factorization {
    fn describe(&self) -> String {
        format!("factorization(n={}, rank={})", self.size, self.rank)
    }
    fn input_dim(&self) -> usize {
        2
    }
    fn layout(&self) -> Vec<ParamBlock> {
        ParamBlock::whole("U", vec![self.size, self.rank])
    }
    fn init(&self, rng: &mut Rng) -> Vec<f64> {
        let mut p = vec![0.0; self.size * self.rank];
        rng.fill_normal(&mut p, self.init_std);
        p
    }
    fn check_input(&self, what: &str, x: &Matrix) -> Result<()> {
        if x.cols != 2 {
            return Err(Error::shape(
                what,
                format!(
                    "factorization inputs are (i, j) pairs: 2 columns, got {}",
                    x.cols
                ),
            ));
        }
        if let Some(k) = x
            .data
            .iter()
            .position(|&v| !(v >= 0.0 && v.fract() == 0.0 && (v as usize) < self.size))
        {
            return Err(Error::invalid(
                what,
                format!(
                    "row {} holds {} which is not an index in 0..{}",
                    k / 2,
                    x.data[k],
                    self.size
                ),
            ));
        }
        Ok(())
    }
    fn forward(&self, params: &[f64], x: &Matrix, _cache: &mut Cache, out: &mut Matrix) {
        let r = self.rank;
        out.resize(x.rows, 1);
        for (k, o) in out.data.iter_mut().enumerate() {
            let (i, j) = (self.index(x.get(k, 0)), self.index(x.get(k, 1)));
            *o = crate::linalg::dot(&params[i * r..(i + 1) * r], &params[j * r..(j + 1) * r]);
        }
    }
    /// ∂⟨U_i, U_j⟩/∂U_i = U_j and ∂/∂U_j = U_i (both terms when i = j: 2U_i).
    fn backward_pass(&self, pass: Backward<'_>, grad: &mut [f64]) {
        let (params, x, d_out) = (pass.params, pass.x, pass.d_out);
        let r = self.rank;
        grad.fill(0.0);
        for k in 0..x.rows {
            let (i, j) = (self.index(x.get(k, 0)), self.index(x.get(k, 1)));
            let g = d_out.data[k];
            for c in 0..r {
                let (ui, uj) = (params[i * r + c], params[j * r + c]);
                grad[i * r + c] += g * uj;
                grad[j * r + c] += g * ui;
            }
        }
    }
}

/// The minimum-nuclear-norm PSD completion: min tr(X) = ‖X‖_* s.t. X ⪰ 0 and X_ij = y_ij on the
/// observed entries (both (i, j) and (j, i) are constrained) — the convex problem that gradient
/// descent on UUᵀ from a small initialisation is conjectured to solve (Gunasekar et al. 2017).
/// Solved by ADMM (with residual balancing of the penalty ρ) on the split X = Z: X ← (Z − U − I/ρ with the observed entries reset),
/// Z ← Π_PSD(X + U) by an eigendecomposition, U ← U + X − Z, until ‖X − Z‖_F and ρ‖Z − Z_prev‖_F
/// are below `tol`·max(1, ‖Z‖_F); returns Z (PSD, observed entries to `tol`).
pub fn min_trace_completion(
    size: usize,
    observed: &[(usize, usize, f64)],
    tol: f64,
    max_iterations: usize,
) -> Result<Matrix> {
    for &(i, j, v) in observed {
        if i >= size || j >= size || !v.is_finite() {
            return Err(Error::invalid(
                "observed",
                format!("entry ({i}, {j}) = {v} outside a {size} × {size} matrix or not finite"),
            ));
        }
    }
    let mut rho = 1.0;
    let n = size;
    let mut z = Matrix::zeros(n, n);
    let mut u = Matrix::zeros(n, n);
    let mut x = Matrix::zeros(n, n);
    for _ in 0..max_iterations {
        for i in 0..n {
            for j in 0..n {
                let d = if i == j { 1.0 / rho } else { 0.0 };
                x.set(i, j, z.get(i, j) - u.get(i, j) - d);
            }
        }
        for &(i, j, v) in observed {
            x.set(i, j, v);
            x.set(j, i, v);
        }
        let mut w = x.clone();
        w.data.iter_mut().zip(&u.data).for_each(|(a, b)| *a += b);
        let (values, vectors) = crate::linalg::symmetric_eigen(&w)?;
        let previous = z.clone();
        z = Matrix::from_fn(n, n, |i, j| {
            (0..n)
                .filter(|&k| values[k] > 0.0)
                .map(|k| values[k] * vectors.get(i, k) * vectors.get(j, k))
                .sum()
        });
        let mut primal = 0.0;
        for k in 0..n * n {
            let r = x.data[k] - z.data[k];
            u.data[k] += r;
            primal += r * r;
        }
        let primal = primal.sqrt();
        let dual = rho * crate::linalg::distance(&z.data, &previous.data);
        let scale = z.frobenius_norm().max(1.0);
        if primal <= tol * scale && dual <= tol * scale {
            return Ok(z);
        }
        // Residual balancing (Boyd et al. 2011, §3.4.1); u is the scaled dual y/ρ.
        let factor = if primal > 10.0 * dual {
            2.0
        } else if dual > 10.0 * primal {
            0.5
        } else {
            1.0
        };
        if factor != 1.0 {
            rho *= factor;
            u.data.iter_mut().for_each(|v| *v /= factor);
        }
    }
    Err(Error::Numerical {
        routine: "min_trace_completion".into(),
        message: format!("ADMM did not reach tolerance {tol} in {max_iterations} iterations"),
    })
}

#[cfg(test)]
mod completion_tests {
    use super::*;

    #[test]
    fn a_missing_diagonal_entry_takes_its_smallest_psd_value() {
        // [[a, c], [c, x]] with a = 2, c = 1 observed: the smallest PSD x is c²/a = 0.5.
        let z = min_trace_completion(2, &[(0, 0, 2.0), (0, 1, 1.0)], 1e-10, 100_000).unwrap();
        assert!((z.get(1, 1) - 0.5).abs() < 1e-6, "{z:?}");
        assert!((z.get(0, 0) - 2.0).abs() < 1e-6 && (z.get(0, 1) - 1.0).abs() < 1e-6);
    }

    #[test]
    fn a_rank_one_matrix_is_recovered_from_enough_entries() {
        // Y = vvᵀ observed on the diagonal's neighbours and the first row: every feasible PSD
        // completion has trace ≥ tr(Y) and Y itself is the unique minimiser here.
        let v = [1.0, -0.5, 2.0, 0.7, 1.3];
        let n = v.len();
        let mut observed = vec![];
        for i in 0..n {
            observed.push((0, i, v[0] * v[i]));
            if i + 1 < n {
                observed.push((i, i + 1, v[i] * v[i + 1]));
            }
        }
        let z = min_trace_completion(n, &observed, 1e-10, 200_000).unwrap();
        for i in 0..n {
            for j in 0..n {
                assert!(
                    (z.get(i, j) - v[i] * v[j]).abs() < 1e-5,
                    "({i}, {j}): {}",
                    z.get(i, j)
                );
            }
        }
    }
}
