//! Claim `connectivity`: for wide networks the sub-level sets of the loss are connected — two
//! solutions found from independent initialisations are joined by a path of low loss; for narrow
//! networks they are separated by barriers.

use super::{mean_field_regression, Check, Claim, ClaimOutcome, Context, Control, Relation};
use crate::data::io::Table;
use crate::error::Result;
use crate::meanfield::{align_neurons, ParticleLayout};
use crate::report::{Figure, Scale};
use crate::spec::run;
use crate::train::landscape::{barrier, path_losses};
use crate::train::Objective;
use std::path::Path;

/// Loss barrier along the (neuron-aligned) straight path between two solutions, against width.
pub struct Connectivity;

impl Claim for Connectivity {
    fn id(&self) -> &'static str {
        "connectivity"
    }
    fn title(&self) -> &'static str {
        "wide nets: sub-level sets connected (no spurious valleys)"
    }
    fn statement(&self) -> &'static str {
        "For a two-layer network with enough hidden units the loss has no spurious valleys: every \
         sub-level set {θ : L(θ) ≤ c} is connected (Freeman & Bruna 2017; Venturi, Bandeira, \
         Bruna 2019), so two solutions found from independent initialisations are joined by a \
         path along which the loss stays low; in the mean-field picture both are samples of \
         nearly the same measure, and matching their neurons (optimal transport) gives such a \
         path. Narrow networks end in separated valleys."
    }
    fn setup(&self) -> &'static str {
        "n = 20 points on S², target a degree-2 zonal harmonic; tanh two-layer nets with γ = 1, \
         widths 4, 16, 64, 256, 1024, trained by the mean-field particle step (η = 0.5, 1000 steps) \
         from two independent initialisations (4 pairs, full: 12); the second solution's neurons \
         are permuted to match the first's (exact assignment), then the loss is evaluated at 21 \
         points of the straight path. Barrier = max along the path − the larger end loss, \
         relative to the initial loss. Checks: median relative barrier at M = 1024 ≤ 0.01 and \
         ≤ 0.1 × the one at M = 4. Negative control: the 'wide' nets have M = 4."
    }
    fn controls(&self) -> &'static [Control] {
        &[Control {
            name: "narrow-wide",
            breaks: "the wide nets have M = 4: no over-parameterisation",
        }]
    }
    fn run(&self, ctx: &Context) -> Result<ClaimOutcome> {
        let widths = [4usize, 16, 64, 256, 1024];
        let pairs = if ctx.quick { 4 } else { 12 };
        let base = Path::new(".");
        let mut table = Table::new(&[
            "width",
            "pair",
            "end_loss_a",
            "end_loss_b",
            "relative_barrier",
        ]);
        let mut paths = Figure::new("paths", "loss along the aligned path between two solutions")
            .x("t (0: solution a, 1: solution b)", Scale::Linear)
            .y("training loss / initial loss", Scale::Log);
        let mut medians = Vec::new();
        for &m in &widths {
            let width = if ctx.under("narrow-wide") && m == 1024 {
                4
            } else {
                m
            };
            let mut rel = Vec::new();
            for pair in 0..pairs {
                let spec =
                    mean_field_regression(ctx.seed.child("pair", pair as u64).0, width, 2, 1000)?;
                let data = spec.load_data(base)?;
                let model =
                    spec.model
                        .build(data.train.input_dim(), data.train.output_dim(), None)?;
                let outcome = run(&spec, base, None, false)?;
                let initial = outcome.trials[0]
                    .table
                    .column("train_loss")?
                    .first()
                    .copied()
                    .unwrap_or(f64::NAN);
                let layout = ParticleLayout::of(model.as_ref())?;
                let (a, b) = (&outcome.trials[0].params, &outcome.trials[1].params);
                let b = align_neurons(&layout, a, b)?;
                let objective = Objective::squared(model.as_ref());
                let path = path_losses(&objective, &data.train, a, &b, 21)?;
                let r = barrier(&path) / initial;
                table.push(vec![
                    m as f64,
                    pair as f64,
                    path[0].1,
                    path[path.len() - 1].1,
                    r,
                ]);
                if pair == 0 {
                    paths = paths.line(
                        &format!("M = {m}"),
                        path.iter().map(|p| (p.0, p.1 / initial)),
                    );
                }
                rel.push(r);
            }
            rel.sort_by(f64::total_cmp);
            medians.push((m as f64, rel[rel.len() / 2]));
        }
        let (narrow, wide) = (medians[0].1, medians[medians.len() - 1].1);
        Ok(ClaimOutcome {
            checks: vec![
                Check::new(
                    "median relative barrier at M = 1024",
                    wide,
                    Relation::AtMost,
                    0.01,
                    0.0,
                ),
                Check::new(
                    "median relative barrier, M = 1024 / M = 4",
                    wide / narrow,
                    Relation::AtMost,
                    0.1,
                    0.0,
                ),
            ],
            tables: vec![("barriers".into(), table)],
            figures: vec![
                Figure::new("barrier_vs_width", "loss barrier between two solutions")
                    .x("width M", Scale::Log)
                    .y("median barrier / initial loss", Scale::Log)
                    .markers("measured", medians.iter().copied()),
                paths,
            ],
        })
    }
}
