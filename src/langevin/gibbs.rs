//! The Gibbs law π ∝ exp(−βU) of a 1-D or 2-D landscape by quadrature, histograms of chains
//! against it (total variation, KL), the exact stationary variance of discrete GLD on a
//! quadratic, and the observer that records the distance to the Gibbs law along a run.

use crate::error::{Error, Result};
use crate::linalg::{self, Matrix};
use crate::nn::Landscape;
use crate::train::{Observer, Snapshot};

/// A regular grid of `bins` cells on [lo, hi] (per axis).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Grid {
    /// Lower end.
    pub lo: f64,
    /// Upper end.
    pub hi: f64,
    /// Number of cells.
    pub bins: usize,
}

impl Grid {
    /// Checks lo < hi and bins ≥ 1.
    pub fn new(lo: f64, hi: f64, bins: usize) -> Result<Grid> {
        if !(lo < hi && lo.is_finite() && hi.is_finite()) || bins == 0 {
            return Err(Error::invalid(
                "grid",
                format!("expected lo < hi and bins ≥ 1, got [{lo}, {hi}] with {bins}"),
            ));
        }
        Ok(Grid { lo, hi, bins })
    }

    fn width(&self) -> f64 {
        (self.hi - self.lo) / self.bins as f64
    }

    /// The cell of x, or `None` outside [lo, hi).
    pub fn cell(&self, x: f64) -> Option<usize> {
        if x < self.lo || x >= self.hi || !x.is_finite() {
            return None;
        }
        Some((((x - self.lo) / self.width()) as usize).min(self.bins - 1))
    }
}

/// Sub-points per cell and axis of the Gibbs quadrature (midpoint rule on a finer grid).
const SUB: usize = 8;

/// The Gibbs law π ∝ exp(−βU) of a 1-D or 2-D landscape as cell probabilities on `grid` (per
/// axis; row-major cells for 2-D), by the midpoint rule with 8 sub-points per cell and axis,
/// normalised over the grid (choose it wide enough that the mass outside is negligible).
pub fn gibbs_probabilities(
    landscape: &Landscape,
    dim: usize,
    beta: f64,
    grid: &Grid,
) -> Result<Vec<f64>> {
    gibbs_probabilities_of(&|x: &[f64]| landscape.value(x), dim, beta, grid)
}

/// [`gibbs_probabilities`] for any potential U given as a function of the point.
pub fn gibbs_probabilities_of(
    landscape: &dyn Fn(&[f64]) -> f64,
    dim: usize,
    beta: f64,
    grid: &Grid,
) -> Result<Vec<f64>> {
    crate::error::check_positive("beta", beta)?;
    let h = grid.width() / SUB as f64;
    let at = |c: usize, s: usize| grid.lo + (c * SUB + s) as f64 * h + 0.5 * h;
    let mut logs = match dim {
        1 => {
            let mut v = vec![0.0; grid.bins * SUB];
            for c in 0..grid.bins {
                for s in 0..SUB {
                    v[c * SUB + s] = -beta * landscape(&[at(c, s)]);
                }
            }
            v
        }
        2 => {
            let n = grid.bins * SUB;
            let mut v = vec![0.0; n * n];
            for i in 0..n {
                for j in 0..n {
                    let x = [at(i / SUB, i % SUB), at(j / SUB, j % SUB)];
                    v[i * n + j] = -beta * landscape(&x);
                }
            }
            v
        }
        _ => {
            return Err(Error::invalid(
                "dim",
                "the Gibbs quadrature is for 1-D and 2-D potentials",
            ))
        }
    };
    let top = linalg::max(&logs);
    logs.iter_mut().for_each(|v| *v -= top);
    linalg::exp_in_place(&mut logs);
    let cells = grid.bins.pow(dim as u32);
    let mut p = vec![0.0; cells];
    if dim == 1 {
        for (k, w) in logs.iter().enumerate() {
            p[k / SUB] += w;
        }
    } else {
        let n = grid.bins * SUB;
        for (k, w) in logs.iter().enumerate() {
            let (i, j) = (k / n, k % n);
            p[(i / SUB) * grid.bins + j / SUB] += w;
        }
    }
    let total: f64 = p.iter().sum();
    p.iter_mut().for_each(|v| *v /= total);
    Ok(p)
}

