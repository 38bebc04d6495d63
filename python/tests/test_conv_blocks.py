"""``net=`` kernels in blocks of rows: the same bits as one block, and Ctrl-C between blocks."""

import os
import signal
import threading
import time

import numpy as np
import pytest

import gradflow
from gradflow import stax

# A CNTK with global average pooling: the full position-by-position covariance per pair.
GAP = stax.serial(
    stax.Conv(filter_shape=(3, 3), padding="SAME", W_std=1.4, b_std=0.1), stax.Relu(),
    stax.Conv(filter_shape=(3, 3), padding="SAME", W_std=1.4, b_std=0.1), stax.Relu(),
    stax.GlobalAvgPool(), stax.Dense(W_std=1.4, b_std=0.1))
# Flatten, no pooling: only the same-position covariances.
FLAT = stax.serial(
    stax.Conv(filter_shape=(2, 2), padding="VALID", W_std=1.3), stax.Erf(),
    stax.Flatten(), stax.Dense(W_std=1.2, b_std=0.3))


@pytest.fixture
def fixed_rows():
    """Sets the rows per block of ``net=`` kernels for one test (0 afterwards: automatic)."""
    yield gradflow._gradflow._set_conv_block_rows
    gradflow._gradflow._set_conv_block_rows(0)


@pytest.mark.parametrize("net", [GAP, FLAT], ids=["gap", "flatten"])
def test_blocked_net_kernels_are_the_bits_of_one_block(rng, fixed_rows, net):
    x = rng.normal(size=(13, 5, 4, 2))
    x2 = rng.normal(size=(6, 5, 4, 2))
    fixed_rows(1000)  # one block: the single library call
    whole = [gradflow.kernel(x, net=net, kind="both"), gradflow.kernel(x, x2, net=net, kind="both")]
    y = rng.normal(size=(13, 2))
    predicted = gradflow.predict(x, y, x2, t=[0.5, np.inf], net=net, diag_reg=1e-6,
                                 return_train=True)
    for rows in [1, 3, 4, 12]:
        fixed_rows(rows)
        for (nngp, ntk), x_2 in zip(whole, [None, x2]):
            got = gradflow.kernel(x, x_2, net=net, kind="both")
            assert np.array_equal(got[0], nngp), rows
            assert np.array_equal(got[1], ntk), rows
            assert np.array_equal(gradflow.kernel(x, x_2, net=net, kind="nngp"), nngp), rows
            assert np.array_equal(gradflow.kernel(x, x_2, net=net), ntk), rows
        assert np.array_equal(whole[0][1], whole[0][1].T)
        again = gradflow.predict(x, y, x2, t=[0.5, np.inf], net=net, diag_reg=1e-6,
                                 return_train=True)
        for a, b in zip(again, predicted):
            assert np.array_equal(a, b), rows


def _interrupted(call):
    """Calls `call` until a SIGINT sent from a thread after 0.5 s interrupts it; returns the
    seconds from the signal to the KeyboardInterrupt."""
    sent = []

    def interrupt():
        sent.append(time.perf_counter())
        os.kill(os.getpid(), signal.SIGINT)

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(0.5, interrupt)
    try:
        start = time.perf_counter()
        timer.start()
        with pytest.raises(KeyboardInterrupt):
            for _ in range(100):  # each call takes seconds: far longer than 0.5 s in all
                call()
        assert sent, f"returned after {time.perf_counter() - start:.1f} s"
        return time.perf_counter() - sent[0]
    finally:
        timer.cancel()
        signal.signal(signal.SIGINT, previous)


@pytest.mark.parametrize("threads", [None, 2])
def test_ctrl_c_interrupts_a_long_net_kernel_within_a_second(rng, fixed_rows, threads):
    # 400 images 8 × 8 × 3 through the GAP network: 80 000 pairs, seconds of work; 8 rows
    # per block (a tenth of a second of one core: the test holds on a loaded machine too).
    x = rng.normal(size=(400, 8, 8, 3))
    fixed_rows(8)
    latency = _interrupted(lambda: gradflow.kernel(x, net=GAP, kind="both", threads=threads))
    assert latency < 1.0, latency
    # Nothing stays requested: the next call runs, to the uninterrupted bits.
    small = x[:20]
    fixed_rows(1000)
    assert np.array_equal(gradflow.kernel(small, net=GAP), gradflow.kernel(small, net=GAP))


def test_ctrl_c_interrupts_predict_with_a_net(rng, fixed_rows):
    x, x_test = rng.normal(size=(300, 8, 8, 3)), rng.normal(size=(100, 8, 8, 3))
    y = rng.normal(size=300)
    fixed_rows(8)
    latency = _interrupted(lambda: gradflow.predict(x, y, x_test, net=GAP, diag_reg=1e-6))
    assert latency < 1.0, latency
