//! Checkpoints: the whole [`TrainState`] and the metrics recorded so far, stored exactly
//! (f64 bit patterns), so that a resumed run continues bit-identically; with the
//! [`Fingerprint`] of the run that wrote them and a checksum over their bytes.
//!
//! Format 2: the line `gradflow-checkpoint 2`, a u64 (little-endian) byte length and a JSON
//! header (step, state counts and buffer counts, table columns, the fingerprint), then the
//! vectors, each a u64 length followed by that many little-endian f64: θ_t, θ₀, Σθ of the
//! average, every state buffer in order, and the table rows; last, the FNV-1a 64 checksum
//! ([`fnv1a`]) of every byte before it, little-endian. A file whose checksum does not match
//! (a flipped bit, a truncation, an edit) is refused before anything in it is used.

use super::fingerprint::{fnv1a, Fingerprint};
use super::TrainState;
use crate::data::io::{write_atomic, Table};
use crate::error::{Error, Result};
use crate::optim::{IterateAverage, State};
use serde::{Deserialize, Serialize};
use std::path::Path;

const MAGIC: &[u8] = b"gradflow-checkpoint 2\n";

/// The magic line of format 1 (no checksum, no fingerprint), recognised to say so.
const MAGIC_1: &[u8] = b"gradflow-checkpoint 1\n";

/// The largest checkpoint file read (a guard against reading a stream without end).
const MAX_BYTES: u64 = 1 << 40;

/// A training state with its metrics and the fingerprint of the run it belongs to.
#[derive(Clone, Debug, PartialEq)]
pub struct Checkpoint {
    /// The state.
    pub state: TrainState,
    /// Rows recorded up to `state.step` (exclusive).
    pub table: Table,
    /// What determines the run that wrote it.
    pub fingerprint: Fingerprint,
}

#[derive(Serialize, Deserialize)]
struct Header {
    step: u64,
    average_count: u64,
    state_counts: Vec<u64>,
    state_buffers: Vec<usize>,
    columns: Vec<String>,
    rows: usize,
    fingerprint: Fingerprint,
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
            fingerprint: self.fingerprint.clone(),
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
        let sum = fnv1a(&out);
        out.extend_from_slice(&sum.to_le_bytes());
        Ok(out)
    }

    /// Parses checkpoint bytes (`path` is used in error messages): the checksum first, then
    /// the content, every length checked against the bytes there are.
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Checkpoint> {
        let bad = |m: &str| Error::format(path, format!("not a valid checkpoint: {m}"));
        if bytes.starts_with(MAGIC_1) {
            return Err(bad(
                "written by an older gradflow (format 1, without checksum or fingerprint); \
                 run without --resume to start afresh",
            ));
        }
        let rest = bytes
            .strip_prefix(MAGIC)
            .ok_or_else(|| bad("wrong magic line"))?;
        let (rest, stored) = rest
            .split_last_chunk::<8>()
            .ok_or_else(|| bad("truncated"))?;
        let computed = fnv1a(&bytes[..bytes.len() - 8]);
        if u64::from_le_bytes(*stored) != computed {
            return Err(bad(
                "its checksum does not match its content (the file is damaged or was edited)",
            ));
        }
        let mut pos = 0usize;
        let span = |pos: usize, n: usize| pos.checked_add(n).filter(|&end| end <= rest.len());
        let take_u64 = |pos: &mut usize| -> Result<u64> {
            let end = span(*pos, 8).ok_or_else(|| bad("truncated"))?;
            let b = &rest[*pos..end];
            *pos = end;
            Ok(u64::from_le_bytes(
                b.try_into().map_err(|_| bad("truncated"))?,
            ))
        };
        let len = usize::try_from(take_u64(&mut pos)?).map_err(|_| bad("header length"))?;
        let end = span(pos, len).ok_or_else(|| bad("truncated header"))?;
        let json = &rest[pos..end];
        pos = end;
        let header: Header =
            serde_json::from_slice(json).map_err(|e| bad(&format!("header: {e}")))?;
        let vector = |pos: &mut usize| -> Result<Vec<f64>> {
            let n = usize::try_from(take_u64(pos)?).map_err(|_| bad("length"))?;
            let end = n
                .checked_mul(8)
                .and_then(|b| span(*pos, b))
                .ok_or_else(|| bad("truncated data"))?;
            let body = &rest[*pos..end];
            *pos = end;
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
        if header.state_counts.len() != header.state_buffers.len() {
            return Err(bad("optimizer state counts"));
        }
        let flat = vector(&mut pos)?;
        if pos != rest.len() {
            return Err(bad("bytes after the last vector"));
        }
        let width = header.columns.len();
        if width.checked_mul(header.rows) != Some(flat.len()) || (width == 0 && header.rows > 0) {
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
            fingerprint: header.fingerprint,
        })
    }

    /// Writes the checkpoint to `path` atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        write_atomic(path, &self.to_bytes()?)
    }

    /// Reads a checkpoint file (a regular file or a stream, at most 1 TiB).
    pub fn load(path: &Path) -> Result<Checkpoint> {
        let bytes = crate::fsutil::read_bounded(path, MAX_BYTES, "a checkpoint")?;
        Checkpoint::from_bytes(&bytes, path)
    }

    /// Checks that this checkpoint (read from `path`) continues the run now starting: the same
    /// fingerprint, a step within `0..=fingerprint.steps`, and a state and table laid out as
    /// `fresh` and `columns` (the state and columns a new start has). The error names the
    /// file and every difference.
    pub fn check_resumes(
        &self,
        path: &Path,
        now: &Fingerprint,
        fresh: &TrainState,
        columns: &[String],
    ) -> Result<()> {
        let refuse = |what: String| {
            Error::format(
                path,
                format!(
                    "cannot resume: {what}; run without --resume to start afresh (its \
                     checkpoints are then replaced), or choose another --out"
                ),
            )
        };
        let differences = self.fingerprint.differences(now);
        if !differences.is_empty() {
            return Err(refuse(format!(
                "it was written for a different run ({})",
                differences.join("; ")
            )));
        }
        if self.state.step > now.steps {
            return Err(refuse(format!(
                "its step {} is beyond train.steps = {}",
                self.state.step, now.steps
            )));
        }
        let s = &self.state;
        let buffers = |st: &[State]| -> Vec<Vec<usize>> {
            st.iter()
                .map(|x| x.buffers.iter().map(Vec::len).collect())
                .collect()
        };
        let layout_ok = s.params.len() == fresh.params.len()
            && s.initial.len() == fresh.initial.len()
            && s.average.sum.len() == fresh.average.sum.len()
            && buffers(&s.optimizer) == buffers(&fresh.optimizer)
            && self.table.columns == columns;
        if !layout_ok {
            return Err(refuse(format!(
                "its state ({} parameters, columns {}) does not fit this run ({} parameters, \
                 columns {})",
                s.params.len(),
                self.table.columns.join(","),
                fresh.params.len(),
                columns.join(",")
            )));
        }
        Ok(())
    }
}
