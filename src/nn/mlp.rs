//! Deep fully connected networks φ_{ℓ+1}(x) = η(W^(ℓ) φ_ℓ(x) + b^(ℓ)), in the standard and the
//! NTK parameterization.

use crate::error::{Error, Result};
use crate::linalg::{gemm, gemm_nt, gemm_slice, gram, view, Matrix, Threads};
use crate::nn::model::{fill_block, zero_frozen, Backward, Cache, Model, ParamBlock};
use crate::nn::Activation;
use crate::rng::Rng;
use serde::{Deserialize, Serialize};

/// How a dense layer scales its weights (neural-tangents' two conventions).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Parameterization {
    /// h = (σ_w/√m) W φ + σ_b b with W_ij, b_i ~ N(0, 1) (m = fan-in).
    Ntk,
    /// h = W φ + b with W_ij ~ N(0, σ_w²/m), b_i ~ N(0, σ_b²).
    Standard,
}

impl std::str::FromStr for Parameterization {
    type Err = String;
    /// The spec's spelling (snake case), via [`crate::error::parse_variant`].
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        crate::error::parse_variant(s)
    }
}

/// The settings every layer of an [`Mlp`] shares, with their defaults (relu, the NTK
/// parameterization, σ_w = 1, σ_b = 0, biases): a spec's `[model] kind = "mlp"` table reads
/// them into this struct, missing fields taking [`MlpLayers::default`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct MlpLayers {
    /// Activation after every hidden layer (the last layer is linear).
    pub activation: Activation,
    /// Weight convention.
    pub parameterization: Parameterization,
    /// σ_w.
    pub w_std: f64,
    /// σ_b (ignored without biases).
    pub b_std: f64,
    /// Whether the layers have biases.
    pub bias: bool,
}

impl Default for MlpLayers {
    fn default() -> MlpLayers {
        MlpLayers {
            activation: Activation::Relu,
            parameterization: Parameterization::Ntk,
            w_std: 1.0,
            b_std: 0.0,
            bias: true,
        }
    }
}

impl MlpLayers {
    /// Err unless σ_w > 0 and σ_b ≥ 0 (naming the field).
    pub fn validate(&self) -> Result<()> {
        crate::error::check_positive("w_std", self.w_std)?;
        crate::error::check_non_negative("b_std", self.b_std)
    }
}

/// A fully connected network R^d → R^k: hidden Dense + activation layers, then a final Dense.
#[derive(Clone, Debug, PartialEq)]
pub struct Mlp {
    /// Layer widths [d, m_1, …, m_L, k].
    pub widths: Vec<usize>,
    /// What every layer shares: activation, weight convention, σ_w, σ_b, biases.
    pub layers: MlpLayers,
}

impl Mlp {
    /// A network with the given widths [d, m_1, …, m_L, k] (all ≥ 1) and layer settings
    /// ([`Mlp::with_layers`] of them).
    pub fn new(
        widths: Vec<usize>,
        activation: Activation,
        parameterization: Parameterization,
        w_std: f64,
        b_std: f64,
        bias: bool,
    ) -> Result<Mlp> {
        let layers = MlpLayers {
            activation,
            parameterization,
            w_std,
            b_std,
            bias,
        };
        Mlp::with_layers(widths, layers)
    }

    /// A network with the given widths [d, m_1, …, m_L, k] (all ≥ 1) and `layers`' settings
    /// ([`MlpLayers::validate`]).
    pub fn with_layers(widths: Vec<usize>, layers: MlpLayers) -> Result<Mlp> {
        if widths.len() < 2 {
            return Err(Error::invalid(
                "widths",
                "need at least the input and output dimensions",
            ));
        }
        if let Some(k) = widths.iter().position(|&w| w == 0) {
            return Err(Error::invalid(
                "widths",
                format!("layer {k} has width 0; every width must be ≥ 1"),
            ));
        }
        layers.validate()?;
        Ok(Mlp { widths, layers })
    }

    /// Number of Dense layers (hidden layers + 1).
    pub fn num_layers(&self) -> usize {
        self.widths.len() - 1
    }

    /// (weight scale, bias scale) of layer ℓ as applied in the forward pass.
    fn scales(&self, layer: usize) -> (f64, f64) {
        match self.layers.parameterization {
            Parameterization::Ntk => (
                self.layers.w_std / (self.widths[layer] as f64).sqrt(),
                self.layers.b_std,
            ),
            Parameterization::Standard => (1.0, 1.0),
        }
    }

    /// (weight block, bias block) offsets of layer ℓ.
    fn offsets(&self, layer: usize) -> (usize, usize) {
        let mut off = 0;
        for l in 0..layer {
            off += self.widths[l + 1] * self.widths[l]
                + if self.layers.bias {
                    self.widths[l + 1]
                } else {
                    0
                };
        }
        (off, off + self.widths[layer + 1] * self.widths[layer])
    }
}

