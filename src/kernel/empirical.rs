//! Empirical (finite-width) kernels: the NTK K_W(x, x') = ⟨∇_W f_W(x), ∇_W f_W(x')⟩ of any
//! model, averaged over outputs like neural-tangents' `trace_axes=(-1,)`, with structured fast
//! paths that never form the n × P Jacobian ([`crate::nn::Model::empirical_ntk`]).

use crate::error::Result;
use crate::linalg::{gemm_nt, gram, strided_view, Matrix};
use crate::nn::Model;

/// Θ_W(x1_i, x2_j) = (1/k) Σ_c ⟨∇_W f_c(x1_i), ∇_W f_c(x2_j)⟩ over trainable parameters.
/// Uses the model's structured path when it has one, else J₁ J₂ᵀ from [`Model::jacobian`].
///
/// The two-layer net of neural-tangents' `stax.serial(Dense(M), Relu(), Dense(1))` (Gaussian
/// output weights), whose structured path forms neither the Jacobian nor a GEMM for the first
/// layer's part, against the Jacobian's J Jᵀ:
///
/// ```
/// use gradflow::kernel::empirical::{empirical_ntk, jacobian_ntk};
/// use gradflow::nn::{Activation, Model, OutputInit, TwoLayer};
/// use gradflow::{Matrix, Seed};
/// # fn main() -> gradflow::Result<()> {
/// let model = TwoLayer {
///     output_init: OutputInit::Gaussian { std: 1.0 },
///     ..TwoLayer::new(3, 256, Activation::Relu, 0.5)?
/// };
/// let params = model.init(&mut Seed(0).stream("init", 0));
/// let mut rng = Seed(0).stream("x", 0);
/// let x = Matrix::from_fn(20, 3, |_, _| rng.normal());
/// let fast = empirical_ntk(&model, &params, &x, None)?; // 20 × 20
/// let slow = jacobian_ntk(&model, &params, &x, None)?;
/// let diff: f64 = fast.data.iter().zip(&slow.data).map(|(a, b)| (a - b).powi(2)).sum();
/// assert!(diff.sqrt() < 1e-12 * slow.frobenius_norm());
/// # Ok(())
/// # }
/// ```
pub fn empirical_ntk(
    model: &dyn Model,
    params: &[f64],
    x1: &Matrix,
    x2: Option<&Matrix>,
) -> Result<Matrix> {
    check_inputs("empirical_ntk", model, params, x1, x2)?;
    if let Some(k) = model.empirical_ntk(params, x1, x2) {
        return Ok(k);
    }
    jacobian_gram(model, params, x1, x2)
}

/// The generic path: J₁ J₂ᵀ with frozen columns removed, averaged over the k outputs — one
/// product per output c over that output's Jacobian rows, Θ = (1/k) Σ_c J₁,c J₂,cᵀ (a Gram,
/// exactly symmetric, when x2 is omitted), never the (n₁k) × (n₂k) product of all rows.
pub fn jacobian_ntk(
    model: &dyn Model,
    params: &[f64],
    x1: &Matrix,
    x2: Option<&Matrix>,
) -> Result<Matrix> {
    check_inputs("jacobian_ntk", model, params, x1, x2)?;
    jacobian_gram(model, params, x1, x2)
}

/// Err unless both input sets suit the model and `params` has its parameter count.
fn check_inputs(
    routine: &str,
    model: &dyn Model,
    params: &[f64],
    x1: &Matrix,
    x2: Option<&Matrix>,
) -> Result<()> {
    model.check_input(&format!("{routine} x"), x1)?;
    if let Some(x2) = x2 {
        model.check_input(&format!("{routine} x2"), x2)?;
    }
    model.check_params(routine, params)?;
    let n2 = x2.map_or(x1.rows, |x| x.rows);
    crate::linalg::check_fits(
        &format!("{routine} (rows of x × rows of x2)"),
        &[x1.rows, n2],
    )
}

/// [`jacobian_ntk`] on checked inputs.
fn jacobian_gram(
    model: &dyn Model,
    params: &[f64],
    x1: &Matrix,
    x2: Option<&Matrix>,
) -> Result<Matrix> {
    let k = model.output_dim();
    // The Jacobians of both input sets: n₁ + n₂ rows per output, P columns.
    let rows = x1.rows + x2.map_or(0, |x| x.rows);
    crate::linalg::check_fits(
        "Jacobian (inputs × outputs × parameters)",
        &[rows, k, params.len()],
    )?;
    let mut j1 = model.jacobian(params, x1);
    let frozen: Vec<_> = model
        .layout()
        .into_iter()
        .filter(|b| !b.trainable)
        .collect();
    let zero = |j: &mut Matrix| {
        for r in 0..j.rows {
            for b in &frozen {
                j.row_mut(r)[b.range()].fill(0.0);
            }
        }
    };
    zero(&mut j1);
    let j2 = match x2 {
        Some(x2) => {
            let mut j = model.jacobian(params, x2);
            zero(&mut j);
            Some(j)
        }
        None => None,
    };
    let j2r = j2.as_ref().unwrap_or(&j1);
    let (n1, n2, p) = (j1.rows / k, j2r.rows / k, j1.cols);
    // Θ = (1/k) Σ_c J_c J'_cᵀ over output c's rows (i·k + c, strided views), the outputs summed
    // in order; exactly symmetric when x2 is omitted (each term a Gram).
    let mut theta = Matrix::zeros(n1, n2);
    let mut term = Matrix::default();
    for c in 0..k {
        // (An empty input set has no rows to offset into.)
        let first = |j: &Matrix| (c * p).min(j.data.len());
        let a = strided_view(&j1.data[first(&j1)..], n1, p, k * p);
        match j2 {
            Some(_) => {
                let b = strided_view(&j2r.data[first(j2r)..], n2, p, k * p);
                gemm_nt(&mut term, a, b, 1.0 / k as f64);
            }
            None => gram(&mut term, a, 1.0 / k as f64),
        }
        if c == 0 {
            std::mem::swap(&mut theta, &mut term);
        } else {
            theta
                .data
                .iter_mut()
                .zip(&term.data)
                .for_each(|(t, v)| *t += v);
        }
    }
    Ok(theta)
}
