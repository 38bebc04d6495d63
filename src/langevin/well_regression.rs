//! A non-convex objective with a data term, as a model of the training engine, so that
//! stochastic gradient Langevin dynamics (SGLD: minibatch gradients + Langevin noise) runs
//! through [`crate::train::Trainer`]: C independent chains w_c ∈ ℝ^d, and per sample z_i ∈ ℝ^{d−1}
//! the output Σ_c [U(w_{c,1}) + ½‖w_{c,2:d} − z_i‖²] with U a one-dimensional [`Landscape`].
//! With the linear loss (ℓ = y f, y = 1) the minibatch objective is
//! Σ_c [U(w_{c,1}) + (1/b) Σ_{i∈B} ½‖w_{c,2:d} − z_i‖²], an unbiased estimate of
//! Σ_c F(w_c), F(w) = U(w₁) + (1/n) Σ_i ½‖w_{2:d} − z_i‖² (every chain sees the step's batch).

use crate::error::{Error, Result};
use crate::linalg::Matrix;
use crate::nn::potential::{chain_layout, check_start};
use crate::nn::{Backward, Cache, Landscape, Model, ParamBlock};
use crate::rng::Rng;

/// C chains on F(w) = U(w₁) + (1/n) Σ_i ½‖w_{2:d} − z_i‖² (see the module docs).
#[derive(Clone, Debug, PartialEq)]
pub struct WellRegression {
    /// U, one-dimensional.
    pub landscape: Landscape,
    /// d (the data have d − 1 columns).
    pub dim: usize,
    /// C.
    pub chains: usize,
    /// Every chain starts here.
    pub start: Vec<f64>,
}

impl WellRegression {
    /// C chains of dimension d ≥ 2 started at `start`, checked.
    pub fn new(
        landscape: Landscape,
        dim: usize,
        chains: usize,
        start: Vec<f64>,
    ) -> Result<WellRegression> {
        landscape.validate()?;
        if landscape.required_dim() != Some(1) {
            return Err(Error::invalid(
                "landscape",
                "the well of the first coordinate must be one-dimensional",
            ));
        }
        if dim < 2 || chains == 0 {
            return Err(Error::invalid(
                "dim / chains",
                format!("expected dim ≥ 2 and chains ≥ 1, got {dim} and {chains}"),
            ));
        }
        check_start(&start, dim)?;
        Ok(WellRegression {
            landscape,
            dim,
            chains,
            start,
        })
    }

    /// The chains' positions w_c (rows of `params`, C × d).
    pub fn positions<'a>(&self, params: &'a [f64]) -> impl Iterator<Item = &'a [f64]> {
        params.chunks(self.dim)
    }
}

impl Model for WellRegression {
    fn describe(&self) -> String {
        format!(
            "well_regression({:?}, d={}, chains={})",
            self.landscape, self.dim, self.chains
        )
    }

    fn input_dim(&self) -> usize {
        self.dim - 1
    }

    fn layout(&self) -> Vec<ParamBlock> {
        chain_layout(self.chains, self.dim)
    }

    fn init(&self, _rng: &mut Rng) -> Vec<f64> {
        self.start.repeat(self.chains)
    }

    /// out_i = Σ_c [U(w_{c,1}) + ½‖w_{c,2:d} − z_i‖²].
    fn forward(&self, params: &[f64], x: &Matrix, _cache: &mut Cache, out: &mut Matrix) {
        out.resize(x.rows, 1);
        for i in 0..x.rows {
            let z = x.row(i);
            out.data[i] = params
                .chunks(self.dim)
                .map(|w| {
                    self.landscape.value(&w[..1])
                        + 0.5
                            * w[1..]
                                .iter()
                                .zip(z)
                                .map(|(a, b)| (a - b) * (a - b))
                                .sum::<f64>()
                })
                .sum();
        }
    }

    /// ∂/∂w_c of Σ_i d_i out_i: (Σ_i d_i) U′(w_{c,1}) in the first coordinate and
    /// Σ_i d_i (w_{c,2:d} − z_i) in the others.
    fn backward_pass(&self, pass: Backward<'_>, grad: &mut [f64]) {
        let (params, x, d_out) = (pass.params, pass.x, pass.d_out);
        let weight: f64 = d_out.data.iter().sum();
        // Σ_i d_i z_i.
        let mut pull = vec![0.0; self.dim - 1];
        for i in 0..x.rows {
            for (p, z) in pull.iter_mut().zip(x.row(i)) {
                *p += d_out.data[i] * z;
            }
        }
        for (w, g) in params.chunks(self.dim).zip(grad.chunks_mut(self.dim)) {
            self.landscape.gradient(&w[..1], &mut g[..1]);
            g[0] *= weight;
            for ((gk, wk), p) in g[1..].iter_mut().zip(&w[1..]).zip(&pull) {
                *gk = weight * wk - p;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Seed;

    /// The gradient of Σ_i d_i out_i against central finite differences.
    #[test]
    fn gradient_matches_finite_differences() {
        let model = WellRegression::new(
            Landscape::DoubleWell {
                height: 1.0,
                tilt: 0.3,
            },
            3,
            2,
            vec![-1.0, 0.0, 0.0],
        )
        .unwrap();
        let mut rng = Seed(3).stream("test", 0);
        let mut params = vec![0.0; 6];
        rng.fill_normal(&mut params, 1.0);
        let mut z = vec![0.0; 8];
        rng.fill_normal(&mut z, 1.0);
        let x = Matrix::from_vec(4, 2, z).unwrap();
        let d = Matrix::from_vec(4, 1, vec![0.25, -0.5, 1.0, 0.3]).unwrap();
        let value = |p: &[f64]| {
            let out = model.predict(p, &x).unwrap();
            out.data
                .iter()
                .zip(&d.data)
                .map(|(a, b)| a * b)
                .sum::<f64>()
        };
        let mut grad = vec![0.0; 6];
        let mut cache = Cache::default();
        let mut out = Matrix::default();
        model.forward(&params, &x, &mut cache, &mut out);
        model.backward(&params, &x, &mut cache, &d, &mut grad);
        for k in 0..6 {
            let h = 1e-6;
            let (mut p, mut m) = (params.clone(), params.clone());
            p[k] += h;
            m[k] -= h;
            let fd = (value(&p) - value(&m)) / (2.0 * h);
            assert!(
                (fd - grad[k]).abs() < 1e-6 * (1.0 + fd.abs()),
                "{k}: {} vs {fd}",
                grad[k]
            );
        }
    }
}
