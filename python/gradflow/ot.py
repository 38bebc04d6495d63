"""Optimal transport with POT's argument names and return conventions.

``emd``, ``emd2``, ``sinkhorn``, ``sinkhorn2``, ``sliced`` (also as
``sliced_wasserstein_distance``), ``wasserstein_1d``, and ``solve`` (the ``gradflow ot``
command, returning its JSON report as a dict). Each docstring states where it differs from POT;
the main one: ``emd2`` and ``wasserstein_1d`` return W_p^p (as POT), ``sliced`` returns SW_p (as
POT's ``sliced_wasserstein_distance``), ``solve`` returns both ("cost" = W_p^p, "distance" =
W_p).
"""

from ._gradflow import ot as _ot

emd = _ot.emd
emd2 = _ot.emd2
sinkhorn = _ot.sinkhorn
sinkhorn2 = _ot.sinkhorn2
sliced = _ot.sliced
sliced_wasserstein_distance = _ot.sliced
wasserstein_1d = _ot.wasserstein_1d
solve = _ot.solve

__all__ = [
    "emd",
    "emd2",
    "sinkhorn",
    "sinkhorn2",
    "sliced",
    "sliced_wasserstein_distance",
    "solve",
    "wasserstein_1d",
]
