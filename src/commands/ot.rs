//! `gradflow ot`: the Wasserstein distance W_p(μ, ν) = (min_{P ∈ Π(a, b)} Σ_ij P_ij ‖x_i −
//! y_j‖^p)^{1/p} between two discrete measures, by the solver the settings name (see
//! [`crate::transport`]).

use crate::error::Result;
use crate::transport::{Measure, Report};
use std::path::Path;

/// The settings of `gradflow ot` — the library's [`crate::transport::Settings`]: `--method`,
/// `--p`, `--reg`, `--tol`, `--max-iter`, `--eps-scaling`, `--online`, `--divergence`,
/// `--projections`, `--seed`, and `plan` (set by `--plan FILE`). Its `validate()` owns the
/// checks.
pub use crate::transport::Settings as Request;

/// What `gradflow ot` computed.
#[derive(Clone, Debug)]
pub struct Output {
    /// The distance and what the method knows (the dense plan when asked).
    pub report: Report,
    /// `Some(message)` when the value cannot be trusted ([`Report::failure`]: a Sinkhorn run
    /// that did not converge or overflowed); the CLI then exits 3.
    pub failure: Option<String>,
}

/// W_p(`mu`, `nu`) by [`crate::transport::solve`] (the settings checked first). The measures
/// come from [`Measure::new`] (in memory) or [`Measure::read`] (NPY files).
pub fn run(request: &Request, mu: &Measure, nu: &Measure) -> Result<Output> {
    let report = crate::transport::solve(mu, nu, request)?;
    let failure = report.failure();
    Ok(Output { report, failure })
}

/// Writes the dense plan (n × m) to the NPY file `path` atomically, when the output has one
/// and can be trusted; returns whether it wrote. The plan leaves the output.
pub fn save_plan(output: &mut Output, path: &Path) -> Result<bool> {
    match (output.report.plan.take(), &output.failure) {
        (Some(plan), None) => {
            crate::data::io::write_npy_matrix(path, &plan)?;
            Ok(true)
        }
        _ => Ok(false),
    }
}

/// The JSON object `gradflow ot --json` prints: the report without the plan.
pub fn summary(output: &Output) -> Result<String> {
    serde_json::to_string(&output.report)
        .map_err(|e| crate::error::Error::invalid("--json", e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linalg::Matrix;
    use crate::transport::Method;

    fn cloud(name: &str, f: impl FnMut(usize, usize) -> f64) -> Measure {
        Measure::uniform(name, Matrix::from_fn(4, 2, f)).unwrap()
    }

    /// All permutations of 0..n.
    fn permutations(n: usize) -> Vec<Vec<usize>> {
        if n == 0 {
            return vec![Vec::new()];
        }
        let mut out = Vec::new();
        for p in permutations(n - 1) {
            for k in 0..n {
                let mut q = p.clone();
                q.insert(k, n - 1);
                out.push(q);
            }
        }
        out
    }

    #[test]
    fn exact_transport_between_uniform_clouds_is_the_best_permutation() {
        // Between uniform clouds of equal size an optimal plan is a permutation (Birkhoff), so
        // W_p^p = min_σ (1/n) Σ_i ‖x_i − y_σ(i)‖^p.
        let mu = cloud("x", |r, c| ((r * 2 + c) as f64 * 1.7).sin());
        let nu = cloud("y", |r, c| ((r * 2 + c) as f64 * 0.6).cos() + 0.3);
        for p in [1.0, 2.0, 3.0] {
            let cost = |s: &[usize]| -> f64 {
                (0..4)
                    .map(|i| {
                        let (a, b) = (mu.points.row(i), nu.points.row(s[i]));
                        let d2: f64 = a.iter().zip(b).map(|(u, v)| (u - v) * (u - v)).sum();
                        d2.sqrt().powf(p)
                    })
                    .sum::<f64>()
                    / 4.0
            };
            let perms = permutations(4);
            assert_eq!(perms.len(), 24);
            let best = perms.iter().map(|s| cost(s)).fold(f64::INFINITY, f64::min);
            let request = Request {
                plan: true,
                ..Request::new(Method::Exact, p)
            };
            let mut out = run(&request, &mu, &nu).unwrap();
            assert!(out.failure.is_none());
            let r = &out.report;
            assert!(
                (r.cost - best).abs() < 1e-12 * best,
                "p = {p}: {} vs {best}",
                r.cost
            );
            assert!((r.distance - best.powf(1.0 / p)).abs() < 1e-12);
            let sigma = r
                .assignment
                .clone()
                .expect("an assignment between equal uniform clouds");
            assert!((cost(&sigma) - best).abs() < 1e-12 * best);
            // The plan is that permutation, each entry 1/n.
            let dir =
                std::env::temp_dir().join(format!("gradflow-cmd-ot-{}-{p}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            let path = dir.join("plan.npy");
            assert!(save_plan(&mut out, &path).unwrap());
            let plan = crate::data::io::read_npy_matrix(&path).unwrap();
            for (i, &s) in sigma.iter().enumerate() {
                for j in 0..4 {
                    let want = if s == j { 0.25 } else { 0.0 };
                    assert!((plan.get(i, j) - want).abs() < 1e-15);
                }
            }
            let _ = std::fs::remove_dir_all(&dir);
        }
    }

    #[test]
    fn an_unconverged_sinkhorn_run_is_a_failure_and_writes_no_plan() {
        // 9 weighted points against 7: no permutation plan meets the marginals exactly.
        let points = |n, f: fn(f64) -> f64| Matrix::from_fn(n, 3, |r, c| f((r * 3 + c) as f64));
        let weights = (0..9).map(|i| 1.0 + i as f64).collect();
        let mu = Measure::new("x", points(9, |v| (1.7 * v).sin()), Some(weights)).unwrap();
        let nu = Measure::uniform("y", points(7, |v| (0.6 * v).cos() + 1.0)).unwrap();
        let request = Request {
            reg: Some(1e-3),
            max_iter: 3,
            plan: true,
            ..Request::new(Method::Sinkhorn, 2.0)
        };
        let mut out = run(&request, &mu, &nu).unwrap();
        let message = out
            .failure
            .clone()
            .unwrap_or_else(|| panic!("{:?}", out.report));
        assert!(message.contains("--max-iter"), "{message}");
        let path =
            std::env::temp_dir().join(format!("gradflow-cmd-ot-none-{}.npy", std::process::id()));
        assert!(!save_plan(&mut out, &path).unwrap());
        assert!(!path.exists());
        assert!(summary(&out).unwrap().contains("\"converged\":false"));
    }

    #[test]
    fn validation_errors_name_the_field() {
        let mu = cloud("x", |r, c| (r + c) as f64);
        let bad = |request: Request| run(&request, &mu, &mu).unwrap_err().to_string();
        let e = bad(Request::new(Method::Sinkhorn, 2.0));
        assert!(e.starts_with("invalid reg (ε):"), "{e}");
        let e = bad(Request::new(Method::Exact, 0.5));
        assert!(e.starts_with("invalid p:"), "{e}");
        let e = bad(Request {
            plan: true,
            ..Request::new(Method::Sliced, 2.0)
        });
        assert!(e.starts_with("invalid plan:"), "{e}");
        let e = bad(Request {
            projections: 0,
            ..Request::new(Method::Sliced, 2.0)
        });
        assert!(e.starts_with("invalid projections:"), "{e}");
    }
}
