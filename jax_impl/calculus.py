"""The articles' small calculus examples, differentiated by JAX.

Mirrors ``reference/calculus.py``:

* deeplearning.ai notes, "Computation Graph": J(a, b, c) = 3(a + b·c), built node by
  node with ``jax.vjp`` (u = b·c, v = a + u, J = 3v); the backward pass runs the
  pullbacks right to left, so ∂J/∂v and ∂J/∂u come out as well as ∂J/∂a, ∂J/∂b, ∂J/∂c.
* Courtial, chapter 5: the surface z = x² + y³, its gradient by ``jax.grad`` and one
  gradient-descent step by ``optax.sgd`` + ``optax.apply_updates``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax


def _scalars(dtype, *values):
    return [jnp.asarray(float(v), dtype=dtype) for v in values]


def computation_graph(a, b, c, dtype=np.float64):
    a, b, c = _scalars(dtype, a, b, c)
    u, u_vjp = jax.vjp(lambda b, c: b * c, b, c)          # forward, left to right, each node's pullback kept
    v, v_vjp = jax.vjp(lambda a, u: a + u, a, u)
    J, J_vjp = jax.vjp(lambda v: 3 * v, v)
    (dJ_dv,) = J_vjp(jnp.ones_like(J))                     # backward, right to left
    dJ_da, dJ_du = v_vjp(dJ_dv)
    dJ_db, dJ_dc = u_vjp(dJ_du)
    out = {"u": u, "v": v, "J": J, "dJ_dv": dJ_dv, "dJ_du": dJ_du, "dJ_da": dJ_da, "dJ_db": dJ_db, "dJ_dc": dJ_dc}
    return {k: float(x) for k, x in out.items()}


def _surface(p):
    return p[0] ** 2 + p[1] ** 3


def surface(x, y, dtype=np.float64):
    return float(_surface(jnp.asarray([float(x), float(y)], dtype=dtype)))


def surface_gradient(x, y, dtype=np.float64):
    return np.asarray(jax.grad(_surface)(jnp.asarray([float(x), float(y)], dtype=dtype)))


def descent_step(x, y, learning_rate, dtype=np.float64):
    """(x, y) − α·∇z: one step of optax.sgd on the point (x, y)."""
    point = jnp.asarray([float(x), float(y)], dtype=dtype)
    opt = optax.sgd(float(learning_rate))
    updates, _ = opt.update(jax.grad(_surface)(point), opt.init(point), point)
    return np.asarray(optax.apply_updates(point, updates))
