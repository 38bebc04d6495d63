//! Synthetic data generators: inputs on the unit sphere, Gaussian inputs, the equispaced circle,
//! separable clusters, Fourier and spherical-harmonic targets, low-rank PSD matrices with
//! observation masks, and label noise. (A teacher network's targets are built by the spec
//! layer, which knows the models: `data` does not import `nn`.)
//!
//! Every generator takes the [`Rng`] it draws from, so a caller decides the stream.

use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::linalg::Matrix;
use crate::rng::Rng;

/// n points uniform on the unit sphere S^{d−1} ⊂ R^d.
pub fn sphere(n: usize, d: usize, rng: &mut Rng) -> Matrix {
    let mut x = Matrix::zeros(n, d);
    for i in 0..n {
        rng.unit_vector(x.row_mut(i));
    }
    x
}

/// n points with i.i.d. N(0, std²) coordinates.
pub fn gaussian(n: usize, d: usize, std: f64, rng: &mut Rng) -> Matrix {
    let mut x = Matrix::zeros(n, d);
    rng.fill_normal(&mut x.data, std);
    x
}

/// The equispaced circle: x_i = (cos θ_i, sin θ_i), θ_i = 2π i / n. Returns (x, θ).
pub fn circle_grid(n: usize) -> (Matrix, Vec<f64>) {
    let theta: Vec<f64> = (0..n)
        .map(|i| 2.0 * std::f64::consts::PI * i as f64 / n as f64)
        .collect();
    let x = Matrix::from_fn(n, 2, |i, j| {
        if j == 0 {
            theta[i].cos()
        } else {
            theta[i].sin()
        }
    });
    (x, theta)
}

/// A Fourier target on the circle: y(θ) = Σ_k c_k cos(k θ) for the (frequency k, amplitude c_k)
/// pairs given.
pub fn fourier_target(theta: &[f64], terms: &[(usize, f64)]) -> Matrix {
    Matrix::column(
        theta
            .iter()
            .map(|t| terms.iter().map(|&(k, c)| c * (k as f64 * t).cos()).sum())
            .collect(),
    )
}

/// The Legendre (Gegenbauer) polynomial P_{k,d}(t) of degree k in dimension d, normalized so that
/// P_{k,d}(1) = 1: for d = 2 it is the Chebyshev polynomial T_k(t), for d ≥ 3 it is
/// C_k^{(λ)}(t) / C_k^{(λ)}(1) with λ = d/2 − 1 (three-term recurrence
/// k C_k = 2t(k+λ−1) C_{k−1} − (k+2λ−2) C_{k−2}).
pub fn legendre_polynomial(k: usize, d: usize, t: f64) -> f64 {
    if d <= 2 {
        // T_k by its recurrence T_k = 2t T_{k−1} − T_{k−2}.
        let (mut a, mut b) = (1.0, t);
        if k == 0 {
            return 1.0;
        }
        for _ in 1..k {
            let c = 2.0 * t * b - a;
            a = b;
            b = c;
        }
        return b;
    }
    let lambda = d as f64 / 2.0 - 1.0;
    let gegenbauer = |t: f64| {
        let (mut a, mut b) = (1.0, 2.0 * lambda * t);
        if k == 0 {
            return 1.0;
        }
        for j in 2..=k {
            let jf = j as f64;
            let c = (2.0 * t * (jf + lambda - 1.0) * b - (jf + 2.0 * lambda - 2.0) * a) / jf;
            a = b;
            b = c;
        }
        b
    };
    gegenbauer(t) / gegenbauer(1.0)
}

/// A zonal spherical harmonic of degree k: y(x) = P_{k,d}(⟨u, x⟩) for a unit direction u
/// (x on S^{d−1}; on the circle this is cos(k(θ − θ_u))).
pub fn spherical_harmonic_target(x: &Matrix, direction: &[f64], degree: usize) -> Matrix {
    let d = x.cols;
    Matrix::column(
        (0..x.rows)
            .map(|i| {
                let t: f64 = x.row(i).iter().zip(direction).map(|(a, b)| a * b).sum();
                legendre_polynomial(degree, d, t.clamp(-1.0, 1.0))
            })
            .collect(),
    )
}

