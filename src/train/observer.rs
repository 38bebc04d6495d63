//! Observers: extra columns of the metrics table, computed at every recording step.

use super::{Objective, Workspace};
use crate::data::Dataset;
use crate::error::Result;

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
