//! Claim `deep-linear`: every local minimum of a deep linear network is global.

use super::{Check, Claim, ClaimOutcome, Context, Control, Relation};
use crate::data::io::Table;
use crate::error::Result;
use crate::linalg::least_squares;
use crate::report::{Figure, Scale};
use crate::spec::{run, Spec};
use std::path::Path;

/// Gradient descent on a deep linear net reaches the least-squares optimum from every seed.
pub struct DeepLinearMinima;

impl DeepLinearMinima {
    fn spec(ctx: &Context) -> Result<Spec> {
        let (trials, steps) = if ctx.quick { (6, 3000) } else { (24, 8000) };
        // Negative control: 20 steps, far from any minimum.
        let steps = if ctx.under("few-steps") { 20 } else { steps };
        let text = format!(
            r#"
seed = {seed}
trials = {trials}
[data]
kind = "gaussian"
n = 64
dim = 6
target = {{ kind = "teacher", model = {{ kind = "mlp", widths = [16], activation = "tanh" }} }}
labels = {{ noise = 0.1 }}
[model]
kind = "deep_linear"
widths = [8, 8]
init_std = 1.0
[[optimizer]]
kind = "sgd"
lr = 0.05
[train]
steps = {steps}
record_every = 50
"#,
            seed = ctx.seed.0
        );
        Spec::from_toml(&text, Path::new("<deep-linear>"))
    }
}

impl Claim for DeepLinearMinima {
    fn id(&self) -> &'static str {
        "deep-linear"
    }
    fn title(&self) -> &'static str {
        "every local minimum of a deep linear net is global"
    }
    fn statement(&self) -> &'static str {
        "For f(x) = W_L ⋯ W_1 x with widths at least min(d, k), every local minimum of the squared \
         loss L = (1/2n) Σ ‖y_i − f(x_i)‖² is a global minimum (Kawaguchi 2016): gradient descent \
         from any random initialisation ends at the least-squares value \
         L* = min_B (1/2n) ‖Y − X B‖²."
    }
    fn setup(&self) -> &'static str {
        "n = 64 Gaussian inputs in d = 6, targets from a random tanh teacher plus N(0, 0.1²) noise \
         (not linear, so L* > 0); a 3-layer linear net 6 → 8 → 8 → 1 with W ~ N(0, 1/m); \
         gradient descent with η = 0.05; quick: 6 seeds × 3000 steps, full: 24 seeds × 8000. Negative control: 20 steps."
    }
    fn controls(&self) -> &'static [Control] {
        &[Control {
            name: "few-steps",
            breaks:
                "20 steps, far from any minimum (stops training rather than breaking a hypothesis)",
        }]
    }
    fn run(&self, ctx: &Context) -> Result<ClaimOutcome> {
        let spec = Self::spec(ctx)?;
        let base = Path::new(".");
        let data = spec.load_data(base)?;
        let b = least_squares(&data.train.x, &data.train.y)?;
        let fit = data.train.x.matmul(&b)?;
        let n = data.train.len() as f64;
        let optimum = 0.5
            * fit
                .data
                .iter()
                .zip(&data.train.y.data)
                .map(|(f, y)| (f - y) * (f - y))
                .sum::<f64>()
            / n;
        let outcome = run(&spec, base, None, false)?;
        let mut finals = Table::new(&["trial", "final_loss", "optimum", "relative_gap"]);
        let mut curves = Table::new(&["trial", "step", "train_loss"]);
        let mut worst: f64 = 0.0;
        let mut figure = Figure::new(
            "loss_curves",
            "deep linear net: loss − least-squares optimum",
        )
        .x("step", Scale::Linear)
        .y("L(θ_t) − L*", Scale::Log);
        for (k, t) in outcome.trials.iter().enumerate() {
            let steps = t.table.column("step")?;
            let losses = t.table.column("train_loss")?;
            for (s, l) in steps.iter().zip(&losses) {
                curves.push(vec![k as f64, *s, *l]);
            }
            figure = figure.line(
                if k == 0 { "each seed" } else { "" },
                steps.iter().zip(&losses).map(|(s, l)| (*s, l - optimum)),
            );
            let last = losses.last().copied().unwrap_or(f64::NAN);
            let gap = (last - optimum) / optimum;
            worst = if gap.is_nan() {
                f64::NAN
            } else {
                worst.max(gap)
            };
            finals.push(vec![k as f64, last, optimum, gap]);
        }
        Ok(ClaimOutcome {
            checks: vec![Check::new(
                "max over seeds of (L_final − L*)/L*",
                worst,
                Relation::AtMost,
                0.0,
                1e-6,
            )],
            tables: vec![("final".into(), finals), ("loss_curves".into(), curves)],
            figures: vec![figure],
        })
    }
}
