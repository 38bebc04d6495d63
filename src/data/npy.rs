//! Reading NPY arrays: header versions 1.0–3.0, f64/f32, either byte order, C or Fortran order.
//!
//! The header is a Python dict literal, parsed by numpy's rules: exactly the keys `descr`,
//! `fortran_order` and `shape`, each once (numpy keeps the last of duplicated keys; a
//! duplicate is refused here), `fortran_order` a bool, `shape` a tuple of non-negative
//! integers (`(4,)`, `(3, 4)`, `()`; `(4)`, `[4]` and `(4,, 2)` are refused as numpy refuses
//! them; the `L` suffix of Python 2 integers is accepted in versions 1.0 and 2.0, as numpy
//! does). Only the bytes the header declares are read: a stream (a FIFO, `/dev/zero`) is never
//! read without bound, and a regular file shorter than its header declares is refused before
//! anything is allocated.

use crate::error::{Error, Result};
use crate::linalg::Matrix;
use std::io::Read;
use std::path::Path;

const MAGIC: &[u8] = b"\x93NUMPY";

/// The longest header read (numpy's own writer never needs more than a few hundred bytes).
pub const MAX_HEADER_LEN: usize = 1 << 20;

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

/// What a header declares.
#[derive(Clone, Debug, PartialEq)]
struct Header {
    shape: Vec<usize>,
    fortran_order: bool,
    /// Bytes per value (8 or 4).
    size: usize,
    little_endian: bool,
}

/// Reads up to `n` bytes (fewer only at the end of the input).
fn read_up_to(reader: &mut impl Read, n: usize) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(n.min(1 << 16));
    reader.take(n as u64).read_to_end(&mut out)?;
    Ok(out)
}

/// Reads an NPY array from `reader`; `len` is the input's length when known (a regular file),
/// checked against the header before the data is read. Errors are messages without a path;
/// I/O errors come back as `Err(Ok(e))`.
fn read_from(
    reader: &mut impl Read,
    len: Option<u64>,
) -> std::result::Result<NpyArray, std::result::Result<std::io::Error, String>> {
    let prefix = read_up_to(reader, 10).map_err(Ok)?;
    if prefix.len() < 10 || &prefix[..6] != MAGIC {
        return Err(Err(
            "not an NPY file (missing the \\x93NUMPY magic string)".into()
        ));
    }
    let (major, minor) = (prefix[6], prefix[7]);
    let (header_len, start) = match major {
        1 => (u16::from_le_bytes([prefix[8], prefix[9]]) as usize, 10),
        2 | 3 => {
            let more = read_up_to(reader, 2).map_err(Ok)?;
            if more.len() < 2 {
                return Err(Err("truncated NPY header".into()));
            }
            let n = u32::from_le_bytes([prefix[8], prefix[9], more[0], more[1]]);
            (usize::try_from(n).unwrap_or(usize::MAX), 12)
        }
        _ => {
            return Err(Err(format!(
                "unsupported NPY format version {major}.{minor}"
            )))
        }
    };
    if header_len > MAX_HEADER_LEN {
        return Err(Err(format!(
            "NPY header of {header_len} bytes (at most {MAX_HEADER_LEN} are read)"
        )));
    }
    let text = read_up_to(reader, header_len).map_err(Ok)?;
    if text.len() < header_len {
        return Err(Err("truncated NPY header".into()));
    }
    let text =
        std::str::from_utf8(&text).map_err(|_| Err("NPY header is not valid text".into()))?;
    let header = parse_header(text, major).map_err(Err)?;
    // Element and byte counts with overflow checks: a shape whose product wraps must not read
    // as a small (or empty) array.
    let shape = &header.shape;
    let count = shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .filter(|c| c.checked_mul(header.size.max(8)).is_some())
        .ok_or_else(|| Err(format!("NPY shape {shape:?} is too large to address")))?;
    let needed = count * header.size;
    let truncated = |have: u64| {
        Err(format!(
            "truncated NPY data: shape {shape:?} needs {needed} bytes, file has {have}"
        ))
    };
    if let Some(len) = len {
        let have = len.saturating_sub((start + header_len) as u64);
        if have < needed as u64 {
            return Err(truncated(have));
        }
    }
    crate::linalg::check_fits("NPY shape", shape).map_err(|e| Err(e.to_string()))?;
    // Decoded chunk by chunk: memory grows with the bytes that arrive, never ahead of them.
    let mut data: Vec<f64> = Vec::with_capacity(if len.is_some() {
        count
    } else {
        count.min(1 << 20)
    });
    let mut left = needed;
    while left > 0 {
        let want = left.min((1 << 16) * header.size);
        let got = read_up_to(reader, want).map_err(Ok)?;
        let whole = got.len() - got.len() % header.size;
        decode(&header, &got[..whole], &mut data);
        left -= got.len();
        if got.len() < want || whole < got.len() {
            return Err(truncated((needed - left) as u64));
        }
    }
    if header.fortran_order && shape.len() > 1 {
        data = fortran_to_c(&data, shape);
    }
    Ok(NpyArray {
        shape: header.shape,
        data,
    })
}

