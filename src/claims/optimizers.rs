//! Claim `optimizers`: the document's momentum and Nesterov follow their two-term recursions
//! exactly and contract at the accelerated rates 1 − O(1/√κ), against 1 − 1/κ for gradient
//! descent; every optimizer trains a deep net (the figure).

use super::{Basis, Check, Claim, ClaimOutcome, Context, Control, Relation};
use crate::data::io::Table;
use crate::data::synthetic::orthonormal;
use crate::error::{Error, Result};
use crate::linalg::Matrix;
use crate::optim::{Momentum, Nesterov, Optimizer, Points, Sgd, StepContext, TorchSgd, Transform};
use crate::report::{Figure, Scale};
use crate::rng::Seed;
use crate::spec::{run, Spec};
use crate::stats::fit_linear;
use std::path::Path;

/// The document's optimizers on a quadratic, against closed forms and rates.
pub struct Optimizers;

/// Dimension of the quadratics.
const DIM: usize = 20;
/// Condition number κ = L/μ of the rate experiment (μ = 0.01, L = 1).
const KAPPA: f64 = 100.0;
/// The parameters are tuned for κ̂ = 1.2 κ (a safe over-estimate), which keeps every mode of
/// heavy ball and Nesterov strictly under-damped, so the spectral radius is the rate exactly.
const KAPPA_HAT: f64 = 1.2 * KAPPA;
/// Steps of the trajectory comparison.
const TRAJ_STEPS: usize = 300;
/// Tolerance of the trajectory comparison (round-off: see `setup`).
const TRAJ_TOL: f64 = 1e-12;
/// Tolerance of the rate ratios (1 − ρ̂)/(1 − ρ).
const RATE_TOL: f64 = 0.01;

/// (name, `[[optimizer]]` table) of every optimizer of the deep-net figure.
const OPTIMIZERS: [(&str, &str); 6] = [
    ("sgd", "kind = \"sgd\"\nlr = 1.0"),
    ("momentum", "kind = \"momentum\"\nlr = 1.0\ntheta = 0.9"),
    ("nesterov", "kind = \"nesterov\"\nlr = 1.0\ntheta = 0.9"),
    ("adagrad", "kind = \"adagrad\"\nlr = 0.05"),
    ("rmsprop", "kind = \"rmsprop\"\nlr = 0.002"),
    ("adam", "kind = \"adam\"\nlr = 0.005"),
];

/// The quadratic L(w) = ½ wᵀ H w, H = Q diag(λ) Qᵀ (minimiser 0, so iterates keep full
/// relative precision as they shrink).
struct Quadratic {
    q: Matrix,
    lambda: Vec<f64>,
}

impl Quadratic {
    fn gradient(&self, w: &[f64]) -> Vec<f64> {
        // H w = Q (λ ∘ Qᵀ w).
        let e = self.coords(w);
        (0..DIM)
            .map(|i| {
                (0..DIM)
                    .map(|k| self.q.get(i, k) * self.lambda[k] * e[k])
                    .sum()
            })
            .collect()
    }
    /// Eigen-coordinates Qᵀ w.
    fn coords(&self, w: &[f64]) -> Vec<f64> {
        (0..DIM)
            .map(|k| (0..DIM).map(|i| self.q.get(i, k) * w[i]).sum())
            .collect()
    }
}

/// Runs the optimizer chain for `steps` steps (the training loop's order: gradient at the
/// transform's points, update, θ ← θ + Δθ), returning the iterates in eigen-coordinates.
fn trajectory(opt: &Optimizer, f: &Quadratic, w0: &[f64], steps: usize) -> Vec<Vec<f64>> {
    let mut w = w0.to_vec();
    let mut states = opt.init(&w);
    let mut points = Points::default();
    let mut out = vec![f.coords(&w)];
    for t in 0..steps {
        let ctx = StepContext {
            step: t as u64,
            seed: Seed(0),
        };
        opt.gradient_points(&w, &states, &ctx, &mut points);
        let mut g = if points.is_empty() {
            f.gradient(&w)
        } else {
            let mut sum = [0.0; DIM];
            for p in points.as_slice() {
                sum.iter_mut().zip(f.gradient(p)).for_each(|(a, b)| *a += b);
            }
            sum.iter().map(|v| v / points.len() as f64).collect()
        };
        opt.update(&mut g, &mut states, &w, &ctx);
        w.iter_mut().zip(&g).for_each(|(p, d)| *p += d);
        out.push(f.coords(&w));
    }
    out
}

