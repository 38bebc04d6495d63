//! Claim `meanfield-langevin`: noisy particle gradient descent on a mean-field two-layer net
//! (mean-field Langevin dynamics, McKean–Vlasov) minimises the entropy-regularised objective
//! F(μ) = L(μ) + (λ'/2) E_μ w² + λ Ent(μ) and converges exponentially to its unique minimiser μ*,
//! the self-consistent (proximal) Gibbs measure — measured against μ* by quadrature, the
//! particles' rate against the closed-form rate of the McKean–Vlasov flow linearised at μ*
//! (with the Poincaré bound λα_P of μ* beside it), the particles' free-energy gap (entropy by
//! m-spacings) against twice that rate, and against the mean-field limit solved as a PDE on a
//! grid.

use super::{Basis, Check, Claim, ClaimOutcome, Context, Control, Relation};
use crate::data::io::Table;
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::linalg::Matrix;
use crate::meanfield::{
    particles, set_particles, spacing_entropy, MeanFieldGrid, ParticleLayout, ParticleStep,
};
use crate::nn::{Activation, Loss, Model, TwoLayer};
use crate::optim::Optimizer;
use crate::report::{Figure, Scale};
use crate::rng::Seed;
use crate::stats::{fit_semilog, LinearFit};
use crate::train::{Objective, Trainer};

/// Exponential convergence of mean-field Langevin dynamics to the unique minimiser μ*.
pub struct MeanFieldLangevin;

/// λ (the temperature: weight of the entropy) and λ' (the L2 weight).
const TEMPERATURE: f64 = 0.05;
const L2: f64 = 0.1;
/// Data: n inputs evenly spaced on [−2, 2], targets 0.8 tanh(3x).
const POINTS: usize = 16;
/// Particles of run A (far start) and of run B (near start), quick and full; the particle step,
/// the horizon and the record interval (time units).
const WIDTH_A: (usize, usize) = (2000, 8000);
const WIDTH_B: (usize, usize) = (8000, 16000);
const LR: f64 = 0.01;
const HORIZON: f64 = 25.0;
const RECORD: f64 = 0.25;
/// The window of the rate fit (run B) and the start of the pooled window of the limit checks.
const WINDOW: (f64, f64) = (0.0, 8.0);
/// The window of the free-energy rate fit (run B): the same as the W1 fit's.
const GAP_WINDOW: (f64, f64) = WINDOW;
const POOL_FROM: f64 = 15.0;
/// The grid of the quadrature and of the mean-field PDE: cells of [−6, 6].
const GRID: (f64, f64) = (-6.0, 6.0);
const CELLS: usize = 600;
/// Tolerances (see the setup text): the rate, the pooled W1 to μ* and the pooled W1 between
/// the two initialisations.
const RATE_TOLERANCE: f64 = 0.04;
const LIMIT_TOLERANCE: f64 = 0.03;
const UNIQUE_TOLERANCE: f64 = 0.04;
/// Tolerance of the free-energy rate (see the setup text).
const GAP_RATE_TOLERANCE: f64 = 0.07;

/// The data (x_i, y_i): x_i = −2 + 4i/(n − 1), y_i = 0.8 tanh(3x_i).
fn data() -> (Vec<f64>, Vec<f64>) {
    let x: Vec<f64> = (0..POINTS)
        .map(|i| -2.0 + 4.0 * i as f64 / (POINTS - 1) as f64)
        .collect();
    let y = x.iter().map(|x| 0.8 * (3.0 * x).tanh()).collect();
    (x, y)
}

/// The mean-field net f(x) = (1/M) Σ_j tanh(w_j x): one input, no bias, output weights frozen
/// at 1, so each particle is the scalar w_j.
fn net(m: usize) -> Result<TwoLayer> {
    TwoLayer {
        train_second: false,
        ..TwoLayer::new(1, m, Activation::Tanh, 1.0)?
    }
    .validated()
}

/// What one particle run records: W1(μ_t^M, μ*) and the free-energy gap F̂(μ_t^M) − F(μ*) at
/// every record time, and the particles of the records from [`POOL_FROM`] on.
struct ParticleRun {
    times: Vec<f64>,
    w1: Vec<f64>,
    gap: Vec<f64>,
    pooled: Vec<f64>,
}

