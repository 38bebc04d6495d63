//! The hidden layer u = W x + b followed by η and a weighted sum c Σ_j a_j η(u_j): forward,
//! backward and the structured NTK passes, blocked over neurons and samples, shared by
//! [`crate::nn::TwoLayer`] and [`crate::nn::InfiniteWidth`].

use crate::linalg::panels::{Line, LANES};
use crate::linalg::sign_bits::{Overlaps, SignBits};
use crate::linalg::{
    fill_lower_from_upper, gemm_nt, gemm_panels, gemm_panels_block, gemm_slice, gram_upper,
    gram_upper_panels, view, Matrix, Panels, Threads,
};
use crate::nn::model::Cache;
use crate::nn::Activation;
use rayon::prelude::*;

/// A hidden layer u = W x + b (W ∈ R^{M×d}) followed by η and a weighted sum c Σ_j a_j η(u_j):
/// the forward and backward passes shared by the two-layer models.
pub(crate) struct HiddenLayer<'a> {
    pub w: &'a [f64],
    pub b: Option<&'a [f64]>,
    pub a: &'a [f64],
    pub width: usize,
    pub input_dim: usize,
    pub activation: Activation,
    /// c in f = c Σ_j a_j η(u_j).
    pub scale: f64,
}

/// Neurons per task of the forward and backward passes. Fixed (not derived from the thread
/// count), so every product and every sum is formed in the same order on any number of threads.
/// 128 neurons × n samples of pre-activations stay in a core's L2 cache for n ≲ 2000, and each
/// task's GEMMs run on one core: measured here, two cores reach ≈ 90 GFLOP/s this way against
/// ≈ 65–70 for faer's own parallel split of the same products.
pub(crate) const NEURON_BLOCK: usize = 128;

/// Samples per block of the sample-major product H = X Wᵀ of the kernel paths.
const SAMPLE_ROWS: usize = 64;

/// Below this many multiply-adds per pass (n·M·d) the blocks run on the calling thread.
const PARALLEL_WORK: usize = 1 << 18;

/// What the kernel paths need for the first layer's part: nothing (not trained), the sign bits
/// (the counted path) or D = η'(H) ⊙ a (the GEMM path).
#[derive(Clone, Copy, PartialEq, Eq)]
enum FirstLayer {
    None,
    Signs,
    Slopes,
}

/// What the kernel paths take from a batch's pre-activations H: Φ = η(H) in panels (for the
/// second layer's part Φ₁Φ₂ᵀ) and the first layer's ingredients.
struct Features {
    phi: Option<Panels>,
    bits: Option<SignBits>,
    d: Option<Panels>,
}

