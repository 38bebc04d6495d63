//! Claim `spectral-bias`: the NTK's eigenvalues decay polynomially, and a network trained by
//! gradient descent learns each frequency of its target at its kernel eigenvalue's rate, so the
//! low frequencies first.

use super::{Basis, Check, Claim, ClaimOutcome, Context, Control, Relation};
use crate::data::io::Table;
use crate::data::{synthetic, Dataset};
use crate::error::{Error, Result};
use crate::kernel::analytic::two_layer_ntk;
use crate::kernel::spectrum::{circle_frequencies, circulant_eigenvalue, zonal_eigenvalue};
use crate::linalg::Matrix;
use crate::nn::{Activation, Model, TwoLayer};
use crate::report::{Figure, Scale};
use crate::stats::{crossing_time, fit_log_log, LinearFit};
use crate::train::{Objective, PredictionProbe, Trainer};

use super::common::{fitted_power_law, fitted_slope_label, gradient_descent, Predicted};

/// Polynomial eigen-decay; per-frequency convergence at the kernel's rates.
pub struct SpectralBias;

/// The target's frequencies (odd frequencies ≥ 3 have eigenvalue 0 for the bias-free ReLU NTK,
/// so none is used).
const FREQUENCIES: [usize; 4] = [1, 2, 4, 6];
/// The amplitude of each frequency in the target. The kernel dynamics are linear, so the
/// prediction does not depend on it, but the network's departure from them does: the tangent
/// kernel moves during training by an amount proportional to the distance travelled, and a
/// small eigenvalue (k = 6: μ_6 ≈ μ_1/75) feels that motion first. With amplitude 1 at
/// M = 16384 the k = 6 half-time came out 8.6 % (median over seeds 0–9) above the kernel's,
/// shrinking with M (4.4 % at M = 65536, seed 0); amplitude 0.1 (a ten times lazier net, the
/// α-scaling of Chizat, Oyallon & Bach) puts the regime firmly in the NTK hypothesis.
const AMPLITUDE: f64 = 0.1;

/// Control: the erf activation (an analytic kernel, exponentially decaying eigenvalues).
const SMOOTH: &str = "smooth-activation";
/// Control: only the output weights are trained (the tangent kernel is the conjugate kernel).
const FROZEN: &str = "first-layer-frozen";

/// Tolerance of the eigen-decay exponents: the exponent is asymptotic, and over the fitted range
/// k²μ_k (circle) still drifts by ≈ 2 %, which biases a finite-range fit by ≈ 0.01; the fits are
/// deterministic (no seed enters), so the tolerance is this bias's scale, 0.05, well above the
/// fits' standard errors (≤ 0.003).
const TOL_EXPONENT: f64 = 0.05;
/// Tolerance of each measured/predicted half-time ratio: 3 × its seed-to-seed standard deviation
/// over root seeds 0–9 (the width's O(M^{−1/2}) kernel fluctuation), per frequency.
/// Measured over seeds 0–9 (M = 16384): std 0.017, 0.009, 0.013, 0.013 for k = 1, 2, 4, 6
/// (medians 0.995, 1.002, 1.006, 1.015).
const TOL_HALF: [f64; 4] = [0.06, 0.03, 0.04, 0.045];

/// Eigenvalues of the zonal kernel of the two-layer NTK with activation `act` on S^{d−1}, by
/// the Funk–Hecke formula, for `degrees`.
fn sphere_eigenvalues(act: Activation, d: usize, degrees: &[usize]) -> Result<Vec<f64>> {
    // The quadrature nodes are the same for every degree: evaluate κ once per node.
    let cache = std::cell::RefCell::new(std::collections::HashMap::<u64, f64>::new());
    let kappa_uncached = |t: f64| -> f64 {
        let a = Matrix::from_fn(1, d, |_, j| if j == 0 { 1.0 } else { 0.0 });
        let b = Matrix::from_fn(1, d, |_, j| match j {
            0 => t,
            1 => (1.0 - t * t).max(0.0).sqrt(),
            _ => 0.0,
        });
        two_layer_ntk(&a, Some(&b), act)
            .map(|k| k.data[0])
            .unwrap_or(f64::NAN)
    };
    let kappa = |t: f64| -> f64 {
        *cache
            .borrow_mut()
            .entry(t.to_bits())
            .or_insert_with(|| kappa_uncached(t))
    };
    degrees
        .iter()
        .map(|&k| zonal_eigenvalue(&kappa, d, k, 128))
        .collect()
}

