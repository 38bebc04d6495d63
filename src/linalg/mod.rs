//! Thin glue over faer: a row-major [`Matrix`] (`matrix`), deterministic parallel GEMM and Gram
//! products (`gemm`), symmetric eigendecomposition, Cholesky solves and least squares
//! (`dense`), vector operations and log-sum-exp (`vector`), memory checks, huge pages and
//! streaming stores (`memory`), the run-time instruction-tier dispatch (`dispatch`); and, in
//! [`panels`], the one product
//! faer is not used for: Gram matrices of long rows (≥ 512 values, in [`gram`] and the
//! two-layer empirical NTK) from a layout written once (faer repacks both operands of every
//! tile, a transpose of every row there).
//!
//! All faer calls of the crate live here (faer breaks its API at most 0.x minors).
//!
//! **Determinism.** faer's parallel GEMM splits the output among threads, never the inner
//! dimension, so each entry of a product is the same sequence of floating-point operations
//! whatever the number of threads; the tests below hold it to that.

pub mod lanczos;
pub mod panels;
pub(crate) mod sign_bits;
mod transpose;

pub use lanczos::{lanczos_apply, lanczos_apply_operator, tridiagonal, Lanczos, LanczosOutput};
pub use panels::{gemm_panels, gemm_panels_block, gram_upper_panels, Panels};
pub(crate) use transpose::transpose_group;

use crate::error::{Error, Result};
use faer::linalg::matmul::matmul;
use faer::linalg::solvers::Solve;
use faer::{Accum, MatRef, Par};
use rayon::prelude::*;

mod dense;
mod dispatch;
mod gemm;
mod matrix;
mod memory;
mod vector;
mod view;

pub use dense::*;
pub(crate) use dispatch::*;
pub use gemm::*;
pub use matrix::*;
pub use memory::*;
pub use vector::*;
pub use view::MatrixView;

#[cfg(test)]
mod tests {
    #[test]
    fn check_fits_names_the_field_of_requests_beyond_memory() {
        assert!(super::check_fits("small", &[1000, 1000]).is_ok());
        assert!(super::check_fits("empty", &[0, usize::MAX]).is_ok());
        // 2^31 · 2^31 · 8 bytes = 2^65: the count fits in usize, the bytes do not.
        let msg = super::check_fits("model.width", &[1 << 31, 1 << 31])
            .unwrap_err()
            .to_string();
        assert!(
            msg.starts_with("invalid model.width: 2147483648 × 2147483648"),
            "{msg}"
        );
        assert!(msg.contains("address space"), "{msg}");
        // 2^57 values = 2^60 bytes (1.2e18): representable, beyond any machine's memory.
        let msg = super::check_fits("data.n", &[1 << 57])
            .unwrap_err()
            .to_string();
        if cfg!(target_os = "linux") {
            assert!(
                msg.contains("1.153e18 bytes, more than this machine's"),
                "{msg}"
            );
        }
    }

    #[test]
    fn fast_exp_is_accurate_and_identical_on_every_vector_width() {
        let xs: Vec<f64> = (0..200_001)
            .map(|k| -708.0 + 1417.0 * k as f64 / 200_000.0)
            .collect();
        let mut fast = xs.clone();
        super::exp_in_place(&mut fast);
        for (x, f) in xs.iter().zip(&fast) {
            let e = x.exp();
            assert!(
                (f - e).abs() <= 3.0 * f64::EPSILON * e,
                "exp({x}) = {f} vs {e}"
            );
        }
        let plain = super::same_on_every_tier(|| {
            let mut v = xs.clone();
            super::exp_in_place(&mut v);
            v
        });
        assert_eq!(plain, fast);
        let s: f64 = xs[..5000].iter().map(|x| (x / 708.0).exp()).sum();
        let scaled: Vec<f64> = xs[..5000].iter().map(|x| x / 708.0).collect();
        assert!((super::sum_exp(&scaled, 0.0) - s).abs() <= 1e-13 * s);
        super::same_on_every_tier(|| vec![super::sum_exp(&scaled[..4999], 0.25)]);
        assert_eq!(
            super::max(&scaled),
            scaled.iter().copied().fold(f64::NEG_INFINITY, f64::max)
        );
    }

