//! numpy ↔ gradflow conversions: any float64 / float32 array (C or Fortran order, any strides)
//! becomes the library's row-major [`Matrix`]; results go back as float64 arrays that own the
//! Rust buffer (no copy of the result).

use gradflow::{Matrix, MatrixView};
use numpy::ndarray::{Array2, Array3, ArrayView, IxDyn};
use numpy::prelude::*;
use numpy::{PyArray1, PyArray2, PyArray3, PyArrayDyn, PyReadonlyArray2, PyUntypedArray};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Array arguments that could have been read in place ([`borrowed`]) but were copied (another
/// dtype, layout or a non-array): counted for the tests of the zero-copy path.
static COPIES: AtomicUsize = AtomicUsize::new(0);

/// `gradflow._gradflow._input_copies()`: how many array arguments that can be read in place
/// (`kernel`'s x1, x2; `predict`'s x_train, x_test; `ot`'s M, x, y) were copied instead since
/// the module was loaded (C-contiguous float64 arrays are not).
#[pyfunction]
pub fn _input_copies() -> usize {
    COPIES.load(Ordering::Relaxed)
}

/// A 2-D argument: a C-contiguous float64 array read in place (its read-only borrow held for
/// as long as this value lives, i.e. for the call), or any other array converted into a
/// row-major matrix (one copy).
pub enum Borrowed<'py> {
    /// The caller's array, read in place.
    InPlace(PyReadonlyArray2<'py, f64>),
    /// A converted copy.
    Copied(Matrix),
}

impl Borrowed<'_> {
    /// The values as a row-major view (no copy).
    pub fn view(&self) -> PyResult<MatrixView<'_>> {
        match self {
            Borrowed::InPlace(a) => {
                let (rows, cols) = (a.shape()[0], a.shape()[1]);
                let data = a
                    .as_slice()
                    .map_err(|e| PyValueError::new_err(e.to_string()))?;
                MatrixView::new(rows, cols, data).map_err(crate::errors::to_py)
            }
            Borrowed::Copied(m) => Ok(m.as_view()),
        }
    }
}

/// The 2-D array `obj` (n × d): read in place when it is a C-contiguous float64 array (no
/// copy: the GIL may then be released while the library reads it, the read-only borrow held
/// meanwhile), else converted as [`matrix`] converts. Entries are checked by the caller
/// (`InputView::new`: finite). Errors name `name`.
pub fn borrowed<'py>(obj: &Bound<'py, PyAny>, name: &str) -> PyResult<Borrowed<'py>> {
    if let Ok(a) = obj.cast::<PyArray2<f64>>() {
        if a.is_c_contiguous() {
            if let Ok(r) = a.try_readonly() {
                return Ok(Borrowed::InPlace(r));
            }
        }
    }
    COPIES.fetch_add(1, Ordering::Relaxed);
    let d = dense(obj, name)?;
    if d.shape.len() != 2 {
        return Err(PyValueError::new_err(format!(
            "{name}: expected a 2-D array (n × d), got shape {:?}",
            d.shape
        )));
    }
    Matrix::from_vec(d.shape[0], d.shape[1], d.data)
        .map(Borrowed::Copied)
        .map_err(crate::errors::to_py)
}

/// An input array's shape and its values in row-major (C) order, as f64.
pub struct Dense {
    /// The shape.
    pub shape: Vec<usize>,
    /// The values, row-major.
    pub data: Vec<f64>,
}

/// Row-major values of a view of any strides: one copy (a `memcpy` when it is C-contiguous).
fn row_major<T: Copy>(view: ArrayView<'_, T, IxDyn>, f: impl Fn(T) -> f64) -> Vec<f64> {
    match view.as_slice() {
        Some(s) => s.iter().map(|&v| f(v)).collect(),
        None => view.iter().map(|&v| f(v)).collect(),
    }
}