/// The decay exponent β of μ_k ≈ C k^{−β} (minus the log-log slope) with its fit, or +∞ (and no
/// fit) when an eigenvalue in the range is not positive: it fell to round-off, faster than any
/// power of k.
fn decay_exponent(degrees: &[usize], mu: &[f64]) -> (f64, Option<LinearFit>) {
    let k: Vec<f64> = degrees.iter().map(|&k| k as f64).collect();
    match fit_log_log(&k, mu) {
        Ok(f) => (-f.slope, Some(f)),
        Err(_) => (f64::INFINITY, None),
    }
}

impl Claim for SpectralBias {
    fn id(&self) -> &'static str {
        "spectral-bias"
    }
    fn title(&self) -> &'static str {
        "polynomial eigen-decay of the NTK; each frequency is learned at its eigenvalue's rate"
    }
    fn statement(&self) -> &'static str {
        "On the sphere S^{d−1} the NTK of a two-layer ReLU net is a zonal kernel whose eigenvalue \
         for spherical-harmonic degree k decays like k^{−d} (Bietti & Mairal 2019; on the circle \
         k²μ_k → 1/π² for even k, odd k ≥ 3 vanish); under kernel gradient descent on \
         (1/2n)‖f − y‖² the residual's component along eigenvector k decays as \
         (1 − ημ_k/n)^t, so a wide network in the NTK scaling fits each frequency of its target \
         at its eigenvalue's rate — half-time t_k = ln 2 / −ln(1 − ημ_k/n) ≈ n ln 2/(ημ_k) — \
         and the low frequencies first (Rahaman et al. 2019; Basri et al. 2019)."
    }
    fn setup(&self) -> &'static str {
        "(a) Eigen-decay, deterministic (no seed enters): the Funk–Hecke eigenvalues of the \
         ReLU NTK k_∞ (8-point Gauss–Legendre, 128 panels) on the circle (d = 2) for even \
         k = 8 … 48 (21 points) and on S² (d = 3) for even k = 8 … 40 (17 points); a \
         least-squares fit of log μ_k against log k with its standard error; prediction β = d \
         (theorem), tolerance 0.05 (the finite-range bias of the asymptotic exponent, ≈ 0.01 on \
         the circle; fit errors ≤ 0.003). (b) Per-frequency learning: n = 64 equispaced points \
         on the circle, target y = 0.1 Σ_{k ∈ {1,2,4,6}} cos kθ (a small amplitude keeps the net lazy: with \
         amplitude 1 the tangent kernel's motion lengthened the k = 6 half-time by ≈ 9 % at this \
         width), a two-layer ReLU net in the NTK \
         scaling with symmetric initialisation (f₀ = 0), M = 16384 (full: 65536), full-batch GD \
         with η = 1 for 320 steps; the amplitude of each frequency of the residual f_t − y by DFT \
         and its half-time (first crossing of half the initial amplitude, log-interpolated \
         between steps). Checks, one per frequency (closed form): the measured half-time over \
         the kernel's ln 2 / −ln(1 − ημ_k/n), μ_k the circulant eigenvalue of k_∞ on the grid, \
         within 1 ± 3 × its seed-to-seed std (root seeds 0–9). The old 'half-times increase \
         with k (count ≤ 0, tolerance 0)' check is implied by these and was removed. Controls: \
         'smooth-activation' (fails the exponents): the erf activation, whose NTK is analytic \
         and whose eigenvalues decay exponentially (they reach round-off inside the range: \
         β = ∞); 'first-layer-frozen' (fails every half-time): only a_j trained, so the \
         tangent kernel is the conjugate kernel E[η(wᵀx)η(wᵀx')] whose eigenvalues are 2, 3.5, \
         9.6 and 20 times smaller at k = 1, 2, 4, 6 — a faster-decaying spectrum (the k = 4, 6 \
         half-times then lie beyond the 320 steps: ∞). The mean-field scaling is not used as a \
         control here: its kernel at t = 0 equals the NTK's (time rescaled by M), so it breaks \
         the prediction only once features have moved, which at this small amplitude is not \
         guaranteed within 320 steps."
    }
    fn controls(&self) -> &'static [Control] {
        &[
            Control {
                name: SMOOTH,
                breaks: "the non-smooth (ReLU) activation behind the polynomial decay: erf, \
                         whose NTK is analytic",
            },
            Control {
                name: FROZEN,
                breaks: "training every parameter, which makes the tangent kernel k_∞: only \
                         the output layer trains (conjugate kernel, faster-decaying spectrum)",
            },
        ]
    }
    fn run(&self, ctx: &Context) -> Result<ClaimOutcome> {
        let act = if ctx.under(SMOOTH) {
            Activation::ERF
        } else {
            Activation::Relu
        };
        let mut checks = Vec::new();
        let mut tables = Vec::new();
        let mut figures = Vec::new();

        // (a) Eigen-decay on the circle and on S².
        for (d, first, last) in [(2usize, 8usize, 48usize), (3, 8, 40)] {
            let degrees: Vec<usize> = (first..=last).step_by(2).collect();
            let mu = sphere_eigenvalues(act, d, &degrees)?;
            let (beta, fit) = decay_exponent(&degrees, &mu);
            let place = if d == 2 { "circle" } else { "S²" };
            let mut table = Table::new(&["degree", "eigenvalue"]);
            for (k, m) in degrees.iter().zip(&mu) {
                table.push(vec![*k as f64, *m]);
            }
            const EVEN: &str = "even degrees";
            let mut fig = Figure::new(
                &format!("eigenvalues_d{d}"),
                &format!("NTK eigenvalues on the {place} by degree (Funk–Hecke)"),
            )
            .x("degree k", Scale::Log)
            .y("μ_k", Scale::Log)
            .markers(
                EVEN,
                degrees
                    .iter()
                    .zip(&mu)
                    .filter(|(_, m)| **m > 0.0)
                    .map(|(&k, &m)| (k as f64, m)),
            )
            .predicted_slope(-(d as f64), EVEN, &format!("μ_k ∝ k^{{−{d}}}"));
            if let Some(f) = &fit {
                let k: Vec<f64> = degrees.iter().map(|&k| k as f64).collect();
                fig = fig.line(&fitted_slope_label(f), fitted_power_law(&k, f));
            }
            let mut check = Check::new(
                format!(
                    "eigen-decay exponent on the {place} (μ_k ≈ C k^−β, even k = {first}…{last})"
                ),
                beta,
                Relation::Within,
                d as f64,
                TOL_EXPONENT,
            )
            .basis(Basis::Theorem)
            .control(SMOOTH);
            if let Some(f) = &fit {
                check = check.fit(f);
            }
            checks.push(check);
            tables.push((format!("eigenvalues_d{d}"), table));
            figures.push(fig);
        }
        if ctx.under(SMOOTH) {
            // The half-time checks name other controls: the training is not needed here.
            return Ok(ClaimOutcome {
                checks,
                tables,
                figures,
            });
        }

        // (b) Per-frequency convergence of a wide network.
        let n = 64;
        let (x, theta) = synthetic::circle_grid(n);
        let terms: Vec<(usize, f64)> = FREQUENCIES.iter().map(|&k| (k, AMPLITUDE)).collect();
        let y = synthetic::fourier_target(&theta, &terms);
        let data = Dataset::new("train", x.clone(), y.clone())?;
        let width = if ctx.quick { 16384 } else { 65536 };
        let (lr, steps) = (1.0, 320u64);
        let model = TwoLayer {
            symmetric: true,
            train_first: !ctx.under(FROZEN),
            ..TwoLayer::new(2, width, Activation::Relu, 0.5)?
        };
        let optimizer = gradient_descent(lr);
        let trainer = Trainer {
            record_every: 1,
            ..Trainer::full_batch(Objective::squared(&model), &optimizer, ctx.seed, steps)
        };
        let mut probe = PredictionProbe::new(x.clone());
        let params = model.init(&mut ctx.seed.stream("init", 0));
        let (_, table) = trainer.fit_with(params, &data, &mut [&mut probe])?;
        let kmax = FREQUENCIES[FREQUENCIES.len() - 1];
        // The prediction always uses the ReLU NTK k_∞ of the network trained in the normal run.
        let k_row = two_layer_ntk(&x, None, Activation::Relu)?;
        let columns: Vec<usize> = (0..n)
            .map(|i| {
                let name = format!("prediction_{i}_0");
                table
                    .columns
                    .iter()
                    .position(|c| *c == name)
                    .ok_or_else(|| Error::invalid("spectral-bias", format!("no column {name}")))
            })
            .collect::<Result<_>>()?;
        let steps_col = table.column("step")?;
        let mut amplitudes = Table::new(&["step", "k1", "k2", "k4", "k6"]);
        let mut series: Vec<Vec<f64>> = vec![Vec::new(); FREQUENCIES.len()];
        for (row, &t) in table.rows.iter().zip(&steps_col) {
            let residual: Vec<f64> = columns
                .iter()
                .zip(&y.data)
                .map(|(&c, target)| row[c] - target)
                .collect();
            let a = circle_frequencies(&residual, kmax)?;
            let mut out = vec![t];
            for (s, &k) in FREQUENCIES.iter().enumerate() {
                out.push(a[k]);
                series[s].push(a[k]);
            }
            amplitudes.push(out);
        }
        let mut half = Table::new(&[
            "frequency",
            "eigenvalue",
            "measured_half_time",
            "predicted_half_time",
            "ratio",
        ]);
        let mut fig = Figure::new(
            "frequency_residuals",
            "residual amplitude per frequency (dashed: kernel prediction (1 − ημ_k/n)^t)",
        )
        .x("step", Scale::Linear)
        .y("amplitude of frequency k in f_t − y", Scale::Log);
        for (s, &k) in FREQUENCIES.iter().enumerate() {
            let mu = circulant_eigenvalue(k_row.row(0), k);
            let decay = 1.0 - lr * mu / n as f64;
            let predicted = std::f64::consts::LN_2 / -decay.ln();
            let start = series[s][0];
            // The first crossing of half the initial amplitude, interpolated in log-amplitude.
            let logs: Vec<f64> = series[s].iter().map(|a| (a / start).ln()).collect();
            let measured = crossing_time(&steps_col, &logs, 0.5f64.ln()).unwrap_or(f64::INFINITY);
            let ratio = measured / predicted;
            half.push(vec![k as f64, mu, measured, predicted, ratio]);
            fig = fig
                .line(
                    &format!("k = {k}"),
                    steps_col.iter().copied().zip(series[s].iter().copied()),
                )
                .prediction(
                    &format!("k = {k}: kernel"),
                    steps_col
                        .iter()
                        .map(|&t| (t, start * decay.powf(t)))
                        .filter(|p| p.1 > 1e-3 * start),
                );
            checks.push(
                Check::new(
                    format!("frequency {k}: measured / kernel-predicted half-time"),
                    ratio,
                    Relation::Within,
                    1.0,
                    TOL_HALF[s],
                )
                .basis(Basis::ClosedForm)
                .control(FROZEN),
            );
        }
        tables.push(("frequency_residuals".into(), amplitudes));
        tables.push(("half_times".into(), half));
        figures.push(fig);
        Ok(ClaimOutcome {
            checks,
            tables,
            figures,
        })
    }
}