/// The dynamics of a run: λ (None: noiseless particle GD) and λ'.
#[derive(Clone, Copy)]
struct Dynamics {
    temperature: Option<f64>,
    l2: f64,
}

/// Noisy particle gradient descent through the library (the `mean_field` step:
/// w_j ← w_j − η(M ∂L/∂w_j + λ' w_j) + √(2ηλ) ξ_j) from the particles `init`, recording
/// W1 to μ* every [`RECORD`] time units.
fn particle_run(
    init: &[f64],
    dynamics: Dynamics,
    grid: &MeanFieldGrid,
    minimiser: &[f64],
    data: &Dataset,
    seed: Seed,
) -> Result<ParticleRun> {
    let m = init.len();
    let model = net(m)?;
    let layout = ParticleLayout::of(&model)?;
    let mut params = vec![0.0; model.num_params()];
    let cloud = Matrix::from_fn(m, 2, |j, c| if c == 0 { init[j] } else { 1.0 });
    set_particles(&layout, &cloud, &mut params)?;
    let optimizer = Optimizer::chain(vec![Box::new(ParticleStep {
        lr: LR.into(),
        width: m,
        l2: dynamics.l2,
        inverse_temperature: dynamics.temperature.map(|t| 1.0 / t),
        anneal: None,
    })]);
    let objective = Objective {
        model: &model,
        loss: Loss::Squared,
        l2: 0.0,
    };
    let steps = (HORIZON / LR).round() as u64;
    let every = (RECORD / LR).round() as u64;
    let trainer = Trainer::full_batch(objective, &optimizer, seed, steps);
    let mut run = ParticleRun {
        times: Vec::new(),
        w1: Vec::new(),
        gap: Vec::new(),
        pooled: Vec::new(),
    };
    let f_star = grid.objective(minimiser);
    trainer.fit_at(
        params,
        data,
        &mut [],
        (0..=steps).step_by(every as usize),
        |state| {
            let w: Vec<f64> = particles(&layout, &state.params)?
                .data
                .chunks(2)
                .map(|p| p[0])
                .collect();
            let t = state.step as f64 * LR;
            run.times.push(t);
            run.w1.push(grid.w1_to_particles(minimiser, &w));
            run.gap.push(free_energy(&w, data)? - f_star);
            if t >= POOL_FROM - 1e-9 {
                run.pooled.extend(w);
            }
            Ok(())
        },
    )?;
    Ok(run)
}

/// The free energy of the particles' law at the claim's λ and λ' (whatever the dynamics):
/// F̂(μ^M) = (1/2n) Σ_i (f_M(x_i) − y_i)² + (λ'/2)(1/M) Σ_j w_j² − λ Ĥ, f_M(x) =
/// (1/M) Σ_j tanh(w_j x), Ĥ the m-spacing estimate of the differential entropy
/// ([`spacing_entropy`], consistent as M → ∞): the empirical measure has no density, so its
/// own entropy is −∞.
fn free_energy(w: &[f64], data: &Dataset) -> Result<f64> {
    let (m, n) = (w.len() as f64, data.len() as f64);
    let loss = data
        .x
        .data
        .iter()
        .zip(&data.y.data)
        .map(|(x, y)| {
            let f = w.iter().map(|wj| (wj * x).tanh()).sum::<f64>() / m;
            (f - y).powi(2)
        })
        .sum::<f64>()
        / (2.0 * n);
    let second = w.iter().map(|v| v * v).sum::<f64>() / m;
    Ok(loss + 0.5 * L2 * second - TEMPERATURE * spacing_entropy(w)?)
}

/// The mean-field limit from the density of `init` (a grid density): W1(ρ_t, μ*) and
/// F(ρ_t) − F(μ*) at every record time, by the Scharfetter–Gummel scheme.
fn limit_run(grid: &MeanFieldGrid, minimiser: &[f64], init: Vec<f64>) -> (Vec<f64>, Vec<f64>) {
    let f_star = grid.objective(minimiser);
    let mut rho = init;
    let records = (HORIZON / RECORD).round() as usize;
    let (mut w1, mut gap) = (Vec::new(), Vec::new());
    for k in 0..=records {
        w1.push(grid.w1(&rho, minimiser));
        gap.push(grid.objective(&rho) - f_star);
        if k < records {
            let substeps = (RECORD / grid.stable_step(&rho)).ceil().max(1.0);
            for _ in 0..substeps as usize {
                grid.step(&mut rho, RECORD / substeps);
            }
        }
    }
    (w1, gap)
}