impl HiddenLayer<'_> {
    /// A batch's pre-activations H = X Wᵀ + b (n × M, sample-major) and what the kernel paths
    /// take from them, formed block by block (64 samples: one pass of the panel kernel each, on
    /// one core, in a per-thread buffer) while the block is in cache: its sign bits or
    /// D = η'(H) ⊙ a in [`Panels`] for the first layer's part (see [`FirstLayer`]), and
    /// Φ = η(H) in panels when `phi`. H itself is never stored. The blocks are fixed, so every entry is the same sequence of operations
    /// whatever the thread count.
    fn features(&self, x: &Matrix, first: FirstLayer, phi: bool) -> Features {
        let (n, m) = (x.rows, self.width);
        let words = m.div_ceil(64);
        let mut bits = (first == FirstLayer::Signs).then(|| vec![0u64; n * words]);
        // D in panels, zeroed, filled block by block below.
        let mut d = (first == FirstLayer::Slopes && m > 0).then(|| Panels::zeros(n, m));
        // Each block's share of the bits and of D's groups.
        let blocks = n.div_ceil(SAMPLE_ROWS);
        let mut bit_blocks = bits
            .as_mut()
            .map(|b| b.chunks_mut(SAMPLE_ROWS * words.max(1)));
        let mut d_blocks = d.as_mut().map(|d| {
            d.lines_mut()
                .chunks_mut(SAMPLE_ROWS / LANES * Panels::stride_for(m))
        });
        let items: Vec<_> = (0..blocks)
            .map(|_| {
                let bb = bit_blocks.as_mut().and_then(Iterator::next);
                let db = d_blocks.as_mut().and_then(Iterator::next);
                (bb, db)
            })
            .collect();
        let act = self.activation;
        // The passes over one block of H (rows r0..): row by row, so that each row stays in L1
        // through them; then, with `groups`, the block's panels of Φ.
        let fill_groups = |groups: &mut [Line], rows: &[f64]| {
            for (group, rows) in groups
                .chunks_mut(Panels::stride_for(m))
                .zip(rows.chunks(LANES * m))
            {
                Panels::fill_group(group, rows, m);
            }
        };
        // η' from η(H) where it is a function of it (tanh, sigmoid: one evaluation, not two).
        let from_value = act.derivative_from_value_exists();
        let epilogue = |hb: &mut [f64],
                        (mut bb, dg): (Option<&mut [u64]>, Option<&mut [Line]>),
                        groups: Option<&mut [Line]>| {
            // D's rows of the block in a scratch of their own, then its groups.
            let d_len = if dg.is_some() { hb.len() } else { 0 };
            crate::linalg::with_scratch(d_len, |db| {
                for (r, row) in hb.chunks_exact_mut(m).enumerate() {
                    if let Some(b) = self.b {
                        row.iter_mut().zip(b).for_each(|(u, &bj)| *u += bj);
                    }
                    if let Some(bb) = bb.as_deref_mut() {
                        SignBits::fill(&mut bb[r * words..(r + 1) * words], row);
                    }
                    let d_row = &mut db[(r * m).min(d_len)..((r + 1) * m).min(d_len)];
                    if dg.is_some() && !from_value {
                        self.slopes(d_row, row, false);
                    }
                    if groups.is_some() || (dg.is_some() && from_value) {
                        act.apply_in_place_sequential(row);
                    }
                    if dg.is_some() && from_value {
                        self.slopes(d_row, row, true);
                    }
                }
                if let Some(dg) = dg {
                    fill_groups(dg, db);
                }
            });
            if let Some(groups) = groups {
                fill_groups(groups, hb);
            }
        };
        // H = X Wᵀ block by block from the panels of X and W (each block one kernel pass on
        // one core, into that core's scratch).
        let (xp, wp) = (
            Panels::from_matrix(x),
            Panels::from_rows(self.w, m, self.input_dim),
        );
        let phi = if phi && m > 0 {
            let block_groups = SAMPLE_ROWS / LANES;
            Some(Panels::by_blocks(
                n,
                m,
                block_groups,
                items,
                |blk, groups, item| {
                    block_of_h((&xp, &wp), blk, |hb| epilogue(hb, item, Some(groups)))
                },
            ))
        } else {
            if m > 0 {
                items.into_par_iter().enumerate().for_each(|(blk, item)| {
                    block_of_h((&xp, &wp), blk, |hb| epilogue(hb, item, None))
                });
            }
            phi.then(|| Panels::from_rows(&[], n, 0))
        };
        Features {
            phi,
            bits: bits.map(|bits| SignBits::from_bits(words, bits, n)),
            d,
        }
    }

    /// One row of D = η'(H) ⊙ a (the GEMM path: activations without sign slopes), from the
    /// pre-activations `h`, or from the activations η(h) when `values` (the same numbers:
    /// [`Activation::derivative_from_value`] is η' written through η).
    fn slopes(&self, d: &mut [f64], h: &[f64], values: bool) {
        for ((v, &u), &aj) in d.iter_mut().zip(h).zip(self.a) {
            *v = aj
                * if values {
                    self.activation.derivative_from_value(u)
                } else {
                    self.activation.derivative(u)
                };
        }
    }

    /// The empirical NTK c² [1[first] (D₁D₂ᵀ) ⊙ (X₁X₂ᵀ + 1[bias]) + 1[second] Φ₁Φ₂ᵀ] with
    /// D = η'(H) ⊙ a and Φ = η(H): the sum over neurons of ⟨∂f/∂(w_j, b_j)⟩ and ⟨∂f/∂a_j⟩
    /// products, as GEMMs (only the upper triangle, mirrored once, when x2 is omitted).
    ///
    /// For the a/b-ReLU family D₁D₂ᵀ needs no GEMM: with s_ij = 1[H_ij > 0], η' = η'₋ + δ s
    /// (δ = η'₊ − η'₋) and w_j = a_j², (D₁D₂ᵀ)_ii' = η'₋² Σ_j w_j + η'₋ δ (c_i + c'_i') + δ² N_ii'
    /// with c_i = Σ_j w_j s_ij and N_ii' = Σ_j w_j s_ij s'_i'j, the [`Overlaps`] of packed sign
    /// bits: popcounts when every |a_j| is the same, 4-bit subset-sum tables otherwise.
    pub fn ntk(&self, x1: &Matrix, x2: Option<&Matrix>, first: bool, second: bool) -> Matrix {
        let same = x2.is_none();
        let x2r = x2.unwrap_or(x1);
        let sign_slopes = self.activation.sign_slopes();
        let first_layer = match (first, sign_slopes) {
            (false, _) => FirstLayer::None,
            (true, Some(_)) => FirstLayer::Signs,
            (true, None) => FirstLayer::Slopes,
        };
        let Features {
            phi: phi1,
            bits: bits1,
            d: d1,
        } = self.features(x1, first_layer, second);
        let (phi2, bits2, d2) = match x2 {
            Some(x) => {
                let f = self.features(x, first_layer, second);
                (f.phi, f.bits, f.d)
            }
            None => (None, None, None),
        };
        let c2 = self.scale * self.scale;
        // α A Bᵀ; only the upper triangle when both sides are the same set.
        let product = |a: &Matrix, b: &Matrix, alpha: f64| -> Matrix {
            let mut out = Matrix::zeros(a.rows, b.rows);
            if same {
                gram_upper(&mut out, a.view(), alpha);
            } else {
                gemm_nt(&mut out, a.view(), b.view(), alpha);
            }
            out
        };
        let n2 = x2r.rows;
        // The first layer's part: counted from the sign bits (with the input Gram formed a
        // block of rows at a time), or c² (D₁D₂ᵀ) ⊙ (X₁X₂ᵀ + 1[bias]).
        let mut first_part = None;
        let mut counted = None;
        if first {
            if let (Some(slopes), Some(bits1)) = (sign_slopes, bits1) {
                counted = Some((bits1, bits2, slopes));
            } else if let Some(d1) = &d1 {
                let mut inputs = product(x1, x2r, 1.0);
                if self.b.is_some() {
                    inputs.data.iter_mut().for_each(|g| *g += 1.0);
                }
                let mut dd = Matrix::zeros(x1.rows, n2);
                match &d2 {
                    Some(d2) => gemm_panels(&mut dd, d1, d2, c2),
                    None => gram_upper_panels(&mut dd, d1, c2),
                }
                dd.data
                    .par_iter_mut()
                    .zip(inputs.data.par_iter())
                    .for_each(|(t, g)| *t *= g);
                first_part = Some(dd);
            }
        }
        // c² Φ₁Φ₂ᵀ, from the panels of Φ = η(H).
        let mut k = Matrix::zeros(x1.rows, n2);
        if let Some(phi1) = &phi1 {
            match &phi2 {
                Some(phi2) => gemm_panels(&mut k, phi1, phi2, c2),
                None => gram_upper_panels(&mut k, phi1, c2),
            }
        }
        if let Some(dd) = first_part {
            k.data
                .par_iter_mut()
                .zip(dd.data.par_iter())
                .for_each(|(v, t)| *v += t);
        }
        if let Some((bits1, bits2, (lo, hi))) = counted {
            let bits2 = bits2.as_ref().unwrap_or(&bits1);
            let w: Vec<f64> = self.a.iter().map(|aj| aj * aj).collect();
            let ov = Overlaps::new(&bits1, bits2, &w, same);
            let delta = hi - lo;
            let bias = if self.b.is_some() { 1.0 } else { 0.0 };
            let block = Overlaps::ROWS * n2.max(1);
            k.data
                .par_chunks_mut(block)
                .enumerate()
                .for_each(|(b, kb)| {
                    let i0 = b * Overlaps::ROWS;
                    let rows = kb.len() / n2.max(1);
                    // This block's input Gram X₁X₂ᵀ, from column j_start on (the diagonal's
                    // block when both sets are the same: nothing left of it is read).
                    let j_start = if same { i0.min(n2) } else { 0 };
                    let width = n2 - j_start;
                    crate::linalg::with_scratch(rows * width, |g| {
                        let a = x1.view().subrows(i0, rows);
                        let b = x2r.view().subrows(j_start, width).transpose();
                        gemm_slice(g, 0.0, a, b, 1.0, Threads::Caller);
                        ov.rows(i0, rows, |i, j0, row| {
                            let ci = ov.count1(i);
                            let krow = &mut kb[(i - i0) * n2 + j0..(i - i0 + 1) * n2];
                            let grow = &g[(i - i0) * width + (j0 - j_start)..(i - i0 + 1) * width];
                            let counts = &ov.counts2()[j0..];
                            for (((kv, &g), &nij), &cj) in
                                krow.iter_mut().zip(grow).zip(row).zip(counts)
                            {
                                let dd = ov.scale
                                    * (ov.total * lo * lo
                                        + lo * delta * (ci + cj)
                                        + delta * delta * nij);
                                *kv += c2 * dd * (g + bias);
                            }
                        });
                    });
                });
        }
        if same {
            fill_lower_from_upper(&mut k);
        }
        k
    }
}

