//! A borrowed row-major matrix, [`MatrixView`]: the same layout as [`Matrix`] over values
//! someone else owns (a numpy array, a slice of a larger matrix), so that an entry point can
//! read its caller's inputs without copying them.

use super::Matrix;
use crate::error::{Error, Result};

/// A dense row-major matrix of f64 borrowed from its owner: entry (i, j) is
/// `data[i * cols + j]`, as in [`Matrix`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MatrixView<'a> {
    /// Number of rows.
    pub rows: usize,
    /// Number of columns.
    pub cols: usize,
    /// Row-major entries, `rows * cols` of them.
    pub data: &'a [f64],
}

impl<'a> MatrixView<'a> {
    /// The `rows × cols` matrix whose row-major entries are `data`; Err if the length differs.
    pub fn new(rows: usize, cols: usize, data: &'a [f64]) -> Result<MatrixView<'a>> {
        if rows.checked_mul(cols) != Some(data.len()) {
            return Err(Error::shape(
                "matrix",
                format!(
                    "{rows} × {cols} needs {} values, got {}",
                    rows.saturating_mul(cols),
                    data.len()
                ),
            ));
        }
        Ok(MatrixView { rows, cols, data })
    }

    /// Entry (i, j).
    #[inline]
    pub fn get(&self, i: usize, j: usize) -> f64 {
        self.data[i * self.cols + j]
    }

    /// Row i as a slice.
    #[inline]
    pub fn row(&self, i: usize) -> &'a [f64] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// Rows `start..end` as a view of the same values (no copy).
    pub fn row_range(&self, start: usize, end: usize) -> MatrixView<'a> {
        MatrixView {
            rows: end - start,
            cols: self.cols,
            data: &self.data[start * self.cols..end * self.cols],
        }
    }

    /// The values copied into an owned [`Matrix`].
    pub fn to_matrix(&self) -> Matrix {
        Matrix {
            rows: self.rows,
            cols: self.cols,
            data: self.data.to_vec(),
        }
    }
}

impl<'a> From<&'a Matrix> for MatrixView<'a> {
    fn from(m: &'a Matrix) -> MatrixView<'a> {
        m.as_view()
    }
}

impl Matrix {
    /// This matrix as a [`MatrixView`] (no copy).
    pub fn as_view(&self) -> MatrixView<'_> {
        MatrixView {
            rows: self.rows,
            cols: self.cols,
            data: &self.data,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_view_reads_the_same_entries_without_copying() {
        let m = Matrix::from_fn(3, 2, |i, j| (10 * i + j) as f64);
        let v = m.as_view();
        assert!(std::ptr::eq(v.data.as_ptr(), m.data.as_ptr()));
        assert_eq!((v.get(2, 1), v.row(1)), (21.0, &[10.0, 11.0][..]));
        let tail = v.row_range(1, 3);
        assert_eq!(
            tail.to_matrix(),
            Matrix::from_fn(2, 2, |i, j| m.get(i + 1, j))
        );
        assert!(std::ptr::eq(tail.data.as_ptr(), m.row(1).as_ptr()));
        assert_eq!(v.to_matrix(), m);
        assert!(MatrixView::new(2, 2, &m.data[..3]).is_err());
        assert_eq!(MatrixView::new(3, 2, &m.data).unwrap(), v);
    }
}
