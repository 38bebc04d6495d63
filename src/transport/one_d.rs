//! Exact transport on the line.
//!
//! For measures μ, ν on ℝ with quantile functions F^{-1}, G^{-1},
//! W_p^p(μ, ν) = ∫_0^1 |F^{-1}(t) − G^{-1}(t)|^p dt (the monotone rearrangement is optimal for
//! every convex cost |x − y|^p, p ≥ 1). With the points sorted, the integral is a merge of the
//! two cumulative weight sequences: each step moves the mass min(remaining a_i, remaining b_j)
//! from x_(i) to y_(j). That merge is also the optimal plan (at most n + m − 1 entries).

use super::{Measure, Plan};
use crate::error::{Error, Result};
use rayon::prelude::*;

/// The exact 1-D solution: W_p^p, W_p and the monotone plan.
#[derive(Clone, Debug)]
pub struct OneD {
    /// W_p^p.
    pub cost: f64,
    /// W_p.
    pub distance: f64,
    /// The monotone (north-west corner on sorted points) optimal plan.
    pub plan: Plan,
}

#[inline]
fn power(d: f64, p: f64) -> f64 {
    let d = d.abs();
    if p == 2.0 {
        d * d
    } else if p == 1.0 {
        d
    } else {
        d.powf(p)
    }
}

fn check_line(name: &str, m: &Measure) -> Result<()> {
    if m.dim() != 1 {
        return Err(Error::shape(
            "1-D transport",
            format!("{name} has points of dimension {}, expected 1", m.dim()),
        ));
    }
    Ok(())
}

/// Indices of `values` sorted by value (ties by index, so the order is unique).
fn argsort(values: &[f64]) -> Vec<u32> {
    let mut keyed: Vec<(f64, u32)> = values
        .iter()
        .enumerate()
        .map(|(i, &v)| (v, i as u32))
        .collect();
    keyed.par_sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    keyed.into_iter().map(|(_, i)| i).collect()
}

/// W_p between two measures on the line, with the optimal (monotone) plan.
pub fn wasserstein_1d(mu: &Measure, nu: &Measure, p: f64) -> Result<OneD> {
    check_line("x", mu)?;
    check_line("y", nu)?;
    if !(p.is_finite() && p >= 1.0) {
        return Err(Error::invalid("p", format!("expected p ≥ 1, got {p}")));
    }
    let (x, y) = (&mu.points.data, &nu.points.data);
    let (ix, iy) = rayon::join(|| argsort(x), || argsort(y));
    let (a, b) = (&mu.weights, &nu.weights);
    let mut entries = Vec::with_capacity(x.len() + y.len());
    let (mut i, mut j) = (0usize, 0usize);
    let (mut ra, mut rb) = (a[ix[0] as usize], b[iy[0] as usize]);
    let mut cost = 0.0;
    loop {
        let (si, sj) = (ix[i] as usize, iy[j] as usize);
        let t = ra.min(rb);
        if t > 0.0 {
            cost += t * power(x[si] - y[sj], p);
            entries.push((si, sj, t));
        }
        ra -= t;
        rb -= t;
        // Advance the side whose mass is used up (the one with less left on a rounding tie).
        if ra <= rb {
            i += 1;
            if i == x.len() {
                break;
            }
            ra = a[ix[i] as usize];
        } else {
            j += 1;
            if j == y.len() {
                break;
            }
            rb = b[iy[j] as usize];
        }
    }
    Ok(OneD {
        cost,
        distance: cost.max(0.0).powf(1.0 / p),
        plan: Plan {
            rows: x.len(),
            cols: y.len(),
            entries,
        },
    })
}

/// W_p^p alone (no plan), the value of [`wasserstein_1d`]. For uniform measures of equal size
/// it is the mean of |x_(k) − y_(k)|^p over the sorted samples (one sort of each sample and
/// no index bookkeeping); otherwise the same merge as [`wasserstein_1d`].
pub fn wasserstein_1d_cost(mu: &Measure, nu: &Measure, p: f64) -> Result<f64> {
    if !(mu.len() == nu.len() && mu.is_uniform() && nu.is_uniform()) {
        return Ok(wasserstein_1d(mu, nu, p)?.cost);
    }
    check_line("x", mu)?;
    check_line("y", nu)?;
    if !(p.is_finite() && p >= 1.0) {
        return Err(Error::invalid("p", format!("expected p ≥ 1, got {p}")));
    }
    let mut x = mu.points.data.clone();
    let mut y = nu.points.data.clone();
    rayon::join(
        || x.par_sort_unstable_by(f64::total_cmp),
        || y.par_sort_unstable_by(f64::total_cmp),
    );
    let s: f64 = x.iter().zip(&y).map(|(a, b)| power(a - b, p)).sum();
    Ok(s / x.len() as f64)
}
