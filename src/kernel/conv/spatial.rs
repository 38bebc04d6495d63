//! The linear spatial maps of `conv` (𝒜, shared filter offsets) and `avg_pool` (independent
//! offsets) on a covariance between positions (module docs), separable over the spatial axes:
//! each axis contributes, per pair of output indices (o, o′), a list of terms (i, i′, weight)
//! and the 2-D map is the axis maps applied in turn.

use super::layers::Padding;

/// One spatial axis of a window (filter or pooling window).
#[derive(Clone, Debug)]
pub(super) struct Axis {
    /// Input extent n.
    pub(super) input: usize,
    /// Output extent.
    pub(super) output: usize,
    /// Per output pair o·output + o′: the terms (i, i′, weight) of Σ′[o, o′] = Σ w·Σ[i, i′].
    terms: Vec<Vec<(u32, u32, f64)>>,
}

/// The input index of output `o` at window offset `d`, `None` in the zero padding.
fn tap(o: usize, d: usize, stride: usize, pad: usize, n: usize, padding: Padding) -> Option<usize> {
    let i = (o * stride + d) as i64 - pad as i64;
    match padding {
        Padding::Circular => Some(i.rem_euclid(n as i64) as usize),
        _ => (0..n as i64).contains(&i).then_some(i as usize),
    }
}

impl Axis {
    /// The axis of a window of extent `f` and stride `s` over `n` inputs (module docs'
    /// geometry); `shared`: 𝒜's terms (the same offset on both sides, weight 1/f), else
    /// average pooling's (independent offsets, weight w(o)·w(o′) with w = 1/f, or one over
    /// the taps inside the input with `normalize_edges` and `SAME`). `None` when the window
    /// does not fit (`VALID` with f > n).
    pub(super) fn new(
        n: usize,
        f: usize,
        s: usize,
        padding: Padding,
        shared: bool,
        normalize_edges: bool,
    ) -> Option<Axis> {
        let (output, pad) = match padding {
            Padding::Valid => {
                if f > n {
                    return None;
                }
                ((n - f) / s + 1, 0)
            }
            Padding::Same | Padding::Circular => {
                let output = n.div_ceil(s);
                let total = ((output - 1) * s + f).saturating_sub(n);
                (output, total / 2)
            }
        };
        let taps: Vec<Vec<Option<usize>>> = (0..output)
            .map(|o| (0..f).map(|d| tap(o, d, s, pad, n, padding)).collect())
            .collect();
        let weight: Vec<f64> = taps
            .iter()
            .map(|t| {
                if normalize_edges && padding == Padding::Same {
                    1.0 / t.iter().flatten().count() as f64
                } else {
                    1.0 / f as f64
                }
            })
            .collect();
        let mut terms = Vec::with_capacity(output * output);
        for o in 0..output {
            for o2 in 0..output {
                let mut list = Vec::new();
                if shared {
                    for pair in taps[o].iter().zip(&taps[o2]) {
                        if let (&Some(i), &Some(i2)) = pair {
                            list.push((i as u32, i2 as u32, 1.0 / f as f64));
                        }
                    }
                } else {
                    for i in taps[o].iter().flatten() {
                        for i2 in taps[o2].iter().flatten() {
                            list.push((*i as u32, *i2 as u32, weight[o] * weight[o2]));
                        }
                    }
                }
                terms.push(list);
            }
        }
        Some(Axis {
            input: n,
            output,
            terms,
        })
    }

    fn terms(&self, o: usize, o2: usize) -> &[(u32, u32, f64)] {
        &self.terms[o * self.output + o2]
    }
}

/// A 2-D window: its height and width axes (a 1-D input has height 1 and a window of height 1).
#[derive(Clone, Debug)]
pub(super) struct Window {
    pub(super) h: Axis,
    pub(super) w: Axis,
}

impl Window {
    /// The full covariance `src` (rows and columns indexed by position, in the layout
    /// (height, width) — or (width, height) when `flipped`) mapped into `dst`, in the other
    /// layout: the window's first axis as an outer pass into `tmp`, a transpose back into
    /// `src` (which is overwritten), the second axis as an outer pass into `dst`. Alternating
    /// layouts keep both passes on contiguous rows; the layout does not matter to the layer
    /// maps (activations act entry by entry with the variances recorded in the same layout,
    /// the reductions take the diagonal or every entry). `src` and `tmp` must hold the input's
    /// P² values.
    pub(super) fn full(&self, src: &mut [f64], tmp: &mut [f64], dst: &mut [f64], flipped: bool) {
        let (first, second) = if flipped {
            (&self.w, &self.h)
        } else {
            (&self.h, &self.w)
        };
        let inner = second.input;
        outer(first, inner, src, tmp);
        transpose(first.output, inner, tmp, src);
        outer(second, first.output, src, dst);
    }

    /// The same-position covariances `src` (H·W) mapped into `dst` (H′·W′) by a `conv`
    /// window (its terms at o = o′), through `tmp` (at least H′·W values).
    pub(super) fn diagonal(&self, src: &[f64], tmp: &mut [f64], dst: &mut [f64]) {
        let (wi, ho, wo) = (self.w.input, self.h.output, self.w.output);
        for a in 0..ho {
            for b in 0..wi {
                let mut sum = 0.0;
                for &(i, _, weight) in self.h.terms(a, a) {
                    sum = weight.mul_add(src[i as usize * wi + b], sum);
                }
                tmp[a * wi + b] = sum;
            }
        }
        for a in 0..ho {
            for b in 0..wo {
                let mut sum = 0.0;
                for &(i, _, weight) in self.w.terms(b, b) {
                    sum = weight.mul_add(tmp[a * wi + i as usize], sum);
                }
                dst[a * wo + b] = sum;
            }
        }
    }
}

/// One axis as an outer pass: `src` is [A][B][A][B] (A = the axis' input extent, B = `inner`),
/// `dst` [A′][B][A′][B] with block (a, a′) of B × B entries = Σ w · block (i, i′) over the
/// axis' terms.
#[inline(always)]
fn outer_generic(axis: &Axis, inner: usize, src: &[f64], dst: &mut [f64]) {
    let (side_in, side_out) = (axis.input * inner, axis.output * inner);
    for a in 0..axis.output {
        for a2 in 0..axis.output {
            let terms = axis.terms(a, a2);
            for b in 0..inner {
                let out = &mut dst[(a * inner + b) * side_out + a2 * inner..][..inner];
                out.fill(0.0);
                for &(i, i2, weight) in terms {
                    let at = (i as usize * inner + b) * side_in + i2 as usize * inner;
                    for (o, v) in out.iter_mut().zip(&src[at..at + inner]) {
                        *o = weight.mul_add(*v, *o);
                    }
                }
            }
        }
    }
}

crate::linalg::simd_dispatch! {
    /// [`outer_generic`] on the widest vector unit (every path rounds alike: fused
    /// multiply-adds).
    fn outer(axis: &Axis, inner: usize, src: &[f64], dst: &mut [f64]) = outer_generic;
}

/// `dst` [B][A][B][A] = `src` [A][B][A][B] with the two axes swapped on both sides.
fn transpose(a: usize, b: usize, src: &[f64], dst: &mut [f64]) {
    let side = a * b;
    for x in 0..a {
        for y in 0..b {
            let row = &src[(x * b + y) * side..][..side];
            let out = &mut dst[(y * a + x) * side..][..side];
            for x2 in 0..a {
                for y2 in 0..b {
                    out[y2 * a + x2] = row[x2 * b + y2];
                }
            }
        }
    }
}