/// Block `index` of [`SAMPLE_ROWS`] rows of H = X Wᵀ (the last block shorter), from the panels
/// of X and of W, formed in the calling thread's scratch buffer and handed to `f` while in cache.
fn block_of_h<R>((x, w): (&Panels, &Panels), index: usize, f: impl FnOnce(&mut [f64]) -> R) -> R {
    let r0 = index * SAMPLE_ROWS;
    let rows = SAMPLE_ROWS.min(x.rows() - r0);
    crate::linalg::with_scratch(rows * w.rows(), |hb| {
        gemm_panels_block(hb, (x, r0..r0 + rows), (w, 0..w.rows()), 1.0);
        f(hb)
    })
}

/// Runs `f` on every item, on the rayon pool when `parallel` (each item is one fixed block of
/// neurons, so the results do not depend on where it runs).
fn run_blocks<T: Send>(items: Vec<T>, parallel: bool, f: impl Fn(T) + Sync + Send) {
    if parallel && rayon::current_num_threads() > 1 {
        items.into_par_iter().for_each(f);
    } else {
        items.into_iter().for_each(f);
    }
}

/// Xᵀ (d × n) into `xt`.
fn transpose_into(x: &Matrix, xt: &mut Matrix) {
    let (n, d) = (x.rows, x.cols);
    xt.resize(d, n);
    for (i, row) in x.data.chunks_exact(d.max(1)).enumerate().take(n) {
        for (k, &v) in row.iter().enumerate() {
            xt.data[k * n + i] = v;
        }
    }
}

