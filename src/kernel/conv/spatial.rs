//! The linear spatial maps of `conv` (𝒜, shared filter offsets) and `avg_pool` (independent
//! offsets) on a covariance between positions (module docs), separable over the spatial axes:
//! Σ′ = (height pass) then (width pass), each a sum over the axis' window offsets.
//!
//! **Full covariance as a stencil.** Rows and columns of the P × P covariance are positions
//! (a, b) in row-major order. A pass along one axis maps output row r to a few source rows
//! (one per window offset d on the row side) and, within each, output column c to source
//! columns by the column side's offsets. Per (output index, row offset) the column side is a
//! list of *runs* `dst[c..c+len] += w[..len] ⊙ src[s..s+len]`: contiguous stretches with their
//! own weights. Runs with the same shift (s − c) separated by a short gap are merged, the gap
//! weighted 0 — so a stride-1 `SAME` or `CIRCULAR`-free axis is one run per source row (the
//! zero-padded positions masked by zero weights), and every pass is long fused multiply-adds
//! over contiguous rows. (The skipped gap entries are finite covariances: 0·v adds ±0.)
//! An output row is then cut into *segments* at every run's start and end: over a segment the
//! same runs contribute, and each entry is written once as the sum of its runs' terms in a
//! fixed order (three source rows per pass over it) — no clearing of the output, a single
//! store per entry, and a broadcast weight where a run's weights are constant.
//!
//! The two passes are fused band by band: for each output row index a of the height axis, the
//! height pass writes the W_in rows (a, ·) into a band (W_in × H_out·W_in values), and the
//! width pass reads them — memory traffic is one read of Σ and one write of Σ′, the band stays
//! in cache, and no transpose is needed. Each entry is the same sequence of operations
//! whatever the thread count.

use super::layers::Padding;
use std::ops::Range;

/// One spatial axis of a window (filter or pooling window).
#[derive(Clone, Debug)]
pub(super) struct Axis {
    /// Input extent n.
    pub(super) input: usize,
    /// Output extent.
    pub(super) output: usize,
    /// Per output o, per window offset d: the input index, `None` in the zero padding.
    taps: Vec<Vec<Option<usize>>>,
    /// Per output o: its weight (1/f, or one over the taps inside the input with
    /// `normalize_edges` and `SAME`).
    weight: Vec<f64>,
    /// 𝒜's shared offsets (`conv`) or independent ones (`avg_pool`).
    shared: bool,
}

impl Padding {
    /// XLA's geometry of a window of extent `f` and stride `s` over `n` inputs: the output
    /// extent and the padding before the first input — `VALID`: (⌊(n − f)/s⌋ + 1, 0);
    /// `SAME` and `CIRCULAR`: n_out = ⌈n/s⌉ and ⌊total/2⌋ with total = max((n_out − 1)s + f − n,
    /// 0). `None` when the window does not fit (`VALID` with f > n).
    pub fn geometry(self, n: usize, f: usize, s: usize) -> Option<(usize, usize)> {
        match self {
            Padding::Valid => (f <= n).then(|| ((n - f) / s + 1, 0)),
            Padding::Same | Padding::Circular => {
                let output = n.div_ceil(s);
                let total = ((output - 1) * s + f).saturating_sub(n);
                Some((output, total / 2))
            }
        }
    }

    /// The input index read by output `o` at window offset `d` (stride `s`, `pad` before, `n`
    /// inputs): `None` in `SAME`/`VALID`'s zero padding, wrapped around (mod n) for `CIRCULAR`.
    pub fn tap(self, o: usize, d: usize, s: usize, pad: usize, n: usize) -> Option<usize> {
        let i = (o * s + d) as i64 - pad as i64;
        match self {
            Padding::Circular => Some(i.rem_euclid(n as i64) as usize),
            _ => (0..n as i64).contains(&i).then_some(i as usize),
        }
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
        let (output, pad) = padding.geometry(n, f, s)?;
        let taps: Vec<Vec<Option<usize>>> = (0..output)
            .map(|o| (0..f).map(|d| padding.tap(o, d, s, pad, n)).collect())
            .collect();
        let weight = taps
            .iter()
            .map(|t| {
                if normalize_edges && padding == Padding::Same {
                    1.0 / t.iter().flatten().count() as f64
                } else {
                    1.0 / f as f64
                }
            })
            .collect();
        Some(Axis {
            input: n,
            output,
            taps,
            weight,
            shared,
        })
    }

    /// Window extent f.
    fn extent(&self) -> usize {
        self.taps.first().map_or(0, Vec::len)
    }

