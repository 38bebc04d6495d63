//! Computations spread over the ranks of a communicator — one process ([`Local`]) or an MPI
//! job ([`mpi::World`], with the `mpi` cargo feature, launched by `mpirun -n P gradflow …`).
//!
//! The algorithms are written once, against [`Communicator`]; a single process runs them with
//! [`Local`], an MPI job with every rank holding a contiguous block of rows ([`Blocks`]).
//!
//! **Determinism.** Results do not depend on the number of ranks P, bit for bit:
//! * every entry a rank computes (a kernel entry, a row of a matrix–vector product) is the same
//!   sequence of floating-point operations whichever rank computes it;
//! * ranks exchange whole results only ([`Communicator::all_gather`]: the concatenation of the
//!   ranks' blocks in rank order, which is the full vector); no floating-point sum is ever split
//!   between ranks — every dot product, norm and trace is taken by every rank over the full,
//!   gathered vector, in index order. ([`Communicator::sum_in_rank_order`] exists for partial
//!   results that must be summed; it adds them in rank order, so its result depends on P only
//!   through how the parts were split.)
//! * a sum that must run over data spread over the ranks (the outputs of a two-layer net whose
//!   neurons are sharded, [`meanfield`]) is not split either: it is carried through the ranks
//!   ([`Communicator::fold_in_rank_order`]), each continuing it where the rank before stopped,
//!   so it is the single process's sum operation for operation.
//!
//! * [`rows`] — row blocks of K(x, x) equal, bit for bit, to the rows of the single-process
//!   kernel;
//! * [`nystrom`] — the Nyström preconditioner of K + λI;
//! * [`operator`] — the training kernel Θ + λI as a row-distributed product, rows stored or
//!   recomputed per product (matrix-free);
//! * [`pcg`] — preconditioned conjugate gradients over row-distributed operators;
//! * [`flow`] — gradient flow at finite times by Lanczos over the distributed product;
//! * [`krr`] — `predict` over the ranks: finite times by [`flow`], t = ∞ (kernel ridge
//!   regression) by PCG;
//! * [`npy`] — a kernel written by all ranks into one NPY file, each its rows at their offset;
//! * [`reproduce`] — the claims × seeds of `reproduce` spread over the ranks, gathered as
//!   [`wire`]-encoded results and written by rank 0.
//! * [`meanfield`] — `run` of a two-layer network with its neurons sharded over the ranks (the
//!   partial outputs summed through the ranks with [`Communicator::fold_in_rank_order`]).

pub mod flow;
pub mod krr;
pub mod meanfield;
#[cfg(feature = "mpi")]
pub mod mpi;
pub mod npy;
pub mod nystrom;
pub mod operator;
pub mod pcg;
pub mod reproduce;
pub mod rows;
pub mod wire;

use std::ops::Range;

/// The operations the distributed algorithms need from a group of P processes (ranks
/// 0..P). Every method is collective: all ranks call it, in the same order. A failure of the
/// transport ends the job (MPI's default error handler), so the methods return no error.
pub trait Communicator {
    /// This process's rank, 0..size.
    fn rank(&self) -> usize;
    /// The number of ranks P.
    fn size(&self) -> usize;
    /// The concatenation, in rank order, of every rank's `local` (rank q contributes
    /// `counts[q]` values; every rank passes the same `counts`).
    fn all_gather(&self, local: &[f64], counts: &[usize]) -> Vec<f64>;
    /// Every rank's `local` bytes (any length), in rank order, on every rank.
    fn all_gather_bytes(&self, local: &[u8]) -> Vec<Vec<u8>>;
    /// Rank 0's `bytes` on every rank (other ranks' contents are replaced).
    fn broadcast_bytes(&self, bytes: &mut Vec<u8>);
    /// Returns once every rank has called it.
    fn barrier(&self);
    /// A fold carried through the ranks in rank order: rank 0 applies `step` to `state` as
    /// given, every later rank to the state the rank before it passed on (its own `state` is
    /// ignored); every rank returns the last rank's result. A left fold over data split in
    /// contiguous blocks, one per rank, thus gives the single-process fold bit for bit, whatever
    /// P. `step` should only add this rank's precomputed terms: rank q waits for ranks < q.
    fn fold_in_rank_order(&self, state: Vec<f64>, step: &mut dyn FnMut(&mut [f64])) -> Vec<f64>;

