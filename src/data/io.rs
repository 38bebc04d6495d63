//! File input and output: NPY arrays (read: header versions 1.0–3.0, f64/f32, either byte
//! order, C or Fortran order; write: f64 little-endian, C order), CSV tables, and atomic writes
//! (temporary file + rename, so a crash never leaves a half-written result).

use crate::error::{Error, Result};
use crate::linalg::Matrix;
use std::io::Write;
use std::path::Path;

const MAGIC: &[u8] = b"\x93NUMPY";

/// An array read from an NPY file: its shape and its values in C (row-major) order.
#[derive(Clone, Debug, PartialEq)]
pub struct NpyArray {
    /// The shape, as in the file (`()` for a scalar).
    pub shape: Vec<usize>,
    /// The values in C order, converted to f64.
    pub data: Vec<f64>,
}

impl NpyArray {
    /// The array as a matrix: 1-D arrays become columns (n × 1), 2-D arrays keep their shape.
    pub fn into_matrix(self, path: &Path) -> Result<Matrix> {
        match self.shape.as_slice() {
            [n] => Matrix::from_vec(*n, 1, self.data),
            [r, c] => Matrix::from_vec(*r, *c, self.data),
            other => Err(Error::format(
                path,
                format!("expected a 1-D or 2-D array, got shape {other:?}"),
            )),
        }
    }
}

/// Reads an NPY file as a matrix (1-D arrays become one column).
pub fn read_npy_matrix(path: &Path) -> Result<Matrix> {
    read_npy(path)?.into_matrix(path)
}

/// Reads an NPY file (see the module doc for what is accepted).
pub fn read_npy(path: &Path) -> Result<NpyArray> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    parse_npy(&bytes).map_err(|m| Error::format(path, m))
}

/// Parses the bytes of an NPY file; the error is a message without the path.
pub fn parse_npy(bytes: &[u8]) -> std::result::Result<NpyArray, String> {
    if bytes.len() < 10 || &bytes[..6] != MAGIC {
        return Err("not an NPY file (missing the \\x93NUMPY magic string)".into());
    }
    let (major, minor) = (bytes[6], bytes[7]);
    let (header_len, start) = match major {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 => {
            if bytes.len() < 12 {
                return Err("truncated NPY header".into());
            }
            (
                u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
                12,
            )
        }
        _ => return Err(format!("unsupported NPY format version {major}.{minor}")),
    };
    let end = start + header_len;
    if bytes.len() < end {
        return Err("truncated NPY header".into());
    }
    let header = std::str::from_utf8(&bytes[start..end])
        .map_err(|_| "NPY header is not valid text".to_string())?;
    let descr = dict_value(header, "descr").ok_or("NPY header has no 'descr'")?;
    let descr = descr.trim_matches(|c| c == '\'' || c == '"');
    let fortran = match dict_value(header, "fortran_order").map(str::trim) {
        Some("True") => true,
        Some("False") => false,
        _ => return Err("NPY header has no valid 'fortran_order'".into()),
    };
    let shape_text = dict_value(header, "shape").ok_or("NPY header has no 'shape'")?;
    let shape = parse_shape(shape_text)?;
    let (size, little, is_f32) = match descr {
        "<f8" | "=f8" | "f8" | "<d" => (8, true, false),
        ">f8" | ">d" => (8, false, false),
        "<f4" | "=f4" | "f4" | "<f" => (4, true, true),
        ">f4" | ">f" => (4, false, true),
        other => {
            return Err(format!(
                "unsupported dtype '{other}': expected float64 ('<f8') or float32 ('<f4')"
            ))
        }
    };
    // Element and byte counts with overflow checks: a shape whose product wraps must not read
    // as a small (or empty) array.
    let count = shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .filter(|c| c.checked_mul(size).is_some())
        .ok_or_else(|| format!("NPY shape {shape:?} is too large to address"))?;
    let body = &bytes[end..];
    if body.len() < count * size {
        return Err(format!(
            "truncated NPY data: shape {shape:?} needs {} bytes, file has {}",
            count * size,
            body.len()
        ));
    }
    let mut data: Vec<f64> = body[..count * size]
        .chunks_exact(size)
        .map(|c| match (is_f32, little) {
            (false, true) => f64::from_le_bytes(c.try_into().unwrap_or([0; 8])),
            (false, false) => f64::from_be_bytes(c.try_into().unwrap_or([0; 8])),
            (true, true) => f64::from(f32::from_le_bytes(c.try_into().unwrap_or([0; 4]))),
            (true, false) => f64::from(f32::from_be_bytes(c.try_into().unwrap_or([0; 4]))),
        })
        .collect();
    if fortran && shape.len() > 1 {
        data = fortran_to_c(&data, &shape);
    }
    Ok(NpyArray { shape, data })
}

