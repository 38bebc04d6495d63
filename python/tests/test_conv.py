"""Convolutional kernels (``net=``) against neural-tangents' conv fixtures, the stax builder,
NET.toml text and files, predict with a network, and the errors of a bad layer."""

import json
import pathlib

import numpy as np
import pytest

import gradflow
from gradflow import stax

FIXTURES = pathlib.Path(__file__).resolve().parents[2] / "tests" / "fixtures"


@pytest.fixture(scope="module")
def conv_fixtures():
    """neural-tangents 0.6.5 conv kernels (tests/fixtures/make_nt_conv_fixtures.py)."""
    return json.loads((FIXTURES / "neural_tangents_conv.json").read_text())


def images(entry, data, shape):
    return np.array(entry[data], dtype=np.float64).reshape(entry[shape])


def relative(ours, theirs):
    scale = np.abs(theirs).max()
    return np.abs(ours - theirs) / np.maximum(np.abs(theirs), 1e-6 * scale)


def test_conv_kernels_match_neural_tangents(conv_fixtures):
    cases = conv_fixtures["cases"]
    assert len(cases) >= 30
    worst_off = worst_diag = 0.0
    for c, case in enumerate(cases):
        entry = conv_fixtures["inputs"][case["input"]]
        x1, x2 = images(entry, "x1", "shape"), images(entry, "x2", "shape2")
        nngp, ntk = gradflow.kernel(x1, net=case["layers"], kind="both")
        nngp_x, ntk_x = gradflow.kernel(x1, x2, net=case["layers"], kind="both")
        for ours, key, same in [(nngp, "nngp", True), (ntk, "ntk", True),
                                (nngp_x, "nngp_cross", False), (ntk_x, "ntk_cross", False)]:
            theirs = np.array(case[key])
            assert ours.shape == theirs.shape, (c, key)
            rel = relative(ours, theirs)
            if same:
                # The diagonal: cos θ = 1 exactly here, neural-tangents' clipped arccos there
                # (the bound of tests/conv_kernels.rs).
                worst_diag = max(worst_diag, np.diag(rel).max())
                np.fill_diagonal(rel, 0.0)
            worst_off = max(worst_off, rel.max())
            assert rel.max() <= 1e-12, (c, key, rel.max())
        # One kernel at a time is the same as the pair.
        assert np.array_equal(gradflow.kernel(x1, net=case["layers"], kind="nngp"), nngp)
    assert worst_diag <= 1e-7, worst_diag


def test_the_stax_builder_toml_text_and_files_give_the_same_network(conv_fixtures, tmp_path):
    entry = conv_fixtures["inputs"]["2d"]
    x = images(entry, "x1", "shape")
    net = stax.serial(
        stax.Conv(filter_shape=(3, 3), padding="SAME", W_std=1.4, b_std=0.1), stax.Relu(),
        stax.AvgPool((2, 2), strides=(2, 2)), stax.Erf(),
        stax.Conv(filter_shape=(2, 2), padding="CIRCULAR", W_std=1.2), stax.LeakyRelu(0.1),
        stax.GlobalAvgPool(), stax.Dense(W_std=1.3, b_std=0.2))
    dicts = [
        {"kind": "conv", "filter_shape": [3, 3], "padding": "SAME", "w_std": 1.4, "b_std": 0.1},
        {"kind": "relu"},
        {"kind": "avg_pool", "window_shape": [2, 2], "strides": [2, 2]},
        {"kind": "erf"},
        {"kind": "conv", "filter_shape": [2, 2], "padding": "CIRCULAR", "w_std": 1.2,
         "b_std": None},  # None: the default (no bias)
        {"kind": "leaky_relu(0.1)"},
        {"kind": "global_avg_pool"},
        {"kind": "dense", "w_std": 1.3, "b_std": 0.2},
    ]
    want = gradflow.kernel(x, net=dicts)
    assert np.array_equal(gradflow.kernel(x, net=net), want)
    toml = "\n".join(
        "[[layer]]\n" + "\n".join(
            f"{k} = {json.dumps(v)}" for k, v in layer.items() if v is not None)
        for layer in dicts)
    assert np.array_equal(gradflow.kernel(x, net=toml), want)
    path = tmp_path / "net.toml"
    path.write_text(toml)
    assert np.array_equal(gradflow.kernel(x, net=path), want)
    assert np.array_equal(gradflow.kernel(x, net=str(path)), want)
    # numpy scalars and tuples are numbers and lists.
    typed = [dict(layer) for layer in dicts]
    typed[0]["filter_shape"] = (np.int64(3), 3)
    typed[0]["w_std"] = np.float64(1.4)
    assert np.array_equal(gradflow.kernel(x, net=typed), want)
    # float32 inputs are converted exactly.
    x32 = x.astype(np.float32)
    assert np.array_equal(gradflow.kernel(x32, net=net),
                          gradflow.kernel(x32.astype(np.float64), net=net))