/// The closed form of e_{t+1} = a e_t − b e_{t−1} from e₀, e₁: with the roots of r² − a r + b,
/// complex (a² < 4b): e_t = ρ^t (e₀ cos tφ + (e₁/ρ − e₀ cos φ)/sin φ · sin tφ), ρ = √b,
/// cos φ = a/(2ρ); real and distinct: e_t = ((e₁ − r₂e₀) r₁^t − (e₁ − r₁e₀) r₂^t)/(r₁ − r₂);
/// double: e_t = r^t (e₀ + t (e₁/r − e₀)).
fn two_term(a: f64, b: f64, e0: f64, e1: f64, t: usize) -> f64 {
    let disc = a * a - 4.0 * b;
    let ti = t as i32;
    if disc < -1e-12 {
        let rho = b.sqrt();
        let cos = a / (2.0 * rho);
        let phi = cos.clamp(-1.0, 1.0).acos();
        let tf = t as f64;
        rho.powi(ti)
            * (e0 * (tf * phi).cos() + (e1 / rho - e0 * cos) / phi.sin() * (tf * phi).sin())
    } else if disc > 1e-12 {
        let s = disc.sqrt();
        let (r1, r2) = ((a + s) / 2.0, (a - s) / 2.0);
        ((e1 - r2 * e0) * r1.powi(ti) - (e1 - r1 * e0) * r2.powi(ti)) / (r1 - r2)
    } else {
        let r = a / 2.0;
        r.powi(ti) * (e0 + t as f64 * (e1 / r - e0))
    }
}

/// The document's recursion per eigen-direction λ with c = (1 − θ)ηλ:
/// momentum e_{t+1} = (1 + θ − c) e_t − θ e_{t−1}; Nesterov (gradient at w_t + θΔw_{t−1})
/// e_{t+1} = (1 − c)(1 + θ) e_t − θ(1 − c) e_{t−1}; both with e₁ = (1 − c) e₀ (Δw₀ = 0).
fn closed_form(nesterov: bool, theta: f64, lr: f64, lambda: f64, e0: f64, t: usize) -> f64 {
    let c = (1.0 - theta) * lr * lambda;
    let (a, b) = if nesterov {
        ((1.0 - c) * (1.0 + theta), theta * (1.0 - c))
    } else {
        (1.0 + theta - c, theta)
    };
    two_term(a, b, e0, (1.0 - c) * e0, t)
}

/// Window of the upper envelope: longer than the slowest oscillation period (≈ 150 steps).
const ENVELOPE: usize = 200;

/// The measured per-step contraction: the slope of log of the upper envelope
/// max_{t ≤ s ≤ t + 200} ‖(e_s, e_{s−1})‖ over t in [from, to] (every step), so that the
/// oscillation of under-damped modes does not bias the fit (and a growing sequence keeps its
/// growth rate). `traj` must reach step to + 200. Returns (ρ̂ = exp(slope), fit).
fn contraction(
    traj: &[Vec<f64>],
    from: usize,
    to: usize,
) -> Result<(f64, crate::stats::LinearFit)> {
    let norms: Vec<f64> = (1..traj.len())
        .map(|t| {
            traj[t]
                .iter()
                .chain(&traj[t - 1])
                .map(|v| v * v)
                .sum::<f64>()
                .sqrt()
        })
        .collect();
    let (x, y): (Vec<f64>, Vec<f64>) = (from..to)
        .map(|t| {
            let top = norms[t.min(norms.len())..(t + ENVELOPE).min(norms.len())]
                .iter()
                .fold(0.0f64, |m, &v| m.max(v));
            (t as f64, top.ln())
        })
        .unzip();
    let fit = fit_linear(&x, &y)?;
    Ok((fit.slope.exp(), fit))
}

fn chain(t: impl Transform + 'static) -> Optimizer {
    Optimizer::chain(vec![Box::new(t)])
}

