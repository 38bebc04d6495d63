//! Preconditioned conjugate gradients (Hestenes & Stiefel 1952; Saad, *Iterative Methods for
//! Sparse Linear Systems*, Alg. 9.1) for A x = b, A symmetric positive definite, several
//! right-hand sides in lockstep so that one pass over A (a kernel recomputed tile by tile)
//! serves every column:
//!
//! x₀ = 0, r₀ = b, z₀ = M⁻¹r₀, p₀ = z₀;
//! αₖ = rₖᵀzₖ / pₖᵀA pₖ, xₖ₊₁ = xₖ + αₖpₖ, rₖ₊₁ = rₖ − αₖA pₖ,
//! zₖ₊₁ = M⁻¹rₖ₊₁, βₖ = rₖ₊₁ᵀzₖ₊₁ / rₖᵀzₖ, pₖ₊₁ = zₖ₊₁ + βₖpₖ;
//! stopping once ‖rₖ‖ ≤ tol ‖b‖ (the recurrence residual).
//!
//! Every vector is whole on every rank (the product gathers its rows); inner products are
//! taken over the whole vector in index order ([`crate::linalg::dot8`]), so the iterates do
//! not depend on how A's rows are split.

use crate::commands::Cancel;
use crate::error::{Error, Result};
use crate::linalg::dot8;

/// When conjugate gradients stop.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Settings {
    /// Relative residual ‖r‖/‖b‖ at which a column has converged (`--pcg-tol`).
    pub tolerance: f64,
    /// The most iterations (products with A) before giving up (`--pcg-max-iter`).
    pub max_iterations: usize,
}

impl Default for Settings {
    /// tol = 1e-10, at most 1000 iterations.
    fn default() -> Settings {
        Settings {
            tolerance: 1e-10,
            max_iterations: 1000,
        }
    }
}

impl Settings {
    /// Err unless 0 < tolerance < 1 and max_iterations ≥ 1 (errors name the flags).
    pub fn validate(&self) -> Result<()> {
        if !(self.tolerance > 0.0 && self.tolerance < 1.0) {
            return Err(Error::invalid(
                "--pcg-tol",
                format!("expected 0 < tol < 1, got {}", self.tolerance),
            ));
        }
        if self.max_iterations == 0 {
            return Err(Error::invalid("--pcg-max-iter", "expected ≥ 1 iteration"));
        }
        Ok(())
    }
}

/// How each column converged.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct Report {
    /// Iterations per right-hand side.
    pub iterations: Vec<usize>,
    /// Per right-hand side, ‖rₖ‖/‖b‖ after each iteration.
    pub residuals: Vec<Vec<f64>>,
}

