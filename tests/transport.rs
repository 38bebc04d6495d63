//! Optimal transport against independent truths: brute force over permutations, strong
//! duality, exact marginals, the 1-D closed form, ε → 0 limits, the Bures closed form between
//! Gaussians, and clear errors on bad input.

mod common;
use common::{error_naming, on_threads};

use gradflow::transport::{
    cost_matrix, exact, gaussian_w2_squared, one_d, sinkhorn, sliced, wasserstein, GroundCost,
    Measure, Method,
};
use gradflow::{Error, Matrix, Rng, Seed};

fn cloud(n: usize, d: usize, shift: f64, rng: &mut Rng) -> Matrix {
    Matrix::from_fn(n, d, |_, _| rng.normal() + shift)
}

fn random_weights(n: usize, rng: &mut Rng) -> Vec<f64> {
    let w: Vec<f64> = (0..n).map(|_| 0.05 + rng.uniform()).collect();
    let s: f64 = w.iter().sum();
    w.iter().map(|v| v / s).collect()
}

/// Every permutation of 0..n (Heap's algorithm).
fn permutations(n: usize) -> Vec<Vec<usize>> {
    fn heap(k: usize, a: &mut Vec<usize>, out: &mut Vec<Vec<usize>>) {
        if k == 1 {
            out.push(a.clone());
            return;
        }
        for i in 0..k {
            heap(k - 1, a, out);
            let j = if k.is_multiple_of(2) { i } else { 0 };
            a.swap(j, k - 1);
        }
    }
    let mut out = vec![];
    heap(n, &mut (0..n).collect(), &mut out);
    out
}

#[test]
fn exact_equals_brute_force_over_permutations() {
    for n in 1..=7 {
        for trial in 0..3 {
            let mut rng = Seed(10 + trial).stream("perm", n as u64);
            let (x, y) = (cloud(n, 3, 0.0, &mut rng), cloud(n, 3, 0.3, &mut rng));
            let c = cost_matrix(&x, &y, GroundCost::SqEuclidean).unwrap();
            let w = vec![1.0 / n as f64; n];
            let sol = exact::solve(&w, &w, &c).unwrap();
            let (best, arg) = permutations(n)
                .into_iter()
                .map(|p| ((0..n).map(|i| c.get(i, p[i])).sum::<f64>() / n as f64, p))
                .min_by(|a, b| a.0.total_cmp(&b.0))
                .unwrap();
            assert!(
                (sol.cost - best).abs() <= 1e-12 * best.max(1.0),
                "n = {n}: {} vs {best}",
                sol.cost
            );
            // The optimal assignment is unique for continuous random data.
            assert_eq!(sol.assignment().unwrap(), arg, "n = {n}");
        }
    }
}

#[test]
fn exact_primal_equals_dual_with_exact_marginals_on_weighted_problems() {
    for (trial, (n, m)) in [(5, 9), (30, 45), (120, 80), (200, 200)]
        .into_iter()
        .enumerate()
    {
        let mut rng = Seed(3).stream("weighted", trial as u64);
        let (x, y) = (cloud(n, 4, 0.0, &mut rng), cloud(m, 4, 1.0, &mut rng));
        let (a, b) = (random_weights(n, &mut rng), random_weights(m, &mut rng));
        let c = cost_matrix(&x, &y, GroundCost::Euclidean).unwrap();
        let s = exact::solve(&a, &b, &c).unwrap();
        assert!(
            (s.cost - s.dual_value).abs() <= 1e-9,
            "primal {} dual {}",
            s.cost,
            s.dual_value
        );
        assert!(
            s.plan.entries.len() < n + m,
            "a basic plan has at most n + m − 1 entries"
        );
        for (got, want) in s
            .plan
            .row_sums()
            .iter()
            .zip(&a)
            .chain(s.plan.col_sums().iter().zip(&b))
        {
            assert!((got - want).abs() <= 1e-14, "marginal {got} vs {want}");
        }
        // Dual feasibility everywhere, complementary slackness on the support.
        for i in 0..n {
            for j in 0..m {
                assert!(s.f[i] + s.g[j] <= c.get(i, j) + 1e-10);
            }
        }
        for &(i, j, p) in &s.plan.entries {
            assert!(p >= 0.0);
            assert!((s.f[i] + s.g[j] - c.get(i, j)).abs() <= 1e-10);
        }
    }
}

