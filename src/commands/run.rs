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