/// One block of neurons j ∈ [j0, j0 + rows) in the forward pass.
struct ForwardBlock<'a> {
    j0: usize,
    /// Hᵀ rows of the block (rows × n); Φᵀ in place when `phi` is `None`.
    h: &'a mut [f64],
    phi: Option<&'a mut [f64]>,
    /// Σ_{j in block} a_j φ_j (n).
    partial: &'a mut [f64],
}

/// One block of neurons in the backward pass.
struct BackwardBlock<'a> {
    j0: usize,
    /// Φᵀ rows of the block, and the rows η' is computed from (Φᵀ or Hᵀ).
    phi: &'a [f64],
    source: &'a [f64],
    grad_w: Option<&'a mut [f64]>,
    grad_b: Option<&'a mut [f64]>,
    grad_a: Option<&'a mut [f64]>,
}

/// `Some(chunks)` of `v` (each `len` long) when `v` is given, else an endless run of `None`.
fn optional_chunks<'a>(
    v: Option<&'a mut [f64]>,
    len: usize,
) -> Box<dyn Iterator<Item = Option<&'a mut [f64]>> + 'a> {
    match v {
        Some(v) => Box::new(v.chunks_mut(len.max(1)).map(Some)),
        None => Box::new(std::iter::repeat_with(|| None)),
    }
}

