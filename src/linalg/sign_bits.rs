//! Packed signs s_ij = 1[H_ij > 0] of a batch of pre-activations and their weighted overlaps
//! N_ik = Σ_j w_j s_ij s'_kj: the first layer's part of the two-layer empirical NTK for the
//! a/b-ReLU family, where η' takes one value on each side of 0, so that the kernel's
//! D₁D₂ᵀ (D = η'(H) ⊙ a) is a function of these overlaps with w_j = a_j² and needs no f64 GEMM.
//!
//! N is always an exact integer sum (in units of a common weight), so every way of forming it
//! gives the same bits:
//! - every w_j the same (±a output weights): N = w · popcount(s_i & s'_k), 512 neurons per
//!   AVX-512 `VPOPCNTQ` instruction;
//! - any w_j ≥ 0: the weights quantized to integers q_j < 2^48 ([`Quantized`]), then either
//!   AMX byte products (the `amx` submodule: N = Σ_d 256^d (S ⊙ q_{·d}) S'ᵀ over the six bytes
//!   of q, where the CPU and the OS allow it), or neurons in chunks of four, each chunk t with
//!   the 16-entry table T_t[b] = Σ_{r: bit r of b} q_{4t+r} of its subset sums, and
//!   N_ik = Σ_t T_t[ν_it & ν'_kt] with ν_it the chunk's four sign bits. On AVX-512 a table fits
//!   two registers and one `VPERMI2Q` looks it up for eight pairs at once: 32 neuron terms per
//!   lookup and add, against 8 per f64 FMA.

use rayon::prelude::*;

mod amx;

/// Packed sign bits s_ij = 1[H_ij > 0] of a batch of pre-activations, 64 neurons per word, with
/// the row counts c_i = Σ_j s_ij.
pub(crate) struct SignBits {
    words: usize,
    bits: Vec<u64>,
    counts: Vec<u32>,
}

impl SignBits {
    /// One row's bits: bit k of word w is 1[row[64 w + k] > 0].
    pub fn fill(bits: &mut [u64], row: &[f64]) {
        fill_bits(bits, row);
    }

    /// The packed rows (`words` per row) with their counts.
    pub fn from_bits(words: usize, bits: Vec<u64>, rows: usize) -> SignBits {
        let counts = bits
            .chunks(words.max(1))
            .take(rows)
            .map(|row| row.iter().map(|w| w.count_ones()).sum())
            .collect();
        SignBits {
            words,
            bits,
            counts,
        }
    }

    fn rows(&self) -> usize {
        self.counts.len()
    }

    /// The four bits ν_it of row i's neurons 4t … 4t + 3.
    fn nibble(&self, i: usize, t: usize) -> u64 {
        (self.bits[i * self.words + t / 16] >> (4 * (t % 16))) & 15
    }

    /// Every row's nibbles laid out for [`tile`]: [block of 8 rows][chunk][row in block], the
    /// blocks padded with zero rows to a multiple of [`COL_BLOCKS`] (written in that order, a
    /// chunk's eight lanes at a time).
    fn lanes(&self) -> Vec<u64> {
        let chunks = self.words * 16;
        let blocks = self.rows().div_ceil(8).next_multiple_of(COL_BLOCKS);
        let mut lanes = vec![0u64; blocks * chunks * 8];
        lanes
            .par_chunks_mut((chunks * 8).max(1))
            .enumerate()
            .for_each(|(blk, block)| {
                let rows = (blk * 8..self.rows()).take(8);
                for (t, lane) in block.chunks_exact_mut(8).enumerate() {
                    for (l, i) in lane.iter_mut().zip(rows.clone()) {
                        *l = self.nibble(i, t);
                    }
                }
            });
        lanes
    }
}

/// [`SignBits::fill`] without vector instructions.
fn fill_bits_generic(bits: &mut [u64], row: &[f64]) {
    for (w, chunk) in bits.iter_mut().zip(row.chunks(64)) {
        *w = chunk
            .iter()
            .enumerate()
            .fold(0u64, |v, (k, &u)| v | (u64::from(u > 0.0) << k));
    }
}

