"""gradflow.kernel against neural-tangents' fixtures, layouts, dtypes, threads and blocks."""

import numpy as np
import pytest

import gradflow


def compare(ours, theirs, same_set):
    """Largest relative deviation off and on the diagonal (as tests/neural_tangents.rs)."""
    scale = np.abs(theirs).max()
    rel = np.abs(ours - theirs) / np.maximum(np.abs(theirs), 1e-6 * scale)
    if same_set:
        diag = np.diag(rel).max()
        np.fill_diagonal(rel, 0.0)
        return rel.max(), diag
    return rel.max(), 0.0


def test_kernels_match_neural_tangents(nt_fixtures):
    x1 = np.array(nt_fixtures["x1"])
    x2 = np.array(nt_fixtures["x2"])
    cases = nt_fixtures["cases"]
    assert len(cases) >= 72
    worst_off = worst_diag = 0.0
    for case in cases:
        args = dict(
            depth=case["depth"],
            activation=case["activation"],
            w_std=case["w_std"],
            b_std=case["b_std"],
            parameterization=case["parameterization"],
            width=case["width"],
        )
        nngp, ntk = gradflow.kernel(x1, kind="both", **args)
        nngp_x, ntk_x = gradflow.kernel(x1, x2, kind="both", **args)
        for ours, key, same in [
            (nngp, "nngp", True),
            (ntk, "ntk", True),
            (nngp_x, "nngp_cross", False),
            (ntk_x, "ntk_cross", False),
        ]:
            off, diag = compare(ours, np.array(case[key]), same)
            worst_off, worst_diag = max(worst_off, off), max(worst_diag, diag)
    # neural-tangents carries ~1e-8 round-off in the diagonal ReLU angle (see the Rust test).
    assert worst_off < 1e-10, worst_off
    assert worst_diag < 1e-6, worst_diag


def test_kind_selects_one_kernel_and_both_is_the_pair(rng):
    x = rng.normal(size=(7, 3))
    nngp, ntk = gradflow.kernel(x, depth=2, kind="both")
    assert np.array_equal(gradflow.kernel(x, depth=2, kind="nngp"), nngp)
    assert np.array_equal(gradflow.kernel(x, depth=2), ntk)
    assert np.array_equal(ntk, ntk.T)


def test_layouts_and_dtypes_are_converted_not_rejected(rng):
    x = rng.normal(size=(20, 6))
    ref = gradflow.kernel(x, depth=2, b_std=0.1)
    fortran = np.asfortranarray(x)
    strided = np.zeros((40, 12))
    strided[::2, ::2] = x
    view = strided[::2, ::2]
    assert not view.flags.c_contiguous and not view.flags.f_contiguous
    for variant in [fortran, view, x.tolist()]:
        assert np.array_equal(gradflow.kernel(variant, depth=2, b_std=0.1), ref)
    as32 = x.astype(np.float32)
    ref32 = gradflow.kernel(as32.astype(np.float64), depth=2, b_std=0.1)
    assert np.array_equal(gradflow.kernel(as32, depth=2, b_std=0.1), ref32)


def test_results_do_not_depend_on_the_thread_count(rng):
    x = rng.normal(size=(300, 8))
    one = gradflow.kernel(x, depth=3, threads=1)
    two = gradflow.kernel(x, depth=3, threads=2)
    assert np.array_equal(one, two)
    gradflow.set_threads(1)
    try:
        assert gradflow.get_threads() == 1
        assert np.array_equal(gradflow.kernel(x, depth=3), one)
    finally:
        gradflow.set_threads(None)
    assert gradflow.get_threads() == 0


def test_blocked_kernels_equal_one_call(rng):
    """Large kernels run in row blocks (Ctrl-C between them): every entry as in one call."""
    x = rng.normal(size=(101, 5))
    y = rng.normal(size=(37, 5))
    whole = gradflow.kernel(x, depth=2, kind="both")
    whole_x = gradflow.kernel(x, y, depth=2, kind="both")
    gradflow._gradflow._set_block_work(2 * 101 * 7)  # 7 rows per block
    try:
        blocked = gradflow.kernel(x, depth=2, kind="both")
        blocked_x = gradflow.kernel(x, y, depth=2, kind="both")
    finally:
        gradflow._gradflow._set_block_work(1 << 27)
    for a, b in zip(whole + whole_x, blocked + blocked_x):
        assert np.array_equal(a, b)


def test_help_shows_the_formula_and_the_neural_tangents_equivalent():
    doc = gradflow.kernel.__doc__
    assert "σ_w² K + σ_b²" in doc and "stax.serial" in doc
    assert "linear_sum_assignment" not in doc
    for f in [gradflow.predict, gradflow.run, gradflow.ot.emd, gradflow.ot.sinkhorn2]:
        assert f.__doc__ and len(f.__doc__) > 200, f
