//! Optimal transport between discrete measures.
//!
//! A discrete measure μ = Σ_i a_i δ_{x_i} is a [`Measure`]: points (rows of a matrix) and
//! non-negative weights, normalised to sum 1. The ground cost is a [`GroundCost`];
//! `c(x, y) = ‖x − y‖²` by default, as POT's `ot.dist`.
//!
//! Solvers, all returning the plan and not only the value:
//!
//! * [`one_d`] — exact W_p on the line through the quantile functions,
//!   W_p^p = ∫_0^1 |F^{-1}(t) − G^{-1}(t)|^p dt;
//! * [`exact`] — the exact discrete problem min_{P ∈ Π(a, b)} ⟨C, P⟩ by the network simplex,
//!   with the dual potentials (f, g), f_i + g_j ≤ C_ij, and for uniform clouds of equal size the
//!   optimal assignment (the discrete Brenier map);
//! * [`sinkhorn`] — entropic transport min ⟨C, P⟩ + ε KL(P ‖ a ⊗ b) in the log domain with
//!   ε-scaling, its debiased divergence, and an online mode that never stores C;
//! * [`sliced`] — the sliced distance SW_p^p = E_θ W_p^p(θ#μ, θ#ν) over seeded directions.
//!
//! [`solve`] is the one entry point the CLI uses: two measures and [`Settings`] (the
//! [`Method`] by name — `exact`, `sinkhorn`, `sliced`, `1d` — and its knobs) give a serializable
//! [`Report`] with the cost W_p^p (`cost`, what POT's `emd2` returns), the distance W_p
//! (`distance`) and what the method knows; [`wasserstein`] is its short form for a value.

pub mod bounded;
pub mod exact;
pub mod one_d;
pub mod sinkhorn;
pub mod sliced;
pub mod solve;

pub use solve::{solve, solve_costs, solve_with, Method, Report, Settings, Solution};

use crate::error::{check_finite, Error, Result};
use crate::linalg::{self, Matrix};
use rayon::prelude::*;

/// A discrete probability measure Σ_i a_i δ_{x_i}: the rows of `points` and their `weights`
/// (non-negative, summing to 1).
#[derive(Clone, Debug, PartialEq)]
pub struct Measure {
    /// The support points, one per row.
    pub points: Matrix,
    /// The weights a_i ≥ 0, Σ a_i = 1.
    pub weights: Vec<f64>,
}

impl Measure {
    /// The measure with the given points and weights; `None` means uniform weights 1/n.
    /// Weights are checked (finite, ≥ 0, positive sum) and normalised to sum 1; points must be
    /// finite. `name` labels the measure in error messages ("x", "y", a file name).
    pub fn new(name: &str, points: Matrix, weights: Option<Vec<f64>>) -> Result<Measure> {
        if points.rows == 0 {
            return Err(Error::invalid(name, "a measure needs at least one point"));
        }
        check_finite(&format!("{name} (points)"), &points.data, points.cols)?;
        let weights = match weights {
            None => vec![1.0 / points.rows as f64; points.rows],
            Some(w) => normalise_weights(&format!("{name} (weights)"), w, points.rows)?,
        };
        Ok(Measure { points, weights })
    }

    /// The measure of an NPY file of points (n × d) and an optional NPY vector of weights (n,
    /// or 1 × n / n × 1); errors name the file and the flag (`flag`, `wflag`) it came from.
    pub fn read(
        points: &std::path::Path,
        weights: Option<&std::path::Path>,
        flag: &str,
        wflag: &str,
    ) -> Result<Measure> {
        let pts = crate::data::io::read_npy_matrix(points)?;
        check_finite(
            &format!("{flag} ({})", points.display()),
            &pts.data,
            pts.cols,
        )?;
        let (name, w) = match weights {
            Some(path) => {
                let name = format!("{wflag} ({})", path.display());
                let m = crate::data::io::read_npy_matrix(path)?;
                if m.rows != 1 && m.cols != 1 {
                    return Err(Error::shape(
                        name,
                        format!(
                            "expected a vector of weights, got a {} × {} array",
                            m.rows, m.cols
                        ),
                    ));
                }
                (name, Some(m.data))
            }
            None => (format!("{flag} ({})", points.display()), None),
        };
        Measure::new(&name, pts, w)
    }

