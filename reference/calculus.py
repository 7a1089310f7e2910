"""The articles' small calculus examples, differentiated by hand.

* deeplearning.ai notes, "Computation Graph": J(a, b, c) = 3(a + b·c), built as
  u = b·c, v = a + u, J = 3v, and differentiated right to left.
* Courtial, chapter 5: the surface z = x² + y³, its gradient (2x, 3y²) and one
  gradient-descent step on it.
"""

from __future__ import annotations

import numpy as np


def computation_graph(a, b, c):
    u = b * c                     # forward, left to right
    v = a + u
    J = 3 * v
    dJ_dv = 3.0                   # backward, right to left
    dJ_du = dJ_dv * 1.0           # dv/du = 1
    dJ_da = dJ_dv * 1.0           # dv/da = 1
    dJ_db = dJ_du * c             # du/db = c
    dJ_dc = dJ_du * b             # du/dc = b
    return {"u": u, "v": v, "J": J, "dJ_dv": dJ_dv, "dJ_du": dJ_du,
            "dJ_da": dJ_da, "dJ_db": dJ_db, "dJ_dc": dJ_dc}


def surface(x, y):
    return x ** 2 + y ** 3


def surface_gradient(x, y):
    return np.array([2.0 * x, 3.0 * y ** 2])


def descent_step(x, y, learning_rate):
    """(x, y) − α·∇z: one step downhill."""
    return np.array([x, y], dtype=float) - learning_rate * surface_gradient(x, y)
