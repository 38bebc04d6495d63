//! Infinite-width NNGP and NTK of deep fully connected networks, as a serial composition of
//! layer maps acting on (cross-covariance, the two diagonal variances, NTK) — the kernel of
//! `stax.serial(Dense(m, W_std, b_std), act, …, Dense(m, …), act, Dense(1, W_std, b_std))` in
//! neural-tangents' conventions.
//!
//! Input: K⁰(x, x') = ⟨x, x'⟩ / d (normalized by the input dimension), Θ⁰ = 0.
//!
//! Dense layer (σ_w, σ_b; σ_b² only with a bias):
//! * NNGP: K' = σ_w² K + σ_b²;
//! * NTK parameterization: Θ' = K' + σ_w² Θ;
//! * standard parameterization: Θ' = m_in K + 1\[bias\] + σ_w² Θ, with m_in the layer's input
//!   width (the NTK of a standard-parameterized net grows with its width).
//!
//! Activation η, with (u, v) ~ N(0, [[q₁, q₁₂], [q₁₂, q₂]]): K' = E[η(u) η(v)],
//! Θ' = Θ · E[η'(u) η'(v)], q₁' = E[η(u)²]. Closed forms:
//! * the a/b ReLU family η = a·min(u, 0) + b·max(u, 0) (ReLU (0, 1), leaky ReLU (α, 1),
//!   |u| (−1, 1)), from the arc-cosine kernel of degree 1 (Cho & Saul 2009): with
//!   cos θ = q₁₂/√(q₁q₂) and J(θ) = √(q₁q₂)/(2π) (sin θ + (π − θ) cos θ) = E[relu(u) relu(v)],
//!   K' = (a² + b²) J(θ) − 2ab J(π − θ), where J(π − θ) = √(q₁q₂)/(2π) (sin θ − θ cos θ);
//!   E[η'η'] = ((a² + b²)(π − θ) + 2ab θ)/(2π); q' = (a² + b²) q/2;
//! * a·erf(b·u) + c (Williams 1997, with q scaled by b²):
//!   K' = a² (2/π) arcsin(2b²q₁₂/√((1 + 2b²q₁)(1 + 2b²q₂))) + c²,
//!   E[η'η'] = a²b² (4/π) / √((1 + 2b²q₁)(1 + 2b²q₂) − 4b⁴q₁₂²);
//! * identity: K' = q₁₂, E[η'η'] = 1;
//! * monomials u^k (writing v = ρ-part + independent part):
//!   E[u^k v^k] = Σ_{m ≡ k (mod 2)} C(k, m) (k + m − 1)!! (k − m − 1)!! q₁₂^m (q₁q₂ − q₁₂²)^{(k−m)/2},
//!   E[η'η'] = k² E[u^{k−1} v^{k−1}], q' = (2k − 1)!! q^k;
//! * every other activation: 2-D Gauss–Hermite quadrature with `quadrature_degree` points per
//!   axis (the default 48 points give ≤ 1e-6 relative error on smooth activations).
//!
//! On the diagonal of a kernel of one input set with itself, cos θ is set to exactly 1.

mod acos;
mod maps;
mod stream;
#[cfg(test)]
mod tests;
mod tiles;
mod two_layer;

use crate::error::{check_positive, Error, Result};
use crate::linalg::{Matrix, MatrixView};
use crate::nn::{Activation, Parameterization};
use acos::*;
pub(crate) use acos::{horner, ASIN_A};
#[cfg(test)]
use maps::*;
pub(crate) use maps::{ActivationMap, Dense, LayerVariances, VARIANCE_RANGE};
pub use stream::{check_block_rows, check_stream, KernelStream};
pub use two_layer::{two_layer_first_layer_ntk, two_layer_ntk};

/// The fully connected architecture whose infinite-width kernels are computed.
#[derive(Clone, Debug, PartialEq)]
pub struct Network {
    /// Number of hidden (Dense + activation) layers before the final Dense(1); 1 is the
    /// document's two-layer network.
    pub depth: usize,
    /// η.
    pub activation: Activation,
    /// σ_w.
    pub w_std: f64,
    /// σ_b, `None` for layers without bias.
    pub b_std: Option<f64>,
    /// Weight convention.
    pub parameterization: Parameterization,
    /// Hidden width m (enters only the standard parameterization's NTK).
    pub width: usize,
    /// Points per axis of the Gauss–Hermite rule for activations without a closed form
    /// (1 to [`MAX_QUADRATURE_DEGREE`]).
    pub quadrature_degree: usize,
}

/// Which kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// The neural tangent kernel Θ.
    Ntk,
    /// The NNGP kernel K.
    Nngp,
}

