//! Statistics for checking theorems against measurements: least-squares fits with standard
//! errors (linear, log-log, semi-log, and weighted multiple regression), summaries over seeds
//! (with the mean's standard error), medians, and crossing times.
//!
//! Every fit refuses fewer than three points (a slope through two points has no error) and
//! non-finite input, so that a claim cannot report a rate without its uncertainty.

use crate::error::{Error, Result};
use crate::linalg::{self, Matrix};
use serde::Serialize;

/// An ordinary least-squares line y ≈ intercept + slope · x with the classical standard errors
/// (homoscedastic residuals): s² = RSS/(n − 2), se(slope) = s/√Sxx,
/// se(intercept) = s·√(1/n + x̄²/Sxx).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct LinearFit {
    /// The fitted slope.
    pub slope: f64,
    /// The fitted intercept.
    pub intercept: f64,
    /// Standard error of the slope.
    pub slope_std_error: f64,
    /// Standard error of the intercept.
    pub intercept_std_error: f64,
    /// Residual standard deviation s = √(RSS/(n − 2)).
    pub residual_std: f64,
    /// Coefficient of determination R² = 1 − RSS/Syy (1 when y is constant and fitted exactly).
    pub r_squared: f64,
    /// Number of points.
    pub points: usize,
}

impl LinearFit {
    /// The fitted line at `x`.
    pub fn at(&self, x: f64) -> f64 {
        self.intercept + self.slope * x
    }
}

/// Least-squares line through (x_i, y_i), at least 3 finite points with x not all equal.
pub fn fit_linear(x: &[f64], y: &[f64]) -> Result<LinearFit> {
    fit_named("fit", x, y)
}

/// [`fit_linear`] with errors naming `what` (the kind of fit the caller asked for).
fn fit_named(what: &str, x: &[f64], y: &[f64]) -> Result<LinearFit> {
    if x.len() != y.len() || x.len() < 3 {
        return Err(Error::invalid(
            what,
            format!("need ≥ 3 paired points, got {} and {}", x.len(), y.len()),
        ));
    }
    if x.iter().chain(y).any(|v| !v.is_finite()) {
        return Err(Error::invalid(what, "every x and y must be finite"));
    }
    let n = x.len() as f64;
    let mx = x.iter().sum::<f64>() / n;
    let my = y.iter().sum::<f64>() / n;
    let sxx: f64 = x.iter().map(|a| (a - mx).powi(2)).sum();
    if sxx == 0.0 {
        return Err(Error::invalid(
            what,
            "the x values are all equal: no slope to fit",
        ));
    }
    let sxy: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let syy: f64 = y.iter().map(|b| (b - my).powi(2)).sum();
    let slope = sxy / sxx;
    let intercept = my - slope * mx;
    let rss: f64 = x
        .iter()
        .zip(y)
        .map(|(a, b)| (b - intercept - slope * a).powi(2))
        .sum();
    let s2 = rss / (n - 2.0);
    Ok(LinearFit {
        slope,
        intercept,
        slope_std_error: (s2 / sxx).sqrt(),
        intercept_std_error: (s2 * (1.0 / n + mx * mx / sxx)).sqrt(),
        residual_std: s2.sqrt(),
        r_squared: if syy > 0.0 { 1.0 - rss / syy } else { 1.0 },
        points: x.len(),
    })
}

/// Least-squares fit of log y = log C + slope · log x (every x, y > 0): a power law
/// y ≈ C x^slope; the slope's standard error is that of the log-log line.
pub fn fit_log_log(x: &[f64], y: &[f64]) -> Result<LinearFit> {
    positive("power-law fit", x)?;
    positive("power-law fit", y)?;
    fit_named("power-law fit", &logs(x), &logs(y))
}

/// Least-squares fit of log y = log C + slope · x (every y > 0): an exponential y ≈ C e^{slope·x},
/// so −slope is a decay rate.
pub fn fit_semilog(x: &[f64], y: &[f64]) -> Result<LinearFit> {
    positive("exponential fit", y)?;
    fit_named("exponential fit", x, &logs(y))
}

fn logs(v: &[f64]) -> Vec<f64> {
    v.iter().map(|a| a.ln()).collect()
}

fn positive(what: &str, v: &[f64]) -> Result<()> {
    if v.iter().any(|a| !(a.is_finite() && *a > 0.0)) {
        return Err(Error::invalid(what, "every value must be finite and > 0"));
    }
    Ok(())
}

