//! Claim `lazy-vs-rich`: in the NTK scaling the weights barely move (lazy training); in the
//! mean-field scaling the features move O(1) and the network beats the kernel on a target that
//! depends on one direction only.

use super::slope_of;
use super::{Check, Claim, ClaimOutcome, Context, Control, Relation};
use crate::data::io::Table;
use crate::error::Result;
use crate::kernel::analytic::two_layer_ntk;
use crate::kernel::dynamics::kernel_ridge;
use crate::linalg::distance;
use crate::nn::Activation;
use crate::report::{Figure, Scale};
use crate::spec::{run, Spec};
use std::path::Path;

/// Weight movement against M in both scalings; test error of the rich net against the kernel.
pub struct LazyVsRich;

fn spec_text(seed: u64, width: usize, rich: bool, steps: u64) -> String {
    let (model, optimizer) = if rich {
        ("gamma = 1.0", "kind = \"mean_field\"\nlr = 2.0".to_string())
    } else {
        (
            "gamma = 0.5\nsymmetric = true",
            "kind = \"sgd\"\nlr = 1.0".to_string(),
        )
    };
    format!(
        r#"
seed = {seed}
[data]
kind = "sphere"
n = 200
n_test = 500
dim = 20
target = {{ kind = "harmonic", degree = 2 }}
[model]
kind = "two_layer"
width = {width}
activation = "relu"
{model}
[[optimizer]]
{optimizer}
[train]
steps = {steps}
record_every = {steps}
"#
    )
}

impl Claim for LazyVsRich {
    fn id(&self) -> &'static str {
        "lazy-vs-rich"
    }
    fn title(&self) -> &'static str {
        "NTK scaling is lazy; mean-field features move O(1) and beat the kernel on a sparse target"
    }
    fn statement(&self) -> &'static str {
        "With f = α M^{−γ} Σ_j a_j σ(w_jᵀx), the NTK scaling γ = 1/2 trains in the lazy regime: \
         ‖θ_t − θ₀‖/‖θ₀‖ = O(M^{−1/2}) and the net is its linearisation, a kernel method. The \
         mean-field scaling γ = 1 (time rescaled by M) moves every neuron O(1) independently of M \
         (feature learning), and on a target that depends on a single direction, \
         y = P₂(⟨u, x⟩) in d = 20, it generalises from fewer samples than the kernel (Chizat & \
         Bach 2018; Ghorbani et al. 2019)."
    }
    fn setup(&self) -> &'static str {
        "n = 200 training and 500 test points on S¹⁹, y = degree-2 zonal harmonic of a random \
         direction; two-layer ReLU nets, widths 128, 512, 2048 (full: also 8192), 2000 steps \
         (full: 4000); NTK scaling: symmetric initialisation, GD η = 1; mean-field scaling: the \
         particle step −η(M∇L), η = 2. Kernel: the ReLU NTK k_∞ regressor (ridge 1e-6·tr K/n). \
         Checks: log-log slope of the relative movement against M is −0.5 ± 0.15 (NTK) and \
         0 ± 0.15 (mean-field); the mean-field test error at the largest width ≤ 0.8 × the \
         kernel's. Negative control: the 'mean-field' runs use the NTK scaling too."
    }
    fn controls(&self) -> &'static [Control] {
        &[Control {
            name: "ntk-scaling-everywhere",
            breaks: "the mean-field runs use the NTK scaling too",
        }]
    }
    fn run(&self, ctx: &Context) -> Result<ClaimOutcome> {
        let widths: Vec<usize> = if ctx.quick {
            vec![128, 512, 2048]
        } else {
            vec![128, 512, 2048, 8192]
        };
        let steps = if ctx.quick { 2000 } else { 4000 };
        let base = Path::new(".");
        let mut table = Table::new(&["width", "rich", "relative_movement", "test_loss"]);
        let mut movement = [Vec::new(), Vec::new()];
        let mut last_test = [f64::NAN; 2];
        let mut data = None;
        for (k, rich) in [false, true].into_iter().enumerate() {
            for &m in &widths {
                let text = spec_text(
                    ctx.seed.0,
                    m,
                    rich && !ctx.under("ntk-scaling-everywhere"),
                    steps,
                );
                let spec = Spec::from_toml(&text, Path::new("<lazy-vs-rich>"))?;
                if data.is_none() {
                    data = Some(spec.load_data(base)?);
                }
                let outcome = run(&spec, base, None, false)?;
                let t = &outcome.trials[0].table;
                let moved = t
                    .column("param_distance_relative")?
                    .last()
                    .copied()
                    .unwrap_or(f64::NAN);
                let test = t.column("test_loss")?.last().copied().unwrap_or(f64::NAN);
                table.push(vec![m as f64, k as f64, moved, test]);
                movement[k].push((m as f64, moved));
                last_test[k] = test;
            }
        }
        let slope = |v: &[(f64, f64)]| {
            slope_of(
                &v.iter().map(|p| p.0.ln()).collect::<Vec<_>>(),
                &v.iter().map(|p| p.1.ln()).collect::<Vec<_>>(),
            )
        };
        // The kernel regressor on the same data (test loss in the same (1/2n) convention).
        let kernel_test = match &data {
            Some(d) => {
                let test = d.test.as_ref().unwrap_or(&d.train);
                let k = two_layer_ntk(&d.train.x, &d.train.x, Activation::Relu)?;
                let k_te = two_layer_ntk(&test.x, &d.train.x, Activation::Relu)?;
                let n = k.rows;
                let ridge = 1e-6 * (0..n).map(|i| k.get(i, i)).sum::<f64>() / n as f64;
                let pred = kernel_ridge(&k, &k_te, &d.train.y, ridge)?;
                0.5 * distance(&pred.data, &test.y.data).powi(2) / test.y.rows as f64
            }
            None => f64::NAN,
        };
        Ok(ClaimOutcome {
            checks: vec![
                Check::new(
                    "NTK scaling: slope of relative movement against M",
                    slope(&movement[0]),
                    Relation::Within,
                    -0.5,
                    0.15,
                ),
                Check::new(
                    "mean-field scaling: slope of relative movement against M",
                    slope(&movement[1]),
                    Relation::Within,
                    0.0,
                    0.15,
                ),
                Check::new(
                    "mean-field test loss / kernel regressor's test loss",
                    last_test[1] / kernel_test,
                    Relation::AtMost,
                    0.8,
                    0.0,
                ),
            ],
            tables: vec![("runs".into(), table)],
            figures: vec![
                Figure::new("movement", "relative weight movement against width")
                    .x("width M", Scale::Log)
                    .y("‖θ_T − θ₀‖ / ‖θ₀‖", Scale::Log)
                    .markers("NTK scaling (γ = 1/2)", movement[0].iter().copied())
                    .markers("mean-field scaling (γ = 1)", movement[1].iter().copied()),
            ],
        })
    }
}
