//! The training loop: one loop for full-batch, minibatch and one-sample-per-step training, with
//! observers, divergence detection and checkpoints that resume bit-identically.
//!
//! Step t (t = 0, 1, …) at parameters θ_t:
//! 1. the batch B_t (all samples, or the t-th batch of a per-epoch permutation drawn from
//!    `seed.stream("epoch", e)`: a pure function of (seed, t), so nothing to checkpoint);
//! 2. the gradient g_t of L_B(θ) = (1/|B|) Σ_{i∈B} ℓ(y_i, f_θ(x_i)) + λ₀/2 ‖θ‖² at θ_t, or at
//!    the optimizer's look-ahead point;
//! 3. if t is a recording step, one row of metrics at θ_t (plus every observer's columns);
//! 4. Δθ_t from the optimizer chain; frozen blocks get 0; θ_{t+1} = θ_t + Δθ_t.
//!
//! Steps 2–4 are one [`Optimizer::step`], the loop's part (3, frozen blocks, the iterate
//! average) in its hooks.
//!
//! A non-finite loss, gradient or parameter stops the run with [`Error::Diverged`] naming the
//! step; the rows recorded so far stay in the caller's table.

pub mod checkpoint;
pub mod fingerprint;
pub mod landscape;
pub mod observer;
pub mod shard;

pub use checkpoint::Checkpoint;
pub use fingerprint::Fingerprint;
pub use observer::{Observer, PredictionProbe, Snapshot, TestLoss};

use crate::commands::Cancel;
use crate::data::io::Table;
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::linalg::Matrix;
use crate::nn::{Cache, Loss, Model};
use crate::optim::{IterateAverage, Optimizer, State, StepBuffers, StepContext, StepHooks};
use crate::rng::Seed;

/// Which samples each step uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Batching {
    /// Every sample, every step (gradient descent).
    Full,
    /// Batches of this size from a fresh permutation each epoch (the last batch of an epoch may
    /// be smaller, as with PyTorch's `drop_last=False`); size 1 is one sample per step.
    Minibatch(usize),
}

/// The objective L(θ) = (1/n) Σ ℓ(y_i, f_θ(x_i)) + λ₀/2 ‖θ‖² of a model and a loss.
#[derive(Clone, Copy)]
pub struct Objective<'a> {
    /// f_θ.
    pub model: &'a dyn Model,
    /// ℓ.
    pub loss: Loss,
    /// λ₀ (0 for none), applied to the trainable parameters.
    pub l2: f64,
}

/// Buffers reused by every evaluation of an [`Objective`].
#[derive(Default)]
pub struct Workspace {
    cache: Cache,
    out: Matrix,
    d_out: Matrix,
}

impl<'a> Objective<'a> {
    /// The data term of `loss` on a model (as [`Objective::value`] averages it), no L2 term.
    pub fn new(model: &'a dyn Model, loss: Loss) -> Objective<'a> {
        Objective {
            model,
            loss,
            l2: 0.0,
        }
    }

    /// The plain squared loss (1/2n) Σ (y_i − f(x_i))² of a model, no L2 term.
    pub fn squared(model: &'a dyn Model) -> Objective<'a> {
        Objective::new(model, Loss::Squared)
    }
}

impl Objective<'_> {
    /// L(θ) on `data`.
    pub fn value(&self, params: &[f64], data: &Dataset, ws: &mut Workspace) -> f64 {
        self.model
            .forward(params, &data.x, &mut ws.cache, &mut ws.out);
        let n = data.len();
        self.loss.mean(&data.y.data, &ws.out.data, n) + self.penalty(params)
    }

    /// L(θ) on `data`, with ∇L(θ) written into `grad`.
    pub fn value_and_gradient(
        &self,
        params: &[f64],
        data: &Dataset,
        ws: &mut Workspace,
        grad: &mut [f64],
    ) -> f64 {
        self.model
            .forward(params, &data.x, &mut ws.cache, &mut ws.out);
        ws.d_out.resize(ws.out.rows, ws.out.cols);
        let value =
            self.loss
                .mean_and_gradient(&data.y.data, &ws.out.data, data.len(), &mut ws.d_out.data);
        self.model
            .backward(params, &data.x, &mut ws.cache, &ws.d_out, grad);
        if self.l2 != 0.0 {
            for block in self.model.layout().iter().filter(|b| b.trainable) {
                for k in block.range() {
                    grad[k] += self.l2 * params[k];
                }
            }
        }
        value + self.penalty(params)
    }

    fn penalty(&self, params: &[f64]) -> f64 {
        if self.l2 == 0.0 {
            return 0.0;
        }
        if let Some(shard) = self.model.shard() {
            let include: Vec<bool> = self.model.layout().iter().map(|b| b.trainable).collect();
            return 0.5 * self.l2 * shard.segment_squares(params, &include);
        }
        let sq: f64 = self
            .model
            .layout()
            .iter()
            .filter(|b| b.trainable)
            .map(|b| params[b.range()].iter().map(|p| p * p).sum::<f64>())
            .sum();
        0.5 * self.l2 * sq
    }
}

/// Everything that evolves during training: what a checkpoint stores.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainState {
    /// The next step to take (t).
    pub step: u64,
    /// θ_t.
    pub params: Vec<f64>,
    /// θ₀.
    pub initial: Vec<f64>,
    /// The optimizer chain's states.
    pub optimizer: Vec<State>,
    /// Running average of θ_0, …, θ_{t−1}.
    pub average: IterateAverage,
}

