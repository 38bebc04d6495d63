"""neural-tangents (x64, jit) on the convolutional kernel benchmarks of bench/run_conv.sh: the
CNTK with global average pooling (two 3x3 SAME conv + ReLU, GAP, Dense) and the flatten-readout
CNN-GP (three conv layers). Inputs from the NPY files gradflow reads. One JSON line per
measurement: wall seconds, CPU seconds of the process (the machine may be shared), peak RSS.

    conv_nt.py X.npy X2.npy {cntk_gap|cnngp_flatten} [BATCH]
"""
import json
import os
import resource
import sys
import time

threads = int(os.environ.get("GRADFLOW_BENCH_THREADS", "2"))
os.environ.setdefault("XLA_FLAGS", f"--xla_cpu_multi_thread_eigen=true intra_op_parallelism_threads={threads}")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)
import numpy as np  # noqa: E402
import neural_tangents as nt  # noqa: E402
from neural_tangents import stax  # noqa: E402

x1 = np.load(sys.argv[1])
x2 = np.load(sys.argv[2])
which = sys.argv[3]
batch = int(sys.argv[4]) if len(sys.argv) > 4 else 10
w = 2.0 ** 0.5
if which == "cntk_gap":
    layers = [stax.Conv(1, (3, 3), padding="SAME", W_std=w), stax.Relu(),
              stax.Conv(1, (3, 3), padding="SAME", W_std=w), stax.Relu(),
              stax.GlobalAvgPool(), stax.Dense(1)]
    get = "ntk"
else:
    layers = []
    for _ in range(3):
        layers += [stax.Conv(1, (3, 3), padding="SAME", W_std=w), stax.Relu()]
    layers += [stax.Flatten(), stax.Dense(1)]
    get = "nngp"
_, _, kernel_fn = stax.serial(*layers)
kernel_fn = nt.batch(kernel_fn, batch_size=batch, store_on_device=False)
wall, cpu = time.perf_counter(), time.process_time()
k = np.asarray(kernel_fn(x1, x2, get))
wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
np.save(f"/tmp/nt_{which}.npy", k)
print(json.dumps({"bench": which, "impl": f"neural-tangents {nt.__version__}", "seconds": wall,
                  "cpu_seconds": cpu, "batch": batch, "shape": list(k.shape),
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
