"""The boundary: zero-copy outputs, inputs left alone, the GIL released, Ctrl-C honoured."""

import os
import signal
import threading
import time

import numpy as np
import pytest

import gradflow


@pytest.fixture(autouse=True)
def _sigint_raises_keyboard_interrupt():
    """SIGINT raises KeyboardInterrupt in these tests whatever the launcher left behind: a shell
    that starts the suite as a background job ignores SIGINT, and Python then keeps ignoring it."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_outputs_own_the_rust_buffer_without_a_copy(rng):
    x = rng.normal(size=(50, 4))
    k = gradflow.kernel(x, depth=1)
    assert k.dtype == np.float64 and k.flags.c_contiguous
    # numpy does not own the data: its base is the Rust buffer's container.
    assert not k.flags.owndata
    assert type(k.base).__name__ == "PySliceContainer"
    plan = gradflow.ot.emd(x=x, y=x + 1.0)
    assert type(plan.base).__name__ == "PySliceContainer"


def test_inputs_are_read_not_modified_or_kept(rng):
    x = rng.normal(size=(30, 4))
    before = x.copy()
    k = gradflow.kernel(x, depth=2)
    assert np.array_equal(x, before)
    assert not np.shares_memory(k, x)
    x[:] = 0.0  # the result does not alias the input
    assert np.isfinite(k).all() and k.max() > 0


def _timed_kernel(x, spans, i):
    start = time.perf_counter()
    gradflow.kernel(x, depth=3, threads=1)
    spans[i] = (start, time.perf_counter())


def test_two_threads_calling_kernel_overlap_in_time(rng):
    x = rng.normal(size=(900, 20))
    _timed_kernel(x, [None], 0)  # warm-up
    spans = [None, None]
    threads = [threading.Thread(target=_timed_kernel, args=(x, spans, i)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    (s0, e0), (s1, e1) = spans
    # With the GIL held through a call, the second call could only start after the first ended.
    overlap = min(e0, e1) - max(s0, s1)
    assert overlap > 0.5 * min(e0 - s0, e1 - s1), spans


def test_python_threads_run_during_a_call(rng):
    x = rng.normal(size=(1500, 20))
    ticks = [0]
    stop = threading.Event()

    def spin():
        while not stop.is_set():
            ticks[0] += 1

    t = threading.Thread(target=spin)
    t.start()
    try:
        time.sleep(0.05)
        before = ticks[0]
        start = time.perf_counter()
        gradflow.kernel(x, depth=3)
        elapsed = time.perf_counter() - start
        during = ticks[0] - before
    finally:
        stop.set()
        t.join()
    # The spinning thread kept counting while the kernel ran (it could not with the GIL held).
    assert elapsed > 0.01
    assert during > 1000, (during, elapsed)


@pytest.mark.parametrize("threads", [None, 2])
def test_ctrl_c_interrupts_a_long_kernel_within_a_second(rng, threads):
    x = rng.normal(size=(3000, 10))
    gradflow._gradflow._set_block_work(3000 * 3 * 100)  # 100 rows per block
    sent = []

    def interrupt():
        sent.append(time.perf_counter())
        os.kill(os.getpid(), signal.SIGINT)

    timer = threading.Timer(0.3, interrupt)
    try:
        timer.start()
        with pytest.raises(KeyboardInterrupt):
            for _ in range(100):  # far longer than 0.3 s without the interrupt
                gradflow.kernel(x, depth=3, threads=threads)
        latency = time.perf_counter() - sent[0]
        assert latency < 1.0, latency
    finally:
        timer.cancel()
        gradflow._gradflow._set_block_work(1 << 27)


def _interrupt_after(seconds):
    """Sends SIGINT to this process after `seconds`; returns the timer and the send times."""
    sent = []

    def interrupt():
        sent.append(time.perf_counter())
        os.kill(os.getpid(), signal.SIGINT)

    timer = threading.Timer(seconds, interrupt)
    timer.start()
    return timer, sent


def _long_sinkhorn(rng):
    # 1500 × 1500 costs at ε = 1e-3 with an unreachable tolerance: every iteration is a pass over
    # 2.25e6 entries, and 10⁵ of them take minutes.
    x, y = rng.normal(size=(1500, 2)), rng.normal(size=(1500, 2))
    gradflow.ot.sinkhorn(x=x, y=y, reg=1e-3, stopThr=1e-300, numItermax=100_000)


def _long_exact(rng):
    # Exact transport between 2000 × 2000 points: seconds of pivots — called until interrupted.
    x, y = rng.normal(size=(2000, 3)), rng.normal(size=(2000, 3))
    for _ in range(100):
        gradflow.ot.emd2(x=x, y=y)


def _long_run(rng):
    # 3·10⁷ gradient steps on a quadratic: tens of seconds.
    gradflow.run(
        {
            "model": {
                "kind": "potential",
                "potential": {"kind": "quadratic", "k": 1.0},
                "dim": 2,
                "chains": 1,
            },
            "optimizer": [{"kind": "sgd", "lr": 1e-9}],
            "train": {"steps": 30_000_000, "record_every": 1_000_000},
        }
    )


@pytest.mark.parametrize("call", [_long_sinkhorn, _long_exact, _long_run])
def test_ctrl_c_interrupts_transport_and_training_within_a_second(rng, call):
    timer, sent = _interrupt_after(0.5)
    try:
        start = time.perf_counter()
        with pytest.raises(KeyboardInterrupt):
            call(rng)
        assert sent, f"{call.__name__} returned after {time.perf_counter() - start:.1f} s"
        latency = time.perf_counter() - sent[0]
        assert latency < 1.0, latency
    finally:
        timer.cancel()