#[test]
fn exact_handles_zero_weights_and_a_single_point() {
    let mut rng = Seed(4).stream("zeros", 0);
    let (x, y) = (cloud(6, 2, 0.0, &mut rng), cloud(4, 2, 0.0, &mut rng));
    let c = cost_matrix(&x, &y, GroundCost::SqEuclidean).unwrap();
    let a = [0.25, 0.0, 0.25, 0.0, 0.5, 0.0];
    let b = [0.5, 0.0, 0.25, 0.25];
    let s = exact::solve(&a, &b, &c).unwrap();
    assert!((s.cost - s.dual_value).abs() <= 1e-12);
    assert!(s
        .plan
        .entries
        .iter()
        .all(|&(i, j, _)| a[i] > 0.0 && b[j] > 0.0));
    let one = exact::solve(&[1.0], &b, &Matrix::from_fn(1, 4, |_, j| c.get(0, j))).unwrap();
    let direct: f64 = (0..4).map(|j| b[j] * c.get(0, j)).sum();
    assert!((one.cost - direct).abs() <= 1e-14);
}

#[test]
fn one_d_closed_form_equals_the_general_solver() {
    for (k, p) in [1.0, 2.0, 3.0, 1.5].into_iter().enumerate() {
        let mut rng = Seed(5).stream("1d", k as u64);
        let (n, m) = (37, 23);
        let (x, y) = (cloud(n, 1, 0.0, &mut rng), cloud(m, 1, 0.7, &mut rng));
        let mu = Measure::new("x", x.clone(), Some(random_weights(n, &mut rng))).unwrap();
        let nu = Measure::new("y", y.clone(), Some(random_weights(m, &mut rng))).unwrap();
        let one = one_d::wasserstein_1d(&mu, &nu, p).unwrap();
        let c = cost_matrix(&x, &y, GroundCost::for_order(p).unwrap()).unwrap();
        let general = exact::solve(&mu.weights, &nu.weights, &c).unwrap();
        assert!(
            (one.cost - general.cost).abs() <= 1e-12,
            "p = {p}: {} vs {}",
            one.cost,
            general.cost
        );
        assert!((one.plan.cost(&c) - one.cost).abs() <= 1e-12);
        for (got, want) in one.plan.row_sums().iter().zip(&mu.weights) {
            assert!((got - want).abs() <= 1e-14);
        }
        assert_eq!(one_d::wasserstein_1d_cost(&mu, &nu, p).unwrap(), one.cost);
        let w = wasserstein(&mu, &nu, p, Method::OneD).unwrap();
        assert!((w.distance - one.cost.powf(1.0 / p)).abs() <= 1e-15);
    }
    // The uniform equal-size fast path against the merge.
    let mut rng = Seed(6).stream("1d-uniform", 0);
    let mu = Measure::uniform("x", cloud(500, 1, 0.0, &mut rng)).unwrap();
    let nu = Measure::uniform("y", cloud(500, 1, 2.0, &mut rng)).unwrap();
    let fast = one_d::wasserstein_1d_cost(&mu, &nu, 2.0).unwrap();
    let merged = one_d::wasserstein_1d(&mu, &nu, 2.0).unwrap().cost;
    assert!((fast - merged).abs() <= 1e-12);
}