/// The empirical cell probabilities of samples (rows of a matrix with 1 or 2 columns) on
/// `grid`, and the fraction of samples outside it.
pub fn histogram(samples: &Matrix, grid: &Grid) -> Result<(Vec<f64>, f64)> {
    let dim = samples.cols;
    if dim != 1 && dim != 2 {
        return Err(Error::invalid(
            "samples",
            "histograms are for 1-D and 2-D samples",
        ));
    }
    if samples.rows == 0 {
        return Err(Error::invalid(
            "samples",
            "a histogram needs at least one sample",
        ));
    }
    let mut p = vec![0.0; grid.bins.pow(dim as u32)];
    let mut outside = 0.0;
    let w = 1.0 / samples.rows as f64;
    for i in 0..samples.rows {
        let r = samples.row(i);
        let cell = if dim == 1 {
            grid.cell(r[0])
        } else {
            grid.cell(r[0])
                .zip(grid.cell(r[1]))
                .map(|(a, b)| a * grid.bins + b)
        };
        match cell {
            Some(c) => p[c] += w,
            None => outside += w,
        }
    }
    Ok((p, outside))
}

/// Total variation ½ Σ |p − q| between cell probabilities, with `outside` the mass of p off
/// the grid (counted in full: q has none there).
pub fn total_variation(p: &[f64], outside: f64, q: &[f64]) -> Result<f64> {
    same_cells("total_variation", p, q)?;
    Ok(0.5 * (p.iter().zip(q).map(|(a, b)| (a - b).abs()).sum::<f64>() + outside))
}

/// KL(p ‖ q) = Σ p log(p/q) over the cells with p > 0 (q > 0 there for a Gibbs law).
pub fn kl_divergence(p: &[f64], q: &[f64]) -> Result<f64> {
    same_cells("kl_divergence", p, q)?;
    Ok(p.iter()
        .zip(q)
        .filter(|(a, _)| **a > 0.0)
        .map(|(a, b)| a * (a / b).ln())
        .sum())
}

/// Err unless two cell-probability vectors have the same number of cells.
fn same_cells(routine: &str, p: &[f64], q: &[f64]) -> Result<()> {
    if p.len() != q.len() {
        return Err(Error::shape(
            routine,
            format!("{} cells against {}", p.len(), q.len()),
        ));
    }
    Ok(())
}

/// The stationary variance of GLD on k x²/2 with step η: the chain x ← (1 − ηk)x + √(2η/β)ξ has
/// Var = (2η/β)/(1 − (1 − ηk)²) = 1/(βk(1 − ηk/2)) for k, η, β > 0 with ηk < 2 (otherwise the
/// chain has no stationary law: an error).
pub fn discrete_quadratic_variance(k: f64, lr: f64, beta: f64) -> Result<f64> {
    crate::error::check_positive("k", k)?;
    crate::error::check_positive("lr", lr)?;
    crate::error::check_positive("beta", beta)?;
    if lr * k >= 2.0 {
        return Err(Error::invalid(
            "lr",
            format!(
                "the chain is stationary only for ηk < 2, got ηk = {}",
                lr * k
            ),
        ));
    }
    Ok(1.0 / (beta * k * (1.0 - lr * k / 2.0)))
}

/// Records the distance of the chains' current law to the Gibbs law: at every recorded step,
/// the histogram of the C chains' positions (of a 1-D or 2-D [`crate::nn::Potential`]) on
/// `grid` against π ∝ exp(−βU) by quadrature ([`gibbs_probabilities_of`]), as the columns
/// `tv_gibbs` ([`total_variation`]) and `kl_gibbs` ([`kl_divergence`] of the histogram from π).
/// Along a run this is the law of X_t against time — geometric ergodicity shows as an
/// exponential decay down to the floor set by the number of chains and the O(η) bias.
pub struct GibbsDistance {
    dim: usize,
    grid: Grid,
    gibbs: Vec<f64>,
}

impl GibbsDistance {
    /// For chains of dimension `dim` (1 or 2) on the potential `u` at inverse temperature β.
    pub fn new(u: &dyn Fn(&[f64]) -> f64, dim: usize, beta: f64, grid: Grid) -> Result<Self> {
        let gibbs = gibbs_probabilities_of(u, dim, beta, &grid)?;
        Ok(GibbsDistance { dim, grid, gibbs })
    }

    /// The Gibbs cell probabilities it compares with.
    pub fn gibbs(&self) -> &[f64] {
        &self.gibbs
    }
}

impl Observer for GibbsDistance {
    fn columns(&self) -> Vec<String> {
        vec!["tv_gibbs".into(), "kl_gibbs".into()]
    }

    fn observe(&mut self, s: &Snapshot<'_>) -> Result<Vec<f64>> {
        let chains = s.params.len() / self.dim;
        let samples = Matrix::from_vec(chains, self.dim, s.params[..chains * self.dim].to_vec())?;
        let (p, outside) = histogram(&samples, &self.grid)?;
        let kl = if outside > 0.0 {
            f64::INFINITY
        } else {
            kl_divergence(&p, &self.gibbs)?
        };
        Ok(vec![total_variation(&p, outside, &self.gibbs)?, kl])
    }
}
