//! Langevin dynamics as sampling and as global optimisation: the Gibbs law of a potential and
//! distances to it, mixing diagnostics over chains, escape times against the Eyring–Kramers
//! law, the Gaussian posterior of the infinite-dimensional (semi-implicit) scheme, graduated
//! optimisation and a sharpness measure.
//!
//! Conventions: gradient Langevin dynamics (GLD) is X_{k+1} = X_k − η∇L(X_k) + √(2η/β) ξ_k with
//! ξ_k ~ N(0, I) and β the inverse temperature (the optimizer chain `sgd` + `langevin_noise`, or
//! `mean_field` for particles); its stationary law is π ∝ exp(−βL) up to an O(η) bias (exactly
//! N(0, 1/(βk(1 − ηk/2))) per coordinate for L = k x²/2, [`discrete_quadratic_variance`]).
//! SGLD is the same with `batch_size` > 0: the minibatch loss is the batch *mean*, an unbiased
//! estimate of L, so the noise scale is unchanged. Several chains run as one model
//! ([`crate::nn::Potential`] with `chains`, or `trials` of any spec), each with its own noise
//! streams, deterministic per seed whatever the thread count.

mod diagnostics;
mod escape;
mod free_energy;
mod gibbs;
mod posterior;
mod sharpness;
mod well_regression;

pub use diagnostics::{effective_sample_size, split_rhat};
pub use escape::{eyring_kramers_time, FirstPassage};
pub use free_energy::{gibbs_free_energy, KernelDensity};
pub use gibbs::{
    discrete_quadratic_variance, gibbs_probabilities, gibbs_probabilities_of, histogram,
    kl_divergence, total_variation, GibbsDistance, Grid,
};
pub use posterior::{linear_gaussian_posterior, LinearGaussian, Scheme};
pub use sharpness::sharpness;
pub use well_regression::WellRegression;
