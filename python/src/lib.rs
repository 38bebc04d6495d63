//! `gradflow._gradflow`: the extension module of the `gradflow` Python package.
//!
//! Argument conversion only: every function converts its arguments (numpy arrays of any
//! layout → the library's row-major [`gradflow::Matrix`], strings → the library's enums through
//! their `FromStr`), calls the library function the CLI calls, and converts the result back
//! (float64 arrays that own the Rust buffer). Validation and formulas live in the library.
//!
//! * [`convert`] — numpy ↔ matrices; [`errors`] — gradflow errors → Python exceptions;
//!   [`threads`] — GIL release, the `threads=` pools and Ctrl-C (the library's cancellation
//!   hook, polled between the blocks of kernels, the stages of predict, the iterations of the
//!   transport solvers, the steps of training, and the sweep cells and training steps inside
//!   the claims of reproduce).
//! * [`kernel`] — `kernel`, `predict`; [`conv`] — their `net=` (convolutional networks);
//!   [`ot`] — `gradflow.ot`; [`run`] — `run`, `reproduce`; [`diagnostics`] — ESS, R̂, Gibbs
//!   distances, spectra.

mod conv;
mod convert;
mod diagnostics;
mod errors;
mod kernel;
mod ot;
mod run;
mod threads;

use pyo3::prelude::*;

// The library's allocator, as in the CLI: freed kernel outputs are reused instead of being
// mapped (and zeroed) fresh by the kernel (see `gradflow::alloc`).
#[global_allocator]
static ALLOCATOR: gradflow::alloc::Allocator = gradflow::alloc::Allocator;

/// The extension module: the top-level functions, the exceptions, and the `ot` submodule.
#[pymodule]
fn _gradflow(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("NumericalError", py.get_type::<errors::NumericalError>())?;
    m.add("DivergedError", py.get_type::<errors::DivergedError>())?;
    m.add_function(wrap_pyfunction!(kernel::kernel, m)?)?;
    m.add_function(wrap_pyfunction!(kernel::predict, m)?)?;
    m.add_function(wrap_pyfunction!(run::run, m)?)?;
    m.add_function(wrap_pyfunction!(run::reproduce, m)?)?;
    m.add_function(wrap_pyfunction!(diagnostics::effective_sample_size, m)?)?;
    m.add_function(wrap_pyfunction!(diagnostics::split_rhat, m)?)?;
    m.add_function(wrap_pyfunction!(diagnostics::gibbs_distance, m)?)?;
    m.add_function(wrap_pyfunction!(diagnostics::eigh, m)?)?;
    m.add_function(wrap_pyfunction!(diagnostics::power_law_fit, m)?)?;
    m.add_function(wrap_pyfunction!(diagnostics::funk_hecke, m)?)?;
    m.add_function(wrap_pyfunction!(threads::set_threads, m)?)?;
    m.add_function(wrap_pyfunction!(threads::get_threads, m)?)?;
    m.add_function(wrap_pyfunction!(kernel::_set_block_work, m)?)?;
    m.add_function(wrap_pyfunction!(conv::_set_conv_block_rows, m)?)?;
    m.add_function(wrap_pyfunction!(kernel::_bench_kernel_rust, m)?)?;
    m.add_function(wrap_pyfunction!(convert::_input_copies, m)?)?;
    let ot = PyModule::new(py, "ot")?;
    ot.add_function(wrap_pyfunction!(ot::exact, &ot)?)?;
    ot.add_function(wrap_pyfunction!(ot::entropic, &ot)?)?;
    ot.add_function(wrap_pyfunction!(ot::sliced, &ot)?)?;
    ot.add_function(wrap_pyfunction!(ot::wasserstein_1d, &ot)?)?;
    ot.add_function(wrap_pyfunction!(ot::solve, &ot)?)?;
    m.add_submodule(&ot)?;
    Ok(())
}
