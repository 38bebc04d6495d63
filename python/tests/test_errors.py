"""Bad input raises ValueError naming the argument; sizes that cannot fit raise MemoryError."""

import numpy as np
import pytest

import gradflow
from gradflow import ot


def test_nan_is_named_with_its_position(rng):
    x = rng.normal(size=(5, 3))
    x[2, 1] = np.nan
    with pytest.raises(ValueError, match=r"non-finite value in x1 at row 2, column 1"):
        gradflow.kernel(x, depth=1)
    with pytest.raises(ValueError, match="x_test"):
        gradflow.predict(rng.normal(size=(5, 3)), np.ones(5), x, depth=1)
    with pytest.raises(ValueError, match="y"):
        ot.emd2(x=rng.normal(size=(5, 3)), y=x)


def test_wrong_shapes_are_named(rng):
    with pytest.raises(ValueError, match="x1: expected a 2-D array"):
        gradflow.kernel(np.ones(5), depth=1)
    with pytest.raises(ValueError, match="x_train has 5 rows, y_train 4"):
        gradflow.predict(np.ones((5, 2)), np.ones(4), np.ones((3, 2)), depth=1)
    with pytest.raises(ValueError, match="cost matrix is 3 × 3, weights have lengths 2 and 3"):
        ot.emd(np.ones(2) / 2, np.ones(3) / 3, np.ones((3, 3)))
    with pytest.raises(ValueError, match="x has 2 columns, y has 3"):
        ot.emd2(x=np.ones((3, 2)), y=np.ones((3, 3)))


def test_wrong_dtypes_are_named():
    with pytest.raises(ValueError, match="x1: expected a float64 or float32 array, got dtype int64"):
        gradflow.kernel(np.ones((3, 2), dtype=np.int64), depth=1)
    with pytest.raises(ValueError, match="x2: expected a float64 or float32 array"):
        gradflow.kernel(np.ones((3, 2)), np.ones((3, 2), dtype=np.complex128), depth=1)
    with pytest.raises(ValueError, match="x1: expected an array of numbers"):
        gradflow.kernel([["a", "b"]], depth=1)


def test_non_contiguous_arrays_are_accepted_not_rejected(rng):
    x = rng.normal(size=(10, 8))
    assert np.array_equal(gradflow.kernel(x[:, ::2], depth=1), gradflow.kernel(x[:, ::2].copy(), depth=1))


def test_bad_settings_carry_the_library_message():
    x = np.ones((3, 2))
    with pytest.raises(ValueError, match="invalid depth: expected at least 1 hidden layer"):
        gradflow.kernel(x, depth=0)
    with pytest.raises(ValueError, match="invalid depth"):
        gradflow.kernel(x, depth=-1)
    with pytest.raises(ValueError, match="invalid w_std"):
        gradflow.kernel(x, depth=1, w_std=-1.0)
    with pytest.raises(ValueError, match="invalid activation"):
        gradflow.kernel(x, depth=1, activation="swish")
    with pytest.raises(ValueError, match="invalid kind"):
        gradflow.kernel(x, depth=1, kind="ntk2")
    with pytest.raises(ValueError, match="invalid t: expected t ≥ 0 or inf, got -1"):
        gradflow.predict(x, np.ones(3), x, -1.0, depth=1)
    with pytest.raises(ValueError, match="invalid t:"):
        gradflow.predict(x, np.ones(3), x, [1.0, np.nan], depth=1)
    with pytest.raises(ValueError, match="invalid learning_rate"):
        gradflow.predict(x, np.ones(3), x, depth=1, learning_rate=0.0)
    with pytest.raises(ValueError, match="invalid threads"):
        gradflow.kernel(x, depth=1, threads=0)
    with pytest.raises(ValueError, match="invalid reg"):
        ot.sinkhorn(None, None, np.ones((2, 2)), -1.0)
    with pytest.raises(ValueError, match="invalid p"):
        ot.solve(x, x, p=0.5)
    with pytest.raises(ValueError, match="invalid method"):
        ot.solve(x, x, method="greedy")


def test_sizes_that_cannot_fit_raise_memory_error():
    x = np.zeros((3_000_000, 1))  # a 3e6 × 3e6 kernel: 7e13 bytes
    with pytest.raises(MemoryError, match="x1|block|values of f64"):
        gradflow.kernel(x, depth=1)


