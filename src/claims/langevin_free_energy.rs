//! Part of claim `langevin-stationary`: GLD is the Wasserstein gradient flow of the free energy
//! F(ρ) = ∫U dρ + β⁻¹∫ρ log ρ (Jordan, Kinderlehrer, Otto 1998), measured on the law of the
//! chains: F(ρ_t) decreases to its minimum F(π) = −β⁻¹ log Z, and it dissipates at the rate
//! dF/dt = −β⁻² I(ρ_t ‖ π) (de Bruijn's identity), both estimated from the chains by a kernel
//! density estimate on a grid.

use super::{Basis, Check, Context, Relation};
use crate::data::io::Table;
use crate::error::Result;
use crate::langevin::{gibbs_free_energy, KernelDensity};
use crate::report::{Figure, Scale};

use super::common::double_well;

/// Tilt of the double well U(x) = (x² − 1)² + 0.3x, the inverse temperature and the KDE bandwidth.
const TILT: f64 = 0.3;
const BETA: f64 = 2.0;
const BANDWIDTH: f64 = 0.05;
/// Record times: every 0.02 up to 0.2 (the window of the dissipation identity), then to t = 4.
const FINE: usize = 10;
const LATE: [f64; 7] = [0.3, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0];
/// GLD steps: 0.002 up to t = 0.2, then 0.01.
const FINE_LR: f64 = 0.002;
const LATE_LR: f64 = 0.01;
/// Tolerances (see the setup text of the claim): the free-energy gap at t = 4, the largest
/// increase between records, and the dissipation ratio.
const GAP_TOLERANCE: f64 = 0.02;
const INCREASE_TOLERANCE: f64 = 0.002;
const RATIO_TOLERANCE: f64 = 0.08;

/// The record times.
fn times() -> Vec<f64> {
    (0..=FINE)
        .map(|k| 0.02 * k as f64)
        .chain(LATE.iter().copied())
        .collect()
}

/// The chains' positions at each record time: `chains` chains from ρ₀ = N(0, 0.5²), GLD at
/// inverse temperature `run_beta`.
fn paths(run_beta: f64, chains: usize, ctx: &Context) -> Vec<Vec<f64>> {
    let times = times();
    let mut records = vec![Vec::with_capacity(chains); times.len()];
    let seed = ctx.seed.child("free-energy", 0);
    let (_, du) = double_well(TILT);
    for c in 0..chains {
        let mut rng = seed.stream("chain", c as u64);
        let mut x = 0.5 * rng.normal();
        let mut t = 0.0;
        records[0].push(x);
        for (k, &target) in times.iter().enumerate().skip(1) {
            let lr = if k <= FINE { FINE_LR } else { LATE_LR };
            let steps = ((target - t) / lr).round() as usize;
            let noise = (2.0 * lr / run_beta).sqrt();
            for _ in 0..steps {
                x += -lr * du(x) + noise * rng.normal();
            }
            t = target;
            records[k].push(x);
        }
    }
    records
}

