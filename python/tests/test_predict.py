"""gradflow.predict against numpy's eigendecomposition of the same kernel."""

import numpy as np
import pytest

import gradflow

NET = dict(depth=2, activation="relu", w_std=1.4, b_std=0.1)


def flow_by_eigh(k_train, k_test_train, y, t, lr=1.0):
    """f_t(test) = Θ_te,tr Θ⁻¹ (I − e^{−ηtΘ/N}) y by numpy's eigh (f₀ = 0, N = n·k)."""
    lam, v = np.linalg.eigh(k_train)
    n_targets = y.size
    if np.isinf(t):
        g = 1.0 / lam
    else:
        g = -np.expm1(-lr * t * lam / n_targets) / lam
    coef = v @ (g[:, None] * (v.T @ y))
    return k_test_train @ coef


@pytest.mark.parametrize("solver", ["eigen", "krylov"])
def test_predictions_match_the_eigh_formula(rng, solver):
    x = rng.normal(size=(60, 4))
    y = np.sin(x[:, :2])  # two outputs
    xt = rng.normal(size=(15, 4))
    k = gradflow.kernel(x, **NET)
    kt = gradflow.kernel(xt, x, **NET)
    times = [0.0, 3.0, 50.0, np.inf]
    out = gradflow.predict(x, y, xt, times, solver=solver, **NET)
    assert out.shape == (4, 15, 2)
    for i, t in enumerate(times):
        want = flow_by_eigh(k, kt, y, t)
        assert np.allclose(out[i], want, rtol=1e-8, atol=1e-9 * np.abs(want).max()), t


def test_scalar_time_and_vector_targets_drop_their_axes(rng):
    x = rng.normal(size=(30, 3))
    y = x[:, 0] ** 2
    xt = rng.normal(size=(5, 3))
    at_inf = gradflow.predict(x, y, xt, **NET)
    assert at_inf.shape == (5,)
    both = gradflow.predict(x, y, xt, [np.inf, 1.0], return_train=True, **NET)
    train, test = both
    assert train.shape == (2, 30) and test.shape == (2, 5)
    assert np.allclose(test[0], at_inf)
    # At t = ∞ the training targets are interpolated.
    assert np.allclose(train[0], y, atol=1e-8)


def test_initial_outputs_shift_the_flow(rng):
    x = rng.normal(size=(25, 3))
    y = rng.normal(size=(25, 1))
    xt = rng.normal(size=(4, 3))
    f0_tr, f0_te = rng.normal(size=(25, 1)), rng.normal(size=(4, 1))
    k = gradflow.kernel(x, **NET)
    kt = gradflow.kernel(xt, x, **NET)
    out = gradflow.predict(x, y, xt, 2.0, f0_train=f0_tr, f0_test=f0_te, **NET)
    assert np.allclose(out, f0_te + flow_by_eigh(k, kt, y - f0_tr, 2.0), rtol=1e-9)
    with pytest.raises(ValueError, match="f0_train"):
        gradflow.predict(x, y, xt, 2.0, f0_train=f0_tr, **NET)


def test_singular_kernels_raise_numerical_error(rng):
    x = rng.normal(size=(10, 3))
    x = np.vstack([x, x])  # repeated inputs: Θ is singular
    y = rng.normal(size=20)
    with pytest.raises(gradflow.NumericalError, match="singular") as info:
        gradflow.predict(x, y, x[:3], **NET)
    # The advice names the keyword argument, not the CLI's flag.
    message = str(info.value)
    assert "diag_reg" in message and "--" not in message, message
    # The advice works: a diagonal regularisation.
    gradflow.predict(x, y, x[:3], diag_reg=1e-6, **NET)


def test_errors_name_the_keyword_arguments_not_the_cli_flags(rng):
    x = rng.normal(size=(6, 3))
    y = rng.normal(size=6)
    for kwargs, name in [
        (dict(learning_rate=0.0), "learning_rate"),
        (dict(diag_reg=-1.0), "diag_reg"),
        (dict(t=-1.0), "t"),
        (dict(t=[1.0, np.nan]), "t"),
        (dict(solver="lu"), "solver"),
        (dict(kind="both"), "kind"),
    ]:
        t = kwargs.pop("t", None)
        with pytest.raises(ValueError) as info:
            gradflow.predict(x, y, x[:2], t, depth=1, **kwargs)
        message = str(info.value)
        assert message.startswith(f"invalid {name}:"), message
        assert "--" not in message, message