/// The raw text of `'key': value` in a Python dict literal (value up to the next top-level comma).
fn dict_value<'a>(header: &'a str, key: &str) -> Option<&'a str> {
    let pat_single = format!("'{key}'");
    let pat_double = format!("\"{key}\"");
    let pos = header
        .find(&pat_single)
        .map(|p| p + pat_single.len())
        .or_else(|| header.find(&pat_double).map(|p| p + pat_double.len()))?;
    let rest = header[pos..].trim_start().strip_prefix(':')?.trim_start();
    let mut depth = 0i32;
    for (i, ch) in rest.char_indices() {
        match ch {
            '(' | '[' => depth += 1,
            ')' | ']' => {
                depth -= 1;
                if depth < 0 {
                    return Some(&rest[..i]);
                }
            }
            ',' | '}' if depth == 0 => return Some(&rest[..i]),
            _ => {}
        }
    }
    Some(rest)
}

fn parse_shape(text: &str) -> std::result::Result<Vec<usize>, String> {
    let inner = text
        .trim()
        .strip_prefix('(')
        .and_then(|t| t.strip_suffix(')'))
        .ok_or_else(|| format!("malformed NPY shape '{text}'"))?;
    inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.trim_end_matches('L')
                .parse::<usize>()
                .map_err(|_| format!("malformed NPY shape '{text}'"))
        })
        .collect()
}

/// Reorders Fortran-order (column-major) data of any rank into C order.
fn fortran_to_c(data: &[f64], shape: &[usize]) -> Vec<f64> {
    let rank = shape.len();
    let mut f_strides = vec![1usize; rank];
    for k in 1..rank {
        f_strides[k] = f_strides[k - 1] * shape[k - 1];
    }
    let mut out = Vec::with_capacity(data.len());
    let mut idx = vec![0usize; rank];
    for _ in 0..data.len() {
        let off: usize = idx.iter().zip(&f_strides).map(|(i, s)| i * s).sum();
        out.push(data[off]);
        for k in (0..rank).rev() {
            idx[k] += 1;
            if idx[k] < shape[k] {
                break;
            }
            idx[k] = 0;
        }
    }
    out
}

