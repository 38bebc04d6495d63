//! Claim `kernel-vs-network`: a wide network trained by gradient descent follows the kernel
//! gradient descent of its NTK, with a gap that falls like M^{−1/2} against the limit kernel.

use super::{Basis, Check, Claim, ClaimOutcome, Context, Control, Relation};
use crate::data::io::Table;
use crate::data::{synthetic, Dataset};
use crate::error::Result;
use crate::kernel::analytic::two_layer_ntk;
use crate::kernel::dynamics::{gradient_descent_mse_discrete, FlowSettings};
use crate::kernel::empirical::empirical_ntk;
use crate::linalg::distance;
use crate::nn::{Activation, Model, TwoLayer};
use crate::report::{Figure, Scale};
use crate::stats::fit_log_log;
use crate::sweep::Sweep;
use crate::train::{Objective, Trainer};

use super::common::{fitted_power_law, fitted_slope_label, gradient_descent, Predicted};

/// The gap between the trained network and the kernel prediction falls as M grows.
pub struct KernelVsNetwork;

/// The relative test gaps of one trained network.
struct Gaps {
    /// ‖f_net − f_{k∞}‖ / ‖f_{k∞}‖: to kernel GD with the limit kernel.
    limit: f64,
    /// ‖f_net − f_{K_W₀}‖ / ‖f_{k∞}‖: to kernel GD with the network's own initial kernel.
    own: f64,
}

/// The control: the mean-field scaling γ = 1 trained by the particle step.
const MEAN_FIELD: &str = "mean-field-scaling";

/// Tolerance of the slope against k_∞: over root seeds 0–9 the slope's std is 0.031 (median
/// −0.480, range −0.543 … −0.430) and each fit's standard error 0.020 … 0.035; 0.1 ≥ 3 × 0.031
/// and ≥ 2.9 × the largest fit error.
const TOL_LIMIT: f64 = 0.1;

