//! Gradient flow at finite times over the ranks: the single-process Krylov route
//! ([`crate::kernel::dynamics`], `--solver krylov`) with the row-distributed product of
//! [`super::operator`]. For each output column r of R = Y − f₀(X), one Lanczos basis
//! ([`crate::linalg::lanczos_apply_operator`], full reorthogonalisation, tolerance
//! [`KRYLOV_TOLERANCE`]) gives e^{−aΘ} r and g(Θ) r, g(λ) = (1 − e^{−aλ})/λ, for every time at
//! once, a = ηt/(nk).
//!
//! Every step's product is row i ↦ dot8(row i of Θ + λI, q) whichever rank holds row i, and
//! the rest of the process (inner products, reorthogonalisation, the tridiagonal's
//! eigendecomposition) runs on every rank over whole vectors in the single-process order, so
//! the results do not depend on P and equal the single-process Krylov ones bit for bit.

use super::operator::Operator;
use crate::commands::Cancel;
use crate::error::Result;
use crate::kernel::blocks::BlockKernel;
use crate::kernel::dynamics::{DecayAndCoefficients, FlowSettings, KRYLOV_TOLERANCE};
use crate::linalg::{lanczos_apply_operator, Matrix};

/// (e^{−aΘ} R, g(Θ) R) for each of `times` (finite), a = η t/(nk), with Θ + λI the
/// `operator`; also the Krylov dimension reached per output column. Collective. `cancel` is
/// polled before each product.
pub fn krylov_pairs<K: BlockKernel>(
    operator: &mut Operator<'_, K>,
    residual: &Matrix,
    times: &[f64],
    flow: &FlowSettings,
    cancel: Cancel,
) -> Result<(Vec<DecayAndCoefficients>, Vec<usize>)> {
    let normalization = (residual.rows * residual.cols) as f64;
    let rate = flow.learning_rate / normalization;
    let mut steps = 0;
    crate::kernel::dynamics::krylov_pairs(
        |column, functions| {
            let product = |q: &[f64], w: &mut [f64]| {
                cancel.check(|| format!("after {steps} Lanczos steps"))?;
                steps += 1;
                operator.matvec(q, w)
            };
            lanczos_apply_operator(product, column, functions, KRYLOV_TOLERANCE)
        },
        residual,
        times,
        rate,
    )
}

#[cfg(test)]
mod tests {
    use super::super::{krr, Local};
    use crate::commands::predict::{Initial, Request};
    use crate::commands::{Cancel, Input};
    use crate::kernel::dynamics::{predict_with, FlowSettings, Solver};
    use crate::linalg::Matrix;

    /// The largest |a − b| over the largest |b|.
    fn relative_gap(a: &Matrix, b: &Matrix) -> f64 {
        let scale = b.data.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let gap = a
            .data
            .iter()
            .zip(&b.data)
            .fold(0.0f64, |m, (u, v)| m.max((u - v).abs()));
        gap / scale
    }

    /// At finite times (and t = ∞ beside them), with stored rows and matrix-free, the route
    /// over the ranks gives the single-process Krylov predictions: the training ones bit for
    /// bit, the test ones within 1e-12 relative (another summation order of Θ(X*, X) C); and
    /// both agree with the eigendecomposition route (an independent evaluation of e^{−aΘ} and
    /// g(Θ)) within 1e-9 relative.
    #[test]
    fn finite_times_are_the_single_process_krylov_predictions() {
        let x = Matrix::from_fn(41, 3, |i, j| ((i * 7 + j * 3) as f64 * 0.37).sin());
        let y = Matrix::from_fn(41, 2, |i, j| (x.get(i, 0) * (j + 1) as f64).cos());
        let xt = Matrix::from_fn(7, 3, |i, j| ((i * 5 + j * 11) as f64 * 0.23).cos());
        let (f0, f0t) = (
            Matrix::from_fn(41, 2, |i, j| 0.1 * ((i + j) as f64).sin()),
            Matrix::from_fn(7, 2, |i, j| 0.1 * ((i * j) as f64).cos()),
        );
        let inputs = [
            ("x", &x),
            ("y", &y),
            ("xt", &xt),
            ("f0", &f0),
            ("f0t", &f0t),
        ]
        .map(|(name, m)| Input::new(name, m.clone()).unwrap());
        let [xi, yi, xti, f0i, f0ti] = &inputs;
        let initial = Initial {
            train: f0i,
            test: f0ti,
        };
        let times = vec![0.5, 40.0, 2000.0, f64::INFINITY];
        let flow = |solver| FlowSettings {
            diag_reg: 1e-3,
            solver,
            ..FlowSettings::default()
        };
        let request = Request {
            times: times.clone(),
            flow: flow(Solver::Krylov),
            ..Request::default()
        };
        let single = |solver| {
            let (network, kind) = (&request.network, request.kind);
            let f0 = Some((&f0, &f0t));
            predict_with(
                network,
                kind,
                &x,
                &y,
                &xt,
                f0,
                &times,
                &flow(solver),
                |_| Ok(()),
            )
            .unwrap()
        };
        let (krylov, eigen) = (single(Solver::Krylov), single(Solver::Eigen));
        for matrix_free in [false, true] {
            let settings = krr::Settings {
                matrix_free,
                block_rows: 6,
                cg: super::super::pcg::Settings {
                    tolerance: 1e-13,
                    max_iterations: 500,
                },
                ..krr::Settings::default()
            };
            let solution = krr::predict(
                &Local,
                &request,
                &settings,
                xi,
                yi,
                xti,
                Some(initial),
                Cancel::NEVER,
            )
            .unwrap();
            let p = &solution.predictions;
            assert_eq!(p.krylov_steps, krylov.krylov_steps);
            for t in 0..3 {
                let bits = |m: &Matrix| m.data.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&p.train[t]), bits(&krylov.train[t]), "time {t}");
                let gap = relative_gap(&p.test[t], &krylov.test[t]);
                assert!(gap <= 1e-12, "time {t}: test predictions {gap:e} apart");
                for (a, b) in [(&p.train[t], &eigen.train[t]), (&p.test[t], &eigen.test[t])] {
                    let gap = relative_gap(a, b);
                    assert!(gap <= 1e-9, "time {t}: {gap:e} from the eigen route");
                }
            }
            // t = ∞ by CG against the Cholesky solve.
            let gap = relative_gap(&p.test[3], &krylov.test[3]);
            assert!(gap <= 1e-8, "t = inf: {gap:e} from Cholesky");
            assert!(solution.report.iterations.iter().all(|&i| i >= 1));
        }
    }
}