    /// The uniform measure on the rows of `points`.
    pub fn uniform(name: &str, points: Matrix) -> Result<Measure> {
        Measure::new(name, points, None)
    }

    /// Number of support points.
    pub fn len(&self) -> usize {
        self.weights.len()
    }

    /// Whether the measure has no support point (never true for a constructed measure).
    pub fn is_empty(&self) -> bool {
        self.weights.is_empty()
    }

    /// Dimension of the points.
    pub fn dim(&self) -> usize {
        self.points.cols
    }

    /// Whether all weights are equal (the measure is uniform on its points).
    pub fn is_uniform(&self) -> bool {
        let w0 = self.weights[0];
        self.weights.iter().all(|&w| w == w0)
    }
}

/// Checks weights (length `n`, finite, ≥ 0, positive sum) and divides them by their sum.
pub fn normalise_weights(name: &str, mut w: Vec<f64>, n: usize) -> Result<Vec<f64>> {
    if w.len() != n {
        return Err(Error::shape(
            name,
            format!("{} weights for {n} points", w.len()),
        ));
    }
    check_finite(name, &w, 1)?;
    if let Some(k) = w.iter().position(|&v| v < 0.0) {
        return Err(Error::invalid(
            name,
            format!("weights must be ≥ 0, got {} at index {k}", w[k]),
        ));
    }
    let total: f64 = w.iter().sum();
    if total <= 0.0 || !total.is_finite() {
        return Err(Error::invalid(
            name,
            format!("weights must have a positive finite sum to be normalised, got {total}"),
        ));
    }
    w.iter_mut().for_each(|v| *v /= total);
    Ok(w)
}

/// Checks that two measures live in the same space.
pub fn check_same_dim(mu: &Measure, nu: &Measure) -> Result<()> {
    if mu.dim() != nu.dim() {
        return Err(Error::shape(
            "transport",
            format!(
                "x has points of dimension {}, y of dimension {}",
                mu.dim(),
                nu.dim()
            ),
        ));
    }
    Ok(())
}

/// Checks a transport problem (weights a, b and an n × m cost matrix): shapes, finite values,
/// weights ≥ 0 (> 0 when `strictly_positive`, as Sinkhorn's log-weights need) and equal positive
/// total mass to 1e-6 relative. Returns b rescaled to a's total (as POT does).
pub(crate) fn check_problem(
    context: &str,
    a: &[f64],
    b: &[f64],
    c: linalg::MatrixView<'_>,
    strictly_positive: bool,
) -> Result<Vec<f64>> {
    if c.rows != a.len() || c.cols != b.len() {
        return Err(Error::shape(
            context,
            format!(
                "cost matrix is {} × {}, weights have lengths {} and {}",
                c.rows,
                c.cols,
                a.len(),
                b.len()
            ),
        ));
    }
    check_finite("cost matrix", c.data, c.cols)?;
    for (name, w) in [("a", a), ("b", b)] {
        check_finite(name, w, 1)?;
        if w.is_empty() {
            return Err(Error::invalid(name, "a measure needs at least one point"));
        }
        let bad = |v: f64| if strictly_positive { v <= 0.0 } else { v < 0.0 };
        if let Some(k) = w.iter().position(|&v| bad(v)) {
            let expected = if strictly_positive {
                "> 0 (Sinkhorn needs strictly positive weights: drop the points of zero weight)"
            } else {
                "≥ 0"
            };
            return Err(Error::invalid(
                name,
                format!("weights must be {expected}, got {} at index {k}", w[k]),
            ));
        }
    }
    let (sa, sb): (f64, f64) = (a.iter().sum(), b.iter().sum());
    if !(sa > 0.0 && sb > 0.0) || (sa - sb).abs() > 1e-6 * sa.max(sb) {
        return Err(Error::invalid(
            "weights",
            format!("the two measures must have the same positive mass, got {sa} and {sb}"),
        ));
    }
    Ok(b.iter().map(|v| v * (sa / sb)).collect())
}

