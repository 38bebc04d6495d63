//! Claim `lazy-vs-rich`: in the NTK scaling the weights barely move (lazy training, by exactly
//! the linearised model's amount); in the mean-field scaling the features move O(1) and the
//! network beats the kernel on a target that depends on one direction only.

use super::{Basis, Check, Claim, ClaimOutcome, Context, Control, Relation};
use crate::data::io::Table;
use crate::data::{synthetic, Dataset};
use crate::error::Result;
use crate::kernel::analytic::two_layer_ntk;
use crate::kernel::dynamics::{gradient_descent_mse_discrete, kernel_ridge, FlowSettings};
use crate::kernel::spectrum::Spectrum;
use crate::linalg::{distance, Matrix};
use crate::nn::{Activation, Model, TwoLayer};
use crate::report::{Figure, Scale};
use crate::rng::Seed;
use crate::stats::fit_log_log;
use crate::sweep::Sweep;
use crate::train::{Objective, Trainer};

use super::common::{gradient_descent, Predicted};

/// Weight movement against M in both scalings; test error of the rich net against the kernel.
pub struct LazyVsRich;

/// Control: the NTK-scaling runs use the mean-field scaling.
const MF_EVERYWHERE: &str = "mean-field-everywhere";
/// Control: the mean-field runs use the NTK scaling.
const NTK_EVERYWHERE: &str = "ntk-scaling-everywhere";

/// Input dimension (the sphere S^{d−1}).
const DIM: usize = 20;
/// NTK-scaling GD step.
const LR_LAZY: f64 = 1.0;
/// Mean-field particle step η (the update is −η M ∇L).
const LR_RICH: f64 = 2.0;

/// Tolerance of the NTK-scaling slope: over root seeds 0–9 its std is 0.0046 (median −0.499)
/// and each fit's standard error ≤ 0.0065; 0.03 ≥ 3 × 0.0046.
const TOL_LAZY_SLOPE: f64 = 0.03;
/// Tolerance of the mean-field slope: std 0.0081 over seeds (median −0.025, a finite-width
/// offset), fit standard errors ≤ 0.017; 0.05 ≥ 3 × 0.0081 and ≥ 2 × the largest fit error.
const TOL_RICH_SLOPE: f64 = 0.05;
/// Tolerance of the closed-form movement ratio: std 0.0033 over seeds (median 1.000).
const TOL_CLOSED_FORM: f64 = 0.02;
/// The empirical level of the mean over the 3 × 4 nets of the rich/kernel test-error ratio (its
/// median over root seeds 0–9, 0.687, min 0.582, max 0.717) and its tolerance (3 × its std over
/// seeds, 0.043, rounded up). Level + tolerance = 0.82 < 1: a pass excludes kernel parity.
const RATIO_LEVEL: f64 = 0.69;
const TOL_RATIO: f64 = 0.13;
/// Sample sizes of the generalisation comparison.
const SAMPLE_SIZES: [usize; 3] = [200, 300, 400];
/// Mean-field nets (independent initialisations) per sample size.
const NETS_PER_N: usize = 4;

/// The data of one experiment: n training and `n_test` test points uniform on S^{d−1}, target
/// y = P_{2,d}(⟨u, x⟩) for a random unit u.
fn data(seed: Seed, n: usize, n_test: usize) -> Result<(Dataset, Dataset)> {
    let mut rng = seed.stream("data", n as u64);
    let mut u = vec![0.0; DIM];
    rng.unit_vector(&mut u);
    let x = synthetic::sphere(n, DIM, &mut rng);
    let xt = synthetic::sphere(n_test, DIM, &mut rng);
    let y = synthetic::spherical_harmonic_target(&x, &u, 2);
    let yt = synthetic::spherical_harmonic_target(&xt, &u, 2);
    Ok((Dataset::new("train", x, y)?, Dataset::new("test", xt, yt)?))
}

/// One trained network: (‖θ_T − θ₀‖, ‖θ_T − θ₀‖/‖θ₀‖, relative test error ‖f − y‖²/‖y‖²).
fn train(
    seed: Seed,
    width: usize,
    rich: bool,
    steps: u64,
    train: &Dataset,
    test: &Dataset,
) -> Result<(f64, f64, f64)> {
    let model = if rich {
        TwoLayer::new(DIM, width, Activation::Relu, 1.0)?
    } else {
        TwoLayer {
            symmetric: true,
            ..TwoLayer::new(DIM, width, Activation::Relu, 0.5)?
        }
    };
    // The mean-field particle step is −η M ∇L (time rescaled by M).
    let step = if rich {
        LR_RICH * width as f64
    } else {
        LR_LAZY
    };
    let optimizer = gradient_descent(step);
    let params = model.init(&mut seed.stream("init", 0));
    let norm0 = params.iter().map(|p| p * p).sum::<f64>().sqrt();
    let trainer = Trainer::full_batch(Objective::squared(&model), &optimizer, seed, steps);
    let (state, _) = trainer.fit(params.clone(), train)?;
    let moved = distance(&state.params, &params);
    let pred = model.predict(&state.params, &test.x)?;
    Ok((moved, moved / norm0, relative_error(&pred, &test.y)))
}

