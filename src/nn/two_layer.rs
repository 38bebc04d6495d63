//! The two-layer scaling family f(x) = α M^{−γ} Σ_{j=1}^M a_j η(w_jᵀx + b_j).
//!
//! γ = 1/2 is the NTK (lazy) regime, γ = 1 the mean-field regime; α is an output scale (large α
//! = lazy training). Either layer may be frozen: with the second layer frozen this is the
//! document's y = Σ_j v_j η(w_jᵀx + b_j). The hidden-layer passes are shared with
//! [`crate::nn::InfiniteWidth`] through [`HiddenLayer`].

use crate::error::{check_positive, Error, Result};
use crate::linalg::{gemm, gram, view, Matrix};
use crate::nn::model::{zero_frozen, Cache, Model, ParamBlock};
use crate::nn::Activation;
use crate::rng::Rng;
use rayon::prelude::*;
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

/// A hidden layer u = W x + b (W ∈ R^{M×d}) followed by η and a weighted sum c Σ_j a_j η(u_j):
/// the forward and backward passes shared by the two-layer models.
pub(crate) struct HiddenLayer<'a> {
    pub w: &'a [f64],
    pub b: Option<&'a [f64]>,
    pub a: &'a [f64],
    pub width: usize,
    pub input_dim: usize,
    pub activation: Activation,
    /// c in f = c Σ_j a_j η(u_j).
    pub scale: f64,
}

/// Rows per block of the backward pass's partial sums (fixed, so sums do not depend on the
/// thread count).
const BLOCK_ROWS: usize = 32;

impl HiddenLayer<'_> {
    /// (Φ = η(H), D = η'(H) ⊙ a) for a batch, H = X Wᵀ + b.
    fn features(&self, x: &Matrix) -> (Matrix, Matrix) {
        let m = self.width;
        let mut h = Matrix::zeros(x.rows, m);
        gemm(
            &mut h,
            0.0,
            x.view(),
            view(self.w, m, self.input_dim).transpose(),
            1.0,
        );
        if let Some(b) = self.b {
            h.data.par_chunks_mut(m).for_each(|row| {
                row.iter_mut().zip(b).for_each(|(u, &bj)| *u += bj);
            });
        }
        let act = self.activation;
        let mut phi = Matrix::zeros(x.rows, m);
        act.apply(&h.data, &mut phi.data);
        let mut dd = h;
        dd.data.par_chunks_mut(m).for_each(|row| {
            row.iter_mut()
                .zip(self.a)
                .for_each(|(u, &aj)| *u = aj * act.derivative(*u));
        });
        (phi, dd)
    }

    /// The empirical NTK c² [1[first] (D₁D₂ᵀ) ⊙ (X₁X₂ᵀ + 1[bias]) + 1[second] Φ₁Φ₂ᵀ]: the sum
    /// over neurons of ⟨∂f/∂(w_j, b_j)⟩ and ⟨∂f/∂a_j⟩ products, as three GEMMs.
    pub fn ntk(&self, x1: &Matrix, x2: Option<&Matrix>, first: bool, second: bool) -> Matrix {
        let (phi1, d1) = self.features(x1);
        let second_set = x2.map(|x| (x, self.features(x)));
        let (x2r, phi2, d2) = match &second_set {
            Some((x, (p, d))) => (*x, p, d),
            None => (x1, &phi1, &d1),
        };
        let c2 = self.scale * self.scale;
        let same = x2.is_none();
        // A B ᵀ, through the symmetric (half-flop) product when both sides are the same set.
        let product = |a: &Matrix, b: &Matrix| -> Matrix {
            let mut out = Matrix::zeros(a.rows, b.rows);
            if same {
                gram(&mut out, a.view(), 1.0);
            } else {
                gemm(&mut out, 0.0, a.view(), b.view().transpose(), 1.0);
            }
            out
        };
        let mut k = Matrix::zeros(x1.rows, x2r.rows);
        if first {
            let inputs = product(x1, x2r);
            let bias = if self.b.is_some() { 1.0 } else { 0.0 };
            k = product(&d1, d2);
            k.data
                .iter_mut()
                .zip(&inputs.data)
                .for_each(|(v, g)| *v *= c2 * (g + bias));
        }
        if second {
            let features = product(&phi1, phi2);
            k.data
                .iter_mut()
                .zip(&features.data)
                .for_each(|(v, f)| *v += c2 * f);
        }
        k
    }
}

/// For every row i: h_i += b; φ_i = f(h_i) (into `phi`, or in place); out_i = c ⟨φ_i, a⟩.
fn rows_pass(
    h: &mut Matrix,
    phi: Option<&mut Matrix>,
    out: &mut Matrix,
    a: &[f64],
    b: Option<&[f64]>,
    c: f64,
    f: impl Fn(f64) -> f64 + Sync,
) {
    let m = h.cols;
    let add_bias = |row: &mut [f64]| {
        if let Some(b) = b {
            row.iter_mut().zip(b).for_each(|(u, &bj)| *u += bj);
        }
    };
    match phi {
        None => h
            .data
            .par_chunks_mut(m)
            .zip(out.data.par_iter_mut())
            .for_each(|(row, o)| {
                add_bias(row);
                row.iter_mut().for_each(|u| *u = f(*u));
                *o = c * crate::linalg::dot8(row, a);
            }),
        Some(phi) => h
            .data
            .par_chunks_mut(m)
            .zip(phi.data.par_chunks_mut(m))
            .zip(out.data.par_iter_mut())
            .for_each(|((row, prow), o)| {
                add_bias(row);
                prow.iter_mut()
                    .zip(row.iter())
                    .for_each(|(v, &u)| *v = f(u));
                *o = c * crate::linalg::dot8(prow, a);
            }),
    }
}