    /// The column side of output `o` at row offset `d`, entry by entry as groups of
    /// (o′, i′, weight) — one group per column offset (one for shared offsets, d itself).
    fn column_terms(&self, o: usize, d: usize) -> Vec<Vec<(usize, usize, f64)>> {
        let offsets: Vec<usize> = if self.shared {
            vec![d]
        } else {
            (0..self.extent()).collect()
        };
        offsets
            .into_iter()
            .map(|d2| {
                (0..self.output)
                    .filter_map(|o2| {
                        let w = if self.shared {
                            self.weight[o]
                        } else {
                            self.weight[o] * self.weight[o2]
                        };
                        self.taps[o2][d2].map(|i2| (o2, i2, w))
                    })
                    .collect()
            })
            .collect()
    }
}

/// A stretch of one output row: `dst[dst..dst+len] += weights[weight..weight+len] ⊙
/// src[src..src+len]` (while the pass is built).
#[derive(Clone, Copy, Debug)]
struct Run {
    dst: usize,
    src: usize,
    len: usize,
    weight: usize,
}

/// Runs separated by at most this many entries (with the same shift) are merged.
const GAP: usize = 8;

/// A stretch `dst..dst+len` of one output row over which the same runs contribute: each
/// entry is written once, as the sum of its parts in order — `out[j] = Σ_k w_k[j]·src_k[j]`
/// in one pass (no clearing, one store per entry).
#[derive(Clone, Copy, Debug)]
struct Segment {
    dst: usize,
    len: usize,
    /// Its parts: `parts[start..end]`.
    parts: (usize, usize),
    /// Whether every part's weight is the same over the segment ([`Part::value`]).
    constant: bool,
}

/// One run's share of a segment: the source index i (of the axis: the row is i·scale +
/// offset), the first source column, and the weights (`weights[weight..]`, or `value` when the
/// segment is constant).
#[derive(Clone, Copy, Debug)]
struct Part {
    row: usize,
    src: usize,
    weight: usize,
    value: f64,
}

/// One axis' pass over the full covariance.
#[derive(Clone, Debug, Default)]
struct Pass {
    /// Per output index o of the axis: its segments (covering the output row, in order).
    rows: Vec<Range<usize>>,
    segments: Vec<Segment>,
    parts: Vec<Part>,
    weights: Vec<f64>,
}

/// The runs of a pass while it is built: per output index o, (source index i, its runs).
#[derive(Default)]
struct Runs {
    terms: Vec<Vec<(usize, Range<usize>)>>,
    runs: Vec<Run>,
    weights: Vec<f64>,
}

impl Pass {
    /// The pass of `axis` on rows and columns laid out (outer, inner) with the axis `outer`
    /// (the other axis, of extent `other`, carried) or inner.
    fn new(axis: &Axis, other: usize, outer: bool) -> Pass {
        let mut runs = Runs::default();
        for o in 0..axis.output {
            let mut terms = Vec::new();
            for d in 0..axis.extent() {
                let Some(i) = axis.taps[o][d] else { continue };
                let first = runs.runs.len();
                for group in axis.column_terms(o, d) {
                    let start = runs.runs.len();
                    if outer {
                        for &(o2, i2, w) in &group {
                            runs.push(o2 * other, i2 * other, other, w, start);
                        }
                    } else {
                        for c in 0..other {
                            for &(o2, i2, w) in &group {
                                runs.push(c * axis.output + o2, c * axis.input + i2, 1, w, start);
                            }
                        }
                    }
                }
                terms.push((i, first..runs.runs.len()));
            }
            runs.terms.push(terms);
        }
        runs.segments(axis.output * other)
    }
}

impl Runs {
    /// Appends `len` entries of weight `w` from `src` to `dst`, merged into the last run when
    /// it has the same shift and ends at most [`GAP`] entries before (the gap weighted 0);
    /// runs before `group` (another column offset) are never merged into.
    fn push(&mut self, dst: usize, src: usize, len: usize, w: f64, group: usize) {
        if self.runs.len() > group {
            if let Some(last) = self.runs.last_mut() {
                let end = last.dst + last.len;
                if dst >= end && dst - end <= GAP && dst - last.dst == src.wrapping_sub(last.src) {
                    let gap = dst - end;
                    self.weights.extend(std::iter::repeat_n(0.0, gap));
                    self.weights.extend(std::iter::repeat_n(w, len));
                    last.len += gap + len;
                    return;
                }
            }
        }
        self.runs.push(Run {
            dst,
            src,
            len,
            weight: self.weights.len(),
        });
        self.weights.extend(std::iter::repeat_n(w, len));
    }