impl Claim for KernelVsNetwork {
    fn id(&self) -> &'static str {
        "kernel-vs-network"
    }
    fn title(&self) -> &'static str {
        "a wide net trained by GD follows the kernel gradient descent of its NTK"
    }
    fn statement(&self) -> &'static str {
        "In the NTK scaling f(x) = M^{−1/2} Σ_j a_j η(w_jᵀx) with f₀ = 0, gradient descent on \
         (1/2n)‖f − y‖² stays close to gradient descent in function space with the limit kernel \
         k_∞(x, x') = E[η(wᵀx)η(wᵀx')] + E[η'(wᵀx)η'(wᵀx')] xᵀx' (Jacot, Gabriel & Hongler \
         2018; Lee et al. 2019): the test-prediction gap is driven by the fluctuation of the \
         initial kernel, K_{W₀} − k_∞ = O_P(M^{−1/2}) (a mean of M i.i.d. rank-one terms), so \
         it shrinks like M^{−1/2}."
    }
    fn setup(&self) -> &'static str {
        "n = 20 training and 50 test points uniform on S², target a degree-2 zonal harmonic; \
         two-layer ReLU nets with symmetric initialisation (f₀ = 0, a_j = ±1, w_j ~ N(0, I)), \
         widths M = 256, 512, …, 8192 (6 widths; full: 256 … 32768, 8 widths), 8 networks per \
         width (full: 16); 300 full-batch GD steps with η = 1. Kernel side: the same 300 steps \
         f ← f − (η/n) K (f − y) in closed form (I − ηK/n)^t with K = k_∞ (analytic). Gap: \
         ‖f_net − f_{k∞}‖ / ‖f_{k∞}‖ on the test points. Check: the least-squares slope of log \
         gap against log M through every (width, network) point (48 points quick, 128 full), \
         with its standard error, = −1/2 (theorem); tolerance 3 × its seed-to-seed standard \
         deviation over root seeds 0–9 (≥ the fit error). The old check 'gap at the largest \
         width ≤ 5 %' had no basis and was removed. Reported, not checked: the gap between the \
         network and GD with its own initial tangent kernel K_{W₀} (its linearisation), the \
         part due to the kernel's motion during training; it falls faster, with slope ≈ −0.71 \
         over seeds 0–9 (the M^{−1} of smooth activations, Dyer & Gur-Ari 2020, is not reached \
         by ReLU, whose activation-pattern flips are not covered by that theory). Control \
         'mean-field-scaling' (fails the check): γ = 1 trained by the mean-field particle step \
         Δθ = −η M ∇L — the same kernel dynamics at t = 0, but features move O(1) whatever M, \
         so the NTK does not describe it and the gap does not shrink (slope ≈ 0)."
    }
    fn controls(&self) -> &'static [Control] {
        &[Control {
            name: MEAN_FIELD,
            breaks: "the NTK scaling γ = 1/2: the mean-field scaling γ = 1 with the particle \
                     step (−η M ∇L), whose features move O(1) at every width",
        }]
    }
    fn run(&self, ctx: &Context) -> Result<ClaimOutcome> {
        let (widths, nets): (Vec<usize>, usize) = if ctx.quick {
            ((8..=13).map(|p| 1usize << p).collect(), 8)
        } else {
            ((8..=15).map(|p| 1usize << p).collect(), 16)
        };
        let (n, n_test, steps, lr) = (20usize, 50usize, 300u64, 1.0);
        let mut rng = ctx.seed.stream("data", 0);
        let x = synthetic::sphere(n, 3, &mut rng);
        let xt = synthetic::sphere(n_test, 3, &mut rng);
        let y = synthetic::spherical_harmonic_target(&x, &[0.0, 0.6, 0.8], 2);
        let data = Dataset::new("train", x.clone(), y.clone())?;
        let theta = two_layer_ntk(&x, None, Activation::Relu)?;
        let theta_te = two_layer_ntk(&xt, Some(&x), Activation::Relu)?;
        let settings = FlowSettings {
            learning_rate: lr,
            ..FlowSettings::default()
        };
        let limit = gradient_descent_mse_discrete(&theta, &theta_te, &y, &[steps], &settings)?;
        let target = &limit.test[0];
        let scale = target.frobenius_norm();
        let mean_field = ctx.under(MEAN_FIELD);
        // Network s at width M is seeded by its cell, ctx.seed.child("net", M).child("seed", s)
        // (keyed by M: a width keeps its networks when the grid around it changes).
        let sweep = Sweep::new(ctx.seed, "net", &widths, nets)
            .keyed(|_, &m| m as u64)
            .run(|cell| -> Result<_> {
                let m = *cell.value;
                // The control: γ = 1 and the particle step Δθ = −η M ∇L (time rescaled by M).
                let (gamma, step) = if mean_field {
                    (1.0, lr * m as f64)
                } else {
                    (0.5, lr)
                };
                let model = TwoLayer {
                    symmetric: true,
                    ..TwoLayer::new(3, m, Activation::Relu, gamma)?
                };
                let optimizer = gradient_descent(step);
                let seed = cell.seed();
                let params = model.init(&mut seed.stream("init", 0));
                // The linearisation: GD with the network's own tangent kernel at W₀ and the
                // network's step.
                let k0 = empirical_ntk(&model, &params, &x, None)?;
                let k0_te = empirical_ntk(&model, &params, &xt, Some(&x))?;
                let own_settings = FlowSettings {
                    learning_rate: step,
                    ..FlowSettings::default()
                };
                let own = gradient_descent_mse_discrete(&k0, &k0_te, &y, &[steps], &own_settings)?;
                let trainer =
                    Trainer::full_batch(Objective::squared(&model), &optimizer, seed, steps);
                let (state, _) = trainer.fit(params, &data)?;
                let pred = model.predict(&state.params, &xt)?;
                Ok(Gaps {
                    limit: distance(&pred.data, &target.data) / scale,
                    own: distance(&pred.data, &own.test[0].data) / scale,
                })
            })?;
        let mut table = Table::new(&["width", "network", "gap_limit_kernel", "gap_own_kernel"]);
        for row in &sweep.rows {
            table.push(vec![
                row.value as f64,
                row.replicate as f64,
                row.result.limit,
                row.result.own,
            ]);
        }
        let log_m: Vec<f64> = sweep.rows.iter().map(|r| r.value as f64).collect();
        let fit_limit = fit_log_log(&log_m, &sweep.column(|g| g.limit))?;
        let fit_own = fit_log_log(&log_m, &sweep.column(|g| g.own))?;
        let means = |gap: fn(&Gaps) -> f64| -> Result<Vec<(f64, f64)>> {
            Ok(sweep
                .summary(gap)?
                .into_iter()
                .map(|(m, s)| (m as f64, s.mean))
                .collect())
        };
        let range = format!(
            "M = {} … {}, {} points",
            widths[0],
            widths[widths.len() - 1],
            log_m.len()
        );
        const LIMIT: &str = "vs k_∞ (mean over networks)";
        const OWN: &str = "vs own K_W₀ (mean over networks; not checked)";
        let figure = Figure::new("gap_vs_width", "network − kernel-GD test gap against width")
            .x("width M", Scale::Log)
            .y("relative test gap", Scale::Log)
            .markers(LIMIT, means(|g| g.limit)?)
            .markers(OWN, means(|g| g.own)?);
        let figure = figure
            .predicted_slope(-0.5, LIMIT, "vs k_∞")
            .line(
                &format!("vs k_∞: {}", fitted_slope_label(&fit_limit)),
                fitted_power_law(&log_m, &fit_limit),
            )
            .line(
                &format!("vs K_W₀: {}", fitted_slope_label(&fit_own)),
                fitted_power_law(&log_m, &fit_own),
            );
        Ok(ClaimOutcome {
            checks: vec![Check::new(
                format!("log-log slope of the gap to k_∞-GD against M ({range})"),
                fit_limit.slope,
                Relation::Within,
                -0.5,
                TOL_LIMIT,
            )
            .basis(Basis::Theorem)
            .control(MEAN_FIELD)
            .fit(&fit_limit)],
            tables: vec![("gaps".into(), table)],
            figures: vec![figure],
        })
    }
}