/// [`SignBits::fill`]: with AVX-512, eight bits per vector compare (`VCMPPD` into a mask; an
/// ordered comparison, false for NaN like `u > 0.0`), the partial last word as
/// [`fill_bits_generic`] does.
fn fill_bits(bits: &mut [u64], row: &[f64]) {
    #[cfg(target_arch = "x86_64")]
    if crate::linalg::tier_allowed(0) && std::arch::is_x86_feature_detected!("avx512f") {
        /// # Safety
        /// The CPU must support AVX-512F.
        #[target_feature(enable = "avx512f")]
        unsafe fn wide(bits: &mut [u64], row: &[f64]) {
            use std::arch::x86_64::{
                _mm512_cmp_pd_mask, _mm512_loadu_pd, _mm512_setzero_pd, _CMP_GT_OQ,
            };
            let whole = (row.len() / 64).min(bits.len());
            for (w, chunk) in bits.iter_mut().zip(row.chunks_exact(64)) {
                *w = (0..8).fold(0u64, |v, b| {
                    // SAFETY: eight values from 8b on lie inside the chunk of 64.
                    let u = unsafe { _mm512_loadu_pd(chunk[8 * b..].as_ptr()) };
                    let m = _mm512_cmp_pd_mask::<_CMP_GT_OQ>(u, _mm512_setzero_pd());
                    v | (u64::from(m) << (8 * b))
                });
            }
            fill_bits_generic(&mut bits[whole..], &row[64 * whole..]);
        }
        // SAFETY: the feature was detected at run time.
        return unsafe { wide(bits, row) };
    }
    fill_bits_generic(bits, row);
}

/// Calls `f(j, popcount(row & rows_j))` for every row j ≥ `start` of `rows` (each `words` long),
/// with the POPCNT instruction where the CPU has it (AVX-512's `VPOPCNTQ` where it has that).
fn and_counts(
    row: &[u64],
    rows: &[u64],
    words: usize,
    start: usize,
    mut f: impl FnMut(usize, f64),
) {
    if words > 0 {
        and_counts_dyn(row, rows, words, start, &mut f);
    }
}

/// [`and_counts`]' loop for any instruction set (compiled into each tier of `and_counts_dyn`).
#[inline(always)]
fn and_counts_generic(
    row: &[u64],
    rows: &[u64],
    words: usize,
    start: usize,
    f: &mut dyn FnMut(usize, f64),
) {
    for (j, r) in rows.chunks_exact(words).enumerate().skip(start) {
        let n: u32 = row.iter().zip(r).map(|(a, b)| (a & b).count_ones()).sum();
        f(j, f64::from(n));
    }
}

crate::linalg::simd_dispatch! {
    /// [`and_counts_generic`] compiled for the widest popcount the CPU has.
    fn and_counts_dyn(
        row: &[u64],
        rows: &[u64],
        words: usize,
        start: usize,
        f: &mut dyn FnMut(usize, f64),
    ) = and_counts_generic;
    tiers {
        vector_popcount: "avx512f,avx512vpopcntdq,popcnt" if "avx512vpopcntdq";
        popcount: "popcnt" if "popcnt";
    }
}

/// Rows per tile of the table path (a divisor of 8).
const TILE_ROWS: usize = 4;
/// Blocks of 8 columns per tile of the table path: 4 × 5 accumulators of 8 lanes, with the
/// five columns' nibbles, the chunk's table, the row's table and two index vectors, fill 31 of
/// the 32 vector registers of AVX-512.
const COL_BLOCKS: usize = 5;
const TILE_COLS: usize = 8 * COL_BLOCKS;
/// Rows per parallel task of the table path.
const TASK_ROWS: usize = 32;

/// One tile's sums.
type Tile = [[u64; TILE_COLS]; TILE_ROWS];

/// Unequal weights as integers, so that every sum of them is exact (and so the same whatever
/// the order or the instructions): q_j = round(w_j / u) with the unit u = max_j w_j / (2^B − 1),
/// B = min(48, 63 − ⌈log₂(M + 1)⌉) bits, so that a sum of all M fits in 63 bits. Each w_j is
/// represented to within u/2 = 2^−(B+1) max_j w_j (≈ 1.8e-15 max_j w_j for M < 2^15). A
/// negative or non-finite weight makes the unit NaN (and so every result).
struct Quantized {
    q: Vec<u64>,
    unit: f64,
}

