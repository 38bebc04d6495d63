//! Checkpoints: the whole [`TrainState`] and the metrics recorded so far, stored exactly
//! (f64 bit patterns), so that a resumed run continues bit-identically.
//!
//! Format: the line `gradflow-checkpoint 1`, a u64 (little-endian) byte length and a JSON
//! header (step, state counts and buffer counts, table columns), then the vectors, each a u64
//! length followed by that many little-endian f64: θ_t, θ₀, Σθ of the average, every state
//! buffer in order, and the table rows.

use super::TrainState;
use crate::data::io::{write_atomic, Table};
use crate::error::{Error, Result};
use crate::optim::{IterateAverage, State};
use serde::{Deserialize, Serialize};
use std::path::Path;

const MAGIC: &[u8] = b"gradflow-checkpoint 1\n";

/// A training state with its metrics.
#[derive(Clone, Debug, PartialEq)]
pub struct Checkpoint {
    /// The state.
    pub state: TrainState,
    /// Rows recorded up to `state.step` (exclusive).
    pub table: Table,
}

#[derive(Serialize, Deserialize)]
struct Header {
    step: u64,
    average_count: u64,
    state_counts: Vec<u64>,
    state_buffers: Vec<usize>,
    columns: Vec<String>,
    rows: usize,
}

impl Checkpoint {
    /// The bytes of the checkpoint.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let s = &self.state;
        let header = Header {
            step: s.step,
            average_count: s.average.count,
            state_counts: s.optimizer.iter().map(|st| st.count).collect(),
            state_buffers: s.optimizer.iter().map(|st| st.buffers.len()).collect(),
            columns: self.table.columns.clone(),
            rows: self.table.rows.len(),
        };
        let json = serde_json::to_vec(&header)
            .map_err(|e| Error::format("<checkpoint>", e.to_string()))?;
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&(json.len() as u64).to_le_bytes());
        out.extend_from_slice(&json);
        let mut put = |v: &[f64]| {
            out.extend_from_slice(&(v.len() as u64).to_le_bytes());
            for x in v {
                out.extend_from_slice(&x.to_le_bytes());
            }
        };
        put(&s.params);
        put(&s.initial);
        put(&s.average.sum);
        for st in &s.optimizer {
            for b in &st.buffers {
                put(b);
            }
        }
        let flat: Vec<f64> = self.table.rows.iter().flatten().copied().collect();
        put(&flat);
        Ok(out)
    }

    /// Parses checkpoint bytes (`path` is used in error messages).
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Checkpoint> {
        let bad = |m: &str| Error::format(path, format!("not a valid checkpoint: {m}"));
        let rest = bytes
            .strip_prefix(MAGIC)
            .ok_or_else(|| bad("wrong magic line"))?;
        let mut pos = 0usize;
        let take_u64 = |pos: &mut usize| -> Result<u64> {
            let b = rest.get(*pos..*pos + 8).ok_or_else(|| bad("truncated"))?;
            *pos += 8;
            Ok(u64::from_le_bytes(
                b.try_into().map_err(|_| bad("truncated"))?,
            ))
        };
        let len = take_u64(&mut pos)? as usize;
        let json = rest
            .get(pos..pos + len)
            .ok_or_else(|| bad("truncated header"))?;
        pos += len;
        let header: Header =
            serde_json::from_slice(json).map_err(|e| bad(&format!("header: {e}")))?;
        let vector = |pos: &mut usize| -> Result<Vec<f64>> {
            let n = take_u64(pos)? as usize;
            let body = rest
                .get(*pos..*pos + n.checked_mul(8).ok_or_else(|| bad("length"))?)
                .ok_or_else(|| bad("truncated data"))?;
            *pos += n * 8;
            Ok(body
                .chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
                .collect())
        };
        let params = vector(&mut pos)?;
        let initial = vector(&mut pos)?;
        let sum = vector(&mut pos)?;
        let mut optimizer = Vec::new();
        for (&count, &nbuf) in header.state_counts.iter().zip(&header.state_buffers) {
            let mut buffers = Vec::new();
            for _ in 0..nbuf {
                buffers.push(vector(&mut pos)?);
            }
            optimizer.push(State { buffers, count });
        }
        let flat = vector(&mut pos)?;
        let width = header.columns.len();
        if flat.len() != width * header.rows {
            return Err(bad("table size"));
        }
        let rows = if width == 0 {
            Vec::new()
        } else {
            flat.chunks(width).map(<[f64]>::to_vec).collect()
        };
        Ok(Checkpoint {
            state: TrainState {
                step: header.step,
                params,
                initial,
                optimizer,
                average: IterateAverage {
                    sum,
                    count: header.average_count,
                },
            },
            table: Table {
                columns: header.columns,
                rows,
            },
        })
    }

    /// Writes the checkpoint to `path` atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        write_atomic(path, &self.to_bytes()?)
    }

    /// Reads a checkpoint file.
    pub fn load(path: &Path) -> Result<Checkpoint> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Checkpoint::from_bytes(&bytes, path)
    }
}
