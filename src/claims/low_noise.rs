//! Claim `low-noise-classification`: under a low-noise (hard-margin) condition the classifier of
//! the Langevin posterior agrees with the Bayes classifier except with a probability that decays
//! exponentially in n; without a margin the decay is only polynomial.

use super::{Basis, Check, Claim, ClaimOutcome, Context, Control, Relation};
use crate::data::io::Table;
use crate::error::{Error, Result};
use crate::linalg::{self, Matrix};
use crate::report::{Figure, Scale};
use crate::rng::Rng;
use crate::stats::{fit_linear, fit_semilog, LinearFit};

/// Disagreement of the Langevin-posterior classifier with the Bayes classifier against n.
pub struct LowNoiseClassification;

/// Regularisation λ, inverse temperature β and GLD step η of the posterior.
const LAMBDA: f64 = 0.01;
const BETA: f64 = 200.0;
const LR: f64 = 0.5;
/// GLD steps per training set, of which the first are burn-in.
const STEPS: usize = 400;
const BURN_IN: usize = 100;
/// Massart flip probability of the margin distribution.
const FLIP: f64 = 0.2;

/// n points: x uniform on [−1, 1] with |x| ≥ `margin`, y = sign(x) flipped with probability
/// 0.2 (Massart noise: |E[y | x]| = 0.6); with `smooth`, P(y = 1 | x) = ½ + x/2 instead (no
/// margin, noise ½ at the boundary).
fn draw(n: usize, margin: f64, smooth: bool, rng: &mut Rng) -> (Vec<f64>, Vec<f64>) {
    let (mut xs, mut ys) = (Vec::with_capacity(n), Vec::with_capacity(n));
    while xs.len() < n {
        let x = 2.0 * rng.uniform() - 1.0;
        if x.abs() < margin {
            continue;
        }
        let u = rng.uniform();
        let y = if smooth {
            if u < 0.5 + x / 2.0 {
                1.0
            } else {
                -1.0
            }
        } else if u < FLIP {
            -x.signum()
        } else {
            x.signum()
        };
        xs.push(x);
        ys.push(y);
    }
    (xs, ys)
}

/// The Langevin posterior of the regularised logistic loss of f_θ(x) = θ₀ + θ₁x,
/// π ∝ exp(−β((1/n)Σ log(1 + e^{−y_i f_θ(x_i)}) + (λ/2)‖θ‖²)), sampled by GLD
/// θ ← θ − η∇(…) + √(2η/β)ξ from θ = 0; returns the chain average of θ after burn-in (the
/// posterior mean, whose sign of f is the classifier).
fn posterior_mean(xs: &[f64], ys: &[f64], rng: &mut Rng) -> [f64; 2] {
    let n = xs.len() as f64;
    let noise = (2.0 * LR / BETA).sqrt();
    let (mut th, mut sum) = ([0.0f64; 2], [0.0f64; 2]);
    for step in 0..STEPS {
        let mut g = [LAMBDA * th[0], LAMBDA * th[1]];
        for (x, y) in xs.iter().zip(ys) {
            let d = -y / (1.0 + (y * (th[0] + th[1] * x)).exp()) / n;
            g[0] += d;
            g[1] += d * x;
        }
        th[0] += -LR * g[0] + noise * rng.normal();
        th[1] += -LR * g[1] + noise * rng.normal();
        if step >= BURN_IN {
            sum[0] += th[0];
            sum[1] += th[1];
        }
    }
    let k = (STEPS - BURN_IN) as f64;
    [sum[0] / k, sum[1] / k]
}

/// P(sign(θ₀ + θ₁x) ≠ sign x) for x uniform on [−1, 1] \ (−margin, margin), on 4000 midpoints.
fn disagreement(theta: [f64; 2], margin: f64) -> f64 {
    let cells = 4000;
    let (mut bad, mut total) = (0usize, 0usize);
    for j in 0..cells {
        let x = -1.0 + 2.0 * (j as f64 + 0.5) / cells as f64;
        if x.abs() < margin {
            continue;
        }
        total += 1;
        if (theta[0] + theta[1] * x).signum() != x.signum() {
            bad += 1;
        }
    }
    bad as f64 / total.max(1) as f64
}

