//! Matrix-function–vector products f(A) b for symmetric A by the Lanczos process, for several
//! functions of one matrix and one vector at once (one Krylov basis serves them all).
//!
//! With the orthonormal Krylov basis Q_m = [q₁ … q_m] of span{b, Ab, …, A^{m−1}b}
//! (q₁ = b/‖b‖) and the tridiagonal T_m = Q_mᵀ A Q_m:
//!
//!   f(A) b ≈ ‖b‖ Q_m f(T_m) e₁,   f(T_m) = S f(Θ) Sᵀ for T_m = S Θ Sᵀ
//!
//! (Saad 1992; Higham, *Functions of Matrices*, §13.2). The approximation is exact for
//! polynomials of degree < m and its error is bounded by twice the best uniform polynomial
//! approximation of f of degree m − 1 on [λ_min, λ_max]; for entire functions such as e^{−aλ}
//! it falls super-exponentially once m exceeds ≈ √(a(λ_max − λ_min)). The basis is fully
//! reorthogonalised (classical Gram–Schmidt, twice), so the Ritz values never duplicate.
//!
//! Stopping rule: every [`CHECK_EVERY`] steps the coefficient vectors c_f = ‖b‖ f(T_m) e₁ are
//! compared with those of the previous check (zero-padded); the process stops when, for every
//! f, ‖c_f − c_f^{prev}‖ ≤ tol · ‖b‖ · max_θ |f(θ)| over the Ritz values — a norm-wise error of the
//! same kind as that of a full eigendecomposition — or when the Krylov space becomes invariant
//! (then the result is exact), or at m = n.

use super::{dot8, symmetric_eigen, Matrix};
use crate::error::{Error, Result};
use rayon::prelude::*;

/// How often (in Lanczos steps) the stopping rule is evaluated.
pub const CHECK_EVERY: usize = 8;

/// The result of [`lanczos_apply`].
#[derive(Clone, Debug, PartialEq)]
pub struct LanczosOutput {
    /// f_i(A) b for each function, in the order given.
    pub products: Vec<Vec<f64>>,
    /// The Krylov dimension m used.
    pub iterations: usize,
}

/// y = A x for a row-major square A, parallel over fixed row chunks (each entry one fixed
/// sequence of operations: independent of the thread count).
fn matvec(a: &Matrix, x: &[f64], y: &mut [f64]) {
    const ROWS: usize = 16;
    let n = a.cols;
    y.par_chunks_mut(ROWS).enumerate().for_each(|(c, ys)| {
        for (r, yi) in ys.iter_mut().enumerate() {
            let i = c * ROWS + r;
            *yi = dot8(&a.data[i * n..(i + 1) * n], x);
        }
    });
}

/// f_i(A) b for symmetric `a` and each function of `functions` (module doc), to the relative
/// tolerance `tolerance` (1e-13 is near the attainable accuracy in f64).
pub fn lanczos_apply(
    a: &Matrix,
    b: &[f64],
    functions: &[&dyn Fn(f64) -> f64],
    tolerance: f64,
) -> Result<LanczosOutput> {
    let n = a.rows;
    if a.cols != n || b.len() != n {
        return Err(Error::shape(
            "lanczos_apply",
            format!("A is {}×{}, b has {} entries", a.rows, a.cols, b.len()),
        ));
    }
    let product = |q: &[f64], w: &mut [f64]| {
        matvec(a, q, w);
        Ok(())
    };
    lanczos_apply_operator(product, b, functions, tolerance)
}

