//! Claim `averaged-sgd`: averaged stochastic gradient descent with a constant step and
//! regularisation towards the initialisation attains the fast O(1/T) rate of the excess risk,
//! while the last iterate stays at a noise floor — checked in the linear model (the NTK regime's
//! linearisation, the Bach–Moulines sub-case of Nitanda & Suzuki's result) against the exact
//! second moments of the recursion.

use super::{Basis, Check, Claim, ClaimOutcome, Context, Control, Relation};
use crate::data::io::Table;
use crate::error::Result;
use crate::report::{Figure, Scale};
use crate::stats::{fit_log_log, summarize};

/// Excess risk of the averaged and of the last iterate against T, with their exact expectations.
pub struct AveragedSgd;

/// Input dimension d.
const DIM: usize = 10;
/// Noise standard deviation σ.
const SIGMA: f64 = 1.0;
/// The constant step α: Bach & Moulines (2013, Thm 1) ask α ≤ 1/(4R²) with
/// E[‖x‖² x xᵀ] ≼ R² H; for x ~ N(0, I_d), E[‖x‖² x xᵀ] = (d + 2) I, so R² = 12 and
/// 1/(4R²) = 0.0208.
const ALPHA: f64 = 0.02;
/// The horizons T at which the averaged iterate is read (prefix averages of one pass).
const HORIZONS: [usize; 6] = [2000, 4000, 8000, 16000, 32000, 64000];
/// The step of the `decaying-step` control: α_t = α / √(1 + t/τ) with this τ.
const DECAY_STEPS: f64 = 1000.0;

/// The exact expectations of the recursion e_{t+1} = ((1 − αλ)I − α x xᵀ) e_t + αλ e₀ + αεx
/// (e_t = θ_t − θ*, x ~ N(0, I_d), ε ~ N(0, σ²) independent of x), from e₀ with ‖e₀‖² = s:
/// returns E[½‖θ̄_T − θ*‖²] for each horizon T (θ̄_T = (1/T) Σ_{t=1}^T θ_t) and the stationary
/// E[½‖θ_t − θ*‖²] of the last iterate.
///
/// With ρ = 1 − α − αλ and c = (1 − αλ)² − 2α(1 − αλ) + α²(d + 2) (Gaussian fourth moment),
/// μ_t = E e_t = a_t e₀ with a_{t+1} = ρ a_t + αλ, m_t = E‖e_t‖² with
/// m_{t+1} = c m_t + 2αλρ a_t s + α²λ² s + α²σ² d, and for u < t
/// E⟨e_u, e_t⟩ = ρ^{t−u}(m_u − b_u) + b_u with b_u = λ/(1 + λ) a_u s (the mean map's fixed point
/// is e_∞ = λ/(1 + λ) e₀). Then E‖Σ_{t≤T} e_t‖² = Σ_u [m_u + 2(m_u − b_u) ρ(1 − ρ^{T−u})/(1 − ρ)
/// + 2 b_u (T − u)].
fn exact_excess(alpha: f64, lambda: f64, s: f64, horizons: &[usize]) -> (Vec<f64>, f64) {
    let d = DIM as f64;
    let rho = 1.0 - alpha - alpha * lambda;
    let c = (1.0 - alpha * lambda).powi(2) - 2.0 * alpha * (1.0 - alpha * lambda)
        + alpha * alpha * (d + 2.0);
    let t_max = horizons.iter().copied().max().unwrap_or(0);
    let (mut a, mut m) = (1.0, s);
    let mut ms = Vec::with_capacity(t_max + 1);
    let mut bs = Vec::with_capacity(t_max + 1);
    ms.push(m);
    bs.push(lambda / (1.0 + lambda) * a * s);
    for _ in 0..t_max {
        let m_next = c * m
            + 2.0 * alpha * lambda * rho * a * s
            + alpha * alpha * lambda * lambda * s
            + alpha * alpha * SIGMA * SIGMA * d;
        a = rho * a + alpha * lambda;
        m = m_next;
        ms.push(m);
        bs.push(lambda / (1.0 + lambda) * a * s);
    }
    let averaged = horizons
        .iter()
        .map(|&t| {
            let total: f64 = (1..=t)
                .map(|u| {
                    let tail = rho * (1.0 - rho.powi((t - u) as i32)) / (1.0 - rho);
                    ms[u] + 2.0 * (ms[u] - bs[u]) * tail + 2.0 * bs[u] * (t - u) as f64
                })
                .sum();
            0.5 * total / (t as f64 * t as f64)
        })
        .collect();
    // The stationary m solves m = c m + 2αλρ a_∞ s + α²λ² s + α²σ²d, a_∞ = λ/(1 + λ).
    let a_inf = lambda / (1.0 + lambda);
    let m_inf = (2.0 * alpha * lambda * rho * a_inf * s
        + alpha * alpha * lambda * lambda * s
        + alpha * alpha * SIGMA * SIGMA * d)
        / (1.0 - c);
    (averaged, 0.5 * m_inf)
}

