//! The layer maps run on one pair of inputs: from Σ⁰ (full P × P, or the P same-position
//! entries) through every step to the scalar NNGP and NTK. An input with itself records, at
//! every activation, its pre-activation variances Σ(x, x)[p, p], which the pairs it belongs
//! to then read (as neural-tangents' `cov1`, `cov2`).

use super::layers::ConvNet;
use super::plan::{Plan, Step};
use super::relu::dense_relu_row;
use crate::error::{Error, Result};
use crate::kernel::analytic::{Dense, LayerVariances, VARIANCE_RANGE};
use crate::nn::Activation;

/// The compiled network, ready to run on pairs.
pub(super) struct Pipeline {
    plan: Plan,
}

/// An input with itself: its kernel entries and its variances at every activation.
pub(super) struct Own {
    pub(super) nngp: f64,
    pub(super) ntk: f64,
    pub(super) variances: Vec<LayerVariances>,
}

/// The identity Dense update: (K, Θ) ↦ (1·K + 0, 1·Θ + (0·K + 0)) = (K, Θ) exactly.
const IDENTITY: Dense = Dense {
    w2: 1.0,
    b2: 0.0,
    ck: 0.0,
    c1: 0.0,
    carry: true,
};

/// The working buffers of one pair: Σ and Θ, their images under a window, and the window's
/// intermediate.
struct Buffers<'a> {
    s: &'a mut [f64],
    t: &'a mut [f64],
    s2: &'a mut [f64],
    t2: &'a mut [f64],
    tmp: &'a mut [f64],
}

impl Pipeline {
    /// `net` compiled for inputs of `spatial` shape and `channels` (errors name the layer).
    pub(super) fn new(net: &ConvNet, spatial: &[usize], channels: usize) -> Result<Pipeline> {
        Ok(Pipeline {
            plan: Plan::new(net, spatial, channels)?,
        })
    }

    /// Values of one buffer.
    fn side(&self) -> usize {
        let p = self.plan.positions;
        if self.plan.full {
            p * p
        } else {
            p
        }
    }

    /// An input with itself (its variances checked within the range the layer maps hold).
    pub(super) fn self_pair(&self, x: &[f64]) -> Result<Own> {
        let mut variances = Vec::new();
        let (nngp, ntk) = self.run(x, x, None, Some(&mut variances))?;
        Ok(Own {
            nngp,
            ntk,
            variances,
        })
    }

    /// Two different inputs, with the variances their own runs recorded.
    pub(super) fn cross_pair(
        &self,
        a: &[f64],
        b: &[f64],
        va: &[LayerVariances],
        vb: &[LayerVariances],
    ) -> (f64, f64) {
        // Without a record, `run` never fails (only a self run checks variances).
        self.run(a, b, Some((va, vb)), None)
            .unwrap_or((f64::NAN, f64::NAN))
    }