/// The ground cost c(x, y).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum GroundCost {
    /// ‖x − y‖² (POT's `ot.dist` default; the cost of W_2² ).
    SqEuclidean,
    /// ‖x − y‖.
    Euclidean,
    /// ‖x − y‖^p, p > 0 (the cost of W_p^p).
    Power(f64),
}

impl GroundCost {
    /// The cost whose transport value is W_p^p: ‖x − y‖^p.
    pub fn for_order(p: f64) -> Result<GroundCost> {
        if !(p.is_finite() && p >= 1.0) {
            return Err(Error::invalid("p", format!("expected p ≥ 1, got {p}")));
        }
        Ok(if p == 2.0 {
            GroundCost::SqEuclidean
        } else if p == 1.0 {
            GroundCost::Euclidean
        } else {
            GroundCost::Power(p)
        })
    }

    /// The exponent p of c = ‖x − y‖^p.
    pub fn order(self) -> f64 {
        match self {
            GroundCost::SqEuclidean => 2.0,
            GroundCost::Euclidean => 1.0,
            GroundCost::Power(p) => p,
        }
    }

    /// c(x, y).
    #[inline]
    pub fn eval(self, x: &[f64], y: &[f64]) -> f64 {
        let sq: f64 = x.iter().zip(y).map(|(a, b)| (a - b) * (a - b)).sum();
        self.from_squared(sq)
    }

    /// c as a function of the squared distance ‖x − y‖².
    #[inline]
    pub fn from_squared(self, sq: f64) -> f64 {
        match self {
            GroundCost::SqEuclidean => sq,
            GroundCost::Euclidean => sq.sqrt(),
            GroundCost::Power(p) => sq.powf(0.5 * p),
        }
    }
}

/// Fills `out` (row-major, `rows.len() × y.rows`) with c(x_i, y_j) for the rows `i` of x in
/// `rows`; `y_sq` holds ‖y_j‖² (see [`squared_norms`]). The squared Euclidean cost is
/// ‖x_i‖² + ‖y_j‖² − 2 x_iᵀy_j through one GEMM (as POT's `ot.dist`; clamped at 0, absolute
/// error ≈ 1e-16 (‖x_i‖² + ‖y_j‖²)); the costs that take a root of it (‖x − y‖, ‖x − y‖^p), where
/// that error would be amplified near 0, sum squared differences coordinate by coordinate.
pub fn cost_rows<'a>(
    x: impl Into<linalg::MatrixView<'a>>,
    y: impl Into<linalg::MatrixView<'a>>,
    y_sq: &[f64],
    rows: std::ops::Range<usize>,
    cost: GroundCost,
    out: &mut [f64],
) {
    let (x, y) = (x.into(), y.into());
    let (m, d) = (y.rows, x.cols);
    debug_assert_eq!(out.len(), rows.len() * m);
    if cost == GroundCost::SqEuclidean {
        let xs = &x.data[rows.start * d..rows.end * d];
        linalg::gemm_slice(
            out,
            0.0,
            linalg::view(xs, rows.len(), d),
            linalg::view(y.data, y.rows, y.cols).transpose(),
            -2.0,
            linalg::Threads::Caller,
        );
        for (r, i) in rows.enumerate() {
            let xi: f64 = x.row(i).iter().map(|v| v * v).sum();
            for (c, yj) in out[r * m..(r + 1) * m].iter_mut().zip(y_sq) {
                *c = (*c + xi + yj).max(0.0);
            }
        }
        return;
    }
    for (r, i) in rows.enumerate() {
        let xi = x.row(i);
        let dst = &mut out[r * m..(r + 1) * m];
        for (j, c) in dst.iter_mut().enumerate() {
            *c = cost.eval(xi, y.row(j));
        }
    }
}

