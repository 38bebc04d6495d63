//! `gradflow predict`: the predictions of the infinitely wide network trained by gradient flow
//! on the squared loss, at each requested time — f_t(X*) = f₀(X*) + Θ(X*, X) Θ⁻¹ (I − e^{−ηΘt/n})
//! (Y − f₀(X)) (see [`crate::kernel::dynamics::gradient_descent_mse`]); t = ∞ is kernel
//! regression, f₀(X*) + Θ(X*, X) Θ⁻¹ (Y − f₀(X)).

use super::{Cancel, Input};
use crate::error::{Error, Result};
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
    /// Checks the architecture ([`Network::validate`]), each time (t ≥ 0 or ∞) and the flow
    /// settings ([`FlowSettings::validate`]: η > 0, r ≥ 0); errors name the field.
    pub fn validate(&self) -> Result<()> {
        self.network.validate()?;
        if let Some(t) = self.times.iter().find(|t| t.is_nan() || **t < 0.0) {
            return Err(Error::invalid(
                "time",
                format!("expected t ≥ 0 or inf, got {t}"),
            ));
        }
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
/// `cancel` is polled before the kernels and before the flow.
pub fn run(
    request: &Request,
    x_train: &Input,
    y_train: &Input,
    x_test: &Input,
    f0: Option<Initial>,
    cancel: Cancel,
) -> Result<Predictions> {
    request.validate()?;
    for input in [x_train, x_test] {
        request.network.check_inputs(&input.name, &input.matrix)?;
    }
    cancel.check(|| "before the kernels".into())?;
    dynamics::predict(
        &request.network,
        request.kind,
        &x_train.matrix,
        &y_train.matrix,
        &x_test.matrix,
        f0.map(|f| (&f.train.matrix, &f.test.matrix)),
        &request.times,
        &request.flow,
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

/// The JSON summary `gradflow predict --json` prints (`times` as the user wrote them).
pub fn summary(
    request: &Request,
    predictions: &Predictions,
    out: &Path,
    shape: &[usize],
    times: &[String],
    n_train: usize,
) -> serde_json::Value {
    serde_json::json!({"out": out, "shape": shape, "kind": request.kind,
        "times": times, "n_train": n_train, "solver": predictions.solver,
        "krylov_steps": predictions.krylov_steps})
}
