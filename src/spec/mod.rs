//! The TOML experiment specification behind `gradflow run`, and the function that runs it.
//!
//! ```toml
//! name = "two-layer NTK regression"
//! seed = 0
//! trials = 2                      # independent initialisations, run in parallel
//!
//! [data]
//! kind = "sphere"                 # sphere | gaussian | circle | clusters | completion | npy
//! n = 200
//! n_test = 200
//! dim = 5
//! target = { kind = "harmonic", degree = 2 }
//!
//! [model]
//! kind = "two_layer"              # two_layer | mlp | deep_linear | factorization | infinite_width | potential
//! width = 1024
//!
//! [loss]
//! kind = "squared"                # squared | logistic | exponential | linear
//!
//! [[optimizer]]                   # the chain, in order
//! kind = "sgd"
//! lr = 1.0                        # or { kind = "inverse_power", a = 1.0, b = 10.0, c = 0.5 }
//!
//! [train]
//! steps = 1000
//! batch_size = 0                  # 0 = full batch
//! record_every = 10
//! ```
//!
//! Every table rejects unknown keys, naming them.

mod build;
pub mod data;
pub mod limits;
pub mod model;
pub mod optimizer;
mod toml_error;

use crate::commands::Cancel;
use crate::data::io::{write_atomic, write_npy_matrix, Table};
use crate::error::{Error, Result};
use crate::kernel::observer::KernelDiagnostics;
use crate::linalg::Matrix;
use crate::meanfield::ParticleObserver;
use crate::nn::Loss;
use crate::rng::Seed;
use crate::train::{Batching, Checkpoint, Objective, Observer, TestLoss, Trainer};
use data::DataSpec;
use model::ModelSpec;
use optimizer::TransformSpec;
use rayon::prelude::*;
use serde::Deserialize;
use serde_json::json;
use std::path::{Path, PathBuf};

fn one() -> i64 {
    1
}

/// A whole experiment.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// A title for the summary.
    #[serde(default)]
    pub name: Option<String>,
    /// The root seed (default 0).
    #[serde(default)]
    pub seed: u64,
    /// Independent trials (initialisations, batch orders, noise), default 1.
    #[serde(default = "one")]
    pub trials: i64,
    /// The data (optional for a potential model).
    #[serde(default)]
    pub data: Option<DataSpec>,
    /// The model.
    pub model: ModelSpec,
    /// The loss (default squared, no L2).
    #[serde(default)]
    pub loss: LossSpec,
    /// The optimizer chain.
    pub optimizer: Vec<TransformSpec>,
    /// The loop.
    pub train: TrainSpec,
}

/// `[loss]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LossSpec {
    /// ℓ (default: `linear` for a potential, `squared` otherwise; see [`Spec::loss_kind`]).
    #[serde(default)]
    pub kind: Option<Loss>,
    /// λ₀ of λ₀/2 ‖θ‖² (default 0).
    #[serde(default)]
    pub l2: f64,
}

impl Default for LossSpec {
    fn default() -> Self {
        LossSpec {
            kind: None,
            l2: 0.0,
        }
    }
}

/// `[train]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainSpec {
    /// Number of steps T.
    pub steps: i64,
    /// Samples per step; 0 (default) = full batch, 1 = one sample per step.
    #[serde(default)]
    pub batch_size: i64,
    /// Record metrics every this many steps (default: T/100, at least 1).
    #[serde(default)]
    pub record_every: Option<i64>,
    /// Keep the running average of the iterates and write it (default false).
    #[serde(default)]
    pub average: bool,
    /// Write a checkpoint every this many steps (default 0 = never).
    #[serde(default)]
    pub checkpoint_every: i64,
    /// Record the empirical NTK's movement and target alignment on this many training points
    /// (default 0 = off; columns `kernel_movement`, `kernel_alignment`).
    #[serde(default)]
    pub kernel_diagnostics: i64,
    /// Record the mean-field particle observables (default false; columns `w2_sq_init`,
    /// `displacement_sq`, `action`, and `normalized_margin` for classification losses; a
    /// two-layer model).
    #[serde(default)]
    pub particles: bool,
    /// For a 1-D or 2-D potential sampled by Langevin dynamics: the distance of the chains'
    /// law to the Gibbs law exp(−βU) on this grid, every recorded step (columns `tv_gibbs`,
    /// `kl_gibbs`; β from the `langevin_noise` or `mean_field` transform).
    #[serde(default)]
    pub gibbs: Option<GibbsSpec>,
}