/// Linearly separable clusters with ±1 labels: `clusters` centres on the unit sphere (alternating
/// labels +1, −1, +1, …), each sample a centre plus N(0, spread² I) noise, n samples assigned
/// round-robin to the clusters.
pub fn clusters(
    n: usize,
    d: usize,
    clusters: usize,
    spread: f64,
    rng: &mut Rng,
) -> Result<Dataset> {
    if clusters < 2 {
        return Err(Error::invalid("clusters", "need at least 2 clusters"));
    }
    let centres = sphere(clusters, d, rng);
    let mut x = Matrix::zeros(n, d);
    let mut y = Matrix::zeros(n, 1);
    for i in 0..n {
        let c = i % clusters;
        for (j, v) in x.row_mut(i).iter_mut().enumerate() {
            *v = centres.get(c, j) + spread * rng.normal();
        }
        y.data[i] = if c.is_multiple_of(2) { 1.0 } else { -1.0 };
    }
    Dataset::new("clusters", x, y)
}

/// The same data with a constant last coordinate 1 appended to every input (a bias coordinate:
/// a bias-free net on these inputs has a bias, and stays positively homogeneous in its weights).
/// On [`clusters`] in d − 1 dimensions: the implicit-bias data of Chizat & Bach (2020).
pub fn with_bias_coordinate(data: &Dataset) -> Result<Dataset> {
    let (n, d) = (data.x.rows, data.x.cols);
    let x = Matrix::from_fn(n, d + 1, |i, j| if j == d { 1.0 } else { data.x.get(i, j) });
    Dataset::new("data with a bias coordinate", x, data.y.clone())
}

/// A random `rows × cols` matrix with orthonormal columns (rows ≥ cols): classical Gram–Schmidt
/// on a standard Gaussian matrix, column by column (q_c ← q_c − Σ_{p<c} ⟨q_c, q_p⟩ q_p, then
/// q_c ← q_c/‖q_c‖); for rows = cols a random orthogonal matrix.
pub fn orthonormal(rows: usize, cols: usize, rng: &mut Rng) -> Matrix {
    let mut q = gaussian(rows, cols, 1.0, rng);
    for c in 0..cols {
        for p in 0..c {
            let dot: f64 = (0..rows).map(|i| q.get(i, c) * q.get(i, p)).sum();
            for i in 0..rows {
                q.set(i, c, q.get(i, c) - dot * q.get(i, p));
            }
        }
        let norm = (0..rows).map(|i| q.get(i, c).powi(2)).sum::<f64>().sqrt();
        for i in 0..rows {
            q.set(i, c, q.get(i, c) / norm);
        }
    }
    q
}

/// A random symmetric PSD matrix of rank r: Y = U Uᵀ / r with U ∈ R^{n×r}, U_ij ~ N(0, 1)
/// (so that E Y_ii = 1). Returns (Y, U).
pub fn low_rank_psd(n: usize, rank: usize, rng: &mut Rng) -> (Matrix, Matrix) {
    let mut u = gaussian(n, rank, 1.0, rng);
    let scale = 1.0 / (rank as f64).sqrt();
    u.data.iter_mut().for_each(|v| *v *= scale);
    let ut = u.transpose();
    let y = u.matmul(&ut).unwrap_or_else(|_| Matrix::zeros(n, n));
    (y, u)
}

/// A symmetric observation set E: each pair (i, j), i ≤ j, is observed with probability p.
/// Returned as the list of observed pairs with i ≤ j.
pub fn observation_mask(n: usize, p: f64, rng: &mut Rng) -> Vec<(usize, usize)> {
    let mut pairs = Vec::new();
    for i in 0..n {
        for j in i..n {
            if rng.uniform() < p {
                pairs.push((i, j));
            }
        }
    }
    pairs
}

/// The matrix-completion data set of the observed entries: x = (i, j) as numbers, y = Y_ij.
pub fn completion_dataset(y: &Matrix, observed: &[(usize, usize)]) -> Result<Dataset> {
    let x = Matrix::from_fn(observed.len(), 2, |r, c| {
        if c == 0 {
            observed[r].0 as f64
        } else {
            observed[r].1 as f64
        }
    });
    let t = Matrix::column(observed.iter().map(|&(i, j)| y.get(i, j)).collect());
    Dataset::new("completion", x, t)
}

