//! Claim `ntk-concentration`: the random-feature kernel at initialisation concentrates around
//! its infinite-width limit at rate M^{−1/2}.

use super::{Check, Claim, ClaimOutcome, Context, Control, Relation};
use crate::data::io::Table;
use crate::data::synthetic;
use crate::error::Result;
use crate::kernel::analytic::two_layer_first_layer_ntk;
use crate::kernel::monte_carlo::concentration_against;
use crate::kernel::spectrum::fit_log_log;
use crate::nn::Activation;
use crate::report::{Figure, Scale};

/// ‖K_{W₀} − K_∞‖_F shrinks like M^{−1/2} and stays below the Hoeffding bound.
pub struct NtkConcentration;

impl Claim for NtkConcentration {
    fn id(&self) -> &'static str {
        "ntk-concentration"
    }
    fn title(&self) -> &'static str {
        "‖K_W0 − K_∞‖_F shrinks like M^{-1/2}"
    }
    fn statement(&self) -> &'static str {
        "For unit-norm inputs and ReLU, K_{W₀,ij} = (1/M) Σ_r x_iᵀx_j 1[w_rᵀx_i > 0] 1[w_rᵀx_j > 0] \
         is a mean of M bounded i.i.d. terms: P(|K_{W₀,ij} − K_∞,ij| ≤ √(log(2/δ')/(2M))) ≥ 1 − δ' \
         and ‖K_{W₀} − K_∞‖_F² ≤ n² log(2n²/δ)/(2M) with probability ≥ 1 − δ."
    }
    fn setup(&self) -> &'static str {
        "n = 20 points uniform on S⁴; first-layer kernel of a two-layer ReLU net at initialisation \
         (w_r ~ N(0, I)) against the arc-cosine K_∞; widths 64 … 16384 (quick: 64 … 4096), 16 draws \
         each (quick: 8); δ = 0.05. Checks: the log-log slope of the mean error against M is \
         −0.5 ± 0.1, and no draw exceeds the Hoeffding bound. Negative control: K_∞ of the wrong \
         activation (erf)."
    }
    fn controls(&self) -> &'static [Control] {
        &[Control {
            name: "wrong-activation",
            breaks: "K_∞ of the wrong activation (erf) as the limit",
        }]
    }
    fn run(&self, ctx: &Context) -> Result<ClaimOutcome> {
        let (widths, draws): (Vec<usize>, usize) = if ctx.quick {
            (vec![64, 256, 1024, 4096], 8)
        } else {
            (vec![64, 256, 1024, 4096, 16384], 16)
        };
        let x = synthetic::sphere(20, 5, &mut ctx.seed.stream("inputs", 0));
        // Negative control: the prediction computed for the wrong activation (erf).
        let limit = if ctx.under("wrong-activation") {
            Activation::ERF
        } else {
            Activation::Relu
        };
        let exact = two_layer_first_layer_ntk(&x, &x, limit)?;
        let rows = concentration_against(&x, &exact, &widths, draws, 0.05, ctx.seed)?;
        let mut table = Table::new(&["width", "frobenius_error", "hoeffding_bound", "violations"]);
        for r in &rows {
            table.push(vec![
                r.width as f64,
                r.frobenius_error,
                r.bound,
                r.violations,
            ]);
        }
        let slope = -fit_log_log(
            &rows.iter().map(|r| r.width as f64).collect::<Vec<_>>(),
            &rows.iter().map(|r| r.frobenius_error).collect::<Vec<_>>(),
        )?
        .exponent;
        let worst = rows.iter().map(|r| r.violations).fold(0.0, f64::max);
        Ok(ClaimOutcome {
            checks: vec![
                Check::new(
                    "log-log slope of ‖K_W0 − K_∞‖_F vs M",
                    slope,
                    Relation::Within,
                    -0.5,
                    0.1,
                ),
                Check::new(
                    "fraction of draws above the Hoeffding bound",
                    worst,
                    Relation::AtMost,
                    0.0,
                    0.0,
                ),
            ],
            tables: vec![("concentration".into(), table)],
            figures: vec![Figure::new("concentration", "‖K_W0 − K_∞‖_F against width")
                .x("width M", Scale::Log)
                .y("‖K_W0 − K_∞‖_F", Scale::Log)
                .markers(
                    "mean over draws",
                    rows.iter().map(|r| (r.width as f64, r.frobenius_error)),
                )
                .prediction(
                    "Hoeffding bound (δ = 0.05)",
                    rows.iter().map(|r| (r.width as f64, r.bound)),
                )],
        })
    }
}
