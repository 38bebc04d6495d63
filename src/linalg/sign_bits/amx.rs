//! The overlaps N_ik = Σ_j q_j s_ij s'_kj of packed sign bits with integer weights q_j < 2^48
//! as int8 matrix products on Intel AMX tiles (`TDPBUUD`: 16 × 16 sums of 64 products of
//! unsigned bytes, with 32-bit accumulators).
//!
//! q_j is split into its six bytes, q_j = Σ_{d<6} 256^d q_jd, so that
//! N_ik = Σ_d 256^d C_d[i, k] with C_d = (S ⊙ q_{·d}) S'ᵀ: six products of byte matrices, the
//! left one the rows' sign bits times one byte of each weight, the right one the bits of the
//! other set. Every C_d entry is an exact integer (at most 255 M < 2^31 for M < 2^23 neurons),
//! so N is exact and equal to the subset-sum tables' integers bit for bit. Each pass over the
//! neurons forms four 16 × 16 tiles (two digits of 16 rows against two tiles of 16 columns),
//! loading per 64 neurons two left and two right operand tiles for four `TDPBUUD` (16 384 byte
//! products each): ≈ 25 cycles per `TDPBUUD` measured here with the operands in L2, against
//! 14 with none loaded.
//!
//! AMX needs the CPU's AMX-TILE and AMX-INT8 and, on Linux, the process's permission for the
//! tile data state (`arch_prctl(ARCH_REQ_XCOMP_PERM)`); elsewhere [`Digits::new`] returns
//! `None` and the tables are used.

// Off x86-64 Linux there is no AMX: `Digits::new` always returns `None`, and the products'
// code is compiled but never reached.
#![cfg_attr(
    not(all(target_arch = "x86_64", target_os = "linux")),
    allow(dead_code)
)]

use super::SignBits;
use rayon::prelude::*;

/// Bytes per weight for unequal weights: q_j < 2^48.
const DIGITS: usize = 6;
/// Rows (and columns) of an output tile; neurons per product step (one 64-bit word of bits).
const TILE: usize = 16;
/// Bytes of one 16 × 64 operand tile.
const TILE_BYTES: usize = 1024;

/// 64 bytes on a cache line: the operand tiles' rows are whole lines (a tile load of rows that
/// straddle lines took twice as long, measured here: 51 against 20 cycles per 1 KiB tile).
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Line([u8; 64]);

/// `len` zero bytes on whole cache lines (`len` a multiple of 64).
fn lines(len: usize) -> Vec<Line> {
    vec![Line([0; 64]); len / 64]
}

/// The bytes of a slice of lines.
fn bytes(lines: &[Line]) -> &[u8] {
    // SAFETY: `Line` is 64 plain bytes without padding.
    unsafe { std::slice::from_raw_parts(lines.as_ptr().cast(), lines.len() * 64) }
}

/// The bytes of a slice of lines, writable.
fn bytes_mut(lines: &mut [Line]) -> &mut [u8] {
    // SAFETY: `Line` is 64 plain bytes without padding; any byte values are valid.
    unsafe { std::slice::from_raw_parts_mut(lines.as_mut_ptr().cast(), lines.len() * 64) }
}

/// Whether AMX int8 products can run in this process (checked once).
pub(super) fn available() -> bool {
    static AVAILABLE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *AVAILABLE.get_or_init(detect)
}

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
fn detect() -> bool {
    use std::arch::x86_64::__cpuid_count;
    if !(std::arch::is_x86_feature_detected!("avx512bw")
        && std::arch::is_x86_feature_detected!("avx512dq"))
    {
        return false;
    }
    // CPUID.(EAX=7, ECX=0):EDX bit 24 = AMX-TILE, bit 25 = AMX-INT8.
    let edx = __cpuid_count(7, 0).edx;
    if edx & (3 << 24) != 3 << 24 {
        return false;
    }
    const ARCH_REQ_XCOMP_PERM: libc::c_long = 0x1023;
    const XFEATURE_XTILEDATA: libc::c_long = 18;
    // SAFETY: a request for a permission; it changes no memory.
    let granted = unsafe {
        libc::syscall(
            libc::SYS_arch_prctl,
            ARCH_REQ_XCOMP_PERM,
            XFEATURE_XTILEDATA,
        )
    };
    granted == 0
}

#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
fn detect() -> bool {
    false
}