/// `[train] gibbs = { lo, hi, bins }`: the grid (per axis) of the Gibbs comparison.
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GibbsSpec {
    /// Lower end of each axis.
    pub lo: f64,
    /// Upper end of each axis.
    pub hi: f64,
    /// Cells per axis (default 40).
    #[serde(default = "forty")]
    pub bins: i64,
}

fn forty() -> i64 {
    40
}

impl Spec {
    /// The inverse temperature β of the optimizer chain's Langevin noise, if any.
    pub fn inverse_temperature(&self) -> Option<f64> {
        self.optimizer
            .iter()
            .find_map(TransformSpec::inverse_temperature)
    }

    /// The Gibbs observer of `[train] gibbs`, checked against the model and the optimizer.
    fn gibbs_observer(&self) -> Result<Option<crate::langevin::GibbsDistance>> {
        let Some(g) = self.train.gibbs else {
            return Ok(None);
        };
        let field = "train.gibbs";
        let ModelSpec::Potential { potential, dim, .. } = &self.model else {
            return Err(Error::invalid(field, "needs [model] kind = \"potential\""));
        };
        let d = dim
            .map(|d| d.max(0) as usize)
            .or(potential.required_dim())
            .unwrap_or(1);
        if d != 1 && d != 2 {
            return Err(Error::invalid(
                field,
                format!("needs a 1-D or 2-D potential, got dim = {d}"),
            ));
        }
        let beta = self.inverse_temperature().ok_or_else(|| {
            Error::invalid(
                field,
                "needs a langevin_noise (or mean_field with inverse_temperature) optimizer for β",
            )
        })?;
        let bins = limits::count("train.gibbs.bins", g.bins, 1)?;
        let cells = if d == 2 {
            limits::product("train.gibbs.bins", bins, bins)?
        } else {
            bins
        };
        limits::at_most(
            "train.gibbs.bins",
            cells,
            limits::MAX_GIBBS_CELLS,
            "cells of the grid, bins^dim; each record integrates the Gibbs law over every cell",
        )?;
        let grid = crate::langevin::Grid::new(g.lo, g.hi, g.bins as usize)
            .map_err(|e| Error::invalid(field, e.to_string()))?;
        let u = *potential;
        crate::langevin::GibbsDistance::new(&move |x: &[f64]| u.value(x), d, beta, grid)
            .map(Some)
            .map_err(|e| Error::invalid(field, e.to_string()))
    }
    /// Parses a spec from TOML text (`path` names the file in errors).
    pub fn from_toml(text: &str, path: &Path) -> Result<Spec> {
        toml::from_str(text).map_err(|e| Error::format(path, toml_error::describe(text, &e)))
    }

    /// The data of this spec (the same draw [`run`] trains on).
    pub fn load_data(&self, base: &Path) -> Result<data::Data> {
        match &self.data {
            Some(d) => d.load(Seed(self.seed).child("data", 0), base),
            None if self.model.is_potential() => Ok(data::Data {
                train: crate::nn::Potential::unit_data()?,
                test: None,
                matrix_size: None,
            }),
            None => Err(Error::invalid(
                "data",
                "missing [data] table (only potential models run without data)",
            )),
        }
    }

    /// ℓ: the `[loss] kind` given, else `linear` for a potential and `squared` otherwise.
    pub fn loss_kind(&self) -> Loss {
        self.loss.kind.unwrap_or(if self.model.is_potential() {
            Loss::Linear
        } else {
            Loss::Squared
        })
    }

    /// Reads and parses a spec file.
    pub fn load(path: &Path) -> Result<Spec> {
        // Bounded: a spec path of /dev/zero or an endless FIFO is refused, not read forever.
        let bytes = crate::fsutil::read_bounded(path, 1 << 24, "a spec file")?;
        let text = String::from_utf8(bytes)
            .map_err(|_| Error::format(path, "a spec file must be UTF-8 text"))?;
        Spec::from_toml(&text, path)
    }
}

