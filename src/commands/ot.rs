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
