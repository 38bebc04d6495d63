//! The training loop: determinism across thread counts, bit-identical resume, divergence,
//! batching, frozen layers.

use gradflow::commands::Cancel;
use gradflow::data::synthetic;
use gradflow::data::Dataset;
use gradflow::linalg::Matrix;
use gradflow::nn::{Activation, Loss, Model, OutputInit, TwoLayer};
use gradflow::optim::{Adam, Anchor, LangevinNoise, Optimizer, Sgd};
use gradflow::rng::Seed;
use gradflow::spec::{run, Spec};
use gradflow::train::{Batching, Checkpoint, Objective, Trainer};
use gradflow::Error;
use std::path::Path;

mod common;
use common::{error_naming, on_threads};

const SPEC: &str = r#"
seed = 7
trials = 3
[data]
kind = "gaussian"
n = 300
n_test = 50
dim = 24
std = 0.2
target = { kind = "teacher", model = { kind = "two_layer", width = 8, activation = "tanh" } }
labels = { noise = 0.05 }
[model]
kind = "two_layer"
width = 600
activation = "relu"
bias = true
[[optimizer]]
kind = "sgd"
lr = 0.5
[[optimizer]]
kind = "langevin_noise"
lr = 0.5
inverse_temperature = 1e4
[train]
steps = 60
batch_size = 128
record_every = 7
"#;

#[test]
fn same_seed_gives_bit_identical_results_with_one_two_and_three_threads() {
    let spec = Spec::from_toml(SPEC, Path::new("spec")).unwrap();
    let runs: Vec<_> = [1, 2, 3]
        .iter()
        .map(|&t| on_threads(t, || run(&spec, Path::new("."), None, false).unwrap()))
        .collect();
    for other in &runs[1..] {
        for (a, b) in runs[0].trials.iter().zip(&other.trials) {
            assert_eq!(a.table, b.table);
            assert_eq!(a.params, b.params);
        }
    }
    // And the trials differ from one another (independent streams).
    assert_ne!(runs[0].trials[0].params, runs[0].trials[1].params);
    // The run trained: the loss went down.
    let losses = runs[0].trials[0].table.column("train_loss").unwrap();
    assert!(losses.last().unwrap() < &(0.5 * losses[0]), "{losses:?}");
}

fn problem() -> (TwoLayer, Dataset) {
    let mut r = Seed(3).stream("data", 0);
    let x = synthetic::sphere(80, 5, &mut r);
    let y = synthetic::spherical_harmonic_target(&x, &[1.0, 0.0, 0.0, 0.0, 0.0], 2);
    let model = TwoLayer {
        bias: true,
        output_init: OutputInit::Gaussian { std: 1.0 },
        ..TwoLayer::new(5, 64, Activation::Tanh, 0.5).unwrap()
    };
    (model, Dataset::new("d", x, y).unwrap())
}

#[test]
fn resume_from_checkpoint_is_bit_identical() {
    let (model, data) = problem();
    let optimizer = Optimizer::chain(vec![
        Box::new(Anchor { lambda: 0.01 }),
        Box::new(Adam::torch_default(0.01)),
        Box::new(LangevinNoise {
            lr: 0.01.into(),
            inverse_temperature: 1e5,
        }),
    ]);
    let trainer = Trainer {
        batching: Batching::Minibatch(16),
        record_every: 9,
        ..Trainer::full_batch(Objective::squared(&model), &optimizer, Seed(9), 100)
    };
    let init = model.init(&mut Seed(9).stream("init", 0));
    // Uninterrupted.
    let (whole, whole_table) = trainer.fit(init.clone(), &data).unwrap();
    // Interrupted at 37, through the checkpoint bytes, then continued.
    let (mut part, mut part_table) = trainer.begin(init, &[]);
    trainer
        .run(
            &mut part,
            &data,
            37,
            &mut [],
            &mut part_table,
            Cancel::NEVER,
        )
        .unwrap();
    let bytes = Checkpoint {
        state: part,
        table: part_table,
        fingerprint: Default::default(),
    }
    .to_bytes()
    .unwrap();
    let restored = Checkpoint::from_bytes(&bytes, Path::new("ckpt")).unwrap();
    let (mut state, mut table) = (restored.state, restored.table);
    assert_eq!(state.step, 37);
    trainer
        .run(&mut state, &data, 100, &mut [], &mut table, Cancel::NEVER)
        .unwrap();
    assert_eq!(state.params, whole.params);
    assert_eq!(state.average, whole.average);
    assert_eq!(table, whole_table);
    // A corrupted checkpoint is an error, not a panic.
    assert!(Checkpoint::from_bytes(&bytes[..bytes.len() / 2], Path::new("ckpt")).is_err());
    assert!(Checkpoint::from_bytes(b"garbage", Path::new("ckpt")).is_err());
}