/// [`lanczos_apply`] for a symmetric operator given by its product: `product(q, w)` writes
/// w = A q (n = b.len() values; an error stops the process and is returned). With the product
/// of [`lanczos_apply`] the result is the same, bit for bit.
pub fn lanczos_apply_operator(
    mut product: impl FnMut(&[f64], &mut [f64]) -> Result<()>,
    b: &[f64],
    functions: &[&dyn Fn(f64) -> f64],
    tolerance: f64,
) -> Result<LanczosOutput> {
    let n = b.len();
    let beta0 = super::norm(b);
    if beta0 == 0.0 || n == 0 {
        return Ok(LanczosOutput {
            products: vec![vec![0.0; n]; functions.len()],
            iterations: 0,
        });
    }
    if !beta0.is_finite() {
        return Err(Error::invalid("lanczos_apply", "b is not finite"));
    }
    let mut process = Lanczos::new(b).expect("b ≠ 0 checked above");
    let mut previous: Option<Vec<Vec<f64>>> = None;
    loop {
        let (m, invariant) = process.try_advance(&mut product)?;
        let invariant = invariant || m == n;
        if invariant || m % CHECK_EVERY == 0 {
            let coefficients = ritz_coefficients(&process.alpha, &process.beta, beta0, functions)?;
            let converged = invariant
                || previous.as_ref().is_some_and(|prev| {
                    coefficients
                        .iter()
                        .zip(prev)
                        .all(|((c, fmax), p)| change(c, p) <= tolerance * beta0 * fmax)
                });
            if converged {
                let products = coefficients
                    .iter()
                    .map(|(c, _)| combine(&process.basis, c, n))
                    .collect();
                return Ok(LanczosOutput {
                    products,
                    iterations: m,
                });
            }
            previous = Some(coefficients.into_iter().map(|(c, _)| c).collect());
        }
        process.accept();
    }
}

/// The Lanczos process with full reorthogonalisation on a symmetric operator given by its
/// product, step by step: [`Lanczos::advance`] extends T by one column, the caller decides
/// whether to stop (from T, e.g. its Ritz values), and [`Lanczos::accept`] moves on.
#[derive(Clone, Debug)]
pub struct Lanczos {
    /// q₁, q₂, …: the orthonormal Krylov basis.
    pub basis: Vec<Vec<f64>>,
    /// The diagonal of T.
    pub alpha: Vec<f64>,
    /// The off-diagonal of T (one shorter than `alpha` between `accept` calls).
    pub beta: Vec<f64>,
    w: Vec<f64>,
    pending: f64,
    scale: f64,
}

impl Lanczos {
    /// Starts from q₁ = b/‖b‖; `None` when ‖b‖ is 0 or not finite.
    pub fn new(b: &[f64]) -> Option<Lanczos> {
        let norm = super::norm(b);
        (norm > 0.0 && norm.is_finite()).then(|| Lanczos {
            basis: vec![b.iter().map(|v| v / norm).collect()],
            alpha: Vec::new(),
            beta: Vec::new(),
            w: vec![0.0; b.len()],
            pending: 0.0,
            scale: 0.0,
        })
    }

    /// One step: w = A q_j by `matvec(q_j, w)`, α_j = ⟨q_j, w⟩, w reorthogonalised against the
    /// whole basis twice (the three-term recurrence is its first pass), β_j = ‖w‖. Returns the
    /// Krylov dimension m and whether the space is invariant (β_j ≤ 1e-14 ‖T‖).
    pub fn advance(&mut self, mut matvec: impl FnMut(&[f64], &mut [f64])) -> (usize, bool) {
        let product = |q: &[f64], w: &mut [f64]| {
            matvec(q, w);
            Ok(())
        };
        match self.try_advance(product) {
            Ok(step) => step,
            Err(_) => unreachable!("the product cannot fail"),
        }
    }