impl Quantized {
    fn new(w: &[f64]) -> Quantized {
        let width_bits = usize::BITS - w.len().leading_zeros();
        let bits = 48.min(63 - width_bits.min(62));
        let top = ((1u64 << bits) - 1) as f64;
        let max = w.iter().fold(0.0f64, |m, &v| m.max(v));
        let valid = w.iter().all(|v| v.is_finite() && *v >= 0.0);
        if !valid || max == 0.0 {
            return Quantized {
                q: vec![0; w.len()],
                unit: if valid { 1.0 } else { f64::NAN },
            };
        }
        Quantized {
            q: w.iter().map(|&v| (v / max * top).round() as u64).collect(),
            unit: max / top,
        }
    }
}

/// The tables T_t[b] = Σ_{r: bit r of b} q_{4t+r} (16 per chunk; q_j = 0 past the last neuron),
/// each entry its lower-bit entry plus one weight.
fn subset_sums(q: &[u64], chunks: usize) -> Vec<u64> {
    let mut tables = vec![0; chunks * 16];
    for (t, table) in tables.chunks_exact_mut(16).enumerate() {
        for b in 1..16usize {
            let r = b.trailing_zeros() as usize;
            table[b] = table[b & (b - 1)] + q.get(4 * t + r).copied().unwrap_or(0);
        }
    }
    tables
}

/// Tile (rows i0 … i0 + 3, columns of blocks kb0 … kb0 + 4) of N_ik = Σ_t T_t[ν_it & ν'_kt], summed
/// over t: `rows` and `cols` are [`SignBits::lanes`] layouts.
fn tile_generic(tables: &[u64], rows: &[u64], cols: &[u64], i0: usize, kb0: usize, out: &mut Tile) {
    let chunks = tables.len() / 16;
    for (r, orow) in out.iter_mut().enumerate() {
        let (blk, lane) = ((i0 + r) / 8, (i0 + r) % 8);
        let row = &rows[blk * chunks * 8..(blk + 1) * chunks * 8];
        for (c, o) in orow.iter_mut().enumerate() {
            let (kb, kl) = (kb0 + c / 8, c % 8);
            let col = &cols[kb * chunks * 8..(kb + 1) * chunks * 8];
            let mut acc = 0;
            for (t, table) in tables.chunks_exact(16).enumerate() {
                acc += table[(row[t * 8 + lane] & col[t * 8 + kl]) as usize];
            }
            *o = acc;
        }
    }
}

/// [`tile_generic`] with AVX-512: per chunk, the table in two registers, each column block's
/// nibbles in one (eight columns), and per row the table restricted to the row's bits,
/// T_t[ν_it & b], by two `VPERMI2Q`; then one `VPERMI2Q` (indexed by the columns' nibbles)
/// and one `VPADDQ` per eight pairs (integer sums: the same as [`tile_generic`]'s).
///
/// # Safety
/// The CPU must support AVX-512F; the tile must lie inside `rows` and `cols` (as
/// [`tile_generic`] indexes them).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn tile_avx512(
    tables: &[u64],
    rows: &[u64],
    cols: &[u64],
    i0: usize,
    kb0: usize,
    out: &mut Tile,
) {
    use std::arch::x86_64::*;
    let chunks = tables.len() / 16;
    let mut acc = [[_mm512_setzero_si512(); COL_BLOCKS]; TILE_ROWS];
    let row_ptr: [*const u64; TILE_ROWS] = std::array::from_fn(|r| {
        let (blk, lane) = ((i0 + r) / 8, (i0 + r) % 8);
        rows[blk * chunks * 8 + lane..].as_ptr()
    });
    let col_ptr: [*const u64; COL_BLOCKS] =
        std::array::from_fn(|b| cols[(kb0 + b) * chunks * 8..].as_ptr());
    let tab = tables.as_ptr();
    let low_entries = _mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0);
    let high_entries = _mm512_set_epi64(15, 14, 13, 12, 11, 10, 9, 8);
    for t in 0..chunks {
        // SAFETY: t < chunks, the tables hold 16 entries per chunk, and every block of the
        // lanes holds chunks × 8 (the tile's blocks exist: checked by the caller).
        unsafe {
            let lo = _mm512_loadu_si512(tab.add(t * 16).cast());
            let hi = _mm512_loadu_si512(tab.add(t * 16 + 8).cast());
            let kv: [__m512i; COL_BLOCKS] =
                std::array::from_fn(|b| _mm512_loadu_si512(col_ptr[b].add(t * 8).cast()));
            for (r, arow) in acc.iter_mut().enumerate() {
                // Row r's own table T_t[ν_rt & b] (b = 0 … 15), so that each pair of eight
                // costs one VPERMI2Q and one VPADDQ.
                let nu = _mm512_set1_epi64(*row_ptr[r].add(t * 8) as i64);
                let rlo = _mm512_permutex2var_epi64(lo, _mm512_and_si512(low_entries, nu), hi);
                let rhi = _mm512_permutex2var_epi64(lo, _mm512_and_si512(high_entries, nu), hi);
                for (a, &k) in arow.iter_mut().zip(&kv) {
                    *a = _mm512_add_epi64(*a, _mm512_permutex2var_epi64(rlo, k, rhi));
                }
            }
        }
    }
    for (orow, arow) in out.iter_mut().zip(&acc) {
        for (b, a) in arow.iter().enumerate() {
            // SAFETY: block b's eight values lie inside the row of TILE_COLS.
            unsafe { _mm512_storeu_si512(orow[8 * b..].as_mut_ptr().cast(), *a) };
        }
    }
}

