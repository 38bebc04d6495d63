//! Part of claim `infinite-langevin`: the spectral gap of the semi-implicit scheme degrades like
//! exp(−O(β)) for a non-convex loss — the gap of the scheme itself, the second eigenvalue of
//! the transition matrix of its chains on a coarse partition (two core sets of the prediction
//! s = ⟨φ, x⟩ over K modes, loss L(x) = h(s² − 1)²), against the barrier ΔV of the Gibbs
//! marginal of s (Eyring–Kramers: gap ≈ k_AB + k_BA ∝ e^{−βΔV}).

use super::{Basis, Check, Context, Relation};
use crate::data::io::Table;
use crate::error::{Error, Result};
use crate::report::{Figure, Scale};
use crate::stats::fit_semilog;

/// Modes K (μ_k = k^{−2}), the well's height, the step, the horizon (steps) and chains.
const MODES: usize = 16;
const HEIGHT: f64 = 1.0;
const LR: f64 = 0.01;
const HORIZON: usize = 12_000;
/// Burn-in steps before the states are counted, and the lag τ of the transition matrix (steps).
const BURN_IN: usize = 200;
const LAG: usize = 50;
const CHAINS: usize = 200;
/// Tolerance of the Arrhenius slope (see the setup text of the claim).
pub(super) const GAP_TOLERANCE: f64 = 0.05;

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

/// The spectral gap of the semi-implicit scheme
/// x ← (I + ηλA)^{−1}(x − ηL′(s)φ + √(2η/β)ξ), estimated from its own chains on a coarse
/// partition (a two-state Markov state model with core sets): [`CHAINS`] chains, half from
/// x = s₋φ/‖φ‖², half from the mirror point, [`BURN_IN`] steps of burn-in, then each step's
/// state is the core last visited (A: s ≤ s₋/2, B: s ≥ |s₋|/2, milestoning); the transition
/// matrix P(τ) at lag τ = [`LAG`] steps is counted over every chain and time, and
/// gap = −ln λ₂(P(τ))/τ with λ₂ = P_AA + P_BB − 1 its second eigenvalue. NaN when λ₂ ≤ 0 or a
/// core is never occupied (no metastability: nothing to measure).
fn spectral_gap(beta: f64, lambda: f64, start: f64, convex: bool, ctx: &Context, k: u64) -> f64 {
    let shrink: Vec<f64> = (1..=MODES)
        .map(|m| 1.0 / (1.0 + LR * lambda * (m * m) as f64))
        .collect();
    let noise = (2.0 * LR / beta).sqrt();
    let seed = ctx.seed.child("gap", k);
    let core = start.abs() / 2.0;
    // counts[i][j]: state i at t, state j at t + τ (0 = A, 1 = B).
    let mut counts = [[0.0f64; 2]; 2];
    let mut states = Vec::with_capacity(HORIZON);
    for c in 0..CHAINS {
        let mut rng = seed.stream("chain", c as u64);
        let from = if c % 2 == 0 { start } else { -start };
        let mut x = [from / MODES as f64; MODES];
        let mut state = usize::from(from > 0.0);
        states.clear();
        for step in 0..BURN_IN + HORIZON {
            let grad = loss(x.iter().sum(), convex).1;
            for (v, r) in x.iter_mut().zip(&shrink) {
                *v = (*v - LR * grad + noise * rng.normal()) * r;
            }
            let s: f64 = x.iter().sum();
            if s <= -core {
                state = 0;
            } else if s >= core {
                state = 1;
            }
            if step >= BURN_IN {
                states.push(state);
            }
        }
        for pair in states.windows(LAG + 1) {
            counts[pair[0]][pair[LAG]] += 1.0;
        }
    }
    let row = |i: usize| counts[i][0] + counts[i][1];
    if row(0) == 0.0 || row(1) == 0.0 {
        return f64::NAN;
    }
    let second = counts[0][0] / row(0) + counts[1][1] / row(1) - 1.0;
    if second > 0.0 {
        -second.ln() / (LAG as f64 * LR)
    } else {
        f64::NAN
    }
}

/// The check (the slope of log gap against β = 4 … 8 against −ΔV), its table and figure;
/// `convex` is the `convex-loss` control. A gap that cannot be measured (NaN) makes the slope NaN:
/// the check then fails instead of erroring.
pub(super) fn gap_check(
    ctx: &Context,
    lambda: f64,
    convex: bool,
) -> Result<(Check, Table, Figure)> {
    let (start, delta) = barrier(lambda);
    let betas: Vec<f64> = (0..5).map(|k| 4.0 + k as f64).collect();
    let mut table = Table::new(&["beta", "spectral_gap", "arrhenius"]);
    let mut gaps = Vec::new();
    for (k, &beta) in betas.iter().enumerate() {
        let gap = spectral_gap(beta, lambda, start, convex, ctx, k as u64);
        gaps.push(gap);
        table.push(vec![beta, gap, f64::NAN]);
    }
    let fit = if gaps.iter().all(|g| g.is_finite() && *g > 0.0) {
        Some(
            fit_semilog(&betas, &gaps)
                .map_err(|e| Error::invalid("spectral-gap slope", e.to_string()))?,
        )
    } else {
        None
    };
    if let Some(fit) = &fit {
        for (row, beta) in table.rows.iter_mut().zip(&betas) {
            row[2] = (fit.at(betas[0]) - delta * (beta - betas[0])).exp();
        }
    }
    let mut check = Check::new(
        format!(
            "slope of log(spectral gap) of the semi-implicit scheme against β = 4…8 (K = {MODES}) vs −ΔV"
        ),
        fit.as_ref().map_or(f64::NAN, |f| f.slope),
        Relation::Within,
        -delta,
        GAP_TOLERANCE,
    )
    .basis(Basis::Theorem)
    .control("convex-loss");
    if let Some(fit) = &fit {
        check = check.fit(fit);
    }
    let rows = table.rows.clone();
    let figure = Figure::new(
        "spectral_gap",
        "spectral gap of the semi-implicit scheme (two-state Markov model of its chains) against β",
    )
    .x("inverse temperature β", Scale::Linear)
    .y("spectral gap −ln λ₂(P(τ))/τ", Scale::Log)
    .markers(
        "chains (second eigenvalue of the lag-τ transition matrix)",
        rows.iter()
            .map(|r| (r[0], r[1]))
            .filter(|p| p.1.is_finite() && p.1 > 0.0),
    )
    .prediction(
        "∝ e^(−βΔV) (Eyring–Kramers, ΔV of the Gibbs marginal)",
        rows.iter()
            .map(|r| (r[0], r[2]))
            .filter(|p| p.1.is_finite()),
    );
    Ok((check, table, figure))
}
