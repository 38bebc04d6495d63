//! The two-layer kernels of the source document in closed form.

use super::*;
use crate::error::{Error, Result};
use crate::linalg::{fill_lower_from_upper, gemm_nt, gram, Matrix};
use crate::nn::Activation;
use rayon::prelude::*;

/// The document's K_∞,ij = E_{w~N(0,I)}[x_iᵀx_j η'(wᵀx_i) η'(wᵀx_j)]: the NTK of a two-layer
/// net with only the first layer trained (unit output weights, 1/√M scaling), between `x1` and
/// `x2`, or of `x1` with itself (exactly symmetric) when `x2` is `None`.
pub fn two_layer_first_layer_ntk(
    x1: &Matrix,
    x2: Option<&Matrix>,
    activation: Activation,
) -> Result<Matrix> {
    two_layer(x1, x2, activation, false)
}

/// The document's k_∞(x, x') = E[η(wᵀx) η(wᵀx')] + E[η'(wᵀx) η'(wᵀx')] xᵀx', w ~ N(0, I): the
/// NTK of a two-layer net with both layers trained — the limit of
/// [`crate::nn::TwoLayer`] at γ = 1/2 with σ_w = 1, |a_j| = 1, no bias — between `x1` and `x2`,
/// or of `x1` with itself (exactly symmetric, half the work) when `x2` is `None`.
pub fn two_layer_ntk(x1: &Matrix, x2: Option<&Matrix>, activation: Activation) -> Result<Matrix> {
    two_layer(x1, x2, activation, true)
}

fn two_layer(
    x1: &Matrix,
    x2: Option<&Matrix>,
    activation: Activation,
    both: bool,
) -> Result<Matrix> {
    let same = x2.is_none();
    let x2 = x2.unwrap_or(x1);
    if x1.cols != x2.cols {
        return Err(Error::shape(
            "two-layer kernel",
            "x1 and x2 differ in columns",
        ));
    }
    let map = ActivationMap::new(activation, 48)?;
    let norms = |x: &Matrix| -> Vec<f64> {
        (0..x.rows)
            .map(|i| x.row(i).iter().map(|v| v * v).sum())
            .collect()
    };
    let (q1, q2) = (norms(x1), norms(x2));
    let mut cross = Matrix::default();
    if same {
        gram(&mut cross, x1.view(), 1.0);
    } else {
        gemm_nt(&mut cross, x1.view(), x2.view(), 1.0);
    }
    let n2 = x2.rows;
    let mut out = Matrix::zeros(x1.rows, n2);
    out.data
        .par_chunks_mut(n2)
        .zip(cross.data.par_chunks(n2))
        .enumerate()
        .for_each(|(i, (o_row, c_row))| {
            let start = if same { i } else { 0 };
            for j in start..n2 {
                let (k, tdot) = map.pair(q1[i], q2[j], c_row[j], same && i == j);
                o_row[j] = tdot * c_row[j] + if both { k } else { 0.0 };
            }
        });
    if same {
        fill_lower_from_upper(&mut out);
    }
    Ok(out)
}
