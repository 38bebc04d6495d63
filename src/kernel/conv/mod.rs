//! Infinite-width NNGP and NTK of convolutional networks (CNN-GP, CNTK, global average
//! pooling): the kernel of `stax.serial(Conv(…), Relu(), …, GlobalAvgPool() | Flatten(),
//! Dense(…))` in neural-tangents' conventions (its `stax` 0.6.5 source), as a serial
//! composition of layer maps acting on the position-by-position covariance — the same layer
//! maps as the dense kernels ([`crate::kernel::analytic`]): one place per formula.
//!
//! Inputs are NHWC `(n, H, W, C)`, `(n, L, C)` (a 1-D input is an image of height 1, its
//! filters and windows of height 1) or `(n, d)` (no spatial axes: the dense kernels).
//!
//! **Input kernel.** Σ⁰(x, x′)[p, p′] = ⟨x[p, :], x′[p′, :]⟩ / C (normalised by the channel
//! count), Θ⁰ = 0.
//!
//! **`conv`** (`filter_shape` f, `strides` s (default 1), `padding`, `w_std` σ_w, `b_std` σ_b,
//! `parameterization`): with the unscaled map
//! 𝒜(Σ)[p, p′] = (1/|f|) Σ_{δ ∈ filter} Σ[s·p + δ − pad, s·p′ + δ − pad]
//! (the same filter offset δ on both positions: the weights are shared over positions;
//! |f| = ∏ f; a term whose position lies in the zero padding is 0),
//! * NNGP: Σ′ = σ_w² 𝒜(Σ) + σ_b² (σ_b² on every pair of positions: one bias per channel);
//! * NTK parameterization: Θ′ = Σ′ + σ_w² 𝒜(Θ);
//! * standard parameterization: Θ′ = fan_in·𝒜(Σ) + 1\[bias\] + σ_w² 𝒜(Θ), with
//!   fan_in = C_in·|f| and C_in the finite channel count of the layer's input (the input's C,
//!   else the `out_chan` of the layer before) — neural-tangents' `get_fan_in`.
//!
//! This is the [`crate::kernel::analytic`] Dense update applied to (𝒜(Σ), 𝒜(Θ)).
//!
//! **Padding** per spatial axis of size n, filter f, stride s (XLA's rules): `VALID`:
//! n_out = ⌊(n − f)/s⌋ + 1, no padding; `SAME`: n_out = ⌈n/s⌉, total padding
//! max((n_out − 1)s + f − n, 0), of which ⌊total/2⌋ before; `CIRCULAR`: `SAME`'s geometry with
//! the input wrapped around (index mod n) instead of zeros.
//!
//! **`dense`** before the spatial axes are reduced acts on the channels at every position: a
//! 1 × 1 `conv` (fan_in = C_in). After them, the [`crate::kernel::analytic`] Dense update with
//! fan_in the flattened width (H·W·C after `flatten`, C after `global_avg_pool`).
//!
//! **Activations** act entry by entry with the dense kernels' maps: at the pair of positions
//! (p, p′), (u, v) ~ N(0, [[q₁, Σ[p, p′]], [Σ[p, p′], q₂]]) with q₁ = Σ(x, x)[p, p] and
//! q₂ = Σ(x′, x′)[p′, p′]; Σ′ = E[η(u)η(v)], Θ′ = Θ·E[η′(u)η′(v)].
//!
//! **`avg_pool`** (`window_shape` w, `strides` (default 1, as in neural-tangents — not the
//! window), `padding`, `normalize_edges` (default false)): z′_p = (1/|w|) Σ_δ z_{s·p+δ−pad}, so
//! Σ′[p, p′] = (1/|w|²) Σ_{δ, δ′} Σ[s·p + δ − pad, s·p′ + δ′ − pad] (independent offsets: no
//! weights), the same for Θ; with `normalize_edges` and `SAME`, 1/|w| becomes one over the
//! number of the window's positions inside the input.
//!
//! **`global_avg_pool`**: Σ′ = (1/P²) Σ_{p, p′} Σ[p, p′] over the P positions.
//! **`flatten`**: Σ′ = (1/P) Σ_p Σ[p, p] (the average over positions of the same-position
//! covariance: a following Dense layer's σ_w²/(P·C) summed over P·C features).
//!
//! **What is computed.** When no layer mixes positions (no `avg_pool`, and the spatial axes
//! end in `flatten`), only the same-position covariances Σ[p, p] are ever needed (a `conv`
//! maps Σ[p, p] to a mean of Σ[q, q]): O(P) per pair of inputs. Otherwise the full P × P
//! covariance, O(P²) per pair, in a per-thread scratch of five P × P buffers (memory bounded
//! by the image, not by the number of inputs). Each pair of inputs is one task; the entries
//! do not depend on the thread count.
//!
//! The diagonal of a kernel of one input set with itself is computed with cos θ = 1 exactly
//! at equal positions (as the dense kernels do).

mod layers;
mod pair;
mod plan;
mod relu;
mod spatial;
mod spec;
#[cfg(test)]
mod tests;

pub use layers::{Affine, Conv, ConvNet, Images, Layer, Padding, Pool};
pub use spec::LayerSpec;
