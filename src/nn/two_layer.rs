//! The two-layer scaling family f(x) = α M^{−γ} Σ_{j=1}^M a_j η(w_jᵀx + b_j).
//!
//! γ = 1/2 is the NTK (lazy) regime, γ = 1 the mean-field regime; α is an output scale (large α
//! = lazy training). Either layer may be frozen: with the second layer frozen this is the
//! document's y = Σ_j v_j η(w_jᵀx + b_j). The hidden-layer passes are shared with
//! [`crate::nn::InfiniteWidth`] through `HiddenLayer` (`nn/hidden_layer.rs`).

use crate::error::{check_positive, Error, Result};
use crate::linalg::Matrix;
use crate::nn::hidden_layer::HiddenLayer;
use crate::nn::model::{zero_frozen, Backward, Cache, Model, ParamBlock};
use crate::nn::Activation;
use crate::rng::Rng;
use serde::{Deserialize, Serialize};

/// How the output weights a_j are drawn.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", deny_unknown_fields)]
pub enum OutputInit {
    /// a_j = ±scale with probability 1/2 each.
    Sign {
        /// |a_j|.
        scale: f64,
    },
    /// a_j ~ N(0, std²).
    Gaussian {
        /// Standard deviation.
        std: f64,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub struct TwoLayer {
    /// Input dimension d.
    pub input_dim: usize,
    /// Width M.
    pub width: usize,
    /// η.
    pub activation: Activation,
    /// Output scale α.
    pub alpha: f64,
    /// Scaling exponent γ ∈ [1/2, 1].
    pub gamma: f64,
    /// Biases b_j present.
    pub bias: bool,
    /// σ_w: w_j ~ N(0, σ_w² I).
    pub w_std: f64,
    /// σ_b: b_j ~ N(0, σ_b²).
    pub b_std: f64,
    /// Distribution of a_j.
    pub output_init: OutputInit,
    /// Symmetric initialisation: neurons j and j + M/2 share (w, b) with opposite a, so f₀ = 0.
    pub symmetric: bool,
    /// Train (w_j, b_j).
    pub train_first: bool,
    /// Train a_j.
    pub train_second: bool,
}

impl TwoLayer {
    /// A two-layer network with ±1 output weights, w ~ N(0, I), both layers trained.
    pub fn new(
        input_dim: usize,
        width: usize,
        activation: Activation,
        gamma: f64,
    ) -> Result<TwoLayer> {
        TwoLayer {
            input_dim,
            width,
            activation,
            alpha: 1.0,
            gamma,
            bias: false,
            w_std: 1.0,
            b_std: 1.0,
            output_init: OutputInit::Sign { scale: 1.0 },
            symmetric: false,
            train_first: true,
            train_second: true,
        }
        .validated()
    }

    /// Checks every field, returning the model.
    pub fn validated(self) -> Result<TwoLayer> {
        if self.width == 0 {
            return Err(Error::invalid("width", "expected a width ≥ 1, got 0"));
        }
        if self.input_dim == 0 {
            return Err(Error::invalid("input_dim", "expected ≥ 1, got 0"));
        }
        if self.symmetric && !self.width.is_multiple_of(2) {
            return Err(Error::invalid(
                "width",
                format!(
                    "symmetric initialisation needs an even width, got {}",
                    self.width
                ),
            ));
        }
        if !(0.5..=1.0).contains(&self.gamma) {
            return Err(Error::invalid(
                "gamma",
                format!("expected γ in [0.5, 1], got {}", self.gamma),
            ));
        }
        check_positive("alpha", self.alpha)?;
        check_positive("w_std", self.w_std)?;
        crate::error::check_non_negative("b_std", self.b_std)?;
        match self.output_init {
            OutputInit::Sign { scale: s } | OutputInit::Gaussian { std: s } => {
                check_positive("output_init", s)?
            }
        }
        Ok(self)
    }

    /// The initial parameters of neurons `neurons` (a range of 0..M) in the layout of a
    /// network of those neurons alone ([W rows, b, a] of the range): the draws of the whole
    /// network's [`Model::init`] (neuron by neuron from one stream, the ones outside the range
    /// drawn and dropped), so the ranges of a split put together give `init` exactly.
    pub fn init_neurons(&self, rng: &mut Rng, neurons: std::ops::Range<usize>) -> Vec<f64> {
        let (d, m) = (self.input_dim, self.width);
        let k = neurons.len();
        let (b_off, a_off) = (k * d, k * d + if self.bias { k } else { 0 });
        let mut p = vec![0.0; a_off + k];
        let drawn = if self.symmetric { m / 2 } else { m };
        let mut w = vec![0.0; d];
        for j in 0..drawn.min(neurons.end) {
            rng.fill_normal(&mut w, self.w_std);
            let b = if self.bias {
                self.b_std * rng.normal()
            } else {
                0.0
            };
            let a = match self.output_init {
                OutputInit::Sign { scale } => scale * rng.sign(),
                OutputInit::Gaussian { std } => std * rng.normal(),
            };
            // Neuron j, and its mirror j + M/2 (same w and b, opposite a) when symmetric.
            let mirror = (self.symmetric).then_some((j + drawn, -a));
            for (jj, aj) in std::iter::once((j, a)).chain(mirror) {
                if neurons.contains(&jj) {
                    let r = jj - neurons.start;
                    p[r * d..(r + 1) * d].copy_from_slice(&w);
                    if self.bias {
                        p[b_off + r] = b;
                    }
                    p[a_off + r] = aj;
                }
            }
        }
        p
    }

    /// The hidden layer of neurons `neurons` of the parameters `local` laid out as by
    /// [`TwoLayer::init_neurons`], with the whole network's output scale c = α M^{−γ}.
    pub(crate) fn hidden_of<'a>(
        &self,
        local: &'a [f64],
        neurons: std::ops::Range<usize>,
    ) -> HiddenLayer<'a> {
        let (d, k) = (self.input_dim, neurons.len());
        let (b_off, a_off) = (k * d, k * d + if self.bias { k } else { 0 });
        HiddenLayer {
            w: &local[..b_off],
            b: self.bias.then(|| &local[b_off..a_off]),
            a: &local[a_off..a_off + k],
            width: k,
            input_dim: d,
            activation: self.activation,
            scale: self.output_scale(),
        }
    }