/// `fit_at` reads θ at the chosen steps of one run: the run is `fit`'s (state and table), θ at
/// step 37 is that of a run of 37 steps, and stops out of order are an error naming them.
#[test]
fn fit_at_reads_the_run_at_its_stops() {
    let (model, data) = problem();
    let optimizer = Optimizer::chain(vec![
        Box::new(Adam::torch_default(0.01)),
        Box::new(LangevinNoise {
            lr: 0.01.into(),
            inverse_temperature: 1e5,
        }),
    ]);
    let trainer = Trainer {
        record_every: 9,
        batching: Batching::Minibatch(16),
        ..Trainer::full_batch(Objective::squared(&model), &optimizer, Seed(4), 100)
    };
    let init = model.init(&mut Seed(4).stream("init", 0));
    let (whole, whole_table) = trainer.fit(init.clone(), &data).unwrap();
    let mut seen = Vec::new();
    let (state, table) = trainer
        .fit_at(init.clone(), &data, &mut [], [0, 37, 100], |s| {
            seen.push((s.step, s.params.clone()));
            Ok(())
        })
        .unwrap();
    assert_eq!(state, whole);
    assert_eq!(table, whole_table);
    let short = Trainer {
        steps: 37,
        ..trainer
    };
    let (at_37, _) = short.fit(init.clone(), &data).unwrap();
    assert_eq!(seen.iter().map(|s| s.0).collect::<Vec<_>>(), [0, 37, 100]);
    assert_eq!(seen[0].1, init);
    assert_eq!(seen[1].1, at_37.params);
    assert_eq!(seen[2].1, whole.params);
    error_naming(
        trainer.fit_at(init, &data, &mut [], [37, 10], |_| Ok(())),
        "stops",
    );
}

/// The trainer's step is `Optimizer::step`: full-batch training lands bit for bit on the
/// iterates of the same chain run on the objective's gradient (`Optimizer::iterates`), with a
/// look-ahead (Nesterov) and a noise transform in the chain.
#[test]
fn the_trainer_takes_the_optimizers_steps() {
    let (model, data) = problem();
    let optimizer = Optimizer::chain(vec![
        Box::new(gradflow::optim::Nesterov {
            theta: 0.9,
            lr: 0.05.into(),
        }),
        Box::new(LangevinNoise {
            lr: 0.05.into(),
            inverse_temperature: 1e4,
        }),
    ]);
    let objective = Objective::squared(&model);
    let trainer = Trainer::full_batch(objective, &optimizer, Seed(6), 30);
    let init = model.init(&mut Seed(6).stream("init", 0));
    let (state, _) = trainer.fit(init.clone(), &data).unwrap();
    let mut ws = gradflow::train::Workspace::default();
    let iterates = optimizer
        .iterates(&init, 30, Seed(6), |at, g| {
            objective.value_and_gradient(at, &data, &mut ws, g);
        })
        .unwrap();
    assert_eq!(state.params, iterates[30]);
    assert_ne!(iterates[30], iterates[29]);
}

#[test]
fn divergence_stops_with_the_step_and_keeps_the_rows() {
    let (model, data) = problem();
    let optimizer = Optimizer::chain(vec![Box::new(Sgd { lr: 1e4.into() })]);
    let trainer = Trainer {
        record_every: 1,
        ..Trainer::full_batch(Objective::squared(&model), &optimizer, Seed(1), 1000)
    };
    let (mut state, mut table) = trainer.begin(model.init(&mut Seed(1).stream("init", 0)), &[]);
    let err = trainer
        .run(&mut state, &data, 1000, &mut [], &mut table, Cancel::NEVER)
        .unwrap_err();
    match err {
        Error::Diverged { step, .. } => {
            assert!(step > 0 && step < 1000);
            assert_eq!(table.rows.len() as u64, step.min(state.step));
        }
        other => panic!("expected a divergence, got {other}"),
    }
}

#[test]
fn frozen_layers_do_not_move_even_under_noise_and_decay() {
    let (mut model, data) = problem();
    model.train_second = false;
    let optimizer = Optimizer::chain(vec![
        Box::new(gradflow::optim::WeightDecay { coefficient: 0.1 }),
        Box::new(Sgd { lr: 0.1.into() }),
        Box::new(LangevinNoise {
            lr: 0.1.into(),
            inverse_temperature: 10.0,
        }),
    ]);
    let trainer = Trainer {
        batching: Batching::Minibatch(1),
        record_every: 10,
        ..Trainer::full_batch(Objective::squared(&model), &optimizer, Seed(2), 50)
    };
    let init = model.init(&mut Seed(2).stream("init", 0));
    let (state, _) = trainer.fit(init.clone(), &data).unwrap();
    let a = model.layout().into_iter().find(|b| b.name == "a").unwrap();
    assert_eq!(state.params[a.range()], init[a.range()]);
    let w = model.layout().into_iter().find(|b| b.name == "W").unwrap();
    assert_ne!(state.params[w.range()], init[w.range()]);
}

