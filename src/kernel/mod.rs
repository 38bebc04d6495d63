//! Neural tangent kernels and kernel dynamics (SPEC §3).
//!
//! * [`analytic`] — infinite-width NNGP / NTK of deep fully connected nets (layer maps) and the
//!   document's two-layer kernels K_∞ and k_∞;
//! * [`blocks`] — kernels block by block, whatever the network (streamed, split over ranks);
//! * [`conv`] — infinite-width NNGP / NTK of convolutional nets (CNN-GP, CNTK, global average
//!   pooling), in neural-tangents' `stax` conventions;
//! * [`empirical`] — finite-width NTK of any model;
//! * [`dynamics`] — kernel gradient flow (neural-tangents' `gradient_descent_mse`), ridge
//!   regression, √(yᵀK⁻¹y/n);
//! * [`monte_carlo`] — mean empirical kernels over initialisations, the Hoeffding concentration
//!   of K_{W₀} around K_∞;
//! * [`observer`] — kernel movement and kernel–target alignment along training;
//! * [`spectrum`] — eigenvalues, λ_min, power-law decay fits, residual projections;
//! * [`gauss_hermite`] — the quadrature behind activations without closed forms.

pub mod analytic;
pub mod blocks;
pub mod conv;
pub mod dynamics;
pub mod empirical;
pub mod gauss_hermite;
pub mod monte_carlo;
pub mod observer;
pub mod spectrum;

pub use analytic::{Kernels, Kind, Network};
