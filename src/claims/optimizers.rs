//! Claim `optimizers`: SGD, momentum, Nesterov, AdaGrad, RMSprop and Adam all train a deep net.

use super::{Check, Claim, ClaimOutcome, Context, Control, Relation};
use crate::data::io::Table;
use crate::error::Result;
use crate::report::{Figure, Scale};
use crate::spec::{run, Spec};
use std::path::Path;

/// Each optimizer of the document trains the same deep network.
pub struct Optimizers;

/// (name, `[[optimizer]]` table) of every optimizer the claim compares.
const OPTIMIZERS: [(&str, &str); 6] = [
    (
        "sgd",
        r#"kind = "sgd"
lr = 1.0"#,
    ),
    (
        "momentum",
        r#"kind = "momentum"
lr = 1.0
theta = 0.9"#,
    ),
    (
        "nesterov",
        r#"kind = "nesterov"
lr = 1.0
theta = 0.9"#,
    ),
    (
        "adagrad",
        r#"kind = "adagrad"
lr = 0.05"#,
    ),
    (
        "rmsprop",
        r#"kind = "rmsprop"
lr = 0.002"#,
    ),
    (
        "adam",
        r#"kind = "adam"
lr = 0.005"#,
    ),
];

impl Claim for Optimizers {
    fn id(&self) -> &'static str {
        "optimizers"
    }
    fn title(&self) -> &'static str {
        "SGD, momentum, Nesterov, AdaGrad, RMSprop and Adam all train a deep net"
    }
    fn statement(&self) -> &'static str {
        "Every first-order method of the document decreases the training loss of a deep network: \
         SGD w ← w − ηg; momentum Δw_t = θΔw_{t−1} − (1−θ)η g_t; Nesterov with the look-ahead \
         gradient g_t = ∇L(w_t + θΔw_{t−1}); AdaGrad, RMSprop and Adam with their adaptive scalings."
    }
    fn setup(&self) -> &'static str {
        "n = 128 points on S⁴, targets from a random tanh teacher 5 → 16 → 1; a tanh MLP 5 → 64 → 64 → 1 \
         (NTK parameterization); full-batch training from the same initialisation; \
         quick: 3000 steps, full: 6000 steps. Check: final loss ≤ 1% of the initial loss. Negative control: learning rates ÷ 10⁴."
    }
    fn controls(&self) -> &'static [Control] {
        &[
            Control {
                name: "tiny-learning-rate",
                breaks: "every learning rate divided by 10⁴ (nothing trains; stops training rather than breaking a hypothesis)",
            },
        ]
    }
    fn run(&self, ctx: &Context) -> Result<ClaimOutcome> {
        let steps = if ctx.quick { 3000 } else { 6000 };
        // Negative control: every learning rate divided by 10⁴ (nothing trains).
        let shrink = |table: &str| -> String {
            if !ctx.under("tiny-learning-rate") {
                return table.to_string();
            }
            table
                .lines()
                .map(|l| match l.strip_prefix("lr = ") {
                    Some(v) => format!("lr = {:e}", v.parse::<f64>().unwrap_or(1.0) * 1e-4),
                    None => l.to_string(),
                })
                .collect::<Vec<_>>()
                .join("\n")
        };
        let mut checks = Vec::new();
        let mut figure = Figure::new("loss_curves", "training loss of each optimizer")
            .x("step", Scale::Linear)
            .y("training loss", Scale::Log);
        let mut curves = Table::new(&["optimizer", "step", "train_loss"]);
        for (k, (name, table)) in OPTIMIZERS.iter().enumerate() {
            let table = shrink(table);
            let text = format!(
                r#"
seed = {seed}
[data]
kind = "sphere"
n = 128
dim = 5
target = {{ kind = "teacher", model = {{ kind = "mlp", widths = [16], activation = "tanh" }} }}
[model]
kind = "mlp"
widths = [64, 64]
activation = "tanh"
[[optimizer]]
{table}
[train]
steps = {steps}
record_every = 10
"#,
                seed = ctx.seed.0
            );
            let spec = Spec::from_toml(&text, Path::new("<optimizers>"))?;
            let outcome = run(&spec, Path::new("."), None, false)?;
            let t = &outcome.trials[0].table;
            let steps_col = t.column("step")?;
            let losses = t.column("train_loss")?;
            for (s, l) in steps_col.iter().zip(&losses) {
                curves.push(vec![k as f64, *s, *l]);
            }
            figure = figure.line(name, steps_col.iter().copied().zip(losses.iter().copied()));
            let first = losses.first().copied().unwrap_or(f64::NAN);
            let last = losses.last().copied().unwrap_or(f64::NAN);
            checks.push(Check::new(
                format!("{name}: final / initial training loss"),
                last / first,
                Relation::AtMost,
                0.01,
                0.0,
            ));
        }
        Ok(ClaimOutcome {
            checks,
            tables: vec![("loss_curves".into(), curves)],
            figures: vec![figure],
        })
    }
}
