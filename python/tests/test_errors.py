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
    with pytest.raises(ValueError, match="dimension"):
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
    with pytest.raises(ValueError, match="invalid time: expected t ≥ 0 or inf, got -1"):
        gradflow.predict(x, np.ones(3), x, -1.0, depth=1)
    with pytest.raises(ValueError, match="invalid time"):
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