    use super::*;
    use crate::rng::Seed;

    fn random(rows: usize, cols: usize, index: u64) -> Matrix {
        let mut r = Seed(1).stream("linalg-test", index);
        Matrix::from_fn(rows, cols, |_, _| r.normal())
    }

    fn naive(a: &Matrix, b: &Matrix) -> Matrix {
        Matrix::from_fn(a.rows, b.cols, |i, j| {
            (0..a.cols).map(|k| a.get(i, k) * b.get(k, j)).sum()
        })
    }

    #[test]
    fn gemm_matches_naive_product_in_every_split() {
        // Shapes exercising the single-block, row-split and column-split paths.
        for (idx, &(m, k, n)) in [(3, 4, 5), (300, 60, 200), (4, 300, 3000), (1000, 3, 2)]
            .iter()
            .enumerate()
        {
            let a = random(m, k, 2 * idx as u64);
            let b = random(k, n, 2 * idx as u64 + 1);
            let want = naive(&a, &b);
            let got = a.matmul(&b).unwrap();
            let err = distance(&got.data, &want.data) / want.frobenius_norm();
            assert!(err < 1e-13, "{m}×{k}×{n}: {err}");
            // Transposed views and accumulation: C = AB + (Aᵀ)ᵀ(Bᵀ)ᵀ = 2AB.
            let (at, bt) = (a.transpose(), b.transpose());
            let mut c = got.clone();
            gemm(
                &mut c,
                1.0,
                at.view().transpose(),
                bt.view().transpose(),
                1.0,
            );
            let err2 = c
                .data
                .iter()
                .zip(&want.data)
                .map(|(x, y)| (x - 2.0 * y).abs())
                .fold(0.0, f64::max);
            assert!(err2 < 1e-10 * want.frobenius_norm(), "{err2}");
        }
    }

    /// A scratch buffer has the asked length, a nested call does not share it, and the thread
    /// keeps the buffer for its next call (the values a previous call left are still there).
    #[test]
    fn scratch_buffers_are_per_call_and_kept_per_thread() {
        let outer = with_scratch(5, |a| {
            assert_eq!(a.len(), 5);
            a.fill(1.0);
            let inner = with_scratch(3, |b| {
                b.fill(2.0);
                b.as_ptr()
            });
            assert_ne!(inner, a.as_ptr(), "a nested call got the same buffer");
            assert_eq!(a, [1.0; 5], "a nested call wrote into the outer buffer");
            a.as_ptr()
        });
        let again = with_scratch(4, |c| {
            assert_eq!(c, [1.0; 4], "the thread's buffer was not kept");
            c.as_ptr()
        });
        assert_eq!(again, outer);
    }

    #[test]
    fn gemm_is_bit_identical_across_thread_counts() {
        let a = random(700, 90, 10);
        let b = random(90, 1500, 11);
        let run = |threads| on_threads(threads, || a.matmul(&b).unwrap());
        assert_eq!(run(1).data, run(2).data);
        assert_eq!(run(1).data, run(3).data);
    }