/// One tile on the widest path the CPU has.
fn tile(tables: &[u64], rows: &[u64], cols: &[u64], i0: usize, kb0: usize, out: &mut Tile) {
    let chunks = tables.len() / 16;
    assert!(
        rows.len() >= (i0 + TILE_ROWS).div_ceil(8) * chunks * 8
            && cols.len() >= (kb0 + COL_BLOCKS) * chunks * 8,
        "sign-bit tile outside its lanes"
    );
    #[cfg(target_arch = "x86_64")]
    if crate::linalg::tier_allowed(0) && std::arch::is_x86_feature_detected!("avx512f") {
        // SAFETY: the feature was detected at run time; the bounds were checked above.
        unsafe { tile_avx512(tables, rows, cols, i0, kb0, out) };
        return;
    }
    tile_generic(tables, rows, cols, i0, kb0, out);
}

/// One task of the table path: rows r0 … r0 + `out.len() / n2` − 1 of N into `out` (those rows,
/// `n2` columns, row-major), tile by tile; with `upper`, only the column groups that reach each
/// row group's diagonal. `lanes1`, `lanes2`: [`SignBits::lanes`] of the two sets.
fn task(
    tables: &[u64],
    (lanes1, lanes2): (&[u64], &[u64]),
    r0: usize,
    n2: usize,
    upper: bool,
    out: &mut [f64],
) {
    if n2 == 0 {
        return;
    }
    let rows = out.len() / n2;
    let mut t = [[0; TILE_COLS]; TILE_ROWS];
    let first_group = if upper { r0 / TILE_COLS } else { 0 };
    for g in first_group..n2.div_ceil(TILE_COLS) {
        for i0 in (r0..r0 + rows).step_by(TILE_ROWS) {
            if upper && (g + 1) * TILE_COLS <= i0 {
                continue;
            }
            tile(tables, lanes1, lanes2, i0, g * COL_BLOCKS, &mut t);
            let cols = TILE_COLS.min(n2 - g * TILE_COLS);
            for (r, trow) in t.iter().enumerate() {
                let i = i0 + r;
                if i >= r0 + rows {
                    break;
                }
                let at = (i - r0) * n2 + g * TILE_COLS;
                for (o, &v) in out[at..at + cols].iter_mut().zip(&trow[..cols]) {
                    *o = v as f64;
                }
            }
        }
    }
}

/// How [`Overlaps::rows`] forms N.
enum Path {
    /// Equal weights: popcounts of the rows' bits.
    Popcounts,
    /// Unequal weights: subset-sum tables.
    Tables(Tables),
    /// Unequal weights: AMX byte products (the same integers as the tables).
    Digits(amx::Digits),
}

/// The table path's inputs: the subset sums and both sets' lanes.
struct Tables {
    sums: Vec<u64>,
    lanes1: Vec<u64>,
    /// `None`: the same set as `lanes1`.
    lanes2: Option<Vec<u64>>,
}

