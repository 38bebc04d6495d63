//! Data sets: inputs `x` (n × d) and targets `y` (n × k), synthetic generators, and NPY / CSV
//! input and output.

pub mod io;
pub mod npy;
pub mod synthetic;

use crate::error::{check_finite, Error, Result};
use crate::linalg::Matrix;

/// A supervised data set: row i of `x` is the input x_i, row i of `y` its target y_i.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    /// Inputs, n × d.
    pub x: Matrix,
    /// Targets, n × k (k = 1 for scalar regression or ±1 labels).
    pub y: Matrix,
}

impl Dataset {
    /// A data set, after checking that x and y have the same number of rows and that every
    /// value is finite (`name` appears in the error messages).
    pub fn new(name: &str, x: Matrix, y: Matrix) -> Result<Dataset> {
        if x.rows != y.rows {
            return Err(Error::shape(
                name,
                format!("x has {} rows but y has {} rows", x.rows, y.rows),
            ));
        }
        if x.rows == 0 {
            return Err(Error::invalid(name, "the data set is empty"));
        }
        check_finite(&format!("{name} x"), &x.data, x.cols)?;
        check_finite(&format!("{name} y"), &y.data, y.cols)?;
        Ok(Dataset { x, y })
    }

    /// Number of samples n.
    pub fn len(&self) -> usize {
        self.x.rows
    }

    /// True when there are no samples.
    pub fn is_empty(&self) -> bool {
        self.x.rows == 0
    }

    /// Input dimension d.
    pub fn input_dim(&self) -> usize {
        self.x.cols
    }

    /// Number of outputs k.
    pub fn output_dim(&self) -> usize {
        self.y.cols
    }

    /// The samples listed in `index`.
    pub fn select(&self, index: &[usize]) -> Dataset {
        Dataset {
            x: self.x.select_rows(index),
            y: self.y.select_rows(index),
        }
    }
}
