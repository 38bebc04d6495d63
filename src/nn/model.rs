//! The [`Model`] trait: a function f_W: R^d → R^k of a flat parameter vector W.

use crate::error::{Error, Result};
use crate::linalg::Matrix;
use crate::rng::Rng;

/// A named block of the flat parameter vector (a weight matrix, a bias, …).
#[derive(Clone, Debug, PartialEq)]
pub struct ParamBlock {
    /// Name, e.g. `"W1"`, `"b1"`, `"a"`.
    pub name: String,
    /// Offset of the first entry in the flat vector.
    pub offset: usize,
    /// Shape (row-major inside the block).
    pub shape: Vec<usize>,
    /// False for a frozen block: the training loop never moves it.
    pub trainable: bool,
}

impl ParamBlock {
    /// A block `name` of the given shape starting at `offset`, trainable or frozen.
    pub fn new(name: impl Into<String>, offset: usize, shape: Vec<usize>, trainable: bool) -> Self {
        ParamBlock {
            name: name.into(),
            offset,
            shape,
            trainable,
        }
    }

    /// The layout of a model whose parameters are one trainable block.
    pub fn whole(name: &str, shape: Vec<usize>) -> Vec<ParamBlock> {
        vec![ParamBlock::new(name, 0, shape, true)]
    }

    /// Number of entries (`usize::MAX` when the product of the shape overflows, so that a
    /// size check on it fails instead of passing on a wrapped count).
    pub fn len(&self) -> usize {
        self.shape
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .unwrap_or(usize::MAX)
    }

    /// True for an empty block.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The index range of the block inside the flat vector.
    pub fn range(&self) -> std::ops::Range<usize> {
        self.offset..self.offset + self.len()
    }
}

/// Scratch memory a model keeps between its forward and backward passes (pre-activations,
/// activations, back-propagated signals). Reused across steps: no allocation once sized.
#[derive(Clone, Debug, Default)]
pub struct Cache {
    /// The buffers, in an order each model defines.
    pub mats: Vec<Matrix>,
}

impl Cache {
    /// Makes sure there are at least `count` buffers.
    pub fn ensure(&mut self, count: usize) {
        if self.mats.len() < count {
            self.mats.resize_with(count, Matrix::default);
        }
    }
}

/// The inputs of one vector–Jacobian product ([`Model::backward`]): the parameters and batch
/// of the preceding [`Model::forward`], the cache it filled, and the cotangent `d_out` (n × k)
/// of its output.
pub struct Backward<'a> {
    /// The flat parameter vector W of the forward pass.
    pub params: &'a [f64],
    /// The input batch x (n × d) of the forward pass.
    pub x: &'a Matrix,
    /// The forward pass's scratch memory (the backward pass may overwrite it).
    pub cache: &'a mut Cache,
    /// ∂(scalar)/∂f_W(x_i)_c, row i column c.
    pub d_out: &'a Matrix,
}

/// A differentiable model f_W(x) on a flat parameter vector W.
pub trait Model: Send + Sync {
    /// A short description, e.g. `"two_layer(M=512, relu, gamma=0.5)"`.
    fn describe(&self) -> String;
    /// Input dimension d (columns of x).
    fn input_dim(&self) -> usize;
    /// Output dimension k (1 unless the model says otherwise).
    fn output_dim(&self) -> usize {
        1
    }
    /// The blocks of the flat parameter vector, in order and without gaps.
    fn layout(&self) -> Vec<ParamBlock>;
    /// Draws initial parameters.
    fn init(&self, rng: &mut Rng) -> Vec<f64>;
    /// Forward pass on a batch: writes f_W(x_i) into row i of `out` (n × k) and keeps in
    /// `cache` what [`Model::backward`] needs.
    fn forward(&self, params: &[f64], x: &Matrix, cache: &mut Cache, out: &mut Matrix);
    /// Vector–Jacobian product after [`Model::forward`] on the same `x`:
    /// `grad` ← Σ_i J_i(x_i)ᵀ d_out_i, i.e. ∂/∂W of Σ_{i,c} d_out\[i,c\] f_W(x_i)_c.
    /// Frozen blocks receive 0.
    ///
    /// A model implements either this method or [`Model::backward_pass`] (the same product
    /// on the bundled inputs); each is provided in terms of the other, so a model that
    /// implements neither recurses without end.
    fn backward(
        &self,
        params: &[f64],
        x: &Matrix,
        cache: &mut Cache,
        d_out: &Matrix,
        grad: &mut [f64],
    ) {
        self.backward_pass(
            Backward {
                params,
                x,
                cache,
                d_out,
            },
            grad,
        )
    }