impl HiddenLayer<'_> {
    /// True when the cache keeps only Φ (η' is a function of η), overwriting H.
    fn in_place(&self) -> bool {
        self.activation.derivative_from_value_exists()
    }

    /// The passes run neuron-major: Hᵀ = W Xᵀ (M × n), in fixed blocks of [`NEURON_BLOCK`]
    /// neurons, each block one task whose GEMM runs on its own core while its rows are still in
    /// cache for the elementwise work.
    ///
    /// Cache: [Hᵀ (or Φᵀ in place), Φᵀ (if not in place), per-block partial outputs, Xᵀ].
    /// out_i = c Σ_j a_j Φ_ji, the per-block partial sums added in block order:
    /// [`HiddenLayer::forward_blocks`], then [`HiddenLayer::add_partials`] onto zeros, times c.
    pub fn forward(&self, x: &Matrix, cache: &mut Cache, out: &mut Matrix) {
        self.forward_blocks(x, cache);
        out.resize(x.rows, 1);
        out.data.fill(0.0);
        self.add_partials(cache, &mut out.data);
        out.data.iter_mut().for_each(|o| *o *= self.scale);
    }

    /// acc ← (((acc + p₀) + p₁) + …) with p_k = Σ_{j in block k} a_j Φ_j· the partial outputs
    /// of [`HiddenLayer::forward_blocks`] (left in the cache), added in block order. A layer
    /// split into runs of whole blocks continues the same sum from where the run before it
    /// stopped (`distributed::meanfield`).
    pub fn add_partials(&self, cache: &Cache, acc: &mut [f64]) {
        let n = acc.len();
        let blocks = self.width.div_ceil(NEURON_BLOCK);
        for partial in cache.mats[2].data.chunks_exact(n.max(1)).take(blocks) {
            acc.iter_mut().zip(partial).for_each(|(o, &p)| *o += p);
        }
    }

    /// The blocks of the forward pass ([`NEURON_BLOCK`] neurons each): Hᵀ, Φᵀ and the partial
    /// outputs p_k = Σ_{j in block k} a_j Φ_j· into the cache.
    pub fn forward_blocks(&self, x: &Matrix, cache: &mut Cache) {
        let (n, m, d) = (x.rows, self.width, self.input_dim);
        cache.ensure(4);
        let [h, phi, partials, xt, ..] = cache.mats.as_mut_slice() else {
            unreachable!("the cache holds four buffers")
        };
        transpose_into(x, xt);
        let blocks = m.div_ceil(NEURON_BLOCK);
        h.resize(m, n);
        partials.resize(blocks, n);
        let in_place = self.in_place();
        if !in_place {
            phi.resize(m, n);
        }
        let chunk = NEURON_BLOCK * n.max(1);
        let phi_chunks = optional_chunks((!in_place).then_some(&mut phi.data[..]), chunk);
        let items: Vec<ForwardBlock<'_>> = h
            .data
            .chunks_mut(chunk)
            .zip(phi_chunks)
            .zip(partials.data.chunks_mut(n.max(1)))
            .enumerate()
            .map(|(blk, ((h, phi), partial))| ForwardBlock {
                j0: blk * NEURON_BLOCK,
                h,
                phi,
                partial,
            })
            .collect();
        let xt = &*xt;
        let act = self.activation;
        let pass = |blk: ForwardBlock<'_>| match act {
            Activation::Relu => self.forward_block(blk, xt, |u| u.max(0.0)),
            _ => self.forward_block(blk, xt, |u| act.value(u)),
        };
        run_blocks(items, n * m * d >= PARALLEL_WORK, pass);
    }

    /// Hᵀ_block = W_block Xᵀ (+ b), Φᵀ_block = η(Hᵀ_block), partial = Σ_j a_j φ_j.
    fn forward_block(&self, blk: ForwardBlock<'_>, xt: &Matrix, f: impl Fn(f64) -> f64 + Sync) {
        let (d, n) = (self.input_dim, xt.cols);
        let ForwardBlock {
            j0,
            h,
            mut phi,
            partial,
        } = blk;
        let rows = h.len() / n.max(1);
        gemm_slice(
            h,
            0.0,
            view(&self.w[j0 * d..(j0 + rows) * d], rows, d),
            xt.view(),
            1.0,
            Threads::Caller,
        );
        partial.fill(0.0);
        for (jj, hrow) in h.chunks_exact_mut(n.max(1)).enumerate().take(rows) {
            let j = j0 + jj;
            let aj = self.a[j];
            if self.activation == Activation::Relu {
                relu_row(hrow, partial, self.b.map_or(0.0, |b| b[j]), aj);
                continue;
            }
            if let Some(b) = self.b {
                hrow.iter_mut().for_each(|u| *u += b[j]);
            }
            match phi.as_deref_mut() {
                None => hrow.iter_mut().zip(partial.iter_mut()).for_each(|(u, p)| {
                    *u = f(*u);
                    *p += aj * *u;
                }),
                Some(phi) => {
                    let prow = &mut phi[jj * n..(jj + 1) * n];
                    for ((v, &u), p) in prow.iter_mut().zip(hrow.iter()).zip(partial.iter_mut()) {
                        *v = f(u);
                        *p += aj * *v;
                    }
                }
            }
        }
    }

    /// Given r = d_out (n × 1), per block of neurons: ∂a_j = c ⟨Φ_j, r⟩,
    /// Δ_ji = c r_i a_j η'(H_ji), ∂b_j = Σ_i Δ_ji and ∂W_block = Δᵀ_block X (a GEMM on the
    /// block's own core, written straight into the block's rows of ∂W). No sum crosses blocks,
    /// so nothing depends on the thread count. Gradients of blocks passed as `None` are skipped.
    pub fn backward(
        &self,
        x: &Matrix,
        cache: &mut Cache,
        d_out: &Matrix,
        grad_w: Option<&mut [f64]>,
        grad_b: Option<&mut [f64]>,
        grad_a: Option<&mut [f64]>,
    ) {
        let (n, m, d) = (x.rows, self.width, self.input_dim);
        cache.ensure(4);
        let [h, phi, ..] = cache.mats.as_mut_slice() else {
            unreachable!("the cache holds four buffers")
        };
        if n == 0 {
            for g in [grad_w, grad_b, grad_a].into_iter().flatten() {
                g.fill(0.0);
            }
            return;
        }
        let in_place = self.in_place();
        let phi = if in_place { &*h } else { &*phi };
        let source = if in_place { phi } else { &*h };
        let chunk = NEURON_BLOCK * n;
        let items: Vec<BackwardBlock<'_>> = phi
            .data
            .chunks(chunk)
            .zip(source.data.chunks(chunk))
            .zip(optional_chunks(grad_w, NEURON_BLOCK * d))
            .zip(optional_chunks(grad_b, NEURON_BLOCK))
            .zip(optional_chunks(grad_a, NEURON_BLOCK))
            .enumerate()
            .map(
                |(blk, ((((phi, source), grad_w), grad_b), grad_a))| BackwardBlock {
                    j0: blk * NEURON_BLOCK,
                    phi,
                    source,
                    grad_w,
                    grad_b,
                    grad_a,
                },
            )
            .collect();
        let r = &d_out.data;
        let act = self.activation;
        let pass = |blk: BackwardBlock<'_>| match (act, in_place) {
            (Activation::Relu, _) => {
                self.backward_block(blk, x, r, |v| if v > 0.0 { 1.0 } else { 0.0 })
            }
            (_, true) => self.backward_block(blk, x, r, |v| act.derivative_from_value(v)),
            (_, false) => self.backward_block(blk, x, r, |u| act.derivative(u)),
        };
        run_blocks(items, n * m * d >= PARALLEL_WORK, pass);
    }

    /// One block of [`HiddenLayer::backward`], over chunks of [`SAMPLE_BLOCK`] samples: each
    /// chunk's Δ rows go to a per-thread scratch that stays in cache for the GEMM that adds
    /// Δᵀ_chunk X_chunk to the block's rows of ∂W.
    fn backward_block(
        &self,
        blk: BackwardBlock<'_>,
        x: &Matrix,
        r: &[f64],
        derivative: impl Fn(f64) -> f64 + Sync,
    ) {
        let (n, d, c) = (x.rows, self.input_dim, self.scale);
        let BackwardBlock {
            j0,
            phi,
            source,
            mut grad_w,
            mut grad_b,
            mut grad_a,
        } = blk;
        let rows = phi.len() / n.max(1);
        if grad_w.is_none() && grad_b.is_none() {
            if let Some(ga) = grad_a {
                for (jj, g) in ga.iter_mut().enumerate().take(rows) {
                    *g = c * crate::linalg::dot8(&phi[jj * n..(jj + 1) * n], r);
                }
            }
            return;
        }
        // ⟨φ_j, r⟩ and Σ_i Δ_ji in eight lanes each (combined like linalg::dot8); the chunks are
        // multiples of eight long, so the lanes see the same sequence as one pass would.
        let mut lanes = vec![Lanes::default(); rows];
        let relu = self.activation == Activation::Relu;
        // The Δ rows of one chunk.
        crate::linalg::with_scratch(rows * SAMPLE_BLOCK.min(n), |scratch| {
            for (chunk, i0) in (0..n).step_by(SAMPLE_BLOCK).enumerate() {
                let len = SAMPLE_BLOCK.min(n - i0);
                let samples = i0..i0 + len;
                for (jj, acc) in lanes.iter_mut().enumerate() {
                    let span = jj * n + i0..jj * n + i0 + len;
                    let ca = c * self.a[j0 + jj];
                    let drow = &mut scratch[jj * len..(jj + 1) * len];
                    let (phi, rs) = (&phi[span.clone()], &r[samples.clone()]);
                    if relu {
                        relu_delta(phi, rs, drow, ca, acc);
                    } else {
                        drow.iter_mut()
                            .zip(&source[span])
                            .for_each(|(v, &u)| *v = derivative(u));
                        scaled_delta(phi, rs, drow, ca, acc);
                    }
                }
                if let Some(gw) = grad_w.as_deref_mut() {
                    let beta = if chunk == 0 { 0.0 } else { 1.0 };
                    let xs = view(&x.data[i0 * d..(i0 + len) * d], len, d);
                    let delta = view(&scratch[..rows * len], rows, len);
                    gemm_slice(gw, beta, delta, xs, 1.0, Threads::Caller);
                }
            }
        });
        for (jj, acc) in lanes.iter().enumerate() {
            if let Some(ga) = grad_a.as_deref_mut() {
                ga[jj] = c * Lanes::combine(&acc.dot, acc.dot_tail);
            }
            if let Some(gb) = grad_b.as_deref_mut() {
                gb[jj] = Lanes::combine(&acc.sum, acc.sum_tail);
            }
        }
    }
}

