//! Deep linear networks f(x) = W_L ⋯ W_1 x: an [`Mlp`] with the identity activation and no
//! biases, plus the end-to-end matrix W_L ⋯ W_1 that the landscape results are about.

use crate::error::Result;
use crate::linalg::{view, Matrix};
use crate::nn::{Activation, Backward, Cache, Mlp, Model, ParamBlock, Parameterization};
use crate::rng::Rng;

/// f(x) = W_L ⋯ W_1 x with W_ℓ ∈ R^{m_{ℓ+1} × m_ℓ}, W_ℓ ~ N(0, σ²/m_ℓ).
#[derive(Clone, Debug, PartialEq)]
pub struct DeepLinear {
    net: Mlp,
}

impl DeepLinear {
    /// A deep linear network with widths [d, m_1, …, m_{L−1}, k] and init scale σ.
    pub fn new(widths: Vec<usize>, init_std: f64) -> Result<DeepLinear> {
        Ok(DeepLinear {
            net: Mlp::new(
                widths,
                Activation::Identity,
                Parameterization::Standard,
                init_std,
                0.0,
                false,
            )?,
        })
    }

    /// The widths [d, m_1, …, k].
    pub fn widths(&self) -> &[usize] {
        &self.net.widths
    }

    /// The end-to-end matrix W_L ⋯ W_1 (k × d).
    pub fn end_to_end(&self, params: &[f64]) -> Matrix {
        let mut product = Matrix::identity(self.net.widths[0]);
        for block in self.net.layout() {
            let (r, c) = (block.shape[0], block.shape[1]);
            let w = view(&params[block.range()], r, c);
            let mut next = Matrix::zeros(r, product.cols);
            crate::linalg::gemm(&mut next, 0.0, w, product.view(), 1.0);
            product = next;
        }
        product
    }
}

impl Model for DeepLinear {
    fn describe(&self) -> String {
        format!("deep_linear(widths={:?})", self.net.widths)
    }
    fn input_dim(&self) -> usize {
        self.net.input_dim()
    }
    fn output_dim(&self) -> usize {
        self.net.output_dim()
    }
    fn layout(&self) -> Vec<ParamBlock> {
        self.net.layout()
    }
    fn init(&self, rng: &mut Rng) -> Vec<f64> {
        self.net.init(rng)
    }
    fn forward(&self, params: &[f64], x: &Matrix, cache: &mut Cache, out: &mut Matrix) {
        self.net.forward(params, x, cache, out)
    }
    fn empirical_ntk(&self, params: &[f64], x1: &Matrix, x2: Option<&Matrix>) -> Option<Matrix> {
        self.net.empirical_ntk(params, x1, x2)
    }
    fn backward_pass(&self, pass: Backward<'_>, grad: &mut [f64]) {
        self.net.backward_pass(pass, grad)
    }
}
