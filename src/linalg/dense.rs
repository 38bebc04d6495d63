//! Dense factorizations over faer: symmetric eigendecomposition, Cholesky solves, least squares.

use super::*;

/// The number of pieces faer's factorizations split their work into. faer's solvers read one
/// global setting, by default `Par::rayon(0)` — as many pieces as the pool has threads — which
/// makes the rounding of a decomposition depend on the thread count. A fixed count keeps them
/// parallel and bit-identical whatever `--threads` is.
const FACTORIZATION_TASKS: usize = 8;

/// Fixes faer's global parallelism (see [`FACTORIZATION_TASKS`]) before a factorization.
fn fixed_parallelism() {
    faer::set_global_parallelism(Par::rayon(FACTORIZATION_TASKS));
}

/// Eigendecomposition of a symmetric matrix: eigenvalues ascending, eigenvectors as the
/// columns of the returned matrix (row-major n × n).
pub fn symmetric_eigen(a: &Matrix) -> Result<(Vec<f64>, Matrix)> {
    let evd = factorized("symmetric_eigen", a, |a| {
        a.self_adjoint_eigen(faer::Side::Lower)
    })?;
    let s = evd.S();
    let u = evd.U();
    let n = a.rows;
    let values = (0..n).map(|i| s[i]).collect();
    let vectors = Matrix::from_fn(n, n, |i, j| u[(i, j)]);
    Ok((values, vectors))
}

/// Eigenvalues (ascending) of a symmetric matrix.
pub fn symmetric_eigenvalues(a: &Matrix) -> Result<Vec<f64>> {
    factorized("symmetric_eigenvalues", a, |a| {
        a.self_adjoint_eigenvalues(faer::Side::Lower)
    })
}

/// `factor(A)` for a square `a` under the fixed parallelism ([`fixed_parallelism`]), with
/// faer's error as a numerical failure of `routine`.
fn factorized<T, E: std::fmt::Debug>(
    routine: &str,
    a: &Matrix,
    factor: impl FnOnce(MatRef<'_, f64>) -> std::result::Result<T, E>,
) -> Result<T> {
    square(routine, a)?;
    fixed_parallelism();
    let result = factor(a.view()).map_err(|e| Error::Numerical {
        routine: routine.into(),
        message: format!("{e:?}"),
    });
    clear_upper_vector_state();
    result
}

/// Solves A X = B for symmetric positive definite A by Cholesky (A = L Lᵀ).
pub fn cholesky_solve(a: &Matrix, b: &Matrix) -> Result<Matrix> {
    Ok(cholesky_solve_with_pivots(a, b)?.0)
}

/// [`cholesky_solve`], also returning the relative size of the smallest Cholesky pivot,
/// min_i L_ii² / max_i A_ii: a cheap condition estimate. Each pivot L_ii² is the Schur
/// complement 1/(A_{1..i}⁻¹)_ii ≥ λ_min(A), and max_i A_ii ≤ λ_max(A), so the ratio is at least
/// λ_min/λ_max; a ratio near the rounding unit ε means A is singular to working precision
/// (a repeated row gives a pivot of rounding size).
pub fn cholesky_solve_with_pivots(a: &Matrix, b: &Matrix) -> Result<(Matrix, f64)> {
    square("cholesky_solve", a)?;
    if b.rows != a.rows {
        return Err(Error::shape(
            "cholesky_solve",
            format!("A is {}×{}, B has {} rows", a.rows, a.cols, b.rows),
        ));
    }
    fixed_parallelism();
    let llt = a
        .view()
        .llt(faer::Side::Lower)
        .map_err(|e| Error::Numerical {
            routine: "cholesky_solve".into(),
            message: format!("matrix is not positive definite ({e:?})"),
        })?;
    let factor = llt.L();
    let min_pivot = (0..a.rows)
        .map(|i| factor[(i, i)] * factor[(i, i)])
        .fold(f64::INFINITY, f64::min);
    let max_diag = (0..a.rows).map(|i| a.get(i, i)).fold(0.0f64, f64::max);
    let ratio = if max_diag > 0.0 {
        min_pivot / max_diag
    } else {
        0.0
    };
    let x = llt.solve(b.view());
    clear_upper_vector_state();
    Ok((Matrix::from_fn(b.rows, b.cols, |i, j| x[(i, j)]), ratio))
}

/// Least-squares solution of min_X ‖A X − B‖_F (A of full column rank), by the normal
/// equations AᵀA X = AᵀB with a Cholesky factorization.
pub fn least_squares(a: &Matrix, b: &Matrix) -> Result<Matrix> {
    let mut ata = Matrix::zeros(a.cols, a.cols);
    gemm(&mut ata, 0.0, a.view().transpose(), a.view(), 1.0);
    let mut atb = Matrix::zeros(a.cols, b.cols);
    gemm(&mut atb, 0.0, a.view().transpose(), b.view(), 1.0);
    cholesky_solve(&ata, &atb)
}

pub(crate) fn square(routine: &str, a: &Matrix) -> Result<()> {
    if a.rows != a.cols {
        return Err(Error::shape(
            routine,
            format!("expected a square matrix, got {}×{}", a.rows, a.cols),
        ));
    }
    Ok(())
}
