//! Claim `narrow-vs-wide`: narrow networks can get stuck, networks with M ≥ n reach zero training
//! error from every initialisation.

use super::{Check, Claim, ClaimOutcome, Context, Control, Relation};
use crate::data::io::Table;
use crate::error::Result;
use crate::report::{Figure, Scale};
use crate::spec::{run, Spec};
use std::path::Path;

/// Success rate of gradient descent against width, over seeds.
pub struct NarrowVsWide;

/// Training loss below this fraction of the initial loss counts as a global minimum.
const SUCCESS: f64 = 1e-3;

impl Claim for NarrowVsWide {
    fn id(&self) -> &'static str {
        "narrow-vs-wide"
    }
    fn title(&self) -> &'static str {
        "narrow nets can fail; wide nets (M ≥ n) reach zero training error"
    }
    fn statement(&self) -> &'static str {
        "The loss of a narrow two-layer network has spurious local minima and plateaus in which \
         gradient descent can stop, while a network with at least as many hidden units as \
         samples (M ≥ n) has, generically, no spurious local minimum (Nguyen & Hein 2017; \
         Venturi, Bandeira, Bruna 2019), and a wide one is globally fitted by gradient descent \
         from every initialisation (Du et al. 2019)."
    }
    fn setup(&self) -> &'static str {
        "n = 16 points on S², targets a smooth harmonic plus N(0, 1) noise (an irregular target \
         that needs the capacity); two-layer ReLU nets in the NTK scaling, widths 2, 4, 8, 16, 64, \
         256, 8 initialisations each (full: 24), full-batch GD η = 1, 40000 steps. Success: \
         final training loss ≤ 10⁻³ × the initial loss. Checks: success rate at the largest \
         width ≥ 0.95; success rate at M = 4 ≤ 0.5. Negative control: the 'wide' nets have M = 4."
    }
    fn controls(&self) -> &'static [Control] {
        &[Control {
            name: "narrow-wide",
            breaks: "the wide nets have M = 4 < n: no over-parameterisation",
        }]
    }
    fn run(&self, ctx: &Context) -> Result<ClaimOutcome> {
        let widths = [2usize, 4, 8, 16, 64, 256];
        let trials = if ctx.quick { 8 } else { 24 };
        let base = Path::new(".");
        let mut table = Table::new(&["width", "trial", "initial_loss", "final_loss", "success"]);
        let mut rates = Vec::new();
        for &m in &widths {
            let width = if ctx.under("narrow-wide") && m == 256 {
                4
            } else {
                m
            };
            let text = format!(
                r#"
seed = {seed}
trials = {trials}
[data]
kind = "sphere"
n = 16
dim = 3
target = {{ kind = "harmonic", degree = 2 }}
labels = {{ noise = 1.0 }}
[model]
kind = "two_layer"
width = {width}
activation = "relu"
gamma = 0.5
[[optimizer]]
kind = "sgd"
lr = 1.0
[train]
steps = 40000
record_every = 40000
"#,
                seed = ctx.seed.0
            );
            let spec = Spec::from_toml(&text, Path::new("<narrow-vs-wide>"))?;
            let outcome = run(&spec, base, None, false)?;
            let mut wins = 0;
            for (k, t) in outcome.trials.iter().enumerate() {
                let loss = t.table.column("train_loss")?;
                let (first, last) = (
                    loss.first().copied().unwrap_or(f64::NAN),
                    loss.last().copied().unwrap_or(f64::NAN),
                );
                let ok = last <= SUCCESS * first;
                wins += usize::from(ok);
                table.push(vec![
                    m as f64,
                    k as f64,
                    first,
                    last,
                    f64::from(u8::from(ok)),
                ]);
            }
            rates.push((m as f64, wins as f64 / trials as f64));
        }
        let at = |m: f64| {
            rates
                .iter()
                .find(|r| r.0 == m)
                .map(|r| r.1)
                .unwrap_or(f64::NAN)
        };
        Ok(ClaimOutcome {
            checks: vec![
                Check::new(
                    "success rate at M = 256 (≥ n = 16)",
                    at(256.0),
                    Relation::AtLeast,
                    0.95,
                    0.0,
                ),
                Check::new("success rate at M = 4", at(4.0), Relation::AtMost, 0.5, 0.0),
            ],
            tables: vec![("runs".into(), table)],
            figures: vec![Figure::new(
                "success",
                "fraction of initialisations fitted to zero error",
            )
            .x("width M", Scale::Log)
            .y("success rate", Scale::Linear)
            .line("measured", rates.iter().copied())
            .prediction("M = n", [(16.0, 0.0), (16.0, 1.0)])],
        })
    }
}
