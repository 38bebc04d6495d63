//! Networks, losses and gradients (SPEC §1).
//!
//! Every model keeps its parameters in one flat `&[f64]` and describes how its layers sit
//! inside it ([`ParamBlock`]); forward and backward passes work on whole batches with GEMMs.

pub mod activation;
pub mod conv;
pub mod deep_linear;
pub mod factorization;
pub(crate) mod hidden_layer;
pub mod infinite_width;
pub mod loss;
pub mod margin;
pub mod mlp;
pub mod model;
pub mod potential;
pub mod two_layer;
pub mod wells;

pub use activation::Activation;
pub use conv::ConvModel;
pub use deep_linear::DeepLinear;
pub use factorization::Factorization;
pub use infinite_width::InfiniteWidth;
pub use loss::Loss;
pub use mlp::{Mlp, MlpLayers, Parameterization};
pub use model::{Backward, Cache, Model, ParamBlock};
pub use potential::{Landscape, Potential};
pub use two_layer::{OutputInit, TwoLayer};
