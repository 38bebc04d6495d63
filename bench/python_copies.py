"""The input copies of ``net=`` calls against the kernels they feed.

``gradflow.kernel(x, net=…)`` and ``gradflow.predict(…, net=…)`` copy their image inputs once
into the library's row-major ``Images`` (the network's kernels own their inputs), and
``predict`` copies ``y_train`` and ``f0_*`` (n × k). This script times that copy on CIFAR-shaped
images (n × 32 × 32 × 3, float64 and float32) — a call whose inputs are converted and then
rejected by the library, so that nothing else is timed — against the kernel it feeds,
extrapolated from a timed kernel on a few images (the cost is per pair of inputs).

    python bench/python_copies.py [n]        # default n = 1000
"""

import sys
import time

import numpy as np

import gradflow
from gradflow import stax


def best(f, repeat=5):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        f()
        times.append(time.perf_counter() - start)
    return min(times)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 32, 32, 3))
    odd = np.zeros((1, 31, 32, 3))  # another image shape: the call fails after converting x
    gap = stax.serial(
        stax.Conv(filter_shape=(3, 3), padding="SAME", W_std=1.4, b_std=0.1), stax.Relu(),
        stax.Conv(filter_shape=(3, 3), padding="SAME", W_std=1.4, b_std=0.1), stax.Relu(),
        stax.GlobalAvgPool(), stax.Dense(W_std=1.4, b_std=0.1))
    flat = stax.serial(
        stax.Conv(filter_shape=(3, 3), padding="SAME", W_std=1.4, b_std=0.1), stax.Relu(),
        stax.Flatten(), stax.Dense(W_std=1.4, b_std=0.1))

    def converted(x):
        def call():
            try:
                gradflow.kernel(x, odd, net=gap)
            except ValueError:
                pass
            else:
                raise AssertionError("expected the shape error")
        return call

    copy64 = best(converted(x))
    copy32 = best(converted(x.astype(np.float32)))
    memcpy = best(lambda: np.array(x, copy=True))
    print(f"{n} images 32×32×3 ({x.nbytes / 1e6:.0f} MB as float64)")
    print(f"  gradflow's conversion + check: float64 {copy64 * 1e3:.1f} ms, "
          f"float32 {copy32 * 1e3:.1f} ms (numpy's own copy: {memcpy * 1e3:.1f} ms)")
    pairs = n * (n + 1) / 2
    for name, net, m in [("CNTK-GAP", gap, 8), ("CNN-GP flatten", flat, 40)]:
        small = x[:m]
        t = best(lambda: gradflow.kernel(small, net=net, kind="both"), repeat=2)
        per_pair = t / (m * (m + 1) / 2)
        whole = per_pair * pairs
        print(f"  {name}: {per_pair * 1e3:.3f} ms per pair (from {m} images) → "
              f"K(x, x) ≈ {whole:.0f} s; the float64 copy is {copy64 / whole:.1e} of it")


if __name__ == "__main__":
    main()
