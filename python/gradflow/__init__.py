"""gradflow from Python: the optimization theory of deep learning on numpy arrays.

Kernels (``kernel``), kernel gradient-flow predictions (``predict``), optimal transport
(``gradflow.ot``), convolutional kernels (``net=``, built with ``gradflow.stax``), training runs from a spec (``run``), the claims (``reproduce``), Langevin
diagnostics and spectra — the same library functions as the ``gradflow`` command line, with
numpy arrays in (float64 or float32, any memory layout) and float64 arrays out (owned by numpy,
no copy of the result). Every long call releases the GIL; ``threads=`` (or ``set_threads``)
sizes the worker pool, and results do not depend on it.

Errors: ``ValueError`` for bad input (the CLI's message), ``MemoryError`` for sizes that cannot
fit, ``gradflow.NumericalError`` for results that cannot be trusted (a singular kernel, an
unconverged Sinkhorn run), ``gradflow.DivergedError`` for a training run whose loss became NaN.
"""

from . import ot, stax
from ._gradflow import (
    DivergedError,
    NumericalError,
    __version__,
    effective_sample_size,
    eigh,
    funk_hecke,
    get_threads,
    gibbs_distance,
    kernel,
    power_law_fit,
    predict,
    reproduce,
    run,
    set_threads,
    split_rhat,
)

__all__ = [
    "DivergedError",
    "NumericalError",
    "__version__",
    "effective_sample_size",
    "eigh",
    "funk_hecke",
    "get_threads",
    "gibbs_distance",
    "kernel",
    "ot",
    "power_law_fit",
    "predict",
    "reproduce",
    "run",
    "set_threads",
    "split_rhat",
    "stax",
]