/// Appends the values in `bytes` (whole values only) to `out`.
fn decode(header: &Header, bytes: &[u8], out: &mut Vec<f64>) {
    let chunks = bytes.chunks_exact(header.size);
    match (header.size, header.little_endian) {
        (8, true) => out.extend(chunks.map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8])))),
        (8, false) => {
            out.extend(chunks.map(|c| f64::from_be_bytes(c.try_into().unwrap_or([0; 8]))))
        }
        (_, true) => out
            .extend(chunks.map(|c| f64::from(f32::from_le_bytes(c.try_into().unwrap_or([0; 4]))))),
        (_, false) => out
            .extend(chunks.map(|c| f64::from(f32::from_be_bytes(c.try_into().unwrap_or([0; 4]))))),
    }
}

/// Reads an NPY file (see the module doc for what is accepted); a directory is refused.
pub fn read_npy(path: &Path) -> Result<NpyArray> {
    let (file, len) = crate::fsutil::open_input(path)?;
    let mut reader = std::io::BufReader::new(file);
    read_from(&mut reader, len).map_err(|e| match e {
        Ok(io) => Error::io(path, io),
        Err(message) => Error::format(path, message),
    })
}

/// Parses the bytes of an NPY file; the error is a message without the path.
pub fn parse_npy(bytes: &[u8]) -> std::result::Result<NpyArray, String> {
    read_from(&mut &bytes[..], Some(bytes.len() as u64)).map_err(|e| match e {
        Ok(io) => io.to_string(),
        Err(message) => message,
    })
}

/// A value of the header dict.
#[derive(Debug, PartialEq)]
enum Literal {
    Text(String),
    Bool(bool),
    Int(i128),
    Tuple(Vec<Literal>),
    List,
}

