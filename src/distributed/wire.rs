//! Results sent between ranks as bytes: any `Serialize` value encoded as TOML text, decoded by
//! `Deserialize` on the receiving rank.
//!
//! TOML because it carries every f64 exactly: finite values in Rust's shortest round-trip
//! form (parsed back to the same bits), and `nan`, `inf`, `-inf` as themselves — JSON has no
//! NaN or infinity, and a claim's measurement may be either. A `None` is left out of its table
//! and read back as `None`.
//!
//! Names that the claims hold as `&'static str` (claim ids, control names) are read back
//! through [`intern`].

use crate::error::{Error, Result};
use serde::{de::DeserializeOwned, Deserialize, Deserializer, Serialize};
use std::collections::BTreeSet;
use std::sync::Mutex;

/// `&'static str` under another name, for the fields read back through [`static_str`]:
/// serde's derive takes a field spelled `&str` as borrowed from the input (and would require
/// the input to live for ever); spelled `Name`, it is read by the function named in its
/// `deserialize_with`.
pub type Name = &'static str;

/// The strings [`intern`] has handed out.
static INTERNED: Mutex<BTreeSet<&'static str>> = Mutex::new(BTreeSet::new());

/// A `&'static str` equal to `text`: the one handed out before for equal text, else `text`
/// moved to the heap for the life of the process. Each distinct text is kept once, so the
/// memory is bounded by the distinct names received (the claims' ids, titles and control
/// names).
pub fn intern(text: &str) -> &'static str {
    let mut set = INTERNED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(&s) = set.get(text) {
        return s;
    }
    let s: &'static str = Box::leak(text.to_owned().into_boxed_str());
    set.insert(s);
    s
}

/// Deserializes a string as a `&'static str` ([`intern`]).
pub fn static_str<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<&'static str, D::Error> {
    String::deserialize(d).map(|s| intern(&s))
}

/// Deserializes an optional string as an optional `&'static str` ([`intern`]).
pub fn optional_static_str<'de, D: Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<&'static str>, D::Error> {
    Option::<String>::deserialize(d).map(|s| s.map(|s| intern(&s)))
}

/// `value` as bytes (TOML; `value` must serialize as a table, e.g. a struct).
pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    toml::to_string(value)
        .map(String::into_bytes)
        .map_err(|e| Error::Format {
            path: "(results encoded for another rank)".into(),
            message: e.to_string(),
        })
}

/// The value [`encode`] gave `bytes` for.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    let fail = |message: String| Error::Format {
        path: "(results received from another rank)".into(),
        message,
    };
    let text = std::str::from_utf8(bytes).map_err(|e| fail(e.to_string()))?;
    toml::from_str(text).map_err(|e| fail(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Sample {
        values: Vec<f64>,
        pairs: Vec<(String, Vec<Vec<f64>>)>,
        maybe: Option<f64>,
        absent: Option<f64>,
        #[serde(deserialize_with = "static_str")]
        name: Name,
        outcome: std::result::Result<u32, String>,
    }

    /// Every f64 comes back with its bits (random bit patterns, the signed zeros, subnormals,
    /// the extremes and the infinities; NaN comes back a NaN), and the rest of the structure
    /// unchanged.
    #[test]
    fn values_come_back_bit_for_bit() {
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut values: Vec<f64> = (0..2000)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                f64::from_bits(state)
            })
            .filter(|v| !v.is_nan())
            .collect();
        values.extend([
            0.0,
            -0.0,
            f64::MIN_POSITIVE / 3.0,
            f64::MAX,
            f64::MIN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            1.0,
            0.1,
        ]);
        let sample = Sample {
            values: values.clone(),
            pairs: vec![("t".into(), vec![vec![1.5, f64::NAN], vec![]])],
            maybe: Some(-2.5e-300),
            absent: None,
            name: "a-control",
            outcome: Err("it failed: \"quoted\"\nnext line".into()),
        };
        let back: Sample = decode(&encode(&sample).unwrap()).unwrap();
        for (a, b) in back.values.iter().zip(&values) {
            assert_eq!(a.to_bits(), b.to_bits(), "{a:e} vs {b:e}");
        }
        assert_eq!(back.values.len(), values.len());
        assert!(back.pairs[0].1[0][1].is_nan());
        assert_eq!(back.pairs[0].1[0][0], 1.5);
        assert!(back.pairs[0].1[1].is_empty());
        assert_eq!(back.maybe, Some(-2.5e-300));
        assert_eq!(back.absent, None);
        assert_eq!(back.name, "a-control");
        assert_eq!(back.outcome, sample.outcome);
        assert!(std::ptr::eq(intern("a-control"), back.name));
        assert!(decode::<Sample>(b"values = 3").is_err());
    }
}
