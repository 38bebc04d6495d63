from . import ot as ot
from . import stax as stax
from ._gradflow import (
    DivergedError as DivergedError,
    NumericalError as NumericalError,
    __version__ as __version__,
    effective_sample_size as effective_sample_size,
    eigh as eigh,
    funk_hecke as funk_hecke,
    get_threads as get_threads,
    gibbs_distance as gibbs_distance,
    kernel as kernel,
    power_law_fit as power_law_fit,
    predict as predict,
    reproduce as reproduce,
    run as run,
    set_threads as set_threads,
    split_rhat as split_rhat,
)