/// A recursive-descent parser of the Python literals an NPY header holds.
struct Parser<'a> {
    text: &'a str,
    pos: usize,
    /// Python 2 `L` suffixes allowed (versions 1.0 and 2.0, as numpy's header filter).
    long_suffix: bool,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn skip_space(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r' | b'\x0c')) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, byte: u8) -> bool {
        self.skip_space();
        let hit = self.peek() == Some(byte);
        self.pos += usize::from(hit);
        hit
    }

    /// What follows the cursor, for messages (at most 20 characters, never the padding).
    fn here(&self) -> String {
        let rest = self.text[self.pos..].trim_end();
        match rest.char_indices().nth(20) {
            Some((i, _)) => format!("'{}…'", &rest[..i]),
            None if rest.is_empty() => "the end of the header".into(),
            None => format!("'{rest}'"),
        }
    }

    fn error(&self, expected: &str) -> String {
        format!(
            "malformed NPY header: expected {expected} at {}",
            self.here()
        )
    }

    fn string(&mut self) -> std::result::Result<String, String> {
        self.skip_space();
        let quote = match self.peek() {
            Some(q @ (b'\'' | b'"')) => q,
            _ => return Err(self.error("a quoted string")),
        };
        let start = self.pos + 1;
        let len = self.text[start..]
            .bytes()
            .position(|b| b == quote || b == b'\\' || b == b'\n')
            .filter(|&i| self.text.as_bytes()[start + i] == quote)
            .ok_or_else(|| self.error("a simple quoted string"))?;
        self.pos = start + len + 1;
        Ok(self.text[start..start + len].to_string())
    }

    fn integer(&mut self) -> std::result::Result<i128, String> {
        self.skip_space();
        let start = self.pos;
        let negative = self.peek() == Some(b'-');
        if matches!(self.peek(), Some(b'-' | b'+')) {
            self.pos += 1;
            self.skip_space();
        }
        let digits_start = self.pos;
        while matches!(self.peek(), Some(b'0'..=b'9' | b'_')) {
            self.pos += 1;
        }
        let digits = &self.text[digits_start..self.pos];
        let well_formed = !digits.is_empty()
            && !digits.starts_with('_')
            && !digits.ends_with('_')
            && !digits.contains("__")
            && (!digits.starts_with('0') || digits.bytes().all(|b| b == b'0' || b == b'_'));
        if !well_formed {
            self.pos = start;
            return Err(self.error("an integer"));
        }
        if self.long_suffix && matches!(self.peek(), Some(b'L' | b'l')) {
            self.pos += 1;
        }
        let value: i128 = digits.replace('_', "").parse().unwrap_or(i128::MAX);
        Ok(if negative { -value } else { value })
    }

    fn value(&mut self) -> std::result::Result<Literal, String> {
        self.skip_space();
        let rest = &self.text[self.pos..];
        let word_end = |w: &str| {
            rest.starts_with(w)
                && !rest[w.len()..]
                    .bytes()
                    .next()
                    .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
        };
        match self.peek() {
            Some(b'\'' | b'"') => self.string().map(Literal::Text),
            Some(b'(') => self.tuple(),
            Some(b'[') => {
                // Read only to say what it is: numpy refuses a list where a tuple belongs.
                let close = rest.find(']').ok_or_else(|| self.error("']'"))?;
                self.pos += close + 1;
                Ok(Literal::List)
            }
            Some(b'0'..=b'9' | b'+' | b'-') => self.integer().map(Literal::Int),
            _ if word_end("True") => {
                self.pos += 4;
                Ok(Literal::Bool(true))
            }
            _ if word_end("False") => {
                self.pos += 5;
                Ok(Literal::Bool(false))
            }
            _ => Err(self.error("a string, True, False, an integer or a tuple")),
        }
    }

    /// `()`, `(a,)`, `(a, b)`, `(a, b,)`; `(a)` is `a` itself, as in Python.
    fn tuple(&mut self) -> std::result::Result<Literal, String> {
        let open = self.pos;
        self.pos += 1;
        let mut items = Vec::new();
        let mut comma = false;
        loop {
            if self.eat(b')') {
                break;
            }
            if !items.is_empty() && !comma {
                return Err(self.error("',' or ')'"));
            }
            items.push(self.value().map_err(|e| {
                let snippet = &self.text[open..];
                // At most 40 characters (not bytes: the header may hold any UTF-8).
                let cut = snippet
                    .char_indices()
                    .nth(40)
                    .map_or(snippet.len(), |(i, _)| i);
                let end = snippet.find(')').map_or(cut, |i| i + 1);
                format!("{e} (in the tuple '{}')", snippet[..end].trim_end())
            })?);
            comma = self.eat(b',');
        }
        if items.len() == 1 && !comma {
            return Ok(items.pop().unwrap_or(Literal::List));
        }
        Ok(Literal::Tuple(items))
    }

    /// The whole header: one dict literal, then only whitespace.
    fn dict(&mut self) -> std::result::Result<Vec<(String, Literal)>, String> {
        if !self.eat(b'{') {
            return Err(self.error("'{'"));
        }
        let mut entries: Vec<(String, Literal)> = Vec::new();
        loop {
            if self.eat(b'}') {
                break;
            }
            let key = self.string()?;
            if entries.iter().any(|(k, _)| *k == key) {
                return Err(format!("NPY header repeats the key '{key}'"));
            }
            if !self.eat(b':') {
                return Err(self.error("':'"));
            }
            let value = self.value()?;
            entries.push((key, value));
            if !self.eat(b',') {
                if !self.eat(b'}') {
                    return Err(self.error("',' or '}'"));
                }
                break;
            }
        }
        self.skip_space();
        if self.pos != self.text.len() {
            return Err(self.error("nothing after the header's '}'"));
        }
        Ok(entries)
    }
}