fn sinkhorn_problem(
    n: usize,
    m: usize,
    seed: u64,
) -> (Vec<f64>, Vec<f64>, Matrix, Measure, Measure) {
    let mut rng = Seed(seed).stream("sinkhorn", 0);
    let (x, y) = (cloud(n, 3, 0.0, &mut rng), cloud(m, 3, 0.5, &mut rng));
    let (a, b) = (random_weights(n, &mut rng), random_weights(m, &mut rng));
    let c = cost_matrix(&x, &y, GroundCost::SqEuclidean).unwrap();
    let mu = Measure::new("x", x, Some(a.clone())).unwrap();
    let nu = Measure::new("y", y, Some(b.clone())).unwrap();
    (a, b, c, mu, nu)
}

#[test]
fn sinkhorn_marginals_meet_the_stopping_rule() {
    let (a, b, c, _, _) = sinkhorn_problem(60, 40, 7);
    let opts = sinkhorn::Options::new(0.5).unwrap();
    let s = sinkhorn::solve(&a, &b, &c, &opts).unwrap();
    assert!(s.converged && s.marginal_error < opts.tol);
    let rows: Vec<f64> = (0..60).map(|i| s.plan.row(i).iter().sum()).collect();
    let cols: Vec<f64> = (0..40)
        .map(|j| (0..60).map(|i| s.plan.get(i, j)).sum())
        .collect();
    let row_err = rows
        .iter()
        .zip(&a)
        .map(|(r, a)| (r - a).abs())
        .fold(0.0, f64::max);
    let col_err = cols
        .iter()
        .zip(&b)
        .map(|(r, b)| (r - b).powi(2))
        .sum::<f64>()
        .sqrt();
    assert!(
        row_err <= 1e-15,
        "rows are exact after the row update: {row_err}"
    );
    assert!(col_err < opts.tol && (col_err - s.marginal_error).abs() < 1e-12);
    // The potentials reproduce the plan: P_ij = exp((φ_i + ψ_j − C_ij)/ε).
    let p = ((s.phi[3] + s.psi[5] - c.get(3, 5)) / 0.5).exp();
    assert!((p - s.plan.get(3, 5)).abs() <= 1e-12 * p);
    // The dual value equals the entropic value at convergence: ⟨a, φ − ε log a⟩ + ⟨b, ψ − ε log b⟩.
    let dual: f64 = a
        .iter()
        .zip(&s.phi)
        .map(|(a, f)| a * (f - 0.5 * a.ln()))
        .sum::<f64>()
        + b.iter()
            .zip(&s.psi)
            .map(|(b, g)| b * (g - 0.5 * b.ln()))
            .sum::<f64>();
    assert!(
        (dual - s.entropic).abs() <= 1e-8,
        "{dual} vs {}",
        s.entropic
    );
}

#[test]
fn sinkhorn_cost_tends_to_the_exact_cost_as_eps_vanishes() {
    let (a, b, c, _, _) = sinkhorn_problem(50, 50, 8);
    let exact = exact::solve(&a, &b, &c).unwrap().cost;
    let mut gaps = vec![];
    for eps in [1.0, 0.1, 0.01, 0.001] {
        let s = sinkhorn::solve(&a, &b, &c, &sinkhorn::Options::new(eps).unwrap()).unwrap();
        assert!(s.converged, "ε = {eps}");
        gaps.push(s.cost - exact);
    }
    // ⟨C, P_ε⟩ ≥ the exact cost (P_ε is feasible up to 1e-9) and the gap closes, roughly like ε.
    assert!(gaps.iter().all(|g| *g > -1e-8), "{gaps:?}");
    assert!(gaps.windows(2).all(|w| w[1] < w[0]), "{gaps:?}");
    assert!(gaps[3] < 1e-2 * exact, "{gaps:?} vs {exact}");
}

#[test]
fn eps_scaling_reaches_the_same_solution() {
    let (a, b, c, _, _) = sinkhorn_problem(40, 30, 9);
    let mut plain = sinkhorn::Options::new(0.05).unwrap();
    plain.tol = 1e-11;
    let mut scaled = plain.clone();
    scaled.eps_scaling = Some(0.5);
    let (p, s) = (
        sinkhorn::solve(&a, &b, &c, &plain).unwrap(),
        sinkhorn::solve(&a, &b, &c, &scaled).unwrap(),
    );
    assert!(p.converged && s.converged);
    assert!((p.cost - s.cost).abs() <= 1e-9, "{} vs {}", p.cost, s.cost);
}

