//! Part of claim `infinite-langevin`: the spectral gap of the semi-implicit scheme degrades like
//! exp(−O(β)) for a non-convex loss — measured as the transition rate between the two wells of
//! a loss L(x) = h(s² − 1)² of the prediction s = ⟨φ, x⟩ over K modes, against the barrier of
//! the Gibbs marginal of s (Arrhenius / Eyring–Kramers: rate ∝ e^{−βΔV}).

use super::{Basis, Check, Context, Relation};
use crate::data::io::Table;
use crate::error::{Error, Result};
use crate::report::{Figure, Scale};
use crate::stats::fit_linear;

/// Modes K (μ_k = k^{−2}), the well's height, the step, the horizon (steps) and chains.
const MODES: usize = 16;
const HEIGHT: f64 = 1.0;
const LR: f64 = 0.01;
const HORIZON: usize = 12_000;
const CHAINS: usize = 200;
/// Tolerance of the Arrhenius slope (see the setup text of the claim).
pub(super) const GAP_TOLERANCE: f64 = 0.15;

/// The loss of the prediction s and its derivative: h(s² − 1)², or under `convex`
/// h(s − 1)² (no barrier).
fn loss(s: f64, convex: bool) -> (f64, f64) {
    if convex {
        (HEIGHT * (s - 1.0).powi(2), 2.0 * HEIGHT * (s - 1.0))
    } else {
        let q = s * s - 1.0;
        (HEIGHT * q * q, 4.0 * HEIGHT * s * q)
    }
}

/// The Gibbs marginal of s = ⟨φ, x⟩ (φ = 1 on every mode) under
/// π ∝ exp(−βL(s) − (βλ/2) Σ x_k²/μ_k): ∝ exp(−βV(s)), V(s) = L(s) + s²/(2σ²),
/// σ² = Σ φ_k² μ_k / λ. Returns (s₋, ΔV): the left minimiser of V and the barrier V(0) − V(s₋)
/// (the nominal double well), by a grid search on 4·10⁵ cells of [−2, 0].
fn barrier(lambda: f64) -> (f64, f64) {
    let sigma2: f64 = (1..=MODES).map(|k| 1.0 / (k * k) as f64).sum::<f64>() / lambda;
    let v = |s: f64| loss(s, false).0 + s * s / (2.0 * sigma2);
    let cells = 400_000;
    let (mut best, mut at) = (f64::INFINITY, 0.0);
    for i in 0..=cells {
        let s = -2.0 + 2.0 * i as f64 / cells as f64;
        if v(s) < best {
            best = v(s);
            at = s;
        }
    }
    (at, v(0.0) - best)
}

/// The censored-exponential transition rate of the semi-implicit scheme
/// x ← (I + ηλA)^{−1}(x − ηL′(s)φ + √(2η/β)ξ) from x = s₋φ/‖φ‖² until s ≥ |s₋| (the other
/// well) or the horizon: escapes ÷ total time at risk.
fn transition_rate(beta: f64, lambda: f64, start: f64, convex: bool, ctx: &Context, k: u64) -> f64 {
    let shrink: Vec<f64> = (1..=MODES)
        .map(|m| 1.0 / (1.0 + LR * lambda * (m * m) as f64))
        .collect();
    let noise = (2.0 * LR / beta).sqrt();
    let seed = ctx.seed.child("gap", k);
    let (mut escapes, mut at_risk) = (0usize, 0.0);
    for c in 0..CHAINS {
        let mut rng = seed.stream("chain", c as u64);
        let mut x = [start / MODES as f64; MODES];
        let mut step = 0;
        let mut s: f64 = x.iter().sum();
        while step < HORIZON && s < start.abs() {
            let grad = loss(s, convex).1;
            for (v, r) in x.iter_mut().zip(&shrink) {
                *v = (*v - LR * grad + noise * rng.normal()) * r;
            }
            s = x.iter().sum();
            step += 1;
        }
        if s >= start.abs() {
            escapes += 1;
        }
        at_risk += step as f64 * LR;
    }
    escapes as f64 / at_risk.max(LR)
}

/// The check (the Arrhenius slope of log rate against β = 4 … 8 against −ΔV), its table and
/// figure; `convex` is the `convex-loss` control.
pub(super) fn gap_check(
    ctx: &Context,
    lambda: f64,
    convex: bool,
) -> Result<(Check, Table, Figure)> {
    let (start, delta) = barrier(lambda);
    let betas: Vec<f64> = (0..5).map(|k| 4.0 + k as f64).collect();
    let mut table = Table::new(&["beta", "transition_rate", "arrhenius"]);
    let mut logs = Vec::new();
    for (k, &beta) in betas.iter().enumerate() {
        let rate = transition_rate(beta, lambda, start, convex, ctx, k as u64);
        // No transition at all: floored at half a transition over the whole horizon.
        let floor = 0.5 / (CHAINS as f64 * HORIZON as f64 * LR);
        logs.push(rate.max(floor).ln());
        table.push(vec![beta, rate, f64::NAN]);
    }
    let fit = fit_linear(&betas, &logs)
        .map_err(|e| Error::invalid("spectral-gap slope", e.to_string()))?;
    for (row, beta) in table.rows.iter_mut().zip(&betas) {
        row[2] = (fit.at(betas[0]) - delta * (beta - betas[0])).exp();
    }
    let check = Check::new(
        format!(
            "slope of log(transition rate) of the semi-implicit scheme against β = 4…8 (K = {MODES}) vs −ΔV"
        ),
        fit.slope,
        Relation::Within,
        -delta,
        GAP_TOLERANCE,
    )
    .basis(Basis::Theorem)
    .control("convex-loss")
    .fit(&fit);
    let rows = table.rows.clone();
    let figure = Figure::new(
        "spectral_gap",
        "transition rate (∝ spectral gap) of the semi-implicit scheme against β",
    )
    .x("inverse temperature β", Scale::Linear)
    .y("transitions per unit time", Scale::Log)
    .markers(
        "chains (censored-exponential estimate)",
        rows.iter().map(|r| (r[0], r[1])),
    )
    .prediction(
        "∝ e^(−βΔV) (Arrhenius, ΔV of the Gibbs marginal)",
        rows.iter().map(|r| (r[0], r[2])),
    );
    Ok((check, table, figure))
}