/// Parses the header text (the dict and its padding) of an NPY file of `version`.
fn parse_header(text: &str, version: u8) -> std::result::Result<Header, String> {
    let mut parser = Parser {
        text,
        pos: 0,
        long_suffix: version <= 2,
    };
    let mut entries = parser.dict()?;
    let mut take = |key: &str| {
        let k = entries.iter().position(|(name, _)| name == key);
        k.map(|k| entries.remove(k).1)
            .ok_or_else(|| format!("NPY header has no '{key}'"))
    };
    let descr = match take("descr")? {
        Literal::Text(t) => t,
        other => return Err(format!("NPY 'descr' is not a string: {other:?}")),
    };
    let fortran_order = match take("fortran_order")? {
        Literal::Bool(b) => b,
        other => {
            return Err(format!(
                "NPY 'fortran_order' is not True or False: {other:?}"
            ))
        }
    };
    let shape = match take("shape")? {
        Literal::Tuple(items) => items
            .into_iter()
            .map(|d| match d {
                Literal::Int(n) => usize::try_from(n).map_err(|_| {
                    if n < 0 {
                        format!("NPY shape has a negative dimension {n}")
                    } else {
                        format!("NPY shape dimension {n} is too large to address")
                    }
                }),
                other => Err(format!("NPY shape holds {other:?}, not an integer")),
            })
            .collect::<std::result::Result<Vec<_>, _>>()?,
        Literal::Int(n) => return Err(format!("NPY shape is {n}, not a tuple (write ({n},))")),
        other => return Err(format!("NPY shape is not a tuple: {other:?}")),
    };
    if let Some((extra, _)) = entries.first() {
        return Err(format!(
            "NPY header has the key '{extra}' beside descr, fortran_order and shape"
        ));
    }
    let (size, little_endian) = match descr.as_str() {
        "<f8" | "=f8" | "f8" | "<d" => (8, true),
        ">f8" | ">d" => (8, false),
        "<f4" | "=f4" | "f4" | "<f" => (4, true),
        ">f4" | ">f" => (4, false),
        other => {
            return Err(format!(
                "unsupported dtype '{other}': expected float64 ('<f8') or float32 ('<f4')"
            ))
        }
    };
    Ok(Header {
        shape,
        fortran_order,
        size,
        little_endian,
    })
}

