//! File input and output: NPY arrays (read: see [`super::npy`]; write: f64 little-endian, C
//! order), CSV tables, and atomic writes (temporary file + rename, so a crash never leaves a
//! half-written result; the output rules of [`crate::fsutil`]: only regular files are replaced,
//! symbolic links are written through).

use crate::error::{Error, Result};
use crate::fsutil::output_target;
use crate::fsutil::temp::Temporary;
use crate::linalg::Matrix;
use std::io::Write;
use std::path::Path;

const MAGIC: &[u8] = b"\x93NUMPY";

pub use super::npy::{parse_npy, read_npy, NpyArray};

/// Reads an NPY file as a matrix (1-D arrays become one column).
pub fn read_npy_matrix(path: &Path) -> Result<Matrix> {
    read_npy(path)?.into_matrix(path)
}

/// The NPY header (magic, version, length, dict, padding) for a C-order f64 array of `shape`.
pub fn npy_header(shape: &[usize]) -> Vec<u8> {
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

/// The header of an NPY file holding an f64 array of `shape` ([`npy_header`]) and the file's
/// length in bytes (header + 8 per value; `None` beyond u64).
pub fn npy_layout(shape: &[usize]) -> (Vec<u8>, Option<u64>) {
    let header = npy_header(shape);
    let bytes = shape
        .iter()
        .try_fold(8u64, |a, &d| a.checked_mul(d as u64))
        .and_then(|b| b.checked_add(header.len() as u64));
    (header, bytes)
}

/// Writes an NPY file row block by row block (for arrays larger than memory), atomically: the
/// data goes to a registered temporary file ([`crate::fsutil::temp`]) that
/// [`NpyWriter::finish`] renames once every value is in.
pub struct NpyWriter {
    /// The path the user named (for messages).
    path: std::path::PathBuf,
    /// The temporary; dropping the writer (an error midway) removes it.
    tmp: Temporary,
    file: std::io::BufWriter<std::fs::File>,
    remaining: usize,
    /// The shape as rows × trailing dimension, and the header length (for
    /// [`NpyWriter::write_rect`]).
    rows: usize,
    cols: usize,
    header: u64,
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
    /// Starts a C-order f64 array of `shape` at `path` (the rules of [`output_target`]: an
    /// existing path that is not a regular file is refused, a symbolic link written through);
    /// its full size is reserved on disk first.
    pub fn create(path: &Path, shape: &[usize]) -> Result<NpyWriter> {
        let target = output_target(path)?;
        let (tmp, f) = Temporary::create(&target).map_err(|e| Error::io(path, e))?;
        let (header, bytes) = npy_layout(shape);
        reserve(&f, bytes.unwrap_or(u64::MAX)).map_err(|e| Error::io(path, e))?;
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
            .map_err(|e| Error::io(&self.path, e))?;
        let path = self.path;
        self.tmp.persist().map_err(|e| Error::io(path, e))
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

/// Writes `bytes` to `path` atomically: a registered temporary file in the same folder, synced,
/// then a rename. An existing `path` that is not a regular file is refused; a symbolic link is
/// written through (the file it points to is replaced, the link stays); see
/// [`crate::fsutil`].
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let target = output_target(path)?;
    let (tmp, mut f) = Temporary::create(&target).map_err(|e| Error::io(path, e))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .and_then(|()| tmp.persist())
        .map_err(|e| Error::io(path, e))
}

/// A CSV table: a header and rows of numbers, written with full f64 precision.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
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

    /// Reads a table written by [`Table::write`]: a header, then rows of numbers (an empty
    /// field or `NaN` reads as NaN). Errors name the file, the line and the column.
    pub fn read(path: &Path) -> Result<Table> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let mut r = csv::Reader::from_reader(text.as_bytes());
        let columns: Vec<String> = r
            .headers()
            .map_err(|e| Error::format(path, e.to_string()))?
            .iter()
            .map(str::to_string)
            .collect();
        let mut table = Table {
            columns,
            rows: Vec::new(),
        };
        for (k, record) in r.records().enumerate() {
            let record = record.map_err(|e| Error::format(path, e.to_string()))?;
            let row = record
                .iter()
                .zip(&table.columns)
                .map(|(v, c)| {
                    let v = v.trim();
                    if v.is_empty() {
                        Ok(f64::NAN)
                    } else {
                        v.parse::<f64>().map_err(|_| {
                            Error::format(
                                path,
                                format!("line {}, column '{c}': '{v}' is not a number", k + 2),
                            )
                        })
                    }
                })
                .collect::<Result<Vec<f64>>>()?;
            if row.len() != table.columns.len() {
                return Err(Error::format(
                    path,
                    format!(
                        "line {}: {} fields for {} columns",
                        k + 2,
                        row.len(),
                        table.columns.len()
                    ),
                ));
            }
            table.rows.push(row);
        }
        Ok(table)
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
        let tmp = crate::fsutil::temp::temporary_path(&path);
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
