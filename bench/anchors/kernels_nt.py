"""neural-tangents (x64, jit) on gradflow's kernel benchmarks: analytic NNGP + NTK of FC ReLU
nets, the empirical NTK of a two-layer ReLU net (fastest of the three implementations), and
gradient_descent_mse predictions. One JSON line per measurement (median of 3 after warm-up)."""
import os
import resource
import sys

from common import kernel_inputs, kernel_report, median_time as timed

threads = int(os.environ.get("GRADFLOW_BENCH_THREADS", "2"))
os.environ.setdefault("XLA_FLAGS", f"--xla_cpu_multi_thread_eigen=true intra_op_parallelism_threads={threads}")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import neural_tangents as nt  # noqa: E402
from neural_tangents import stax  # noqa: E402

QUICK = "--quick" in sys.argv
# Only the analytic kernels (bench/run_python.sh compares those with the Python module).
ANALYTIC_ONLY = "--analytic-only" in sys.argv


def report(bench, seconds, **extra):
    kernel_report(f"neural-tangents {nt.__version__}", bench, seconds, **extra)


rng = np.random.default_rng(0)
n, x = kernel_inputs(rng, QUICK)
x = jnp.asarray(x)
for depth in (1, 3):
    for b_std in (None, 0.1):
        layers = []
        for _ in range(depth):
            layers += [stax.Dense(512, W_std=1.4, b_std=b_std), stax.Relu()]
        layers += [stax.Dense(1, W_std=1.4, b_std=b_std)]
        _, _, kernel_fn = stax.serial(*layers)
        kf = jax.jit(kernel_fn, static_argnames="get")
        # Page faults per call (the warm-up and three timed calls): fresh memory's cost.
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        t = timed(lambda: jax.block_until_ready(kf(x, None, get=("nngp", "ntk"))))
        faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults) // 4
        report("analytic", t, n=n, depth=depth, b_std=b_std, faults=faults)

if ANALYTIC_ONLY:
    sys.exit(0)

# Empirical NTK of f(x) = Dense(1)(relu(Dense(4096)(x))), NTK parameterization.
n_e = 1000
xe = jnp.asarray(rng.normal(size=(n_e, 100)))
init_fn, apply_fn, _ = stax.serial(stax.Dense(4096), stax.Relu(), stax.Dense(1))
_, params = init_fn(jax.random.PRNGKey(0), xe.shape)
# Structured derivatives is the fastest of the three implementations on this workload
# (Jacobian contraction ≈ 30 s; NTK-vector products runs out of memory at 24 GiB).
ntk_fn = jax.jit(nt.empirical_ntk_fn(
    apply_fn, trace_axes=(-1,), vmap_axes=0,
    implementation=nt.NtkImplementation.STRUCTURED_DERIVATIVES))
t = timed(lambda: jax.block_until_ready(ntk_fn(xe, None, params)), reps=2)
report("empirical_two_layer", t, n=n_e, width=4096)

# predict.gradient_descent_mse at t ∈ {1, 10, 100, ∞} (eigendecomposition included).
m = 500 if QUICK else 2000
xtr = jnp.asarray(rng.normal(size=(m, 100)))
xte = jnp.asarray(rng.normal(size=(m, 100)))
ytr = jnp.asarray(rng.normal(size=(m, 1)))
_, _, kernel_fn = stax.serial(stax.Dense(512, W_std=1.4, b_std=0.1), stax.Relu(), stax.Dense(1, W_std=1.4, b_std=0.1))
k_tr = kernel_fn(xtr, None, "ntk")
k_te = kernel_fn(xte, xtr, "ntk")


def run_predict():
    predict_fn = nt.predict.gradient_descent_mse(k_tr, ytr, diag_reg=1e-6)
    out = predict_fn(jnp.asarray([1.0, 10.0, 100.0, jnp.inf]), 0.0, 0.0, k_te)
    jax.block_until_ready(out)


report("predict", timed(run_predict), n_train=m, n_test=m)