/// Reorders Fortran-order (column-major) data of any rank into C order.
pub(crate) fn fortran_to_c(data: &[f64], shape: &[usize]) -> Vec<f64> {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn header(text: &str) -> std::result::Result<Header, String> {
        parse_header(text, 1)
    }

    const GOOD: &str = "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 4), }   \n";

    #[test]
    fn fortran_order_is_transposed_back() {
        // A 2 × 3 array [[0,1,2],[3,4,5]] stored column-major is 0,3,1,4,2,5.
        let f = fortran_to_c(&[0.0, 3.0, 1.0, 4.0, 2.0, 5.0], &[2, 3]);
        assert_eq!(f, vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
    }

    #[test]
    fn numpy_headers_parse() {
        let h = header(GOOD).unwrap();
        assert_eq!(h.shape, vec![3, 4]);
        assert!(!h.fortran_order && h.size == 8 && h.little_endian);
        for (text, shape) in [
            (
                "{'descr': '<f8', 'fortran_order': False, 'shape': (4,), }",
                vec![4],
            ),
            (
                "{'descr': '<f8', 'fortran_order': False, 'shape': (), }",
                vec![],
            ),
            (
                "{\"descr\": '>f4', 'fortran_order': True, 'shape': (2 ,3,) }",
                vec![2, 3],
            ),
            (
                "{'descr': '<f8', 'fortran_order': False, 'shape': (2L, +3), }",
                vec![2, 3],
            ),
            (
                "{'descr': '<f8', 'fortran_order': False, 'shape': (1_0, 0), }",
                vec![10, 0],
            ),
            (
                "{'shape': (5,), 'fortran_order': False, 'descr': '<f8'}",
                vec![5],
            ),
        ] {
            assert_eq!(header(text).map(|h| h.shape), Ok(shape), "{text}");
        }
    }

    #[test]
    fn what_numpy_refuses_is_refused() {
        // Each of these raises in numpy 2.4's np.load (checked), except the duplicate key,
        // where numpy silently keeps the last value.
        for (text, expect) in [
            (
                "{'descr': '<f8', 'fortran_order': False, 'shape': (4,, 2), }",
                "'(4,, 2)'",
            ),
            (
                "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), 'shape': (3,)}",
                "repeats the key 'shape'",
            ),
            (
                "{'descr': '<f8', 'fortran_order': False, 'shape': (2), }",
                "not a tuple",
            ),
            (
                "{'descr': '<f8', 'fortran_order': False, 'shape': [2], }",
                "not a tuple",
            ),
            (
                "{'descr': '<f8', 'fortran_order': 0, 'shape': (2,), }",
                "fortran_order",
            ),
            (
                "{'descr': '<f8', 'fortran_order': False, 'shape': (02,), }",
                "an integer",
            ),
            (
                "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), 'extra': 1}",
                "'extra'",
            ),
            (
                "{'descr': '<f8', 'fortran_order': False, 'shape': (-2,), }",
                "negative",
            ),
            (
                "{'descr': '<f8', 'fortran_order': False, 'shape': (True,), }",
                "not an integer",
            ),
            ("{'descr': '<f8', 'fortran_order': False, }", "no 'shape'"),
            (
                "{'descr': '<f8', 'fortran_order': False, 'shape': (2,)} x",
                "nothing after",
            ),
            (
                "{'descr': '<f8' 'fortran_order': False, 'shape': (2,)}",
                "',' or '}'",
            ),
            (
                "{'descr': '<f8', 'fortran_order': False, 'shape': (2 3)}",
                "',' or ')'",
            ),
            (
                "{'descr': '<f8', 'fortran_order': Falsey, 'shape': (2,)}",
                "expected a string",
            ),
            (
                "{'descr': '<i8', 'fortran_order': False, 'shape': (2,)}",
                "unsupported dtype",
            ),
        ] {
            let msg = header(text).unwrap_err();
            assert!(msg.contains(expect), "{text}: {msg}");
        }
        // The L suffix is numpy's Python-2 filter, applied to versions 1.0 and 2.0 only.
        let long = "{'descr': '<f8', 'fortran_order': False, 'shape': (2L,), }";
        assert!(parse_header(long, 2).is_ok() && parse_header(long, 3).is_err());
    }

    #[test]
    fn messages_quote_no_padding() {
        let padded = format!(
            "{{'descr': '<f8', 'fortran_order': False, 'shape': (4,, 2), }}{}\n",
            " ".repeat(200)
        );
        let msg = header(&padded).unwrap_err();
        assert!(msg.len() < 120 && !msg.contains("   "), "{msg}");
    }

    /// Found by the `npy_header` fuzz target: an unclosed tuple whose first 40 bytes end inside
    /// a two-byte character ('ɓ') made the error message slice the text off a char boundary
    /// (a panic). The message now cuts at 40 characters.
    #[test]
    fn an_unclosed_tuple_before_a_multibyte_character_is_an_error() {
        let bytes: [u8; 62] = [
            147, 78, 85, 77, 80, 89, 1, 6, 49, 0, 123, 32, 34, 42, 0, 0, 34, 58, 40, 0, 48, 44, 13,
            13, 13, 13, 13, 13, 13, 13, 29, 9, 13, 13, 13, 13, 0, 0, 13, 13, 13, 13, 13, 13, 13,
            13, 13, 13, 13, 13, 13, 13, 10, 9, 13, 32, 0, 201, 147, 78, 85, 77,
        ];
        assert!(crate::data::io::parse_npy(&bytes).is_err());
        let text = format!("{{'shape': ({}ɓ", " ".repeat(38));
        assert!(header(&text).is_err());
    }
}