/// What one trial produced.
#[derive(Clone, Debug)]
pub struct TrialOutcome {
    /// Metrics rows.
    pub table: Table,
    /// Final parameters θ_T (or the last finite ones before a divergence).
    pub params: Vec<f64>,
    /// The average of the iterates, when requested.
    pub average: Option<Vec<f64>>,
    /// (step, loss) of a divergence.
    pub diverged: Option<(u64, f64)>,
    /// The particle clouds at the recorded steps (with `train.particles`).
    pub particles: Vec<Matrix>,
}

/// What a run produced.
#[derive(Clone, Debug)]
pub struct RunOutcome {
    /// One per trial.
    pub trials: Vec<TrialOutcome>,
    /// The summary written to `summary.json`.
    pub summary: serde_json::Value,
}

impl RunOutcome {
    /// The metrics of every trial as one table (`metrics.csv`): a leading `trial` column (the
    /// trial's index), then the trials' columns, rows trial by trial.
    pub fn metrics(&self) -> Table {
        metrics_table(&self.trials)
    }

    /// The final parameters θ_T of every trial, trials × P (`params.npy`).
    pub fn params(&self) -> Matrix {
        stack_rows(self.trials.iter().map(|t| &t.params).collect())
    }

    /// The averaged iterates of every trial, trials × P (`params_average.npy`), when the run
    /// averaged them.
    pub fn params_average(&self) -> Option<Matrix> {
        params_average(&self.trials)
    }
}

/// See [`RunOutcome::metrics`].
fn metrics_table(trials: &[TrialOutcome]) -> Table {
    let mut metrics = Table::default();
    if let Some(first) = trials.first() {
        metrics.columns = std::iter::once("trial".to_string())
            .chain(first.table.columns.iter().cloned())
            .collect();
    }
    for (k, t) in trials.iter().enumerate() {
        for row in &t.table.rows {
            metrics.rows.push(
                std::iter::once(k as f64)
                    .chain(row.iter().copied())
                    .collect(),
            );
        }
    }
    metrics
}

/// Rows of equal length stacked into a matrix.
fn stack_rows(rows: Vec<&Vec<f64>>) -> Matrix {
    let p = rows.first().map_or(0, |r| r.len());
    Matrix {
        rows: rows.len(),
        cols: p,
        data: rows.into_iter().flatten().copied().collect(),
    }
}

/// See [`RunOutcome::params_average`].
fn params_average(trials: &[TrialOutcome]) -> Option<Matrix> {
    let averages: Vec<&Vec<f64>> = trials.iter().filter_map(|t| t.average.as_ref()).collect();
    (!averages.is_empty()).then(|| stack_rows(averages))
}

fn step_count(field: &str, v: i64, allow_zero: bool) -> Result<u64> {
    Ok(limits::count(field, v, if allow_zero { 0 } else { 1 })? as u64)
}

/// The seed of trial k of a run with root seed s: `s.child("trial", k)`. Everything a trial
/// draws (initialisation, batches, noise) derives from it, so trial k of a spec is the same
/// whatever the number of trials or threads; anything that reproduces a trial of [`run`]
/// outside it derives the seed here.
pub fn trial_seed(root: Seed, trial: usize) -> Seed {
    root.child("trial", trial as u64)
}

/// Runs a spec. With `out`, writes `metrics.csv`, `params.npy` (trials × P), `summary.json`
/// (and `params_average.npy`, checkpoints) there, atomically. With `resume`, each trial
/// continues from its checkpoint in `out` when there is one. A divergence is reported as
/// [`Error::Diverged`] after the files have been written.
pub fn run(spec: &Spec, base: &Path, out: Option<&Path>, resume: bool) -> Result<RunOutcome> {
    run_with(spec, base, out, resume, Cancel::NEVER)
}

/// [`run`], polling `cancel` before every training step of every trial
/// ([`Trainer::run`]): once it fires the run stops with [`Error::Interrupted`] and writes
/// no outputs (the checkpoints written so far stay, for `resume`).
pub fn run_with(
    spec: &Spec,
    base: &Path,
    out: Option<&Path>,
    resume: bool,
    cancel: Cancel,
) -> Result<RunOutcome> {
    run_on(spec, base, out, resume, cancel, None)
}