/// ‖y_j‖² for every row of y.
pub fn squared_norms<'a>(y: impl Into<linalg::MatrixView<'a>>) -> Vec<f64> {
    let y = y.into();
    (0..y.rows)
        .map(|j| y.row(j).iter().map(|v| v * v).sum())
        .collect()
}

/// Rows per tile of [`cost_matrix`] and the online solvers (fixed, so results do not depend on
/// the thread count).
pub(crate) const COST_TILE: usize = 32;

/// The n × m cost matrix C_ij = c(x_i, y_j) (see [`cost_rows`]), in parallel over row tiles.
pub fn cost_matrix<'a>(
    x: impl Into<linalg::MatrixView<'a>>,
    y: impl Into<linalg::MatrixView<'a>>,
    cost: GroundCost,
) -> Result<Matrix> {
    let (x, y) = (x.into(), y.into());
    if x.cols != y.cols {
        return Err(Error::shape(
            "cost matrix",
            format!("x has {} columns, y has {}", x.cols, y.cols),
        ));
    }
    linalg::check_fits("cost matrix (points of x × points of y)", &[x.rows, y.rows])?;
    let mut c = Matrix::zeros(x.rows, y.rows);
    let m = y.rows.max(1);
    let y_sq = squared_norms(y);
    c.data
        .par_chunks_mut(COST_TILE * m)
        .enumerate()
        .for_each(|(t, tile)| {
            let start = t * COST_TILE;
            cost_rows(x, y, &y_sq, start..start + tile.len() / m, cost, tile);
        });
    Ok(c)
}

/// A transport plan stored sparsely: the entries (i, j, P_ij) with P_ij > 0 (exact solvers
/// have at most n + m − 1 of them).
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// Number of source points n.
    pub rows: usize,
    /// Number of target points m.
    pub cols: usize,
    /// (source index, target index, mass).
    pub entries: Vec<(usize, usize, f64)>,
}

impl Plan {
    /// The dense n × m plan.
    pub fn to_dense(&self) -> Matrix {
        let mut p = Matrix::zeros(self.rows, self.cols);
        for &(i, j, v) in &self.entries {
            p.data[i * self.cols + j] += v;
        }
        p
    }

    /// Row sums Σ_j P_ij (the first marginal).
    pub fn row_sums(&self) -> Vec<f64> {
        let mut s = vec![0.0; self.rows];
        for &(i, _, v) in &self.entries {
            s[i] += v;
        }
        s
    }

    /// Column sums Σ_i P_ij (the second marginal).
    pub fn col_sums(&self) -> Vec<f64> {
        let mut s = vec![0.0; self.cols];
        for &(_, j, v) in &self.entries {
            s[j] += v;
        }
        s
    }

    /// ⟨C, P⟩ for a dense cost matrix.
    pub fn cost<'a>(&self, c: impl Into<linalg::MatrixView<'a>>) -> f64 {
        let c = c.into();
        self.entries.iter().map(|&(i, j, v)| v * c.get(i, j)).sum()
    }
}

/// W_p between two measures: `cost` = W_p^p (the transport value of the cost ‖x − y‖^p) and
/// `distance` = W_p = cost^{1/p}.
#[derive(Clone, Debug, PartialEq)]
pub struct Wasserstein {
    /// W_p^p.
    pub cost: f64,
    /// W_p.
    pub distance: f64,
}

impl Wasserstein {
    /// From the value W_p^p.
    pub fn from_cost(cost: f64, p: f64) -> Wasserstein {
        Wasserstein {
            cost,
            distance: cost.max(0.0).powf(1.0 / p),
        }
    }
}

/// W_p(μ, ν) by `method` at order p, the other settings default (see [`solve`]; Sinkhorn needs
/// an ε, so call [`solve`] with [`Settings::reg`] for it). A Sinkhorn value that did not converge
/// is an [`Error::Numerical`] here.
pub fn wasserstein(mu: &Measure, nu: &Measure, p: f64, method: Method) -> Result<Wasserstein> {
    wasserstein_with(mu, nu, &Settings::new(method, p))
}

