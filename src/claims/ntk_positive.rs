//! Claim `ntk-positive`: the infinite-width kernel of a two-layer ReLU net is positive definite
//! on non-parallel inputs, and a planted near-duplicate pair at distance φ sets
//! λ_min(K_∞) ≈ 1/2 − k(1 − φ²/2) = θ/(2π) + O(θ²): linear in φ, the mark of ReLU's kink.

use super::{Basis, Check, Claim, ClaimOutcome, Context, Control, Relation};
use crate::data::io::Table;
use crate::data::synthetic;
use crate::error::Result;
use crate::kernel::analytic::two_layer_first_layer_ntk;
use crate::kernel::spectrum::Spectrum;
use crate::linalg::Matrix;
use crate::nn::Activation;
use crate::report::{Figure, Scale};
use crate::stats::fit_log_log;
use crate::sweep::Sweep;

use super::common::Predicted;
use std::f64::consts::PI;

/// λ_min(K_∞) of a planted pair against its closed form.
pub struct NtkPositive;

/// Moves the last point of `x` (on S²) to chord distance `phi` from the first.
fn plant_pair(x: &mut Matrix, phi: f64) {
    let p = x.row(0).to_vec();
    let norm = (p[0] * p[0] + p[1] * p[1]).sqrt();
    let t = [-p[1] / norm, p[0] / norm, 0.0];
    let angle = 2.0 * (phi / 2.0).asin();
    let last = x.rows - 1;
    for (i, v) in x.row_mut(last).iter_mut().enumerate() {
        *v = p[i] * angle.cos() + t[i] * angle.sin();
    }
}

/// The ReLU first-layer kernel k(u) = u(π − arccos u)/(2π) at u = x·x'.
fn relu_kernel(u: f64) -> f64 {
    let u = u.clamp(-1.0, 1.0);
    u * (PI - u.acos()) / (2.0 * PI)
}

/// The closed-form λ_min of a pair at chord distance φ: the 2 × 2 block
/// [[k(1), k(u)], [k(u), k(1)]] with u = 1 − φ²/2 has eigenvalues k(1) ± k(u), and its
/// antisymmetric direction (e_i − e_j)/√2 gives 1/2 − k(u) = (1 − cos θ)/2 + θ cos θ/(2π)
/// (θ = arccos u = 2 arcsin(φ/2)), ≈ θ/(2π) as φ → 0. The rest of the matrix couples to that
/// direction only through K_{ki} − K_{kj} = O(φ), which shifts λ_min by O(φ²).
pub fn pair_lambda(phi: f64) -> f64 {
    0.5 - relu_kernel(1.0 - phi * phi / 2.0)
}