    /// [`Model::backward`] on its inputs bundled as one [`Backward`]: what a model writes so
    /// that its own code is only the product.
    fn backward_pass(&self, pass: Backward<'_>, grad: &mut [f64]) {
        self.backward(pass.params, pass.x, pass.cache, pass.d_out, grad)
    }

    /// Number of parameters P (`usize::MAX` when the count overflows, as [`ParamBlock::len`]).
    fn num_params(&self) -> usize {
        self.layout()
            .iter()
            .map(ParamBlock::len)
            .fold(0, usize::saturating_add)
    }

    /// Checks that `x` is a valid input batch (column count and anything model-specific).
    fn check_input(&self, what: &str, x: &Matrix) -> Result<()> {
        if x.cols != self.input_dim() {
            return Err(Error::shape(
                what,
                format!(
                    "the model takes inputs of dimension {}, the data has {} columns",
                    self.input_dim(),
                    x.cols
                ),
            ));
        }
        Ok(())
    }

    /// Checks that `params` is a parameter vector of this model (length P); `what` names the
    /// caller or field in the error.
    fn check_params(&self, what: &str, params: &[f64]) -> Result<()> {
        if params.len() != self.num_params() {
            return Err(Error::shape(
                what,
                format!(
                    "the model has {} parameters, got {}",
                    self.num_params(),
                    params.len()
                ),
            ));
        }
        Ok(())
    }

    /// The two-layer network this model is, if it is one (what `distributed::meanfield`
    /// shards over ranks).
    fn as_two_layer(&self) -> Option<&crate::nn::TwoLayer> {
        None
    }

    /// How the parameter vector is split over ranks, when this process holds only a part of it
    /// ([`crate::train::shard`]); `None`: the whole vector is here.
    fn shard(&self) -> Option<&dyn crate::train::shard::Shard> {
        None
    }

    /// Per-parameter prior variances μ for the semi-implicit Langevin scheme
    /// (A = diag(μ⁻¹)); `None` when the model has no such structure.
    fn prior_variances(&self) -> Option<Vec<f64>> {
        None
    }

    /// f_W(x) on a batch, with shape checks.
    fn predict(&self, params: &[f64], x: &Matrix) -> Result<Matrix> {
        self.check_input("predict", x)?;
        self.check_params("predict", params)?;
        let mut cache = Cache::default();
        let mut out = Matrix::zeros(x.rows, self.output_dim());
        self.forward(params, x, &mut cache, &mut out);
        Ok(out)
    }

    /// The Jacobian ∂f/∂W: row (i·k + c) is ∇_W f_W(x_i)_c (n·k × P), built from
    /// [`Model::backward`] one sample and one output at a time.
    fn jacobian(&self, params: &[f64], x: &Matrix) -> Matrix {
        let k = self.output_dim();
        let p = self.num_params();
        let mut jac = Matrix::zeros(x.rows * k, p);
        let mut cache = Cache::default();
        let mut out = Matrix::zeros(1, k);
        let mut d_out = Matrix::zeros(1, k);
        for i in 0..x.rows {
            let xi = x.select_rows(&[i]);
            self.forward(params, &xi, &mut cache, &mut out);
            for c in 0..k {
                d_out.data.fill(0.0);
                d_out.data[c] = 1.0;
                self.backward(params, &xi, &mut cache, &d_out, jac.row_mut(i * k + c));
            }
        }
        jac
    }

    /// A structured empirical NTK (1/k) Σ_c ⟨∇f_c(x1_i), ∇f_c(x2_j)⟩ over trainable parameters
    /// that avoids forming the Jacobian, when the model has one (`None`: use the Jacobian).
    fn empirical_ntk(&self, _params: &[f64], _x1: &Matrix, _x2: Option<&Matrix>) -> Option<Matrix> {
        None
    }

    /// True when some block is frozen.
    fn has_frozen(&self) -> bool {
        self.layout().iter().any(|b| !b.trainable)
    }
}