def test_a_bad_layer_is_a_value_error_naming_its_index_and_key(conv_fixtures):
    x = images(conv_fixtures["inputs"]["2d"], "x1", "shape")
    relu, flat, dense = {"kind": "relu"}, {"kind": "flatten"}, {"kind": "dense"}
    for net, needles in [
        ([{"kind": "conv", "padding": "SAME"}, relu, flat, dense],
         ["layer[0].filter_shape", "required"]),
        ([{"kind": "conv", "filter_shape": [3, 3]}, {"kind": "relu", "w_std": 2.0}, flat, dense],
         ["layer[1].w_std", "takes no"]),
        ([{"kind": "conv", "filter_shape": [3, 3], "bogus": 1}, relu, flat, dense],
         ["layer[0]", "bogus"]),
        ([{"kind": "conv", "filter_shape": [3, 3]}, {"kind": "swish"}, flat, dense],
         ["layer[1].kind", "swish"]),
        ([{"kind": "conv", "filter_shape": "3x3"}, relu, flat, dense],
         ["layer[0]", "filter_shape"]),
        ([{"kind": "conv", "filter_shape": [3, 3]}, "relu", flat, dense],
         ["layer[1]", "expected a dict"]),
        ([], ["net", "layer"]),
    ]:
        with pytest.raises(ValueError) as info:
            gradflow.kernel(x, net=net)
        message = str(info.value)
        for needle in needles:
            assert needle in message, (needle, message)
        assert "--" not in message, message
    with pytest.raises(ValueError, match="depth"):
        gradflow.kernel(x, depth=2, net=[flat, dense])
    with pytest.raises(ValueError, match="depth"):
        gradflow.kernel(x.reshape(len(x), -1))  # neither depth nor net
    with pytest.raises(ValueError, match="x1"):
        gradflow.kernel(x[0, 0, 0], net=[flat, dense])  # 1-D: no (n, …) inputs
    with pytest.raises(ValueError, match="x2"):
        gradflow.kernel(x, x[:, :3], net=[flat, dense])  # other spatial shape


def test_predict_with_a_network_is_kernel_regression_on_its_kernels(conv_fixtures):
    entry = conv_fixtures["inputs"]["2d"]
    x, xt = images(entry, "x1", "shape"), images(entry, "x2", "shape2")
    net = stax.serial(stax.Conv(filter_shape=(3, 3), padding="SAME", b_std=0.3), stax.Relu(),
                      stax.Flatten(), stax.Dense(b_std=0.3))
    y = np.arange(len(x), dtype=np.float64)[:, None] - 1.5
    k = gradflow.kernel(x, net=net)
    kt = gradflow.kernel(xt, x, net=net)
    out = gradflow.predict(x, y, xt, net=net)
    assert out.shape == (len(xt), 1)
    want = kt @ np.linalg.solve(k, y)
    assert np.allclose(out, want, rtol=1e-9, atol=1e-12)
    # Finite times through the same flow: t = 0 is f₀ = 0; the NNGP kernel by kind.
    both = gradflow.predict(x, y[:, 0], xt, [0.0, np.inf], net=net, kind="nngp")
    assert both.shape == (2, len(xt)) and np.all(both[0] == 0.0)
    knngp = gradflow.kernel(x, net=net, kind="nngp")
    ktnngp = gradflow.kernel(xt, x, net=net, kind="nngp")
    assert np.allclose(both[1], ktnngp @ np.linalg.solve(knngp, y[:, 0]), rtol=1e-9)
    with pytest.raises(ValueError, match="learning_rate"):
        gradflow.predict(x, y, xt, 1.0, net=net, learning_rate=-1.0)
    with pytest.raises(ValueError, match="y_train"):
        gradflow.predict(x, y[:2], xt, net=net)
