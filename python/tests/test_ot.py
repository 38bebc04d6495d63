"""gradflow.ot against scipy's assignment solver, closed forms and POT's conventions."""

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

import gradflow
from gradflow import ot


def sq_dist(x, y):
    return ((x[:, None, :] - y[None, :, :]) ** 2).sum(-1)


def test_exact_transport_between_uniform_clouds_is_the_optimal_assignment(rng):
    for n, d in [(5, 1), (40, 3), (120, 2)]:
        x, y = rng.normal(size=(n, d)), rng.normal(size=(n, d)) + 0.5
        m = sq_dist(x, y)
        rows, cols = linear_sum_assignment(m)
        want = m[rows, cols].mean()  # W_2² of uniform clouds
        assert ot.emd2([], [], m) == pytest.approx(want, rel=1e-12)
        assert ot.emd2(x=x, y=y) == pytest.approx(want, rel=1e-12)
        plan = ot.emd(None, None, m)
        assert plan.shape == (n, n)
        assert np.allclose(plan.sum(0), 1 / n) and np.allclose(plan.sum(1), 1 / n)
        assert np.allclose(plan[rows, cols], 1 / n)
        report = ot.solve(x, y)
        assert report["cost"] == pytest.approx(want, rel=1e-12)
        assert report["distance"] == pytest.approx(np.sqrt(want), rel=1e-12)
        assert report["assignment"] == list(cols)


def test_emd_log_has_dual_potentials_certifying_optimality(rng):
    a = rng.uniform(0.5, 1.5, size=8)
    b = rng.uniform(0.5, 1.5, size=11)
    b *= a.sum() / b.sum()
    m = rng.uniform(size=(8, 11))
    plan, log = ot.emd(a, b, m, log=True)
    u, v = log["u"], log["v"]
    assert np.all(u[:, None] + v[None, :] <= m + 1e-12)
    assert a @ u + b @ v == pytest.approx(log["cost"], rel=1e-12)
    assert (plan * m).sum() == pytest.approx(log["cost"], rel=1e-12)
    cost, log2 = ot.emd2(a, b, m, return_matrix=True)
    assert np.array_equal(log2["G"], plan)


def test_sinkhorn_plan_has_the_marginals_and_the_log_domain_potentials(rng):
    x, y = rng.normal(size=(30, 2)), rng.normal(size=(20, 2))
    a, b = np.full(30, 1 / 30), np.full(20, 1 / 20)
    m = sq_dist(x, y)
    reg = 0.5
    plan, log = ot.sinkhorn(a, b, m, reg, log=True)
    assert np.abs(plan.sum(1) - a).max() < 1e-8 and np.abs(plan.sum(0) - b).max() < 1e-8
    assert np.allclose(plan, np.exp(log["log_u"][:, None] + log["log_v"][None, :] - m / reg))
    assert ot.sinkhorn2(a, b, m, reg) == pytest.approx((plan * m).sum(), rel=1e-12)
    # ε → 0 approaches the exact cost from above.
    exact = ot.emd2(a, b, m)
    assert exact <= ot.sinkhorn2(a, b, m, 0.05, stopThr=1e-7) <= exact * 1.05


def test_unconverged_sinkhorn_raises_numerical_error(rng):
    m = sq_dist(rng.normal(size=(30, 2)), rng.normal(size=(30, 2)))
    with pytest.raises(gradflow.NumericalError, match="did not converge"):
        ot.sinkhorn(None, None, m, 0.01, numItermax=2, stopThr=1e-15)


def test_one_dimensional_transport_is_the_sorted_matching(rng):
    u, v = rng.normal(size=50), rng.normal(size=50) * 2
    want = np.mean(np.abs(np.sort(u) - np.sort(v)) ** 3)
    assert ot.wasserstein_1d(u, v, p=3) == pytest.approx(want, rel=1e-12)  # W_p^p, as POT


def test_sliced_distance_is_the_root_of_the_mean_of_one_dimensional_costs(rng):
    x, y = rng.normal(size=(60, 3)), rng.normal(size=(60, 3)) + 1.0
    sw, log = ot.sliced(x, y, n_projections=200, seed=3, log=True)
    assert sw == pytest.approx(log["cost"] ** 0.5, rel=1e-12)  # SW_p, as POT
    assert ot.sliced_wasserstein_distance(x, y, n_projections=200, seed=3) == sw
    # Projections shrink distances: SW_2 ≤ W_2.
    assert sw <= ot.emd2(x=x, y=y) ** 0.5