#[test]
fn sinkhorn_divergence_is_nonnegative_and_zero_on_identical_measures() {
    let (_, _, _, mu, nu) = sinkhorn_problem(40, 30, 10);
    let opts = sinkhorn::Options::new(0.3).unwrap();
    let s = sinkhorn::divergence(&mu, &nu, GroundCost::SqEuclidean, &opts).unwrap();
    assert!(s > 0.0);
    let same = sinkhorn::divergence(&mu, &mu, GroundCost::SqEuclidean, &opts).unwrap();
    assert!(same.abs() <= 1e-9, "S(μ, μ) = {same}");
    // Shrinking the distance between the clouds shrinks the divergence.
    let mut closer = nu.clone();
    for i in 0..closer.len() {
        for v in closer.points.row_mut(i) {
            *v *= 0.5;
        }
    }
    let mut mu_half = mu.clone();
    mu_half.points.data.iter_mut().for_each(|v| *v *= 0.5);
    let s_half = sinkhorn::divergence(&mu_half, &closer, GroundCost::SqEuclidean, &opts).unwrap();
    assert!(s_half >= 0.0 && s_half < s);
}

#[test]
fn online_sinkhorn_equals_the_dense_solver() {
    let (a, b, c, mu, nu) = sinkhorn_problem(70, 55, 11);
    // The two modes update in a different order (dense: ψ first, online: φ first), so at a
    // common stopping tolerance they stop at different iterates; converge both tightly.
    let mut opts = sinkhorn::Options::new(0.2).unwrap();
    opts.tol = 1e-12;
    let dense = sinkhorn::solve(&a, &b, &c, &opts).unwrap();
    let online = sinkhorn::solve_online(&mu, &nu, GroundCost::SqEuclidean, &opts).unwrap();
    assert!(online.converged);
    assert!(
        (dense.cost - online.cost).abs() <= 1e-8,
        "{} vs {}",
        dense.cost,
        online.cost
    );
    assert!((dense.entropic - online.entropic).abs() <= 1e-8);
    // Potentials agree up to the constant that moves between φ and ψ (to the accuracy that a
    // marginal error of 1e-9 determines them: ε · 1e-9 / min b_j ≈ 1e-8 per unit of mass).
    let shift = dense.phi[0] - online.phi[0];
    for (d, o) in dense.phi.iter().zip(&online.phi) {
        assert!((d - o - shift).abs() <= 1e-6, "{d} {o} {shift}");
    }
}

#[test]
fn sinkhorn_is_bit_identical_across_thread_counts() {
    let (a, b, c, _, _) = sinkhorn_problem(300, 200, 12);
    let opts = sinkhorn::Options::new(0.1).unwrap();
    let run = |threads| on_threads(threads, || sinkhorn::solve(&a, &b, &c, &opts).unwrap());
    let (one, three) = (run(1), run(3));
    assert_eq!(one.cost.to_bits(), three.cost.to_bits());
    assert_eq!(one.iterations, three.iterations);
    assert_eq!(one.plan, three.plan);
}