impl HiddenLayer<'_> {
    /// True when the cache keeps only Φ (η' is a function of η), overwriting H.
    fn in_place(&self) -> bool {
        self.activation.derivative_from_value_exists()
    }

    /// Cache: [H = XWᵀ + b (or Φ in place), Φ (if not in place), Δ, partial sums, Xᵀ, ∂Wᵀ];
    /// out_i = c Σ_j a_j Φ_ij, computed in the same pass over the rows as Φ = η(H).
    pub fn forward(&self, x: &Matrix, cache: &mut Cache, out: &mut Matrix) {
        let (n, m) = (x.rows, self.width);
        cache.ensure(4);
        let (first, rest) = cache.mats.split_at_mut(1);
        let (h, phi) = (&mut first[0], &mut rest[0]);
        h.resize(n, m);
        gemm(
            h,
            0.0,
            x.view(),
            view(self.w, m, self.input_dim).transpose(),
            1.0,
        );
        out.resize(n, 1);
        let (a, b, c) = (self.a, self.b, self.scale);
        let act = self.activation;
        match (act, self.in_place()) {
            (Activation::Relu, _) => rows_pass(h, None, out, a, b, c, |u| u.max(0.0)),
            (_, true) => rows_pass(h, None, out, a, b, c, |u| act.value(u)),
            (_, false) => {
                phi.resize(n, m);
                rows_pass(h, Some(phi), out, a, b, c, |u| act.value(u))
            }
        }
    }

    /// Given r = d_out (n × 1), in one parallel pass over fixed blocks of rows:
    /// ∂a_j = c Σ_i r_i Φ_ij, Δ_ij = c r_i a_j η'(H_ij), ∂b_j = Σ_i Δ_ij (per-block partial sums
    /// added in block order, so nothing depends on the thread count); then ∂Wᵀ = Xᵀ Δ as a GEMM
    /// with both operands row-major (Xᵀ materialised: d × n is small), transposed into ∂W.
    /// In faer that orientation runs at ~60–70 GFLOP/s here against ~35 for Δᵀ X through a
    /// transposed view. Gradients of blocks passed as `None` are skipped.
    pub fn backward(
        &self,
        x: &Matrix,
        cache: &mut Cache,
        d_out: &Matrix,
        grad_w: Option<&mut [f64]>,
        grad_b: Option<&mut [f64]>,
        grad_a: Option<&mut [f64]>,
    ) {
        let (n, m, d) = (x.rows, self.width, self.input_dim);
        let in_place = self.in_place();
        cache.ensure(6);
        let (stored, rest) = cache.mats.split_at_mut(2);
        let (delta, rest) = rest.split_at_mut(1);
        let (partials, rest) = rest.split_at_mut(1);
        let (delta, partials) = (&mut delta[0], &mut partials[0]);
        let (xt, gwt) = rest.split_at_mut(1);
        let (xt, gwt) = (&mut xt[0], &mut gwt[0]);
        let h = &stored[0];
        let phi = if in_place { &stored[0] } else { &stored[1] };
        let source = if in_place { phi } else { h };
        let r = &d_out.data;
        let want_a = grad_a.is_some();
        let want_delta = grad_w.is_some() || grad_b.is_some();
        let blocks = n.div_ceil(BLOCK_ROWS);
        partials.resize(blocks, 2 * m);
        delta.resize(n, m);
        let (a, c, act) = (self.a, self.scale, self.activation);
        let pass = RowPass {
            phi,
            source,
            r,
            a,
            c,
            want_a,
            want_delta,
        };
        match (act, in_place) {
            (Activation::Relu, _) => pass.run(delta, partials, |v| if v > 0.0 { 1.0 } else { 0.0 }),
            (_, true) => pass.run(delta, partials, |v| act.derivative_from_value(v)),
            (_, false) => pass.run(delta, partials, |u| act.derivative(u)),
        }
        let reduce = |target: &mut [f64], offset: usize| {
            target.fill(0.0);
            for blk in 0..blocks {
                let row = &partials.row(blk)[offset..offset + m];
                target.iter_mut().zip(row).for_each(|(t, &v)| *t += v);
            }
        };
        if let Some(ga) = grad_a {
            reduce(ga, 0);
        }
        if let Some(gb) = grad_b {
            reduce(gb, m);
        }
        if let Some(gw) = grad_w {
            xt.resize(d, n);
            for i in 0..n {
                for (k, &v) in x.row(i).iter().enumerate() {
                    xt.data[k * n + i] = v;
                }
            }
            gwt.resize(d, m);
            gemm(gwt, 0.0, xt.view(), delta.view(), 1.0);
            let gwt = &*gwt;
            gw.par_chunks_mut(d).enumerate().for_each(|(j, row)| {
                for (k, v) in row.iter_mut().enumerate() {
                    *v = gwt.data[k * m + j];
                }
            });
        }
    }
}

