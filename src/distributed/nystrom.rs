//! The Nyström preconditioner of K + λI (as in Falkon, Rudi et al. 2017, and the randomized
//! Nyström preconditioner of Frangella, Tropp & Udell 2023).
//!
//! With m landmarks L (rows ⌊jn/m⌋, j < m, evenly spread and independent of P), the Nyström
//! approximation is K̂ = K_{nL} K_{LL}⁺ K_{Ln}. It is factored stably as K̂ = U S Uᵀ:
//! * K_{LL} = Q D Qᵀ, keeping the eigenvalues d > τ d_max (τ = [`RELATIVE_CUTOFF`]);
//!   B = K_{nL} Q D^{−1/2} (n × m′), so K̂ = B Bᵀ;
//! * BᵀB = V S Vᵀ (again keeping s > τ s_max); U = B V S^{−1/2}, orthonormal columns.
//!
//! P = U S Uᵀ + λI is inverted exactly (Woodbury):
//! P⁻¹ v = U ((S + λ)⁻¹ − λ⁻¹) Uᵀ v + v / λ.
//! Eigenvalues of P⁻¹(K + λI) lie in [1, 1 + λ_{m+1}(K)/λ] roughly, so CG needs few iterations
//! once the kernel's spectrum beyond rank m falls below λ.
//!
//! Every rank computes its rows of K_{nL}; they are gathered, and the rest is computed by every
//! rank on the same full matrices, so the preconditioner does not depend on P.
//!
//! The construction is the same for every kernel computed in blocks ([`BlockKernel`]); the
//! landmarks are inputs of the training set, picked by [`Landmarks::pick`] (rows of a matrix
//! for the dense kernels, images for the convolutional ones).
//!
//! **Choosing the rank.** The condition number 1 + λ_{m+1}(K)/λ is small only once the
//! landmarks span the kernel's eigenvalues above λ. For a dot-product kernel on the sphere
//! S^{d−1} the eigenvalues come in blocks, one per degree ℓ of spherical harmonics, of
//! dimension 1, d, d(d+1)/2 − 1, … (d = 10: 1, 10, 54, 210, 660; cumulative 65 through degree 2,
//! 275 through degree 3): with λ = r·tr(K)/n and K's eigenvalues ≈ n·μ_ℓ, a preconditioner
//! whose rank stops inside a block leaves κ ≈ n·μ_ℓ/λ, which grows with n. Measured
//! (`bench/pcg_rank.sh`, n = 10⁴, d = 10, ReLU NTK, to 1e-6): 144 iterations with 50 landmarks
//! (fewer than the 65 of degree ≤ 2) and r = 1e-3, 60 with 100, 37 with 1000; 14 with 1000 and
//! r = 0.1 (the numbers in `bench/RESULTS.md`).

use super::{rows::cross_block, Communicator};
use crate::error::{Error, Result};
use crate::kernel::analytic::Network;
use crate::kernel::blocks::BlockKernel;
use crate::kernel::conv::{ConvNet, Images};
use crate::kernel::Kind;
use crate::linalg::{gemm, symmetric_eigen, Matrix, MatrixView};

/// Eigenvalues below this fraction of the largest are dropped from K_{LL} and BᵀB.
pub const RELATIVE_CUTOFF: f64 = 1e-12;

/// P⁻¹ for P = U S Uᵀ + λI (see the module doc).
#[derive(Clone, Debug)]
pub struct Nystrom {
    /// U, n × r, orthonormal columns.
    u: Matrix,
    /// (S + λ)⁻¹ − λ⁻¹ for each kept direction.
    shrink: Vec<f64>,
    /// λ.
    lambda: f64,
}

/// Landmark rows ⌊jn/m⌋, j < m = min(rank, n).
pub fn landmarks(n: usize, rank: usize) -> Vec<usize> {
    let m = rank.min(n);
    (0..m).map(|j| j * n / m).collect()
}

/// A kernel computed in blocks whose inputs can be subset: the Nyström landmarks, chosen by
/// index among the training inputs.
pub trait Landmarks: BlockKernel {
    /// Inputs owned (a matrix of rows, images).
    type Owned: Sync;

    /// Inputs `index` of `x`, in that order, as owned inputs.
    fn pick(x: Self::Inputs<'_>, index: &[usize]) -> Self::Owned;

    /// `owned` borrowed as inputs of the kernel.
    fn inputs(owned: &Self::Owned) -> Self::Inputs<'_>;
}

impl Landmarks for Network {
    type Owned = Matrix;

    fn pick(x: MatrixView<'_>, index: &[usize]) -> Matrix {
        Matrix::from_fn(index.len(), x.cols, |r, c| x.get(index[r], c))
    }

    fn inputs(owned: &Matrix) -> MatrixView<'_> {
        owned.as_view()
    }
}

impl Landmarks for ConvNet {
    type Owned = Images;

    fn pick(x: &Images, index: &[usize]) -> Images {
        let size = x.size();
        Images {
            n: index.len(),
            spatial: x.spatial.clone(),
            channels: x.channels,
            data: index
                .iter()
                .flat_map(|&i| x.data[i * size..(i + 1) * size].iter().copied())
                .collect(),
        }
    }

    fn inputs(owned: &Images) -> &Images {
        owned
    }
}