/// The least-squares fit of log err = A − c·n − k·ln n (an exponential rate c with a polynomial
/// prefactor n^{−k}) over the sizes, by the normal equations (XᵀX)b = Xᵀy; returns
/// (c, se(c), k, se(k), A) with the classical standard errors s²(XᵀX)^{-1}, s² = RSS/(points − 3).
fn exponential_and_power(ns: &[f64], log_err: &[f64]) -> Result<(f64, f64, f64, f64, f64)> {
    let rows: Vec<[f64; 3]> = ns.iter().map(|&n| [1.0, -n, -n.ln()]).collect();
    let mut xtx = Matrix::zeros(3, 3);
    let mut xty = Matrix::zeros(3, 1);
    for (r, y) in rows.iter().zip(log_err) {
        for a in 0..3 {
            xty.set(a, 0, xty.get(a, 0) + r[a] * y);
            for b in 0..3 {
                xtx.set(a, b, xtx.get(a, b) + r[a] * r[b]);
            }
        }
    }
    let coef = linalg::cholesky_solve(&xtx, &xty)?.data;
    let inverse = linalg::cholesky_solve(&xtx, &Matrix::identity(3))?;
    let rss: f64 = rows
        .iter()
        .zip(log_err)
        .map(|(r, y)| (y - (0..3).map(|a| r[a] * coef[a]).sum::<f64>()).powi(2))
        .sum();
    let s2 = rss / (ns.len() as f64 - 3.0);
    Ok((
        coef[1],
        (s2 * inverse.get(1, 1)).sqrt(),
        coef[2],
        (s2 * inverse.get(2, 2)).sqrt(),
        coef[0],
    ))
}

fn fit(what: &str, x: &[f64], y: &[f64]) -> Result<LinearFit> {
    fit_linear(x, y).map_err(|e| Error::invalid(what, e.to_string()))
}

