//! Claim `ntk-generalization`: the data-dependent complexity √(yᵀK^{-1}y/n) of the NTK separates
//! true labels from random ones, and so does the test error.

use super::{Check, Claim, ClaimOutcome, Context, Control, Relation};
use crate::data::io::Table;
use crate::data::synthetic;
use crate::error::Result;
use crate::kernel::analytic::two_layer_ntk;
use crate::kernel::dynamics::{complexity, kernel_ridge};
use crate::linalg::Matrix;
use crate::nn::Activation;
use crate::report::{Figure, Scale};

/// √(yᵀK^{−1}y/n): small for learnable labels, large for random labels.
pub struct NtkGeneralization;

impl Claim for NtkGeneralization {
    fn id(&self) -> &'static str {
        "ntk-generalization"
    }
    fn title(&self) -> &'static str {
        "√(yᵀK⁻¹y/n) separates true from random labels"
    }
    fn statement(&self) -> &'static str {
        "For a wide two-layer ReLU net trained by gradient descent from a small initialisation, \
         the population loss is bounded by √(2 yᵀ K_∞^{-1} y / n) + O(√(log(n/δ)/n)) (Arora, Du, \
         Hu, Li, Wang 2019): the complexity √(yᵀK^{-1}y/n) stays bounded as n grows for labels \
         given by a smooth function, and grows like √n·(const) for random labels, which the net \
         can still fit but not generalise from."
    }
    fn setup(&self) -> &'static str {
        "Inputs uniform on S⁴, n = 50, 100, 200, 400 (quick: up to 200), true labels a degree-2 \
         zonal harmonic scaled to unit RMS on the test points, random labels i.i.d. N(0, 1) (same scale); the \
         two-layer ReLU NTK k_∞; test error of the kernel regressor (ridge 1e-6·tr K/n) on 400 \
         fresh points, relative to the labels' RMS. Checks: at the largest n, complexity(random) \
         / complexity(true) ≥ 2; relative test error true ≤ 0.3 and random ≥ 0.9. Negative \
         control: the 'true' labels are random too."
    }
    fn controls(&self) -> &'static [Control] {
        &[Control {
            name: "random-labels",
            breaks: "random labels in place of the true ones",
        }]
    }
    fn run(&self, ctx: &Context) -> Result<ClaimOutcome> {
        let sizes: Vec<usize> = if ctx.quick {
            vec![50, 100, 200]
        } else {
            vec![50, 100, 200, 400]
        };
        let d = 5;
        let direction = [1.0, 0.0, 0.0, 0.0, 0.0];
        let mut rng = ctx.seed.stream("data", 0);
        let x_test = synthetic::sphere(400, d, &mut rng);
        // Unit RMS, measured on the test points.
        let raw = synthetic::spherical_harmonic_target(&x_test, &direction, 2);
        let scale = (raw.data.iter().map(|v| v * v).sum::<f64>() / raw.rows as f64).sqrt();
        let truth = |x: &Matrix| -> Matrix {
            let mut y = synthetic::spherical_harmonic_target(x, &direction, 2);
            y.data.iter_mut().for_each(|v| *v /= scale);
            y
        };
        let mut table = Table::new(&[
            "n",
            "complexity_true",
            "complexity_random",
            "test_error_true",
            "test_error_random",
        ]);
        let mut last = [f64::NAN; 4];
        for &n in &sizes {
            let x = synthetic::sphere(n, d, &mut rng);
            let k = two_layer_ntk(&x, &x, Activation::Relu)?;
            let k_te = two_layer_ntk(&x_test, &x, Activation::Relu)?;
            let ridge = 1e-6 * (0..n).map(|i| k.get(i, i)).sum::<f64>() / n as f64;
            let random = |rows: usize, rng: &mut crate::rng::Rng| {
                let mut m = Matrix::zeros(rows, 1);
                rng.fill_normal(&mut m.data, 1.0);
                m
            };
            let (y_true, yt_true) = if ctx.under("random-labels") {
                (random(n, &mut rng), random(400, &mut rng))
            } else {
                (truth(&x), truth(&x_test))
            };
            let (y_rand, yt_rand) = (random(n, &mut rng), random(400, &mut rng));
            let mut row = vec![n as f64];
            let mut errors = vec![];
            for (y, yt) in [(&y_true, &yt_true), (&y_rand, &yt_rand)] {
                row.push(complexity(&k, y)?);
                let pred = kernel_ridge(&k, &k_te, y, ridge)?;
                let rms = (yt.data.iter().map(|v| v * v).sum::<f64>() / 400.0).sqrt();
                let err = (pred
                    .data
                    .iter()
                    .zip(&yt.data)
                    .map(|(a, b)| (a - b).powi(2))
                    .sum::<f64>()
                    / 400.0)
                    .sqrt()
                    / rms;
                errors.push(err);
            }
            row.extend(&errors);
            last = [row[1], row[2], row[3], row[4]];
            table.push(row);
        }
        let rows = table.rows.clone();
        Ok(ClaimOutcome {
            checks: vec![
                Check::new(
                    "complexity(random) / complexity(true) at the largest n",
                    last[1] / last[0],
                    Relation::AtLeast,
                    2.0,
                    0.0,
                ),
                Check::new(
                    "relative test error, true labels",
                    last[2],
                    Relation::AtMost,
                    0.3,
                    0.0,
                ),
                Check::new(
                    "relative test error, random labels",
                    last[3],
                    Relation::AtLeast,
                    0.9,
                    0.0,
                ),
            ],
            tables: vec![("complexity".into(), table)],
            figures: vec![
                Figure::new("complexity", "√(yᵀK⁻¹y/n) against n")
                    .x("n", Scale::Log)
                    .y("√(yᵀK⁻¹y/n)", Scale::Log)
                    .line("true labels", rows.iter().map(|r| (r[0], r[1])))
                    .line("random labels", rows.iter().map(|r| (r[0], r[2]))),
                Figure::new("test_error", "relative test error of the kernel regressor")
                    .x("n", Scale::Log)
                    .y("test RMSE / label RMS", Scale::Linear)
                    .line("true labels", rows.iter().map(|r| (r[0], r[3])))
                    .line("random labels", rows.iter().map(|r| (r[0], r[4]))),
            ],
        })
    }
}