_X = np.linspace(0.0, 1.0, 6).reshape(3, 2)
_M = np.array([[0.0, 1.0], [1.0, 0.0]])
_C30 = np.subtract.outer(np.linspace(0.0, 1.0, 30), np.linspace(0.1, 1.3, 30)) ** 2
_SPEC = {
    "model": {"kind": "potential", "potential": {"kind": "quadratic", "k": 1.0}, "dim": 2},
    "optimizer": [{"kind": "sgd", "lr": 0.1}],
    "train": {"steps": 2},
}

# One bad call per kind of error message, with the Python argument it must name. None of the
# messages may speak of the command line's flags (`--reg`, `--max-iter`, `--x`, …).
_NAMED = [
    ("kernel input", lambda: gradflow.kernel(np.full((2, 2), np.nan), depth=1), ValueError, "x1"),
    ("kernel x2", lambda: gradflow.kernel(_X, np.ones((2, 3)), depth=1), ValueError,
     "x1 has 2 columns but x2 has 3"),
    ("predict targets", lambda: gradflow.predict(_X, np.ones(2), _X, depth=1), ValueError,
     "y_train"),
    ("predict f0", lambda: gradflow.predict(_X, np.ones(3), _X, depth=1, f0_train=np.ones(3)),
     ValueError, "f0_train, f0_test"),
    ("sinkhorn reg", lambda: ot.sinkhorn(None, None, _M), ValueError,
     "gradflow.ot.sinkhorn needs reg"),
    ("sinkhorn stopThr", lambda: ot.sinkhorn(None, None, _M, 1.0, stopThr=0.0), ValueError,
     "invalid stopThr"),
    ("sinkhorn numItermax", lambda: ot.sinkhorn2(None, None, _M, 1.0, numItermax=0), ValueError,
     "invalid numItermax"),
    ("sinkhorn eps_scaling", lambda: ot.sinkhorn(None, None, _M, 1.0, eps_scaling=2.0),
     ValueError, "invalid eps_scaling"),
    ("sinkhorn unconverged", lambda: ot.sinkhorn(None, None, _C30, 0.01, numItermax=2,
                                                 stopThr=1e-15),
     gradflow.NumericalError, "raise numItermax, raise reg or loosen stopThr"),
    ("emd weights", lambda: ot.emd(np.array([0.5, -0.5]), None, _M), ValueError, "invalid a"),
    ("emd costs", lambda: ot.emd(None, None, np.ones(3)), ValueError, "M: expected a 2-D"),
    ("emd points", lambda: ot.emd2(x=_X, y=np.ones((3, 3))), ValueError, "x has 2 columns"),
    ("solve reg", lambda: ot.solve(_X, _X, method="sinkhorn"), ValueError,
     'method="sinkhorn" needs reg'),
    ("solve online plan", lambda: ot.solve(_X, _X, method="sinkhorn", reg=1.0, online=True,
                                           plan=True),
     ValueError, "invalid plan: online never forms"),
    ("solve weights", lambda: ot.solve(_X, _X, wx=np.array([1.0, -1.0, 1.0])), ValueError, "wx"),
    ("sliced projections", lambda: ot.sliced(_X, _X, n_projections=0), ValueError,
     "n_projections"),
    ("wasserstein_1d values", lambda: ot.wasserstein_1d(_X, _X[:, 0]), ValueError, "u_values"),
    ("run resume", lambda: gradflow.run(_SPEC, resume=True), ValueError,
     "invalid resume: needs an output folder (out)"),
    ("reproduce only", lambda: gradflow.reproduce(["no-such-claim"]), ValueError,
     "invalid only: unknown claim 'no-such-claim'"),
    ("reproduce seeds", lambda: gradflow.reproduce(seeds="3-1"), ValueError, "invalid seeds"),
]


@pytest.mark.parametrize("kind, call, error, needle", _NAMED, ids=[n[0] for n in _NAMED])
def test_each_error_names_the_python_argument_not_a_flag(kind, call, error, needle):
    with pytest.raises(error) as caught:
        call()
    message = str(caught.value)
    assert needle in message, message
    assert "--" not in message, message