impl Claim for LowNoiseClassification {
    fn id(&self) -> &'static str {
        "low-noise-classification"
    }
    fn title(&self) -> &'static str {
        "exponential convergence of the Langevin classifier to the Bayes classifier under low noise"
    }
    fn statement(&self) -> &'static str {
        "Under the strong low-noise condition |P(Y = 1 | X) − ½| ≥ δ > 0 (a margin between the \
         classes and Massart noise), the classifier sign f of the Langevin posterior of the \
         regularised loss, π ∝ exp(−β(L̂_n(θ) + (λ/2)‖θ‖²)) sampled by GLD, disagrees with the \
         Bayes classifier with probability ≤ C exp(−cn): exponentially in n, although the \
         estimate of E[Y | X] itself converges only polynomially (Pillaud-Vivien, Rudi, Bach \
         2018; Nitanda & Suzuki 2019). Without a margin (noise ½ at the boundary) only a \
         polynomial rate holds."
    }
    fn setup(&self) -> &'static str {
        "x uniform on [−1, 1] with |x| ≥ 0.2, y = sign x flipped with probability 0.2 (δ = 0.3); \
         the model f_θ(x) = θ₀ + θ₁x (the Bayes classifier sign x is in the class) with the \
         logistic loss, λ = 0.01, β = 200; per training set one GLD chain of 400 steps at \
         η = 0.5 from θ = 0, the classifier is the sign of the chain average of f over steps \
         100–400 (the posterior-mean prediction). n = 20, 40 … 200 (10 sizes), 2000 training sets \
         per n (full: 4000); the disagreement with sign x is computed exactly for each (the mass of \
         the interval where the signs differ, 4000 midpoints) and averaged. An exponential law \
         e^{−cn} makes log-error linear in n, so its log-log slope steepens ∝ n; any power law \
         has a constant log-log slope. The mean disagreement of an asymptotically normal \
         threshold behaves like n^{−k}e^{−cn} (a Gaussian tail with a polynomial prefactor), so \
         log err = A − c·n − k·ln n is fitted over the 10 sizes (two regressors and an \
         intercept, classical standard errors). Check: the exponential rate c is detected, its \
         t-statistic c/se(c) ≥ 3 − 1 (theorem: c > 0, no constant given; a power law has c = 0; \
         the tolerance 1 is the statistic's own standard error, so the check is a 2-standard-\
         error detection of c > 0). The one-regressor semi-log and log-log slopes, their ratio \
         and the fitted (c, k) are in the table `rates`. Control `no-margin`: no margin and P(y = 1 | x) = ½ + x/2 (noise ½ at \
         the boundary: the rate is polynomial, ≈ n^{−1/2}); the same fit gives c ≈ 0 (slightly negative) and k ≈ ½, and the check fails. \
         The figure `disagreement` (semi-log axes) shows the three-parameter fit with c and k and \
         their standard errors, the one-regressor semi-log line with its slope's standard \
         error, and the competing one-regressor power law on the same data. The semi-log \
         line alone is not the check: over n = 20 … 200 the prefactor n^{−k} is as large as the \
         exponential (k ln n changes by 2.3 where cn changes by 2.1), so on the margin data the \
         power law's residual (0.25 at seed 0) is even below the semi-log line's (0.30); only the \
         joint fit separates the exponential from the polynomial part, and under `no-margin` \
         it attributes the whole decay to the power law. The old kernel \
         ridge classifier and the empirical 'disagreement ≤ 0.01' threshold are gone."
    }
    fn controls(&self) -> &'static [Control] {
        &[Control {
            name: "no-margin",
            breaks: "the low-noise condition: no margin and P(y = 1 | x) = ½ + x/2",
        }]
    }
    fn run(&self, ctx: &Context) -> Result<ClaimOutcome> {
        let sizes: Vec<usize> = (1..=10).map(|k| 20 * k).collect();
        let draws = if ctx.quick { 2000 } else { 4000 };
        let (margin, smooth) = if ctx.under("no-margin") {
            (0.0, true)
        } else {
            (0.2, false)
        };
        let mut table = Table::new(&["n", "mean_disagreement", "fraction_of_sets_with_an_error"]);
        let mut means = Vec::new();
        for &n in &sizes {
            let (mut total, mut any) = (0.0, 0.0);
            for r in 0..draws {
                let mut rng = ctx.seed.stream("train", (n * 100_000 + r) as u64);
                let (xs, ys) = draw(n, margin, smooth, &mut rng);
                let theta = posterior_mean(&xs, &ys, &mut rng);
                let d = disagreement(theta, margin);
                total += d / draws as f64;
                if d > 0.0 {
                    any += 1.0 / draws as f64;
                }
            }
            table.push(vec![n as f64, total, any]);
            means.push(total);
        }
        // A zero mean is below the resolution: floor it at one cell of one training set.
        let floor = 1.0 / (4000.0 * draws as f64);
        let ns: Vec<f64> = sizes.iter().map(|&n| n as f64).collect();
        let log_n: Vec<f64> = ns.iter().map(|n| n.ln()).collect();
        let log_err: Vec<f64> = means.iter().map(|m| m.max(floor).ln()).collect();
        let lower = fit("log-log slope, n ≤ 100", &log_n[..5], &log_err[..5])?;
        let upper = fit("log-log slope, n > 100", &log_n[5..], &log_err[5..])?;
        let ratio = lower.slope / upper.slope;
        // The same ratio for a pure exponential, log err = −n.
        let neg_n: Vec<f64> = ns.iter().map(|n| -n).collect();
        let pure = fit("exponential reference", &log_n[..5], &neg_n[..5])?.slope
            / fit("exponential reference", &log_n[5..], &neg_n[5..])?.slope;
        let semilog = fit_semilog(&ns, &means.iter().map(|m| m.max(floor)).collect::<Vec<_>>())?;
        // Row 1: the one-regressor fits; row 2: (c, se(c), k, se(k)) of the two-regressor fit.
        let mut rates = Table::new(&[
            "semilog_slope",
            "semilog_slope_se",
            "loglog_slope_lower",
            "loglog_slope_lower_se",
            "loglog_slope_upper",
            "loglog_slope_upper_se",
            "ratio",
            "pure_exponential_ratio",
        ]);
        rates.push(vec![
            semilog.slope,
            semilog.slope_std_error,
            lower.slope,
            lower.slope_std_error,
            upper.slope,
            upper.slope_std_error,
            ratio,
            pure,
        ]);
        let (rate, rate_se, power, power_se, level) = exponential_and_power(&ns, &log_err)?;
        rates.push(vec![
            rate,
            rate_se,
            power,
            power_se,
            f64::NAN,
            f64::NAN,
            f64::NAN,
            f64::NAN,
        ]);
        let check = Check::new(
            "t-statistic c/se(c) of the exponential rate c in log err = A − c·n − k·ln n",
            rate / rate_se,
            Relation::AtLeast,
            3.0,
            1.0,
        )
        .basis(Basis::Theorem)
        .control("no-margin")
        .std_error(1.0);
        let fitted = semilog;
        // The competing one-regressor power law on the same data, log err = a + s·ln n.
        let power_law = fit("log-log slope, all sizes", &log_n, &log_err)?;
        Ok(ClaimOutcome {
            checks: vec![check],
            tables: vec![("disagreement".into(), table), ("rates".into(), rates)],
            figures: vec![Figure::new(
                "disagreement",
                "P(sign f ≠ Bayes) of the Langevin posterior classifier against n",
            )
            .x("samples n", Scale::Linear)
            .y("mean disagreement with the Bayes classifier", Scale::Log)
            .markers(
                "measured (floored at the resolution)",
                ns.iter().copied().zip(means.iter().map(|m| m.max(floor))),
            )
            .prediction(
                &format!(
                    "e^(A − c·n − k·ln n): c = {rate:.4} ± {rate_se:.4}, k = {power:.2} ± {power_se:.2}"
                ),
                ns.iter()
                    .map(|&n| (n, (level - rate * n - power * n.ln()).exp())),
            )
            .line(
                &format!(
                    "semi-log fit: slope {:.4} ± {:.4}",
                    fitted.slope, fitted.slope_std_error
                ),
                ns.iter().map(|&n| (n, fitted.at(n).exp())),
            )
            .line(
                &format!(
                    "competing power law: n^({:.2} ± {:.2})",
                    power_law.slope, power_law.slope_std_error
                ),
                ns.iter().map(|&n| (n, power_law.at(n.ln()).exp())),
            )],
        })
    }
}