/// Samples per chunk of the backward pass (a multiple of 8): 128 neurons × 1024 samples of Δ is
/// 1 MiB, inside a core's L2 cache.
const SAMPLE_BLOCK: usize = 1024;

/// h ← relu(h + b), partial ← partial + a h (the ReLU forward of one neuron over the batch).
#[inline(always)]
fn relu_row_generic(h: &mut [f64], partial: &mut [f64], bias: f64, a: f64) {
    for (u, p) in h.iter_mut().zip(partial.iter_mut()) {
        let v = *u + bias;
        let v = if v > 0.0 { v } else { 0.0 };
        *u = v;
        *p += a * v;
    }
}

crate::linalg::simd_dispatch! {
    /// [`relu_row_generic`] on the widest vector unit.
    fn relu_row(h: &mut [f64], partial: &mut [f64], bias: f64, a: f64) = relu_row_generic;
}

/// Δ_i = ca r_i η'_i with η'_i = `slope(φ_i, δ_i)` (δ: the row's entry on input), accumulating
/// ⟨φ, r⟩ and Σ_i Δ_i into `acc`'s eight lanes.
#[inline(always)]
fn delta_lanes(
    phi: &[f64],
    r: &[f64],
    drow: &mut [f64],
    ca: f64,
    acc: &mut Lanes,
    slope: impl Fn(f64, f64) -> f64,
) {
    let (mut dot, mut sum) = (acc.dot, acc.sum);
    let (p8, r8, mut d8) = (
        phi.chunks_exact(8),
        r.chunks_exact(8),
        drow.chunks_exact_mut(8),
    );
    let (pt, rt) = (p8.remainder(), r8.remainder());
    for ((p, ri), dv) in p8.zip(r8).zip(&mut d8) {
        for k in 0..8 {
            dot[k] += p[k] * ri[k];
            let v = ca * ri[k] * slope(p[k], dv[k]);
            dv[k] = v;
            sum[k] += v;
        }
    }
    for ((&p, &ri), dv) in pt.iter().zip(rt).zip(d8.into_remainder().iter_mut()) {
        acc.dot_tail += p * ri;
        *dv = ca * ri * slope(p, *dv);
        acc.sum_tail += *dv;
    }
    (acc.dot, acc.sum) = (dot, sum);
}