    /// Matrix–vector products (one output column or one output row) are bit-identical across
    /// thread counts too, for either layout of the matrix: faer's parallel matrix–vector kernel
    /// splits the inner dimension for a transposed (column-major) matrix, which made
    /// `predict --solver eigen` (Vᵀr) depend on the thread count in the last bit.
    #[test]
    fn matrix_vector_products_are_bit_identical_across_thread_counts() {
        let a = random(1500, 1500, 12);
        let col = random(1500, 1, 13);
        let row = random(1, 1500, 14);
        for transposed in [false, true] {
            let lhs = if transposed {
                a.view().transpose()
            } else {
                a.view()
            };
            let mv = |threads| {
                on_threads(threads, || {
                    let mut c = Matrix::zeros(1500, 1);
                    gemm(&mut c, 0.0, lhs, col.view(), 1.0);
                    c.data
                })
            };
            let vm = |threads| {
                on_threads(threads, || {
                    let mut c = Matrix::zeros(1, 1500);
                    gemm(&mut c, 0.0, row.view(), lhs, 1.0);
                    c.data
                })
            };
            assert_eq!(mv(1), mv(2), "A x, transposed = {transposed}");
            assert_eq!(mv(1), mv(3), "A x, transposed = {transposed}");
            assert_eq!(vm(1), vm(2), "x A, transposed = {transposed}");
            assert_eq!(vm(1), vm(3), "x A, transposed = {transposed}");
        }
    }

    /// Every block of `filled_by_blocks` starts zeroed (the buffer comes from fresh capacity), the
    /// first on a 64-byte line,
    /// is handed to `fill` once with its own item and its index, and the last one is short.
    #[test]
    fn filled_by_blocks_zeroes_and_fills_each_block_once() {
        for threads in [1, 3] {
            let (v, lead) = on_threads(threads, || {
                filled_by_blocks(1000, 128, (0..8).collect(), |b, block, item: usize| {
                    if b == 0 {
                        assert_eq!(block.as_ptr() as usize % 64, 0, "first block on a line");
                    }
                    assert_eq!(b, item);
                    assert_eq!(block.len(), if b == 7 { 1000 - 7 * 128 } else { 128 });
                    assert!(
                        block.iter().all(|&x| x.to_bits() == 0),
                        "block {b} not zeroed"
                    );
                    for (k, x) in block.iter_mut().enumerate() {
                        *x = (b * 128 + k) as f64;
                    }
                })
            });
            assert!(lead < 8 && v.len() == lead + 1000);
            assert!(v[..lead].iter().all(|&x| x == 0.0));
            assert!(v[lead..].iter().enumerate().all(|(i, &x)| x == i as f64));
        }
    }

    #[test]
    fn gram_is_a_a_transpose_symmetric_and_thread_independent() {
        let a = random(300, 700, 40);
        let want = naive(&a, &a.transpose());
        let run = |threads| {
            on_threads(threads, || {
                let mut c = Matrix::default();
                gram(&mut c, a.view(), 2.0);
                c
            })
        };
        let c1 = run(1);
        assert_eq!(c1.data, run(2).data);
        assert_eq!(c1.data, run(3).data);
        // The tiled upper triangle leaves the strictly lower triangle alone.
        let mut upper = Matrix::from_fn(300, 300, |_, _| f64::NAN);
        gram_upper(&mut upper, a.view(), 2.0);
        for i in 0..300 {
            for j in 0..300 {
                assert_eq!(upper.get(i, j).is_nan(), j < i, "({i}, {j})");
            }
        }
        for i in 0..300 {
            for j in 0..300 {
                assert_eq!(c1.get(i, j), c1.get(j, i));
                assert!((c1.get(i, j) - 2.0 * want.get(i, j)).abs() < 1e-10);
            }
        }
    }

