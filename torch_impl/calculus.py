"""The articles' small calculus examples, differentiated by torch autograd.

Mirrors ``reference/calculus.py``:

* deeplearning.ai notes, "Computation Graph": J(a, b, c) = 3(a + b·c) with leaf
  tensors a, b, c; u and v keep their gradients with ``retain_grad()``; one
  ``J.backward()`` gives every derivative.
* Courtial, chapter 5: the surface z = x² + y³, its gradient by autograd and one
  gradient-descent step taken by ``torch.optim.SGD``.
"""

from __future__ import annotations

import numpy as np
import torch

from .layout import numpy, tensor


def computation_graph(a, b, c, dtype=np.float64):
    a, b, c = (tensor(x, dtype).requires_grad_(True) for x in (a, b, c))
    u = b * c                     # forward, left to right
    v = a + u
    J = 3 * v
    u.retain_grad()               # intermediate nodes keep their gradient
    v.retain_grad()
    J.backward()                  # backward, right to left, by autograd
    value = lambda t: float(t.detach())   # noqa: E731
    return {"u": value(u), "v": value(v), "J": value(J), "dJ_dv": value(v.grad), "dJ_du": value(u.grad),
            "dJ_da": value(a.grad), "dJ_db": value(b.grad), "dJ_dc": value(c.grad)}


def _surface(x, y):
    return x ** 2 + y ** 3


def surface(x, y, dtype=np.float64):
    with torch.no_grad():
        return numpy(_surface(tensor(x, dtype), tensor(y, dtype)))


def surface_gradient(x, y, dtype=np.float64):
    x, y = tensor(x, dtype).requires_grad_(True), tensor(y, dtype).requires_grad_(True)
    dx, dy = torch.autograd.grad(_surface(x, y).sum(), (x, y))
    return np.array([numpy(dx), numpy(dy)])


def descent_step(x, y, learning_rate, dtype=np.float64):
    """(x, y) − α·∇z: one step of torch.optim.SGD on the point (x, y)."""
    point = tensor([x, y], dtype).requires_grad_(True)
    opt = torch.optim.SGD([point], lr=float(learning_rate))
    opt.zero_grad()
    _surface(point[0], point[1]).backward()
    opt.step()
    return numpy(point)