    /// The pass as segments over output rows of `width` entries: each row cut at every run's
    /// start and end, each piece with the runs covering it (in the terms' order), entries
    /// no run covers as segments without parts (written 0).
    fn segments(self, width: usize) -> Pass {
        let mut pass = Pass {
            weights: self.weights,
            ..Pass::default()
        };
        for terms in &self.terms {
            let covering: Vec<(usize, Run)> = terms
                .iter()
                .flat_map(|(i, range)| self.runs[range.clone()].iter().map(move |r| (*i, *r)))
                .collect();
            let mut cuts: Vec<usize> = covering
                .iter()
                .flat_map(|(_, r)| [r.dst, r.dst + r.len])
                .chain([0, width])
                .collect();
            cuts.sort_unstable();
            cuts.dedup();
            let first = pass.segments.len();
            for cut in cuts.windows(2) {
                let (start, end) = (cut[0], cut[1]);
                let from = pass.parts.len();
                for &(i, r) in &covering {
                    if r.dst <= start && end <= r.dst + r.len {
                        let shift = start - r.dst;
                        let weight = r.weight + shift;
                        pass.parts.push(Part {
                            row: i,
                            src: r.src + shift,
                            weight,
                            value: pass.weights[weight],
                        });
                    }
                }
                let parts = &pass.parts[from..];
                let constant = parts.iter().all(|p| {
                    let w = &pass.weights[p.weight..p.weight + end - start];
                    w.iter().all(|&x| x.to_bits() == p.value.to_bits())
                });
                pass.segments.push(Segment {
                    dst: start,
                    len: end - start,
                    parts: (from, pass.parts.len()),
                    constant,
                });
            }
            pass.rows.push(first..pass.segments.len());
        }
        pass
    }
}

/// A 2-D window: its height and width axes (a 1-D input has height 1 and a window of height 1)
/// and their passes over the full covariance.
#[derive(Clone, Debug)]
pub(super) struct Window {
    pub(super) h: Axis,
    pub(super) w: Axis,
    /// The height pass: rows (a, b) ← (i, b), H_in·W_in → H_out·W_in columns.
    height: Pass,
    /// The width pass: rows (a, b) ← (a, i), H_out·W_in → H_out·W_out columns.
    width: Pass,
    /// The width axis' taps for the same-position map ([`Window::diagonal`]).
    strips: Vec<Strip>,
}

impl Window {
    /// The window of axes `h` and `w`.
    pub(super) fn new(h: Axis, w: Axis) -> Window {
        let height = Pass::new(&h, w.input, true);
        let width = Pass::new(&w, h.output, false);
        let strips = w.strips();
        Window {
            h,
            w,
            height,
            width,
            strips,
        }
    }

    /// Values of the band the full map works through (both buffers: twice this).
    pub(super) fn band(&self) -> usize {
        self.w.input * self.h.output * self.w.input
    }

    /// The full covariances `src` (each P_in × P_in, rows and columns positions in row-major
    /// order) mapped into `dst` (P_out × P_out) band by band (module docs) through `band`
    /// (at least [`Window::band`] values per buffer). `zero[k]`: buffer k is known to be 0
    /// (Θ before the first layer): its output, 0 too, is not written (the caller knows it). After
    /// each band, `after(r, s_rows, t_rows)` gets its finished rows r.. of both outputs (a
    /// layer map fused into the pass while they are in cache). `keep` false: only `after`
    /// reads the rows (a pooled sum), so every band is written at the start of `dst`, which
    /// stays in cache, and `dst` ends up holding only the last band.
    pub(super) fn full(
        &self,
        src: [&[f64]; 2],
        mut band: [&mut [f64]; 2],
        mut dst: [&mut [f64]; 2],
        (zero, keep): ([bool; 2], bool),
        mut after: impl FnMut(usize, &mut [f64], &mut [f64]),
    ) {
        let (wi, ho, wo) = (self.w.input, self.h.output, self.w.output);
        let (mid, side_in, side_out) = (ho * wi, self.h.input * wi, ho * wo);
        let (height, width) = (&self.height, &self.width);
        for a in 0..ho {
            let first = if keep { a * wo * side_out } else { 0 };
            let rows = first..first + wo * side_out;
            let buffers = dst
                .iter_mut()
                .zip(band.iter_mut())
                .zip(src.iter().zip(zero));
            for ((dst, band), (src, zero)) in buffers {
                let dst = &mut dst[rows.clone()];
                if zero {
                    continue;
                }
                let band = &mut band[..wi * mid];
                for b in 0..wi {
                    let out = &mut band[b * mid..(b + 1) * mid];
                    accumulate(out, src, side_in, (height, &height.rows[a], wi, b));
                }
                for (b, out) in dst.chunks_exact_mut(side_out).enumerate() {
                    accumulate(out, band, mid, (width, &width.rows[b], 1, 0));
                }
            }
            let [s, t] = &mut dst;
            after(a * wo, &mut s[rows.clone()], &mut t[rows]);
        }
    }

