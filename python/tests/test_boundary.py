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


def _long_sliced(rng):
    # 10⁵ points per side and 10⁴ directions: each direction projects and sorts both clouds.
    x, y = rng.normal(size=(100_000, 3)), rng.normal(size=(100_000, 3))
    gradflow.ot.sliced(x, y, n_projections=10_000)


def _long_gibbs(rng):
    # A Python potential on a 300 × 300 grid, 64 midpoints per cell: 5.8·10⁶ calls.
    samples = rng.normal(size=(100, 2))
    gradflow.gibbs_distance(samples, lambda p: 0.5 * float(p @ p), 1.0, lo=-4.0, hi=4.0, bins=300)


@pytest.mark.parametrize("call", [_long_sinkhorn, _long_exact, _long_run, _long_sliced,
                                  _long_gibbs])
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


def test_ctrl_c_interrupts_reproduce_inside_a_claim_within_a_second(tmp_path):
    # ntk-linear-rate takes tens of seconds with quick=True: the signal comes in the middle of
    # the claim (its sweeps and training loops), not between two claims.
    out = tmp_path / "out"
    timer, sent = _interrupt_after(1.5)
    try:
        start = time.perf_counter()
        with pytest.raises(KeyboardInterrupt):
            gradflow.reproduce(["ntk-linear-rate"], quick=True, out=str(out))
        assert sent, f"reproduce returned after {time.perf_counter() - start:.1f} s"
        latency = time.perf_counter() - sent[0]
        assert latency < 1.0, latency
    finally:
        timer.cancel()
    # No finished report: no summary, no page, no folder of the interrupted claim.
    left = sorted(p.name for p in out.iterdir()) if out.exists() else []
    for name in ["summary.json", "index.html", "ntk-linear-rate"]:
        assert name not in left, left
    # The process-wide request ended with the call: later calls run.
    assert gradflow.kernel(np.ones((3, 2)), depth=1).shape == (3, 3)


def test_c_order_float64_inputs_are_read_in_place_not_copied(rng):
    """kernel's x1, x2, predict's x_train, x_test and ot's x, y: a C-contiguous float64 array
    is read in place (the copy counter does not move); any other dtype or layout is converted
    (one copy each) — and the results are bit-identical either way."""
    copies = gradflow._gradflow._input_copies
    x, x2 = rng.normal(size=(40, 6)), rng.normal(size=(25, 6))
    y = rng.normal(size=40)
    variants = {
        "fortran": lambda a: np.asfortranarray(a),
        "float32": lambda a: a.astype(np.float32),
        "strided": lambda a: np.repeat(a, 2, axis=1)[:, ::2],
        "read-only": None,
    }
    before = copies()
    k = gradflow.kernel(x, x2, depth=2)
    both = gradflow.kernel(x, depth=2, kind="both")
    p = gradflow.predict(x, y, x2, [1.0, np.inf], depth=2, diag_reg=1e-9)
    w = gradflow.ot.emd2(x=x, y=x2)
    assert copies() == before, "C-order float64 inputs were copied"
    for name, change in variants.items():
        if change is None:
            a, b = x.copy(), x2.copy()
            a.flags.writeable = b.flags.writeable = False
            expected_copies = 0
            same = (x, x2)
        else:
            a, b = change(x), change(x2)
            expected_copies = 1
            # The values the library reads: float32 rounded once, exactly widened.
            same = (np.ascontiguousarray(a, dtype=np.float64),
                    np.ascontiguousarray(b, dtype=np.float64))
        before = copies()
        got = gradflow.kernel(a, x2, depth=2)
        assert copies() == before + expected_copies, name
        want = k if same[0] is x else gradflow.kernel(same[0], x2, depth=2)
        assert np.array_equal(got, want), name
        before = copies()
        got = gradflow.predict(a, y, b, [1.0, np.inf], depth=2, diag_reg=1e-9)
        assert copies() == before + 2 * expected_copies, name
        want = p if same[0] is x else gradflow.predict(*same[:1], y, same[1], [1.0, np.inf],
                                                        depth=2, diag_reg=1e-9)
        assert np.array_equal(got, want), name
        before = copies()
        got = gradflow.ot.emd2(x=a, y=b)
        assert copies() == before + 2 * expected_copies, name
        want = w if same[0] is x else gradflow.ot.emd2(x=same[0], y=same[1])
        assert got == want, name
    # ot's cost matrix M.
    m = rng.random(size=(40, 25))
    before = copies()
    w_m = gradflow.ot.emd2(None, None, m)
    s_m = gradflow.ot.sinkhorn2(None, None, m, 0.1)
    assert copies() == before
    for changed in [np.asfortranarray(m), m.astype(np.float32), np.repeat(m, 2, axis=1)[:, ::2]]:
        same = np.ascontiguousarray(changed, dtype=np.float64)
        before = copies()
        got = gradflow.ot.emd2(None, None, changed), gradflow.ot.sinkhorn2(None, None, changed, 0.1)
        assert copies() == before + 2
        assert got == (gradflow.ot.emd2(None, None, same), gradflow.ot.sinkhorn2(None, None, same, 0.1))
    assert gradflow.ot.emd2(None, None, np.asfortranarray(m)) == w_m
    assert gradflow.ot.sinkhorn2(None, None, np.asfortranarray(m), 0.1) == s_m
    # The pair is the two single kernels, bit for bit.
    assert np.array_equal(both[1], gradflow.kernel(x, depth=2))
    assert np.array_equal(both[0], gradflow.kernel(x, depth=2, kind="nngp"))
    # A list is converted (a copy), with the same result.
    before = copies()
    assert np.array_equal(gradflow.kernel(x.tolist(), x2, depth=2), k)
    assert copies() == before + 1


def test_blocked_kernels_of_borrowed_inputs_are_the_in_memory_bits(rng):
    # The blocked path reads row ranges of the caller's array in place.
    x, x2 = rng.normal(size=(50, 4)), rng.normal(size=(30, 4))
    whole = gradflow.kernel(x, depth=2), gradflow.kernel(x, x2, depth=2)
    gradflow._gradflow._set_block_work(7 * 50 * 2)  # 7 rows per block
    try:
        blocked = gradflow.kernel(x, depth=2), gradflow.kernel(x, x2, depth=2)
        fortran = gradflow.kernel(np.asfortranarray(x), depth=2)
    finally:
        gradflow._gradflow._set_block_work(1 << 27)
    for a, b in zip(whole, blocked):
        assert np.allclose(a, b, rtol=1e-14, atol=0)
    assert np.array_equal(blocked[0], fortran)
    assert np.array_equal(blocked[0], blocked[0].T)