    /// The layer maps on the pair (a, b). `variances`: those of a and b at every activation;
    /// `None` when b = a, whose variances are read off Σ's diagonal and pushed onto `record`.
    fn run(
        &self,
        a: &[f64],
        b: &[f64],
        variances: Option<(&[LayerVariances], &[LayerVariances])>,
        mut record: Option<&mut Vec<LayerVariances>>,
    ) -> Result<(f64, f64)> {
        let side = self.side();
        let (positions, channels) = (self.plan.positions, self.plan.input.1);
        let extra = (2 * self.plan.band)
            .max(positions * channels)
            .max(positions);
        crate::linalg::with_scratch(4 * side + extra, |scratch| {
            let (s, rest) = scratch.split_at_mut(side);
            let (t, rest) = rest.split_at_mut(side);
            let (s2, rest) = rest.split_at_mut(side);
            let (t2, tmp) = rest.split_at_mut(side);
            let mut buf = Buffers { s, t, s2, t2, tmp };
            let same = variances.is_none();
            let mut shape = self.input_kernel(a, b, &mut buf);
            let mut pending: Option<Dense> = None;
            let mut activation = 0;
            // Θ is 0 until the first layer's Dense update.
            let mut theta_zero = true;
            let steps = &self.plan.steps;
            let mut next = 0;
            while let Some(step) = steps.get(next) {
                next += 1;
                if !matches!(step, Step::Affine(_) | Step::Activation(_)) {
                    flush(&mut pending, &mut buf, self.len(shape));
                }
                match step {
                    Step::Affine(d) => {
                        flush(&mut pending, &mut buf, self.len(shape));
                        pending = Some(*d);
                        theta_zero = false;
                    }
                    Step::Window(w) => {
                        if self.plan.full {
                            let (b1, rest) = buf.tmp.split_at_mut(w.band());
                            let band = [b1, &mut rest[..w.band()]];
                            let src = [&buf.s[..], &buf.t[..]];
                            let dst = [&mut buf.s2[..], &mut buf.t2[..]];
                            let zero = [false, theta_zero];
                            // Two inputs whose variances are known: the conv's Dense update,
                            // the activation and a global average pool after them run on
                            // each band of rows as the window finishes it.
                            let fused = match (variances, steps.get(next), steps.get(next + 1)) {
                                (
                                    Some((va, vb)),
                                    Some(Step::Affine(d)),
                                    Some(Step::Activation(m)),
                                ) => {
                                    // A Θ known to be 0 is not written by the window, nor read.
                                    let d = Dense {
                                        carry: d.carry && !theta_zero,
                                        ..*d
                                    };
                                    Some((d, m, &va[activation], &vb[activation]))
                                }
                                _ => None,
                            };
                            match fused {
                                Some((dense, map, v1, v2)) => {
                                    let pool =
                                        matches!(steps.get(next + 2), Some(Step::GlobalAvgPool));
                                    let n = w.h.output * w.w.output;
                                    let mut sums = [0.0; 2];
                                    let relu = map.activation == Activation::Relu;
                                    let column = (&v2.sd[..], &v2.isd[..]);
                                    w.full(src, band, dst, (zero, !pool), |r, s, t| {
                                        let rows = s.chunks_exact_mut(n).zip(t.chunks_exact_mut(n));
                                        for (p, (s, t)) in (r..).zip(rows) {
                                            if relu {
                                                let row = (v1.sd[p], v1.isd[p]);
                                                dense_relu_row(dense, row, column, s, t);
                                            } else {
                                                map.apply_layer(
                                                    (dense, None),
                                                    v1.q[p],
                                                    v2,
                                                    0,
                                                    s,
                                                    t,
                                                    None,
                                                );
                                            }
                                            if pool {
                                                sums[0] += sum_lanes(s);
                                                sums[1] += sum_lanes(t);
                                            }
                                        }
                                    });
                                    activation += 1;
                                    theta_zero = false;
                                    next += 2;
                                    std::mem::swap(&mut buf.s, &mut buf.s2);
                                    std::mem::swap(&mut buf.t, &mut buf.t2);
                                    shape = Some((w.h.output, w.w.output));
                                    if pool {
                                        let inv = 1.0 / (n * n) as f64;
                                        (buf.s[0], buf.t[0]) = (sums[0] * inv, sums[1] * inv);
                                        shape = None;
                                        next += 1;
                                    }
                                    continue;
                                }
                                None => {
                                    w.full(src, band, dst, (zero, true), |_, _, _| ());
                                    if theta_zero {
                                        let n = w.h.output * w.w.output;
                                        buf.t2[..n * n].fill(0.0);
                                    }
                                }
                            }
                        } else {
                            w.diagonal(buf.s, buf.tmp, buf.s2);
                            if theta_zero {
                                // Θ = 0 before the first layer's Dense update maps to 0.
                                buf.t2[..w.h.output * w.w.output].fill(0.0);
                            } else {
                                w.diagonal(buf.t, buf.tmp, buf.t2);
                            }
                        }
                        std::mem::swap(&mut buf.s, &mut buf.s2);
                        std::mem::swap(&mut buf.t, &mut buf.t2);
                        shape = Some((w.h.output, w.w.output));
                    }
                    Step::Activation(map) => {
                        let dense = pending.take().unwrap_or(IDENTITY);
                        let n = shape.map_or(1, |(h, w)| h * w);
                        let full = self.plan.full && shape.is_some();
                        let own;
                        let (v1, v2) = match (variances, record.as_deref_mut()) {
                            (Some((va, vb)), _) => (&va[activation], &vb[activation]),
                            (None, record) => {
                                let mut layer = LayerVariances::default();
                                for p in 0..n {
                                    let at = if full { p * n + p } else { p };
                                    let q = dense.apply(buf.s[at], buf.t[at]).0;
                                    if q.is_nan() || q.abs() > VARIANCE_RANGE {
                                        return Err(Error::invalid(
                                            "w_std, b_std or depth",
                                            format!(
                                                "the pre-activation variance of activation \
                                                 {} at position {p} is {q:.3e}, beyond the \
                                                 range the layer maps hold in f64 (≤ \
                                                 {VARIANCE_RANGE:e}); lower w_std or b_std, \
                                                 or rescale the inputs",
                                                activation + 1
                                            ),
                                        ));
                                    }
                                    layer.push(q);
                                }
                                if let Some(record) = record {
                                    record.push(layer.clone());
                                }
                                own = layer;
                                (&own, &own)
                            }
                        };
                        if full {
                            for p in 0..n {
                                let row = p * n..(p + 1) * n;
                                let (s, t) = (&mut buf.s[row.clone()], &mut buf.t[row]);
                                let diagonal = same.then_some(p);
                                map.apply_layer((dense, None), v1.q[p], v2, 0, s, t, diagonal);
                            }
                        } else {
                            let (s, t) = (&mut buf.s[..n], &mut buf.t[..n]);
                            map.apply_positions(dense, (v1, v2), s, t, same);
                        }
                        activation += 1;
                    }
                    Step::GlobalAvgPool => {
                        // Row by row, as the fused pass sums them.
                        let (n, p) = (self.len(shape), shape.map_or(1, |(h, w)| h * w));
                        let inv = 1.0 / n as f64;
                        let sum = |v: &[f64]| v.chunks_exact(p).fold(0.0, |a, r| a + sum_lanes(r));
                        (buf.s[0], buf.t[0]) = (sum(&buf.s[..n]) * inv, sum(&buf.t[..n]) * inv);
                        shape = None;
                    }
                    Step::Flatten => {
                        let p = shape.map_or(1, |(h, w)| h * w);
                        let stride = if self.plan.full { p + 1 } else { 1 };
                        let inv = 1.0 / p as f64;
                        buf.s[0] = (0..p).map(|i| buf.s[i * stride]).sum::<f64>() * inv;
                        buf.t[0] = (0..p).map(|i| buf.t[i * stride]).sum::<f64>() * inv;
                        shape = None;
                    }
                }
            }
            flush(&mut pending, &mut buf, self.len(shape));
            Ok((buf.s[0], buf.t[0]))
        })
    }