/// A configured training run.
pub struct Trainer<'a> {
    /// The objective.
    pub objective: Objective<'a>,
    /// The optimizer chain.
    pub optimizer: &'a Optimizer,
    /// Batching.
    pub batching: Batching,
    /// The run's seed (batches and noise).
    pub seed: Seed,
    /// Total number of steps T.
    pub steps: u64,
    /// Record a row every this many steps (and at step T).
    pub record_every: u64,
}

/// The fixed columns of the metrics table; observers append theirs.
pub const METRIC_COLUMNS: [&str; 5] = [
    "step",
    "train_loss",
    "grad_norm",
    "param_distance",
    "param_distance_relative",
];

impl<'a> Trainer<'a> {
    /// Full-batch training for `steps` steps, recording at the first and last step only.
    pub fn full_batch(
        objective: Objective<'a>,
        optimizer: &'a Optimizer,
        seed: Seed,
        steps: u64,
    ) -> Trainer<'a> {
        Trainer {
            objective,
            optimizer,
            batching: Batching::Full,
            seed,
            steps,
            record_every: steps.max(1),
        }
    }
}

impl Trainer<'_> {
    /// Runs all T steps from θ₀ without observers: the final state and the recorded metrics.
    pub fn fit(&self, params: Vec<f64>, data: &Dataset) -> Result<(TrainState, Table)> {
        self.fit_with(params, data, &mut [])
    }

    /// Runs all T steps from θ₀ with `observers` (their columns after the fixed ones): the
    /// final state and the recorded metrics. For a run that stops and resumes (snapshots, a
    /// stopping rule, checkpoints): [`Trainer::begin`], then [`Trainer::run`] up to each stop.
    pub fn fit_with(
        &self,
        params: Vec<f64>,
        data: &Dataset,
        observers: &mut [&mut dyn Observer],
    ) -> Result<(TrainState, Table)> {
        self.fit_at(params, data, observers, [], |_| Ok(()))
    }

    /// Runs all T steps from θ₀ with `observers`, calling `at(state)` when the run reaches each
    /// step of `stops` (increasing, each ≤ T), θ at that step in `state.params`: the one call
    /// for a run read at chosen steps (snapshots, averages over a window). The run, its final
    /// state and its table are those of [`Trainer::fit_with`].
    pub fn fit_at(
        &self,
        params: Vec<f64>,
        data: &Dataset,
        observers: &mut [&mut dyn Observer],
        stops: impl IntoIterator<Item = u64>,
        mut at: impl FnMut(&TrainState) -> Result<()>,
    ) -> Result<(TrainState, Table)> {
        let (mut state, mut table) = self.begin(params, observers);
        for stop in stops {
            if stop < state.step || stop > self.steps {
                return Err(Error::invalid(
                    "stops",
                    format!(
                        "expected increasing steps ≤ T = {}, got {stop} after {}",
                        self.steps, state.step
                    ),
                ));
            }
            self.run(&mut state, data, stop, observers, &mut table, Cancel::NEVER)?;
            at(&state)?;
        }
        self.run(
            &mut state,
            data,
            self.steps,
            observers,
            &mut table,
            Cancel::NEVER,
        )?;
        Ok((state, table))
    }

    /// A run at step 0 from θ₀: its state ([`Trainer::start`]) and its empty metrics table with
    /// the observers' columns ([`Trainer::table`]), to advance with [`Trainer::run`] (the same
    /// observers each time).
    pub fn begin(&self, params: Vec<f64>, observers: &[&mut dyn Observer]) -> (TrainState, Table) {
        (self.start(params), self.table(observers))
    }

    /// The state at step 0 for initial parameters θ₀.
    pub fn start(&self, params: Vec<f64>) -> TrainState {
        TrainState {
            step: 0,
            optimizer: self.optimizer.init(&params),
            average: IterateAverage::new(params.len()),
            initial: params.clone(),
            params,
        }
    }

    /// An empty metrics table with the observers' columns.
    pub fn table(&self, observers: &[&mut dyn Observer]) -> Table {
        let mut columns: Vec<String> = METRIC_COLUMNS.iter().map(|c| c.to_string()).collect();
        for o in observers {
            columns.extend(o.columns());
        }
        Table {
            columns,
            rows: Vec::new(),
        }
    }

    /// Runs from `state.step` up to step `until` (≤ T), appending recorded rows to `table`,
    /// polling `cancel` before every step ([`Cancel::NEVER`]: no polling): once it fires the
    /// run stops with [`Error::Interrupted`], `state` at the last completed step (a consistent
    /// state: a later `run` resumes from it with the same result as an uninterrupted run).
    pub fn run(
        &self,
        state: &mut TrainState,
        data: &Dataset,
        until: u64,
        observers: &mut [&mut dyn Observer],
        table: &mut Table,
        cancel: Cancel,
    ) -> Result<()> {
        let model = self.objective.model;
        model.check_params("train state", &state.params)?;
        if let Batching::Minibatch(0) = self.batching {
            return Err(Error::invalid("batch_size", "expected ≥ 1"));
        }
        model.check_input("train data", &data.x)?;
        self.objective
            .loss
            .check_targets("train data targets", &data.y.data)?;
        self.optimizer.validate()?;
        if data.output_dim() != model.output_dim() {
            return Err(Error::shape(
                "train data",
                format!(
                    "the model has {} outputs, the targets {} columns",
                    model.output_dim(),
                    data.output_dim()
                ),
            ));
        }
        let until = until.min(self.steps);
        let frozen: Vec<std::ops::Range<usize>> = model
            .layout()
            .into_iter()
            .filter(|b| !b.trainable)
            .map(|b| b.range())
            .collect();
        let mut ws = Workspace::default();
        let mut eval_ws = Workspace::default();
        let mut buffers = StepBuffers::default();
        let mut batch_buffer: Option<Dataset> = None;
        let mut sampler = BatchSampler::new(self.batching, data.len(), self.seed);
        let shard = model.shard();
        let norm0 = shard::norm(shard, &state.initial);
        let started = state.step;
        let TrainState {
            step,
            params,
            initial,
            optimizer,
            average,
        } = state;
        while *step < until {
            let t = *step;
            cancel.check(|| format!("at training step {t}"))?;
            let batch = sampler.batch(t, data, &mut batch_buffer);
            let batch_data = batch.unwrap_or(data);
            let mut hooks = LoopStep {
                trainer: self,
                data,
                full_batch: batch.is_none(),
                step: &mut *step,
                initial,
                average: &mut *average,
                frozen: &frozen,
                shard,
                norm0,
                eval_ws: &mut eval_ws,
                observers: &mut *observers,
                table: &mut *table,
            };
            let value_and_gradient = |at: &[f64], g: &mut [f64]| {
                self.objective
                    .value_and_gradient(at, batch_data, &mut ws, g)
            };
            self.optimizer.step(
                params,
                optimizer,
                &StepContext::new(t, self.seed).with_shard(shard.map(|s| s.segments())),
                &mut buffers,
                value_and_gradient,
                &mut hooks,
            )?;
        }
        if *step == self.steps && started < self.steps {
            // The final row, at θ_T (step T is never a loop step).
            let loss = self
                .objective
                .value_and_gradient(params, data, &mut ws, &mut buffers.grad);
            if !loss.is_finite() {
                return Err(Error::Diverged { step: *step, loss });
            }
            let grad_norm = shard::norm(shard, &buffers.grad);
            let snap = self.snapshot(*step, params, initial);
            self.record(&snap, loss, grad_norm, norm0, observers, table)?;
        }
        Ok(())
    }

    fn snapshot<'s>(&'s self, step: u64, params: &'s [f64], initial: &'s [f64]) -> Snapshot<'s> {
        Snapshot {
            step,
            params,
            initial,
            objective: self.objective,
        }
    }

    /// Appends the metrics row of `snap`: the fixed columns, then every observer's.
    fn record(
        &self,
        snap: &Snapshot<'_>,
        train_loss: f64,
        grad_norm: f64,
        norm0: f64,
        observers: &mut [&mut dyn Observer],
        table: &mut Table,
    ) -> Result<()> {
        let dist = shard::distance(self.objective.model.shard(), snap.params, snap.initial);
        let mut row = vec![
            snap.step as f64,
            train_loss,
            grad_norm,
            dist,
            if norm0 > 0.0 { dist / norm0 } else { f64::NAN },
        ];
        for o in observers.iter_mut() {
            row.extend(o.observe(snap)?);
        }
        table.push(row);
        Ok(())
    }
}