/// The semilog (exponential) fit of the records of `values` with times inside `(from, to)`;
/// errors name the curve.
fn rate_fit(
    what: &str,
    times: &[f64],
    values: &[f64],
    (from, to): (f64, f64),
) -> Result<LinearFit> {
    let (t, v): (Vec<f64>, Vec<f64>) = times
        .iter()
        .zip(values)
        .filter(|(t, _)| **t >= from - 1e-9 && **t <= to + 1e-9)
        .map(|(t, v)| (*t, *v))
        .unzip();
    fit_semilog(&t, &v).map_err(|e| Error::invalid(what, e.to_string()))
}

/// W1 between two clouds on the line of any sizes: ∫ |F_a(w) − F_b(w)| dw, the empirical CDFs
/// being constant between consecutive points of the merged, sorted clouds.
fn w1_clouds(a: &[f64], b: &[f64]) -> f64 {
    let (mut a, mut b) = (a.to_vec(), b.to_vec());
    if a.is_empty() || b.is_empty() {
        return f64::NAN;
    }
    a.sort_by(f64::total_cmp);
    b.sort_by(f64::total_cmp);
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let (mut i, mut j, mut total) = (0, 0, 0.0);
    let mut at = a[0].min(b[0]);
    while i < a.len() || j < b.len() {
        let next = match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) => x.min(*y),
            (Some(x), None) => *x,
            (None, Some(y)) => *y,
            (None, None) => break,
        };
        total += (i as f64 / na - j as f64 / nb).abs() * (next - at);
        at = next;
        while i < a.len() && a[i] <= at {
            i += 1;
        }
        while j < b.len() && b[j] <= at {
            j += 1;
        }
    }
    total
}

