//! Symmetric low-rank matrix factorization / completion: min_U Σ_{(i,j)∈E} (Y_ij − (UUᵀ)_ij)².
//!
//! As a [`Model`], an input row is an observed position (i, j) and the output is
//! (UUᵀ)_ij = ⟨U_i, U_j⟩, so the squared loss on the observed set is exactly the completion
//! objective (up to the ½ and 1/|E| factors of the empirical risk).

use crate::error::{check_positive, Error, Result};
use crate::linalg::Matrix;
use crate::nn::{Cache, Model, ParamBlock};
use crate::rng::Rng;

/// f(i, j) = (UUᵀ)_ij with U ∈ R^{n×r}, U_ik ~ N(0, σ²).
#[derive(Clone, Debug, PartialEq)]
pub struct Factorization {
    /// Matrix size n.
    pub size: usize,
    /// Rank r of the factor U.
    pub rank: usize,
    /// σ, the initialisation scale (small σ: the implicit-bias regime).
    pub init_std: f64,
}

impl Factorization {
    /// An n × n factorization of rank r.
    pub fn new(size: usize, rank: usize, init_std: f64) -> Result<Factorization> {
        if size == 0 || rank == 0 {
            return Err(Error::invalid(
                "size/rank",
                format!("expected size ≥ 1 and rank ≥ 1, got {size} and {rank}"),
            ));
        }
        check_positive("init_std", init_std)?;
        Ok(Factorization {
            size,
            rank,
            init_std,
        })
    }

    /// The product UUᵀ (n × n).
    pub fn product(&self, params: &[f64]) -> Matrix {
        let u = Matrix {
            rows: self.size,
            cols: self.rank,
            data: params.to_vec(),
        };
        let mut out = Matrix::zeros(self.size, self.size);
        crate::linalg::gemm(&mut out, 0.0, u.view(), u.view().transpose(), 1.0);
        out
    }

    fn index(&self, v: f64) -> usize {
        v as usize
    }
}

impl Model for Factorization {
    fn describe(&self) -> String {
        format!("factorization(n={}, rank={})", self.size, self.rank)
    }
    fn input_dim(&self) -> usize {
        2
    }
    fn output_dim(&self) -> usize {
        1
    }
    fn layout(&self) -> Vec<ParamBlock> {
        vec![ParamBlock {
            name: "U".into(),
            offset: 0,
            shape: vec![self.size, self.rank],
            trainable: true,
        }]
    }
    fn init(&self, rng: &mut Rng) -> Vec<f64> {
        let mut p = vec![0.0; self.size * self.rank];
        rng.fill_normal(&mut p, self.init_std);
        p
    }
    fn check_input(&self, what: &str, x: &Matrix) -> Result<()> {
        if x.cols != 2 {
            return Err(Error::shape(
                what,
                format!(
                    "factorization inputs are (i, j) pairs: 2 columns, got {}",
                    x.cols
                ),
            ));
        }
        if let Some(k) = x
            .data
            .iter()
            .position(|&v| !(v >= 0.0 && v.fract() == 0.0 && (v as usize) < self.size))
        {
            return Err(Error::invalid(
                what,
                format!(
                    "row {} holds {} which is not an index in 0..{}",
                    k / 2,
                    x.data[k],
                    self.size
                ),
            ));
        }
        Ok(())
    }
    fn forward(&self, params: &[f64], x: &Matrix, _cache: &mut Cache, out: &mut Matrix) {
        let r = self.rank;
        out.resize(x.rows, 1);
        for (k, o) in out.data.iter_mut().enumerate() {
            let (i, j) = (self.index(x.get(k, 0)), self.index(x.get(k, 1)));
            *o = crate::linalg::dot(&params[i * r..(i + 1) * r], &params[j * r..(j + 1) * r]);
        }
    }
    /// ∂⟨U_i, U_j⟩/∂U_i = U_j and ∂/∂U_j = U_i (both terms when i = j: 2U_i).
    fn backward(
        &self,
        params: &[f64],
        x: &Matrix,
        _cache: &mut Cache,
        d_out: &Matrix,
        grad: &mut [f64],
    ) {
        let r = self.rank;
        grad.fill(0.0);
        for k in 0..x.rows {
            let (i, j) = (self.index(x.get(k, 0)), self.index(x.get(k, 1)));
            let g = d_out.data[k];
            for c in 0..r {
                let (ui, uj) = (params[i * r + c], params[j * r + c]);
                grad[i * r + c] += g * uj;
                grad[j * r + c] += g * ui;
            }
        }
    }
}