    #[test]
    fn gemm_nt_is_a_b_transpose_on_both_paths() {
        // Long rows (the panel path), short rows (faer), and row views with a stride (every
        // other row, as a Jacobian's rows of one output are), against the definition.
        for (k, index) in [(700, 41), (60, 42)] {
            let (a, b) = (random(74, k, index), random(58, k, index + 10));
            fn odd(m: &Matrix, k: usize) -> (MatRef<'_, f64>, Matrix) {
                let rows = m.rows / 2;
                (
                    strided_view(&m.data[k..], rows, k, 2 * k),
                    Matrix::from_fn(rows, k, |i, j| m.get(2 * i + 1, j)),
                )
            }
            let empty = Matrix::zeros(0, k);
            let mut c = Matrix::default();
            gemm_nt(&mut c, empty.view(), b.view(), 1.0);
            assert_eq!((c.rows, c.cols), (0, b.rows));
            gemm_nt(&mut c, a.view(), empty.view(), 1.0);
            assert_eq!((c.rows, c.cols, c.data.len()), (a.rows, 0, 0));
            let ((av, a_odd), (bv, b_odd)) = (odd(&a, k), odd(&b, k));
            for (x, y, xm, ym) in [(a.view(), b.view(), &a, &b), (av, bv, &a_odd, &b_odd)] {
                let want = naive(xm, &ym.transpose());
                let mut c = Matrix::default();
                gemm_nt(&mut c, x, y, 0.5);
                assert_eq!((c.rows, c.cols), (xm.rows, ym.rows));
                for (g, w) in c.data.iter().zip(&want.data) {
                    assert!((g - 0.5 * w).abs() < 1e-11, "k = {k}: {g} vs {}", 0.5 * w);
                }
            }
        }
    }

    #[test]
    fn eigen_reconstructs_the_matrix() {
        let g = random(6, 6, 20);
        let s = naive(&g, &g.transpose());
        let (vals, vecs) = symmetric_eigen(&s).unwrap();
        assert!(vals.windows(2).all(|w| w[0] <= w[1]));
        let rebuilt = Matrix::from_fn(6, 6, |i, j| {
            (0..6)
                .map(|k| vecs.get(i, k) * vals[k] * vecs.get(j, k))
                .sum()
        });
        assert!(distance(&rebuilt.data, &s.data) < 1e-10 * s.frobenius_norm());
        let only = symmetric_eigenvalues(&s).unwrap();
        assert!(distance(&only, &vals) < 1e-10);
    }

    #[test]
    fn cholesky_solve_and_least_squares() {
        let g = random(8, 5, 30);
        let spd = naive(&g.transpose(), &g);
        let x_true = random(5, 2, 31);
        let b = naive(&spd, &x_true);
        let x = cholesky_solve(&spd, &b).unwrap();
        assert!(distance(&x.data, &x_true.data) < 1e-9);
        // Consistent system: least squares recovers the exact solution.
        let rhs = naive(&g, &x_true);
        let ls = least_squares(&g, &rhs).unwrap();
        assert!(distance(&ls.data, &x_true.data) < 1e-9);
        // A non-PD matrix is a clean error.
        let bad = Matrix::from_vec(2, 2, vec![1.0, 2.0, 2.0, 1.0]).unwrap();
        assert!(cholesky_solve(&bad, &Matrix::zeros(2, 1)).is_err());
    }

    #[test]
    fn stream_store_copies_exactly_its_range() {
        // Every start offset within a line and lengths around the line size: the head, the
        // streamed lines and the tail each land where they belong, and nothing beyond.
        let src: Vec<f64> = (0..100).map(|v| v as f64 + 0.5).collect();
        for offset in 0..9 {
            for len in [0, 1, 7, 8, 9, 15, 16, 17, 63, 64, 65, 90] {
                let mut dst = vec![-1.0; 120];
                // SAFETY: offset + len ≤ 99 < 120; `dst` is not shared.
                unsafe { stream_store(dst.as_mut_ptr().add(offset), &src[..len]) };
                stream_fence();
                for (k, &v) in dst.iter().enumerate() {
                    let want = if (offset..offset + len).contains(&k) {
                        src[k - offset]
                    } else {
                        -1.0
                    };
                    assert_eq!(v, want, "offset {offset}, len {len}, index {k}");
                }
            }
        }
    }

    #[test]
    fn log_sum_exp_is_stable() {
        let v = [1000.0, 1000.0];
        assert!((log_sum_exp(&v) - (1000.0 + 2f64.ln())).abs() < 1e-12);
        assert_eq!(log_sum_exp(&[]), f64::NEG_INFINITY);
    }
}