    /// The same-position covariances `src` (H·W) mapped into `dst` (H′·W′) by a `conv`
    /// window (its terms at o = o′), through `tmp` (at least H′·W values): each entry the sum
    /// of its taps' terms in offset order by fused multiply-adds from 0, the height pass into
    /// `tmp`, then the width pass — contiguous rows on the widest vector unit.
    pub(super) fn diagonal(&self, src: &[f64], tmp: &mut [f64], dst: &mut [f64]) {
        diagonal_pass(self, src, tmp, dst);
    }
}

/// One stretch of the width axis at one window offset for [`Window::diagonal`]: outputs
/// `dst..dst+len` read inputs `src..src+len` (consecutive taps; a stride above 1 gives
/// stretches of one).
#[derive(Clone, Copy, Debug)]
struct Strip {
    dst: usize,
    src: usize,
    len: usize,
}

impl Axis {
    /// The axis' taps as [`Strip`]s, offset after offset (so each output meets its taps in
    /// offset order); padding taps are left out.
    fn strips(&self) -> Vec<Strip> {
        let mut strips: Vec<Strip> = Vec::new();
        for d in 0..self.extent() {
            let first = strips.len();
            for (o, taps) in self.taps.iter().enumerate() {
                let Some(i) = taps[d] else { continue };
                if let Some(last) = strips[first..].last_mut() {
                    if last.dst + last.len == o && last.src + last.len == i {
                        last.len += 1;
                        continue;
                    }
                }
                strips.push(Strip {
                    dst: o,
                    src: i,
                    len: 1,
                });
            }
        }
        strips
    }
}

/// [`Window::diagonal`]'s two passes.
#[inline(always)]
fn diagonal_pass_generic(window: &Window, src: &[f64], tmp: &mut [f64], dst: &mut [f64]) {
    let (wi, ho, wo) = (window.w.input, window.h.output, window.w.output);
    for (a, row) in tmp[..ho * wi].chunks_exact_mut(wi).enumerate() {
        let weight = window.h.weight[a];
        row.fill(0.0);
        for i in window.h.taps[a].iter().flatten() {
            let from = &src[i * wi..(i + 1) * wi];
            for (r, &x) in row.iter_mut().zip(from) {
                *r = weight.mul_add(x, *r);
            }
        }
    }
    let weights = &window.w.weight[..wo];
    for (out, row) in dst[..ho * wo]
        .chunks_exact_mut(wo)
        .zip(tmp[..ho * wi].chunks_exact(wi))
    {
        out.fill(0.0);
        for s in &window.strips {
            let out = &mut out[s.dst..s.dst + s.len];
            let (w, x) = (&weights[s.dst..s.dst + s.len], &row[s.src..s.src + s.len]);
            for ((r, &w), &x) in out.iter_mut().zip(w).zip(x) {
                *r = w.mul_add(x, *r);
            }
        }
    }
}

crate::linalg::simd_dispatch! {
    /// [`diagonal_pass_generic`] on the widest vector unit, so that its fused multiply-adds
    /// are the hardware's (not a library call); every path rounds alike.
    fn diagonal_pass(window: &Window, src: &[f64], tmp: &mut [f64], dst: &mut [f64]) =
        diagonal_pass_generic;
}

/// `out` = the segments `pass.segments[range]` of a pass applied to the rows of `src` (rows of
/// `stride` values; a part's row is i·scale + offset): each entry written once, its parts
/// summed in order by fused multiply-adds (three at a time, over contiguous entries).
#[inline(always)]
fn accumulate_generic(
    out: &mut [f64],
    src: &[f64],
    stride: usize,
    (pass, range, scale, offset): (&Pass, &Range<usize>, usize, usize),
) {
    for segment in &pass.segments[range.clone()] {
        let (dst, len) = (segment.dst, segment.len);
        let out = &mut out[dst..dst + len];
        let parts = &pass.parts[segment.parts.0..segment.parts.1];
        if parts.is_empty() {
            out.fill(0.0);
            continue;
        }
        let source = |p: &Part| {
            let at = (p.row * scale + offset) * stride + p.src;
            &src[at..at + len]
        };
        let weights = |p: &Part| &pass.weights[p.weight..p.weight + len];
        for (k, chunk) in parts.chunks(3).enumerate() {
            let add = k > 0;
            match (chunk, segment.constant) {
                ([a], true) => fused_constant(out, [source(a)], [a.value], add),
                ([a, b], true) => {
                    fused_constant(out, [source(a), source(b)], [a.value, b.value], add)
                }
                ([a, b, c], true) => fused_constant(
                    out,
                    [source(a), source(b), source(c)],
                    [a.value, b.value, c.value],
                    add,
                ),
                ([a], false) => fused(out, [source(a)], [weights(a)], add),
                ([a, b], false) => {
                    fused(out, [source(a), source(b)], [weights(a), weights(b)], add)
                }
                ([a, b, c], false) => fused(
                    out,
                    [source(a), source(b), source(c)],
                    [weights(a), weights(b), weights(c)],
                    add,
                ),
                _ => unreachable!("chunks of one to three parts"),
            }
        }
    }
}

