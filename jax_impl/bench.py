"""One training step of the benchmark network in JAX, as its users write it (``reference/bench.py``).

A pure function of the parameters: ``jax.grad`` of the loss and the update, the whole step
``jax.jit``-compiled (parameters donated, so XLA may update them in place); ``block_until_ready``
waits for the result (JAX dispatches asynchronously).
"""

from __future__ import annotations

import functools

import numpy as np
import jax
import jax.numpy as jnp

from backprop_parity.reference import bench

from . import jax_dtype


def step(sizes=bench.SIZES, batch: int = 256, dtype=np.float64):
    jax_dtype(dtype)                                   # float64 needs x64, switched on by this package
    params_np, X_np, y_np = bench.problem(sizes, batch, dtype)
    X, y = jnp.asarray(X_np), jnp.asarray(y_np)
    depth = len(sizes) - 1
    lr = bench.LEARNING_RATE / batch

    def loss(params):
        A = X
        for l in range(1, depth + 1):
            Z = A @ params[f"W{l}"] + params[f"b{l}"]
            A = jax.nn.sigmoid(Z) if l == depth else jax.nn.relu(Z)
        return 0.5 * jnp.sum((y - A) ** 2)

    @functools.partial(jax.jit, donate_argnums=0)
    def update(params):
        grads = jax.grad(loss)(params)
        return jax.tree_util.tree_map(lambda p, g: p - lr * g, params, grads)

    state = {"params": {k: jnp.asarray(v) for k, v in params_np.items()}}

    def run():
        state["params"] = jax.block_until_ready(update(state["params"]))
    return run, "jax.jit of jax.grad and the update, block_until_ready"