/// The eigenpairs of a symmetric matrix with eigenvalue > [`RELATIVE_CUTOFF`] × the largest:
/// (values, vectors scaled column by column by `scale(value)`).
fn kept(a: &Matrix, scale: impl Fn(f64) -> f64) -> Result<(Vec<f64>, Matrix)> {
    let (values, vectors) = symmetric_eigen(a)?;
    let top = values.iter().copied().fold(0.0, f64::max);
    let keep: Vec<usize> = (0..values.len())
        .filter(|&i| values[i] > RELATIVE_CUTOFF * top)
        .collect();
    let scaled = Matrix::from_fn(a.rows, keep.len(), |i, c| {
        vectors.get(i, keep[c]) * scale(values[keep[c]])
    });
    Ok((keep.iter().map(|&i| values[i]).collect(), scaled))
}

impl Nystrom {
    /// The preconditioner of K(x, x) + λI with `rank` landmarks (rank ≥ 1, λ > 0).
    pub fn new<K: Landmarks>(
        comm: &dyn Communicator,
        network: &K,
        kind: Kind,
        x: K::Inputs<'_>,
        rank: usize,
        lambda: f64,
    ) -> Result<Nystrom> {
        if rank == 0 {
            return Err(Error::invalid("--pcg-rank", "expected ≥ 1 landmark"));
        }
        let n = K::count(x);
        let index = landmarks(n, rank);
        let owned = K::pick(x, &index);
        let xl = K::inputs(&owned);
        let m = index.len();
        let k_ll = network.kernels_of(xl, 0..m, None)?.take(kind);
        let mine = cross_block(network, kind, x, xl, comm.rows(n))?;
        let counts = super::Blocks::new(n, comm.size()).counts(m);
        let k_nl = Matrix::from_vec(n, m, comm.all_gather(&mine.data, &counts))?;
        drop(mine);
        // K_LL⁺ = W Wᵀ with W = Q D^{-1/2}.
        let (_, w) = kept(&k_ll, |d| 1.0 / d.sqrt())?;
        // At most two n × m matrices live at once (K_nL and B, then B and U): at n = 10⁵ and
        // m = 1000, 1.6 GB per rank.
        let mut b = Matrix::zeros(n, w.cols);
        gemm(&mut b, 0.0, k_nl.view(), w.view(), 1.0);
        drop(k_nl);
        let mut gram = Matrix::zeros(w.cols, w.cols);
        gemm(&mut gram, 0.0, b.view().transpose(), b.view(), 1.0);
        let (s, v) = kept(&gram, |s| 1.0 / s.sqrt())?;
        let mut u = Matrix::zeros(n, v.cols);
        gemm(&mut u, 0.0, b.view(), v.view(), 1.0);
        drop(b);
        let shrink = s
            .iter()
            .map(|s| 1.0 / (s + lambda) - 1.0 / lambda)
            .collect();
        Ok(Nystrom { u, shrink, lambda })
    }

    /// The number of directions kept (≤ the landmarks).
    pub fn rank(&self) -> usize {
        self.shrink.len()
    }

    /// P⁻¹ v = U ((S + λ)⁻¹ − λ⁻¹) Uᵀ v + v / λ, sums in index order.
    pub fn apply(&self, v: &[f64]) -> Vec<f64> {
        let r = self.rank();
        let mut t = vec![0.0; r];
        for (i, vi) in v.iter().enumerate() {
            for (tc, uc) in t.iter_mut().zip(self.u.row(i)) {
                *tc += uc * vi;
            }
        }
        for (tc, sc) in t.iter_mut().zip(&self.shrink) {
            *tc *= sc;
        }
        v.iter()
            .enumerate()
            .map(|(i, vi)| {
                let row = self.u.row(i);
                let mut acc = vi / self.lambda;
                for (uc, tc) in row.iter().zip(&t) {
                    acc += uc * tc;
                }
                acc
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::distributed::Local;
    use crate::nn::Activation;

    /// P⁻¹ P v = v, with P = K̂ + λI built from the definition K̂ = K_nL K_LL⁻¹ K_Ln (a Cholesky
    /// solve, independent of the eigen-factored route) when every row is a landmark: K̂ = K.
    #[test]
    fn the_inverse_undoes_the_preconditioner() {
        let x = Matrix::from_fn(12, 3, |i, j| ((i * 5 + j) as f64 * 0.41).cos());
        let network = Network::new(1, Activation::ERF);
        let lambda = 0.05;
        let p = Nystrom::new(&Local, &network, Kind::Ntk, x.as_view(), 12, lambda).unwrap();
        let k = network.kernels(&x, None).unwrap().take(Kind::Ntk);
        let v: Vec<f64> = (0..12).map(|i| (i as f64 * 0.7).sin()).collect();
        let kv: Vec<f64> = (0..12)
            .map(|i| crate::linalg::dot(k.row(i), &v) + lambda * v[i])
            .collect();
        let back = p.apply(&kv);
        for (a, b) in back.iter().zip(&v) {
            assert!((a - b).abs() < 1e-8, "{a} vs {b}");
        }
        assert_eq!(landmarks(10, 4), vec![0, 2, 5, 7]);
        assert_eq!(landmarks(3, 8), vec![0, 1, 2]);
    }
}