impl Claim for MeanFieldLangevin {
    fn id(&self) -> &'static str {
        "meanfield-langevin"
    }
    fn title(&self) -> &'static str {
        "mean-field Langevin dynamics converges exponentially to the unique minimiser of the entropy-regularised objective"
    }
    fn statement(&self) -> &'static str {
        "For a mean-field two-layer net f_μ(x) = ∫ σ(w x) dμ(w) and a convex loss, the \
         entropy-regularised objective F(μ) = L(μ) + (λ'/2) E_μ|w|² + λ Ent(μ) is strictly convex \
         along linear interpolation and has a unique minimiser μ*, the fixed point of the \
         proximal Gibbs map μ* = p_{μ*}, p_μ ∝ exp(−(δL/δμ + λ'|w|²/2)/λ). Noisy gradient descent \
         on M particles, w_j ← w_j − η(∇_w δL/δμ(w_j) + λ'w_j) + √(2ηλ) ξ_j, approximates the \
         McKean–Vlasov dynamics ∂_t μ = ∇·(μ ∇(δL/δμ + λ'|w|²/2)) + λΔμ, and under a uniform \
         log-Sobolev inequality (constant α) of the proximal Gibbs measures, \
         F(μ_t) − F(μ*) ≤ e^{−2αλt}(F(μ_0) − F(μ*)): exponential convergence (Nitanda, Wu, \
         Suzuki 2022; Chizat 2022; Mei, Montanari, Nguyen 2018 for the limit). Near μ* the rate \
         is that of the flow linearised at μ*, γ_lin for μ_t − μ* and 2γ_lin for F, with \
         γ_lin ≥ λα_P ≥ λα (α_P the Poincaré constant of μ*)."
    }
    fn setup(&self) -> &'static str {
        "Net f(x) = (1/M) Σ_j tanh(w_j x) (one scalar parameter per particle, output weights 1, \
         frozen), n = 16 inputs evenly spaced on [−2, 2], targets 0.8 tanh(3x), squared loss, \
         λ = 0.05, λ' = 0.1, trained by the library's `mean_field` step (η = 0.01, β = 1/λ, \
         l2 = λ') for 25 time units from two initial laws: A = N(−2, 0.1²) (far from μ*; \
         M = 2000, full 8000) and B = N(1, 1) (near μ*; M = 8000, full 16000). μ* is the fixed \
         point ρ = p_ρ on 600 cells of [−6, 6] (damped iteration to 10⁻¹²; quadrature of the \
         proximal Gibbs density). The theorem's rate: linearising the McKean–Vlasov flow at μ* \
         (the grid's Scharfetter–Gummel scheme, exactly) gives dδρ/dt = −G S δρ, G the weighted \
         Laplacian of the mobility μ*, S = λ/μ* + K the Hessian of F (K ⪰ 0 the loss's part); its \
         slowest rate γ_lin = 0.2259 is the smallest eigenvalue of a symmetric 599 × 599 matrix \
         (closed form, `MeanFieldGrid::linearised_rates`): near μ*, W1(μ_t, μ*) ∝ e^{−γ_lin t} \
         and F(μ_t) − F(μ*) ∝ e^{−2γ_lin t}. Without K the same matrix is the generator of the \
         linear Fokker–Planck flow of μ*'s frozen potential; its smallest eigenvalue λα_P = 0.1513 \
         is λ times the Poincaré constant of μ* (a Sturm–Liouville spectral gap), ≥ λ times its \
         log-Sobolev constant α, so the theorem's guaranteed rate 2αλ for F is at most \
         2λα_P = 0.303 < 2γ_lin = 0.452: the interaction term speeds the flow up. The \
         mean-field limit from each law is also solved as the PDE on the grid (explicit steps \
         within the stability bound); its exact objective gap F(ρ_t) − F(μ*) (entropy included) is \
         drawn with the slope 2γ_lin, which it reaches at late times (local rate 0.455 at t = 24 \
         from B; from A the far start is a non-linear transient, faster than γ_lin over \
         t ∈ [4, 9], 0.37, then slower, and still approaching at t = 25). The particles' \
         certificate is W1(μ_t^M, μ*) = ∫|F_M − F_{μ*}| dw (exact on the grid; it avoids the \
         particles' entropy). Checks: (1) the exponential rate of run B's W1 over t ∈ [0, 8] (33 \
         records, W1 from 0.39 to ≈ 0.07, above the finite-M floor ≈ 0.009) ≈ γ_lin (closed \
         form; measured 0.199–0.223 over seeds 0–9, standard deviation 0.008, and the \
         limit itself is 0.013 slow over this window, the rest of its non-linear transient: \
         tolerance 0.04 = that offset + 3 standard deviations (the PDE from B has 0.213 \
         over the window); the fit error is recorded); (2) W1 between the particles of both runs \
         pooled over t ∈ [15, 25] (41 records) and μ* ≤ 0.03 (closed form; the measured value is \
         the finite-M, finite-η and finite-time error, 0.006–0.016 over seeds 0–9); (3) W1 between runs A and \
         B pooled over the same records ≤ 0.04 (theorem: the minimiser is unique, so the limit \
         does not depend on the initialisation; 0.007–0.027 over seeds 0–9). The former check that an \
         exponential fitted the W1 points better than a power law (a residual ratio with no \
         basis for its threshold) is replaced by check 1: the rate is compared with its closed \
         form. (4) The theorem's own statement, the exponential decay of the free energy: the \
         particles' gap F̂(μ_t^M) − F(μ*) of run B, with F̂ = L + (λ'/2) E w² − λĤ at the \
         claim's λ, λ' and Ĥ the m-spacing estimate of the differential entropy (Vasicek, with \
         Ebrahimi's boundary correction, m = √M/2: consistent as M → ∞; on M i.i.d. draws of \
         μ* its gap is ~10⁻⁴, table rates), fitted as an exponential over t ∈ [0, 8] (33 records, \
         the gap from 0.026 to ≈ 0.001, ten times the finite-M floor), against 2γ_lin = 0.452 \
         (closed form: F − F(μ*) ≈ ½ δρᵀSδρ decays at twice δρ's rate). Tolerance 0.07 = the \
         limit's own offset over the window (the PDE's gap from B has 0.417 there: the \
         non-linear transient, 0.035) + 3 standard deviations of the seed spread (σ = 0.012 \
         over seeds 0–9, rates 0.390–0.425); the guaranteed LSI rate 2λα ≤ 2λα_P = 0.303 is drawn beside it. Control `no-entropy` \
         (checks 1, 2, 4): λ = 0, noiseless particle gradient descent: \
         the particles converge to a minimiser of the unregularised objective, not μ*, and W1 to \
         μ* stops decaying (rate ≈ 0.11, 2.8 tolerances or more from γ_lin; W1 to μ* ≥ 0.40); \
         the particles' entropy collapses, so the free-energy gap at λ = 0.05 stops decaying \
         after t ≈ 4 and grows (its fitted rate over [0, 8] ≈ 0.07, 3.7 tolerances or more \
         from 2γ_lin over seeds 0–9). Control `no-confinement` (check 3): λ' = 0: the \
         proximal Gibbs measures are not normalisable (the loss term is bounded), there is no \
         minimiser and no log-Sobolev inequality; the particles spread without limit and the two \
         runs do not meet (W1 between the runs ≥ 0.73)."
    }
    fn controls(&self) -> &'static [Control] {
        &[
            Control {
                name: "no-entropy",
                breaks: "the entropy term (λ > 0): noiseless particle gradient descent (λ = 0) \
                         while the checks keep the λ = 0.05 minimiser and rate",
            },
            Control {
                name: "no-confinement",
                breaks: "the confining L2 term (λ' > 0) that gives the proximal Gibbs measures a \
                         log-Sobolev inequality: λ' = 0, no minimiser",
            },
        ]
    }
    fn run(&self, ctx: &Context) -> Result<ClaimOutcome> {
        let (x, y) = data();
        let grid = MeanFieldGrid::new(Activation::Tanh, &x, &y, GRID, CELLS, TEMPERATURE, L2)?;
        let minimiser = grid.minimiser(1e-12, 100_000)?;
        let dataset = Dataset::new(
            "meanfield-langevin",
            Matrix::column(x.clone()),
            Matrix::column(y.clone()),
        )?;
        let dynamics = Dynamics {
            temperature: (!ctx.under("no-entropy")).then_some(TEMPERATURE),
            l2: if ctx.under("no-confinement") { 0.0 } else { L2 },
        };
        let (m_a, m_b) = if ctx.quick {
            (WIDTH_A.0, WIDTH_B.0)
        } else {
            (WIDTH_A.1, WIDTH_B.1)
        };
        let mut rng = ctx.seed.stream("initial particles", 0);
        let init_a: Vec<f64> = (0..m_a).map(|_| -2.0 + 0.1 * rng.normal()).collect();
        let init_b: Vec<f64> = (0..m_b).map(|_| 1.0 + rng.normal()).collect();
        let run_a = particle_run(
            &init_a,
            dynamics,
            &grid,
            &minimiser,
            &dataset,
            ctx.seed.child("run", 0),
        )?;
        let run_b = particle_run(
            &init_b,
            dynamics,
            &grid,
            &minimiser,
            &dataset,
            ctx.seed.child("run", 1),
        )?;
        let (limit_w1, limit_gap) = limit_run(&grid, &minimiser, grid.gaussian(-2.0, 0.1));
        let (limit_w1_b, limit_gap_b) = limit_run(&grid, &minimiser, grid.gaussian(1.0, 1.0));
        // The closed-form rates at μ*: γ_lin of the linearised McKean–Vlasov flow and λα_P.
        let (gamma, poincare) = grid.linearised_rates(&minimiser)?;

        let particle_fit = rate_fit(
            "particles' W1 decay (run B)",
            &run_b.times,
            &run_b.w1,
            WINDOW,
        )?;
        let limit_fit = rate_fit(
            "mean-field limit's W1 decay (from B)",
            &run_b.times,
            &limit_w1_b,
            WINDOW,
        )?;
        let gap_fit = rate_fit(
            "particles' free-energy gap (run B)",
            &run_b.times,
            &run_b.gap,
            GAP_WINDOW,
        )?;
        let limit_gap_fit = rate_fit(
            "mean-field limit's objective gap (from B)",
            &run_b.times,
            &limit_gap_b,
            GAP_WINDOW,
        )?;
        let mut checks = vec![Check::new(
            "exponential rate of W1(μ_t^M, μ*) from N(1, 1), t ∈ [0, 8], vs γ_lin of the flow linearised at μ*",
            -particle_fit.slope,
            Relation::Within,
            gamma,
            RATE_TOLERANCE,
        )
        .basis(Basis::ClosedForm)
        .control("no-entropy")
        .fit(&particle_fit)];
        checks.push(
            Check::new(
                "exponential rate of the particles' free-energy gap F(μ_t^M) − F(μ*) from N(1, 1), t ∈ [0, 8], vs 2γ_lin",
                -gap_fit.slope,
                Relation::Within,
                2.0 * gamma,
                GAP_RATE_TOLERANCE,
            )
            .basis(Basis::ClosedForm)
            .control("no-entropy")
            .fit(&gap_fit),
        );
        let pooled: Vec<f64> = run_a.pooled.iter().chain(&run_b.pooled).copied().collect();
        checks.push(
            Check::new(
                "W1(particles pooled over t ∈ [15, 25], μ*) (μ* = p_{μ*} by quadrature)",
                grid.w1_to_particles(&minimiser, &pooled),
                Relation::AtMost,
                0.0,
                LIMIT_TOLERANCE,
            )
            .basis(Basis::ClosedForm)
            .control("no-entropy"),
        );
        checks.push(
            Check::new(
                "W1 between the runs from N(−2, 0.1²) and N(1, 1), pooled over t ∈ [15, 25]",
                w1_clouds(&run_a.pooled, &run_b.pooled),
                Relation::AtMost,
                0.0,
                UNIQUE_TOLERANCE,
            )
            .basis(Basis::Theorem)
            .control("no-confinement"),
        );

        let mut decay = Table::new(&[
            "time",
            "w1_particles_a",
            "w1_particles_b",
            "w1_limit",
            "objective_gap_limit",
            "w1_limit_b",
            "objective_gap_limit_b",
            "free_energy_gap_particles_a",
            "free_energy_gap_particles_b",
        ]);
        for (k, t) in run_a.times.iter().enumerate() {
            decay.push(vec![
                *t,
                run_a.w1[k],
                run_b.w1.get(k).copied().unwrap_or(f64::NAN),
                limit_w1.get(k).copied().unwrap_or(f64::NAN),
                limit_gap.get(k).copied().unwrap_or(f64::NAN),
                limit_w1_b.get(k).copied().unwrap_or(f64::NAN),
                limit_gap_b.get(k).copied().unwrap_or(f64::NAN),
                run_a.gap[k],
                run_b.gap.get(k).copied().unwrap_or(f64::NAN),
            ]);
        }
        let mut law = Table::new(&["w", "minimiser_density", "particles_density"]);
        let centres = grid.centres();
        let mut counts = vec![0.0; CELLS];
        for w in &pooled {
            let k = ((w - GRID.0) / grid.h).floor();
            if k >= 0.0 && (k as usize) < CELLS {
                counts[k as usize] += 1.0;
            }
        }
        let norm = pooled.len().max(1) as f64 * grid.h;
        for k in (0..CELLS).step_by(5) {
            let c: f64 = counts[k..k + 5].iter().sum::<f64>() / 5.0;
            law.push(vec![centres[k] + 2.0 * grid.h, minimiser[k + 2], c / norm]);
        }
        let rows = decay.rows.clone();
        let law_rows = law.rows.clone();
        let column = |c: usize| -> Vec<(f64, f64)> {
            rows.iter()
                .map(|r| (r[0], r[c]))
                .filter(|p| p.1 > 0.0)
                .collect()
        };
        // Predicted rates drawn through run B's fitted value at the window's middle.
        let mid = 0.5 * (WINDOW.0 + WINDOW.1);
        let anchor = particle_fit.at(mid);
        let through = |rate: f64| {
            [WINDOW.0, WINDOW.1]
                .into_iter()
                .map(move |t| (t, (anchor - rate * (t - mid)).exp()))
        };
        const GAP_B: &str = "McKean–Vlasov limit from N(1, 1)";
        let end_of = |points: &[(f64, f64)]| points.last().copied();
        let figures = vec![
            Figure::new(
                "convergence",
                "W1 to the minimiser μ* against time (semilog): particles and the mean-field limit",
            )
            .x("time t", Scale::Linear)
            .y("W1(μ_t, μ*)", Scale::Log)
            .markers("particles from N(−2, 0.1²), M = 2000", column(1))
            .markers("particles from N(1, 1), M = 8000", column(2))
            .line("McKean–Vlasov limit (PDE) from N(−2, 0.1²)", column(3))
            .line("McKean–Vlasov limit (PDE) from N(1, 1)", column(5))
            .prediction(
                &format!("predicted rate γ_lin = {gamma:.3} (flow linearised at μ*)"),
                through(gamma),
            )
            .prediction(
                &format!("λα_P = {poincare:.3} (Poincaré constant of μ*, ≥ the LSI rate)"),
                through(poincare),
            ),
            Figure::new(
                "objective",
                "free-energy gap F(μ_t) − F(μ*) (entropy included): the mean-field limit and the particles",
            )
            .x("time t", Scale::Linear)
            .y("F(ρ_t) − F(μ*)", Scale::Log)
            .line("McKean–Vlasov limit from N(−2, 0.1²)", column(4))
            .line(GAP_B, column(6))
            .markers("particles from N(−2, 0.1²), M = 2000", column(7))
            .markers("particles from N(1, 1), M = 8000 (entropy by m-spacings)", column(8))
            .prediction(
                &format!("guaranteed LSI rate ≤ 2λα_P = {:.3}", 2.0 * poincare),
                [GAP_WINDOW.0, GAP_WINDOW.1].map(|t| {
                    let mid = 0.5 * (GAP_WINDOW.0 + GAP_WINDOW.1);
                    (t, (gap_fit.at(mid) - 2.0 * poincare * (t - mid)).exp())
                }),
            )
            .prediction(
                &format!("predicted rate 2γ_lin = {:.3} through the particles' fit (t ∈ [0, 8])", 2.0 * gamma),
                [GAP_WINDOW.0, GAP_WINDOW.1].map(|t| {
                    let mid = 0.5 * (GAP_WINDOW.0 + GAP_WINDOW.1);
                    (t, (gap_fit.at(mid) - 2.0 * gamma * (t - mid)).exp())
                }),
            )
            .prediction(
                &format!(
                    "predicted asymptotic rate 2γ_lin = {:.3} (through the last value)",
                    2.0 * gamma
                ),
                end_of(&column(6)).into_iter().flat_map(|(t_end, g_end)| {
                    [POOL_FROM - 5.0, t_end]
                        .map(|t| (t, g_end * (-2.0 * gamma * (t - t_end)).exp()))
                }),
            ),
            Figure::new(
                "minimiser",
                "the particles' law (pooled over t ∈ [15, 25]) against μ* = p_{μ*}",
            )
            .x("w", Scale::Linear)
            .y("density", Scale::Linear)
            .line("μ* (quadrature)", law_rows.iter().map(|r| (r[0], r[1])))
            .markers("particles", law_rows.iter().map(|r| (r[0], r[2]))),
        ];
        // The entropy estimator's floor: the same free energy on M i.i.d. draws of μ* (inverse
        // CDF on the grid, uniform within the cell).
        let cdf = grid.cdf(&minimiser);
        let mut draws_rng = ctx.seed.stream("minimiser draws", 0);
        let draws: Vec<f64> = (0..m_b)
            .map(|_| {
                let u = draws_rng.uniform();
                let k = cdf[1..].partition_point(|c| *c < u).min(CELLS - 1);
                GRID.0 + (k as f64 + draws_rng.uniform()) * grid.h
            })
            .collect();
        let floor = free_energy(&draws, &dataset)? - grid.objective(&minimiser);
        let mut rates = Table::new(&[
            "linearised_rate",
            "poincare_rate",
            "particles_rate_b",
            "particles_rate_b_std_error",
            "limit_rate_b",
            "free_energy_rate_particles_b",
            "free_energy_rate_particles_b_std_error",
            "free_energy_rate_limit_b",
            "free_energy_gap_of_minimiser_draws",
        ]);
        rates.push(vec![
            gamma,
            poincare,
            -particle_fit.slope,
            particle_fit.slope_std_error,
            -limit_fit.slope,
            -gap_fit.slope,
            gap_fit.slope_std_error,
            -limit_gap_fit.slope,
            floor,
        ]);
        Ok(ClaimOutcome {
            checks,
            tables: vec![
                ("convergence".into(), decay),
                ("minimiser".into(), law),
                ("rates".into(), rates),
            ],
            figures,
        })
    }
}