/// One pass of SGD with one fresh sample per step. Returns ½‖θ̂_T − θ*‖² at each horizon (θ̂ the
/// prefix average, or the last iterate under `no-averaging`) and the last iterate's excess
/// risk averaged over t ∈ (T_max/2, T_max].
fn one_pass(ctx: &Context, run: u64, lambda: f64) -> (Vec<f64>, f64) {
    let seed = ctx.seed.child("run", run);
    let mut rng = seed.stream("sgd", 0);
    // θ₀ = 0 and θ* uniform on the unit sphere: ‖e₀‖² = 1.
    let mut star = [0.0; DIM];
    seed.stream("target", 0).unit_vector(&mut star);
    let (mut theta, theta0) = ([0.0; DIM], [0.0; DIM]);
    let mut sum = [0.0; DIM];
    let mut x = [0.0; DIM];
    let t_max = HORIZONS[HORIZONS.len() - 1];
    let half_norm = |v: &[f64; DIM]| {
        0.5 * v
            .iter()
            .zip(&star)
            .map(|(a, b)| (a - b).powi(2))
            .sum::<f64>()
    };
    let (mut at_horizons, mut late, mut late_count) = (Vec::new(), 0.0, 0usize);
    let norm = ((DIM * (DIM + 2)) as f64).sqrt();
    for t in 0..t_max {
        rng.fill_normal(&mut x, 1.0);
        let xi = rng.normal();
        // ε independent of x; under `heteroscedastic-noise` ε = σ ξ ‖x‖²/√(d(d + 2)), which has
        // the same variance σ² but E[ε² | x] ∝ ‖x‖⁴.
        let eps = if ctx.under("heteroscedastic-noise") {
            SIGMA * xi * x.iter().map(|v| v * v).sum::<f64>() / norm
        } else {
            SIGMA * xi
        };
        let alpha = if ctx.under("decaying-step") {
            ALPHA / (1.0 + t as f64 / DECAY_STEPS).sqrt()
        } else {
            ALPHA
        };
        // θ_{t+1} = θ_t − α[(⟨θ_t, x⟩ − y) x + λ(θ_t − θ₀)], y = ⟨θ*, x⟩ + ε.
        let r: f64 = x
            .iter()
            .zip(theta.iter().zip(&star))
            .map(|(xi, (th, st))| xi * (th - st))
            .sum::<f64>()
            - eps;
        for j in 0..DIM {
            theta[j] -= alpha * (r * x[j] + lambda * (theta[j] - theta0[j]));
            sum[j] += theta[j];
        }
        let step = t + 1;
        if step > t_max / 2 {
            late += half_norm(&theta);
            late_count += 1;
        }
        if HORIZONS.contains(&step) {
            let estimate = if ctx.under("no-averaging") {
                theta
            } else {
                let mut avg = [0.0; DIM];
                for j in 0..DIM {
                    avg[j] = sum[j] / step as f64;
                }
                avg
            };
            at_horizons.push(half_norm(&estimate));
        }
    }
    (at_horizons, late / late_count.max(1) as f64)
}

