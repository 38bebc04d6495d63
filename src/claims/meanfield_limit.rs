//! Claim `meanfield-limit`: particle gradient descent converges to the mean-field (Wasserstein
//! gradient) flow as M → ∞: independent runs agree up to O(M^{−1/2}).

use super::slope_of;
use super::{mean_field_regression, Check, Claim, ClaimOutcome, Context, Control, Relation};
use crate::data::io::Table;
use crate::error::Result;
use crate::meanfield::{particles, w2_squared, ParticleLayout};
use crate::report::{Figure, Scale};
use crate::spec::run;
use std::path::Path;

/// Spread across seeds against M; W2 between the particle clouds of independent runs.
pub struct MeanFieldLimit;

impl Claim for MeanFieldLimit {
    fn id(&self) -> &'static str {
        "meanfield-limit"
    }
    fn title(&self) -> &'static str {
        "particle GD converges as M → ∞ (propagation of chaos)"
    }
    fn statement(&self) -> &'static str {
        "For f = (1/M) Σ_j a_j σ(w_jᵀx), particle gradient descent with time rescaled by M, \
         θ_j ← θ_j − η M ∇_{θ_j} L, is the Wasserstein gradient flow ∂_t ρ = ∇·(ρ ∇ δF/δρ) of \
         F(ρ) = L(∫ φ(θ, ·) dρ) applied to the empirical measure of the particles; as M → ∞ it \
         converges to the flow from ρ₀ (Mei, Montanari, Nguyen 2018; Chizat & Bach 2018): the \
         predictions of independent runs differ by O(M^{−1/2})."
    }
    fn setup(&self) -> &'static str {
        "n = 20 points on S², target a degree-2 zonal harmonic, 30 test points; tanh two-layer \
         nets with γ = 1, a_j ~ N(0, 1), widths 32, 128, 512, 2048, 8 \
         independent runs each (full: 24) (different initialisations), particle step η = 0.5, 200 steps. \
         Checks: the log-log slope of the spread of test predictions across runs against M is \
         −0.5 ± 0.15; W2 between the final particle clouds of two runs falls with M (slope ≤ −0.1). \
         Negative control: every run uses the smallest width."
    }
    fn controls(&self) -> &'static [Control] {
        &[Control {
            name: "smallest-width",
            breaks: "every run uses the smallest width",
        }]
    }
    fn run(&self, ctx: &Context) -> Result<ClaimOutcome> {
        // W2 between clouds is exact (network simplex) up to 3000 particles: the full setting
        // adds runs, not widths.
        let widths: Vec<usize> = vec![32, 128, 512, 2048];
        let runs = if ctx.quick { 8 } else { 24 };
        let base = Path::new(".");
        let mut table = Table::new(&["width", "spread", "w2_final", "w2_initial"]);
        let mut points = Vec::new();
        for &m in &widths {
            let width = if ctx.under("smallest-width") {
                widths[0]
            } else {
                m
            };
            let spec = mean_field_regression(ctx.seed.0, width, runs, 200)?;
            let outcome = run(&spec, base, None, false)?;
            let spread = outcome.summary["prediction_spread"]["value"]
                .as_f64()
                .unwrap_or(f64::NAN);
            let data = spec.load_data(base)?;
            let model = spec
                .model
                .build(data.train.input_dim(), data.train.output_dim(), None)?;
            let layout = ParticleLayout::of(model.as_ref())?;
            let cloud = |k: usize| particles(&layout, &outcome.trials[k].params);
            let w2_final = w2_squared(&cloud(0)?, &cloud(1)?)?.sqrt();
            let init = |k: usize| {
                particles(
                    &layout,
                    &model.init(
                        &mut crate::rng::Seed(spec.seed)
                            .child("trial", k as u64)
                            .stream("init", 0),
                    ),
                )
            };
            let w2_initial = w2_squared(&init(0)?, &init(1)?)?.sqrt();
            table.push(vec![m as f64, spread, w2_final, w2_initial]);
            points.push((m as f64, spread, w2_final, w2_initial));
        }
        let lm: Vec<f64> = points.iter().map(|p| p.0.ln()).collect();
        let spread_slope = slope_of(&lm, &points.iter().map(|p| p.1.ln()).collect::<Vec<_>>());
        let w2_slope = slope_of(&lm, &points.iter().map(|p| p.2.ln()).collect::<Vec<_>>());
        Ok(ClaimOutcome {
            checks: vec![
                Check::new(
                    "log-log slope of the spread across runs against M",
                    spread_slope,
                    Relation::Within,
                    -0.5,
                    0.15,
                ),
                Check::new(
                    "log-log slope of W2(run 1, run 2) against M",
                    w2_slope,
                    Relation::AtMost,
                    -0.1,
                    0.0,
                ),
            ],
            tables: vec![("spread".into(), table)],
            figures: vec![
                Figure::new("spread", "spread of test predictions across runs")
                    .x("width M", Scale::Log)
                    .y("mean std of f(x) across runs", Scale::Log)
                    .markers("measured", points.iter().map(|p| (p.0, p.1)))
                    .prediction(
                        "∝ M^{-1/2}",
                        points
                            .iter()
                            .map(|p| (p.0, points[0].1 * (points[0].0 / p.0).sqrt())),
                    ),
                Figure::new(
                    "w2_between_runs",
                    "W2 between the particle clouds of two runs",
                )
                .x("width M", Scale::Log)
                .y("W2", Scale::Log)
                .markers("after training", points.iter().map(|p| (p.0, p.2)))
                .markers("at initialisation", points.iter().map(|p| (p.0, p.3))),
            ],
        })
    }
}