/// [`run_with`], on the ranks of `comm` when given (an MPI job): the model's neurons sharded
/// over the ranks ([`crate::distributed::meanfield`]), the trials one after another, every
/// rank returning the same outcome (whole parameters) and rank 0 alone writing the files.
pub fn run_on(
    spec: &Spec,
    base: &Path,
    out: Option<&Path>,
    resume: bool,
    cancel: Cancel,
    comm: Option<&dyn crate::distributed::Communicator>,
) -> Result<RunOutcome> {
    let seed = Seed(spec.seed);
    let trials = step_count("trials", spec.trials, false)? as usize;
    let steps = step_count("train.steps", spec.train.steps, false)?;
    let batch = step_count("train.batch_size", spec.train.batch_size, true)? as usize;
    let record_every = match spec.train.record_every {
        Some(v) => step_count("train.record_every", v, false)?,
        None => (steps / 100).max(1),
    };
    let checkpoint_every = step_count("train.checkpoint_every", spec.train.checkpoint_every, true)?;
    let probe = step_count(
        "train.kernel_diagnostics",
        spec.train.kernel_diagnostics,
        true,
    )? as usize;
    crate::error::check_non_negative("loss.l2", spec.loss.l2)?;
    let data = spec.load_data(base)?;
    // The probe set's initial and current empirical kernels, and the one being formed.
    let probe_n = probe.min(data.train.len());
    crate::linalg::check_fits(
        "train.kernel_diagnostics (the probe kernels)",
        &[probe_n, probe_n, 3],
    )?;
    let full = spec.model.with_base(base).build(
        data.train.input_dim(),
        data.train.output_dim(),
        data.matrix_size,
    )?;
    let sharded = comm
        .map(|c| crate::distributed::meanfield::shard(spec, full.as_ref(), resume, c))
        .transpose()?;
    // This process's model: the whole one, or its neurons of the sharded one.
    let model: &dyn crate::nn::Model = match &sharded {
        Some(s) => s,
        None => full.as_ref(),
    };
    let shard = model.shard();
    // Only rank 0 of a sharded run writes.
    let out = out.filter(|_| comm.is_none_or(|c| c.rank() == 0));
    model.check_input("training data", &data.train.x)?;
    if let Some(t) = &data.test {
        model.check_input("test data", &t.x)?;
    }
    spec.loss_kind()
        .check_targets("loss.kind", &data.train.y.data)?;
    // Per trial: θ with its optimizer buffers, the metrics table (a row of at most 16 columns
    // per record) and, with `particles`, a copy of θ per record.
    let records = (steps / record_every) as usize + 2;
    limits::fits(
        "trials (θ and its buffers per trial)",
        &[trials, model.num_params(), 4],
    )?;
    limits::fits(
        "train.steps / train.record_every (the metrics table of every trial)",
        &[trials, records, 16],
    )?;
    if spec.train.particles {
        limits::fits(
            "train.particles (the particle clouds at every record of every trial)",
            &[trials, records, model.num_params()],
        )?;
    }
    let optimizer = optimizer::build_chain(&spec.optimizer, full.as_ref())?;
    let batching = if batch == 0 {
        Batching::Full
    } else {
        Batching::Minibatch(batch)
    };
    // Held until the outputs are written: a second run into the same folder is refused.
    let _lock = out
        .map(crate::fsutil::lock::FolderLock::acquire)
        .transpose()?;
    let normalized = normalized_spec(spec);
    let data_hash = crate::train::fingerprint::hash_values(
        [&data.train.x.data, &data.train.y.data]
            .into_iter()
            .chain(data.test.iter().flat_map(|t| [&t.x.data, &t.y.data]))
            .map(Vec::as_slice),
    );
    let objective = Objective {
        model,
        loss: spec.loss_kind(),
        l2: spec.loss.l2,
    };
    let run_trial = |k: usize| {
        let trial_seed = trial_seed(seed, k);
        let trainer = Trainer {
            objective,
            optimizer: &optimizer,
            batching,
            seed: trial_seed,
            steps,
            record_every,
        };
        let mut test_observer = data.test.clone().map(TestLoss::new);
        let mut kernel_observer = (probe > 0)
            .then(|| {
                let index: Vec<usize> = (0..probe_n).collect();
                let subset = data.train.select(&index);
                KernelDiagnostics::new(subset.x, &subset.y)
            })
            .transpose()?;
        let mut particle_observer = if spec.train.particles {
            let o = ParticleObserver::new(model)
                .map_err(|e| Error::invalid("train.particles", e.to_string()))?;
            let o = o.with_snapshots();
            Some(if spec.loss_kind().is_classification() {
                o.with_margin(data.train.clone())
            } else {
                o
            })
        } else {
            None
        };
        let mut gibbs_observer = spec.gibbs_observer()?;
        let mut observers: Vec<&mut dyn Observer> = Vec::new();
        if let Some(o) = gibbs_observer.as_mut() {
            observers.push(o);
        }
        if let Some(o) = particle_observer.as_mut() {
            observers.push(o);
        }
        if let Some(o) = test_observer.as_mut() {
            observers.push(o);
        }
        if let Some(o) = kernel_observer.as_mut() {
            observers.push(o);
        }
        let ckpt_path = out.map(|d| d.join(format!("checkpoint_trial{k}.bin")));
        let fingerprint = crate::train::Fingerprint {
            version: env!("CARGO_PKG_VERSION").to_string(),
            seed: spec.seed,
            trial: k as u64,
            trial_seed: trial_seed.0,
            steps,
            spec: normalized.clone(),
            data: data_hash,
        };
        let params = model.init(&mut trial_seed.stream("init", 0));
        let (mut state, mut table) = trainer.begin(params, &observers);
        if let (Some(p), true) = (&ckpt_path, resume) {
            if p.exists() {
                let c = Checkpoint::load(p)?;
                c.check_resumes(p, &fingerprint, &state, &table.columns)?;
                (state, table) = (c.state, c.table);
            }
        }
        let mut diverged = None;
        while state.step < steps {
            let until = if checkpoint_every > 0 && ckpt_path.is_some() {
                ((state.step / checkpoint_every) + 1) * checkpoint_every
            } else {
                steps
            };
            match trainer.run(
                &mut state,
                &data.train,
                until,
                &mut observers,
                &mut table,
                cancel,
            ) {
                Ok(()) => {}
                Err(Error::Diverged { step, loss }) => {
                    diverged = Some((step, loss));
                    break;
                }
                Err(e) => return Err(e),
            }
            if let (Some(p), true) = (&ckpt_path, checkpoint_every > 0) {
                Checkpoint {
                    state: state.clone(),
                    table: table.clone(),
                    fingerprint: fingerprint.clone(),
                }
                .save(p)?;
            }
        }
        let particles = particle_observer
            .map(|o| o.snapshots().to_vec())
            .unwrap_or_default();
        // The whole θ (and average) of a sharded run, put together on every rank.
        let whole = |v: Vec<f64>| match shard {
            Some(s) => s.gather(&v),
            None => v,
        };
        Ok(TrialOutcome {
            table,
            average: spec.train.average.then(|| whole(state.average.mean())),
            params: whole(state.params),
            diverged,
            particles,
        })
    };
    // The ranks of a sharded run take part in every collective of a trial together: its
    // trials run one after another.
    let outcomes: Vec<Result<TrialOutcome>> = if shard.is_some() {
        (0..trials).map(run_trial).collect()
    } else {
        (0..trials).into_par_iter().map(run_trial).collect()
    };
    let trials_out = outcomes.into_iter().collect::<Result<Vec<_>>>()?;
    let mut summary = summarize(
        spec,
        full.describe(),
        full.num_params(),
        &data,
        &trials_out,
        steps,
    );
    if trials_out.len() >= 2 {
        // How much f_T varies across independent trials (mean over points of the standard
        // deviation), on the test set when there is one.
        let (set, x) = match &data.test {
            Some(t) => ("test", &t.x),
            None => ("train", &data.train.x),
        };
        let predictions = trials_out
            .iter()
            .map(|t| {
                // A sharded run predicts with its own neurons' part of the whole θ.
                let local: Vec<f64> = match shard {
                    Some(s) => s
                        .segments()
                        .as_slice()
                        .iter()
                        .flat_map(|g| t.params[g.global..g.global + g.len].iter().copied())
                        .collect(),
                    None => t.params.clone(),
                };
                Ok(model.predict(&local, x)?.data)
            })
            .collect::<Result<Vec<_>>>()?;
        summary["prediction_spread"] =
            json!({"set": set, "value": crate::stats::spread(&predictions)?});
    }
    if let Some(dir) = out {
        write_outputs(dir, &trials_out, &summary)?;
    }
    if let Some((step, loss)) = trials_out.iter().find_map(|t| t.diverged) {
        return Err(Error::Diverged { step, loss });
    }
    Ok(RunOutcome {
        trials: trials_out,
        summary,
    })
}