/// Location and spread of a sample (e.g. one measurement over seeds).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Summary {
    /// Number of values.
    pub count: usize,
    /// Arithmetic mean.
    pub mean: f64,
    /// Sample standard deviation (n − 1 in the denominator; 0 for one value).
    pub std: f64,
    /// Smallest value.
    pub min: f64,
    /// Median (the mean of the two middle values for an even count).
    pub median: f64,
    /// Largest value.
    pub max: f64,
}

impl Summary {
    /// Standard error of the mean, std/√count.
    pub fn std_error(&self) -> f64 {
        self.std / (self.count as f64).sqrt()
    }
}

/// The median of a sample (the mean of the two middle values for an even count; NaN when
/// empty). NaNs sort last ([`f64::total_cmp`]).
pub fn median(values: &[f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    quantile_sorted(&sorted, 0.5)
}

/// A multiple linear regression y ≈ Xb by weighted least squares (see [`least_squares`]).
#[derive(Clone, Debug, PartialEq)]
pub struct LeastSquares {
    /// The coefficients b.
    pub coef: Vec<f64>,
    /// Their standard errors √(s² [(XᵀWX)⁻¹]_aa), s² = RSS_w/(points − p).
    pub std_errors: Vec<f64>,
    /// The weighted residual sum of squares RSS_w = Σ_i w_i (y_i − x_iᵀb)².
    pub rss: f64,
}

/// Weighted least squares y ≈ Xb over the rows x_i of `rows` (each of p columns) with weights
/// w_i (inverse variances up to a common factor; `None`: all 1), by the normal equations
/// (XᵀWX) b = XᵀWy solved by Cholesky. An error when there are no more rows than columns, the
/// lengths differ, or XᵀWX is not positive definite (collinear columns).
pub fn least_squares(rows: &[Vec<f64>], y: &[f64], w: Option<&[f64]>) -> Result<LeastSquares> {
    let p = rows.first().map_or(0, Vec::len);
    if p == 0 || rows.len() <= p {
        return Err(Error::invalid(
            "least squares",
            format!(
                "{} rows for {p} coefficients: more rows than coefficients needed",
                rows.len()
            ),
        ));
    }
    if y.len() != rows.len()
        || w.is_some_and(|w| w.len() != rows.len())
        || rows.iter().any(|r| r.len() != p)
    {
        return Err(Error::shape(
            "least squares",
            "the rows, the values and the weights must have matching lengths",
        ));
    }
    let weight = |i: usize| w.map_or(1.0, |w| w[i]);
    let mut xtx = Matrix::zeros(p, p);
    let mut xty = Matrix::zeros(p, 1);
    for (i, (r, yi)) in rows.iter().zip(y).enumerate() {
        let wi = weight(i);
        for a in 0..p {
            xty.set(a, 0, xty.get(a, 0) + wi * r[a] * yi);
            for b in 0..p {
                xtx.set(a, b, xtx.get(a, b) + wi * r[a] * r[b]);
            }
        }
    }
    let coef = linalg::cholesky_solve(&xtx, &xty)?.data;
    let inverse = linalg::cholesky_solve(&xtx, &Matrix::identity(p))?;
    let rss: f64 = rows
        .iter()
        .zip(y)
        .enumerate()
        .map(|(i, (r, yi))| weight(i) * (yi - (0..p).map(|a| r[a] * coef[a]).sum::<f64>()).powi(2))
        .sum();
    let s2 = rss / (rows.len() - p) as f64;
    let std_errors = (0..p).map(|a| (s2 * inverse.get(a, a)).sqrt()).collect();
    Ok(LeastSquares {
        coef,
        std_errors,
        rss,
    })
}

/// Summary of `values` (at least one, all finite).
pub fn summarize(values: &[f64]) -> Result<Summary> {
    if values.is_empty() {
        return Err(Error::invalid("summary", "no values"));
    }
    if values.iter().any(|v| !v.is_finite()) {
        return Err(Error::invalid("summary", "every value must be finite"));
    }
    let (mean, std) = mean_and_std(values);
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    Ok(Summary {
        count: values.len(),
        mean,
        std,
        min: sorted[0],
        median: quantile_sorted(&sorted, 0.5),
        max: sorted[sorted.len() - 1],
    })
}

/// The spread of predictions across independent runs: the mean over points of the standard
/// deviation (across runs, divisor runs − 1) of f(x_i), (1/n) Σ_i √(Σ_r (f_r(x_i) − f̄(x_i))²/(R − 1)).
/// `predictions[r]` holds run r's outputs. Non-finite outputs propagate (no error).
pub fn spread(predictions: &[Vec<f64>]) -> Result<f64> {
    let runs = predictions.len();
    if runs < 2 {
        return Err(Error::invalid("runs", "the spread needs at least two runs"));
    }
    let n = predictions[0].len();
    if predictions.iter().any(|p| p.len() != n) || n == 0 {
        return Err(Error::shape(
            "spread",
            "every run must predict the same non-empty set of points",
        ));
    }
    let total: f64 = (0..n)
        .map(|i| {
            let point: Vec<f64> = predictions.iter().map(|p| p[i]).collect();
            mean_and_std(&point).1
        })
        .sum();
    Ok(total / n as f64)
}

/// The mean x̄ = Σx/n and the sample standard deviation √(Σ(x − x̄)²/(n − 1)) (0 for one
/// value) of a non-empty sample: the one place [`summarize`] and [`spread`] compute them.
fn mean_and_std(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = if values.len() > 1 {
        values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    (mean, var.sqrt())
}

/// The q-quantile (0 ≤ q ≤ 1) of a sorted, non-empty sample by linear interpolation between
/// order statistics (type 7 of Hyndman & Fan, numpy's default).
pub fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * q.clamp(0.0, 1.0);
    let (lo, hi) = (h.floor() as usize, h.ceil() as usize);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

/// The first time the curve (t_k, y_k) reaches `level` (y_k ≤ level after y_{k−1} > level, or the
/// reverse for a rising curve), linearly interpolated between the two records; `None` if it
/// never does. Equal to t_0 when y_0 is already at the level.
pub fn crossing_time(t: &[f64], y: &[f64], level: f64) -> Option<f64> {
    let n = t.len().min(y.len());
    if n == 0 {
        return None;
    }
    if y[0] == level {
        return Some(t[0]);
    }
    let above = y[0] > level;
    (1..n).find_map(|k| {
        let crossed = if above { y[k] <= level } else { y[k] >= level };
        crossed.then(|| {
            let f = (y[k - 1] - level) / (y[k - 1] - y[k]);
            t[k - 1] + f * (t[k] - t[k - 1])
        })
    })
}

// ---- Decay rates over a window of a record (a band of levels, else the tail) ----

/// A decay rate read off a window of a record, [`band_rate`].
#[derive(Clone, Debug, PartialEq)]
pub struct WindowRate {
    /// The semi-log fit ln y ≈ c + slope·t over the window ([`fit_semilog`]): −slope is the
    /// decay rate per unit of t.
    pub fit: LinearFit,
    /// The indices k of the records in the window, increasing.
    pub records: Vec<usize>,
    /// Whether the window is the band (`false`: too few records in the band, the tail).
    pub in_band: bool,
}

/// The decay rate of a record (t_k, y_k) of a positive curve over the records whose level
/// relative to the first lies in an open band, lower < y_k/y_0 < upper (e.g. the linear phase of
/// a loss, below its transient and above round-off): the semi-log least-squares fit
/// ln y_k ≈ c + slope·t_k over them ([`fit_semilog`]; y ∝ e^{slope·t} gives `slope` exactly).
/// When fewer than `min_points` records lie in the band (a curve that never reaches it), the
/// window is the last `tail` records instead. An error when the window has fewer than three
/// records or a value that is not finite and > 0.
pub fn band_rate(
    t: &[f64],
    y: &[f64],
    (lower, upper): (f64, f64),
    min_points: usize,
    tail: usize,
) -> Result<WindowRate> {
    if t.len() != y.len() {
        return Err(Error::shape(
            "band rate",
            format!("{} times for {} values", t.len(), y.len()),
        ));
    }
    let first = y.first().copied().unwrap_or(f64::NAN);
    let band: Vec<usize> = (0..y.len())
        .filter(|&k| y[k] / first > lower && y[k] / first < upper)
        .collect();
    let in_band = band.len() >= min_points;
    let records = if in_band {
        band
    } else {
        (y.len().saturating_sub(tail)..y.len()).collect()
    };
    let pick = |v: &[f64]| records.iter().map(|&k| v[k]).collect::<Vec<f64>>();
    Ok(WindowRate {
        fit: fit_semilog(&pick(t), &pick(y))?,
        records,
        in_band,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// With the columns (1, x) and unit weights, the multiple regression is the line fit: the
    /// same coefficients and standard errors (two routes to the closed form); a weight 4 on a
    /// row is that row counted four times (same coefficients, RSS with the row's residual × 4).
    #[test]
    fn least_squares_on_one_and_x_is_the_line_fit() {
        let x = [1.0, 2.0, 3.0, 4.0, 5.0, 7.0];
        let y = [1.0, 2.0, 1.3, 3.75, 2.25, 4.0];
        let rows: Vec<Vec<f64>> = x.iter().map(|&v| vec![1.0, v]).collect();
        let line = fit_linear(&x, &y).unwrap();
        let ls = least_squares(&rows, &y, None).unwrap();
        assert!((ls.coef[0] - line.intercept).abs() < 1e-12);
        assert!((ls.coef[1] - line.slope).abs() < 1e-12);
        assert!((ls.std_errors[0] - line.intercept_std_error).abs() < 1e-12);
        assert!((ls.std_errors[1] - line.slope_std_error).abs() < 1e-12);
        let mut w = vec![1.0; x.len()];
        w[2] = 4.0;
        let (mut rows4, mut y4) = (rows.clone(), y.to_vec());
        for _ in 0..3 {
            rows4.push(rows[2].clone());
            y4.push(y[2]);
        }
        let weighted = least_squares(&rows, &y, Some(&w)).unwrap();
        let repeated = least_squares(&rows4, &y4, None).unwrap();
        for a in 0..2 {
            assert!((weighted.coef[a] - repeated.coef[a]).abs() < 1e-12);
        }
        assert!((weighted.rss - repeated.rss).abs() < 1e-12);
        assert!(least_squares(&rows[..2], &y[..2], None).is_err());
        assert!(least_squares(&rows, &y[..3], None).is_err());
    }

    /// On y = 3e^{−0.1 t}, t = 0..100, the band (10⁻³, 10⁻¹) holds the records with
    /// 23.03 < t < 69.08 (t = 24..69, 46 records) and the fit returns the rate −0.1 exactly; a
    /// curve that plateaus at y₀/2 never enters it, and the window is its last `tail` records
    /// (a flat tail: slope 0).
    #[test]
    fn band_rate_of_an_exponential_and_of_a_plateau() {
        let t: Vec<f64> = (0..=100).map(f64::from).collect();
        let y: Vec<f64> = t.iter().map(|s| 3.0 * (-0.1 * s).exp()).collect();
        let r = band_rate(&t, &y, (1e-3, 1e-1), 5, 10).unwrap();
        assert!(r.in_band);
        assert_eq!(r.records, (24..=69).collect::<Vec<usize>>());
        assert!((r.fit.slope + 0.1).abs() < 1e-12 && r.fit.slope_std_error < 1e-12);
        let flat: Vec<f64> = t.iter().map(|s| 1.0 + (-s).exp()).collect();
        let p = band_rate(&t, &flat, (1e-3, 1e-1), 5, 10).unwrap();
        assert!(!p.in_band);
        assert_eq!(p.records, (91..=100).collect::<Vec<usize>>());
        assert!(p.fit.slope.abs() < 1e-12);
        assert!(band_rate(&t, &flat, (1e-3, 1e-1), 5, 2).is_err());
        assert!(band_rate(&t[..3], &flat, (1e-3, 1e-1), 5, 10).is_err());
    }

    /// Two runs (0, 2) and (2, 2): at the first point mean 1, std √((1 + 1)/1) = √2; at the
    /// second std 0; the spread is their mean √2/2, as summarize's std of each point's values.
    #[test]
    fn spread_is_the_mean_pointwise_standard_deviation() {
        let runs = vec![vec![0.0, 2.0], vec![2.0, 2.0]];
        let s = spread(&runs).unwrap();
        assert!((s - std::f64::consts::SQRT_2 / 2.0).abs() < 1e-15, "{s}");
        assert_eq!(s, (summarize(&[0.0, 2.0]).unwrap().std + 0.0) / 2.0);
        assert!(spread(&runs[..1]).is_err());
    }

    #[test]
    fn median_and_standard_error() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert!(median(&[]).is_nan());
        let s = summarize(&[1.0, 2.0, 3.0, 4.0]).unwrap();
        // std = √(5/3), count 4.
        assert!((s.std_error() - (5.0f64 / 3.0).sqrt() / 2.0).abs() < 1e-15);
    }

    #[test]
    fn exact_line_has_zero_error() {
        let x = [1.0, 2.0, 3.0, 4.0, 5.0];
        let y: Vec<f64> = x.iter().map(|v| 3.0 - 0.5 * v).collect();
        let f = fit_linear(&x, &y).unwrap();
        assert!((f.slope + 0.5).abs() < 1e-14 && (f.intercept - 3.0).abs() < 1e-14);
        assert!(f.slope_std_error < 1e-14 && (f.r_squared - 1.0).abs() < 1e-14);
    }

    /// The closed forms on x = 1..5, y = (1, 2, 1.3, 3.75, 2.25): Sxx = 10, Sxy = 4.25 by hand,
    /// slope Sxy/Sxx = 0.425, RSS = Syy − Sxy²/Sxx, se(slope)² = RSS/(3 Sxx).
    #[test]
    fn standard_errors_match_the_closed_form() {
        let x = [1.0, 2.0, 3.0, 4.0, 5.0];
        let y = [1.0, 2.0, 1.3, 3.75, 2.25];
        let f = fit_linear(&x, &y).unwrap();
        let (sxx, sxy) = (10.0, 4.25);
        let my = y.iter().sum::<f64>() / 5.0;
        let syy: f64 = y.iter().map(|v| (v - my) * (v - my)).sum();
        let rss = syy - sxy * sxy / sxx;
        assert!((f.slope - 0.425).abs() < 1e-14);
        assert!((f.intercept - (my - 0.425 * 3.0)).abs() < 1e-14);
        assert!((f.slope_std_error - (rss / 3.0 / sxx).sqrt()).abs() < 1e-14);
        let se_b = (rss / 3.0 * (0.2 + 9.0 / sxx)).sqrt();
        assert!((f.intercept_std_error - se_b).abs() < 1e-14);
    }

    /// Monte Carlo: over many noisy lines the slope's spread equals its reported standard error
    /// (the mean reported se² against the empirical variance, within 10 %).
    #[test]
    fn standard_error_is_calibrated() {
        let mut rng = crate::Seed(7).stream("fit", 0);
        let x: Vec<f64> = (0..8).map(|k| k as f64).collect();
        let (mut slopes, mut se2) = (Vec::new(), 0.0);
        for _ in 0..4000 {
            let y: Vec<f64> = x
                .iter()
                .map(|v| 1.0 + 2.0 * v + 0.3 * rng.normal())
                .collect();
            let f = fit_linear(&x, &y).unwrap();
            slopes.push(f.slope);
            se2 += f.slope_std_error.powi(2) / 4000.0;
        }
        let s = summarize(&slopes).unwrap();
        assert!((s.mean - 2.0).abs() < 3.0 * s.std / 4000f64.sqrt());
        assert!(
            (s.std * s.std / se2 - 1.0).abs() < 0.1,
            "{} {}",
            s.std,
            se2.sqrt()
        );
    }

    #[test]
    fn log_fits_recover_power_laws_and_rates() {
        let x = [1.0, 2.0, 4.0, 8.0, 16.0];
        let y: Vec<f64> = x.iter().map(|v: &f64| 5.0 * v.powf(-1.5)).collect();
        let f = fit_log_log(&x, &y).unwrap();
        assert!((f.slope + 1.5).abs() < 1e-12 && (f.intercept.exp() - 5.0).abs() < 1e-12);
        let z: Vec<f64> = x.iter().map(|v| 2.0 * (-0.25 * v).exp()).collect();
        assert!((fit_semilog(&x, &z).unwrap().slope + 0.25).abs() < 1e-12);
        assert!(fit_log_log(&x, &[1.0, 0.0, 1.0, 1.0, 1.0]).is_err());
    }

    #[test]
    fn bad_fits_are_errors() {
        assert!(fit_linear(&[1.0, 2.0], &[1.0, 2.0]).is_err());
        assert!(fit_linear(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]).is_err());
        assert!(fit_linear(&[1.0, 2.0, f64::NAN], &[1.0, 2.0, 3.0]).is_err());
        assert!(summarize(&[]).is_err());
    }

    #[test]
    fn summaries_and_quantiles() {
        let s = summarize(&[4.0, 1.0, 3.0, 2.0]).unwrap();
        assert_eq!((s.min, s.median, s.max, s.mean), (1.0, 2.5, 4.0, 2.5));
        assert!((s.std - (5.0f64 / 3.0).sqrt()).abs() < 1e-15);
        assert_eq!(quantile_sorted(&[0.0, 10.0], 0.25), 2.5);
    }

    #[test]
    fn crossings_interpolate() {
        let t = [0.0, 1.0, 2.0, 3.0];
        assert_eq!(crossing_time(&t, &[1.0, 0.8, 0.4, 0.2], 0.5), Some(1.75));
        assert_eq!(crossing_time(&t, &[0.0, 0.2, 0.6, 1.0], 0.5), Some(1.75));
        assert_eq!(crossing_time(&t, &[1.0, 0.9, 0.8, 0.7], 0.5), None);
        assert_eq!(crossing_time(&t, &[0.5, 0.9], 0.5), Some(0.0));
    }
}
