"""gradflow from Python on the kernel benchmark: per-call overhead on tiny inputs, and the
analytic NNGP + NTK of FC ReLU nets (n = 4000, d = 100, 1 and 3 hidden layers, σ_w = 1.4, no
bias) as `benches/kernels.rs` times them in Rust. One JSON line per measurement (median after a
warm-up), in the format of bench/summarize_kernels.py. Run by bench/run_python.sh."""
import os
import statistics
import sys
import timeit

import numpy as np

import gradflow

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "anchors"))
from common import kernel_inputs, kernel_report, median_time as timed  # noqa: E402

QUICK = "--quick" in sys.argv


def report(bench, seconds, **extra):
    kernel_report("gradflow (Python)", bench, seconds, **extra)


def per_call(fn, number=2000, repeat=7):
    """Median seconds per call over `repeat` batches of `number` calls."""
    return statistics.median(t / number for t in timeit.repeat(fn, number=number, repeat=repeat))


rng = np.random.default_rng(0)
tiny = rng.normal(size=(4, 3))
u, v = rng.normal(size=4), rng.normal(size=4)
# The Python call against the same library call timed in Rust (no Python around it): the
# difference is the binding's overhead (conversions, GIL release, argument parsing).
python_call = per_call(lambda: gradflow.kernel(tiny, depth=1))
rust_call = gradflow._gradflow._bench_kernel_rust(tiny, 1, 20000)
report("overhead_kernel_4x3", python_call - rust_call, python=python_call, rust=rust_call)
report("overhead_wasserstein_1d_4", per_call(lambda: gradflow.ot.wasserstein_1d(u, v)))
report("overhead_predict_4x3", per_call(lambda: gradflow.predict(tiny, u, tiny, depth=1), number=500))

n, x = kernel_inputs(rng, QUICK)
for depth in [1, 3]:
    t = timed(lambda: gradflow.kernel(x, depth=depth, w_std=1.4, kind="both"), reps=5)
    report("analytic", t, n=n, depth=depth, b_std=None)