#[inline(always)]
fn relu_delta_generic(phi: &[f64], r: &[f64], drow: &mut [f64], ca: f64, acc: &mut Lanes) {
    delta_lanes(
        phi,
        r,
        drow,
        ca,
        acc,
        |p, _| if p > 0.0 { 1.0 } else { 0.0 },
    );
}

#[inline(always)]
fn scaled_delta_generic(phi: &[f64], r: &[f64], drow: &mut [f64], ca: f64, acc: &mut Lanes) {
    delta_lanes(phi, r, drow, ca, acc, |_, slope| slope);
}

crate::linalg::simd_dispatch! {
    /// [`delta_lanes`] for ReLU (η' = 1[φ > 0]) on the widest vector unit.
    fn relu_delta(phi: &[f64], r: &[f64], drow: &mut [f64], ca: f64, acc: &mut Lanes) = relu_delta_generic;
}

crate::linalg::simd_dispatch! {
    /// [`delta_lanes`] with η' given in `drow` on the widest vector unit.
    fn scaled_delta(phi: &[f64], r: &[f64], drow: &mut [f64], ca: f64, acc: &mut Lanes) = scaled_delta_generic;
}

/// Eight-lane partial sums of ⟨φ_j, r⟩ and Σ_i Δ_ji for one neuron.
#[derive(Clone, Default)]
struct Lanes {
    dot: [f64; 8],
    sum: [f64; 8],
    dot_tail: f64,
    sum_tail: f64,
}