    /// Σ_q parts_q over the ranks' equally long `local` vectors, added in rank order
    /// ((p₀ + p₁) + p₂ …) on every rank.
    fn sum_in_rank_order(&self, local: &[f64]) -> Vec<f64> {
        let len = local.len();
        let all = self.all_gather(local, &vec![len; self.size()]);
        let mut sum = vec![0.0; len];
        for part in all.chunks_exact(len.max(1)).take(self.size()) {
            for (s, v) in sum.iter_mut().zip(part) {
                *s += v;
            }
        }
        sum
    }

    /// This rank's block of `n` rows ([`Blocks`]).
    fn rows(&self, n: usize) -> Range<usize> {
        Blocks::new(n, self.size()).range(self.rank())
    }
}

/// One process: rank 0 of 1; gathers and broadcasts are copies.
#[derive(Clone, Copy, Debug, Default)]
pub struct Local;

impl Communicator for Local {
    fn rank(&self) -> usize {
        0
    }
    fn size(&self) -> usize {
        1
    }
    fn all_gather(&self, local: &[f64], _counts: &[usize]) -> Vec<f64> {
        local.to_vec()
    }
    fn all_gather_bytes(&self, local: &[u8]) -> Vec<Vec<u8>> {
        vec![local.to_vec()]
    }
    fn broadcast_bytes(&self, _bytes: &mut Vec<u8>) {}
    fn barrier(&self) {}
    fn fold_in_rank_order(
        &self,
        mut state: Vec<f64>,
        step: &mut dyn FnMut(&mut [f64]),
    ) -> Vec<f64> {
        step(&mut state);
        state
    }
}

/// n rows split into P contiguous blocks, rank q holding rows ⌊qn/P⌋..⌊(q+1)n/P⌋ (sizes
/// differ by at most one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Blocks {
    /// The number of rows.
    pub n: usize,
    /// The number of blocks (ranks), ≥ 1.
    pub parts: usize,
}

impl Blocks {
    /// `n` rows in `parts` blocks (at least one).
    pub fn new(n: usize, parts: usize) -> Blocks {
        Blocks {
            n,
            parts: parts.max(1),
        }
    }

    /// Block `q`'s rows.
    pub fn range(&self, q: usize) -> Range<usize> {
        let at = |q: usize| ((q as u128 * self.n as u128) / self.parts as u128) as usize;
        at(q)..at(q + 1)
    }

    /// Every block's length, in rank order (the `counts` of [`Communicator::all_gather`] for
    /// one value per row; multiply by the row length for rows of several values).
    pub fn counts(&self, per_row: usize) -> Vec<usize> {
        (0..self.parts)
            .map(|q| self.range(q).len() * per_row)
            .collect()
    }
}

/// Rows `rows` of `x` as a matrix.
#[cfg(test)]
pub(crate) fn select(x: &crate::linalg::Matrix, rows: Range<usize>) -> crate::linalg::Matrix {
    let index: Vec<usize> = rows.collect();
    x.select_rows(&index)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_cover_the_rows_once_in_order_with_sizes_within_one() {
        for n in [0, 1, 2, 7, 100, 101] {
            for p in 1..=5 {
                let b = Blocks::new(n, p);
                let mut next = 0;
                for q in 0..p {
                    let r = b.range(q);
                    assert_eq!(r.start, next);
                    next = r.end;
                    assert!(r.len() == n / p || r.len() == n / p + 1, "{n} {p} {r:?}");
                }
                assert_eq!(next, n);
                assert_eq!(b.counts(3).iter().sum::<usize>(), 3 * n);
            }
        }
    }

    #[test]
    fn a_local_sum_is_the_vector_itself() {
        assert_eq!(Local.sum_in_rank_order(&[1.0, 2.5]), vec![1.0, 2.5]);
        assert_eq!(Local.rows(5), 0..5);
    }
}