    /// c = α M^{−γ}.
    pub fn output_scale(&self) -> f64 {
        self.alpha * (self.width as f64).powf(-self.gamma)
    }

    fn offsets(&self) -> (usize, usize, usize) {
        let w = self.width * self.input_dim;
        let b = if self.bias { self.width } else { 0 };
        (0, w, w + b)
    }

    fn hidden<'a>(&self, params: &'a [f64]) -> HiddenLayer<'a> {
        let (w, b, a) = self.offsets();
        HiddenLayer {
            w: &params[w..b],
            b: self.bias.then(|| &params[b..a]),
            a: &params[a..a + self.width],
            width: self.width,
            input_dim: self.input_dim,
            activation: self.activation,
            scale: self.output_scale(),
        }
    }
}

impl Model for TwoLayer {
    fn describe(&self) -> String {
        format!(
            "two_layer(M={}, {}, alpha={}, gamma={})",
            self.width,
            self.activation.name(),
            self.alpha,
            self.gamma
        )
    }

    fn input_dim(&self) -> usize {
        self.input_dim
    }

    fn layout(&self) -> Vec<ParamBlock> {
        let (w, b, a) = self.offsets();
        let (m, first) = (self.width, self.train_first);
        let mut blocks = vec![ParamBlock::new("W", w, vec![m, self.input_dim], first)];
        if self.bias {
            blocks.push(ParamBlock::new("b", b, vec![m], first));
        }
        blocks.push(ParamBlock::new("a", a, vec![m], self.train_second));
        blocks
    }

    fn init(&self, rng: &mut Rng) -> Vec<f64> {
        self.init_neurons(rng, 0..self.width)
    }

    fn as_two_layer(&self) -> Option<&TwoLayer> {
        Some(self)
    }

    fn forward(&self, params: &[f64], x: &Matrix, cache: &mut Cache, out: &mut Matrix) {
        self.hidden(params).forward(x, cache, out);
    }

    fn empirical_ntk(&self, params: &[f64], x1: &Matrix, x2: Option<&Matrix>) -> Option<Matrix> {
        Some(
            self.hidden(params)
                .ntk(x1, x2, self.train_first, self.train_second),
        )
    }

    fn backward_pass(&self, pass: Backward<'_>, grad: &mut [f64]) {
        let (params, x, d_out, cache) = (pass.params, pass.x, pass.d_out, pass.cache);
        let (_, b_off, a_off) = self.offsets();
        let (gw, rest) = grad.split_at_mut(b_off);
        let (gb, ga) = rest.split_at_mut(a_off - b_off);
        self.hidden(params).backward(
            x,
            cache,
            d_out,
            self.train_first.then_some(gw),
            (self.train_first && self.bias).then_some(gb),
            self.train_second.then_some(ga),
        );
        zero_frozen(&self.layout(), grad);
    }
}