impl Mlp {
    /// The back-propagated signals of output `c` at every Dense layer, after a forward pass on
    /// `x`: entry ℓ is ∂f_c/∂h_{ℓ+1} (n × m_{ℓ+1}), one row per sample.
    fn signals(&self, params: &[f64], cache: &Cache, n: usize, c: usize) -> Vec<Matrix> {
        let layers = self.num_layers();
        let mut out = vec![Matrix::default(); layers];
        let mut delta = Matrix::zeros(n, self.output_dim());
        for i in 0..n {
            delta.set(i, c, 1.0);
        }
        for l in (0..layers).rev() {
            let (m_in, m_out) = (self.widths[l], self.widths[l + 1]);
            let (w_off, _) = self.offsets(l);
            let (sw, _) = self.scales(l);
            if l > 0 {
                let w = view(&params[w_off..w_off + m_out * m_in], m_out, m_in);
                let mut next = Matrix::zeros(n, m_in);
                gemm(&mut next, 0.0, delta.view(), w, sw);
                let act = self.layers.activation;
                if act.derivative_from_value_exists() {
                    let phi = &cache.mats[2 * (l - 1) + 1];
                    next.data
                        .iter_mut()
                        .zip(&phi.data)
                        .for_each(|(d, &v)| *d *= act.derivative_from_value(v));
                } else {
                    let h = &cache.mats[2 * (l - 1)];
                    next.data
                        .iter_mut()
                        .zip(&h.data)
                        .for_each(|(d, &u)| *d *= act.derivative(u));
                }
                out[l] = std::mem::replace(&mut delta, next);
            } else {
                out[l] = std::mem::take(&mut delta);
            }
        }
        out
    }
}

impl Model for Mlp {
    fn describe(&self) -> String {
        format!(
            "mlp(widths={:?}, {}, {:?})",
            self.widths,
            self.layers.activation.name(),
            self.layers.parameterization
        )
    }

    fn input_dim(&self) -> usize {
        self.widths[0]
    }

    fn output_dim(&self) -> usize {
        *self.widths.last().unwrap_or(&1)
    }

    fn layout(&self) -> Vec<ParamBlock> {
        let mut blocks = Vec::new();
        for l in 0..self.num_layers() {
            let (w, b) = self.offsets(l);
            let (m_in, m_out) = (self.widths[l], self.widths[l + 1]);
            blocks.push(ParamBlock::new(
                format!("W{}", l + 1),
                w,
                vec![m_out, m_in],
                true,
            ));
            if self.layers.bias {
                blocks.push(ParamBlock::new(format!("b{}", l + 1), b, vec![m_out], true));
            }
        }
        blocks
    }

    fn init(&self, rng: &mut Rng) -> Vec<f64> {
        let mut params = vec![0.0; self.num_params()];
        for block in self.layout() {
            let fan_in = block.shape.get(1).copied();
            let std = match (self.layers.parameterization, fan_in) {
                (Parameterization::Ntk, _) => 1.0,
                (Parameterization::Standard, Some(m)) => self.layers.w_std / (m as f64).sqrt(),
                (Parameterization::Standard, None) => self.layers.b_std,
            };
            fill_block(&mut params, &block, std, rng);
        }
        params
    }

    /// h_{ℓ+1} = s_w φ_ℓ W_ℓᵀ + s_b b_ℓ (rows are samples), φ_{ℓ+1} = η(h_{ℓ+1}).
    /// Cache: [h_1, φ_1, h_2, φ_2, …, h_L, φ_L, δ-scratch ×2].
    fn forward(&self, params: &[f64], x: &Matrix, cache: &mut Cache, out: &mut Matrix) {
        let layers = self.num_layers();
        let n = x.rows;
        cache.ensure(2 * layers + 2);
        out.resize(n, self.output_dim());
        for l in 0..layers {
            let (m_in, m_out) = (self.widths[l], self.widths[l + 1]);
            let (w_off, b_off) = self.offsets(l);
            let (sw, sb) = self.scales(l);
            let w = view(&params[w_off..w_off + m_out * m_in], m_out, m_in);
            let last = l + 1 == layers;
            let (before, after) = cache.mats.split_at_mut(2 * l);
            let input: &Matrix = if l == 0 { x } else { &before[2 * l - 1] };
            let h: &mut Matrix = if last { out } else { &mut after[0] };
            h.resize(n, m_out);
            gemm(h, 0.0, input.view(), w.transpose(), sw);
            if self.layers.bias {
                let b = &params[b_off..b_off + m_out];
                for i in 0..n {
                    h.row_mut(i)
                        .iter_mut()
                        .zip(b)
                        .for_each(|(v, &bj)| *v += sb * bj);
                }
            }
            if !last {
                let (h_part, phi_part) = after.split_at_mut(1);
                let phi = &mut phi_part[0];
                phi.resize(n, m_out);
                self.layers.activation.apply(&h_part[0].data, &mut phi.data);
            }
        }
    }