impl std::str::FromStr for Kind {
    type Err = String;
    /// The spec's spelling (snake case), via [`crate::error::parse_variant`].
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        crate::error::parse_variant(s)
    }
}

/// NNGP and NTK matrices between two input sets.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Kernels {
    /// The NNGP kernel K(x_i, x'_j).
    pub nngp: Matrix,
    /// The NTK Θ(x_i, x'_j).
    pub ntk: Matrix,
}

/// The largest Gauss–Hermite degree: the rule's nodes come from a dense degree × degree
/// eigenproblem, and each kernel entry costs degree² activation evaluations per layer.
pub const MAX_QUADRATURE_DEGREE: usize = 1000;

impl Network {
    /// A network in the NTK parameterization with σ_w = 1, no bias, ReLU.
    pub fn new(depth: usize, activation: Activation) -> Network {
        Network {
            depth,
            activation,
            w_std: 1.0,
            b_std: None,
            parameterization: Parameterization::Ntk,
            width: 1,
            quadrature_degree: 48,
        }
    }

    /// Checks the settings.
    pub fn validate(&self) -> Result<()> {
        if self.depth == 0 {
            return Err(Error::invalid("depth", "expected at least 1 hidden layer"));
        }
        check_positive("w_std", self.w_std)?;
        if let Some(b) = self.b_std {
            crate::error::check_non_negative("b_std", b)?;
        }
        if self.width == 0 {
            return Err(Error::invalid("width", "expected ≥ 1"));
        }
        if !(1..=MAX_QUADRATURE_DEGREE).contains(&self.quadrature_degree) {
            return Err(Error::invalid(
                "quadrature_degree",
                format!(
                    "expected 1 to {MAX_QUADRATURE_DEGREE} points per axis, got {}",
                    self.quadrature_degree
                ),
            ));
        }
        Ok(())
    }

