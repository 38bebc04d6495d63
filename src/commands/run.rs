//! `gradflow run`: one experiment spec (TOML, [`crate::spec`]) — its trials trained, their
//! metrics, parameters and summary returned and, with an output folder, written there with a
//! report (figures and `report.html`).

use crate::error::{Error, Result};
use crate::spec::{RunOutcome, Spec, TrialOutcome};
use std::path::{Path, PathBuf};

/// The settings of `gradflow run`.
#[derive(Clone, Debug)]
pub struct Request {
    /// The experiment: the spec file's content ([`Spec::load`], or [`Spec::from_toml`] on
    /// text).
    pub spec: Spec,
    /// The folder the spec's relative data paths start from (the spec file's folder,
    /// [`crate::spec::base_dir`]).
    pub base: PathBuf,
    /// `--out`: the output folder (`metrics.csv`, `summary.json`, `params.npy`, checkpoints,
    /// the report); `None` writes nothing.
    pub out: Option<PathBuf>,
    /// `--resume`: continue each trial from its checkpoint in `out`.
    pub resume: bool,
}

impl Request {
    /// The request of `gradflow run SPEC [--out OUT] [--resume]`: the spec file read and
    /// parsed, its folder as the base, and `OUT` defaulting to the spec's name without its
    /// extension, in the current folder.
    pub fn from_file(spec: &Path, out: Option<PathBuf>, resume: bool) -> Result<Request> {
        let parsed = Spec::load(spec)?;
        let out = out.unwrap_or_else(|| {
            PathBuf::from(
                spec.file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_else(|| "run".into()),
            )
        });
        Ok(Request {
            spec: parsed,
            base: crate::spec::base_dir(spec),
            out: Some(out),
            resume,
        })
    }

    /// Checks what the request adds to its spec (the spec's own fields are checked as the
    /// run builds them, each error naming its table path): `resume` needs an output folder.
    pub fn validate(&self) -> Result<()> {
        if self.resume && self.out.is_none() {
            return Err(Error::invalid(
                "resume",
                "needs an output folder (--out), where the checkpoints are",
            ));
        }
        Ok(())
    }
}

/// Runs the spec ([`crate::spec::run`]). With an output folder, its files are written there
/// as the run goes, and the report after it — also after a divergence, which is then returned
/// as [`Error::Diverged`] (the metrics recorded before it are in the folder).
pub fn run(request: &Request) -> Result<RunOutcome> {
    request.validate()?;
    let out = request.out.as_deref();
    let outcome = crate::spec::run(&request.spec, &request.base, out, request.resume);
    if let (Some(dir), true) = (
        out,
        outcome.is_ok() || matches!(outcome, Err(Error::Diverged { .. })),
    ) {
        crate::report::run::write_run_report(dir)?;
    }
    outcome
}

/// The last recorded step and training loss of a trial (NaN when the table has no
/// `train_loss` column or no row).
pub fn last_step_and_loss(trial: &TrialOutcome) -> (f64, f64) {
    let step = trial
        .table
        .rows
        .last()
        .and_then(|r| r.first().copied())
        .unwrap_or(0.0);
    let loss = trial
        .table
        .column("train_loss")
        .ok()
        .and_then(|c| c.last().copied())
        .unwrap_or(f64::NAN);
    (step, loss)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Gradient descent on U(θ) = ½‖θ‖² (10 chains in ℝ³, step η = 0.25): θ_t = (1 − η)^t θ₀,
    /// so U(θ_t) = (1 − η)^{2t} U(θ₀) whatever θ₀.
    const SPEC: &str = r#"
[model]
kind = "potential"
potential = { kind = "quadratic", k = 1.0 }
dim = 3
chains = 10
start = [1.0, -2.0, 0.5]
init_std = 0.3
[[optimizer]]
kind = "sgd"
lr = 0.25
[train]
steps = 8
record_every = 1
"#;

    fn request(out: Option<PathBuf>, resume: bool) -> Request {
        Request {
            spec: Spec::from_toml(SPEC, Path::new("quadratic.toml")).unwrap(),
            base: PathBuf::from("."),
            out,
            resume,
        }
    }

    #[test]
    fn a_run_in_memory_follows_gradient_descent_on_a_quadratic() {
        let outcome = run(&request(None, false)).unwrap();
        assert_eq!(outcome.trials.len(), 1);
        let trial = &outcome.trials[0];
        let loss = trial.table.column("train_loss").unwrap();
        let steps = trial.table.column("step").unwrap();
        assert_eq!(steps.len(), 9);
        for (t, l) in steps.iter().zip(&loss) {
            let want = loss[0] * 0.75f64.powf(2.0 * t);
            assert!(
                (l - want).abs() < 1e-13 * loss[0],
                "step {t}: {l} vs {want}"
            );
        }
        assert_eq!(last_step_and_loss(trial), (8.0, *loss.last().unwrap()));
        assert_eq!(trial.params.len(), 30);
    }

    #[test]
    fn a_run_with_an_output_folder_writes_its_files_and_report() {
        let dir = std::env::temp_dir().join(format!("gradflow-cmd-run-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let outcome = run(&request(Some(dir.clone()), false)).unwrap();
        for file in ["metrics.csv", "summary.json", "params.npy", "report.html"] {
            assert!(dir.join(file).is_file(), "{file}");
        }
        let params = crate::data::io::read_npy_matrix(&dir.join("params.npy")).unwrap();
        assert_eq!(params.data, outcome.trials[0].params);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn resume_needs_an_output_folder() {
        let e = run(&request(None, true)).unwrap_err().to_string();
        assert!(e.starts_with("invalid resume:"), "{e}");
    }
}