    /// Entries held for features of `shape` (`None`: one scalar).
    fn len(&self, shape: Option<(usize, usize)>) -> usize {
        match shape {
            None => 1,
            Some((h, w)) if self.plan.full => (h * w) * (h * w),
            Some((h, w)) => h * w,
        }
    }

    /// Σ⁰ = ⟨a[p, :], b[p′, :]⟩ / C into `buf.s` (full or same-position), Θ⁰ = 0; returns the
    /// spatial shape. The full Σ⁰ is formed row by row from b's channels laid out by channel
    /// (in `buf.tmp`): each row Σ_c a[p, c]·bᵀ[c, :] by fused multiply-adds over c in order.
    fn input_kernel(&self, a: &[f64], b: &[f64], buf: &mut Buffers) -> Option<(usize, usize)> {
        let (shape, c) = self.plan.input;
        let inv = 1.0 / c as f64;
        let p = shape.map_or(1, |(h, w)| h * w);
        if self.plan.full && shape.is_some() {
            let bt = &mut buf.tmp[..c * p];
            for (j, v) in b.chunks_exact(c).enumerate() {
                for (k, &x) in v.iter().enumerate() {
                    bt[k * p + j] = x;
                }
            }
            for (i, u) in a.chunks_exact(c).enumerate() {
                gram_row(&mut buf.s[i * p..(i + 1) * p], u, bt, inv);
            }
        } else {
            same_position_gram(&mut buf.s[..p], a, b, c, inv);
        }
        let n = self.len(shape);
        buf.t[..n].fill(0.0);
        shape
    }
}

