"""This machine's f64 GEMM rate through numpy's BLAS (OpenBLAS), on 1 and 2 threads: C = A B
with n × n matrices, 2n³ flops, best of five; GFLOP/s per second of this process's CPU time
(all its threads; the measure on a shared machine) and per wall second.
Usage: OPENBLAS_NUM_THREADS=T python3 bench/peak_gemm.py [n]"""
import os
import sys
import time

import numpy as np

n = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
rng = np.random.default_rng(0)
a, b = rng.standard_normal((n, n)), rng.standard_normal((n, n))
a @ b  # warm-up
best_cpu, best_wall = float("inf"), float("inf")
for _ in range(5):
    c0, w0 = time.process_time(), time.perf_counter()
    a @ b
    best_cpu = min(best_cpu, time.process_time() - c0)
    best_wall = min(best_wall, time.perf_counter() - w0)
flops = 2.0 * n**3
print(f"n {n}, threads {os.environ.get('OPENBLAS_NUM_THREADS', 'default')}: "
      f"{flops / best_cpu * 1e-9:.2f} GFLOP/s per CPU-second, {flops / best_wall * 1e-9:.2f} GFLOP/s wall")
