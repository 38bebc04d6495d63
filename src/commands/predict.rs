//! `gradflow predict`: the predictions of the infinitely wide network trained by gradient flow
//! on the squared loss, at each requested time — f_t(X*) = f₀(X*) + Θ(X*, X) Θ⁻¹ (I − e^{−ηΘt/n})
//! (Y − f₀(X)) (see [`crate::kernel::dynamics::gradient_descent_mse`]); t = ∞ is kernel
//! regression, f₀(X*) + Θ(X*, X) Θ⁻¹ (Y − f₀(X)).

use super::{Cancel, Input, InputView};
use crate::error::Result;
use crate::kernel::analytic::Network;
use crate::kernel::dynamics::{self, FlowSettings, Predictions};
use crate::kernel::Kind;
use crate::linalg::Matrix;
use std::path::Path;

/// The settings of `gradflow predict`.
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    /// The architecture: `--depth`, `--activation`, `--w-std`, `--b-std`,
    /// `--parameterization`, `--width`, `--quadrature-degree`.
    pub network: Network,
    /// `--kind`: train with the NTK Θ (gradient flow) or the NNGP kernel K.
    pub kind: Kind,
    /// `--time`: the times t ≥ 0 (`f64::INFINITY` for t = ∞).
    pub times: Vec<f64>,
    /// `--learning-rate` η, `--diag-reg` r, `--diag-reg-absolute`, `--solver`.
    pub flow: FlowSettings,
}

impl Default for Request {
    /// The CLI's defaults: [`super::kernel::default_network`], the NTK, t = ∞ only, η = 1, no
    /// regularisation, the automatic solver.
    fn default() -> Request {
        Request {
            network: super::kernel::default_network(),
            kind: Kind::Ntk,
            times: vec![f64::INFINITY],
            flow: FlowSettings::default(),
        }
    }
}

impl Request {
    /// Checks the architecture ([`Network::validate`]), each time ([`dynamics::check_times`]:
    /// t ≥ 0 or ∞) and the flow settings ([`FlowSettings::validate`]: η > 0, r ≥ 0); errors
    /// name the field.
    pub fn validate(&self) -> Result<()> {
        self.network.validate()?;
        dynamics::check_times(&self.times)?;
        self.flow.validate()
    }
}

/// The initial outputs f₀ on the training and the test inputs (default: zero).
#[derive(Clone, Copy, Debug)]
pub struct Initial<'a> {
    /// f₀(X), n × k (`--f0-train`).
    pub train: &'a Input,
    /// f₀(X*), n* × k (`--f0-test`).
    pub test: &'a Input,
}

/// The predictions at each time of `request.times` on the test inputs (and the training
/// inputs) of the network trained on (`x_train`, `y_train`) from `f0` (zero when `None`).
/// `cancel` is polled before each kernel and before the flow
/// ([`dynamics::predict_with`]).
pub fn run(
    request: &Request,
    x_train: &Input,
    y_train: &Input,
    x_test: &Input,
    f0: Option<Initial>,
    cancel: Cancel,
) -> Result<Predictions> {
    run_view(request, x_train.view(), y_train, x_test.view(), f0, cancel)
}

/// [`run`] reading the training and test inputs in place from their owner (no copy of them
/// is made; the targets and initial outputs, n × k, are owned).
pub fn run_view(
    request: &Request,
    x_train: InputView,
    y_train: &Input,
    x_test: InputView,
    f0: Option<Initial>,
    cancel: Cancel,
) -> Result<Predictions> {
    request.validate()?;
    for input in [x_train, x_test] {
        request.network.check_inputs(input.name, input.matrix)?;
    }
    dynamics::predict_with(
        &request.network,
        request.kind,
        x_train.matrix,
        &y_train.matrix,
        x_test.matrix,
        f0.map(|f| (&f.train.matrix, &f.test.matrix)),
        &request.times,
        &request.flow,
        |stage| cancel.check(|| format!("before {stage}")),
    )
}

/// The predictions at all times as one C-order array (times × rows × outputs) and its shape.
pub fn stack(predictions: &[Matrix]) -> (Vec<usize>, Vec<f64>) {
    let (r, c) = predictions.first().map_or((0, 0), |m| (m.rows, m.cols));
    (
        vec![predictions.len(), r, c],
        predictions
            .iter()
            .flat_map(|m| m.data.iter().copied())
            .collect(),
    )
}

/// Writes the test predictions to the NPY file `out` (and the training predictions to
/// `out_train`), each stacked by [`stack`], atomically; returns the test array's shape.
pub fn save(predictions: &Predictions, out: &Path, out_train: Option<&Path>) -> Result<Vec<usize>> {
    let write = |path: &Path, ms: &[Matrix]| -> Result<Vec<usize>> {
        let (shape, data) = stack(ms);
        crate::data::io::write_atomic(path, &crate::data::io::npy_bytes(&shape, &data))?;
        Ok(shape)
    };
    let shape = write(out, &predictions.test)?;
    if let Some(path) = out_train {
        write(path, &predictions.train)?;
    }
    Ok(shape)
}