/// The right-hand operand (the other set's bits as bytes, in the tiles' pair-interleaved
/// layout) and the weights' bytes, for [`Digits::task`].
pub(super) struct Digits {
    /// Per 16-row tile of the other set and word w: a 16 × 64-byte tile whose row r holds, for
    /// each of its 16 rows c, the bits 4r … 4r + 3 of word w as bytes 4c … 4c + 3.
    right: Vec<Line>,
    /// Byte d of q_j at [word][d][j mod 64].
    bytes: Vec<u8>,
    words: usize,
    rows2: usize,
}

impl Digits {
    /// The products' right-hand side for `bits2` with the weights `q` (each < 2^48, at most
    /// 2^23 of them); `None` where AMX is not available or the sizes do not allow it.
    pub fn new(q: &[u64], bits2: &SignBits) -> Option<Digits> {
        let words = bits2.words;
        let fits = q.iter().all(|&v| v >> 48 == 0);
        if !available() || words == 0 || words * 64 >= 1 << 23 || !fits {
            return None;
        }
        let mut bytes = vec![0u8; words * DIGITS * 64];
        for (w, block) in bytes.chunks_exact_mut(DIGITS * 64).enumerate() {
            for (d, plane) in block.chunks_exact_mut(64).enumerate() {
                for (m, b) in plane.iter_mut().enumerate() {
                    *b = q.get(64 * w + m).map_or(0, |&v| (v >> (8 * d)) as u8);
                }
            }
        }
        let rows2 = bits2.rows();
        // An even number of column tiles (the last one zero when needed), taken in pairs.
        let tiles = rows2.div_ceil(TILE).next_multiple_of(2);
        let mut right = lines(tiles * words * TILE_BYTES);
        bytes_mut(&mut right)
            .par_chunks_mut(words * TILE_BYTES)
            .enumerate()
            .for_each(|(ct, column_tile)| {
                let columns = TILE.min(rows2.saturating_sub(ct * TILE));
                for (w, tile) in column_tile.chunks_exact_mut(TILE_BYTES).enumerate() {
                    let word = |c: usize| {
                        if c < columns {
                            bits2.bits[(ct * TILE + c) * words + w]
                        } else {
                            0
                        }
                    };
                    let column_words: [u64; TILE] = std::array::from_fn(word);
                    // SAFETY: a `Digits` is built only where AVX-512BW was detected.
                    #[cfg(target_arch = "x86_64")]
                    unsafe {
                        right_tile(&column_words, tile)
                    };
                    #[cfg(not(target_arch = "x86_64"))]
                    let _ = (column_words, tile);
                }
            });
        Some(Digits {
            right,
            bytes,
            words,
            rows2,
        })
    }

    /// Rows r0 … r0 + `out.len() / rows2` − 1 of N (in units of the weights q) into `out`
    /// (those rows, every column of the other set, row-major); with `upper` only the pairs of
    /// 16-column tiles that reach each 16-row tile's diagonal are formed (the entries k ≥ i
    /// among them).
    pub fn task(&self, bits1: &SignBits, r0: usize, upper: bool, out: &mut [f64]) {
        #[cfg(target_arch = "x86_64")]
        {
            thread_local! {
                /// The left operands of this thread's last task, kept for its next one.
                static LEFT: std::cell::Cell<Vec<Line>> = const { std::cell::Cell::new(Vec::new()) };
            }
            let rows = out.len() / self.rows2.max(1);
            let len = rows.div_ceil(TILE) * self.words * DIGITS * TILE_BYTES / 64;
            crate::linalg::with_thread_buffer(&LEFT, len, Line([0; 64]), |left| {
                // SAFETY: a `Digits` exists only where AMX and AVX-512BW/DQ were detected.
                unsafe { self.task_wide(bits1, r0, upper, out, left) }
            })
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            let _ = (bits1, r0, upper, out);
            unreachable!("AMX products exist only on x86-64")
        }
    }

