//! Langevin benchmarks, one JSON line each:
//! * `gd_step` / `gld_step` / `sgld_step` — seconds per step on the training-step workload
//!   (two-layer ReLU net, M = 4096, n = 1000, d = 100, f64): plain gradient descent, the same
//!   plus the noise √(2η/β)ξ, and SGLD on minibatches of 100 (per step, so smaller);
//! * `semi_implicit_step` — one step of the infinite-dimensional scheme (sgd + noise +
//!   semi-implicit) on `InfiniteWidth` with K = 10⁴ coordinates (d = 1, tanh) and n = 1000;
//! * `chains_1000` — 1000 GLD chains on the Müller–Brown surface, 10⁴ steps (the workload of
//!   `bench/anchors/langevin_blackjax.py`).
//!
//! `cargo bench --bench langevin` (threads: GRADFLOW_BENCH_THREADS, default 2).

mod common;

use gradflow::commands::Cancel;
use gradflow::data::Dataset;
use gradflow::linalg::Matrix;
use gradflow::nn::{Activation, InfiniteWidth, Landscape, Loss, Model, Potential, TwoLayer};
use gradflow::optim::{LangevinNoise, Optimizer, SemiImplicit, Sgd, Transform};
use gradflow::rng::Seed;
use gradflow::train::{Batching, Objective, Trainer};
use std::time::Instant;

fn per_step(
    model: &dyn Model,
    loss: Loss,
    opt: &Optimizer,
    batching: Batching,
    data: &Dataset,
    steps: u64,
) -> f64 {
    let trainer = Trainer {
        objective: Objective {
            model,
            loss,
            l2: 0.0,
        },
        optimizer: opt,
        batching,
        seed: Seed(0),
        steps: steps + 3,
        record_every: u64::MAX,
    };
    let (mut state, mut table) = trainer.begin(model.init(&mut Seed(0).stream("init", 0)), &[]);
    trainer
        .run(&mut state, data, 3, &mut [], &mut table, Cancel::NEVER)
        .expect("warm-up");
    let start = Instant::now();
    trainer
        .run(
            &mut state,
            data,
            3 + steps,
            &mut [],
            &mut table,
            Cancel::NEVER,
        )
        .expect("run");
    start.elapsed().as_secs_f64() / steps as f64
}

fn emit(bench: &str, seconds: f64, threads: usize) {
    println!("{{\"bench\": \"{bench}\", \"impl\": \"gradflow\", \"seconds\": {seconds:.6}, \"threads\": {threads}}}");
}

fn main() {
    let threads = common::init_threads();
    let (n, d, m) = (1000, 100, 4096);
    let mut rng = Seed(0).stream("bench", 0);
    let x = Matrix::from_fn(n, d, |_, _| rng.normal() / (d as f64).sqrt());
    let y = Matrix::from_fn(n, 1, |_, _| rng.normal());
    let data = Dataset::new("bench", x, y).expect("data");
    let model = TwoLayer::new(d, m, Activation::Relu, 0.5).expect("model");
    let lr = 0.1;
    let gd = Optimizer::chain(vec![Box::new(Sgd { lr: lr.into() })]);
    let noise = || -> Box<dyn Transform> {
        Box::new(LangevinNoise {
            lr: lr.into(),
            inverse_temperature: 1e4,
        })
    };
    let gld = Optimizer::chain(vec![Box::new(Sgd { lr: lr.into() }), noise()]);
    // Interleave the two so that machine noise hits both alike.
    let (mut t_gd, mut t_gld) = (vec![], vec![]);
    for _ in 0..3 {
        t_gd.push(per_step(
            &model,
            Loss::Squared,
            &gd,
            Batching::Full,
            &data,
            20,
        ));
        t_gld.push(per_step(
            &model,
            Loss::Squared,
            &gld,
            Batching::Full,
            &data,
            20,
        ));
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    emit("gd_step", median(t_gd), threads);
    emit("gld_step", median(t_gld), threads);
    emit(
        "sgld_step",
        per_step(
            &model,
            Loss::Squared,
            &gld,
            Batching::Minibatch(100),
            &data,
            100,
        ),
        threads,
    );

    let (n, k) = (1000, 10_000);
    let x = Matrix::from_fn(n, 1, |_, _| rng.normal());
    let y = Matrix::from_fn(n, 1, |i, _| x.get(i, 0).sin());
    let data = Dataset::new("bench", x, y).expect("data");
    let inf = InfiniteWidth::new(1, k, Activation::Tanh, 1.0, 2.0, 1.0).expect("model");
    let semi = Optimizer::chain(vec![
        Box::new(Sgd { lr: 0.01.into() }),
        Box::new(LangevinNoise {
            lr: 0.01.into(),
            inverse_temperature: 1e3,
        }),
        Box::new(SemiImplicit {
            lr: 0.01.into(),
            lambda: 0.1,
            mu: inf.prior_variances().expect("prior"),
        }),
    ]);
    emit(
        "semi_implicit_step",
        per_step(&inf, Loss::Squared, &semi, Batching::Full, &data, 50),
        threads,
    );

    let chains = Potential::new(
        Landscape::MullerBrown { scale: 0.1 },
        2,
        1000,
        vec![-0.56, 1.44],
        0.0,
    )
    .expect("potential");
    let mb = Optimizer::chain(vec![
        Box::new(Sgd { lr: 1e-4.into() }),
        Box::new(LangevinNoise {
            lr: 1e-4.into(),
            inverse_temperature: 0.5,
        }),
    ]);
    let unit = Potential::unit_data().expect("data");
    let steps = 10_000;
    let t = common::median_of_3(|| {
        per_step(&chains, Loss::Linear, &mb, Batching::Full, &unit, steps);
    });
    println!(
        "{{\"bench\": \"chains_1000\", \"impl\": \"gradflow\", \"seconds\": {t:.6}, \"steps_per_second\": {:.1}, \"threads\": {threads}}}",
        steps as f64 / t
    );
}