    /// [`Lanczos::advance`] with a product that may fail (its error is returned, the process
    /// left as it was before the step).
    pub fn try_advance(
        &mut self,
        mut matvec: impl FnMut(&[f64], &mut [f64]) -> Result<()>,
    ) -> Result<(usize, bool)> {
        let j = self.alpha.len();
        let w = &mut self.w;
        matvec(&self.basis[j], w)?;
        let aj = dot8(&self.basis[j], w);
        self.alpha.push(aj);
        let basis = &self.basis;
        for _ in 0..2 {
            let h: Vec<f64> = basis.par_iter().map(|q| dot8(q, w)).collect();
            w.par_chunks_mut(256).enumerate().for_each(|(c, ws)| {
                let (off, len) = (c * 256, ws.len());
                for (q, &hq) in basis.iter().zip(&h) {
                    for (wi, qi) in ws.iter_mut().zip(&q[off..off + len]) {
                        *wi -= hq * qi;
                    }
                }
            });
        }
        let bj = super::norm(w);
        self.scale = self
            .scale
            .max(aj.abs() + bj + self.beta.last().copied().unwrap_or(0.0));
        self.pending = bj;
        Ok((j + 1, bj <= 1e-14 * self.scale.max(f64::MIN_POSITIVE)))
    }

    /// Appends β_j to T and q_{j+1} = w/β_j to the basis (after an `advance` that was not
    /// invariant).
    pub fn accept(&mut self) {
        let bj = self.pending;
        self.beta.push(bj);
        self.basis.push(self.w.iter().map(|v| v / bj).collect());
    }

    /// T_m.
    pub fn tridiagonal(&self) -> Matrix {
        tridiagonal(
            &self.alpha,
            &self.beta[..self.alpha.len().saturating_sub(1)],
        )
    }
}

/// The symmetric tridiagonal matrix with diagonal `alpha` and off-diagonal `beta`
/// (`beta.len() + 1 == alpha.len()`): the T_m of a Lanczos process.
pub fn tridiagonal(alpha: &[f64], beta: &[f64]) -> Matrix {
    let m = alpha.len();
    Matrix::from_fn(m, m, |i, j| {
        if i == j {
            alpha[i]
        } else if i + 1 == j {
            beta[i]
        } else if j + 1 == i {
            beta[j]
        } else {
            0.0
        }
    })
}

/// ‖c − p‖ with p zero-padded to c's length.
fn change(c: &[f64], p: &[f64]) -> f64 {
    c.iter()
        .enumerate()
        .map(|(i, &ci)| {
            let d = ci - p.get(i).copied().unwrap_or(0.0);
            d * d
        })
        .sum::<f64>()
        .sqrt()
}

/// For each f: (‖b‖ S f(Θ) Sᵀ e₁, max_θ |f(θ)|) from T_m = tridiag(β, α, β) = S Θ Sᵀ.
fn ritz_coefficients(
    alpha: &[f64],
    beta: &[f64],
    beta0: f64,
    functions: &[&dyn Fn(f64) -> f64],
) -> Result<Vec<(Vec<f64>, f64)>> {
    let m = alpha.len();
    let t = tridiagonal(alpha, beta);
    let (theta, s) = symmetric_eigen(&t)?;
    Ok(functions
        .iter()
        .map(|f| {
            let fv: Vec<f64> = theta.iter().map(|&x| f(x)).collect();
            let fmax = fv.iter().fold(0.0f64, |acc, v| acc.max(v.abs()));
            let c = (0..m)
                .map(|i| {
                    beta0
                        * (0..m)
                            .map(|k| s.get(i, k) * fv[k] * s.get(0, k))
                            .sum::<f64>()
                })
                .collect();
            (c, fmax)
        })
        .collect())
}

