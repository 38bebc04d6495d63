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
//! A non-finite loss, gradient or parameter stops the run with [`Error::Diverged`] naming the
//! step; the rows recorded so far stay in the caller's table.

pub mod checkpoint;
pub mod fingerprint;
pub mod landscape;
pub mod observer;

pub use checkpoint::Checkpoint;
pub use fingerprint::Fingerprint;
pub use observer::{Observer, PredictionProbe, Snapshot, TestLoss};

use crate::commands::Cancel;
use crate::data::io::Table;
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::linalg::{norm, Matrix};
use crate::nn::{Cache, Loss, Model};
use crate::optim::{IterateAverage, Optimizer, State, StepBuffers, StepContext};
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
    /// The plain squared loss (1/2n) Σ (y_i − f(x_i))² of a model, no L2 term.
    pub fn squared(model: &'a dyn Model) -> Objective<'a> {
        Objective {
            model,
            loss: Loss::Squared,
            l2: 0.0,
        }
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
        let (mut state, mut table) = self.begin(params, observers);
        self.run(&mut state, data, self.steps, observers, &mut table)?;
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

    /// Runs from `state.step` up to step `until` (≤ T), appending recorded rows to `table`.
    pub fn run(
        &self,
        state: &mut TrainState,
        data: &Dataset,
        until: u64,
        observers: &mut [&mut dyn Observer],
        table: &mut Table,
    ) -> Result<()> {
        self.run_with(state, data, until, observers, table, Cancel::NEVER)
    }

    /// [`Trainer::run`], polling `cancel` before every step: once it fires the run stops
    /// with [`Error::Interrupted`], `state` at the last completed step (a consistent state:
    /// [`Trainer::run`] resumes from it with the same result as an uninterrupted run).
    pub fn run_with(
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
        let norm0 = norm(&state.initial);
        let every = self.record_every.max(1);
        let started = state.step;
        while state.step < until {
            let t = state.step;
            cancel.check(|| format!("at training step {t}"))?;
            let batch = sampler.batch(t, data, &mut batch_buffer);
            let ctx = StepContext::new(t, self.seed);
            let batch_data = batch.unwrap_or(data);
            let loss = self.optimizer.gradient(
                &state.params,
                &state.optimizer,
                &ctx,
                &mut buffers,
                |at, g| {
                    self.objective
                        .value_and_gradient(at, batch_data, &mut ws, g)
                },
            );
            let lookahead = !buffers.points.is_empty();
            let grad = &mut buffers.grad;
            let grad_norm = norm(grad);
            if !loss.is_finite() || !grad_norm.is_finite() {
                return Err(Error::Diverged { step: t, loss });
            }
            if t.is_multiple_of(every) {
                let train_loss = if batch.is_none() && !lookahead {
                    loss
                } else {
                    self.objective.value(&state.params, data, &mut eval_ws)
                };
                self.record(state, train_loss, grad_norm, norm0, observers, table)?;
            }
            self.optimizer
                .update(grad, &mut state.optimizer, &state.params, &ctx);
            for r in &frozen {
                grad[r.clone()].fill(0.0);
            }
            // θ_t joins the iterate average (the update above only read θ), then θ ← θ + d.
            let finite = state.average.push_and_step(&mut state.params, grad);
            state.step += 1;
            if !finite {
                return Err(Error::Diverged {
                    step: t + 1,
                    loss: f64::NAN,
                });
            }
        }
        if state.step == self.steps && started < self.steps {
            // The final row, at θ_T (step T is never a loop step).
            let loss =
                self.objective
                    .value_and_gradient(&state.params, data, &mut ws, &mut buffers.grad);
            if !loss.is_finite() {
                return Err(Error::Diverged {
                    step: state.step,
                    loss,
                });
            }
            let grad_norm = norm(&buffers.grad);
            self.record(state, loss, grad_norm, norm0, observers, table)?;
        }
        Ok(())
    }

    fn record(
        &self,
        state: &TrainState,
        train_loss: f64,
        grad_norm: f64,
        norm0: f64,
        observers: &mut [&mut dyn Observer],
        table: &mut Table,
    ) -> Result<()> {
        let dist = crate::linalg::distance(&state.params, &state.initial);
        let mut row = vec![
            state.step as f64,
            train_loss,
            grad_norm,
            dist,
            if norm0 > 0.0 { dist / norm0 } else { f64::NAN },
        ];
        let snap = Snapshot {
            step: state.step,
            params: &state.params,
            initial: &state.initial,
            objective: self.objective,
        };
        for o in observers.iter_mut() {
            row.extend(o.observe(&snap)?);
        }
        table.push(row);
        Ok(())
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
