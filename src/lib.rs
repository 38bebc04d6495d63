//! # gradflow
//!
//! Optimization theory of deep learning, as a library: train networks in the regimes the
//! theory describes (NTK / kernel, mean-field, Langevin), compute the objects the theorems are
//! about, and check each prediction against the dynamics.
//!
//! The layers, from the bottom up (a lower module never uses a higher one):
//!
//! * [`error`] — one error type; [`rng`] — seeds and independent named streams;
//!   [`linalg`] — a row-major [`linalg::Matrix`] and deterministic parallel GEMM over faer.
//! * [`data`] — data sets, synthetic generators and NPY / CSV input and output.
//! * [`nn`] — activations, losses and the models, all on one flat parameter vector.
//! * [`optim`] — optimizers as composable transforms over `&[f64]`, and schedules.
//! * [`train`] — the training loop, its observers, divergence detection and checkpoints.
//! * [`spec`] — the TOML experiment specification behind `gradflow run`.
//! * [`claims`] — the claims of the source document, each a checked experiment.

pub mod claims;
pub mod data;
pub mod error;
pub mod linalg;
pub mod nn;
pub mod optim;
pub mod rng;
pub mod spec;
pub mod train;

pub use error::{Error, Result};
pub use linalg::Matrix;
pub use rng::{Rng, Seed};