#[test]
fn one_sample_steps_visit_every_sample_once_per_epoch() {
    // With a model whose gradient reveals which sample was used: f(x) = ⟨w, x⟩ on one-hot x,
    // one sample per step: after n steps each coordinate moved exactly once.
    let n = 12;
    let x = Matrix::identity(n);
    let y = Matrix::column(vec![1.0; n]);
    let data = Dataset::new("onehot", x, y).unwrap();
    let model = gradflow::nn::DeepLinear::new(vec![n, 1], 1.0).unwrap();
    let optimizer = Optimizer::chain(vec![Box::new(Sgd { lr: 0.5.into() })]);
    let trainer = Trainer {
        objective: Objective {
            model: &model,
            loss: Loss::Squared,
            l2: 0.0,
        },
        optimizer: &optimizer,
        batching: Batching::Minibatch(1),
        seed: Seed(4),
        steps: n as u64,
        record_every: 100,
    };
    let init = vec![0.0; n];
    let (state, _) = trainer.fit(init, &data).unwrap();
    // Each step: w_i ← w_i − 0.5 (w_i − 1) = 0.5 for the sampled i only.
    assert!(state.params.iter().all(|&w| w == 0.5), "{:?}", state.params);
}

/// Data of another input width or another number of outputs than the model's is an error naming
/// the training data (the loop used to index past the rows and panic).
#[test]
fn data_of_the_wrong_shape_is_an_error_not_a_panic() {
    let (model, data) = problem();
    let opt = Optimizer::chain(vec![Box::new(Sgd { lr: 0.1.into() })]);
    let trainer = Trainer {
        objective: Objective {
            model: &model,
            loss: Loss::Squared,
            l2: 0.0,
        },
        optimizer: &opt,
        batching: Batching::Full,
        seed: Seed(0),
        steps: 3,
        record_every: 1,
    };
    let theta = model.init(&mut Seed(0).stream("init", 0));
    let x2 = Matrix::from_fn(data.len(), 2, |i, j| data.x.get(i, j));
    let narrow = Dataset::new("d", x2, data.y.clone()).unwrap();
    let e = error_naming(trainer.fit(theta.clone(), &narrow), "train data");
    assert!(e.contains("dimension 5"), "{e}");
    let two_outputs = Matrix::from_fn(data.len(), 2, |i, _| data.y.get(i, 0));
    let wide_y = Dataset::new("d", data.x.clone(), two_outputs).unwrap();
    let e = error_naming(trainer.fit(theta.clone(), &wide_y), "train data");
    assert!(e.contains("1 outputs"), "{e}");
    // A state of another model's length (the one parameter check every routine shares).
    let e = error_naming(trainer.fit(theta[1..].to_vec(), &data), "train state");
    assert!(e.contains(&format!("got {}", theta.len() - 1)), "{e}");
}

/// The library owns the rules: a transform built in Rust with an invalid setting, and targets
/// a classification loss cannot take, are errors of the trainer (naming the field), not
/// silently trained.
#[test]
fn the_trainer_checks_its_optimizer_and_targets() {
    let mut rng = Seed(1).stream("data", 0);
    let x = synthetic::sphere(10, 3, &mut rng);
    let y01 = Matrix::from_vec(10, 1, (0..10).map(|i| (i % 2) as f64).collect()).unwrap();
    let data = Dataset::new("train", x, y01).unwrap();
    let model = TwoLayer::new(3, 16, Activation::Tanh, 0.5).unwrap();
    let params = model.init(&mut Seed(1).stream("init", 0));
    let bad_adam = Optimizer::chain(vec![
        Box::new(Sgd { lr: 0.1.into() }),
        Box::new(Adam {
            beta1: 1.5,
            ..Adam::torch_default(1e-3)
        }),
    ]);
    let trainer = Trainer::full_batch(Objective::squared(&model), &bad_adam, Seed(1), 5);
    error_naming(trainer.fit(params.clone(), &data), "optimizer[1].beta1");
    let sgd = Optimizer::chain(vec![Box::new(Sgd { lr: 0.1.into() })]);
    let logistic = Objective {
        model: &model,
        loss: Loss::Logistic,
        l2: 0.0,
    };
    error_naming(
        Trainer::full_batch(logistic, &sgd, Seed(1), 5).fit(params, &data),
        "±1 labels",
    );
}