impl Lanes {
    /// The lanes added in linalg::dot8's order, then the tail.
    fn combine(v: &[f64; 8], tail: f64) -> f64 {
        ((v[0] + v[4]) + (v[1] + v[5])) + ((v[2] + v[6]) + (v[3] + v[7])) + tail
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn row_passes_round_alike_on_every_tier() {
        // The ReLU forward row and the two backward Δ rows on every tier the CPU has (AVX-512,
        // AVX2 + FMA, plain code): the same bits, lengths with vector remainders included.
        let mut r = crate::rng::Seed(5).stream("row-passes", 0);
        for len in [3, 8, 21, 100] {
            let h: Vec<f64> = (0..len).map(|_| r.normal()).collect();
            let res: Vec<f64> = (0..len).map(|_| r.normal()).collect();
            let slopes: Vec<f64> = (0..len).map(|_| r.uniform()).collect();
            crate::linalg::same_on_every_tier(|| {
                let (mut phi, mut partial) = (h.clone(), vec![0.5; len]);
                relu_row(&mut phi, &mut partial, 0.1, -0.7);
                let (mut d1, mut d2) = (vec![0.0; len], slopes.clone());
                let (mut a1, mut a2) = (Lanes::default(), Lanes::default());
                relu_delta(&phi, &res, &mut d1, 0.3, &mut a1);
                scaled_delta(&phi, &res, &mut d2, 0.3, &mut a2);
                let lanes = |a: &Lanes| [&a.dot[..], &a.sum, &[a.dot_tail, a.sum_tail]].concat();
                [phi, partial, d1, d2, lanes(&a1), lanes(&a2)].concat()
            });
        }
    }
}