/// ‖f − y‖² / ‖y‖².
fn relative_error(f: &Matrix, y: &Matrix) -> f64 {
    (distance(&f.data, &y.data) / y.frobenius_norm()).powi(2)
}

/// The best relative test error of kernel gradient descent (step `lr`) along its path — at
/// t = 1, 2, 4, … 2²⁴ steps and at t = ∞ (ridge 1e-8 · tr K/n) — with kernel k_∞: the kernel
/// method with oracle early stopping.
fn best_kernel_error(train: &Dataset, test: &Dataset, lr: f64) -> Result<f64> {
    let k = two_layer_ntk(&train.x, None, Activation::Relu)?;
    let k_te = two_layer_ntk(&test.x, Some(&train.x), Activation::Relu)?;
    let settings = FlowSettings {
        learning_rate: lr,
        ..FlowSettings::default()
    };
    let times: Vec<u64> = (0..=24).map(|p| 1u64 << p).collect();
    let path = gradient_descent_mse_discrete(&k, &k_te, &train.y, &times, &settings)?;
    let n = k.rows;
    let ridge = 1e-8 * (0..n).map(|i| k.get(i, i)).sum::<f64>() / n as f64;
    let end = kernel_ridge(&k, &k_te, &train.y, ridge)?;
    Ok(path
        .test
        .iter()
        .chain(std::iter::once(&end))
        .map(|f| relative_error(f, &test.y))
        .fold(f64::INFINITY, f64::min))
}

