//! One error type for the whole crate.
//!
//! Every variant names *what* was wrong and *where* (the file, the field, the step), so that a
//! command-line user can act on the message. [`Error::exit_code`] maps each variant onto the
//! CLI contract: 1 for a run that diverged (or a failed check), 2 for bad input, 3 for a
//! numerical failure.

use std::path::PathBuf;

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in gradflow.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A value given by the user is out of its domain (a width ≤ 0, a learning rate ≤ 0, …).
    #[error("invalid {field}: {message}")]
    Invalid {
        /// The parameter, field or argument that is wrong.
        field: String,
        /// What was expected.
        message: String,
    },
    /// A size set by the user (directly or through the shapes of its inputs) whose arrays would
    /// not fit in this machine's memory, or whose element count overflows: refused before
    /// anything is allocated (see [`crate::linalg::check_fits`]). Reported like [`Error::Invalid`]
    /// (same message, exit code 2); a distinct variant so that bindings can raise their
    /// out-of-memory error (Python's `MemoryError`).
    #[error("invalid {field}: {message}")]
    TooLarge {
        /// The parameter, field or argument that sets the size.
        field: String,
        /// The sizes and the memory they need.
        message: String,
    },
    /// Arrays whose shapes do not fit together.
    #[error("shape mismatch in {context}: {message}")]
    Shape {
        /// Where the shapes met.
        context: String,
        /// What the shapes were and what was expected.
        message: String,
    },
    /// Data that holds NaN or ±∞ where finite numbers are required.
    #[error("non-finite value in {what} at {location}")]
    NonFinite {
        /// The array or field.
        what: String,
        /// Row / column or index of the first offending entry.
        location: String,
    },
    /// A file that could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A file whose content is not what its format requires (NPY, TOML, checkpoint, …).
    #[error("{path}: {message}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// The training loss became NaN or infinite.
    #[error("training diverged at step {step}: loss = {loss}")]
    Diverged {
        /// The step at which the non-finite loss (or gradient) appeared.
        step: u64,
        /// The loss value seen there.
        loss: f64,
    },
    /// A computation stopped by its cancellation hook (see `commands::Cancel`).
    #[error("interrupted {at}")]
    Interrupted {
        /// Where it stopped (e.g. "after 3 of 8 kernel blocks").
        at: String,
    },
    /// A numerical routine failed (e.g. a matrix that should be positive definite is not).
    #[error("numerical failure in {routine}: {message}")]
    Numerical {
        /// The routine.
        routine: String,
        /// What happened.
        message: String,
    },
}

impl Error {
    /// Shorthand for [`Error::Invalid`].
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }

    /// Shorthand for [`Error::Shape`].
    pub fn shape(context: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Shape {
            context: context.into(),
            message: message.into(),
        }
    }

    /// Shorthand for [`Error::Io`].
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// Shorthand for [`Error::Format`].
    pub fn format(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::Format {
            path: path.into(),
            message: message.into(),
        }
    }

    /// The process exit code of the CLI contract: 1 for a run that diverged, 2 for bad input,
    /// 3 for a numerical failure (a result that cannot be trusted: a singular kernel, a
    /// Sinkhorn run that did not converge or overflowed), 130 for an interrupted computation
    /// (the code of SIGINT).
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Diverged { .. } => 1,
            Error::Numerical { .. } => 3,
            // 128 + SIGINT, the code of a process SIGINT ends (see crate::signals).
            Error::Interrupted { .. } => 130,
            _ => 2,
        }
    }
}

/// Parses a unit variant of an enum by its serde name — the name a spec file uses
/// (`"ntk"`, `"standard"`) — for the enums' `FromStr` (and so clap's flags): one spelling in
/// specs, flags and JSON.
pub fn parse_variant<T: serde::de::DeserializeOwned>(text: &str) -> std::result::Result<T, String> {
    use serde::de::IntoDeserializer;
    let de: serde::de::value::StrDeserializer<'_, serde::de::value::Error> =
        text.trim().into_deserializer();
    T::deserialize(de).map_err(|e| e.to_string())
}

/// Returns an error naming `what` and the first index where `values` is not finite.
pub fn check_finite(what: &str, values: &[f64], cols: usize) -> Result<()> {
    if let Some(k) = values.iter().position(|v| !v.is_finite()) {
        let location = if cols > 1 {
            format!("row {}, column {}", k / cols, k % cols)
        } else {
            format!("index {k}")
        };
        return Err(Error::NonFinite {
            what: what.to_string(),
            location,
        });
    }
    Ok(())
}

/// Returns an error unless `value > 0` and finite.
pub fn check_positive(field: &str, value: f64) -> Result<()> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(Error::invalid(
            field,
            format!("expected a finite number > 0, got {value}"),
        ))
    }
}

/// Returns an error unless `value ≥ 0` and finite.
pub fn check_non_negative(field: &str, value: f64) -> Result<()> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(Error::invalid(
            field,
            format!("expected a finite number ≥ 0, got {value}"),
        ))
    }
}

/// Returns an error unless `0 ≤ value < 1` (a momentum or averaging coefficient).
pub fn check_unit_interval(field: &str, value: f64) -> Result<()> {
    if (0.0..1.0).contains(&value) {
        Ok(())
    } else {
        Err(Error::invalid(
            field,
            format!("expected a value in [0, 1), got {value}"),
        ))
    }
}