impl Optimizers {
    /// Trains the deep net of the figure with every optimizer (normal run only).
    fn deep_net(ctx: &Context) -> Result<(Table, Figure)> {
        let steps = if ctx.quick { 1500 } else { 6000 };
        let mut figure = Figure::new("loss_curves", "training loss of each optimizer (deep net)")
            .x("step", Scale::Linear)
            .y("training loss", Scale::Log);
        let mut curves = Table::new(&["optimizer", "step", "train_loss"]);
        for (k, (name, table)) in OPTIMIZERS.iter().enumerate() {
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
            let t = &outcome
                .trials
                .first()
                .ok_or_else(|| Error::invalid("optimizers", "no trial"))?
                .table;
            let steps_col = t.column("step")?;
            let losses = t.column("train_loss")?;
            for (s, l) in steps_col.iter().zip(&losses) {
                curves.push(vec![k as f64, *s, *l]);
            }
            figure = figure.line(name, steps_col.iter().copied().zip(losses.iter().copied()));
        }
        Ok((curves, figure))
    }
}

impl Claim for Optimizers {
    fn id(&self) -> &'static str {
        "optimizers"
    }
    fn title(&self) -> &'static str {
        "momentum and Nesterov: exact two-term recursions and accelerated rates; all optimizers train a deep net"
    }
    fn statement(&self) -> &'static str {
        "The document's momentum Δw_t = θΔw_{t−1} − (1−θ)η g_t and Nesterov's look-ahead variant \
         (g_t = ∇L(w_t + θΔw_{t−1})) are, on a quadratic ½wᵀHw, linear two-term recursions per \
         eigen-direction λ (c = (1−θ)ηλ): heavy ball e_{t+1} = (1+θ−c)e_t − θe_{t−1}, Nesterov \
         e_{t+1} = (1−c)(1+θ)e_t − θ(1−c)e_{t−1}. Their per-step contraction is the spectral \
         radius of that recursion: gradient descent with η = 1/L contracts by 1 − 1/κ, heavy ball \
         with (1−θ)η = 4/(√L+√μ)² and θ ≈ ((√κ−1)/(√κ+1))² by √θ ≈ 1 − 2/√κ (Polyak 1964), \
         Nesterov with (1−θ)η = 1/L and θ ≈ (√κ−1)/(√κ+1) by √(θ(1−1/κ)) ≈ 1 − 1/√κ \
         (Nesterov 1983). SGD, momentum, Nesterov, AdaGrad, RMSprop and Adam all train a deep net."
    }
    fn setup(&self) -> &'static str {
        "Quadratics in d = 20, H = Q diag(λ) Qᵀ with a random rotation Q and w₀ ~ N(0, I) \
         (minimiser 0). (a) Trajectories: λ log-spaced in [0.01, 1], the library's momentum and \
         Nesterov transforms with θ = 0.9, η = 1 (the deep-net figure's setting), 300 steps, \
         compared in eigen-coordinates with the closed form of the two-term recursion (roots of \
         r² − ar + b); check (closed form): max_t,i |e_t,i − closed form| / max_i |e_0,i| ≈ 0 ± \
         10⁻¹² (round-off: measured ≤ 6·10⁻¹⁴ over seeds 0–9, std 1.3·10⁻¹⁴). (b) Rates: λ = μ = 0.01 once and 19 values \
         log-spaced in [0.1, 1] (L = 1, κ = 100, the slowest mode isolated); GD η = 1/L; heavy \
         ball (1−θ)η = 4/(√L+√μ)², θ = ((√κ̂−1)/(√κ̂+1))²; Nesterov (1−θ)η = 1/L, \
         θ = (√κ̂−1)/(√κ̂+1), with κ̂ = 1.2κ (a safe over-estimate: every mode strictly \
         under-damped, so the spectral radius is exactly √θ resp. √(θ(1−1/κ)); predicted 0.99, \
         0.8327, 0.9079). The measured contraction ρ̂ is exp of the slope of log of the upper \
         envelope max_{t≤s≤t+200}‖(e_s, e_{s−1})‖ (longer than the slowest oscillation period), fitted at every step over t ∈ [100, 1500] \
         (GD), [20, 400] (heavy ball), [100, 1000] (Nesterov); check (theorem): \
         (1 − ρ̂)/(1 − ρ) ≈ 1 ± 0.01 for each, with the fit's standard error (≤ 8·10⁻⁴; seed std ≤ 10⁻⁴; the envelope fit biases Nesterov's by 0.1 %). The deep net: \
         n = 128 points on S⁴, a tanh teacher 5 → 16 → 1, a tanh MLP 5 → 64 → 64 → 1 trained by \
         each of the six optimizers (figure only; quick 1500 steps, full 6000). Controls: \
         `torch-form` — the library's PyTorch-convention momentum (b₁ = g₁, Δw = −ηb, and \
         PyTorch's Nesterov) run in place of the document's form, against the document's closed \
         form (the update-rule hypothesis); `no-momentum` — θ = 0 with the GD step η = 1/L in \
         heavy ball and Nesterov (the hypothesis θ ≈ 1 − O(1/√κ) of the accelerated rates \
         broken: they become gradient descent); `step-above-2/L` — GD with η = 2.2/L > 2/L (the \
         stability hypothesis of the 1 − 1/κ rate). The old check (final loss ≤ 1% of the \
         initial one, which plain SGD also passes) and its learning-rate ÷ 10⁴ control are gone."
    }
    fn controls(&self) -> &'static [Control] {
        &[
            Control {
                name: "torch-form",
                breaks: "PyTorch's momentum and Nesterov (b₁ = g₁, no (1−θ) factor) in place of \
                         the document's update rule",
            },
            Control {
                name: "no-momentum",
                breaks: "θ = 0 with η = 1/L: heavy ball and Nesterov reduce to gradient descent, \
                         no acceleration hypothesis",
            },
            Control {
                name: "step-above-2/L",
                breaks: "gradient descent with η = 2.2/L > 2/L: the stability hypothesis of the \
                         1 − 1/κ contraction",
            },
        ]
    }
    fn run(&self, ctx: &Context) -> Result<ClaimOutcome> {
        let mut rng = ctx.seed.stream("optimizers-quadratic", 0);
        let q = orthonormal(DIM, DIM, &mut rng);
        let mut w0 = vec![0.0; DIM];
        rng.fill_normal(&mut w0, 1.0);
        let mut checks = Vec::new();
        let mut tables = Vec::new();
        let mut figures = Vec::new();

        // (a) Trajectories against the closed form.
        let traj_f = Quadratic {
            q: q.clone(),
            lambda: (0..DIM)
                .map(|k| 0.01 * 100f64.powf(k as f64 / (DIM - 1) as f64))
                .collect(),
        };
        let (theta, lr) = (0.9, 1.0);
        let mut deviations = Table::new(&["method", "step", "max_abs_deviation"]);
        for (k, nesterov) in [false, true].into_iter().enumerate() {
            let opt = if ctx.under("torch-form") {
                chain(TorchSgd {
                    lr: lr.into(),
                    momentum: theta,
                    dampening: 0.0,
                    nesterov,
                    weight_decay: 0.0,
                })
            } else if nesterov {
                chain(Nesterov {
                    theta,
                    lr: lr.into(),
                })
            } else {
                chain(Momentum {
                    theta,
                    lr: lr.into(),
                })
            };
            let traj = trajectory(&opt, &traj_f, &w0, TRAJ_STEPS);
            let e0 = &traj[0];
            let scale = e0.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            let mut worst = 0.0f64;
            for (t, e) in traj.iter().enumerate() {
                let dev = (0..DIM)
                    .map(|i| {
                        (e[i] - closed_form(nesterov, theta, lr, traj_f.lambda[i], e0[i], t)).abs()
                    })
                    .fold(0.0f64, f64::max)
                    / scale;
                worst = if dev.is_nan() { dev } else { worst.max(dev) };
                if t % 10 == 0 {
                    deviations.push(vec![k as f64, t as f64, dev]);
                }
            }
            let name = if nesterov { "Nesterov" } else { "momentum" };
            checks.push(
                Check::new(
                    format!("{name} (θ = 0.9, η = 1): max deviation from the two-term closed form / max|e₀|"),
                    worst,
                    Relation::Within,
                    0.0,
                    TRAJ_TOL,
                )
                .basis(Basis::ClosedForm)
                .control("torch-form"),
            );
        }
        tables.push(("trajectory_deviation".into(), deviations));

        // (b) Contraction rates on an ill-conditioned quadratic.
        let (mu, l): (f64, f64) = (1.0 / KAPPA, 1.0);
        let mut lambda = vec![mu];
        lambda.extend((0..DIM - 1).map(|k| 0.1 * 10f64.powf(k as f64 / (DIM - 2) as f64)));
        let rate_f = Quadratic { q, lambda };
        let sk = KAPPA_HAT.sqrt();
        let hb_theta = ((sk - 1.0) / (sk + 1.0)).powi(2);
        let hb_alpha = 4.0 / (l.sqrt() + mu.sqrt()).powi(2);
        let nv_theta = (sk - 1.0) / (sk + 1.0);
        let nv_alpha = 1.0 / l;
        let no_momentum = ctx.under("no-momentum");
        let gd_lr = if ctx.under("step-above-2/L") {
            2.2 / l
        } else {
            1.0 / l
        };
        let (hb, nv) = if no_momentum {
            (
                chain(Momentum {
                    theta: 0.0,
                    lr: (1.0 / l).into(),
                }),
                chain(Nesterov {
                    theta: 0.0,
                    lr: (1.0 / l).into(),
                }),
            )
        } else {
            (
                chain(Momentum {
                    theta: hb_theta,
                    lr: (hb_alpha / (1.0 - hb_theta)).into(),
                }),
                chain(Nesterov {
                    theta: nv_theta,
                    lr: (nv_alpha / (1.0 - nv_theta)).into(),
                }),
            )
        };
        let gd = chain(Sgd { lr: gd_lr.into() });
        let runs: [(&str, &Optimizer, f64, usize, usize, &'static str); 3] = [
            (
                "gradient descent (η = 1/L)",
                &gd,
                1.0 - mu / l,
                100,
                1500,
                "step-above-2/L",
            ),
            ("heavy ball", &hb, hb_theta.sqrt(), 20, 400, "no-momentum"),
            (
                "Nesterov",
                &nv,
                (nv_theta * (1.0 - nv_alpha * mu)).sqrt(),
                100,
                1000,
                "no-momentum",
            ),
        ];
        let mut rates = Table::new(&["method", "predicted_rho", "measured_rho", "slope_se"]);
        let mut figure = Figure::new(
            "contraction",
            "‖(e_t, e_{t−1})‖ on the κ = 100 quadratic: GD against heavy ball and Nesterov",
        )
        .x("step", Scale::Linear)
        .y("‖(e_t, e_{t−1})‖", Scale::Log);
        for (k, (name, opt, rho, from, to, control)) in runs.into_iter().enumerate() {
            let traj = trajectory(opt, &rate_f, &w0, to + ENVELOPE + 1);
            let (measured, fit) = contraction(&traj, from, to)?;
            rates.push(vec![k as f64, rho, measured, fit.slope_std_error]);
            let norm0 = (traj[0].iter().map(|v| v * v).sum::<f64>()).sqrt();
            figure = figure
                .line(
                    name,
                    (1..traj.len()).step_by(5).map(|t| {
                        let s = traj[t]
                            .iter()
                            .chain(&traj[t - 1])
                            .map(|v| v * v)
                            .sum::<f64>()
                            .sqrt();
                        (t as f64, s.max(1e-300))
                    }),
                )
                .prediction(
                    &format!("{name}: ρ^t"),
                    (0..=to)
                        .step_by(50)
                        .map(|t| (t as f64, norm0 * rho.powi(t as i32))),
                );
            // ρ̂ = exp(slope): se(1 − ρ̂) = ρ̂ se(slope); in units of 1 − ρ.
            let se = measured * fit.slope_std_error / (1.0 - rho);
            checks.push(
                Check::new(
                    format!("{name}: (1 − ρ̂)/(1 − ρ), ρ = {rho:.4}"),
                    (1.0 - measured) / (1.0 - rho),
                    Relation::Within,
                    1.0,
                    RATE_TOL,
                )
                .basis(Basis::Theorem)
                .std_error(se)
                .control(control),
            );
        }
        tables.push(("rates".into(), rates));
        figures.push(figure);

        if ctx.control.is_none() {
            let (curves, figure) = Self::deep_net(ctx)?;
            tables.push(("loss_curves".into(), curves));
            figures.push(figure);
        }
        Ok(ClaimOutcome {
            checks,
            tables,
            figures,
        })
    }
}