impl Claim for LazyVsRich {
    fn id(&self) -> &'static str {
        "lazy-vs-rich"
    }
    fn title(&self) -> &'static str {
        "NTK scaling is lazy; mean-field features move O(1) and beat the kernel on a sparse target"
    }
    fn statement(&self) -> &'static str {
        "With f = M^{−γ} Σ_j a_j σ(w_jᵀx), the NTK scaling γ = 1/2 trains in the lazy regime: the \
         net is its linearisation, so θ_T − θ₀ = Jᵀ K^{−1}(I − (I − ηK/n)^T) y with \
         ‖θ_T − θ₀‖ → the closed form √(Σ_i (1 − (1 − ηλ_i/n)^T)² (v_iᵀy)²/λ_i) of k_∞, and \
         ‖θ_T − θ₀‖/‖θ₀‖ = O(M^{−1/2}) (Jacot et al. 2018; Chizat, Oyallon & Bach 2019). The \
         mean-field scaling γ = 1 (time rescaled by M) moves every neuron O(1) independently of \
         M (feature learning; Mei, Montanari & Nguyen 2018; Chizat & Bach 2018), and on a target \
         that depends on a single direction, y = P₂(⟨u, x⟩) in d = 20, it generalises from fewer \
         samples than the kernel, which needs n ≫ d² samples to learn a degree-2 polynomial \
         (Ghorbani, Mei, Misiakiewicz & Montanari 2019)."
    }
    fn setup(&self) -> &'static str {
        "Points uniform on S¹⁹, y = P_{2,20}(⟨u, x⟩) for a random unit u; two-layer ReLU nets. \
         NTK scaling: symmetric initialisation (f₀ = 0), a_j = ±1, full-batch GD η = 1; \
         mean-field scaling: γ = 1, the particle step −η M ∇L with η = 2. (a) Movement: n = 100, \
         widths 256, 512, 1024, 2048, 4096 (full: 256 … 16384), 500 steps, one net per width \
         and scaling. Checks: least-squares slope of log ‖θ_T − θ₀‖/‖θ₀‖ against log M (5 \
         points quick, 7 full, with its standard error) = −1/2 in the NTK scaling (theorem) and \
         0 in the mean-field scaling (theorem); ‖θ_T − θ₀‖ of the widest NTK net over the \
         closed form of the linearised model with k_∞, √(Σ_i (1 − (1 − ηλ_i/n)^T)² (v_iᵀy)²/λ_i), \
         = 1 (closed form). (b) Generalisation at n = 200, 300, 400 (1000 test points, one data draw per n; the \
         kernel needs n ≫ d² = 400 for degree 2): 4 mean-field nets per n (independent \
         initialisations) at M = 512 after 1500 steps against kernel gradient descent with k_∞ \
         at its best stopping time (oracle early stopping over t = 1 … 2²⁴ and t = ∞). One \
         check: the mean over the 12 nets of the relative test error ratio net/kernel ≤ an \
         empirical level (the theorem gives no constant at these sizes: basis empirical); the \
         level is its median over root seeds 0–9, the tolerance 3 × its seed-to-seed std, and \
         level + tolerance < 1, so a pass excludes parity with the kernel. n = 100 is not \
         checked. Tolerances of (a): 3 × the seed-to-seed \
         std over root seeds 0–9 (≥ the fit errors); the mean-field slope's finite-width offset \
         (median ≈ −0.025) is inside it. Controls: 'mean-field-everywhere' (fails the NTK slope and \
         the closed form): the NTK runs use the mean-field scaling; 'ntk-scaling-everywhere' \
         (fails the mean-field slope and the test-error ratio): the mean-field runs use the \
         NTK scaling, a lazy net, i.e. the kernel method stopped at 1500 steps. A control run \
         computes only the checks that name it."
    }
    fn controls(&self) -> &'static [Control] {
        &[
            Control {
                name: MF_EVERYWHERE,
                breaks: "the NTK scaling γ = 1/2 of the lazy runs: they use the mean-field \
                         scaling γ = 1 with the particle step",
            },
            Control {
                name: NTK_EVERYWHERE,
                breaks: "the mean-field scaling γ = 1 of the rich runs: they use the NTK \
                         scaling (lazy, a kernel method)",
            },
        ]
    }
    fn run(&self, ctx: &Context) -> Result<ClaimOutcome> {
        let widths: Vec<usize> = if ctx.quick {
            (8..=12).map(|p| 1usize << p).collect()
        } else {
            (8..=14).map(|p| 1usize << p).collect()
        };
        let steps = 500u64;
        let (lazy_is_rich, rich_is_rich) = (ctx.under(MF_EVERYWHERE), !ctx.under(NTK_EVERYWHERE));
        let mut checks = Vec::new();
        let mut tables = Vec::new();
        let mut figures = Vec::new();
        // (a) Movement against width; a control run computes only the checks that name it.
        let (train_a, test_a) = data(ctx.seed, 100, 200)?;
        // The scalings run: k = 0 the NTK-scaling runs (mean-field under MF_EVERYWHERE), k = 1
        // the mean-field runs (NTK under NTK_EVERYWHERE).
        let scalings: Vec<usize> = [
            (0, ctx.under(NTK_EVERYWHERE)),
            (1, ctx.under(MF_EVERYWHERE)),
        ]
        .into_iter()
        .filter(|&(_, skipped)| !skipped)
        .map(|(k, _)| k)
        .collect();
        let grid: Vec<(usize, usize)> = scalings
            .iter()
            .flat_map(|&k| widths.iter().map(move |&m| (k, m)))
            .collect();
        // Run (k, M) is seeded by its cell:
        // ctx.seed.child("movement", 100000 k + M).child("seed", 0).
        let sweep = Sweep::new(ctx.seed, "movement", &grid, 1)
            .keyed(|_, &(k, m)| (k * 100_000 + m) as u64)
            .run(|cell| {
                let (k, m) = *cell.value;
                let rich = [lazy_is_rich, rich_is_rich][k];
                train(cell.seed(), m, rich, steps, &train_a, &test_a)
            })?;
        let mut runs = Table::new(&[
            "width",
            "rich",
            "movement",
            "relative_movement",
            "test_error",
        ]);
        let mut movement: [Vec<(f64, f64)>; 2] = [Vec::new(), Vec::new()];
        let mut widest_lazy = f64::NAN;
        for row in &sweep.rows {
            let ((k, m), (moved, relative, test)) = (row.value, row.result);
            runs.push(vec![m as f64, k as f64, moved, relative, test]);
            movement[k].push((m as f64, relative));
            if k == 0 {
                widest_lazy = moved;
            }
        }
        let range = format!("M = {} … {}", widths[0], widths[widths.len() - 1]);
        let labels = ["NTK scaling", "mean-field scaling"];
        let predicted = [-0.5, 0.0];
        let tolerances = [TOL_LAZY_SLOPE, TOL_RICH_SLOPE];
        let owners = [MF_EVERYWHERE, NTK_EVERYWHERE];
        let mut fig = Figure::new("movement", "relative weight movement against width")
            .x("width M", Scale::Log)
            .y("‖θ_T − θ₀‖ / ‖θ₀‖", Scale::Log);
        for &k in &scalings {
            let (xs, ys): (Vec<f64>, Vec<f64>) = movement[k].iter().copied().unzip();
            let fit = fit_log_log(&xs, &ys)?;
            checks.push(
                Check::new(
                    format!(
                        "{}: slope of log relative movement against log M ({range})",
                        labels[k]
                    ),
                    fit.slope,
                    Relation::Within,
                    predicted[k],
                    tolerances[k],
                )
                .basis(Basis::Theorem)
                .control(owners[k])
                .fit(&fit),
            );
            fig = fig
                .markers(labels[k], movement[k].iter().copied())
                .predicted_slope(predicted[k], labels[k], labels[k]);
        }
        figures.push(fig);
        if !ctx.under(NTK_EVERYWHERE) {
            let k_inf = two_layer_ntk(&train_a.x, None, Activation::Relu)?;
            let closed = Spectrum::of(&k_inf)?.linearised_distance(
                &train_a.y.data,
                LR_LAZY / train_a.len() as f64,
                steps,
            )?;
            checks.push(
                Check::new(
                    format!(
                        "NTK scaling, M = {}: ‖θ_T − θ₀‖ / linearised closed form with k_∞",
                        widths[widths.len() - 1]
                    ),
                    widest_lazy / closed,
                    Relation::Within,
                    1.0,
                    TOL_CLOSED_FORM,
                )
                .basis(Basis::ClosedForm)
                .control(MF_EVERYWHERE),
            );
        }
        tables.push(("runs".into(), runs));

        // (b) Test error of the rich nets against the best early-stopped kernel, at three n.
        if !ctx.under(MF_EVERYWHERE) {
            // Sample size n: data seeded by ctx.seed.child("generalisation", n) (shared by the
            // n's nets and its kernel), net r by that seed's child("seed", r).
            let kernels = Sweep::new(ctx.seed, "generalisation", &SAMPLE_SIZES, 1)
                .keyed(|_, &n| n as u64)
                .run(|cell| {
                    let (train_b, test_b) = data(cell.point_seed, *cell.value, 1000)?;
                    let kernel_err = best_kernel_error(&train_b, &test_b, LR_LAZY)?;
                    Ok((train_b, test_b, kernel_err))
                })?;
            let nets = Sweep::new(ctx.seed, "generalisation", &SAMPLE_SIZES, NETS_PER_N)
                .keyed(|_, &n| n as u64)
                .run(|cell| {
                    let (train_b, test_b, _) = &kernels.rows[cell.index].result;
                    let (_, _, rich_err) =
                        train(cell.seed(), 512, rich_is_rich, 1500, train_b, test_b)?;
                    Ok(rich_err)
                })?;
            let mut gen =
                Table::new(&["n", "net", "rich_test_error", "kernel_test_error", "ratio"]);
            let mut ratios = Vec::new();
            for row in &nets.rows {
                let kernel_err = kernels.rows[row.index].result.2;
                let ratio = row.result / kernel_err;
                gen.push(vec![
                    row.value as f64,
                    row.replicate as f64,
                    row.result,
                    kernel_err,
                    ratio,
                ]);
                ratios.push((row.value as f64, ratio));
            }
            let mean_ratio = ratios.iter().map(|&(_, r)| r).sum::<f64>() / ratios.len() as f64;
            checks.push(
                Check::new(
                    format!(
                        "mean over n = 200, 300, 400 and {NETS_PER_N} nets each of mean-field \
                         test error / best early-stopped kernel's (empirical level; level + \
                         tolerance < 1 excludes kernel parity)"
                    ),
                    mean_ratio,
                    Relation::AtMost,
                    RATIO_LEVEL,
                    TOL_RATIO,
                )
                .basis(Basis::Empirical)
                .control(NTK_EVERYWHERE),
            );
            figures.push(
                Figure::new(
                    "generalisation",
                    "mean-field nets' relative test error over the best kernel's",
                )
                .x("n", Scale::Log)
                .y("ratio", Scale::Linear)
                .markers("mean-field / kernel (each net)", ratios.iter().copied())
                .prediction(
                    "kernel parity (1)",
                    SAMPLE_SIZES.iter().map(|&n| (n as f64, 1.0)),
                ),
            );
            tables.push(("generalisation".into(), gen));
        }
        Ok(ClaimOutcome {
            checks,
            tables,
            figures,
        })
    }
}