/// N_ik = Σ_j w_j s_ij s'_kj with the row sums c_i = Σ_j w_j s_ij, c'_k and Σ_j w_j, for the
/// counted first-layer kernel (w_j ≥ 0): every quantity an integer in units of `scale`, summed
/// exactly (counts when every w_j is the same, else the [`Quantized`] weights). N is formed a
/// block of rows at a time ([`Overlaps::rows`]), never as a whole matrix.
pub(crate) struct Overlaps<'a> {
    bits1: &'a SignBits,
    bits2: &'a SignBits,
    path: Path,
    upper: bool,
    counts1: Vec<f64>,
    counts2: Vec<f64>,
    /// Σ_j w_j / scale.
    pub total: f64,
    /// The common weight when every w_j is the same (the popcount path), else the unit of the
    /// quantized weights.
    pub scale: f64,
}

impl<'a> Overlaps<'a> {
    /// Rows per block that [`Overlaps::rows`] forms at once (one task of the table path).
    pub const ROWS: usize = TASK_ROWS;

    /// The overlaps of `bits1`'s rows with `bits2`'s for the weights `w` (one per neuron); with
    /// `upper`, only N_ik for k ≥ i is needed (`bits1` = `bits2`).
    pub fn new(bits1: &'a SignBits, bits2: &'a SignBits, w: &[f64], upper: bool) -> Overlaps<'a> {
        Overlaps::with_products(bits1, bits2, w, upper, true)
    }

    /// [`Overlaps::new`], with `products` saying whether AMX products may replace the tables.
    fn with_products(
        bits1: &'a SignBits,
        bits2: &'a SignBits,
        w: &[f64],
        upper: bool,
        products: bool,
    ) -> Overlaps<'a> {
        let w0 = w.first().copied().unwrap_or(0.0);
        if w.iter().all(|&wj| wj == w0) {
            let counts = |b: &SignBits| b.counts.iter().map(|&c| f64::from(c)).collect();
            return Overlaps {
                bits1,
                bits2,
                // (AMX byte products give the same counts, but slower than VPOPCNTQ: 45.9–47.1
                // against 43.8–44.7 ms for the n = 1000, M = 4096 kernel.)
                path: Path::Popcounts,
                upper,
                counts1: counts(bits1),
                counts2: counts(bits2),
                total: w.len() as f64,
                scale: w0,
            };
        }
        let chunks = bits1.words * 16;
        let quantized = Quantized::new(w);
        let sums = subset_sums(&quantized.q, chunks);
        // c_i = Σ_t T_t[ν_it] and Σ_j q_j = Σ_t T_t[15], in units of u.
        let counts = |b: &SignBits| -> Vec<f64> {
            (0..b.rows())
                .into_par_iter()
                .map(|i| {
                    let c: u64 = (0..chunks)
                        .map(|t| sums[16 * t + b.nibble(i, t) as usize])
                        .sum();
                    c as f64
                })
                .collect()
        };
        let total: u64 = sums.chunks_exact(16).map(|table| table[15]).sum();
        let (counts1, counts2) = (
            counts(bits1),
            if upper { Vec::new() } else { counts(bits2) },
        );
        let digits = products
            .then(|| amx::Digits::new(&quantized.q, bits2))
            .flatten();
        let path = match digits {
            Some(d) => Path::Digits(d),
            None => Path::Tables(Tables {
                lanes1: bits1.lanes(),
                lanes2: (!upper).then(|| bits2.lanes()),
                sums,
            }),
        };
        Overlaps {
            bits1,
            bits2,
            path,
            upper,
            counts1,
            counts2,
            total: total as f64,
            scale: quantized.unit,
        }
    }

    /// c_i / scale for `bits1`'s row i.
    pub fn count1(&self, i: usize) -> f64 {
        self.counts1[i]
    }

    /// c'_k / scale for every row k of `bits2`.
    pub fn counts2(&self) -> &[f64] {
        if self.counts2.is_empty() {
            &self.counts1
        } else {
            &self.counts2
        }
    }

    /// Calls `f(i, start, row)` for `bits1`'s rows i0 … i0 + count − 1 in order, with `row` the
    /// values N_ik / scale for k = start … of `bits2`'s rows (start = i with `upper`, else 0);
    /// i0 should be a multiple of [`Overlaps::ROWS`] and count at most that.
    pub fn rows(&self, i0: usize, count: usize, mut f: impl FnMut(usize, usize, &[f64])) {
        let n2 = self.bits2.rows();
        let start = |i: usize| if self.upper { i.min(n2) } else { 0 };
        // (Every path writes every entry read below.)
        crate::linalg::with_scratch(count * n2, |out| {
            let words = self.bits1.words;
            match &self.path {
                Path::Popcounts => {
                    for (i, row) in (i0..i0 + count).zip(out.chunks_exact_mut(n2.max(1))) {
                        let bits = &self.bits1.bits[i * words..(i + 1) * words];
                        and_counts(bits, &self.bits2.bits, words, start(i), |k, n| row[k] = n);
                    }
                }
                Path::Tables(t) => {
                    let lanes2 = t.lanes2.as_deref().unwrap_or(&t.lanes1);
                    task(&t.sums, (&t.lanes1, lanes2), i0, n2, self.upper, out);
                }
                Path::Digits(d) => d.task(self.bits1, i0, self.upper, out),
            }
            for (i, row) in (i0..i0 + count).zip(out.chunks_exact(n2.max(1))) {
                f(i, start(i), &row[start(i)..]);
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn and_counts_are_the_same_on_every_tier() {
        // popcount(row & rows_j) with VPOPCNTQ, POPCNT and plain code (each where the CPU has
        // it) against a bit-by-bit count, row lengths of 1–9 words from row `start` on.
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for words in [1, 3, 8, 9] {
            let row: Vec<u64> = (0..words).map(|_| next()).collect();
            let rows: Vec<u64> = (0..5 * words).map(|_| next()).collect();
            // (j, count) pairs, flattened.
            let want: Vec<f64> = (2..5)
                .flat_map(|j| {
                    let bits = (0..words * 64)
                        .filter(|&b| {
                            let (w, k) = (b / 64, b % 64);
                            (row[w] >> k) & (rows[j * words + w] >> k) & 1 == 1
                        })
                        .count();
                    [j as f64, bits as f64]
                })
                .collect();
            let plain = crate::linalg::same_on_every_tier(|| {
                let mut got = vec![];
                and_counts(&row, &rows, words, 2, |j, n| got.extend([j as f64, n]));
                got
            });
            assert_eq!(plain, want, "{words} words");
        }
    }

    /// Rows of pseudo-random signs (about half positive) as pre-activations.
    fn signs(rows: usize, width: usize, seed: u64) -> (Vec<f64>, SignBits) {
        let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let h: Vec<f64> = (0..rows * width)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
            })
            .collect();
        let words = width.div_ceil(64);
        let mut bits = vec![0u64; rows * words];
        for (b, row) in bits.chunks_exact_mut(words).zip(h.chunks_exact(width)) {
            SignBits::fill(b, row);
        }
        (h, SignBits::from_bits(words, bits, rows))
    }

    /// N, the row sums and the total against their definitions Σ_j w_j s_ij s'_kj — unequal
    /// weights by the tables and (where the CPU has AMX) by the byte products, equal ones by
    /// popcounts — same-set (upper triangle) and cross, with row counts that leave partial tiles
    /// and blocks and a width that is not a multiple of 64.
    #[test]
    fn overlaps_match_their_definition() {
        let width = 150;
        let (h1, s1) = signs(45, width, 1);
        let (h2, s2) = signs(13, width, 2);
        let varied: Vec<f64> = (0..width)
            .map(|j| 0.1 + (j as f64 * 0.37).sin().powi(2))
            .collect();
        let equal = vec![0.49; width];
        let cases = [(&varied, false), (&varied, true), (&equal, true)];
        for (w, products) in cases {
            for (hb, sb, upper) in [(&h1, &s1, true), (&h2, &s2, false)] {
                let ov = Overlaps::with_products(&s1, sb, w, upper, products);
                let exact = |ha: &[f64], hb: &[f64]| -> f64 {
                    (0..width)
                        .filter(|&j| ha[j] > 0.0 && hb[j] > 0.0)
                        .map(|j| w[j])
                        .sum()
                };
                let close = |a: f64, b: f64, what: &str| {
                    assert!(
                        (a - b).abs() <= 1e-13 * b.abs().max(1.0),
                        "{what}: {a} vs {b}"
                    );
                };
                close(ov.scale * ov.total, w.iter().sum(), "total");
                for i in 0..45 {
                    let hi = &h1[i * width..(i + 1) * width];
                    close(ov.scale * ov.count1(i), exact(hi, hi), "c_i");
                }
                let mut seen = 0;
                for i0 in (0..45).step_by(Overlaps::ROWS) {
                    let count = Overlaps::ROWS.min(45 - i0);
                    let mut last = None;
                    ov.rows(i0, count, |i, k0, row| {
                        assert!(last < Some(i), "row {i} out of order");
                        last = Some(i);
                        assert_eq!(k0, if upper { i } else { 0 }, "row {i}'s first column");
                        assert_eq!(k0 + row.len(), sb.rows(), "row {i}'s last column");
                        for (k, &v) in (k0..).zip(row) {
                            let (hi, hk) = (
                                &h1[i * width..(i + 1) * width],
                                &hb[k * width..(k + 1) * width],
                            );
                            close(ov.scale * v, exact(hi, hk), "N_ik");
                            close(ov.scale * ov.counts2()[k], exact(hk, hk), "c'_k");
                            seen += 1;
                        }
                    });
                }
                let rows2 = sb.rows();
                let expected = if upper { 45 * (45 + 1) / 2 } else { 45 * rows2 };
                assert_eq!(seen, expected, "every pair visited once");
            }
        }
    }

    /// Where the CPU has AMX, its byte products ran and give the tables' integers exactly (same-set and
    /// cross; row counts that leave partial 16-row tiles, 32-row tasks and an odd number of
    /// 16-column tiles; a width that is not a multiple of 64). Elsewhere both sides are tables.
    /// Non-finite or negative weights make every quantity NaN instead of a wrong number.
    #[test]
    fn digit_products_equal_the_tables() {
        let width = 300;
        let (_, s1) = signs(77, width, 5);
        let (_, s2) = signs(37, width, 6);
        let w: Vec<f64> = (0..width)
            .map(|j| (j as f64 * 0.61).cos().powi(2) * 3.0 + 1e-3)
            .collect();
        for (sb, upper) in [(&s1, true), (&s2, false)] {
            let all = |products: bool| {
                let ov = Overlaps::with_products(&s1, sb, &w, upper, products);
                let mut values = Vec::new();
                for i0 in (0..77).step_by(Overlaps::ROWS) {
                    ov.rows(i0, Overlaps::ROWS.min(77 - i0), |i, k0, row| {
                        values.push((i, k0, row.to_vec()));
                    });
                }
                let uses_products = matches!(ov.path, Path::Digits(_));
                (
                    values,
                    ov.counts2().to_vec(),
                    ov.total,
                    ov.scale,
                    uses_products,
                )
            };
            let (tables, with_products) = (all(false), all(true));
            assert!(!tables.4);
            assert_eq!(tables.0, with_products.0, "upper = {upper}");
            assert_eq!(
                (&tables.1, tables.2, tables.3),
                (&with_products.1, with_products.2, with_products.3)
            );
            // Where the CPU (and the kernel) allow AMX, the products path must have run.
            assert_eq!(with_products.4, amx::available(), "upper = {upper}");
        }
        for bad in [f64::NAN, -1.0, f64::INFINITY] {
            let mut w = w.clone();
            w[7] = bad;
            let ov = Overlaps::new(&s1, &s1, &w, true);
            assert!(ov.scale.is_nan(), "weight {bad}");
        }
    }

    /// The AVX-512 tile gives the portable tile's bits (on a CPU without AVX-512 both calls take
    /// the portable path; `overlaps_match_their_definition` holds either to the definition).
    #[test]
    fn tile_paths_agree_bit_for_bit() {
        let width = 300;
        let (_, s1) = signs(16, width, 3);
        let (_, s2) = signs(40, width, 4);
        let w: Vec<f64> = (0..width).map(|j| 1.0 / (1.0 + j as f64)).collect();
        let tables = subset_sums(&Quantized::new(&w).q, s1.words * 16);
        let (l1, l2) = (s1.lanes(), s2.lanes());
        let mut slow = [[0; TILE_COLS]; TILE_ROWS];
        tile_generic(&tables, &l1, &l2, 8, 0, &mut slow);
        assert!(slow.iter().flatten().all(|v| *v > 0));
        // `tile` on every tier the CPU has (AVX-512 `VPERMI2Q` lookups, plain code).
        let counts = crate::linalg::same_on_every_tier(|| {
            let mut out = [[u64::MAX; TILE_COLS]; TILE_ROWS];
            tile(&tables, &l1, &l2, 8, 0, &mut out);
            out.iter().flatten().map(|&v| v as f64).collect()
        });
        let slow: Vec<f64> = slow.iter().flatten().map(|&v| v as f64).collect();
        assert_eq!(counts, slow);
    }
}
