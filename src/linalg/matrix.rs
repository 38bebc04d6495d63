//! The row-major [`Matrix`].

use super::*;

/// A dense row-major matrix of f64: entry (i, j) is `data[i * cols + j]`.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Matrix {
    /// Number of rows.
    pub rows: usize,
    /// Number of columns.
    pub cols: usize,
    /// Row-major entries, `rows * cols` of them.
    pub data: Vec<f64>,
}

impl Matrix {
    /// The `rows × cols` zero matrix. Large ones ask for transparent huge pages (see
    /// [`zeroed`]).
    pub fn zeros(rows: usize, cols: usize) -> Matrix {
        Matrix {
            rows,
            cols,
            data: zeroed(rows * cols),
        }
    }

    /// A `rows × cols` matrix whose entries `write` stores through the pointer it is given (to
    /// the row-major buffer), on memory not initialised first: no zeroing pass ahead of writes
    /// that cover every entry anyway (with an allocator that recycles freed memory, a pass
    /// that costs as much as a fast kernel's own work on a 4000 × 4000 output). Returns the
    /// matrix and what `write` returns. Large ones ask for transparent huge pages as
    /// [`zeroed`] does. Should `write` panic, the buffer is freed and nothing is read.
    ///
    /// # Safety
    /// `write` must store every one of the `rows × cols` entries (and nothing beyond them).
    pub(crate) unsafe fn written_in_place<R>(
        rows: usize,
        cols: usize,
        write: impl FnOnce(*mut f64) -> R,
    ) -> (Matrix, R) {
        let len = rows * cols;
        let mut data: Vec<f64> = Vec::with_capacity(len);
        advise_huge_pages(data.as_ptr(), len);
        let value = write(data.as_mut_ptr());
        // SAFETY: the capacity is `len` and, by the caller's contract, every entry is written.
        unsafe { data.set_len(len) };
        (Matrix { rows, cols, data }, value)
    }

    /// Wraps row-major data, checking its length.
    pub fn from_vec(rows: usize, cols: usize, data: Vec<f64>) -> Result<Matrix> {
        if data.len() != rows * cols {
            return Err(Error::shape(
                "Matrix::from_vec",
                format!("{} values for a {rows}×{cols} matrix", data.len()),
            ));
        }
        Ok(Matrix { rows, cols, data })
    }

    /// A matrix from a function of (row, column).
    pub fn from_fn(rows: usize, cols: usize, mut f: impl FnMut(usize, usize) -> f64) -> Matrix {
        let mut data = Vec::with_capacity(rows * cols);
        for i in 0..rows {
            for j in 0..cols {
                data.push(f(i, j));
            }
        }
        Matrix { rows, cols, data }
    }

    /// The n × n identity.
    pub fn identity(n: usize) -> Matrix {
        Matrix::from_fn(n, n, |i, j| if i == j { 1.0 } else { 0.0 })
    }

    /// A column vector (n × 1).
    pub fn column(values: Vec<f64>) -> Matrix {
        Matrix {
            rows: values.len(),
            cols: 1,
            data: values,
        }
    }

    /// Entry (i, j).
    #[inline]
    pub fn get(&self, i: usize, j: usize) -> f64 {
        self.data[i * self.cols + j]
    }

    /// Sets entry (i, j).
    #[inline]
    pub fn set(&mut self, i: usize, j: usize, v: f64) {
        self.data[i * self.cols + j] = v;
    }

    /// Row i as a slice.
    #[inline]
    pub fn row(&self, i: usize) -> &[f64] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// Row i as a mutable slice.
    #[inline]
    pub fn row_mut(&mut self, i: usize) -> &mut [f64] {
        &mut self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// Resizes to `rows × cols`, reusing the allocation (contents unspecified afterwards).
    pub fn resize(&mut self, rows: usize, cols: usize) {
        self.rows = rows;
        self.cols = cols;
        self.data.resize(rows * cols, 0.0);
    }

    /// The transpose, as a new matrix.
    pub fn transpose(&self) -> Matrix {
        Matrix::from_fn(self.cols, self.rows, |i, j| self.get(j, i))
    }

    /// The rows listed in `index`, in that order.
    pub fn select_rows(&self, index: &[usize]) -> Matrix {
        let mut data = Vec::with_capacity(index.len() * self.cols);
        for &i in index {
            data.extend_from_slice(self.row(i));
        }
        Matrix {
            rows: index.len(),
            cols: self.cols,
            data,
        }
    }

    /// A faer view of this matrix.
    pub fn view(&self) -> MatRef<'_, f64> {
        MatRef::from_row_major_slice(&self.data, self.rows, self.cols)
    }

    /// Frobenius norm ‖A‖_F.
    pub fn frobenius_norm(&self) -> f64 {
        norm(&self.data)
    }

    /// Matrix product A·B (deterministic, parallel over output blocks).
    pub fn matmul(&self, other: &Matrix) -> Result<Matrix> {
        if self.cols != other.rows {
            return Err(Error::shape(
                "matmul",
                format!(
                    "{}×{} times {}×{}",
                    self.rows, self.cols, other.rows, other.cols
                ),
            ));
        }
        let mut out = Matrix::zeros(self.rows, other.cols);
        gemm(&mut out, 0.0, self.view(), other.view(), 1.0);
        Ok(out)
    }
}