/// The training loop's part of a step of [`Optimizer::step`]: at θ_t, the divergence check
/// and, at a recording step, the metrics row; around θ ← θ + Δθ, frozen blocks get Δθ = 0,
/// θ_t joins the iterate average and the state moves to step t + 1.
struct LoopStep<'h, 'a, 'o> {
    trainer: &'h Trainer<'a>,
    /// The whole training set (the recorded loss is on it).
    data: &'h Dataset,
    /// Whether the step's batch is the whole set.
    full_batch: bool,
    step: &'h mut u64,
    initial: &'h [f64],
    average: &'h mut IterateAverage,
    frozen: &'h [std::ops::Range<usize>],
    /// The split of θ over ranks, if θ is split.
    shard: Option<&'h dyn shard::Shard>,
    norm0: f64,
    eval_ws: &'h mut Workspace,
    observers: &'h mut [&'o mut dyn Observer],
    table: &'h mut Table,
}

impl StepHooks for LoopStep<'_, '_, '_> {
    fn inspect(&mut self, params: &[f64], loss: f64, buffers: &StepBuffers) -> Result<()> {
        let t = *self.step;
        let grad_norm = shard::norm(self.shard, &buffers.grad);
        if !loss.is_finite() || !grad_norm.is_finite() {
            return Err(Error::Diverged { step: t, loss });
        }
        let trainer = self.trainer;
        if t.is_multiple_of(trainer.record_every.max(1)) {
            // The step's loss is the recorded one only on the whole set at θ_t itself.
            let train_loss = if self.full_batch && buffers.points.is_empty() {
                loss
            } else {
                trainer.objective.value(params, self.data, self.eval_ws)
            };
            let snap = trainer.snapshot(t, params, self.initial);
            trainer.record(
                &snap,
                train_loss,
                grad_norm,
                self.norm0,
                self.observers,
                self.table,
            )?;
        }
        Ok(())
    }

    fn apply(&mut self, params: &mut [f64], delta: &mut [f64]) -> bool {
        for r in self.frozen {
            delta[r.clone()].fill(0.0);
        }
        // θ_t joins the iterate average (the update only read θ), then θ ← θ + Δθ.
        let finite = self.average.push_and_step(params, delta);
        *self.step += 1;
        match self.shard {
            Some(s) => s.all(finite),
            None => finite,
        }
    }
}