/// `out[j]` = (`out[j]` if `add`, else 0) + Σ_k `w[k][j]`·`src[k][j]`, the terms added in order
/// by fused multiply-adds.
#[inline(always)]
fn fused<const N: usize>(out: &mut [f64], src: [&[f64]; N], w: [&[f64]; N], add: bool) {
    let n = out.len();
    let (src, w) = (src.map(|s| &s[..n]), w.map(|s| &s[..n]));
    for j in 0..n {
        let mut acc = if add { out[j] } else { 0.0 };
        for k in 0..N {
            acc = w[k][j].mul_add(src[k][j], acc);
        }
        out[j] = acc;
    }
}

/// [`fused`] with one weight per term.
#[inline(always)]
fn fused_constant<const N: usize>(out: &mut [f64], src: [&[f64]; N], w: [f64; N], add: bool) {
    let n = out.len();
    let src = src.map(|s| &s[..n]);
    for j in 0..n {
        let mut acc = if add { out[j] } else { 0.0 };
        for k in 0..N {
            acc = w[k].mul_add(src[k][j], acc);
        }
        out[j] = acc;
    }
}

crate::linalg::simd_dispatch! {
    /// [`accumulate_generic`] on the widest vector unit (every path rounds alike: fused
    /// multiply-adds).
    fn accumulate(
        out: &mut [f64],
        src: &[f64],
        stride: usize,
        rows: (&Pass, &Range<usize>, usize, usize),
    ) = accumulate_generic;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Windows of every padding, strides 1 and 2, odd and even extents, on a 7 × 9 input.
    fn windows() -> Vec<Window> {
        let mut out = Vec::new();
        for padding in [Padding::Same, Padding::Valid, Padding::Circular] {
            for (f, s) in [(3, 1), (3, 2), (2, 1), (4, 2)] {
                let h = Axis::new(7, f, s, padding, true, false).unwrap();
                let w = Axis::new(9, f + 1, s, padding, true, false).unwrap();
                out.push(Window::new(h, w));
            }
        }
        out
    }

    #[test]
    fn the_same_position_map_is_the_direct_sum_over_the_filter() {
        let src: Vec<f64> = (0..63).map(|i| 1.0 + (i as f64 * 0.37).sin()).collect();
        for window in windows() {
            let (h, w) = (&window.h, &window.w);
            let mut tmp = vec![f64::NAN; h.output * w.input];
            let mut dst = vec![f64::NAN; h.output * w.output];
            window.diagonal(&src, &mut tmp, &mut dst);
            for a in 0..h.output {
                for b in 0..w.output {
                    // Σ over the filter's offsets (d₁, d₂) inside the input: 1/(f_h f_w) each.
                    let mut direct = 0.0;
                    for i in h.taps[a].iter().flatten() {
                        for j in w.taps[b].iter().flatten() {
                            direct += h.weight[a] * w.weight[b] * src[i * 9 + j];
                        }
                    }
                    let ours = dst[a * w.output + b];
                    assert!(
                        (ours - direct).abs() <= 4e-15 * direct.abs().max(1.0),
                        "{:?} ({a}, {b}): {ours} vs {direct}",
                        (h.extent(), h.output, w.extent(), w.output)
                    );
                }
            }
        }
    }

    #[test]
    fn the_same_position_map_is_the_same_on_every_vector_unit() {
        let src: Vec<f64> = (0..63).map(|i| (i as f64 * 0.71).cos()).collect();
        for window in windows() {
            crate::linalg::same_on_every_tier(|| {
                let mut tmp = vec![0.0; window.h.output * window.w.input];
                let mut dst = vec![0.0; window.h.output * window.w.output];
                window.diagonal(&src, &mut tmp, &mut dst);
                dst
            });
        }
    }
}