#[test]
fn sliced_is_below_exact_and_gaussian_w2_approaches_bures() {
    let mut rng = Seed(13).stream("gauss", 0);
    let (m1, m2) = ([0.0, 0.0], [1.0, 0.5]);
    let s1 = Matrix::from_vec(2, 2, vec![1.0, 0.0, 0.0, 0.25]).unwrap();
    let s2 = Matrix::from_vec(2, 2, vec![0.5, 0.2, 0.2, 1.0]).unwrap();
    let bures = gaussian_w2_squared(&m1, &s1, &m2, &s2).unwrap();
    // Cholesky factors of the covariances, to sample.
    let l1 = [[1.0, 0.0], [0.0, 0.5]];
    let l2 = {
        let a = 0.5f64.sqrt();
        let b = 0.2 / a;
        [[a, 0.0], [b, (1.0 - b * b).sqrt()]]
    };
    let sample = |n: usize, m: [f64; 2], l: [[f64; 2]; 2], rng: &mut Rng| {
        let mut x = Matrix::zeros(n, 2);
        for i in 0..n {
            let (z0, z1) = (rng.normal(), rng.normal());
            x.set(i, 0, m[0] + l[0][0] * z0);
            x.set(i, 1, m[1] + l[1][0] * z0 + l[1][1] * z1);
        }
        x
    };
    let mut errors = vec![];
    for n in [50, 200, 800] {
        // Average over a few replicates: the empirical W2² is biased upward and noisy.
        let mut err = 0.0;
        for _ in 0..4 {
            let mu = Measure::uniform("x", sample(n, m1, l1, &mut rng)).unwrap();
            let nu = Measure::uniform("y", sample(n, m2, l2, &mut rng)).unwrap();
            let w = wasserstein(&mu, &nu, 2.0, Method::Exact).unwrap();
            let sw = sliced::sliced_wasserstein(&mu, &nu, 2.0, 64, Seed(1)).unwrap();
            assert!(sw.cost <= w.cost, "sliced {} > exact {}", sw.cost, w.cost);
            err += (w.cost - bures).abs() / 4.0;
        }
        errors.push(err);
    }
    assert!(errors[2] < errors[0], "{errors:?}");
    assert!(errors[2] < 0.1 * bures, "{errors:?} vs W2² = {bures}");
    // A closed-form sanity check of the Bures formula: commuting covariances.
    let d = gaussian_w2_squared(&[0.0, 0.0], &s1, &[0.0, 0.0], &Matrix::identity(2)).unwrap();
    assert!((d - ((1.0f64 - 1.0).powi(2) + (0.5f64 - 1.0).powi(2))).abs() < 1e-12);
}

#[test]
fn bad_input_is_a_clear_error() {
    let x = Matrix::from_fn(3, 2, |i, j| (i + j) as f64);
    let y = Matrix::from_fn(3, 3, |i, j| (i * j) as f64);
    let mu = Measure::uniform("x", x.clone()).unwrap();
    let nu = Measure::uniform("y", y).unwrap();
    let err = wasserstein(&mu, &nu, 2.0, Method::Exact).unwrap_err();
    assert!(
        matches!(err, Error::Shape { .. }) && err.to_string().contains("dimension"),
        "{err}"
    );
    let neg = Measure::new("x", x.clone(), Some(vec![0.5, -0.1, 0.6])).unwrap_err();
    assert!(
        neg.to_string().contains("≥ 0") && neg.exit_code() == 2,
        "{neg}"
    );
    let zero = Measure::new("x", x.clone(), Some(vec![0.0, 0.0, 0.0])).unwrap_err();
    assert!(zero.to_string().contains("positive"), "{zero}");
    let short = Measure::new("wx.npy", x.clone(), Some(vec![1.0, 1.0])).unwrap_err();
    assert!(short.to_string().contains("wx.npy"), "{short}");
    let mut nan = x.clone();
    nan.set(1, 1, f64::NAN);
    let e = Measure::uniform("x.npy", nan).unwrap_err();
    assert!(
        e.to_string().contains("x.npy") && e.to_string().contains("row 1"),
        "{e}"
    );
    for eps in [0.0, -1.0, f64::NAN] {
        let e = sinkhorn::Options::new(eps).unwrap_err();
        assert!(e.to_string().contains("ε") && e.exit_code() == 2, "{e}");
    }
    let c = Matrix::zeros(3, 3);
    let e = exact::solve(&[0.5, 0.5, 0.0], &[0.2, 0.2, 0.2], &c).unwrap_err();
    assert!(e.to_string().contains("same positive mass"), "{e}");
    let e = wasserstein(&mu, &mu, 0.5, Method::Exact).unwrap_err();
    assert!(e.to_string().contains("p ≥ 1"), "{e}");
    // Covariances of the Bures formula: a negative one, a non-symmetric one (it returned 0 and
    // a symmetrised answer before).
    let one = Matrix::identity(1);
    let minus = Matrix::from_fn(1, 1, |_, _| -1.0);
    let e = error_naming(gaussian_w2_squared(&[0.0], &minus, &[0.0], &one), "Σ1");
    assert!(e.contains("semidefinite"), "{e}");
    let skew = Matrix::from_vec(2, 2, vec![1.0, 0.5, 0.0, 1.0]).unwrap();
    let e = error_naming(
        gaussian_w2_squared(&[0.0; 2], &Matrix::identity(2), &[0.0; 2], &skew),
        "Σ2",
    );
    assert!(e.contains("symmetric"), "{e}");
    // Point clouds whose cost matrix no machine holds: 2^33 points each (no coordinates, so
    // the clouds themselves are empty arrays), 2^66 costs.
    let huge = Matrix::from_vec(1 << 33, 0, Vec::new()).unwrap();
    let e = error_naming(
        cost_matrix(&huge, &huge, GroundCost::SqEuclidean),
        "cost matrix",
    );
    assert!(e.contains("8589934592 × 8589934592"), "{e}");
}

