//! Transport benchmarks on the data written by bench/anchors/transport_pot.py (so that POT and
//! gradflow solve the same problems): exact OT, dense log-domain Sinkhorn at ε = 0.05·mean(C)
//! and 1-D W_2 on 10^6 samples, plus the scale runs (exact 10⁴ × 10⁴ and online Sinkhorn) when
//! GRADFLOW_BENCH_SCALE=1. One JSON line per measurement: {"bench", "impl", "seconds", "value"}.

mod common;

use gradflow::data::io::read_npy_matrix;
use gradflow::transport::{cost_matrix, exact, one_d, sinkhorn, GroundCost, Measure};
use std::path::PathBuf;
use std::time::Instant;

fn emit(bench: &str, seconds: f64, value: f64, extra: &str) {
    println!(
        "{{\"bench\": \"{bench}\", \"impl\": \"gradflow\", \"seconds\": {seconds:.6}, \"value\": {value:.17e}{extra}}}"
    );
}

fn main() -> gradflow::Result<()> {
    let threads = common::init_threads();
    let dir = PathBuf::from(
        std::env::var("GRADFLOW_TRANSPORT_DATA")
            .unwrap_or_else(|_| "target/transport-bench".into()),
    );
    let x = read_npy_matrix(&dir.join("x.npy"))?;
    let y = read_npy_matrix(&dir.join("y.npy"))?;
    let (n, m) = (x.rows, y.rows);
    let (a, b) = (vec![1.0 / n as f64; n], vec![1.0 / m as f64; m]);
    let c = cost_matrix(&x, &y, GroundCost::SqEuclidean)?;
    let mut value = 0.0;
    let mut pivots = 0;
    let t = common::median_of_3(|| {
        let s = exact::solve(&a, &b, &c).expect("exact");
        value = s.cost;
        pivots = s.pivots;
    });
    emit(
        "exact_2000",
        t,
        value,
        &format!(", \"pivots\": {pivots}, \"threads\": {threads}"),
    );

    let reg = 0.05 * c.data.iter().sum::<f64>() / c.data.len() as f64;
    let opts = sinkhorn::Options::new(reg)?;
    let mut iters = 0;
    let t = common::median_of_3(|| {
        let s = sinkhorn::solve(&a, &b, &c, &opts).expect("sinkhorn");
        value = s.cost;
        iters = s.iterations;
    });
    emit(
        "sinkhorn_2000",
        t,
        value,
        &format!(", \"iterations\": {iters}, \"threads\": {threads}"),
    );

    let x1 = read_npy_matrix(&dir.join("x1d.npy"))?;
    let y1 = read_npy_matrix(&dir.join("y1d.npy"))?;
    let (mu, nu) = (Measure::uniform("x1d", x1)?, Measure::uniform("y1d", y1)?);
    let t = common::median_of_3(|| value = one_d::wasserstein_1d_cost(&mu, &nu, 2.0).expect("1d"));
    emit("w1d_1e6", t, value, &format!(", \"threads\": {threads}"));

    if std::env::var("GRADFLOW_BENCH_SCALE").is_ok_and(|v| v == "1") {
        scale(threads)?;
    }
    Ok(())
}

fn scale(threads: usize) -> gradflow::Result<()> {
    let mut rng = gradflow::Seed(1).stream("scale", 0);
    let d = 10;
    let cloud = |n: usize, shift: f64, rng: &mut gradflow::Rng| {
        gradflow::Matrix::from_fn(n, d, |_, _| rng.normal() + shift)
    };
    let n = 10_000;
    let (x, y) = (cloud(n, 0.0, &mut rng), cloud(n, 0.5, &mut rng));
    let start = Instant::now();
    let c = cost_matrix(&x, &y, GroundCost::SqEuclidean)?;
    let w = vec![1.0 / n as f64; n];
    let s = exact::solve(&w, &w, &c)?;
    emit(
        "exact_10000",
        start.elapsed().as_secs_f64(),
        s.cost,
        &format!(", \"pivots\": {}, \"threads\": {threads}", s.pivots),
    );
    drop(c);
    let n = 100_000;
    let (x, y) = (cloud(n, 0.0, &mut rng), cloud(n, 0.5, &mut rng));
    let (mu, nu) = (Measure::uniform("x", x)?, Measure::uniform("y", y)?);
    // To the tolerance 1e-6: each iteration is two passes over the 10^10 pairs.
    let mut opts = sinkhorn::Options::new(1.0)?;
    opts.tol = 1e-6;
    let start = Instant::now();
    let s = sinkhorn::solve_online(&mu, &nu, GroundCost::SqEuclidean, &opts)?;
    emit(
        "online_sinkhorn_100000",
        start.elapsed().as_secs_f64(),
        s.cost,
        &format!(
            ", \"iterations\": {}, \"marginal_error\": {:e}, \"threads\": {threads}",
            s.iterations, s.marginal_error
        ),
    );
    Ok(())
}
