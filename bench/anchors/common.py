"""Shared by the anchor scripts: the workloads' sizes and a JSON result line."""
import json
import os
import sys

# The training-step benchmark: two-layer NTK-scaled ReLU net, both layers trained.
N, D, M, STEPS, LR = 1000, 100, 4096, 200, 0.1
GEMM_FLOP_PER_STEP = 2 * (2 * N * D * M)  # forward X Wᵀ and backward Δᵀ X


def threads():
    return int(os.environ.get("GRADFLOW_BENCH_THREADS", "2"))


def report(name, anchor, seconds_per_step, **extra):
    line = {"bench": name, "impl": anchor, "seconds_per_step": seconds_per_step, **extra}
    print(json.dumps(line))
    sys.stdout.flush()


def median_time(f, reps=3):
    """Median of `reps` timed runs after one warm-up run, in seconds."""
    import statistics
    import time
    f()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        f()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def median_of_3(f):
    """Median of three timed runs after one warm-up run, in seconds."""
    return median_time(f, 3)


def kernel_report(impl, bench, seconds, **extra):
    """One JSON line of the kernel benchmarks (the format of bench/summarize_kernels.py)."""
    print(json.dumps({"bench": bench, "impl": impl, "seconds": seconds, **extra}))
    sys.stdout.flush()


def kernel_inputs(rng, quick):
    """The analytic-kernel workload's inputs: n × 100 standard normal rows (n = 1000 with
    --quick, else 4000), drawn from `rng`."""
    n = 1000 if quick else 4000
    return n, rng.normal(size=(n, 100))