/// Applies `f` to every element of `src`, writing into `dst` (parallel over fixed chunks; the
/// result does not depend on the thread count).
pub(crate) fn map_into(src: &[f64], dst: &mut [f64], f: impl Fn(f64) -> f64 + Sync) {
    use rayon::prelude::*;
    const CHUNK: usize = 1 << 14;
    dst.par_chunks_mut(CHUNK)
        .zip(src.par_chunks(CHUNK))
        .for_each(|(d, s)| d.iter_mut().zip(s).for_each(|(d, &s)| *d = f(s)));
}

/// Initializes a block with N(0, std²) entries.
pub(crate) fn fill_block(params: &mut [f64], block: &ParamBlock, std: f64, rng: &mut Rng) {
    rng.fill_normal(&mut params[block.range()], std);
}

/// Zeroes the gradient of frozen blocks.
pub(crate) fn zero_frozen(layout: &[ParamBlock], grad: &mut [f64]) {
    for b in layout.iter().filter(|b| !b.trainable) {
        grad[b.range()].fill(0.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Σ_i d_i x_i, the gradient of Σ_i d_i ⟨w, x_i⟩.
    fn linear_gradient(x: &Matrix, d_out: &Matrix, g: &mut [f64]) {
        for (j, gj) in g.iter_mut().enumerate() {
            *gj = (0..x.rows).map(|i| d_out.data[i] * x.get(i, j)).sum();
        }
    }

    /// A model f_w(x) = ⟨w, x⟩ on R³ named `$name`, its product written by `$product`.
    macro_rules! linear_model {
        ($name:ident, $product:item) => {
            struct $name;
            impl Model for $name {
                fn describe(&self) -> String {
                    "linear".into()
                }
                fn input_dim(&self) -> usize {
                    3
                }
                fn layout(&self) -> Vec<ParamBlock> {
                    ParamBlock::whole("w", vec![3])
                }
                fn init(&self, _: &mut Rng) -> Vec<f64> {
                    vec![0.0; 3]
                }
                fn forward(&self, w: &[f64], x: &Matrix, _: &mut Cache, out: &mut Matrix) {
                    *out = Matrix::from_fn(x.rows, 1, |i, _| crate::linalg::dot(w, x.row(i)));
                }
                $product
            }
        };
    }

    linear_model!(
        WritesBackward,
        fn backward(&self, _: &[f64], x: &Matrix, _: &mut Cache, d: &Matrix, g: &mut [f64]) {
            linear_gradient(x, d, g)
        }
    );
    linear_model!(
        WritesBackwardPass,
        fn backward_pass(&self, pass: Backward<'_>, g: &mut [f64]) {
            linear_gradient(pass.x, pass.d_out, g)
        }
    );

    /// Whichever of `backward` and `backward_pass` a model writes, both give ∂/∂w Σ_i d_i ⟨w, x_i⟩
    /// = Σ_i d_i x_i, and the Jacobian built on them has the rows x_i.
    #[test]
    fn backward_and_backward_pass_are_the_same_product() {
        let x = Matrix::from_fn(4, 3, |i, j| (i * 3 + j) as f64 - 5.0);
        let d = Matrix::from_fn(4, 1, |i, _| 0.5 * i as f64 - 1.0);
        let expected: Vec<f64> = (0..3)
            .map(|j| (0..4).map(|i| d.data[i] * x.get(i, j)).sum())
            .collect();
        let models: [&dyn Model; 2] = [&WritesBackward, &WritesBackwardPass];
        for model in models {
            let w = [0.3, -0.2, 0.7];
            let (mut g1, mut g2) = (vec![9.0; 3], vec![9.0; 3]);
            model.backward(&w, &x, &mut Cache::default(), &d, &mut g1);
            let pass = Backward {
                params: &w,
                x: &x,
                cache: &mut Cache::default(),
                d_out: &d,
            };
            model.backward_pass(pass, &mut g2);
            assert_eq!(g1, expected);
            assert_eq!(g2, expected);
            assert_eq!(model.jacobian(&w, &x).data, x.data);
        }
    }

    #[test]
    fn block_lengths_saturate_instead_of_wrapping() {
        let block = |shape: Vec<usize>| ParamBlock::new("W", 0, shape, true);
        assert_eq!(block(vec![3, 5]).len(), 15);
        assert_eq!(block(vec![]).len(), 1);
        // 2^62 · 4 wraps to 0 in plain arithmetic, which a size check would pass.
        assert_eq!(block(vec![1 << 62, 4]).len(), usize::MAX);
    }
}