/// The normalized spec of a checkpoint's fingerprint: the parsed spec pretty-printed (every
/// default filled in), without the title and the checkpoint interval, which change no result.
fn normalized_spec(spec: &Spec) -> String {
    let mut s = spec.clone();
    s.name = None;
    s.train.checkpoint_every = 0;
    format!("{s:#?}")
}

fn summarize(
    spec: &Spec,
    model: String,
    num_params: usize,
    data: &data::Data,
    trials: &[TrialOutcome],
    steps: u64,
) -> serde_json::Value {
    let per_trial: Vec<serde_json::Value> = trials
        .iter()
        .enumerate()
        .map(|(k, t)| {
            let last = t.table.rows.last();
            let final_metrics: serde_json::Map<String, serde_json::Value> = match last {
                Some(row) => t
                    .table
                    .columns
                    .iter()
                    .zip(row)
                    .map(|(c, v)| (c.clone(), json!(v)))
                    .collect(),
                None => serde_json::Map::new(),
            };
            json!({
                "trial": k,
                "final": final_metrics,
                "diverged": t.diverged.map(|(step, loss)| json!({"step": step, "loss": loss})),
            })
        })
        .collect();
    json!({
        "name": spec.name,
        "seed": spec.seed,
        "model": model,
        "num_params": num_params,
        "loss": spec.loss_kind(),
        "steps": steps,
        "data": {
            "n_train": data.train.len(),
            "n_test": data.test.as_ref().map(|t| t.len()),
            "input_dim": data.train.input_dim(),
            "outputs": data.train.output_dim(),
        },
        "trials": per_trial,
        "environment": {
            "threads": rayon::current_num_threads(),
            "gradflow": env!("CARGO_PKG_VERSION"),
        },
    })
}