    /// [`Digits::task`] compiled for AVX-512 (the left operands by masked byte moves, the
    /// digits' sums combined eight lanes at a time). Each pass of [`products`] forms four
    /// 16 × 16 tiles: two digits of one row tile against two column tiles.
    ///
    /// `left` is the left operands' space (row tiles × words × six tiles), every byte of which
    /// is written here before it is read.
    ///
    /// # Safety
    /// AMX (see `available`), AVX-512BW and AVX-512DQ must be usable.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512bw,avx512dq")]
    unsafe fn task_wide(
        &self,
        bits1: &SignBits,
        r0: usize,
        upper: bool,
        out: &mut [f64],
        left: &mut [Line],
    ) {
        use std::arch::x86_64::{_mm512_loadu_si512, _mm512_maskz_mov_epi8, _mm512_storeu_si512};
        let (words, n2) = (self.words, self.rows2);
        if n2 == 0 {
            return;
        }
        let rows = out.len() / n2;
        let row_tiles = rows.div_ceil(TILE);
        // The left operands: per row tile, word and digit, the rows' bits times that byte of
        // each weight (zero rows past the last), every byte written here.
        let per_row_tile = words * DIGITS * TILE_BYTES;
        assert_eq!(
            left.len() * 64,
            row_tiles * per_row_tile,
            "AMX left operands' space"
        );
        for (rt, tiles) in bytes_mut(left).chunks_exact_mut(per_row_tile).enumerate() {
            for r in 0..TILE {
                let i = r0 + rt * TILE + r;
                let valid = rt * TILE + r < rows;
                for w in 0..words {
                    let word = if valid { bits1.bits[i * words + w] } else { 0 };
                    let bytes = &self.bytes[w * DIGITS * 64..(w + 1) * DIGITS * 64];
                    for (d, plane) in bytes.chunks_exact(64).enumerate() {
                        let at = ((w * DIGITS + d) * TILE + r) * 64;
                        let dst = &mut tiles[at..at + 64];
                        // SAFETY: 64 bytes each; AVX-512BW is the caller's contract.
                        unsafe {
                            let v = _mm512_maskz_mov_epi8(
                                word,
                                _mm512_loadu_si512(plane.as_ptr().cast()),
                            );
                            _mm512_storeu_si512(dst.as_mut_ptr().cast(), v);
                        }
                    }
                }
            }
        }
        let (lhs, rhs) = (bytes(left), bytes(&self.right));
        let per_column_tile = words * TILE_BYTES;
        // sums[j][d]: column tile ct + j, digit d.
        let mut sums = [[[0i32; TILE * TILE]; DIGITS]; 2];
        let first_tile = |rt: usize| if upper { (r0 + rt * TILE) / TILE } else { 0 };
        for ct in (first_tile(0) / 2 * 2..n2.div_ceil(TILE)).step_by(2) {
            let b = &rhs[ct * per_column_tile..(ct + 2) * per_column_tile];
            let b = b.split_at(per_column_tile);
            for rt in 0..row_tiles {
                if ct + 1 < first_tile(rt) {
                    continue;
                }
                let a = &lhs[rt * per_row_tile..(rt + 1) * per_row_tile];
                for d in (0..DIGITS).step_by(2) {
                    let pair = (&a[d * TILE_BYTES..], &a[(d + 1) * TILE_BYTES..]);
                    // SAFETY: AMX is the caller's contract; the operands are the slices
                    // `products` asks for (per step six tiles, the digits, in `a`).
                    unsafe { products(pair, b, words, d, &mut sums) };
                }
                for (j, sums) in sums.iter().enumerate() {
                    let k0 = (ct + j) * TILE;
                    if k0 >= n2 {
                        break;
                    }
                    let cols = TILE.min(n2 - k0);
                    let i0 = rt * TILE;
                    for r in 0..TILE.min(rows - i0) {
                        // N = Σ_d 256^d C_d, from the top digit down.
                        let mut n = [0u64; TILE];
                        for digit in sums.iter().rev() {
                            let c = &digit[r * TILE..(r + 1) * TILE];
                            for (v, &cd) in n.iter_mut().zip(c) {
                                *v = (*v << 8) + cd as u64;
                            }
                        }
                        let at = (i0 + r) * n2 + k0;
                        for (o, &v) in out[at..at + cols].iter_mut().zip(&n) {
                            *o = v as f64;
                        }
                    }
                }
            }
        }
    }
}