/// The read-only inputs of the backward pass over row blocks (see [`HiddenLayer::backward`]).
struct RowPass<'a> {
    phi: &'a Matrix,
    /// Φ (derivative from the value) or H (derivative from the pre-activation).
    source: &'a Matrix,
    r: &'a [f64],
    a: &'a [f64],
    c: f64,
    want_a: bool,
    want_delta: bool,
}

impl RowPass<'_> {
    /// Δ rows and, per block, `part` = [Σ_i c r_i Φ_i | Σ_i Δ_i].
    fn run(
        &self,
        delta: &mut Matrix,
        partials: &mut Matrix,
        derivative: impl Fn(f64) -> f64 + Sync,
    ) {
        let (m, a, c) = (self.a.len(), self.a, self.c);
        let (want_a, want_delta) = (self.want_a, self.want_delta);
        delta
            .data
            .par_chunks_mut(BLOCK_ROWS * m)
            .zip(self.phi.data.par_chunks(BLOCK_ROWS * m))
            .zip(self.source.data.par_chunks(BLOCK_ROWS * m))
            .zip(self.r.par_chunks(BLOCK_ROWS))
            .zip(partials.data.par_chunks_mut(2 * m))
            .for_each(|((((d_blk, p_blk), s_blk), r_blk), part)| {
                let (pa, pb) = part.split_at_mut(m);
                pa.fill(0.0);
                pb.fill(0.0);
                for (i, &ri) in r_blk.iter().enumerate() {
                    let cr = c * ri;
                    let rows = i * m..(i + 1) * m;
                    if want_a {
                        pa.iter_mut()
                            .zip(&p_blk[rows.clone()])
                            .for_each(|(s, &v)| *s += cr * v);
                    }
                    if want_delta {
                        let d_row = &mut d_blk[rows.clone()];
                        for ((dv, &u), &aj) in d_row.iter_mut().zip(&s_blk[rows]).zip(a) {
                            *dv = cr * aj * derivative(u);
                        }
                        pb.iter_mut().zip(d_row.iter()).for_each(|(s, &v)| *s += v);
                    }
                }
            });
    }
}

/// f(x) = α M^{−γ} Σ_{j=1}^M a_j η(w_jᵀx + b_j) with w_j ~ N(0, σ_w² I), b_j ~ N(0, σ_b²).
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
        if self.symmetric && self.width % 2 != 0 {
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
        if !(self.b_std.is_finite() && self.b_std >= 0.0) {
            return Err(Error::invalid("b_std", "expected a finite number ≥ 0"));
        }
        match self.output_init {
            OutputInit::Sign { scale: s } | OutputInit::Gaussian { std: s } => {
                check_positive("output_init", s)?
            }
        }
        Ok(self)
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

    fn output_dim(&self) -> usize {
        1
    }

    fn layout(&self) -> Vec<ParamBlock> {
        let (w, b, a) = self.offsets();
        let mut blocks = vec![ParamBlock {
            name: "W".into(),
            offset: w,
            shape: vec![self.width, self.input_dim],
            trainable: self.train_first,
        }];
        if self.bias {
            blocks.push(ParamBlock {
                name: "b".into(),
                offset: b,
                shape: vec![self.width],
                trainable: self.train_first,
            });
        }
        blocks.push(ParamBlock {
            name: "a".into(),
            offset: a,
            shape: vec![self.width],
            trainable: self.train_second,
        });
        blocks
    }

    fn init(&self, rng: &mut Rng) -> Vec<f64> {
        let (w_off, b_off, a_off) = self.offsets();
        let mut p = vec![0.0; self.num_params()];
        let (d, m) = (self.input_dim, self.width);
        let drawn = if self.symmetric { m / 2 } else { m };
        for j in 0..drawn {
            rng.fill_normal(&mut p[w_off + j * d..w_off + (j + 1) * d], self.w_std);
            if self.bias {
                p[b_off + j] = self.b_std * rng.normal();
            }
            p[a_off + j] = match self.output_init {
                OutputInit::Sign { scale } => scale * rng.sign(),
                OutputInit::Gaussian { std } => std * rng.normal(),
            };
        }
        if self.symmetric {
            for j in drawn..m {
                let src = j - drawn;
                p.copy_within(w_off + src * d..w_off + (src + 1) * d, w_off + j * d);
                if self.bias {
                    p[b_off + j] = p[b_off + src];
                }
                p[a_off + j] = -p[a_off + src];
            }
        }
        p
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

    fn backward(
        &self,
        params: &[f64],
        x: &Matrix,
        cache: &mut Cache,
        d_out: &Matrix,
        grad: &mut [f64],
    ) {
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
