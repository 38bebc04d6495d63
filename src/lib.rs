//! # gradflow
//!
//! Optimization theory of deep learning, as a library: train networks in the regimes the
//! theory describes (NTK / kernel, mean-field, Langevin), compute the objects the theorems are
//! about, and check each prediction against the dynamics.
//!
//! The layers, from the bottom up (a lower module never uses a higher one):
//!
//! * [`error`] — one error type; [`rng`] — seeds and independent named streams; [`stats`] —
//!   least-squares fits with standard errors, summaries over seeds, crossing times;
//!   [`linalg`] — a row-major [`linalg::Matrix`] and deterministic parallel GEMM over faer.
//! * [`fsutil`] — the file-system guarantees: only regular files replaced, registered
//!   temporaries, output-folder locks, bounded reads; [`signals`] — SIGINT / SIGTERM remove
//!   the temporaries before exit.
//! * [`data`] — data sets, synthetic generators and NPY / CSV input and output.
//! * [`nn`] — activations, losses and the models, all on one flat parameter vector.
//! * [`optim`] — optimizers as composable transforms over `&[f64]`, and schedules.
//! * [`train`] — the training loop, its observers, divergence detection and checkpoints.
//! * [`kernel`] — analytic and empirical NTK / NNGP, kernel gradient flow.
//! * [`transport`] — Wasserstein distances: exact (1-D, network simplex), Sinkhorn, sliced.
//! * [`meanfield`] — mean-field particles, the rescaled particle step, observables of the flow.
//! * [`langevin`] — Gibbs laws and distances to them, ESS/R̂, escape times, the posterior of the
//!   semi-implicit scheme, graduated optimisation, sharpness.
//! * [`spec`] — the TOML experiment specification behind `gradflow run`.
//! * [`report`] — figures as data, rendered to SVG.
//! * [`claims`] — the claims of the source document, each a checked experiment.
//! * [`commands`] — one function per CLI command (kernel, predict, ot, run, reproduce, list),
//!   the entry points of every front end: the CLI only parses, calls and writes.
//! * [`alloc`] — the process allocator of the binary and the benchmarks (beside the layers).
//!
//! Gradient Langevin dynamics on a wide two-layer net (the README's example):
//!
//! ```
//! use gradflow::nn::{Activation, Loss, Model, TwoLayer};
//! use gradflow::optim::{LangevinNoise, Optimizer, Sgd};
//! use gradflow::train::{Batching, Objective, Trainer};
//! use gradflow::{data::synthetic, data::Dataset, Seed};
//! # fn main() -> gradflow::Result<()> {
//! let mut rng = Seed(0).stream("data", 0);
//! let x = synthetic::sphere(200, 5, &mut rng);
//! let y = synthetic::spherical_harmonic_target(&x, &[1.0, 0.0, 0.0, 0.0, 0.0], 2);
//! let data = Dataset::new("train", x, y)?;
//! let model = TwoLayer::new(5, 1024, Activation::Relu, 0.5)?;
//! let gld = Optimizer::chain(vec![
//!     Box::new(Sgd { lr: 0.5.into() }),
//!     Box::new(LangevinNoise { lr: 0.5.into(), inverse_temperature: 1e4 }),
//! ]);
//! let trainer = Trainer {
//!     objective: Objective { model: &model, loss: Loss::Squared, l2: 0.0 },
//!     optimizer: &gld, batching: Batching::Full, seed: Seed(0), steps: 500, record_every: 10,
//! };
//! let (state, metrics) = trainer.fit(model.init(&mut Seed(0).stream("init", 0)), &data)?;
//! assert_eq!(state.step, 500);
//! let loss = metrics.column("train_loss").unwrap();
//! assert!(loss.last().unwrap() < &(0.5 * loss[0]));
//! # Ok(())
//! # }
//! ```

pub mod alloc;
pub mod claims;
pub mod commands;
pub mod data;
pub mod distributed;
pub mod error;
pub mod fsutil;
pub mod kernel;
pub mod langevin;
pub mod linalg;
pub mod meanfield;
pub mod nn;
pub mod optim;
pub mod report;
pub mod rng;
pub mod signals;
pub mod spec;
pub mod stats;
pub mod sweep;
pub mod train;
pub mod transport;

pub use error::{Error, Result};
pub use linalg::{Matrix, MatrixView};
pub use rng::{Rng, Seed};
