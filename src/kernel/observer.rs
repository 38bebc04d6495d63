//! Regime diagnostics along training: how far the empirical NTK moves and how it aligns with the
//! targets — one run then shows whether it was lazy (kernel regime) or rich (feature learning).

use super::empirical::empirical_ntk;
use crate::error::{Error, Result};
use crate::linalg::Matrix;
use crate::train::{Observer, Snapshot};

/// Adds `kernel_movement` = ‖K_{W_t} − K_{W_0}‖_F / ‖K_{W_0}‖_F and
/// `kernel_alignment` = yᵀ K_{W_t} y / (‖K_{W_t}‖_F ‖y‖²) (the kernel–target alignment of
/// Cristianini et al.) on a fixed probe set.
pub struct KernelDiagnostics {
    x: Matrix,
    y: Vec<f64>,
    initial: Option<Matrix>,
}

impl KernelDiagnostics {
    /// Diagnostics on the probe inputs `x` with scalar targets `y` (first output column; one
    /// row per row of `x`).
    pub fn new(x: Matrix, y: &Matrix) -> Result<KernelDiagnostics> {
        if y.rows != x.rows || y.cols == 0 {
            return Err(Error::shape(
                "kernel diagnostics",
                format!(
                    "{} probe inputs, targets of shape {}×{}",
                    x.rows, y.rows, y.cols
                ),
            ));
        }
        let y = (0..y.rows).map(|i| y.get(i, 0)).collect();
        Ok(KernelDiagnostics {
            x,
            y,
            initial: None,
        })
    }
}

impl Observer for KernelDiagnostics {
    fn columns(&self) -> Vec<String> {
        vec!["kernel_movement".into(), "kernel_alignment".into()]
    }

    fn observe(&mut self, s: &Snapshot<'_>) -> Result<Vec<f64>> {
        let model = s.objective.model;
        if self.initial.is_none() {
            self.initial = Some(empirical_ntk(model, s.initial, &self.x, None)?);
        }
        let k = empirical_ntk(model, s.params, &self.x, None)?;
        let k0 = self.initial.as_ref().expect("set above");
        let movement = crate::linalg::distance(&k.data, &k0.data) / k0.frobenius_norm();
        let n = self.y.len();
        let mut yky = 0.0;
        for i in 0..n {
            yky += self.y[i] * crate::linalg::dot(k.row(i), &self.y);
        }
        let yy: f64 = self.y.iter().map(|v| v * v).sum();
        Ok(vec![movement, yky / (k.frobenius_norm() * yy)])
    }
}
