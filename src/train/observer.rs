//! Observers: extra columns of the metrics table, computed at every recording step.

use super::{Objective, Workspace};
use crate::data::Dataset;
use crate::error::Result;
use crate::linalg::Matrix;

/// What an observer sees at a recording step.
pub struct Snapshot<'a> {
    /// The step t.
    pub step: u64,
    /// θ_t.
    pub params: &'a [f64],
    /// θ₀.
    pub initial: &'a [f64],
    /// The training objective (model, loss, λ₀).
    pub objective: Objective<'a>,
}

/// Adds columns to the metrics table.
pub trait Observer {
    /// The names of the columns this observer adds.
    fn columns(&self) -> Vec<String>;
    /// The values of those columns at a snapshot.
    fn observe(&mut self, snapshot: &Snapshot<'_>) -> Result<Vec<f64>>;
}

/// The loss on a held-out set, column `test_loss` (the data term only, without λ₀/2 ‖θ‖²).
pub struct TestLoss {
    data: Dataset,
    ws: Workspace,
}

impl TestLoss {
    /// Observes the loss on `data`.
    pub fn new(data: Dataset) -> TestLoss {
        TestLoss {
            data,
            ws: Workspace::default(),
        }
    }
}

impl Observer for TestLoss {
    fn columns(&self) -> Vec<String> {
        vec!["test_loss".into()]
    }
    fn observe(&mut self, s: &Snapshot<'_>) -> Result<Vec<f64>> {
        let objective = Objective {
            l2: 0.0,
            ..s.objective
        };
        Ok(vec![objective.value(s.params, &self.data, &mut self.ws)])
    }
}

/// The model's outputs at fixed inputs, columns `prediction` (one input, one output) or
/// `prediction_i_o` (input i, output o): a trace of f_t(x) along training or sampling.
pub struct PredictionProbe {
    x: Matrix,
    outputs: usize,
}

impl PredictionProbe {
    /// Probes the rows of `x` (the model's outputs are counted at the first observation; the
    /// column names assume one output unless [`PredictionProbe::with_outputs`] says more).
    pub fn new(x: Matrix) -> PredictionProbe {
        PredictionProbe { x, outputs: 1 }
    }

    /// For a model with `outputs` outputs.
    pub fn with_outputs(self, outputs: usize) -> PredictionProbe {
        PredictionProbe { outputs, ..self }
    }
}

impl Observer for PredictionProbe {
    fn columns(&self) -> Vec<String> {
        if self.x.rows == 1 && self.outputs == 1 {
            return vec!["prediction".into()];
        }
        (0..self.x.rows)
            .flat_map(|i| (0..self.outputs).map(move |o| format!("prediction_{i}_{o}")))
            .collect()
    }
    fn observe(&mut self, s: &Snapshot<'_>) -> Result<Vec<f64>> {
        Ok(s.objective.model.predict(s.params, &self.x)?.data)
    }
}