/// The array `obj` (a numpy array of float64 or float32, or a sequence numpy turns into
/// float64) as shape and row-major values; errors name `name`.
pub fn dense(obj: &Bound<'_, PyAny>, name: &str) -> PyResult<Dense> {
    let py = obj.py();
    let array: Bound<'_, PyUntypedArray> = match obj.cast::<PyUntypedArray>() {
        Ok(a) => a.clone(),
        Err(_) => {
            let np = py.import("numpy")?;
            let f64_type = np.getattr("float64")?;
            np.call_method1("asarray", (obj, f64_type))
                .map_err(|e| {
                    PyValueError::new_err(format!(
                        "{name}: expected an array of numbers, got {} ({})",
                        type_name(obj),
                        e.value(py)
                    ))
                })?
                .cast_into::<PyUntypedArray>()
                .map_err(|_| PyValueError::new_err(format!("{name}: expected an array")))?
        }
    };
    let shape = array.shape().to_vec();
    let data = if let Ok(a) = array.cast::<PyArrayDyn<f64>>() {
        row_major(a.try_readonly()?.as_array(), |v| v)
    } else if let Ok(a) = array.cast::<PyArrayDyn<f32>>() {
        row_major(a.try_readonly()?.as_array(), f64::from)
    } else {
        return Err(PyValueError::new_err(format!(
            "{name}: expected a float64 or float32 array, got dtype {}",
            array.dtype()
        )));
    };
    Ok(Dense { shape, data })
}

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".into())
}

fn check_finite(name: &str, data: &[f64], cols: usize) -> PyResult<()> {
    gradflow::error::check_finite(name, data, cols).map_err(crate::errors::to_py)
}

/// A 2-D array (n × d) with finite entries.
pub fn matrix(obj: &Bound<'_, PyAny>, name: &str) -> PyResult<Matrix> {
    let d = dense(obj, name)?;
    if d.shape.len() != 2 {
        return Err(PyValueError::new_err(format!(
            "{name}: expected a 2-D array (n × d), got shape {:?}",
            d.shape
        )));
    }
    into_matrix(name, d.shape[0], d.shape[1], d.data)
}

/// A 1-D (n, read as n × 1) or 2-D (n × k) array with finite entries; also whether it was 1-D.
pub fn matrix_or_column(obj: &Bound<'_, PyAny>, name: &str) -> PyResult<(Matrix, bool)> {
    let d = dense(obj, name)?;
    match d.shape.len() {
        1 => Ok((into_matrix(name, d.shape[0], 1, d.data)?, true)),
        2 => Ok((into_matrix(name, d.shape[0], d.shape[1], d.data)?, false)),
        _ => Err(PyValueError::new_err(format!(
            "{name}: expected a 1-D (n) or 2-D (n × k) array, got shape {:?}",
            d.shape
        ))),
    }
}

/// A 1-D array of finite values.
pub fn vector(obj: &Bound<'_, PyAny>, name: &str) -> PyResult<Vec<f64>> {
    let d = dense(obj, name)?;
    if d.shape.len() != 1 {
        return Err(PyValueError::new_err(format!(
            "{name}: expected a 1-D array, got shape {:?}",
            d.shape
        )));
    }
    check_finite(name, &d.data, 1)?;
    Ok(d.data)
}

/// A 1-D array of values (NaN / ±∞ allowed: the caller checks its own domain).
pub fn values(obj: &Bound<'_, PyAny>, name: &str) -> PyResult<Vec<f64>> {
    let d = dense(obj, name)?;
    if d.shape.len() > 1 {
        return Err(PyValueError::new_err(format!(
            "{name}: expected a number or a 1-D array, got shape {:?}",
            d.shape
        )));
    }
    Ok(d.data)
}

fn into_matrix(name: &str, rows: usize, cols: usize, data: Vec<f64>) -> PyResult<Matrix> {
    check_finite(name, &data, cols)?;
    Matrix::from_vec(rows, cols, data).map_err(crate::errors::to_py)
}

/// A matrix as an (rows × cols) float64 array owning the Rust buffer.
pub fn to_numpy2(py: Python<'_>, m: Matrix) -> PyResult<Bound<'_, PyArray2<f64>>> {
    let a = Array2::from_shape_vec((m.rows, m.cols), m.data)
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    Ok(a.into_pyarray(py))
}

/// A vector as a float64 array owning the Rust buffer.
pub fn to_numpy1(py: Python<'_>, v: Vec<f64>) -> Bound<'_, PyArray1<f64>> {
    PyArray1::from_vec(py, v)
}

/// Matrices of one shape stacked along a new first axis (one copy: they are separate buffers).
pub fn stack(py: Python<'_>, ms: Vec<Matrix>) -> PyResult<Bound<'_, PyArray3<f64>>> {
    let (r, c) = ms.first().map_or((0, 0), |m| (m.rows, m.cols));
    let mut data = Vec::with_capacity(ms.len() * r * c);
    for m in &ms {
        data.extend_from_slice(&m.data);
    }
    let a = Array3::from_shape_vec((ms.len(), r, c), data)
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    Ok(a.into_pyarray(py))
}