/// `row[j]` = (Σ_k u[k]·bt[k·P + j]) · `inv` (fused multiply-adds over k in order, as the
/// same-position entries).
#[inline(always)]
fn gram_row_generic(row: &mut [f64], u: &[f64], bt: &[f64], inv: f64) {
    let p = row.len();
    row.fill(0.0);
    for (k, &x) in u.iter().enumerate() {
        for (r, &y) in row.iter_mut().zip(&bt[k * p..(k + 1) * p]) {
            *r = x.mul_add(y, *r);
        }
    }
    for r in row.iter_mut() {
        *r *= inv;
    }
}

crate::linalg::simd_dispatch! {
    /// [`gram_row_generic`] on the widest vector unit (fused multiply-adds: every path rounds
    /// alike).
    fn gram_row(row: &mut [f64], u: &[f64], bt: &[f64], inv: f64) = gram_row_generic;
}

/// `out[i]` = (Σ_k a[i·C + k]·b[i·C + k]) · `inv` for every position i (fused multiply-adds
/// over k in order, from 0).
#[inline(always)]
fn same_position_gram_generic(out: &mut [f64], a: &[f64], b: &[f64], c: usize, inv: f64) {
    let positions = a.chunks_exact(c).zip(b.chunks_exact(c));
    for (s, (u, v)) in out.iter_mut().zip(positions) {
        *s = u.iter().zip(v).fold(0.0, |acc, (x, y)| x.mul_add(*y, acc)) * inv;
    }
}

crate::linalg::simd_dispatch! {
    /// [`same_position_gram_generic`] compiled for the vector unit, so that its fused
    /// multiply-adds are the hardware's (not a library call); every path rounds alike.
    fn same_position_gram(out: &mut [f64], a: &[f64], b: &[f64], c: usize, inv: f64) =
        same_position_gram_generic;
}

/// Σ_k v[k] in eight interleaved partial sums (k mod 8) added in a fixed order: vectorises,
/// and is the same sum whatever the thread count.
#[inline]
fn sum_lanes(v: &[f64]) -> f64 {
    let mut lanes = [0.0; 8];
    let chunks = v.chunks_exact(8);
    let tail = chunks.remainder();
    for c in chunks {
        for (l, x) in lanes.iter_mut().zip(c) {
            *l += x;
        }
    }
    for (l, x) in lanes.iter_mut().zip(tail) {
        *l += x;
    }
    let [a, b, c, d, e, f, g, h] = lanes;
    ((a + b) + (c + d)) + ((e + f) + (g + h))
}

/// Applies the pending Dense update, if any, to the first `n` entries of Σ and Θ.
fn flush(pending: &mut Option<Dense>, buf: &mut Buffers, n: usize) {
    if let Some(d) = pending.take() {
        for (k, t) in buf.s[..n].iter_mut().zip(buf.t[..n].iter_mut()) {
            (*k, *t) = d.apply(*k, *t);
        }
    }
}
