"""Langevin diagnostics, spectra and reproduce, against closed forms."""

import math

import numpy as np
import pytest

import gradflow


def ar1(rng, chains, n, phi):
    x = np.zeros((chains, n))
    x[:, 0] = rng.normal(size=chains) / math.sqrt(1 - phi ** 2)
    for t in range(1, n):
        x[:, t] = phi * x[:, t - 1] + rng.normal(size=chains)
    return x


def test_ess_of_ar1_chains_is_near_the_closed_form(rng):
    phi = 0.6
    x = ar1(rng, 4, 4000, phi)
    # Integrated autocorrelation time of AR(1): (1 + φ)/(1 − φ).
    want = x.size * (1 - phi) / (1 + phi)
    assert gradflow.effective_sample_size(x) == pytest.approx(want, rel=0.15)
    iid = rng.normal(size=(4, 2000))
    assert gradflow.effective_sample_size(iid) == pytest.approx(8000, rel=0.1)


def test_split_rhat_is_one_for_mixed_chains_and_large_for_stuck_ones(rng):
    mixed = rng.normal(size=(4, 1000))
    assert gradflow.split_rhat(mixed) == pytest.approx(1.0, abs=0.01)
    stuck = mixed + np.arange(4)[:, None] * 3
    assert gradflow.split_rhat(stuck) > 1.5


def test_gibbs_distance_of_exact_samples_is_small_and_of_wrong_ones_large(rng):
    beta, k = 2.0, 1.0
    u = lambda x: 0.5 * k * float(x @ x)
    exact = rng.normal(scale=1 / math.sqrt(beta * k), size=(20000, 1))
    d = gradflow.gibbs_distance(exact, u, beta, lo=-4, hi=4, bins=30)
    assert d["tv"] < 0.03 and d["kl"] < 0.01
    assert d["gibbs"].sum() == pytest.approx(1.0) and d["histogram"].shape == (30,)
    shifted = exact + 1.0
    assert gradflow.gibbs_distance(shifted, u, beta, lo=-4, hi=4, bins=30)["tv"] > 0.3
    with pytest.raises(ZeroDivisionError):
        gradflow.gibbs_distance(exact, lambda x: 1 / 0, beta, lo=-4, hi=4)


def test_eigh_and_power_law_fit(rng):
    j = np.arange(1, 41)
    q, _ = np.linalg.qr(rng.normal(size=(40, 40)))
    values = 3.0 * j ** -1.7
    k = (q * values) @ q.T
    vals, vecs = gradflow.eigh(k)
    assert np.allclose(vals, values, rtol=1e-10, atol=1e-14)
    assert np.allclose((vecs * vals) @ vecs.T, k, atol=1e-12)
    fit = gradflow.power_law_fit(vals)
    assert fit["exponent"] == pytest.approx(1.7, rel=1e-8)
    assert fit["constant"] == pytest.approx(3.0, rel=1e-8)


def test_funk_hecke_eigenvalues_of_a_dot_product_kernel():
    # κ(t) = t on S^{d−1}: μ_1 = 1/d (multiplicity d), every other degree 0.
    d = 5
    mu = gradflow.funk_hecke(lambda t: t, d, [0, 1, 2, 3])
    assert mu == pytest.approx([0.0, 1 / d, 0.0, 0.0], abs=1e-12)
    # κ(t) = e^t on the circle: μ_k = I_k(1), the modified Bessel function.
    from scipy.special import iv

    assert gradflow.funk_hecke(math.exp, 2, 3) == pytest.approx(iv(3, 1.0), rel=1e-10)


def test_reproduce_returns_the_summary(tmp_path):
    summary = gradflow.reproduce(["ntk-positive"], quick=True, out=tmp_path)
    ids = [c["id"] for c in summary["claims"]]
    assert ids == ["ntk-positive"]
    assert (tmp_path / "summary.json").exists()
    with pytest.raises(ValueError, match="unknown claim"):
        gradflow.reproduce(["no-such-claim"], quick=True, out=tmp_path)
