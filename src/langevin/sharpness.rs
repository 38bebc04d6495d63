//! Sharpness: the largest Hessian eigenvalue of an objective by Lanczos on finite-difference
//! Hessian–vector products.

use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::linalg;
use crate::rng::Seed;
use crate::train::{Objective, Workspace};

/// The sharpness of a point: the largest eigenvalue of the Hessian of the objective, by
/// `iterations` steps of Lanczos ([`linalg::Lanczos`]) on Hessian–vector products
/// H v ≈ (∇L(x + h v) − ∇L(x − h v)) / (2h), h = 1e-5 (‖v‖ = 1), started from a seeded random
/// vector; the largest Ritz value of the tridiagonal matrix.
pub fn sharpness(
    objective: &Objective<'_>,
    data: &Dataset,
    params: &[f64],
    iterations: usize,
    seed: Seed,
) -> Result<f64> {
    objective.model.check_params("sharpness", params)?;
    let p = params.len();
    if p == 0 {
        return Err(Error::shape("sharpness", "a model without parameters"));
    }
    let k = iterations.clamp(1, p);
    let mut ws = Workspace::default();
    let (mut plus, mut minus, mut gp, mut gm) =
        (vec![0.0; p], vec![0.0; p], vec![0.0; p], vec![0.0; p]);
    let h = 1e-5;
    let mut hvp = |v: &[f64], out: &mut [f64]| {
        for i in 0..p {
            plus[i] = params[i] + h * v[i];
            minus[i] = params[i] - h * v[i];
        }
        objective.value_and_gradient(&plus, data, &mut ws, &mut gp);
        objective.value_and_gradient(&minus, data, &mut ws, &mut gm);
        for i in 0..p {
            out[i] = (gp[i] - gm[i]) / (2.0 * h);
        }
    };
    let mut v = vec![0.0; p];
    seed.stream("lanczos", 0).fill_normal(&mut v, 1.0);
    let mut process = linalg::Lanczos::new(&v).ok_or_else(|| {
        Error::invalid("sharpness", "the random start vector is zero or not finite")
    })?;
    loop {
        let (m, invariant) = process.advance(&mut hvp);
        if m == k || invariant {
            break;
        }
        process.accept();
    }
    let t = process.tridiagonal();
    Ok(*linalg::symmetric_eigenvalues(&t)?
        .last()
        .unwrap_or(&f64::NAN))
}
