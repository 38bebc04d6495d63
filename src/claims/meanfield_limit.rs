//! Claim `meanfield-limit`: particle gradient descent converges to the mean-field (Wasserstein
//! gradient) flow as M → ∞ (propagation of chaos): from a symmetric initialisation, whose
//! prediction is exactly 0 at every width, the predictions that *training* produces differ
//! between independent runs, and from a large-width reference run, by O(M^{−1/2}).

use super::{mean_field_regression, Basis, Check, Claim, ClaimOutcome, Context, Control, Relation};
use crate::data::io::Table;
use crate::error::{Error, Result};
use crate::linalg::Matrix;
use crate::report::{Figure, Scale};
use crate::rng::Seed;
use crate::stats::fit_log_log;
use std::path::Path;

/// Spread of trained predictions across runs, and gap to a large-width reference, against M.
pub struct MeanFieldLimit;

/// The particle step η of θ_j ← θ_j − η M ∇_{θ_j} L.
const LR: f64 = 0.5;
/// Training steps (time t = η · steps = 100 in the mean-field clock).
const STEPS: usize = 200;

/// A mean-field two-layer tanh net f(x) = (1/M) Σ_j a_j tanh(w_jᵀx): particles (a_j, w_j).
struct Particles {
    a: Vec<f64>,
    /// Row-major M × d.
    w: Vec<f64>,
    d: usize,
}

impl Particles {
    /// The symmetric initialisation: M/2 draws (a, w) with a ~ N(0, 1), w ~ N(0, I_d) (under
    /// the control: w = z + N(0, I_d) with one z ~ N(0, I_d) shared by the whole run), each
    /// paired with (−a, w), so that f₀ ≡ 0 exactly at every width.
    fn symmetric(m: usize, d: usize, seed: Seed, correlated: bool) -> Particles {
        let mut rng = seed.stream("particles", 0);
        let mut shift = vec![0.0; d];
        if correlated {
            rng.fill_normal(&mut shift, 1.0);
        }
        let half = m / 2;
        let (mut a, mut w) = (vec![0.0; m], vec![0.0; m * d]);
        for j in 0..half {
            let aj = rng.normal();
            a[j] = aj;
            a[j + half] = -aj;
            for k in 0..d {
                let v = shift[k] + rng.normal();
                w[j * d + k] = v;
                w[(j + half) * d + k] = v;
            }
        }
        Particles { a, w, d }
    }

    /// f(x_i) = (1/M) Σ_j a_j tanh(w_jᵀx_i) for every row of `x`.
    fn predict(&self, x: &Matrix) -> Vec<f64> {
        let m = self.a.len();
        (0..x.rows)
            .map(|i| {
                let xi = x.row(i);
                (0..m)
                    .map(|j| self.a[j] * self.pre(j, xi).tanh())
                    .sum::<f64>()
                    / m as f64
            })
            .collect()
    }

    fn pre(&self, j: usize, xi: &[f64]) -> f64 {
        let wj = &self.w[j * self.d..(j + 1) * self.d];
        wj.iter().zip(xi).map(|(a, b)| a * b).sum()
    }

    /// One particle step on L = (1/2n) Σ_i (f(x_i) − y_i)²: with r_i = f(x_i) − y_i,
    /// M ∂L/∂a_j = (1/n) Σ_i r_i tanh(w_jᵀx_i), M ∇_{w_j} L = (1/n) Σ_i r_i a_j (1 − tanh²) x_i.
    fn step(&mut self, x: &Matrix, y: &[f64], lr: f64) {
        let (m, n, d) = (self.a.len(), x.rows, self.d);
        let mut h = vec![0.0; m * n];
        let mut r = vec![0.0; n];
        for i in 0..n {
            let xi = x.row(i);
            let mut f = 0.0;
            for j in 0..m {
                let t = self.pre(j, xi).tanh();
                h[j * n + i] = t;
                f += self.a[j] * t;
            }
            r[i] = f / m as f64 - y[i];
        }
        for j in 0..m {
            let (mut ga, mut gw) = (0.0, [0.0f64; 8]);
            for i in 0..n {
                let t = h[j * n + i];
                ga += r[i] * t;
                let c = r[i] * self.a[j] * (1.0 - t * t);
                for (k, g) in gw.iter_mut().enumerate().take(d) {
                    *g += c * x.get(i, k);
                }
            }
            self.a[j] -= lr * ga / n as f64;
            for (k, g) in gw.iter().enumerate().take(d) {
                self.w[j * d + k] -= lr * g / n as f64;
            }
        }
    }
}

