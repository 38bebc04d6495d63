"""The same training step as train_step_torch.py in JAX (jit, x64): seconds per step."""
import os
import time

from common import N, D, M, STEPS, LR, threads, report

os.environ.setdefault(
    "XLA_FLAGS",
    f"--xla_cpu_multi_thread_eigen=true intra_op_parallelism_threads={threads()}",
)
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

jax.config.update("jax_enable_x64", True)
key = jax.random.PRNGKey(0)
k1, k2, k3, k4 = jax.random.split(key, 4)
x = jax.random.normal(k1, (N, D), dtype=jnp.float64) / D ** 0.5
y = jax.random.normal(k2, (N, 1), dtype=jnp.float64)
w = jax.random.normal(k3, (M, D), dtype=jnp.float64)
a = jax.random.rademacher(k4, (M, 1), dtype=jnp.float64)
scale = M ** -0.5


def loss_fn(params):
    w, a = params
    f = scale * jax.nn.relu(x @ w.T) @ a
    return 0.5 * jnp.mean((f - y) ** 2)


@jax.jit
def step(params):
    loss, grads = jax.value_and_grad(loss_fn)(params)
    return tuple(p - LR * g for p, g in zip(params, grads)), loss


params = (w, a)
for _ in range(5):
    params, loss = step(params)
jax.block_until_ready(params)
start = time.perf_counter()
for _ in range(STEPS):
    params, loss = step(params)
jax.block_until_ready(params)
elapsed = time.perf_counter() - start
report("train_step", f"jax {jax.__version__}", elapsed / STEPS, final_loss=float(loss), threads=threads())
