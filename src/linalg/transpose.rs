//! Transposes of row groups: up to 8 rows of a row-major buffer written as columns of another,
//! 8 × 8 blocks at a time in AVX-512 registers where the CPU has them (the mirror of the
//! analytic kernels' tiles, the panels of the two-layer features).

/// `dst[c·ds + i] = src[i·ss + c]` for one group of `rows` ≤ 8 rows and `cols` columns: 8 × 8 blocks
/// transposed in registers with masked stores where the CPU has AVX-512F
/// ([`transpose8_avx512`]), through a local array otherwise. With `stream`, a group of eight
/// rows whose output rows each start a 64-byte line (`dst` aligned, `ds` a multiple of 8) has
/// every destination row segment be one whole line, written with a non-temporal store (for
/// outputs, not for buffers that are read again soon).
///
/// # Safety
/// Both buffers must be valid for the entries read and written (rows 0..`rows`, columns
/// 0..`cols`), which no other thread may access, and must not overlap.
pub(crate) unsafe fn transpose_group(
    (src, ss): (*const f64, usize),
    (dst, ds): (*mut f64, usize),
    rows: usize,
    cols: usize,
    stream: bool,
) {
    let rows = rows.min(8);
    if rows == 0 {
        return;
    }
    // Streaming stores exist on the x86 paths only.
    #[cfg(not(target_arch = "x86_64"))]
    let _ = stream;
    #[cfg(target_arch = "x86_64")]
    if super::tier_allowed(0) && std::arch::is_x86_feature_detected!("avx512f") {
        /// # Safety
        /// As [`transpose_group`]; the CPU must support AVX-512F.
        #[target_feature(enable = "avx512f")]
        unsafe fn wide(
            (src, ss): (*const f64, usize),
            (dst, ds): (*mut f64, usize),
            rows: usize,
            cols: usize,
            stream: bool,
        ) {
            let full = cols / 8 * 8;
            let lines = stream && rows == 8 && (dst as usize).is_multiple_of(64);
            let lines = lines && ds.is_multiple_of(8);
            // SAFETY: the caller's contract; with `lines` the rows of `dst` are 64-byte aligned.
            unsafe {
                for cb in (0..full).step_by(8) {
                    let (from, to) = (src.add(cb), dst.add(cb * ds));
                    if lines {
                        transpose8_avx512::<true>(from, ss, rows, to, ds);
                    } else {
                        transpose8_avx512::<false>(from, ss, rows, to, ds);
                    }
                }
                transpose_scalar((src, ss), (dst, ds), rows, full..cols);
            }
        }
        // SAFETY: the feature was detected at run time; the rest is the caller's contract.
        return unsafe { wide((src, ss), (dst, ds), rows, cols, stream) };
    }
    // SAFETY: the caller's contract.
    unsafe { transpose_group_portable((src, ss), (dst, ds), rows, cols) }
}

/// [`transpose_group`] without vector instructions: full 8 × 8 blocks through a local array
/// (eight row reads, eight row writes), the rest entry by entry.
///
/// # Safety
/// As [`transpose_group`].
unsafe fn transpose_group_portable(
    (src, ss): (*const f64, usize),
    (dst, ds): (*mut f64, usize),
    rows: usize,
    cols: usize,
) {
    const B: usize = 8;
    let full = if rows == B { cols / B * B } else { 0 };
    // SAFETY: the caller's contract; the blocks lie inside it.
    unsafe {
        for cb in (0..full).step_by(B) {
            let mut block = [[0.0f64; B]; B];
            for (r, row) in block.iter_mut().enumerate() {
                *row = *(src.add(r * ss + cb) as *const [f64; B]);
            }
            #[allow(clippy::needless_range_loop)] // c indexes the inner arrays
            for c in 0..B {
                let column: [f64; B] = std::array::from_fn(|r| block[r][c]);
                *(dst.add((cb + c) * ds) as *mut [f64; B]) = column;
            }
        }
        transpose_scalar((src, ss), (dst, ds), rows, full..cols);
    }
}

/// `dst[c·ds + i] = src[i·ss + c]` for i < `rows`, c in `cols`, entry by entry.
///
/// # Safety
/// As [`transpose_group`].
#[inline(always)]
unsafe fn transpose_scalar(
    (src, ss): (*const f64, usize),
    (dst, ds): (*mut f64, usize),
    rows: usize,
    cols: std::ops::Range<usize>,
) {
    for i in 0..rows {
        for c in cols.clone() {
            // SAFETY: the caller's contract.
            unsafe { *dst.add(c * ds + i) = *src.add(i * ss + c) };
        }
    }
}