/// Trains one run of width `m` and returns (test predictions, initial and final train loss).
fn train(
    m: usize,
    seed: Seed,
    correlated: bool,
    x: &Matrix,
    y: &[f64],
    test: &Matrix,
) -> (Vec<f64>, f64, f64) {
    let mut p = Particles::symmetric(m, x.cols, seed, correlated);
    let loss = |p: &Particles| {
        let f = p.predict(x);
        f.iter().zip(y).map(|(a, b)| (a - b).powi(2)).sum::<f64>() / (2.0 * y.len() as f64)
    };
    let before = loss(&p);
    for _ in 0..STEPS {
        p.step(x, y, LR);
    }
    (p.predict(test), before, loss(&p))
}

/// √(mean over test points of the variance across runs) of the predictions.
fn spread(runs: &[Vec<f64>]) -> f64 {
    let (r, k) = (runs.len() as f64, runs[0].len());
    let total: f64 = (0..k)
        .map(|i| {
            let mean = runs.iter().map(|f| f[i]).sum::<f64>() / r;
            runs.iter().map(|f| (f[i] - mean).powi(2)).sum::<f64>() / (r - 1.0)
        })
        .sum();
    (total / k as f64).sqrt()
}

impl Claim for MeanFieldLimit {
    fn id(&self) -> &'static str {
        "meanfield-limit"
    }
    fn title(&self) -> &'static str {
        "particle GD converges to the mean-field flow as M → ∞ (propagation of chaos)"
    }
    fn statement(&self) -> &'static str {
        "For f = (1/M) Σ_j a_j σ(w_jᵀx), particle gradient descent with time rescaled by M, \
         θ_j ← θ_j − η M ∇_{θ_j} L, is the Wasserstein gradient flow ∂_t ρ = ∇·(ρ ∇ δF/δρ) of \
         F(ρ) = L(∫ φ(θ, ·) dρ) applied to the empirical measure of the particles; for i.i.d. \
         initial particles from ρ₀ it converges to the flow from ρ₀ as M → ∞, with fluctuations \
         of order M^{−1/2} on bounded time intervals (propagation of chaos: Mei, Montanari, \
         Nguyen 2018, Thm 3; Chizat & Bach 2018; Sirignano & Spiliopoulos 2020 for the CLT)."
    }
    fn setup(&self) -> &'static str {
        "n = 20 points on S², target a degree-2 zonal harmonic, 30 test points; tanh two-layer \
         nets f = (1/M) Σ a_j tanh(w_jᵀx) from the symmetric initialisation (M/2 draws \
         a ~ N(0, 1), w ~ N(0, I₃), each paired with (−a, w)), so that f₀ ≡ 0 at every width and \
         every spread of the predictions is produced by training; particle step η = 0.5, 200 \
         steps (the train loss falls from 0.08 to 0.04: an odd, bias-free tanh net fits only part of an even target on these points; the table has it per width). Widths 32, \
         64, 128, 256, 512, 1024, 2048, 12 independent runs each (full: 32), and one reference \
         run at M = 8192 as a proxy of the limit flow. Checks: (1) the log-log slope of the \
         spread of trained test predictions across runs against M (7 widths) is −1/2 (theorem: \
         the M^{−1/2} fluctuations of propagation of chaos; the initial spread is exactly 0); \
         (2) the log-log slope of the RMS gap between the trained predictions of width M ≤ 512 \
         (5 widths) and the reference's is −1/2 (theorem; the reference's own error adds at \
         most 1/16 of the variance at M = 512). Tolerances 0.15 and 0.25 from the 10-seed spread \
         of the slopes (std 0.029 and 0.070, ×3 = 0.09 and 0.21; the fits' own errors ≈ 0.02 and 0.05). The old check (spread of a standard initialisation, ∝ M^{−1/2} before \
         any training by the central limit theorem) and the W2 between clouds (which falls \
         like M^{−1/4} in 4 dimensions) are removed. Control: correlated-init (every run draws \
         one shared offset z ~ N(0, I₃) for all its w_j: the particles are not i.i.d. from a \
         fixed ρ₀, the initial empirical measure has no deterministic limit, and the trained \
         predictions do not concentrate as M grows)."
    }
    fn controls(&self) -> &'static [Control] {
        &[Control {
            name: "correlated-init",
            breaks: "i.i.d. initial particles from a fixed ρ₀: each run shares one random offset",
        }]
    }
    fn run(&self, ctx: &Context) -> Result<ClaimOutcome> {
        let correlated = ctx.under("correlated-init");
        let widths: [usize; 7] = [32, 64, 128, 256, 512, 1024, 2048];
        let runs = if ctx.quick { 12 } else { 32 };
        let reference_width = 8192;
        let spec = mean_field_regression(ctx.seed.0, 32, 1, 1)?;
        let data = spec.load_data(Path::new("."))?;
        let test = data
            .test
            .as_ref()
            .ok_or_else(|| Error::invalid("meanfield-limit", "the data set has no test set"))?;
        let (x, y) = (&data.train.x, &data.train.y.data);
        let (reference, _, _) = train(
            reference_width,
            ctx.seed.child("reference", 0),
            correlated,
            x,
            y,
            &test.x,
        );
        let mut table = Table::new(&[
            "width",
            "spread_trained",
            "spread_initial",
            "gap_to_reference",
            "train_loss_initial",
            "train_loss_final",
        ]);
        let mut points = Vec::new();
        for &m in &widths {
            let mut predictions = Vec::new();
            let (mut gap, mut before, mut after) = (0.0, 0.0, 0.0);
            for r in 0..runs {
                let (f, l0, l1) = train(
                    m,
                    ctx.seed.child("run", (m * 1000 + r) as u64),
                    correlated,
                    x,
                    y,
                    &test.x,
                );
                gap += f
                    .iter()
                    .zip(&reference)
                    .map(|(a, b)| (a - b).powi(2))
                    .sum::<f64>()
                    / f.len() as f64;
                before += l0 / runs as f64;
                after += l1 / runs as f64;
                predictions.push(f);
            }
            let gap = (gap / runs as f64).sqrt();
            let s = spread(&predictions);
            // f₀ ≡ 0 for every run: the initial spread is exactly zero.
            table.push(vec![m as f64, s, 0.0, gap, before, after]);
            points.push((m as f64, s, gap));
        }
        let ms: Vec<f64> = points.iter().map(|p| p.0).collect();
        let spread_fit = fit_log_log(&ms, &points.iter().map(|p| p.1).collect::<Vec<_>>())?;
        let near: Vec<&(f64, f64, f64)> = points.iter().filter(|p| p.0 <= 512.0).collect();
        let gap_fit = fit_log_log(
            &near.iter().map(|p| p.0).collect::<Vec<_>>(),
            &near.iter().map(|p| p.2).collect::<Vec<_>>(),
        )?;
        Ok(ClaimOutcome {
            checks: vec![
                Check::new(
                    "log-log slope of the spread of trained predictions across runs against M",
                    spread_fit.slope,
                    Relation::Within,
                    -0.5,
                    0.15,
                )
                .basis(Basis::Theorem)
                .control("correlated-init")
                .fit(&spread_fit),
                Check::new(
                    "log-log slope of the gap to the M = 8192 reference against M ≤ 512",
                    gap_fit.slope,
                    Relation::Within,
                    -0.5,
                    0.25,
                )
                .basis(Basis::Theorem)
                .control("correlated-init")
                .fit(&gap_fit),
            ],
            tables: vec![("spread".into(), table)],
            figures: vec![Figure::new(
                "spread",
                "trained predictions: spread across runs and gap to the M = 8192 run",
            )
            .x("width M", Scale::Log)
            .y("RMS over test points", Scale::Log)
            .markers("spread across runs", points.iter().map(|p| (p.0, p.1)))
            .markers("gap to the reference", points.iter().map(|p| (p.0, p.2)))
            .prediction(
                "∝ M^{-1/2} (fitted constant)",
                points
                    .iter()
                    .map(|p| (p.0, spread_fit.intercept.exp() * p.0.powf(-0.5))),
            )],
        })
    }
}
