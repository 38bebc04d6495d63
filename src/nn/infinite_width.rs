//! The infinite-width two-layer network f_W(x) = Σ_{j≥1} a_j η(w_jᵀx) with fixed output weights
//! a_j = j^{−γ} (γ > 1/2), truncated at K terms (Muzellec, Sato, Massias & Suzuki 2022).
//!
//! Only the w_j are parameters. The prior of the infinite-dimensional Langevin dynamics gives
//! coordinate j the variance scale μ_j = j^{−p} ([`Model::prior_variances`]), and the
//! initialisation draws w_j ~ N(0, σ² μ_j I) so that the truncated net converges as K → ∞.

use crate::error::{check_positive, Error, Result};
use crate::linalg::Matrix;
use crate::nn::hidden_layer::HiddenLayer;
use crate::nn::{Activation, Backward, Cache, Model, ParamBlock};
use crate::rng::Rng;

/// f(x) = Σ_{j≤K} j^{−γ} η(w_jᵀx).
#[derive(Clone, Debug, PartialEq)]
pub struct InfiniteWidth {
    /// Input dimension d.
    pub input_dim: usize,
    /// Truncation K.
    pub terms: usize,
    /// η.
    pub activation: Activation,
    /// Decay γ > 1/2 of the output weights a_j = j^{−γ}.
    pub gamma: f64,
    /// Decay p of the prior variances μ_j = j^{−p}.
    pub prior_decay: f64,
    /// σ of the initialisation w_j ~ N(0, σ² μ_j I).
    pub init_std: f64,
    weights: Vec<f64>,
}

impl InfiniteWidth {
    /// The truncated model with K terms.
    pub fn new(
        input_dim: usize,
        terms: usize,
        activation: Activation,
        gamma: f64,
        prior_decay: f64,
        init_std: f64,
    ) -> Result<InfiniteWidth> {
        if terms == 0 || input_dim == 0 {
            return Err(Error::invalid(
                "terms",
                format!("expected terms ≥ 1 and input_dim ≥ 1, got {terms} and {input_dim}"),
            ));
        }
        if !(gamma > 0.5 && gamma.is_finite()) {
            return Err(Error::invalid(
                "gamma",
                format!("expected γ > 1/2, got {gamma}"),
            ));
        }
        check_positive("prior_decay", prior_decay)?;
        check_positive("init_std", init_std)?;
        let weights = (1..=terms).map(|j| (j as f64).powf(-gamma)).collect();
        Ok(InfiniteWidth {
            input_dim,
            terms,
            activation,
            gamma,
            prior_decay,
            init_std,
            weights,
        })
    }

    /// The fixed output weights a_j = j^{−γ}.
    pub fn output_weights(&self) -> &[f64] {
        &self.weights
    }

    fn hidden<'a>(&'a self, params: &'a [f64]) -> HiddenLayer<'a> {
        HiddenLayer {
            w: params,
            b: None,
            a: &self.weights,
            width: self.terms,
            input_dim: self.input_dim,
            activation: self.activation,
            scale: 1.0,
        }
    }
}

impl Model for InfiniteWidth {
    fn describe(&self) -> String {
        format!(
            "infinite_width(K={}, {}, gamma={})",
            self.terms,
            self.activation.name(),
            self.gamma
        )
    }
    fn input_dim(&self) -> usize {
        self.input_dim
    }
    fn layout(&self) -> Vec<ParamBlock> {
        ParamBlock::whole("W", vec![self.terms, self.input_dim])
    }
    fn init(&self, rng: &mut Rng) -> Vec<f64> {
        let d = self.input_dim;
        let mut p = vec![0.0; self.terms * d];
        for (j, row) in p.chunks_mut(d).enumerate() {
            let std = self.init_std * ((j + 1) as f64).powf(-self.prior_decay / 2.0);
            rng.fill_normal(row, std);
        }
        p
    }
    fn forward(&self, params: &[f64], x: &Matrix, cache: &mut Cache, out: &mut Matrix) {
        self.hidden(params).forward(x, cache, out);
    }
    fn empirical_ntk(&self, params: &[f64], x1: &Matrix, x2: Option<&Matrix>) -> Option<Matrix> {
        Some(self.hidden(params).ntk(x1, x2, true, false))
    }
    fn backward_pass(&self, pass: Backward<'_>, grad: &mut [f64]) {
        let (params, x, d_out, cache) = (pass.params, pass.x, pass.d_out, pass.cache);
        self.hidden(params)
            .backward(x, cache, d_out, Some(grad), None, None);
    }
    /// μ_j = j^{−p} for every coordinate of w_j.
    fn prior_variances(&self) -> Option<Vec<f64>> {
        let d = self.input_dim;
        Some(
            (0..self.terms * d)
                .map(|k| ((k / d + 1) as f64).powf(-self.prior_decay))
                .collect(),
        )
    }
}
