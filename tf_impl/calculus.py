"""The articles' small calculus examples, differentiated by tf.GradientTape.

Mirrors ``reference/calculus.py``: the same functions, but every derivative is
the tape's, and the descent step is a Keras SGD optimizer's.

* deeplearning.ai notes, "Computation Graph": J(a, b, c) = 3(a + b·c), with
  u = b·c, v = a + u; the tape gives ∂J/∂v, ∂J/∂u, ∂J/∂a, ∂J/∂b, ∂J/∂c.
* Courtial, chapter 5: the surface z = x² + y³, its gradient and one step downhill.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from . import floatx, tf_dtype


def _scalars(dtype, *values):
    return [tf.constant(float(v), dtype=tf_dtype(dtype)) for v in values]


def computation_graph(a, b, c, dtype=np.float64):
    a, b, c = _scalars(dtype, a, b, c)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([a, b, c])
        u = b * c                     # forward, left to right
        v = a + u
        J = 3 * v
    dJ_dv, dJ_du, dJ_da, dJ_db, dJ_dc = tape.gradient(J, [v, u, a, b, c])   # backward: the tape
    del tape
    out = {"u": u, "v": v, "J": J, "dJ_dv": dJ_dv, "dJ_du": dJ_du, "dJ_da": dJ_da, "dJ_db": dJ_db, "dJ_dc": dJ_dc}
    return {k: float(x) for k, x in out.items()}


def _surface(x, y):
    return x ** 2 + y ** 3


def surface(x, y, dtype=np.float64):
    x, y = _scalars(dtype, x, y)
    return float(_surface(x, y))


def _gradient(p):
    with tf.GradientTape() as tape:
        z = _surface(p[0], p[1])
    return tape.gradient(z, p)


def surface_gradient(x, y, dtype=np.float64):
    p = tf.Variable([float(x), float(y)], dtype=tf_dtype(dtype))
    return _gradient(p).numpy()


def descent_step(x, y, learning_rate, dtype=np.float64):
    """(x, y) − α·∇z: one step downhill, by keras.optimizers.SGD."""
    p = tf.Variable([float(x), float(y)], dtype=tf_dtype(dtype))
    with floatx(dtype):
        opt = keras.optimizers.SGD(learning_rate=float(learning_rate))
    opt.apply_gradients([(_gradient(p), p)])
    return p.numpy()
