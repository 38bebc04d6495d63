//! Losses ℓ(y, f) and their derivatives ∂ℓ/∂f; the empirical risk is
//! L(W) = (1/n) Σ_i ℓ(y_i, f_W(x_i)) (+ λ₀/2 ‖W‖², added by the training loop).

use serde::{Deserialize, Serialize};

/// A loss ℓ(y, f) between a target y and a prediction f.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Loss {
    /// ℓ = ½ (y − f)²; ∂ℓ/∂f = f − y.
    Squared,
    /// ℓ = log(1 + e^{−y f}) (y = ±1); ∂ℓ/∂f = −y σ(−y f).
    Logistic,
    /// ℓ = e^{−y f} (y = ±1); ∂ℓ/∂f = −y e^{−y f}.
    Exponential,
    /// ℓ = y f; ∂ℓ/∂f = y. The model's output is the objective itself (a potential U(θ) with
    /// y = 1), or a linear functional of it (no interaction between mean-field particles).
    Linear,
}

impl Loss {
    /// Every loss.
    pub const ALL: [Loss; 4] = [
        Loss::Squared,
        Loss::Logistic,
        Loss::Exponential,
        Loss::Linear,
    ];

    /// ℓ(y, f).
    #[inline]
    pub fn value(self, y: f64, f: f64) -> f64 {
        match self {
            Loss::Squared => 0.5 * (y - f) * (y - f),
            Loss::Logistic => crate::nn::activation::softplus(-y * f),
            Loss::Exponential => (-y * f).exp(),
            Loss::Linear => y * f,
        }
    }

    /// ∂ℓ/∂f at (y, f).
    #[inline]
    pub fn derivative(self, y: f64, f: f64) -> f64 {
        match self {
            Loss::Squared => f - y,
            Loss::Logistic => -y * crate::nn::activation::sigmoid(-y * f),
            Loss::Exponential => -y * (-y * f).exp(),
            Loss::Linear => y,
        }
    }

    /// True for the classification losses, whose targets must be ±1.
    pub fn is_classification(self) -> bool {
        matches!(self, Loss::Logistic | Loss::Exponential)
    }

    /// Checks targets against the loss: the classification losses need every target to be ±1
    /// (the error names `field` and the first target that is not).
    pub fn check_targets(self, field: &str, y: &[f64]) -> crate::error::Result<()> {
        if !self.is_classification() {
            return Ok(());
        }
        match y.iter().position(|&v| v != 1.0 && v != -1.0) {
            None => Ok(()),
            Some(k) => Err(crate::error::Error::invalid(
                field,
                format!(
                    "the {self:?} loss needs ±1 labels; training target {k} is {}",
                    y[k]
                ),
            )),
        }
    }

    /// Mean loss (1/n) Σ ℓ(y_i, f_i) over a batch; with k outputs the k losses of a sample add.
    pub fn mean(self, y: &[f64], f: &[f64], n: usize) -> f64 {
        y.iter()
            .zip(f)
            .map(|(&y, &f)| self.value(y, f))
            .sum::<f64>()
            / n as f64
    }

    /// Writes ∂/∂f_i of the mean loss (1/n) Σ ℓ into `out` and returns the mean loss.
    pub fn mean_and_gradient(self, y: &[f64], f: &[f64], n: usize, out: &mut [f64]) -> f64 {
        let inv = 1.0 / n as f64;
        let mut total = 0.0;
        for ((o, &y), &f) in out.iter_mut().zip(y).zip(f) {
            total += self.value(y, f);
            *o = inv * self.derivative(y, f);
        }
        total * inv
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derivatives_match_central_differences() {
        for loss in Loss::ALL {
            for &(y, f) in &[(1.0, 0.3), (-1.0, 0.8), (1.0, -2.0), (0.5, 0.1)] {
                let h = 1e-6;
                let fd = (loss.value(y, f + h) - loss.value(y, f - h)) / (2.0 * h);
                assert!(
                    (fd - loss.derivative(y, f)).abs() < 1e-8,
                    "{loss:?} {y} {f}"
                );
            }
        }
    }

    #[test]
    fn logistic_is_stable_and_exact() {
        assert!((Loss::Logistic.value(1.0, 0.0) - 2f64.ln()).abs() < 1e-15);
        assert!(Loss::Logistic.value(1.0, -1000.0).is_finite());
        assert!((Loss::Logistic.value(1.0, -1000.0) - 1000.0).abs() < 1e-9);
    }
}