/// The NPY header (magic, version, length, dict, padding) for a C-order f64 array of `shape`.
fn npy_header(shape: &[usize]) -> Vec<u8> {
    let shape_text = match shape {
        [n] => format!("({n},)"),
        dims => format!(
            "({})",
            dims.iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let mut header = format!("{{'descr': '<f8', 'fortran_order': False, 'shape': {shape_text}, }}");
    // Pad with spaces so that the data starts at a multiple of 64 bytes, ending with '\n'.
    let (version, prefix) = if header.len() + 11 < 65536 {
        (1u8, 10)
    } else {
        (2u8, 12)
    };
    let total = (prefix + header.len() + 1).div_ceil(64) * 64;
    while prefix + header.len() + 1 < total {
        header.push(' ');
    }
    header.push('\n');
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[version, 0]);
    if version == 1 {
        out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    } else {
        out.extend_from_slice(&(header.len() as u32).to_le_bytes());
    }
    out.extend_from_slice(header.as_bytes());
    out
}

/// The bytes of an NPY file holding `data` (C order, f64 little-endian) with the given shape.
pub fn npy_bytes(shape: &[usize], data: &[f64]) -> Vec<u8> {
    let mut out = npy_header(shape);
    out.reserve(data.len() * 8);
    for v in data {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

/// Writes an NPY file row block by row block (for arrays larger than memory), atomically: the
/// data goes to a temporary file that [`NpyWriter::finish`] renames once every value is in.
pub struct NpyWriter {
    path: std::path::PathBuf,
    tmp: std::path::PathBuf,
    file: std::io::BufWriter<std::fs::File>,
    remaining: usize,
    /// The shape as rows × trailing dimension, and the header length (for
    /// [`NpyWriter::write_rect`]).
    rows: usize,
    cols: usize,
    header: u64,
    /// Set once the file is renamed into place; until then dropping the writer (an error
    /// midway) removes the temporary file.
    done: bool,
}

impl Drop for NpyWriter {
    fn drop(&mut self) {
        if !self.done {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Reserves `bytes` for a file about to be written (Linux `fallocate`), so that a file system
/// without the room fails before a long computation rather than after it. File systems that do
/// not support it, and other systems, skip the reservation.
fn reserve(file: &std::fs::File, bytes: u64) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let length = libc::off_t::try_from(bytes).unwrap_or(libc::off_t::MAX);
        // SAFETY: the descriptor is open for writing for the duration of the call.
        if unsafe { libc::fallocate(file.as_raw_fd(), 0, 0, length) } != 0 {
            let e = std::io::Error::last_os_error();
            if matches!(e.raw_os_error(), Some(libc::ENOSPC | libc::EFBIG)) {
                return Err(std::io::Error::new(
                    e.kind(),
                    format!("the array needs {:.3e} bytes: {e}", bytes as f64),
                ));
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (file, bytes);
    Ok(())
}

impl NpyWriter {
    /// Starts a C-order f64 array of `shape` at `path`; its full size is reserved on disk
    /// first.
    pub fn create(path: &Path, shape: &[usize]) -> Result<NpyWriter> {
        let tmp = temporary_path(path);
        let f = std::fs::File::create(&tmp).map_err(|e| Error::io(path, e))?;
        let header = npy_header(shape);
        let bytes = shape
            .iter()
            .try_fold(8u64, |a, &d| a.checked_mul(d as u64))
            .and_then(|b| b.checked_add(header.len() as u64));
        if let Err(e) = reserve(&f, bytes.unwrap_or(u64::MAX)) {
            let _ = std::fs::remove_file(&tmp);
            return Err(Error::io(path, e));
        }
        let mut file = std::io::BufWriter::new(f);
        file.write_all(&header).map_err(|e| Error::io(path, e))?;
        Ok(NpyWriter {
            path: path.to_path_buf(),
            tmp,
            file,
            remaining: shape.iter().product(),
            rows: shape.iter().rev().skip(1).product(),
            cols: shape.last().copied().unwrap_or(1),
            header: header.len() as u64,
            done: false,
        })
    }

    /// Writes `block` at rows `row..` and columns `col..` of a 2-D array, anywhere in the
    /// file (the blocks a caller writes must not overlap and must cover the array once).
    pub fn write_rect(&mut self, row: usize, col: usize, block: &Matrix) -> Result<()> {
        use std::io::{Seek, SeekFrom};
        let size = block.rows * block.cols;
        if row + block.rows > self.rows || col + block.cols > self.cols || size > self.remaining {
            return Err(Error::shape(
                "NpyWriter",
                "a block outside the declared shape",
            ));
        }
        self.remaining -= size;
        let mut bytes = Vec::with_capacity(block.cols * 8);
        for r in 0..block.rows {
            bytes.clear();
            for v in block.row(r) {
                bytes.extend_from_slice(&v.to_le_bytes());
            }
            let offset = self.header + (((row + r) * self.cols + col) * 8) as u64;
            self.file
                .seek(SeekFrom::Start(offset))
                .and_then(|_| self.file.write_all(&bytes))
                .map_err(|e| Error::io(&self.path, e))?;
        }
        Ok(())
    }

    /// Appends values (in C order).
    pub fn write(&mut self, values: &[f64]) -> Result<()> {
        if values.len() > self.remaining {
            return Err(Error::shape(
                "NpyWriter",
                "more values than the declared shape holds",
            ));
        }
        self.remaining -= values.len();
        for v in values {
            self.file
                .write_all(&v.to_le_bytes())
                .map_err(|e| Error::io(&self.path, e))?;
        }
        Ok(())
    }

    /// Flushes, syncs to disk (as [`write_atomic`] does) and moves the file into place; fails if
    /// values are missing.
    pub fn finish(mut self) -> Result<()> {
        if self.remaining != 0 {
            return Err(Error::shape(
                "NpyWriter",
                format!("{} values missing", self.remaining),
            ));
        }
        self.file
            .flush()
            .and_then(|()| self.file.get_ref().sync_all())
            .and_then(|()| std::fs::rename(&self.tmp, &self.path))
            .map_err(|e| Error::io(&self.path, e))?;
        self.done = true;
        Ok(())
    }
}

/// Writes a matrix to an NPY file (shape (rows, cols)), atomically.
pub fn write_npy_matrix(path: &Path, m: &Matrix) -> Result<()> {
    write_atomic(path, &npy_bytes(&[m.rows, m.cols], &m.data))
}

/// Writes a vector to an NPY file (shape (n,)), atomically.
pub fn write_npy_vector(path: &Path, v: &[f64]) -> Result<()> {
    write_atomic(path, &npy_bytes(&[v.len()], v))
}

/// The temporary file beside `path` that an atomic write renames into place.
fn temporary_path(path: &Path) -> std::path::PathBuf {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    dir.join(format!(".{name}.tmp{}", std::process::id()))
}

/// Writes `bytes` to `path` atomically: a temporary file in the same folder, then a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = temporary_path(path);
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io(path, e)
    })
}

/// A CSV table: a header and rows of numbers, written with full f64 precision.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Table {
    /// Column names.
    pub columns: Vec<String>,
    /// Rows, each as long as `columns`.
    pub rows: Vec<Vec<f64>>,
}

impl Table {
    /// An empty table with these columns.
    pub fn new(columns: &[&str]) -> Table {
        Table {
            columns: columns.iter().map(|c| c.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    /// Appends a row (its length must match the header).
    pub fn push(&mut self, row: Vec<f64>) {
        debug_assert_eq!(row.len(), self.columns.len());
        self.rows.push(row);
    }

    /// The column named `name`; an unknown name is an error that lists the columns (so a
    /// misspelt metric never reads as an empty or a wrong column).
    pub fn column(&self, name: &str) -> Result<Vec<f64>> {
        let k = self.columns.iter().position(|c| c == name).ok_or_else(|| {
            Error::invalid(
                "column",
                format!(
                    "no column '{name}' in the table; its columns: {}",
                    self.columns.join(", ")
                ),
            )
        })?;
        Ok(self.rows.iter().map(|r| r[k]).collect())
    }

    /// The CSV text: integers (|v| < 2⁵³, exactly representable) without a fractional part
    /// (`128`, not `128.0`), every other number in its shortest round-trip representation.
    pub fn to_csv(&self) -> Result<String> {
        let mut w = csv::Writer::from_writer(Vec::new());
        let csv_err = |e: csv::Error| Error::format("<csv>", e.to_string());
        w.write_record(&self.columns).map_err(csv_err)?;
        for row in &self.rows {
            w.write_record(row.iter().map(|&v| csv_number(v)))
                .map_err(csv_err)?;
        }
        let bytes = w
            .into_inner()
            .map_err(|e| Error::format("<csv>", e.to_string()))?;
        String::from_utf8(bytes).map_err(|e| Error::format("<csv>", e.to_string()))
    }

    /// Writes the table to `path` atomically.
    pub fn write(&self, path: &Path) -> Result<()> {
        write_atomic(path, self.to_csv()?.as_bytes())
    }
}

/// A number as [`Table::to_csv`] writes it: an integer (below 2⁵³ in magnitude, where every
/// integer is an f64) without ".0", anything else (−0, fractions, huge values, NaN, ±inf) by
/// Rust's shortest round-trip form. Both parse back to the same f64.
pub fn csv_number(v: f64) -> String {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    if v.fract() == 0.0 && v.abs() < EXACT && !(v == 0.0 && v.is_sign_negative()) {
        format!("{}", v as i64)
    } else {
        format!("{v:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_are_written_as_integers_and_every_number_round_trips() {
        assert_eq!(csv_number(128.0), "128");
        assert_eq!(csv_number(-3.0), "-3");
        assert_eq!(csv_number(0.0), "0");
        assert_eq!(csv_number(-0.0), "-0.0");
        assert_eq!(csv_number(0.5), "0.5");
        assert_eq!(csv_number(1e300), "1e300");
        for v in [
            128.0,
            -0.0,
            0.1,
            1e300,
            2f64.powi(53),
            2f64.powi(53) - 1.0,
            f64::MIN_POSITIVE,
        ] {
            let back: f64 = csv_number(v).parse().unwrap();
            assert_eq!(back.to_bits(), v.to_bits(), "{v}");
        }
    }

    #[test]
    fn unknown_columns_are_errors() {
        let mut t = Table::new(&["step", "train_loss"]);
        t.push(vec![0.0, 1.5]);
        assert_eq!(t.column("train_loss").unwrap(), vec![1.5]);
        let e = t.column("train_los").unwrap_err().to_string();
        assert!(
            e.contains("train_los") && e.contains("step, train_loss"),
            "{e}"
        );
    }

    #[test]
    fn round_trip_through_bytes() {
        let data: Vec<f64> = (0..12).map(|i| i as f64 * 0.1 - 0.3).collect();
        let bytes = npy_bytes(&[3, 4], &data);
        assert_eq!(
            (bytes.len() - 96) % 64,
            0,
            "header padded to a multiple of 64 bytes"
        );
        let back = parse_npy(&bytes).unwrap();
        assert_eq!(back.shape, vec![3, 4]);
        assert_eq!(back.data, data);
    }

    #[test]
    fn fortran_order_is_transposed_back() {
        // A 2 × 3 array [[0,1,2],[3,4,5]] stored column-major is 0,3,1,4,2,5.
        let f = fortran_to_c(&[0.0, 3.0, 1.0, 4.0, 2.0, 5.0], &[2, 3]);
        assert_eq!(f, vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
    }

    #[test]
    fn malformed_input_is_an_error_not_a_panic() {
        let good = npy_bytes(&[2, 2], &[1.0, 2.0, 3.0, 4.0]);
        for cut in [0, 5, 9, 20, good.len() - 1] {
            assert!(parse_npy(&good[..cut]).is_err(), "cut at {cut}");
        }
        let mut bad_dtype = good.clone();
        let pos = bad_dtype.windows(3).position(|w| w == b"<f8").unwrap();
        bad_dtype[pos + 1] = b'i';
        let msg = parse_npy(&bad_dtype).unwrap_err();
        assert!(msg.contains("unsupported dtype"), "{msg}");
        // A shape whose element count overflows (2^62 · 2^62 wraps to 0) is not an empty array.
        let mut bytes = npy_header(&[1 << 62, 1 << 62]);
        bytes.extend_from_slice(&[0; 8]);
        let msg = parse_npy(&bytes).unwrap_err();
        assert!(msg.contains("too large"), "{msg}");
    }

    #[test]
    fn streamed_writes_leave_no_temporary_file_behind() {
        let dir = std::env::temp_dir().join(format!("gradflow-npy-writer-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("k.npy");
        let tmp = temporary_path(&path);
        // Dropped midway (an error in the computation): neither file remains.
        let mut w = NpyWriter::create(&path, &[2, 3]).unwrap();
        assert!(tmp.exists());
        w.write(&[1.0, 2.0, 3.0]).unwrap();
        drop(w);
        assert!(!tmp.exists() && !path.exists());
        // Finished with values missing: an error, and nothing remains.
        let w = NpyWriter::create(&path, &[2, 3]).unwrap();
        assert!(w.finish().is_err());
        assert!(!tmp.exists() && !path.exists());
        // Complete: the file is in place, its size the reserved one.
        let mut w = NpyWriter::create(&path, &[2, 3]).unwrap();
        w.write(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
        w.finish().unwrap();
        assert!(!tmp.exists());
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(bytes, npy_bytes(&[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]));
        // An array no file system holds (2^50 values, 9e15 bytes) fails before any value is
        // computed, where the file system supports reservations.
        #[cfg(target_os = "linux")]
        {
            use std::os::fd::AsRawFd;
            let probe = std::fs::File::create(dir.join("probe")).unwrap();
            // SAFETY: an open descriptor.
            let supported = unsafe { libc::fallocate(probe.as_raw_fd(), 0, 0, 4096) } == 0;
            let big = NpyWriter::create(&path, &[1 << 40, 1 << 10]);
            if supported {
                let msg = big.err().expect("reservation refused").to_string();
                assert!(msg.contains("the array needs 9.007e15 bytes"), "{msg}");
                assert!(!tmp.exists());
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn csv_has_header_and_exact_numbers() {
        let mut t = Table::new(&["step", "loss"]);
        t.push(vec![0.0, 0.1 + 0.2]);
        let text = t.to_csv().unwrap();
        assert_eq!(text, "step,loss\n0,0.30000000000000004\n");
    }
}