/// Solves A xⱼ = bⱼ for every column bⱼ of `b` by PCG (module doc). `product(active, p)`
/// returns A p for the columns `p` (whole vectors); `precondition(r)` returns M⁻¹ r. `cancel`
/// is polled before each product. Err ([`Error::Numerical`]) when a column has not converged
/// after `settings.max_iterations` products.
pub fn solve(
    mut product: impl FnMut(&[&[f64]]) -> Result<Vec<Vec<f64>>>,
    precondition: impl Fn(&[f64]) -> Vec<f64>,
    b: &[Vec<f64>],
    settings: &Settings,
    cancel: Cancel,
) -> Result<(Vec<Vec<f64>>, Report)> {
    settings.validate()?;
    let k = b.len();
    let n = b.first().map_or(0, Vec::len);
    let norms: Vec<f64> = b.iter().map(|c| dot8(c, c).sqrt()).collect();
    let mut x = vec![vec![0.0; n]; k];
    let mut r: Vec<Vec<f64>> = b.to_vec();
    let mut z: Vec<Vec<f64>> = r.iter().map(|c| precondition(c)).collect();
    let mut p = z.clone();
    let mut rz: Vec<f64> = (0..k).map(|j| dot8(&r[j], &z[j])).collect();
    let mut report = Report {
        iterations: vec![0; k],
        residuals: vec![Vec::new(); k],
    };
    let mut active: Vec<usize> = (0..k).filter(|&j| norms[j] > 0.0).collect();
    for iteration in 1..=settings.max_iterations {
        if active.is_empty() {
            break;
        }
        cancel.check(|| format!("after {} conjugate-gradient iterations", iteration - 1))?;
        let columns: Vec<&[f64]> = active.iter().map(|&j| p[j].as_slice()).collect();
        let ap = product(&columns)?;
        let mut still = Vec::with_capacity(active.len());
        for (&j, q) in active.iter().zip(&ap) {
            let alpha = rz[j] / dot8(&p[j], q);
            for (xi, pi) in x[j].iter_mut().zip(&p[j]) {
                *xi += alpha * pi;
            }
            for (ri, qi) in r[j].iter_mut().zip(q) {
                *ri -= alpha * qi;
            }
            let residual = dot8(&r[j], &r[j]).sqrt() / norms[j];
            report.residuals[j].push(residual);
            report.iterations[j] = iteration;
            if residual <= settings.tolerance {
                continue;
            }
            if !residual.is_finite() {
                return Err(Error::Numerical {
                    routine: "preconditioned conjugate gradients".into(),
                    message: format!(
                        "the residual of column {j} is {residual} at iteration {iteration} \
                         (is the kernel plus the regularisation positive definite?)"
                    ),
                });
            }
            z[j] = precondition(&r[j]);
            let rz_next = dot8(&r[j], &z[j]);
            let beta = rz_next / rz[j];
            rz[j] = rz_next;
            for (pi, zi) in p[j].iter_mut().zip(&z[j]) {
                *pi = zi + beta * *pi;
            }
            still.push(j);
        }
        active = still;
    }
    if let Some(&j) = active.first() {
        let reached = report.residuals[j].last().copied().unwrap_or(1.0);
        return Err(Error::Numerical {
            routine: "preconditioned conjugate gradients".into(),
            message: format!(
                "column {j} did not converge in {} iterations (--pcg-max-iter): relative \
                 residual {reached:.3e} > --pcg-tol {:.1e}; raise --pcg-rank, --diag-reg or \
                 --pcg-max-iter (the preconditioned system's condition number is about \
                 1 + λ_(m+1)(Θ)/λ for m landmarks: the rank must reach past the kernel's \
                 eigenvalues above λ)",
                settings.max_iterations, settings.tolerance
            ),
        });
    }
    Ok((x, report))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linalg::{cholesky_solve, Matrix};

    fn spd(n: usize) -> Matrix {
        let g = Matrix::from_fn(n, n, |i, j| ((i * 13 + j * 7) as f64 * 0.31).sin());
        let mut a = g.transpose().matmul(&g).unwrap();
        for i in 0..n {
            a.set(i, i, a.get(i, i) + 0.5);
        }
        a
    }

    /// PCG (Jacobi preconditioner) agrees with a Cholesky solve to 1e-9 relative, two columns
    /// in lockstep (one of them zero: solution zero, no iteration).
    #[test]
    fn conjugate_gradients_match_a_direct_solve() {
        let n = 30;
        let a = spd(n);
        let b0: Vec<f64> = (0..n).map(|i| (i as f64).cos()).collect();
        let b = vec![b0.clone(), vec![0.0; n]];
        let product = |ps: &[&[f64]]| -> Result<Vec<Vec<f64>>> {
            Ok(ps
                .iter()
                .map(|p| (0..n).map(|i| dot8(a.row(i), p)).collect())
                .collect())
        };
        let jacobi = |r: &[f64]| -> Vec<f64> { (0..n).map(|i| r[i] / a.get(i, i)).collect() };
        let settings = Settings {
            tolerance: 1e-12,
            max_iterations: 500,
        };
        let (x, report) = solve(product, jacobi, &b, &settings, Cancel::NEVER).unwrap();
        let direct = cholesky_solve(&a, &Matrix::column(b0)).unwrap();
        let scale = direct.frobenius_norm();
        for (i, xi) in x[0].iter().enumerate() {
            assert!((xi - direct.get(i, 0)).abs() < 1e-9 * scale);
        }
        assert_eq!(x[1], vec![0.0; n]);
        assert_eq!(report.iterations[1], 0);
        assert!(*report.residuals[0].last().unwrap() <= 1e-12);
        // Too few iterations: a numerical error naming the flag.
        let few = Settings {
            max_iterations: 2,
            ..settings
        };
        let e = solve(product, jacobi, &b, &few, Cancel::NEVER).unwrap_err();
        assert!(e.to_string().contains("--pcg-max-iter"), "{e}");
        assert_eq!(e.exit_code(), 3);
    }
}