impl Claim for NtkPositive {
    fn id(&self) -> &'static str {
        "ntk-positive"
    }
    fn title(&self) -> &'static str {
        "λ_min(K_∞) of a near-duplicate pair: 1/2 − k(1 − φ²/2) ≈ φ/(2π), linear in φ"
    }
    fn statement(&self) -> &'static str {
        "For inputs on the unit sphere with no two parallel, the limit kernel of the first layer \
         K_∞(x, x') = E_w[xᵀx' 1[wᵀx > 0] 1[wᵀx' > 0]] = k(xᵀx'), k(u) = u(π − arccos u)/(2π), is \
         positive definite (Du et al. 2019), and for φ-separated data λ_min(K_∞) is at least of \
         order φ (Oymak & Soltanolkotabi 2020 give λ_min ≥ φ/(100 n²)): the kink of ReLU makes \
         λ_min shrink only linearly in φ. The sharp form for the closest pair: with two points at \
         chord distance φ, λ_min(K_∞) = 1/2 − k(1 − φ²/2) + O(φ²) = φ/(2π) + O(φ²) (the pair's \
         2 × 2 block), whereas a smooth activation gives O(φ²)."
    }
    fn setup(&self) -> &'static str {
        "n = 20 points uniform on S² (drawn from the seed), then the last point moved to chord \
         distance φ of the first, φ = 0.02, 0.01, 0.005, 0.002, 0.001, 0.0005 (full: also 0.0002, \
         0.0001); λ_min of the analytic K_∞ by a symmetric eigensolver. Checks: (1, closed form) \
         λ_min(K_∞)/(1/2 − k(1 − φ²/2)) at φ = 0.001 equals 1 (the remaining O(φ) relative \
         correction, from the coupling of the pair to the other points, is −0.002 ± 0.001 over \
         seeds 0–9: tolerance 0.01); (2, theorem) the log-log slope of λ_min against φ over the six φ is 1 (fit \
         with its standard error; tolerance 0.02, ≈ 4.5 standard deviations over seeds, 0.0044). The lecture's checks λ_min/λ_max > 1e-8 and λ_min n²/φ ≥ 1/100 \
         are removed: any positive-definite kernel passes the first, and the second has ~3000× \
         slack. Control `smooth-activation` (the kernel of erf, which has no kink: its λ_min \
         shrinks like φ²) fails both checks."
    }
    fn controls(&self) -> &'static [Control] {
        &[Control {
            name: "smooth-activation",
            breaks: "the kink of ReLU: the kernel of a smooth activation (erf)",
        }]
    }
    fn run(&self, ctx: &Context) -> Result<ClaimOutcome> {
        let act = if ctx.under("smooth-activation") {
            Activation::ERF
        } else {
            Activation::Relu
        };
        let phis: Vec<f64> = if ctx.quick {
            vec![0.02, 0.01, 0.005, 0.002, 0.001, 0.0005]
        } else {
            vec![0.02, 0.01, 0.005, 0.002, 0.001, 0.0005, 0.0002, 0.0001]
        };
        let reference = 0.001;
        let base = synthetic::sphere(20, 3, &mut ctx.seed.stream("inputs", 0));
        // λ_min(K_∞) at each separation, the reference last; no randomness past the inputs.
        let grid: Vec<f64> = phis.iter().copied().chain([reference]).collect();
        let sweep = Sweep::new(ctx.seed, "phi", &grid, 1).run(|cell| {
            let mut x = base.clone();
            plant_pair(&mut x, *cell.value);
            Ok(Spectrum::of(&two_layer_first_layer_ntk(&x, None, act)?)?.lambda_min())
        })?;
        let (rows, last) = sweep.rows.split_at(phis.len());
        let ratio_at_reference = last[0].result / pair_lambda(reference);
        let mut table = Table::new(&["phi", "lambda_min", "predicted", "ratio"]);
        let mut measured = Vec::new();
        for row in rows {
            let (phi, lmin) = (row.value, row.result);
            table.push(vec![phi, lmin, pair_lambda(phi), lmin / pair_lambda(phi)]);
            measured.push((phi, lmin));
        }
        let fit = fit_log_log(
            &measured.iter().map(|p| p.0).collect::<Vec<_>>(),
            &measured
                .iter()
                .map(|p| p.1.max(f64::MIN_POSITIVE))
                .collect::<Vec<_>>(),
        )?;
        Ok(ClaimOutcome {
            checks: vec![
                Check::new(
                    "λ_min(K_∞) / (1/2 − k(1 − φ²/2)) at φ = 0.001",
                    ratio_at_reference,
                    Relation::Within,
                    1.0,
                    0.01,
                )
                .basis(Basis::ClosedForm)
                .control("smooth-activation"),
                Check::new(
                    "log-log slope of λ_min(K_∞) against φ",
                    fit.slope,
                    Relation::Within,
                    1.0,
                    0.02,
                )
                .basis(Basis::Theorem)
                .fit(&fit)
                .control("smooth-activation"),
            ],
            tables: vec![("lambda_min".into(), table)],
            figures: vec![Figure::new(
                "lambda_min_vs_phi",
                "λ_min(K_∞) against the separation φ of the planted pair (n = 20)",
            )
            .x("separation φ", Scale::Log)
            .y("λ_min", Scale::Log)
            .markers("measured", measured.iter().copied())
            .prediction(
                "closed form 1/2 − k(1 − φ²/2)",
                measured.iter().map(|p| (p.0, pair_lambda(p.0))),
            )
            .predicted_slope(1.0, "measured", "")],
        })
    }
}
