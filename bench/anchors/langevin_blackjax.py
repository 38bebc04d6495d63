"""blackjax side of the Langevin benchmark (bench/run_langevin.sh): 1000 chains of blackjax's
`sgld` (jit, x64, vmapped over chains, lax.scan over steps) on the Müller–Brown surface scaled
by 0.1, from (−0.56, 1.44), 10^4 steps. gradflow's convention X − η∇U + √(2η/β)ξ is blackjax's
step with step_size = η, log-density −U and temperature 1/β. One JSON line."""
import json, time

import jax

jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp
import blackjax

from common import median_of_3

A = jnp.array([-200.0, -100.0, -170.0, 15.0])
LA = jnp.array([-1.0, -1.0, -6.5, 0.7])
LB = jnp.array([0.0, 0.0, 11.0, 0.6])
LC = jnp.array([-10.0, -10.0, -6.5, 0.7])
X0 = jnp.array([1.0, 0.0, -0.5, -1.0])
Y0 = jnp.array([0.0, 0.5, 1.5, 1.0])
SCALE, ETA, BETA, CHAINS, STEPS = 0.1, 1e-4, 0.5, 1000, 10_000


def potential(p):
    dx, dy = p[0] - X0, p[1] - Y0
    return SCALE * jnp.sum(A * jnp.exp(LA * dx * dx + LB * dx * dy + LC * dy * dy))


grad = blackjax.sgmcmc.gradients.grad_estimator(lambda p: -potential(p), lambda p, d: 0.0, 1)
sgld = blackjax.sgld(grad)


@jax.jit
def run(key):
    positions = jnp.tile(jnp.array([-0.56, 1.44]), (CHAINS, 1))
    step = jax.vmap(lambda k, p: sgld.step(k, p, jnp.zeros(1), ETA, 1.0 / BETA))

    def body(carry, key):
        return step(jax.random.split(key, CHAINS), carry), None

    final, _ = jax.lax.scan(body, positions, jax.random.split(key, STEPS))
    return final


def main():
    key = jax.random.PRNGKey(0)
    t = median_of_3(lambda: run(key).block_until_ready())
    print(json.dumps({"bench": "chains_1000", "impl": "blackjax", "seconds": t,
                      "steps_per_second": STEPS / t, "version": blackjax.__version__}), flush=True)


if __name__ == "__main__":
    main()