#[test]
fn symmetric_solver_equals_the_alternating_one() {
    let (_, _, _, mu, _) = sinkhorn_problem(50, 10, 14);
    let c = cost_matrix(&mu.points, &mu.points, GroundCost::SqEuclidean).unwrap();
    let opts = sinkhorn::Options::new(0.4).unwrap();
    let alt = sinkhorn::solve(&mu.weights, &mu.weights, &c, &opts)
        .unwrap()
        .entropic;
    let sym = sinkhorn::solve_symmetric(&mu.weights, &c, &opts).unwrap();
    assert!((alt - sym).abs() <= 1e-8, "{alt} vs {sym}");
}

/// W2² of particle clouds beyond the exact solver's size (reached here with a limit of 1000
/// instead of the default, so that the exact value stays cheap to compare with; an uncapped
/// Sinkhorn at ε = 1e-3 · mean C used to run up to 100,000 iterations per record): a bounded
/// number of iterations, and a certified bracket that holds the exact value.
#[test]
fn particle_w2_beyond_the_exact_limit_is_bounded_and_brackets_the_exact_value() {
    use gradflow::transport::bounded::{self, ITERATION_BUDGET};
    let limit = 1000;
    let n = limit + 2;
    let mut r = Seed(12).stream("clouds", 0);
    let x = Matrix::from_fn(n, 3, |_, _| r.normal());
    let y = Matrix::from_fn(n, 3, |_, j| r.normal() + if j == 0 { 0.5 } else { 0.0 });
    let started = std::time::Instant::now();
    let b = bounded::w2_squared_with(&x, &y, limit).unwrap();
    let elapsed = started.elapsed().as_secs_f64();
    assert!(!b.exact);
    let mu = Measure::uniform("x", x).unwrap();
    let nu = Measure::uniform("y", y).unwrap();
    let truth = wasserstein(&mu, &nu, 2.0, Method::Exact).unwrap().cost;
    assert!(
        b.lower <= truth * (1.0 + 1e-12) && truth <= b.upper * (1.0 + 1e-12),
        "{} ≤ {truth} ≤ {}",
        b.lower,
        b.upper
    );
    eprintln!(
        "n = {n}: W2² = {truth}, bracket [{}, {}] (gap {:.2e} relative), {elapsed:.2} s, budget \
         {ITERATION_BUDGET} iterations",
        b.lower,
        b.upper,
        b.gap() / truth
    );
    assert!(b.gap() < 0.1 * truth, "gap {} of {truth}", b.gap());
    // Under the default limit the same clouds get the exact value.
    assert!(bounded::EXACT_LIMIT >= n);
    let exact = bounded::w2_squared(&mu.points, &nu.points).unwrap();
    assert!(exact.exact && exact.upper == truth, "{exact:?} vs {truth}");
}
