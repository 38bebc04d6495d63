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


def median_of_3(f):
    """Median of three timed runs after one warm-up run, in seconds."""
    import time
    f()
    times = []
    for _ in range(3):
        start = time.perf_counter()
        f()
        times.append(time.perf_counter() - start)
    return sorted(times)[1]