/// Draws the batch of step t: a pure function of (seed, t).
struct BatchSampler {
    batching: Batching,
    n: usize,
    seed: Seed,
    epoch: Option<u64>,
    permutation: Vec<usize>,
}

impl BatchSampler {
    fn new(batching: Batching, n: usize, seed: Seed) -> BatchSampler {
        BatchSampler {
            batching,
            n,
            seed,
            epoch: None,
            permutation: Vec::new(),
        }
    }

    /// The batch of step t, written into `buffer`; `None` for the full data set.
    fn batch<'b>(
        &mut self,
        t: u64,
        data: &Dataset,
        buffer: &'b mut Option<Dataset>,
    ) -> Option<&'b Dataset> {
        let size = match self.batching {
            Batching::Full => return None,
            Batching::Minibatch(b) if b >= self.n => return None,
            Batching::Minibatch(b) => b,
        };
        let per_epoch = self.n.div_ceil(size) as u64;
        let (epoch, k) = (t / per_epoch, (t % per_epoch) as usize);
        if self.epoch != Some(epoch) {
            self.permutation = self.seed.stream("epoch", epoch).permutation(self.n);
            self.epoch = Some(epoch);
        }
        let index = &self.permutation[k * size..((k + 1) * size).min(self.n)];
        let buf = buffer.get_or_insert_with(|| Dataset {
            x: Matrix::default(),
            y: Matrix::default(),
        });
        buf.x.resize(index.len(), data.x.cols);
        buf.y.resize(index.len(), data.y.cols);
        for (r, &i) in index.iter().enumerate() {
            buf.x.row_mut(r).copy_from_slice(data.x.row(i));
            buf.y.row_mut(r).copy_from_slice(data.y.row(i));
        }
        Some(buf)
    }
}
