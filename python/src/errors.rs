//! gradflow's [`Error`] → Python exceptions, in one place. The message is the CLI's (what it
//! prints after `error: `), with the CLI's flags named by the Python function's arguments
//! where they differ ([`to_py_named`]: `--max-iter` → `numItermax`).
//!
//! | gradflow | Python | CLI exit code |
//! |---|---|---|
//! | `Invalid`, `Shape`, `NonFinite`, `Format` | `ValueError` | 2 |
//! | `TooLarge` (a size check before allocating) | `MemoryError` | 2 |
//! | `Io` | `OSError` (`FileNotFoundError`, … by the OS error) | 2 |
//! | `Numerical` | `gradflow.NumericalError` (an `ArithmeticError`) | 3 |
//! | `Diverged` | `gradflow.DivergedError` (an `ArithmeticError`) | 1 |
//! | `Interrupted` (the cancellation hook, on Ctrl-C) | `KeyboardInterrupt` | 130 |

use gradflow::commands::{self, Names};
use gradflow::Error;
use pyo3::exceptions::{PyArithmeticError, PyKeyboardInterrupt, PyMemoryError, PyValueError};
use pyo3::prelude::*;

pyo3::create_exception!(
    gradflow,
    NumericalError,
    PyArithmeticError,
    "A result that cannot be trusted: a numerically singular kernel, a Sinkhorn run that did \
     not converge or overflowed (the CLI's exit code 3)."
);
pyo3::create_exception!(
    gradflow,
    DivergedError,
    PyArithmeticError,
    "A training run whose loss became NaN or infinite (the CLI's exit code 1)."
);

/// The Python exception of a gradflow error.
pub fn to_py(e: Error) -> PyErr {
    to_py_named(e, &[])
}

/// The Python exception of a gradflow error whose message names the CLI's flags in `names`
/// by the Python function's arguments ([`commands::renamed`]).
pub fn to_py_named(e: Error, names: Names) -> PyErr {
    let message = commands::renamed(&e.to_string(), names);
    match e {
        Error::TooLarge { .. } => PyMemoryError::new_err(message),
        Error::Io { source, .. } => PyErr::from(std::io::Error::new(source.kind(), message)),
        Error::Numerical { .. } => NumericalError::new_err(message),
        Error::Diverged { .. } => DivergedError::new_err(message),
        Error::Interrupted { .. } => PyKeyboardInterrupt::new_err(message),
        Error::Invalid { .. } | Error::Shape { .. } | Error::NonFinite { .. } => {
            PyValueError::new_err(message)
        }
        Error::Format { .. } => PyValueError::new_err(message),
    }
}

/// `.or_raise()`: a gradflow result as a Python one.
pub trait OrRaise<T> {
    /// Maps the error with [`to_py`].
    fn or_raise(self) -> PyResult<T>;
    /// Maps the error with [`to_py_named`].
    fn or_raise_as(self, names: Names) -> PyResult<T>;
}

impl<T> OrRaise<T> for gradflow::Result<T> {
    fn or_raise(self) -> PyResult<T> {
        self.map_err(to_py)
    }
    fn or_raise_as(self, names: Names) -> PyResult<T> {
        self.map_err(|e| to_py_named(e, names))
    }
}