/// Runs the experiment (chains at `run_beta`, compared with F at β = 2) and returns its checks,
/// table and figure.
pub(super) fn free_energy_checks(
    ctx: &Context,
    run_beta: f64,
) -> Result<(Vec<Check>, Table, Figure)> {
    let chains = if ctx.quick { 40_000 } else { 100_000 };
    let times = times();
    let records = paths(run_beta, chains, ctx);
    let (u, du) = double_well(TILT);
    let minimum = gibbs_free_energy(&u, BETA, -4.0, 4.0, 8001)?;
    let mut table = Table::new(&[
        "time",
        "free_energy_gap",
        "dissipation_bound",
        "relative_fisher",
    ]);
    let (mut gaps, mut fisher) = (Vec::new(), Vec::new());
    for (t, x) in times.iter().zip(&records) {
        let kde = KernelDensity::new(x, -3.0, 3.0, 1201, BANDWIDTH)?;
        let gap = kde.free_energy(&u, BETA) - minimum;
        let i = kde.relative_fisher(&du, BETA);
        gaps.push(gap);
        fisher.push(i);
        table.push(vec![*t, gap, i / (BETA * BETA), i]);
    }
    let largest_increase = largest_rise(&gaps);
    // De Bruijn over t = 0.02 … 0.2: F(ρ_a) − F(ρ_b) = β⁻² ∫_a^b I(ρ_t ‖ π) dt, the integral by
    // the trapezoidal rule on the records every 0.02.
    let (a, b) = (1, FINE);
    let integral = trapezoid(&times[a..=b], &fisher[a..=b]) / (BETA * BETA);
    let ratio = (gaps[a] - gaps[b]) / integral;
    let last = *gaps.last().unwrap_or(&f64::NAN);
    let checks = vec![
        Check::new(
            "free energy F(ρ_t) − F(π) of the chains' law at t = 4 (→ 0: π minimises F)",
            last,
            Relation::AtMost,
            0.0,
            GAP_TOLERANCE,
        )
        .basis(Basis::Theorem)
        .control("colder-chains"),
        Check::new(
            "largest increase of F(ρ_t) from a record to any later one, t = 0 … 4 (F decreases)",
            largest_increase,
            Relation::AtMost,
            0.0,
            INCREASE_TOLERANCE,
        )
        .basis(Basis::Theorem)
        .control("colder-chains"),
        Check::new(
            "F(ρ_0.02) − F(ρ_0.2) ÷ β⁻²∫ I(ρ_t ‖ π) dt (de Bruijn: dF/dt = −β⁻² I)",
            ratio,
            Relation::Within,
            1.0,
            RATIO_TOLERANCE,
        )
        .basis(Basis::Theorem)
        .control("colder-chains"),
    ];
    let rows = table.rows.clone();
    let figure = Figure::new(
        "free_energy",
        "free energy of the chains' law and its dissipation against time",
    )
    .x("time t", Scale::Linear)
    .y("F(ρ_t) − F(π), β⁻² I(ρ_t ‖ π)", Scale::Log)
    .markers(
        "F(ρ_t) − F(π) (chains, kernel density)",
        rows.iter().filter(|r| r[1] > 0.0).map(|r| (r[0], r[1])),
    )
    .markers(
        "β⁻² I(ρ_t ‖ π) (chains, kernel density)",
        rows.iter().filter(|r| r[2] > 0.0).map(|r| (r[0], r[2])),
    )
    .prediction(
        "F(ρ_0.02) − β⁻²∫_0.02^t I (de Bruijn)",
        (a..=b).map(|k| {
            let done = trapezoid(&times[a..=k], &fisher[a..=k]) / (BETA * BETA);
            (times[k], gaps[a] - done)
        }),
    );
    Ok((checks, table, figure))
}

/// max over records s < t of F_t − F_s: the largest increase from a record to any later one
/// (for a decreasing sequence, the least negative step between neighbours; a dip followed by a
/// rise counts in full, however many records the rise spans).
fn largest_rise(values: &[f64]) -> f64 {
    let mut lowest = f64::INFINITY;
    let mut rise = f64::NEG_INFINITY;
    for &v in values {
        rise = rise.max(v - lowest);
        lowest = lowest.min(v);
    }
    rise
}

/// ∫ y dt by the trapezoidal rule (0 for fewer than two points).
fn trapezoid(t: &[f64], y: &[f64]) -> f64 {
    t.windows(2)
        .zip(y.windows(2))
        .map(|(t, y)| 0.5 * (t[1] - t[0]) * (y[0] + y[1]))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::largest_rise;

    /// Neighbours' steps for a decreasing sequence; the whole rise after a dip otherwise.
    #[test]
    fn largest_rise_spans_records() {
        assert_eq!(largest_rise(&[5.0, 3.0, 2.5, 1.0]), -0.5);
        assert_eq!(largest_rise(&[5.0, 1.0, 1.5, 2.0, 2.5]), 1.5);
        assert_eq!(largest_rise(&[1.0]), f64::NEG_INFINITY);
    }
}
