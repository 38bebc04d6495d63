//! An input array of a command and the name its errors give it.

use crate::error::{check_finite, Result};
use crate::linalg::{Matrix, MatrixView};
use std::path::Path;

/// A finite input matrix and its name in error messages: `--x (data/x.npy)` when the CLI read
/// it from a file, the argument's name (`x`) when a caller passed it in memory.
#[derive(Clone, Debug, PartialEq)]
pub struct Input {
    /// What errors call it.
    pub name: String,
    /// The values (rows are points).
    pub matrix: Matrix,
}

impl Input {
    /// `matrix` under `name`; Err naming it and the first entry that is NaN or ±∞.
    pub fn new(name: impl Into<String>, matrix: Matrix) -> Result<Input> {
        let name = name.into();
        check_finite(&name, &matrix.data, matrix.cols)?;
        Ok(Input { name, matrix })
    }

    /// The NPY file `path` (any dtype [`crate::data::io::read_npy_matrix`] reads), named
    /// `FLAG (PATH)` after the flag that gave it.
    pub fn read(path: &Path, flag: &str) -> Result<Input> {
        let matrix = crate::data::io::read_npy_matrix(path)?;
        Input::new(format!("{flag} ({})", path.display()), matrix)
    }
}

impl Input {
    /// This input borrowed ([`InputView`], no copy).
    pub fn view(&self) -> InputView<'_> {
        InputView {
            name: &self.name,
            matrix: self.matrix.as_view(),
        }
    }
}

/// An [`Input`] whose values stay with their owner (a caller's array read in place, no copy):
/// what the entry points ending in `_view` take.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct InputView<'a> {
    /// What errors call it.
    pub name: &'a str,
    /// The values (rows are points).
    pub matrix: MatrixView<'a>,
}

impl<'a> InputView<'a> {
    /// `matrix` under `name`; Err naming it and the first entry that is NaN or ±∞.
    pub fn new(name: &'a str, matrix: MatrixView<'a>) -> Result<InputView<'a>> {
        check_finite(name, matrix.data, matrix.cols)?;
        Ok(InputView { name, matrix })
    }
}

impl<'a> From<&'a Input> for InputView<'a> {
    fn from(input: &'a Input) -> InputView<'a> {
        input.view()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_finite_entries_are_named_with_the_input() {
        let m = Matrix::from_vec(2, 2, vec![1.0, 2.0, 3.0, f64::NAN]).unwrap();
        let e = Input::new("x", m.clone()).unwrap_err().to_string();
        assert_eq!(e, "non-finite value in x at row 1, column 1");
        assert!(Input::new("x", Matrix::zeros(2, 2)).is_ok());
        let e = InputView::new("x", m.as_view()).unwrap_err().to_string();
        assert_eq!(e, "non-finite value in x at row 1, column 1");
        let ok = Input::new("x", Matrix::zeros(2, 2)).unwrap();
        assert_eq!(InputView::new("x", ok.matrix.as_view()).unwrap(), ok.view());
    }
}