impl Claim for AveragedSgd {
    fn id(&self) -> &'static str {
        "averaged-sgd"
    }
    fn title(&self) -> &'static str {
        "averaged SGD with regularisation to the initialisation attains the fast rate"
    }
    fn statement(&self) -> &'static str {
        "One-pass SGD with one sample per step, θ_{t+1} = θ_t − α[∇ℓ(y_t, f(x_t)) + λ(θ_t − θ₀)], \
         and the average θ̄_T = (1/T) Σ_{t≤T} θ_t: for a model linear in its parameters (the NTK \
         regime's linearisation) with well-specified noise of variance σ² independent of x and a \
         constant step α ≤ 1/(4R²), E[L(θ̄_T)] − L* = σ²d/(2T)·(1 + o(1)) + O(‖θ₀ − θ*‖²/(αT)²) \
         (Bach & Moulines 2013, Thm 1; the document's result is Nitanda & Suzuki 2021, the same \
         scheme on a two-layer net in the NTK regime with rate T^{−2rβ/(2rβ+1)} — not reproduced \
         here, see setup): the fast rate T^{−1}, while the last iterate stays at the noise floor \
         ½α²σ²d/(1 − c), c = 1 − 2α + α²(d + 2)."
    }
    fn setup(&self) -> &'static str {
        "The linear-model sub-case (Bach–Moulines), not yet the document's Nitanda–Suzuki \
         two-layer NTK setting. x ~ N(0, I₁₀), y = ⟨θ*, x⟩ + ε, ε ~ N(0, 1), θ₀ = 0, θ* uniform \
         on the unit sphere (fresh per run); one pass of 64000 steps, one fresh sample per step, \
         α = 0.02 (≤ 1/(4R²) = 1/48), λ = 1/64000 (anchor to θ₀); the averaged iterate is read at \
         T = 2000, 4000, …, 64000 (prefix averages); 200 independent runs (full: 1000); excess \
         risk = ½‖θ̂ − θ*‖² (H = I, exact). The update is written out in the claim so that its \
         exact moments (Gaussian fourth moment, see exact_excess) give closed forms. Checks: (1) \
         the mean averaged excess risk at T = 64000 over its exact expectation = 1 (closed form; \
         tolerance from the 10-seed spread); (2) the log-log slope of the mean averaged excess \
         risk over the 6 horizons = −1 (theorem); (3) the last iterate's excess risk, averaged \
         over t ∈ (32000, 64000], over the exact stationary floor ½α²σ²d/(1 − c) = 1 (closed \
         form). Tolerances from the 10-seed spread (seeds 0–9, quick): (1) ± 0.10 (std 0.031, \
         Monte Carlo SE ≈ 0.03 per seed), (2) ± 0.05 (std 0.013, fit SE ≈ 0.01; the bias term \
         ‖e₀‖²/(αT)² steepens the finite-T slope to ≈ −1.01), (3) ± 0.01 (std 0.0016). \
         Controls: no-averaging (the estimator is the last iterate — the theorem's \
         averaging removed; fails 2), heteroscedastic-noise (ε = σξ‖x‖²/√(d(d+2)): same variance, \
         but not independent of x — the hypothesis behind σ²d; the asymptotic variance becomes \
         σ²(d+4)/(2T) and the floor grows by (d+4)/d; fails 1 and 3), decaying-step (α_t = \
         α/√(1 + t/1000): not the constant step of the noise-floor statement; fails 3)."
    }
    fn controls(&self) -> &'static [Control] {
        &[
            Control {
                name: "no-averaging",
                breaks: "the estimator is the last iterate θ_T instead of the average θ̄_T",
            },
            Control {
                name: "heteroscedastic-noise",
                breaks: "noise ε = σξ‖x‖²/√(d(d+2)) of variance σ² but dependent on x (the \
                         theorem's constant σ²d needs E[ε²|x] = σ²)",
            },
            Control {
                name: "decaying-step",
                breaks: "step α_t = α/√(1 + t/1000) instead of the constant step",
            },
        ]
    }
    fn run(&self, ctx: &Context) -> Result<ClaimOutcome> {
        let runs = if ctx.quick { 200 } else { 1000 };
        let t_max = HORIZONS[HORIZONS.len() - 1];
        let lambda = 1.0 / t_max as f64;
        let mut per_horizon = vec![Vec::with_capacity(runs); HORIZONS.len()];
        let mut late = Vec::with_capacity(runs);
        for r in 0..runs {
            let (h, l) = one_pass(ctx, r as u64, lambda);
            for (k, v) in h.into_iter().enumerate() {
                per_horizon[k].push(v);
            }
            late.push(l);
        }
        let (exact, floor) = exact_excess(ALPHA, lambda, 1.0, &HORIZONS);
        let mut table = Table::new(&[
            "samples",
            "excess_risk_mean",
            "excess_risk_std_error",
            "exact_expectation",
            "sigma2_d_over_2t",
        ]);
        let mut means = Vec::new();
        let mut last_ratio_se = f64::NAN;
        for (k, &t) in HORIZONS.iter().enumerate() {
            let s = summarize(&per_horizon[k])?;
            let se = s.std / (runs as f64).sqrt();
            let asymptotic = SIGMA * SIGMA * DIM as f64 / (2.0 * t as f64);
            table.push(vec![t as f64, s.mean, se, exact[k], asymptotic]);
            means.push(s.mean);
            last_ratio_se = se / exact[k];
        }
        let ts: Vec<f64> = HORIZONS.iter().map(|&t| t as f64).collect();
        let fit = fit_log_log(&ts, &means)?;
        let ratio = means[means.len() - 1] / exact[exact.len() - 1];
        let late_summary = summarize(&late)?;
        let floor_ratio = late_summary.mean / floor;
        let floor_se = late_summary.std / (runs as f64).sqrt() / floor;
        let mut floor_table = Table::new(&["late_last_iterate_mean", "std_error", "exact_floor"]);
        floor_table.push(vec![
            late_summary.mean,
            late_summary.std / (runs as f64).sqrt(),
            floor,
        ]);
        Ok(ClaimOutcome {
            checks: vec![
                Check::new(
                    "mean averaged excess risk at T = 64000 / its exact expectation",
                    ratio,
                    Relation::Within,
                    1.0,
                    0.1,
                )
                .basis(Basis::ClosedForm)
                .control("heteroscedastic-noise")
                .std_error(last_ratio_se),
                Check::new(
                    "log-log slope of the mean averaged excess risk, T = 2000…64000",
                    fit.slope,
                    Relation::Within,
                    -1.0,
                    0.05,
                )
                .basis(Basis::Theorem)
                .control("no-averaging")
                .fit(&fit),
                Check::new(
                    "last iterate's excess risk over t ∈ (T/2, T] / exact noise floor",
                    floor_ratio,
                    Relation::Within,
                    1.0,
                    0.01,
                )
                .basis(Basis::ClosedForm)
                .control("decaying-step")
                .std_error(floor_se),
            ],
            tables: vec![
                ("excess_risk".into(), table),
                ("last_iterate_floor".into(), floor_table),
            ],
            figures: vec![
                Figure::new("excess_risk", "averaged-iterate excess risk against T")
                    .x("samples T", Scale::Log)
                    .y("E ½‖θ̄_T − θ*‖²", Scale::Log)
                    .markers(
                        "measured (mean of runs)",
                        ts.iter().copied().zip(means.clone()),
                    )
                    .prediction("exact expectation", ts.iter().copied().zip(exact.clone()))
                    .prediction(
                        "σ²d/(2T)",
                        ts.iter()
                            .map(|&t| (t, SIGMA * SIGMA * DIM as f64 / (2.0 * t))),
                    ),
            ],
        })
    }
}