/// The first `rows` (1 to 8) rows of the 8 × 8 block at `src` (row stride `ss`) written
/// transposed at `dst` (row stride `ds`): row loads (the last row repeated past `rows`), three
/// rounds of AVX-512 shuffles (pairs, 128-bit lanes, 256-bit halves), eight row stores of the
/// first `rows` lanes — non-temporal ones with `STREAM` (see [`super::stream_store`]), which needs
/// eight rows.
///
/// # Safety
/// Both blocks must be valid and not overlap; the CPU must support AVX-512F; with `STREAM`,
/// every row of `dst` must be 64-byte aligned.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn transpose8_avx512<const STREAM: bool>(
    src: *const f64,
    ss: usize,
    rows: usize,
    dst: *mut f64,
    ds: usize,
) {
    use std::arch::x86_64::*;
    // SAFETY: the caller's contract.
    unsafe {
        let r: [__m512d; 8] =
            std::array::from_fn(|k| _mm512_loadu_pd(src.add(k.min(rows - 1) * ss)));
        // t_{2p} = (r_{2p}[0] r_{2p+1}[0] | r_{2p}[2] r_{2p+1}[2] | …), t_{2p+1} the odd columns.
        let t: [__m512d; 8] = std::array::from_fn(|k| {
            let (a, b) = (r[k & !1], r[k | 1]);
            if k % 2 == 0 {
                _mm512_unpacklo_pd(a, b)
            } else {
                _mm512_unpackhi_pd(a, b)
            }
        });
        // Four rows' worth of columns (c, c + 4) per vector.
        let lo = _mm512_setr_epi64(0, 1, 8, 9, 4, 5, 12, 13);
        let hi = _mm512_setr_epi64(2, 3, 10, 11, 6, 7, 14, 15);
        // s[q] for rows 0–3 (q < 4) and rows 4–7 (q ≥ 4): columns (0, 4), (2, 6), (1, 5), (3, 7).
        let s: [__m512d; 8] = std::array::from_fn(|q| {
            let base = if q < 4 { 0 } else { 4 };
            let (a, b) = match q % 4 {
                0 | 1 => (t[base], t[base + 2]),
                _ => (t[base + 1], t[base + 3]),
            };
            _mm512_permutex2var_pd(a, if q % 2 == 0 { lo } else { hi }, b)
        });
        // Column c of the source = row c of the destination.
        let column = |c: usize| {
            let q = [0, 2, 1, 3][c % 4];
            if c < 4 {
                _mm512_shuffle_f64x2::<0x44>(s[q], s[q + 4])
            } else {
                _mm512_shuffle_f64x2::<0xEE>(s[q], s[q + 4])
            }
        };
        let lanes = (((1u32 << rows) - 1) & 0xFF) as u8;
        for c in 0..8 {
            if STREAM {
                _mm512_stream_pd(dst.add(c * ds), column(c));
            } else {
                _mm512_mask_storeu_pd(dst.add(c * ds), lanes, column(c));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_transposes_write_exactly_their_entries() {
        // Groups of 1–8 rows, widths with and without a ragged tail, destinations at every
        // offset within a 64-byte line (offset 0 with 8 rows and `stream` takes the
        // non-temporal path), on the dispatched path and the portable one: each
        // (c, i) ← (i, c) lands, and nothing else of the destination changes.
        let (ss, ds) = (21, 24);
        let src: Vec<f64> = (0..8 * ss).map(|v| v as f64 * 0.25 + 1.0).collect();
        for (rows, cols, offset, path) in (1..=8).flat_map(|rows| {
            [8, 13, 16].into_iter().flat_map(move |cols| {
                (0..8).flat_map(move |offset| (0..3).map(move |path| (rows, cols, offset, path)))
            })
        }) {
            let mut buf = vec![f64::NAN; 24 * ds + 16];
            let dst = buf.as_ptr().align_offset(64) + offset;
            let (from, to) = ((src.as_ptr(), ss), (buf.as_mut_ptr().wrapping_add(dst), ds));
            // SAFETY: rows × cols of `src`; `cols` rows of `ds` values from `dst`.
            unsafe {
                match path {
                    0 => transpose_group(from, to, rows, cols, true),
                    1 => transpose_group(from, to, rows, cols, false),
                    _ => transpose_group_portable(from, to, rows, cols),
                }
            };
            super::super::stream_fence();
            for (k, &v) in buf.iter().enumerate() {
                let at = k as isize - dst as isize;
                let (c, i) = (at.div_euclid(ds as isize), at.rem_euclid(ds as isize));
                let what = format!("{rows} rows, {cols} columns, offset {offset}, path {path}");
                if at >= 0 && (c as usize) < cols && (i as usize) < rows {
                    assert_eq!(v, src[i as usize * ss + c as usize], "{what}: ({c}, {i})");
                } else {
                    assert!(v.is_nan(), "{what}: wrote {k}");
                }
            }
        }
    }
}
