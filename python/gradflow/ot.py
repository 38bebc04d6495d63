"""Optimal transport with POT's argument names and return conventions.

``emd``, ``emd2``, ``sinkhorn``, ``sinkhorn2``, ``sliced`` (also as
``sliced_wasserstein_distance``), ``wasserstein_1d``, and ``solve`` (the ``gradflow ot``
command, returning its JSON report as a dict). Each docstring states where it differs from POT;
the main one: ``emd2`` and ``wasserstein_1d`` return W_p^p (as POT), ``sliced`` returns SW_p (as
POT's ``sliced_wasserstein_distance``), ``solve`` returns both ("cost" = W_p^p, "distance" =
W_p).

``emd`` / ``emd2`` and ``sinkhorn`` / ``sinkhorn2`` share one compiled solver each
(``_gradflow.ot.exact``, ``_gradflow.ot.entropic``, which return ``(plan, log)``); the functions
here only pick what POT's function of the same name returns.
"""

from ._gradflow import ot as _ot

sliced = _ot.sliced
sliced_wasserstein_distance = _ot.sliced
wasserstein_1d = _ot.wasserstein_1d
solve = _ot.solve


def emd(a=None, b=None, M=None, *, x=None, y=None, p=2.0, log=False, threads=None):
    """The optimal plan G of min_{G ∈ Π(a, b)} ⟨M, G⟩ (exact, network simplex): an n × m
    float64 array. ``M`` is the cost matrix; or give the points ``x`` (n × d) and ``y`` (m × d)
    for M_ij = ‖x_i − y_j‖^p. ``a``, ``b``: weights (``None`` or empty: uniform), non-negative
    with equal sums (b is rescaled to a's sum when they differ by ≤ 1e-6 relative).

    With ``log=True`` returns ``(G, log)``, log = {"cost": ⟨M, G⟩, "u", "v": the dual
    potentials (u_i + v_j ≤ M_ij, Σ a u + Σ b v = cost), "dual_value", "pivots",
    "warning": None}.

    POT equivalent: ``ot.emd(a, b, M)`` (same arguments and return; POT's ``numItermax``,
    ``center_dual``, ``numThreads`` do not exist here: the simplex runs to optimality and the
    potentials are not centred). The GIL is released; Ctrl-C interrupts a large solve.
    """
    plan, info = _ot.exact(a, b, M, x=x, y=y, p=p, threads=threads)
    return (plan, info) if log else plan


def emd2(a=None, b=None, M=None, *, x=None, y=None, p=2.0, log=False, return_matrix=False,
         threads=None):
    """The exact transport cost ⟨M, G*⟩ (a float): with M_ij = ‖x_i − y_j‖^p (from ``x``,
    ``y``) it is W_p^p, not W_p — as POT's ``emd2`` (take ``** (1/p)`` for the distance).
    ``log=True`` returns ``(cost, log)`` with the log of ``emd``; ``return_matrix=True`` adds
    the plan as log["G"].

    POT equivalent: ``ot.emd2(a, b, M)``.
    """
    plan, info = _ot.exact(a, b, M, x=x, y=y, p=p, plan=return_matrix, threads=threads)
    if not (log or return_matrix):
        return info["cost"]
    if return_matrix:
        info["G"] = plan
    return info["cost"], info


def sinkhorn(a=None, b=None, M=None, reg=None, *, x=None, y=None, p=2.0, numItermax=100_000,
             stopThr=1e-9, eps_scaling=None, log=False, threads=None):
    """The entropic plan P_ε = argmin ⟨M, P⟩ + ε KL(P ‖ a ⊗ b) over Π(a, b) (ε = ``reg``), by
    log-domain Sinkhorn with ε-scaling: an n × m array with P_ij = exp((f_i + g_j − M_ij)/ε).
    Stops when both marginals are within ``stopThr`` (Euclidean norm); a run that does not
    (after ``numItermax`` iterations at the final ε) or overflows raises
    ``gradflow.NumericalError`` (the CLI's exit code 3). ``log=True`` returns ``(P, log)``,
    log = {"cost": ⟨M, P⟩, "entropic": OT_ε, "niter", "err": the marginal error, "log_u",
    "log_v" (f/ε, g/ε: P = exp(log_u + log_v − M/ε) as POT's ``sinkhorn_log``), "f", "g"}.

    POT equivalent: ``ot.sinkhorn(a, b, M, reg, method="sinkhorn_log")``. Differences: POT's
    default ``numItermax`` is 1000 and it only warns when it stops unconverged; weights must be
    > 0 here (drop the points of zero weight). The GIL is released; Ctrl-C interrupts a large
    solve between two iterations.
    """
    plan, info = _ot.entropic(a, b, M, reg, x=x, y=y, p=p, numItermax=numItermax,
                              stopThr=stopThr, eps_scaling=eps_scaling, threads=threads)
    return (plan, info) if log else plan


def sinkhorn2(a=None, b=None, M=None, reg=None, *, x=None, y=None, p=2.0, numItermax=100_000,
              stopThr=1e-9, eps_scaling=None, log=False, threads=None):
    """The transport cost of the entropic plan, ⟨M, P_ε⟩ (a float; not OT_ε, which is
    log["entropic"]) — what POT's ``sinkhorn2`` returns. ``log=True`` returns ``(cost, log)``
    with the log of ``sinkhorn``.

    POT equivalent: ``ot.sinkhorn2(a, b, M, reg, method="sinkhorn_log")`` (see ``sinkhorn``
    for the differences).
    """
    _, info = _ot.entropic(a, b, M, reg, x=x, y=y, p=p, numItermax=numItermax,
                           stopThr=stopThr, eps_scaling=eps_scaling, threads=threads)
    return (info["cost"], info) if log else info["cost"]


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