/// Flips the sign of each ±1 label with probability p.
pub fn flip_labels(y: &mut Matrix, p: f64, rng: &mut Rng) {
    for v in &mut y.data {
        if rng.uniform() < p {
            *v = -*v;
        }
    }
}

/// Adds N(0, std²) noise to every target.
pub fn add_noise(y: &mut Matrix, std: f64, rng: &mut Rng) {
    for v in &mut y.data {
        *v += std * rng.normal();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Seed;

    #[test]
    fn orthonormal_columns_are_orthonormal() {
        let q = orthonormal(7, 4, &mut Seed(2).stream("q", 0));
        for a in 0..4 {
            for b in 0..4 {
                let dot: f64 = (0..7).map(|i| q.get(i, a) * q.get(i, b)).sum();
                let expected = if a == b { 1.0 } else { 0.0 };
                assert!((dot - expected).abs() < 1e-12, "({a}, {b}): {dot}");
            }
        }
    }

    #[test]
    fn sphere_points_have_unit_norm_and_zero_mean() {
        let x = sphere(4000, 5, &mut Seed(1).stream("t", 0));
        for i in 0..x.rows {
            assert!((crate::linalg::norm(x.row(i)) - 1.0).abs() < 1e-12);
        }
        // E x = 0, each coordinate has variance 1/d: mean within 5 standard errors.
        for j in 0..5 {
            let m: f64 = (0..x.rows).map(|i| x.get(i, j)).sum::<f64>() / x.rows as f64;
            assert!(m.abs() < 5.0 * (0.2f64 / 4000.0).sqrt(), "{m}");
        }
    }

    #[test]
    fn legendre_matches_closed_forms() {
        // d = 3: Legendre P_2(t) = (3t² − 1)/2; d = 2: T_3(t) = 4t³ − 3t.
        for &t in &[-0.7, 0.0, 0.3, 1.0] {
            assert!((legendre_polynomial(2, 3, t) - (3.0 * t * t - 1.0) / 2.0).abs() < 1e-14);
            assert!((legendre_polynomial(3, 2, t) - (4.0 * t * t * t - 3.0 * t)).abs() < 1e-14);
        }
        // Orthogonality on S² against the uniform measure: E[P_1 P_2] = 0 (Monte Carlo).
        let x = sphere(20000, 3, &mut Seed(2).stream("t", 0));
        let u = [0.0, 0.0, 1.0];
        let p1 = spherical_harmonic_target(&x, &u, 1);
        let p2 = spherical_harmonic_target(&x, &u, 2);
        let inner: f64 = p1
            .data
            .iter()
            .zip(&p2.data)
            .map(|(a, b)| a * b)
            .sum::<f64>()
            / 20000.0;
        assert!(inner.abs() < 0.02, "{inner}");
    }

    #[test]
    fn circle_harmonic_is_a_cosine() {
        let (x, theta) = circle_grid(16);
        let y = spherical_harmonic_target(&x, &[1.0, 0.0], 3);
        let f = fourier_target(&theta, &[(3, 1.0)]);
        assert!(crate::linalg::distance(&y.data, &f.data) < 1e-12);
    }

    #[test]
    fn low_rank_has_the_rank_and_mask_is_upper() {
        let (y, _) = low_rank_psd(12, 2, &mut Seed(3).stream("t", 0));
        let eig = crate::linalg::symmetric_eigenvalues(&y).unwrap();
        let big = eig.iter().filter(|v| v.abs() > 1e-10).count();
        assert_eq!(big, 2);
        assert!(eig[0] > -1e-10);
        let e = observation_mask(12, 0.5, &mut Seed(3).stream("m", 0));
        assert!(e.iter().all(|&(i, j)| i <= j && j < 12));
        assert!(e.len() > 20 && e.len() < 60, "{}", e.len());
    }

    #[test]
    fn clusters_are_labelled_by_centre() {
        let d = clusters(100, 3, 4, 0.0, &mut Seed(4).stream("t", 0)).unwrap();
        assert_eq!(d.y.data.iter().filter(|&&v| v > 0.0).count(), 50);
        assert_eq!(d.x.row(0), d.x.row(4));
        assert!(clusters(10, 3, 1, 0.1, &mut Seed(4).stream("t", 0)).is_err());
    }
}