fn write_outputs(dir: &Path, trials: &[TrialOutcome], summary: &serde_json::Value) -> Result<()> {
    metrics_table(trials).write(&dir.join("metrics.csv"))?;
    write_npy_matrix(
        &dir.join("params.npy"),
        &stack_rows(trials.iter().map(|t| &t.params).collect()),
    )?;
    if let Some(average) = params_average(trials) {
        write_npy_matrix(&dir.join("params_average.npy"), &average)?;
    }
    for (k, t) in trials.iter().enumerate() {
        if let Some(first) = t.particles.first() {
            let shape = [t.particles.len(), first.rows, first.cols];
            let data: Vec<f64> = t
                .particles
                .iter()
                .flat_map(|m| m.data.iter().copied())
                .collect();
            write_atomic(
                &dir.join(format!("particles_trial{k}.npy")),
                &crate::data::io::npy_bytes(&shape, &data),
            )?;
        }
    }
    write_json(&dir.join("summary.json"), summary)
}

/// Writes pretty-printed JSON atomically.
pub fn write_json(path: &Path, value: &serde_json::Value) -> Result<()> {
    let mut text =
        serde_json::to_vec_pretty(value).map_err(|e| Error::format(path, e.to_string()))?;
    text.push(b'\n');
    write_atomic(path, &text)
}

/// The folder a spec's relative paths are resolved against.
pub fn base_dir(spec_path: &Path) -> PathBuf {
    spec_path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}