/// The JSON summary `gradflow predict --json` prints (`times` as the user wrote them; `net`:
/// the NET.toml of `--net`, named as `"net"`).
pub fn summary(
    kind: Kind,
    net: Option<&Path>,
    predictions: &Predictions,
    out: &Path,
    shape: &[usize],
    times: &[String],
    n_train: usize,
) -> serde_json::Value {
    let mut summary = serde_json::json!({"out": out, "shape": shape, "kind": kind,
        "times": times, "n_train": n_train, "solver": predictions.solver,
        "krylov_steps": predictions.krylov_steps});
    if let Some(net) = net {
        summary["net"] = serde_json::json!(net);
    }
    summary
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::kernel;

    fn input(name: &str, rows: usize, cols: usize, f: impl FnMut(usize, usize) -> f64) -> Input {
        Input::new(name, Matrix::from_fn(rows, cols, f)).unwrap()
    }

    /// A⁻¹B by Gauss–Jordan elimination with partial pivoting (independent of the library's
    /// Cholesky and eigensolvers).
    fn solve(a: &Matrix, b: &Matrix) -> Matrix {
        let (n, k) = (a.rows, b.cols);
        let mut m = Matrix::from_fn(
            n,
            n + k,
            |r, c| if c < n { a.get(r, c) } else { b.get(r, c - n) },
        );
        for col in 0..n {
            let p = (col..n)
                .max_by(|&i, &j| m.get(i, col).abs().total_cmp(&m.get(j, col).abs()))
                .unwrap();
            for c in 0..n + k {
                let (u, v) = (m.get(col, c), m.get(p, c));
                m.set(col, c, v);
                m.set(p, c, u);
            }
            let pivot = m.get(col, col);
            for c in 0..n + k {
                m.set(col, c, m.get(col, c) / pivot);
            }
            for r in (0..n).filter(|&r| r != col) {
                let f = m.get(r, col);
                for c in 0..n + k {
                    m.set(r, c, m.get(r, c) - f * m.get(col, c));
                }
            }
        }
        Matrix::from_fn(n, k, |r, c| m.get(r, n + c))
    }

    fn close(a: &Matrix, b: &Matrix, tol: f64) {
        let scale = b.data.iter().fold(1.0f64, |s, v| s.max(v.abs()));
        for (u, v) in a.data.iter().zip(&b.data) {
            assert!((u - v).abs() < tol * scale, "{u} vs {v}\n{a:?}\n{b:?}");
        }
    }

    struct Problem {
        request: Request,
        x: Input,
        y: Input,
        xt: Input,
        f0: Input,
        f0t: Input,
    }

    fn problem() -> Problem {
        let mut request = Request {
            times: vec![0.0, 0.7, 3.0, f64::INFINITY],
            ..Request::default()
        };
        request.network.depth = 2;
        request.network.b_std = Some(0.4);
        request.flow.learning_rate = 1.5;
        Problem {
            request,
            x: input("x", 5, 3, |r, c| ((r * 3 + c) as f64 * 0.71).sin()),
            y: input("y", 5, 2, |r, c| ((r * 2 + c) as f64 * 1.3).cos()),
            xt: input("xt", 3, 3, |r, c| ((r * 3 + c) as f64 * 0.29).cos()),
            f0: input("f0", 5, 2, |r, c| 0.1 * (r as f64 - c as f64)),
            f0t: input("f0t", 3, 2, |r, c| 0.05 * (r + c) as f64),
        }
    }

    /// Θ(a, b) by the kernel command (checked against its closed form there).
    fn theta(request: &Request, a: &Input, b: Option<&Input>) -> Matrix {
        let k = kernel::Request {
            network: request.network.clone(),
            kind: request.kind,
            ..kernel::Request::default()
        };
        kernel::run(&k, a, b, Cancel::NEVER).unwrap()
    }

    #[test]
    fn at_infinity_the_prediction_is_the_kernel_regression_solve() {
        let p = problem();
        let f0 = Initial {
            train: &p.f0,
            test: &p.f0t,
        };
        let out = run(&p.request, &p.x, &p.y, &p.xt, Some(f0), Cancel::NEVER).unwrap();
        let k = theta(&p.request, &p.x, None);
        let kt = theta(&p.request, &p.xt, Some(&p.x));
        let residual = Matrix::from_fn(5, 2, |r, c| p.y.matrix.get(r, c) - p.f0.matrix.get(r, c));
        let alpha = solve(&k, &residual);
        let mut want = kt.matmul(&alpha).unwrap();
        for (w, f) in want.data.iter_mut().zip(&p.f0t.matrix.data) {
            *w += f;
        }
        close(&out.test[3], &want, 1e-10);
        close(&out.train[3], &p.y.matrix, 1e-10);
        // t = 0: the initial outputs.
        close(&out.test[0], &p.f0t.matrix, 1e-14);
        close(&out.train[0], &p.f0.matrix, 1e-14);
    }

    #[test]
    fn finite_times_follow_the_gradient_flow_ode() {
        // df/dt = −(η/N) Θ (f − y) on the training inputs, df*/dt = −(η/N) Θ(X*, X) (f − y),
        // N = n·k, integrated by RK4 from f₀ = 0.
        let p = problem();
        let out = run(&p.request, &p.x, &p.y, &p.xt, None, Cancel::NEVER).unwrap();
        let (k, kt) = (
            theta(&p.request, &p.x, None),
            theta(&p.request, &p.xt, Some(&p.x)),
        );
        let rate = p.request.flow.learning_rate / 10.0;
        let y = &p.y.matrix;
        // The state: training outputs (5 × 2) then test outputs (3 × 2).
        let deriv = |f: &[f64]| -> Vec<f64> {
            let r = Matrix::from_fn(5, 2, |i, c| f[i * 2 + c] - y.get(i, c));
            let a = k.matmul(&r).unwrap();
            let b = kt.matmul(&r).unwrap();
            a.data.iter().chain(&b.data).map(|v| -rate * v).collect()
        };
        let mut f = vec![0.0; 16];
        let mut t = 0.0;
        for (ti, &target) in [0.7, 3.0].iter().enumerate() {
            let steps = 4000;
            let h = (target - t) / steps as f64;
            for _ in 0..steps {
                let k1 = deriv(&f);
                let at = |k: &[f64], s: f64| -> Vec<f64> {
                    f.iter().zip(k).map(|(a, b)| a + s * b).collect()
                };
                let k2 = deriv(&at(&k1, h / 2.0));
                let k3 = deriv(&at(&k2, h / 2.0));
                let k4 = deriv(&at(&k3, h));
                for i in 0..16 {
                    f[i] += h / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i]);
                }
            }
            t = target;
            let train = Matrix::from_vec(5, 2, f[..10].to_vec()).unwrap();
            let test = Matrix::from_vec(3, 2, f[10..].to_vec()).unwrap();
            close(&out.train[ti + 1], &train, 1e-10);
            close(&out.test[ti + 1], &test, 1e-10);
        }
    }

    #[test]
    fn stack_and_save_write_times_by_rows_by_outputs() {
        let p = problem();
        let out = run(&p.request, &p.x, &p.y, &p.xt, None, Cancel::NEVER).unwrap();
        let (shape, data) = stack(&out.test);
        assert_eq!(shape, vec![4, 3, 2]);
        assert_eq!(data[2 * 6 + 2 * 2 + 1], out.test[2].get(2, 1));
        let dir = std::env::temp_dir().join(format!("gradflow-cmd-predict-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (a, b) = (dir.join("p.npy"), dir.join("pt.npy"));
        assert_eq!(save(&out, &a, Some(&b)).unwrap(), shape);
        let back = crate::data::io::read_npy(&a).unwrap();
        assert_eq!((back.shape, back.data), (shape, data));
        assert_eq!(crate::data::io::read_npy(&b).unwrap().shape, vec![4, 5, 2]);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_cancelled_prediction_stops_before_its_next_stage() {
        let p = problem();
        let polls = std::sync::atomic::AtomicUsize::new(0);
        let hook = || polls.fetch_add(1, std::sync::atomic::Ordering::Relaxed) >= 2;
        let e = run(&p.request, &p.x, &p.y, &p.xt, None, Cancel::new(&hook)).unwrap_err();
        assert_eq!(e.to_string(), "interrupted before the flow");
    }

    #[test]
    fn validation_errors_name_the_field() {
        let p = problem();
        let bad = |request: &Request, y: &Input| {
            run(request, &p.x, y, &p.xt, None, Cancel::NEVER)
                .unwrap_err()
                .to_string()
        };
        for t in [-1.0, f64::NAN] {
            let mut r = p.request.clone();
            r.times = vec![1.0, t];
            assert!(bad(&r, &p.y).starts_with("invalid time:"), "{t}");
        }
        let mut r = p.request.clone();
        r.flow.learning_rate = 0.0;
        assert!(bad(&r, &p.y).starts_with("invalid learning_rate:"));
        r = p.request.clone();
        r.flow.diag_reg = -1.0;
        assert!(bad(&r, &p.y).starts_with("invalid diag_reg:"));
        r = p.request.clone();
        r.network.quadrature_degree = 0;
        assert!(bad(&r, &p.y).starts_with("invalid quadrature_degree:"));
        assert!(bad(&p.request, &p.f0t).starts_with("shape mismatch in predict:"));
    }
}