/// W_p(μ, ν) by [`solve`] with `settings`; an untrustworthy value ([`Report::failure`]) is an
/// [`Error::Numerical`].
pub fn wasserstein_with(mu: &Measure, nu: &Measure, settings: &Settings) -> Result<Wasserstein> {
    let report = solve(mu, nu, settings)?;
    if let Some(message) = report.failure() {
        return Err(Error::Numerical {
            routine: "sinkhorn".into(),
            message,
        });
    }
    Ok(Wasserstein {
        cost: report.cost,
        distance: report.distance,
    })
}

/// The squared Bures–Wasserstein distance between Gaussians N(m1, Σ1) and N(m2, Σ2):
/// W2² = ‖m1 − m2‖² + tr(Σ1 + Σ2 − 2 (Σ1^{1/2} Σ2 Σ1^{1/2})^{1/2}).
pub fn gaussian_w2_squared(m1: &[f64], s1: &Matrix, m2: &[f64], s2: &Matrix) -> Result<f64> {
    let d = m1.len();
    if m2.len() != d || s1.rows != d || s1.cols != d || s2.rows != d || s2.cols != d {
        return Err(Error::shape(
            "gaussian_w2_squared",
            "means and covariances of one dimension d",
        ));
    }
    check_covariance("gaussian_w2_squared Σ1", s1)?;
    check_covariance("gaussian_w2_squared Σ2", s2)?;
    let root1 = psd_sqrt(s1)?;
    let middle = root1.matmul(s2)?.matmul(&root1)?;
    let root_mid = psd_sqrt(&middle)?;
    let mean_term: f64 = m1.iter().zip(m2).map(|(a, b)| (a - b) * (a - b)).sum();
    let trace = |m: &Matrix| (0..d).map(|i| m.get(i, i)).sum::<f64>();
    Ok(mean_term + trace(s1) + trace(s2) - 2.0 * trace(&root_mid))
}

/// Err unless `s` is finite, symmetric to 1e-12 of its largest entry and positive semidefinite
/// to 1e-10 of its largest eigenvalue (a covariance matrix).
fn check_covariance(what: &str, s: &Matrix) -> Result<()> {
    check_finite(what, &s.data, s.cols)?;
    let scale = s.data.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    for i in 0..s.rows {
        for j in 0..i {
            if (s.get(i, j) - s.get(j, i)).abs() > 1e-12 * scale {
                return Err(Error::invalid(
                    what,
                    format!(
                        "a covariance must be symmetric: entries ({i}, {j}) and ({j}, {i}) differ"
                    ),
                ));
            }
        }
    }
    let values = linalg::symmetric_eigenvalues(s)?;
    let (lo, hi) = (
        values.iter().copied().fold(f64::INFINITY, f64::min),
        linalg::max(&values),
    );
    if lo < -1e-10 * hi.abs().max(f64::MIN_POSITIVE) {
        return Err(Error::invalid(
            what,
            format!("a covariance must be positive semidefinite, has eigenvalue {lo}"),
        ));
    }
    Ok(())
}

/// The symmetric PSD square root V diag(√max(λ, 0)) Vᵀ.
fn psd_sqrt(a: &Matrix) -> Result<Matrix> {
    let mut sym = a.clone();
    for i in 0..a.rows {
        for j in 0..a.cols {
            sym.set(i, j, 0.5 * (a.get(i, j) + a.get(j, i)));
        }
    }
    let (vals, vecs) = linalg::symmetric_eigen(&sym)?;
    let n = a.rows;
    Ok(Matrix::from_fn(n, n, |i, j| {
        (0..n)
            .map(|k| vecs.get(i, k) * vals[k].max(0.0).sqrt() * vecs.get(j, k))
            .sum()
    }))
}
