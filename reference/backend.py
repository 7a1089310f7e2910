"""The NumPy reference as a *backend*: what ``check`` runs for ``--backend numpy``.

Every backend package (``reference``, ``torch_impl``, ``tf_impl``) has a module
``backend.py`` with the same two names:

* ``STYLES``: {style name: function(case) -> Trace}
* ``functions(dtype)``: the small functions case expressions may call
  (``act.sigmoid_prime(2)``, ``loss.mse(y_true, y_pred)``,
  ``calc.computation_graph(5, 3, 2)``), computed the backend's way.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from . import activations, calculus, losses, network


@dataclass
class Trace:
    """The numbers one backend/style produced for one case, keyed as case files name them."""

    backend: str
    style: str
    values: dict
    missing: dict = field(default_factory=dict)     # key -> why this style has no counterpart
    seconds: float = 0.0
    mapping: dict = field(default_factory=dict)     # convention mapping (shown by the report)
    functions: dict = field(default_factory=dict)


def trace_manual(case) -> Trace:
    start = time.perf_counter()
    values = {}
    if case.net is not None:
        values = network.trace(case.net, case.params, case.X, case.y, case.hyper, case.inputs)
    mapping = {
        "layout": case.net.layout if case.net else None,
        "loss": case.net.loss.formula if case.net else None,
        "update": "W ← W − α·s·∂J/∂W written by hand" if case.net else None,
    }
    return Trace("numpy", "manual", values, {}, time.perf_counter() - start, mapping)


STYLES = {"manual": trace_manual}


def functions(dtype=np.float64) -> dict:
    def arr(x):
        return np.asarray(x, dtype=dtype)

    out = {}
    for name, (g, g_prime, _) in activations.FUNCTIONS.items():
        out[f"act.{name}"] = lambda z, *p, g=g: g(arr(z), *p)
        out[f"act.{name}_prime"] = lambda z, *p, g_prime=g_prime: g_prime(arr(z), *p)
    for name in losses.LOSSES:
        out[f"loss.{name}"] = getattr(losses, name)
    out["calc.computation_graph"] = calculus.computation_graph
    out["calc.surface"] = calculus.surface
    out["calc.surface_gradient"] = calculus.surface_gradient
    out["calc.descent_step"] = calculus.descent_step
    return out