    /// Err naming `what` (the file or argument the inputs came from) when some row of `x` has
    /// ‖x‖²/d beyond the variance range the layer maps hold (1e150) — huge finite inputs, whose
    /// kernel would otherwise be blamed on w_std, b_std or the depth.
    pub fn check_inputs<'a>(&self, what: &str, x: impl Into<MatrixView<'a>>) -> Result<()> {
        let x = x.into();
        let d = x.cols.max(1) as f64;
        for i in 0..x.rows {
            // Scaled so that the sum of squares cannot overflow: ‖x‖² = s² Σ (x_j / s)².
            let row = x.row(i);
            let s = row.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            if s == 0.0 {
                continue;
            }
            let q0 = s * s * row.iter().map(|v| (v / s) * (v / s)).sum::<f64>() / d;
            if q0.is_nan() || q0 > VARIANCE_RANGE {
                return Err(Error::invalid(
                    what,
                    format!(
                        "row {i} (largest entry {s:.3e}) has ‖x‖²/d = {q0:.3e}, beyond the range \
                         the kernel's layer maps hold in f64 (≤ {VARIANCE_RANGE:e}); rescale the \
                         inputs"
                    ),
                ));
            }
        }
        Ok(())
    }

    fn bias_var(&self) -> f64 {
        self.b_std.map_or(0.0, |b| b * b)
    }

    /// The pre-activation variances of every hidden layer for inputs with K⁰(x, x) = q₀.
    /// Each of them, and the output variance after the final Dense layer, must lie within
    /// [`VARIANCE_RANGE`], so that the layer maps' products of two variances stay finite; by
    /// Cauchy–Schwarz (|K(x, x′)| ≤ √(K(x, x) K(x′, x′)), the same for Θ) the off-diagonal
    /// entries are then bounded as well. Otherwise an error names the layer and q₀.
    fn variances(&self, map: &ActivationMap, q0: f64) -> Result<Vec<f64>> {
        let w2 = self.w_std * self.w_std;
        let mut out = Vec::with_capacity(self.depth);
        let mut q = q0;
        for l in 0..=self.depth {
            let pre = w2 * q + self.bias_var();
            if pre.is_nan() || pre.abs() > VARIANCE_RANGE {
                let layer = if l < self.depth {
                    format!("layer-{} pre-activation", l + 1)
                } else {
                    "output".to_string()
                };
                return Err(Error::invalid(
                    "w_std, b_std or depth",
                    format!(
                        "for an input with ‖x‖²/d = {q0:.3e} the {layer} variance is {pre:.3e}, \
                         beyond the range the layer maps can hold in f64 (≤ \
                         {VARIANCE_RANGE:e}); lower w_std, b_std or the depth, or rescale \
                         the inputs"
                    ),
                ));
            }
            if l == self.depth {
                break;
            }
            out.push(pre);
            q = map.variance(pre);
        }
        Ok(out)
    }

    /// The Dense update of layer `l` (0 = the first, `depth` = the final Dense(1)).
    fn dense(&self, l: usize, input_dim: usize) -> Dense {
        let w2 = self.w_std * self.w_std;
        let b2 = self.bias_var();
        let carry = l > 0;
        match self.parameterization {
            Parameterization::Ntk => Dense {
                w2,
                b2,
                ck: w2,
                c1: b2,
                carry,
            },
            Parameterization::Standard => Dense {
                w2,
                b2,
                ck: if l == 0 { input_dim } else { self.width } as f64,
                c1: if self.b_std.is_some() { 1.0 } else { 0.0 },
                carry,
            },
        }
    }

    /// One row of the kernels, in place: on entry `nngp` holds K⁰ = ⟨x_i, x'_j⟩/d for
    /// j ≥ `start`, on exit K and Θ of the whole network (the layer maps run over the row).
    #[allow(clippy::too_many_arguments)]
    fn row(
        &self,
        map: &ActivationMap,
        v1: &[f64],
        v2_layers: &[LayerVariances],
        start: usize,
        nngp: &mut [f64],
        ntk: &mut [f64],
        diagonal: Option<usize>,
        input_dim: usize,
    ) {
        let last = self.dense(self.depth, input_dim);
        for (l, v2) in v2_layers.iter().enumerate() {
            let post = (l + 1 == self.depth).then_some(last);
            let dense = self.dense(l, input_dim);
            map.apply_layer((dense, post), v1[l], v2, start, nngp, ntk, diagonal);
        }
    }

    /// NNGP and NTK between the rows of `x1` and of `x2` (`None`: x2 = x1, the kernels are
    /// exactly symmetric and the diagonal angle is exactly 0). Parallel over rows; each entry is independent of the thread count.
    pub fn kernels(&self, x1: &Matrix, x2: Option<&Matrix>) -> Result<Kernels> {
        let mut out = Kernels::default();
        self.kernels_into(x1, x2, &mut out)?;
        Ok(out)
    }

    /// [`Network::kernels`] written into `out`, whose buffers are reused when their shapes
    /// match (every entry is overwritten, none read): repeated calls of one size (a sweep over
    /// σ_w, σ_b or depth) then need no fresh memory. Fresh outputs are not zeroed first either,
    /// but the memory itself may be: the system allocator maps each 4000 × 4000 output fresh
    /// and the operating system zeroes it page by page on first touch (≈ 20 ms of a 55 ms
    /// call for one hidden layer on two cores), where [`crate::alloc::Allocator`] reuses the
    /// memory of outputs freed earlier in the run.
    pub fn kernels_into(&self, x1: &Matrix, x2: Option<&Matrix>, out: &mut Kernels) -> Result<()> {
        self.kernels_view_into(x1.as_view(), x2.map(Matrix::as_view), out)
    }

    /// [`Network::kernels`] of inputs borrowed from their owner ([`MatrixView`]: a caller's
    /// array read in place, no copy).
    pub fn kernels_view(&self, x1: MatrixView<'_>, x2: Option<MatrixView<'_>>) -> Result<Kernels> {
        let mut out = Kernels::default();
        self.kernels_view_into(x1, x2, &mut out)?;
        Ok(out)
    }

    /// [`Network::kernels_into`] of borrowed inputs.
    pub fn kernels_view_into(
        &self,
        x1: MatrixView<'_>,
        x2: Option<MatrixView<'_>>,
        out: &mut Kernels,
    ) -> Result<()> {
        match x2 {
            Some(x2) => self.compute(x1, x2, false, out),
            None => self.compute(x1, x1, true, out),
        }
    }

    /// The upper part of a row block of K(x, x): with `x` = rows b..n of an input set whose
    /// block rows b..b + `rows` come first, the kernels between those `rows` rows and all of
    /// `x` (a `rows` × x.rows matrix). Its leading `rows` × `rows` square is computed on the
    /// upper triangle and mirrored, with the diagonal angle exactly 0, as in
    /// [`Network::kernels`] with x2 omitted. Used to stream kernels larger than memory with
    /// every pair computed once (so the file is exactly symmetric).
    pub fn kernels_upper_block<'a>(
        &self,
        x: impl Into<MatrixView<'a>>,
        rows: usize,
    ) -> Result<Kernels> {
        let x = x.into();
        if rows > x.rows {
            return Err(Error::shape(
                "kernels_upper_block",
                format!("{rows} block rows, but x has {}", x.rows),
            ));
        }
        let mut out = Kernels::default();
        self.compute(x.row_range(0, rows), x, true, &mut out)?;
        Ok(out)
    }
}

impl Kernels {
    /// The requested kernel.
    pub fn take(self, kind: Kind) -> Matrix {
        match kind {
            Kind::Ntk => self.ntk,
            Kind::Nngp => self.nngp,
        }
    }
}