/// Q c = Σ_j c_j q_j.
fn combine(basis: &[Vec<f64>], c: &[f64], n: usize) -> Vec<f64> {
    let mut out = vec![0.0; n];
    out.par_chunks_mut(256).enumerate().for_each(|(chunk, os)| {
        let (off, len) = (chunk * 256, os.len());
        for (q, &cj) in basis.iter().zip(c) {
            for (o, qi) in os.iter_mut().zip(&q[off..off + len]) {
                *o += cj * qi;
            }
        }
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Seed;

    /// A symmetric PSD matrix with a prescribed spectrum: Q diag(λ) Qᵀ, Q from an eigenbasis
    /// of a random symmetric matrix.
    fn with_spectrum(values: &[f64], seed: u64) -> Matrix {
        let n = values.len();
        let mut r = Seed(seed).stream("lanczos", 0);
        let g = Matrix::from_fn(n, n, |_, _| r.normal());
        let sym = Matrix::from_fn(n, n, |i, j| g.get(i, j) + g.get(j, i));
        let (_, q) = symmetric_eigen(&sym).unwrap();
        Matrix::from_fn(n, n, |i, j| {
            (0..n).map(|k| q.get(i, k) * values[k] * q.get(j, k)).sum()
        })
    }

    #[test]
    fn matches_the_eigendecomposition_for_exp_and_phi() {
        let n = 300;
        // Spectrum with a power-law decay down to 1e-8, like an NTK Gram matrix.
        let values: Vec<f64> = (0..n)
            .map(|k| 400.0 * (k as f64 + 1.0).powf(-2.0) + 1e-8)
            .collect();
        let a = with_spectrum(&values, 1);
        let mut r = Seed(2).stream("lanczos-b", 0);
        let b: Vec<f64> = (0..n).map(|_| r.normal()).collect();
        let (lam, v) = symmetric_eigen(&a).unwrap();
        for t in [0.1, 1.0, 10.0] {
            let exp = move |x: f64| (-t * x).exp();
            let phi = move |x: f64| {
                if x == 0.0 {
                    t
                } else {
                    -(-t * x).exp_m1() / x
                }
            };
            let out = lanczos_apply(&a, &b, &[&exp, &phi], 1e-13).unwrap();
            assert!(out.iterations < n / 2, "t = {t}: {} steps", out.iterations);
            for (f, got) in [&exp as &dyn Fn(f64) -> f64, &phi]
                .iter()
                .zip(&out.products)
            {
                // Reference: V f(Λ) Vᵀ b.
                let p: Vec<f64> = (0..n)
                    .map(|k| (0..n).map(|i| v.get(i, k) * b[i]).sum::<f64>() * f(lam[k]))
                    .collect();
                let want: Vec<f64> = (0..n)
                    .map(|i| (0..n).map(|k| v.get(i, k) * p[k]).sum())
                    .collect();
                let scale =
                    super::super::norm(&b) * lam.iter().map(|&l| f(l).abs()).fold(0.0, f64::max);
                let err = super::super::distance(got, &want) / scale;
                assert!(
                    err < 1e-11,
                    "t = {t}: {err:e} after {} steps",
                    out.iterations
                );
            }
        }
    }

    #[test]
    fn invariant_subspaces_end_the_process_exactly() {
        // b in the span of three eigenvectors: three steps, exact.
        let n = 40;
        let values: Vec<f64> = (0..n).map(|k| 1.0 + k as f64).collect();
        let a = with_spectrum(&values, 3);
        let (lam, v) = symmetric_eigen(&a).unwrap();
        let b: Vec<f64> = (0..n)
            .map(|i| v.get(i, 2) + 2.0 * v.get(i, 7) - v.get(i, 30))
            .collect();
        let f = |x: f64| x.sqrt();
        let out = lanczos_apply(&a, &b, &[&f], 1e-13).unwrap();
        assert_eq!(out.iterations, 3);
        let want: Vec<f64> = (0..n)
            .map(|i| {
                lam[2].sqrt() * v.get(i, 2) + 2.0 * lam[7].sqrt() * v.get(i, 7)
                    - lam[30].sqrt() * v.get(i, 30)
            })
            .collect();
        assert!(super::super::distance(&out.products[0], &want) < 1e-12);
        // b = 0 gives zeros; a wrong length is an error.
        let zero = lanczos_apply(&a, &vec![0.0; n], &[&f], 1e-13).unwrap();
        assert!(zero.products[0].iter().all(|&x| x == 0.0));
        assert!(lanczos_apply(&a, &[1.0; 3], &[&f], 1e-13).is_err());
    }
}
