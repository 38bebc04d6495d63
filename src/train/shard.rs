//! A parameter vector split over the ranks of an MPI job: the map from a rank's local part to
//! the whole vector, and the global reductions the training loop takes over it.
//!
//! A model whose [`crate::nn::Model::shard`] is `Some` holds only this rank's part of θ (and
//! its optimizer state). Everything the loop does coordinate by coordinate runs locally; what
//! sums over coordinates (‖g‖, ‖θ_t − θ₀‖, the L2 penalty, "every entry finite") goes through
//! the [`Shard`], which reproduces the single-process sum of the whole vector bit for bit.

use std::ops::Range;

/// One contiguous run of a rank's local vector and where it sits in the whole one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Segment {
    /// Start in the local vector.
    pub local: usize,
    /// Start in the whole vector.
    pub global: usize,
    /// Length (may be 0).
    pub len: usize,
}

impl Segment {
    /// The segment's indices in the local vector.
    pub fn local_range(&self) -> Range<usize> {
        self.local..self.local + self.len
    }
}

/// A rank's local vector as at most [`Segments::MAX`] segments of the whole vector, in the
/// whole vector's order (the blocks W, b, a of a two-layer net); the local vector is their
/// concatenation. Small and `Copy`, so that a step's context carries it
/// ([`crate::optim::StepContext::shard`]) to the noise transforms, which draw the whole
/// vector's noise blocks and add the entries of the local ones.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Segments {
    parts: [Segment; Segments::MAX],
    count: usize,
    /// The whole vector's length.
    pub total: usize,
}

impl Segments {
    /// The most segments a split holds.
    pub const MAX: usize = 4;

    /// The segments `parts` (in the whole vector's order, the local vector their concatenation)
    /// of a whole vector of length `total`.
    ///
    /// # Panics
    /// With more than [`Segments::MAX`] parts, or parts outside 0..total (a programming error).
    pub fn new(parts: &[Segment], total: usize) -> Segments {
        assert!(parts.len() <= Self::MAX, "at most {} segments", Self::MAX);
        let mut s = Segments {
            parts: [Segment::default(); Self::MAX],
            count: parts.len(),
            total,
        };
        s.parts[..parts.len()].copy_from_slice(parts);
        assert!(parts.iter().all(|p| p.global + p.len <= total));
        s
    }

    /// The segments, in the whole vector's order.
    pub fn as_slice(&self) -> &[Segment] {
        &self.parts[..self.count]
    }
}

/// The global reductions over a parameter vector split over ranks. Every method is
/// collective: all ranks call it, in the same order, each with its local vectors.
pub trait Shard: Send + Sync {
    /// This rank's segments of θ.
    fn segments(&self) -> Segments;
    /// [`crate::linalg::dot8`] of the whole vectors u and v, bit for bit.
    fn dot8(&self, u: &[f64], v: &[f64]) -> f64;
    /// Σ_k (u_k − v_k)² over the whole vectors, summed in index order as
    /// [`crate::linalg::distance`] does.
    fn squared_distance(&self, u: &[f64], v: &[f64]) -> f64;
    /// Σ over the segments s with `include[s]` of Σ_{k in s} v_k², each segment summed in
    /// index order (`Iterator::sum`) and the segment sums added in order: the L2 penalty's sum
    /// when the model's parameter blocks are its segments.
    fn segment_squares(&self, v: &[f64], include: &[bool]) -> f64;
    /// Whether `flag` holds on every rank.
    fn all(&self, flag: bool) -> bool;
    /// The whole vector from every rank's local part (on every rank).
    fn gather(&self, local: &[f64]) -> Vec<f64>;
}

/// ‖v‖₂ of the whole vector: [`crate::linalg::norm`] on one process, the same number over a
/// [`Shard`].
pub fn norm(shard: Option<&dyn Shard>, v: &[f64]) -> f64 {
    match shard {
        None => crate::linalg::norm(v),
        Some(s) => s.dot8(v, v).sqrt(),
    }
}

/// ‖u − v‖₂ of the whole vectors: [`crate::linalg::distance`] on one process, the same number
/// over a [`Shard`].
pub fn distance(shard: Option<&dyn Shard>, u: &[f64], v: &[f64]) -> f64 {
    match shard {
        None => crate::linalg::distance(u, v),
        Some(s) => s.squared_distance(u, v).sqrt(),
    }
}
