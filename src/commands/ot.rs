//! `gradflow ot`: the Wasserstein distance W_p(μ, ν) = (min_{P ∈ Π(a, b)} Σ_ij P_ij ‖x_i −
//! y_j‖^p)^{1/p} between two discrete measures, by the solver the settings name (see
//! [`crate::transport`]).

use super::Cancel;
use crate::error::Result;
use crate::transport::{Measure, Report, Solution};
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

/// W_p(`mu`, `nu`) by [`crate::transport::solve_with`] (the settings checked first). The
/// measures come from [`Measure::new`] (in memory) or [`Measure::read`] (NPY files). `cancel`
/// is polled in the solvers' loops.
pub fn run(request: &Request, mu: &Measure, nu: &Measure, cancel: Cancel) -> Result<Output> {
    let report = crate::transport::solve_with(mu, nu, request, cancel)?;
    let failure = report.failure();
    Ok(Output { report, failure })
}

/// What [`run_costs`] computed.
#[derive(Clone, Debug)]
pub struct CostsOutput {
    /// The solver's plan and potentials.
    pub solution: Solution,
    /// The values and what the method knows (no plan: it is in `solution`).
    pub report: Report,
    /// As [`Output::failure`].
    pub failure: Option<String>,
}

/// The exact or dense Sinkhorn problem on the cost matrix `c` with weights `a`, `b`
/// ([`crate::transport::solve_costs`]): the same solvers, checks and verdict as [`run`] on
/// points, for a front end whose user gives the costs (POT's `emd(a, b, M)`). `c` is read
/// where it is (a [`crate::linalg::MatrixView`] of the caller's array: no copy).
pub fn run_costs<'a>(
    request: &Request,
    a: &[f64],
    b: &[f64],
    c: impl Into<crate::linalg::MatrixView<'a>>,
    cancel: Cancel,
) -> Result<CostsOutput> {
    let (solution, report) = crate::transport::solve_costs(a, b, c, request, cancel)?;
    let failure = report.failure();
    Ok(CostsOutput {
        solution,
        report,
        failure,
    })
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
            let mut out = run(&request, &mu, &nu, Cancel::NEVER).unwrap();
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
    fn a_cost_matrix_gives_the_values_of_the_points_it_came_from() {
        // The same problem through run (points) and run_costs (their cost matrix ‖x − y‖²).
        let mu = cloud("x", |r, c| ((r * 2 + c) as f64 * 1.7).sin());
        let nu = cloud("y", |r, c| ((r * 2 + c) as f64 * 0.6).cos() + 0.3);
        let c = crate::transport::cost_matrix(
            &mu.points,
            &nu.points,
            crate::transport::GroundCost::for_order(2.0).unwrap(),
        )
        .unwrap();
        let sinkhorn = Request {
            reg: Some(0.5),
            ..Request::new(Method::Sinkhorn, 2.0)
        };
        for request in [Request::new(Method::Exact, 2.0), sinkhorn] {
            let points = run(&request, &mu, &nu, Cancel::NEVER).unwrap();
            let costs = run_costs(&request, &mu.weights, &nu.weights, &c, Cancel::NEVER).unwrap();
            assert!(points.failure.is_none() && costs.failure.is_none());
            let (a, b) = (&points.report, &costs.report);
            assert_eq!(
                (a.cost, a.entropic, a.iterations),
                (b.cost, b.entropic, b.iterations)
            );
            assert_eq!((b.n, b.m, b.dim), (4, 4, 0));
            match (&costs.solution, request.method) {
                (Solution::Exact(s), Method::Exact) => assert_eq!(s.cost, a.cost),
                (Solution::Sinkhorn(s), Method::Sinkhorn) => assert_eq!(s.cost, a.cost),
                (s, m) => panic!("{m}: {s:?}"),
            }
        }
        let e = run_costs(
            &Request::new(Method::Sliced, 2.0),
            &mu.weights,
            &nu.weights,
            &c,
            Cancel::NEVER,
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("invalid method:"), "{e}");
    }

    #[test]
    fn the_solvers_stop_when_the_hook_fires() {
        // The hook fires at its third poll: Sinkhorn polls every iteration, the simplex every
        // 64 pivots (a 60-point problem takes more than 128).
        let polls = std::sync::atomic::AtomicUsize::new(0);
        let hook = || polls.fetch_add(1, std::sync::atomic::Ordering::Relaxed) >= 2;
        let points = |n, f: fn(f64) -> f64| Matrix::from_fn(n, 2, |r, c| f((r * 2 + c) as f64));
        let mu = Measure::uniform("x", points(60, |v| (1.7 * v).sin())).unwrap();
        let nu = Measure::uniform("y", points(60, |v| (0.6 * v).cos())).unwrap();
        let sinkhorn = Request {
            reg: Some(1e-3),
            tol: 1e-300,
            ..Request::new(Method::Sinkhorn, 2.0)
        };
        let online = Request {
            online: true,
            ..sinkhorn.clone()
        };
        for (request, at) in [
            (Request::new(Method::Exact, 2.0), "interrupted after "),
            (sinkhorn, "interrupted at Sinkhorn iteration "),
            (online, "interrupted at online Sinkhorn iteration 3"),
        ] {
            polls.store(0, std::sync::atomic::Ordering::Relaxed);
            let e = run(&request, &mu, &nu, Cancel::new(&hook)).unwrap_err();
            assert_eq!(e.exit_code(), 130);
            assert!(e.to_string().starts_with(at), "{e}");
        }
        let e = run(
            &Request::new(Method::Exact, 2.0),
            &mu,
            &nu,
            Cancel::new(&hook),
        );
        assert!(e
            .unwrap_err()
            .to_string()
            .contains("network-simplex pivots"));
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
        let mut out = run(&request, &mu, &nu, Cancel::NEVER).unwrap();
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
        let bad = |request: Request| {
            run(&request, &mu, &mu, Cancel::NEVER)
                .unwrap_err()
                .to_string()
        };
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
