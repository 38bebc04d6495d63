//! Benchmark: full-batch gradient descent on the two-layer NTK-scaled ReLU net
//! f(x) = M^{−1/2} Σ_j a_j relu(w_jᵀx), both layers trained, squared loss, f64,
//! M = 4096, n = 1000, d = 100, 200 steps — the workload of `bench/anchors/train_step_*.py`.
//! Also measures the GEMM throughput of the same two products, to report the step's fraction
//! of it. Prints one JSON line per measurement; `bench/run.sh` collects them.
//!
//! `cargo bench --bench train_step` (threads: GRADFLOW_BENCH_THREADS, default 2).

mod common;

use gradflow::commands::Cancel;
use gradflow::data::Dataset;
use gradflow::linalg::{gemm, gemm_slice, view, Matrix, Threads};
use gradflow::nn::{Activation, Model, TwoLayer};
use gradflow::optim::{Optimizer, Sgd};
use gradflow::rng::Seed;
use gradflow::train::{Objective, Trainer};
use rayon::prelude::*;
use std::time::Instant;

const N: usize = 1000;
const D: usize = 100;
const M: usize = 4096;
const STEPS: u64 = 200;
/// Neurons per block of the step's passes.
const BLOCK: usize = 128;

fn main() {
    let threads = common::init_threads();
    let steps: u64 = std::env::var("GRADFLOW_BENCH_STEPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(STEPS);

    let mut rng = Seed(0).stream("bench", 0);
    let x = Matrix::from_fn(N, D, |_, _| rng.normal() / (D as f64).sqrt());
    let y = Matrix::from_fn(N, 1, |_, _| rng.normal());
    let data = Dataset::new("bench", x, y).expect("finite data");

    // GEMM throughput of the step's two products (H = X Wᵀ and ∂Wᵀ = Xᵀ Δ), same shapes and
    // orientations as the training step.
    let w = Matrix::from_fn(M, D, |_, _| rng.normal());
    let delta = Matrix::from_fn(N, M, |_, _| rng.normal());
    let mut h = Matrix::zeros(N, M);
    let mut gw = Matrix::zeros(D, M);
    let flop = 2.0 * (2.0 * (N * D * M) as f64);
    let reps = 20;
    for _ in 0..3 {
        gemm(&mut h, 0.0, data.x.view(), w.view().transpose(), 1.0);
        gemm(&mut gw, 0.0, data.x.view().transpose(), delta.view(), 1.0);
    }
    let start = Instant::now();
    for _ in 0..reps {
        gemm(&mut h, 0.0, data.x.view(), w.view().transpose(), 1.0);
        gemm(&mut gw, 0.0, data.x.view().transpose(), delta.view(), 1.0);
    }
    let gemm_seconds = start.elapsed().as_secs_f64() / reps as f64;
    let gemm_gflops = flop / gemm_seconds / 1e9;
    println!(
        "{{\"bench\": \"gemm_pair\", \"impl\": \"gradflow (faer)\", \"seconds\": {gemm_seconds:.6}, \"gflops\": {gemm_gflops:.2}, \"threads\": {threads}}}"
    );

    // The same two products the way the step runs them: neuron-major, in blocks of 128 neurons,
    // one single-threaded faer GEMM per block and block per core (Hᵀ = W Xᵀ, ∂W = Δᵀ X).
    let xt = data.x.transpose();
    let mut ht = Matrix::zeros(M, N);
    let mut gw_rows = Matrix::zeros(M, D);
    let delta_t = delta.transpose();
    let blocked = |ht: &mut Matrix, gw_rows: &mut Matrix| {
        ht.data
            .par_chunks_mut(BLOCK * N)
            .zip(w.data.par_chunks(BLOCK * D))
            .for_each(|(h, wb)| {
                let rows = wb.len() / D;
                gemm_slice(h, 0.0, view(wb, rows, D), xt.view(), 1.0, Threads::Caller);
            });
        gw_rows
            .data
            .par_chunks_mut(BLOCK * D)
            .zip(delta_t.data.par_chunks(BLOCK * N))
            .for_each(|(g, db)| {
                let rows = g.len() / D;
                gemm_slice(
                    g,
                    0.0,
                    view(db, rows, N),
                    data.x.view(),
                    1.0,
                    Threads::Caller,
                );
            });
    };
    for _ in 0..3 {
        blocked(&mut ht, &mut gw_rows);
    }
    let start = Instant::now();
    for _ in 0..reps {
        blocked(&mut ht, &mut gw_rows);
    }
    let blocked_gflops = flop / (start.elapsed().as_secs_f64() / reps as f64) / 1e9;
    println!(
        "{{\"bench\": \"gemm_pair_blocked\", \"impl\": \"gradflow (faer, 128-neuron blocks)\", \"gflops\": {blocked_gflops:.2}, \"threads\": {threads}}}"
    );

    let model = TwoLayer::new(D, M, Activation::Relu, 0.5).expect("model");
    let optimizer = Optimizer::chain(vec![Box::new(Sgd { lr: 0.1.into() })]);
    let trainer = Trainer {
        record_every: u64::MAX,
        ..Trainer::full_batch(Objective::squared(&model), &optimizer, Seed(0), steps + 5)
    };
    let (mut state, mut table) = trainer.begin(model.init(&mut Seed(0).stream("init", 0)), &[]);
    trainer
        .run(&mut state, &data, 5, &mut [], &mut table, Cancel::NEVER)
        .expect("warm-up");
    let start = Instant::now();
    trainer
        .run(
            &mut state,
            &data,
            5 + steps,
            &mut [],
            &mut table,
            Cancel::NEVER,
        )
        .expect("training");
    let per_step = start.elapsed().as_secs_f64() / steps as f64;
    let final_loss = table
        .column("train_loss")
        .ok()
        .and_then(|c| c.last().copied())
        .unwrap_or(f64::NAN);
    println!(
        "{{\"bench\": \"train_step\", \"impl\": \"gradflow\", \"seconds_per_step\": {per_step:.6}, \"gflops\": {:.2}, \"gemm_fraction\": {:.3}, \"final_loss\": {final_loss:.6e}, \"threads\": {threads}}}",
        flop / per_step / 1e9,
        (flop / per_step / 1e9) / gemm_gflops
    );
}
