//! Claim `matrix-completion`: low-rank symmetric matrix completion has no spurious local minima.

use super::{Check, Claim, ClaimOutcome, Context, Control, Relation};
use crate::data::io::Table;
use crate::error::Result;
use crate::report::{Figure, Scale};
use crate::spec::{run, Spec};
use std::path::Path;

/// Gradient descent on U ↦ Σ_{(i,j)∈E} (Y_ij − (UUᵀ)_ij)² recovers Y from every random start.
pub struct MatrixCompletion;

impl Claim for MatrixCompletion {
    fn id(&self) -> &'static str {
        "matrix-completion"
    }
    fn title(&self) -> &'static str {
        "symmetric low-rank matrix completion has no spurious local minima"
    }
    fn statement(&self) -> &'static str {
        "For Y = U*U*ᵀ of rank r observed on a random set E, every local minimum of \
         min_U Σ_{(i,j)∈E} (Y_ij − (UUᵀ)_ij)² with U ∈ R^{n×r} is global (Ge, Lee & Ma 2016): \
         gradient descent from random initialisations recovers the unobserved entries."
    }
    fn setup(&self) -> &'static str {
        "n = 40, rank 2, each entry i ≤ j observed with probability 0.5; U ∈ R^{40×2}, \
         U_ik ~ N(0, 0.5²); gradient descent η = 1.0 on the mean squared loss; the test set is every \
         unobserved entry. quick: 4 seeds × 4000 steps, full: 16 seeds × 8000. Negative control: a \
         rank-1 factor."
    }
    fn controls(&self) -> &'static [Control] {
        &[Control {
            name: "rank-deficient-factor",
            breaks: "a rank-1 factor for rank-2 data: the model cannot express the target",
        }]
    }
    fn run(&self, ctx: &Context) -> Result<ClaimOutcome> {
        let (trials, steps) = if ctx.quick { (4, 4000) } else { (16, 8000) };
        // Negative control: a rank-1 factor for rank-2 data cannot recover it.
        let model_rank = if ctx.under("rank-deficient-factor") {
            1
        } else {
            2
        };
        let text = format!(
            r#"
seed = {seed}
trials = {trials}
[data]
kind = "completion"
size = 40
rank = 2
observe = 0.5
[model]
kind = "factorization"
rank = {model_rank}
init_std = 0.5
[[optimizer]]
kind = "sgd"
lr = 1.0
[train]
steps = {steps}
record_every = 100
"#,
            seed = ctx.seed.0
        );
        let spec = Spec::from_toml(&text, Path::new("<matrix-completion>"))?;
        let base = Path::new(".");
        let data = spec.load_data(base)?;
        let test = data.test.as_ref().map(|t| t.y.clone()).unwrap_or_default();
        let scale =
            (test.data.iter().map(|v| v * v).sum::<f64>() / test.data.len().max(1) as f64).sqrt();
        let outcome = run(&spec, base, None, false)?;
        let mut finals = Table::new(&["trial", "train_loss", "test_rmse", "relative_test_error"]);
        let mut worst: f64 = 0.0;
        let mut figure = Figure::new("test_error", "error on the unobserved entries, per seed")
            .x("step", Scale::Linear)
            .y("RMSE(unobserved) / RMS(Y)", Scale::Log);
        for (k, t) in outcome.trials.iter().enumerate() {
            let (s, l) = (t.table.column("step")?, t.table.column("test_loss")?);
            figure = figure.line(
                if k == 0 { "each seed" } else { "" },
                s.into_iter()
                    .zip(l)
                    .map(|(s, l)| (s, (2.0 * l).sqrt() / scale)),
            );
            let train = t.table.column("train_loss")?.last().copied();
            let test_loss = t.table.column("test_loss")?.last().copied();
            let rmse = (2.0 * test_loss.unwrap_or(f64::NAN)).sqrt();
            let rel = rmse / scale;
            worst = if rel.is_nan() {
                f64::NAN
            } else {
                worst.max(rel)
            };
            finals.push(vec![k as f64, train.unwrap_or(f64::NAN), rmse, rel]);
        }
        Ok(ClaimOutcome {
            checks: vec![Check::new(
                "max over seeds of RMSE(unobserved)/RMS(Y)",
                worst,
                Relation::AtMost,
                0.0,
                1e-3,
            )],
            tables: vec![("final".into(), finals)],
            figures: vec![figure],
        })
    }
}
