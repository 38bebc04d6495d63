//! `gradflow run`: one experiment spec (TOML, [`crate::spec`]) — its trials trained, their
//! metrics, parameters and summary returned and, with an output folder, written there with a
//! report (figures and `report.html`).

use super::Cancel;
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
/// `cancel` is polled before every training step ([`crate::spec::run_with`]).
pub fn run(request: &Request, cancel: Cancel) -> Result<RunOutcome> {
    run_on(request, cancel, None)
}

/// [`run`] on the ranks of `comm` when given (`mpirun -n P gradflow run`): the model's neurons
/// sharded over the ranks ([`crate::spec::run_on`]); rank 0 alone writes the files and the
/// report.
pub fn run_on(
    request: &Request,
    cancel: Cancel,
    comm: Option<&dyn crate::distributed::Communicator>,
) -> Result<RunOutcome> {
    request.validate()?;
    let out = request.out.as_deref();
    let outcome = crate::spec::run_on(
        &request.spec,
        &request.base,
        out,
        request.resume,
        cancel,
        comm,
    );
    let out = out.filter(|_| comm.is_none_or(|c| c.rank() == 0));
    if let (Some(dir), true) = (
        out,
        outcome.is_ok() || matches!(outcome, Err(Error::Diverged { .. })),
    ) {
        crate::report::run::write_run_report(dir)?;
    }
    // The other ranks of a sharded run wait for rank 0's files: a rank's error (a divergence
    // included) ends the whole job, and must not end it while rank 0 is still writing.
    if let Some(c) = comm {
        c.barrier();
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
        let outcome = run(&request(None, false), Cancel::NEVER).unwrap();
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
        let outcome = run(&request(Some(dir.clone()), false), Cancel::NEVER).unwrap();
        for file in ["metrics.csv", "summary.json", "params.npy", "report.html"] {
            assert!(dir.join(file).is_file(), "{file}");
        }
        let params = crate::data::io::read_npy_matrix(&dir.join("params.npy")).unwrap();
        assert_eq!(params.data, outcome.trials[0].params);
        assert_eq!(params, outcome.params());
        // The files are the outcome's tables: what a caller without a folder gets.
        let csv = std::fs::read_to_string(dir.join("metrics.csv")).unwrap();
        let metrics = outcome.metrics();
        assert_eq!(csv, metrics.to_csv().unwrap());
        assert_eq!(metrics.columns[0], "trial");
        assert_eq!(metrics.rows.len(), 9);
        assert!(outcome.params_average().is_none());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_run_stops_at_the_step_where_the_hook_fires() {
        // The hook is polled once per step and fires at its fourth poll: before step 3.
        let polls = std::sync::atomic::AtomicUsize::new(0);
        let hook = || polls.fetch_add(1, std::sync::atomic::Ordering::Relaxed) >= 3;
        let e = run(&request(None, false), Cancel::new(&hook)).unwrap_err();
        assert_eq!(e.to_string(), "interrupted at training step 3");
        assert_eq!(e.exit_code(), 130);
    }

    #[test]
    fn resume_needs_an_output_folder() {
        let e = run(&request(None, true), Cancel::NEVER)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("invalid resume:"), "{e}");
    }
}