/// One right operand tile from its 16 columns' words of bits: row r holds, for each column c,
/// bits 4r … 4r + 3 of word c as bytes 4c … 4c + 3 (each 0 or 1): a byte mask per row (the
/// words' nibbles transposed) expanded by one masked move.
///
/// # Safety
/// The CPU must support AVX-512BW; `tile` holds 1024 bytes.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw")]
unsafe fn right_tile(column_words: &[u64; TILE], tile: &mut [u8]) {
    use std::arch::x86_64::{_mm512_maskz_mov_epi8, _mm512_set1_epi8, _mm512_storeu_si512};
    assert_eq!(tile.len(), TILE_BYTES);
    for (r, row) in tile.chunks_exact_mut(64).enumerate() {
        let mask = column_words
            .iter()
            .enumerate()
            .fold(0u64, |m, (c, &w)| m | (((w >> (4 * r)) & 15) << (4 * c)));
        // SAFETY: 64 bytes; AVX-512BW is the caller's contract.
        unsafe {
            let v = _mm512_maskz_mov_epi8(mask, _mm512_set1_epi8(1));
            _mm512_storeu_si512(row.as_mut_ptr().cast(), v);
        }
    }
}

/// Four 16 × 16 tiles of sums over `words` steps: with left operands a = (a₀, a₁) (the tiles of
/// digits d and d + 1) and right ones b = (b₀, b₁) (two column tiles), sums[j][d + i] =
/// Σ_steps a_i b_jᵀ. Per step a_i holds a 16 × 64-byte tile and moves on by the six digits'
/// tiles, b_j holds one and moves on by one. Four accumulators, two left and two right operand
/// tiles: each tile loaded feeds two products.
///
/// # Safety
/// AMX-TILE and AMX-INT8 must be usable by this thread (see `available`).
#[cfg(target_arch = "x86_64")]
unsafe fn products(
    a: (&[u8], &[u8]),
    b: (&[u8], &[u8]),
    words: usize,
    d: usize,
    sums: &mut [[[i32; TILE * TILE]; DIGITS]; 2],
) {
    /// Palette 1; every tile 16 rows of 64 bytes (the sums: 16 × 16 four-byte integers).
    #[repr(C, align(64))]
    struct Config([u8; 64]);
    let mut config = Config([0; 64]);
    config.0[0] = 1;
    for tile in 0..8 {
        config.0[16 + 2 * tile] = 64;
        config.0[48 + tile] = 16;
    }
    let a_step = DIGITS * TILE_BYTES;
    let a_len = (words - 1) * a_step + TILE_BYTES;
    assert!(
        words > 0
            && d + 1 < DIGITS
            && a.0.len() >= a_len
            && a.1.len() >= a_len
            && b.0.len() >= words * TILE_BYTES
            && b.1.len() >= words * TILE_BYTES,
        "AMX products outside their operands"
    );
    // SAFETY: the configuration is valid; every load reads 16 rows of 64 bytes at a stride of
    // 64 inside a slice of `a` or `b` (checked above), the stores write 16 rows of 64 bytes
    // inside `sums` (sums[j][d + i] lies 1024 (d + i + DIGITS j) bytes into it); the tile
    // registers are configured, used and released inside this one block.
    unsafe {
        std::arch::asm!(
            "ldtilecfg [{config}]",
            "tilezero tmm0",
            "tilezero tmm1",
            "tilezero tmm2",
            "tilezero tmm3",
            "2:",
            "tileloadd tmm4, [{a0} + {stride}*1]",
            "tileloadd tmm6, [{b0} + {stride}*1]",
            "tdpbuud tmm0, tmm4, tmm6",
            "tileloadd tmm7, [{b1} + {stride}*1]",
            "tdpbuud tmm1, tmm4, tmm7",
            "tileloadd tmm5, [{a1} + {stride}*1]",
            "tdpbuud tmm2, tmm5, tmm6",
            "tdpbuud tmm3, tmm5, tmm7",
            "add {a0}, {a_step}",
            "add {a1}, {a_step}",
            "add {b0}, 1024",
            "add {b1}, 1024",
            "dec {n}",
            "jnz 2b",
            "tilestored [{c} + {stride}*1], tmm0",
            "tilestored [{c} + {stride}*1 + 6144], tmm1",
            "tilestored [{c} + {stride}*1 + 1024], tmm2",
            "tilestored [{c} + {stride}*1 + 7168], tmm3",
            "tilerelease",
            config = in(reg) config.0.as_ptr(),
            a0 = inout(reg) a.0.as_ptr() => _,
            a1 = inout(reg) a.1.as_ptr() => _,
            b0 = inout(reg) b.0.as_ptr() => _,
            b1 = inout(reg) b.1.as_ptr() => _,
            n = inout(reg) words => _,
            a_step = in(reg) a_step,
            c = in(reg) sums.as_mut_ptr().cast::<i32>().add(d * TILE * TILE),
            stride = in(reg) 64usize,
            options(nostack),
        );
    }
}