    /// The structured empirical NTK: with A_ℓ the input of Dense layer ℓ (x, then φ_ℓ) and
    /// Δ_ℓ = ∂f_c/∂h_{ℓ+1} per sample, Θ = (1/k) Σ_c Σ_ℓ (Δ_ℓΔ'_ℓᵀ) ⊙ (s_w² A_ℓA'_ℓᵀ + s_b² 1\[bias\]):
    /// two n × n' GEMMs per layer and output, no Jacobian.
    fn empirical_ntk(&self, params: &[f64], x1: &Matrix, x2: Option<&Matrix>) -> Option<Matrix> {
        let layers = self.num_layers();
        let k = self.output_dim();
        let mut c1 = Cache::default();
        let mut out = Matrix::default();
        self.forward(params, x1, &mut c1, &mut out);
        let c2 = x2.map(|x| {
            let mut c = Cache::default();
            self.forward(params, x, &mut c, &mut out);
            c
        });
        let (x2r, c2r) = match (&c2, x2) {
            (Some(c), Some(x)) => (x, c),
            _ => (x1, &c1),
        };
        let same = x2.is_none();
        let product = |a: &Matrix, b: &Matrix| {
            let mut o = Matrix::zeros(a.rows, b.rows);
            if same {
                gram(&mut o, a.view(), 1.0);
            } else {
                gemm_nt(&mut o, a.view(), b.view(), 1.0);
            }
            o
        };
        let mut theta = Matrix::zeros(x1.rows, x2r.rows);
        let inputs: Vec<Matrix> = (0..layers)
            .map(|l| {
                let (a1, a2) = if l == 0 {
                    (x1, x2r)
                } else {
                    (&c1.mats[2 * l - 1], &c2r.mats[2 * l - 1])
                };
                product(a1, a2)
            })
            .collect();
        for c in 0..k {
            let d1 = self.signals(params, &c1, x1.rows, c);
            let d2 = if same {
                None
            } else {
                Some(self.signals(params, c2r, x2r.rows, c))
            };
            for l in 0..layers {
                let (sw, sb) = self.scales(l);
                let bias = if self.layers.bias { sb * sb } else { 0.0 };
                let dd = product(&d1[l], d2.as_ref().map_or(&d1[l], |d| &d[l]));
                theta
                    .data
                    .iter_mut()
                    .zip(&dd.data)
                    .zip(&inputs[l].data)
                    .for_each(|((t, &d), &g)| *t += d * (sw * sw * g + bias) / k as f64);
            }
        }
        Some(theta)
    }

    /// δ_L = d_out; ∂W_ℓ = s_w δ_{ℓ+1}ᵀ φ_ℓ; ∂b_ℓ = s_b Σ_i δ_{ℓ+1,i};
    /// δ_ℓ = (s_w δ_{ℓ+1} W_ℓ) ⊙ η'(h_ℓ).
    fn backward_pass(&self, pass: Backward<'_>, grad: &mut [f64]) {
        let (params, x, d_out, cache) = (pass.params, pass.x, pass.d_out, pass.cache);
        let layers = self.num_layers();
        let n = x.rows;
        let (acts, scratch) = cache.mats.split_at_mut(2 * layers);
        let (delta, next) = scratch.split_at_mut(1);
        let (mut delta, mut next) = (&mut delta[0], &mut next[0]);
        delta.resize(d_out.rows, d_out.cols);
        delta.data.copy_from_slice(&d_out.data);
        for l in (0..layers).rev() {
            let (m_in, m_out) = (self.widths[l], self.widths[l + 1]);
            let (w_off, b_off) = self.offsets(l);
            let (sw, sb) = self.scales(l);
            let input: &Matrix = if l == 0 { x } else { &acts[2 * l - 1] };
            gemm_slice(
                &mut grad[w_off..w_off + m_out * m_in],
                0.0,
                delta.view().transpose(),
                input.view(),
                sw,
                Threads::Pool,
            );
            if self.layers.bias {
                let gb = &mut grad[b_off..b_off + m_out];
                gb.fill(0.0);
                for i in 0..n {
                    gb.iter_mut()
                        .zip(delta.row(i))
                        .for_each(|(g, &d)| *g += sb * d);
                }
            }
            if l > 0 {
                let w = view(&params[w_off..w_off + m_out * m_in], m_out, m_in);
                next.resize(n, m_in);
                gemm(next, 0.0, delta.view(), w, sw);
                let act = self.layers.activation;
                if act.derivative_from_value_exists() {
                    let phi = &acts[2 * (l - 1) + 1];
                    next.data
                        .iter_mut()
                        .zip(&phi.data)
                        .for_each(|(d, &v)| *d *= act.derivative_from_value(v));
                } else {
                    let h = &acts[2 * (l - 1)];
                    next.data
                        .iter_mut()
                        .zip(&h.data)
                        .for_each(|(d, &u)| *d *= act.derivative(u));
                }
                std::mem::swap(&mut delta, &mut next);
            }
        }
        zero_frozen(&self.layout(), grad);
    }
}
