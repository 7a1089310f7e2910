"""The NumPy reference as a *backend*: what ``check`` runs for the reference.

Every backend package of the registry (``reference/registry.py``) has a module ``backend.py``
with the same names:

* ``STYLES``: {style name: the style module, which keeps ``reference/contract.py``} (or a
  function(case) -> Trace);
* ``functions(dtype)``: the small functions case expressions may call
  (``act.sigmoid_prime(2)``, ``loss.mse(y_true, y_pred)``,
  ``calc.computation_graph(5, 3, 2)``), computed the backend's way;

and optionally ``NOTES`` (mapping lines every trace gets), ``effective_case(case)`` with
``EFFECTIVE_NOTE`` (the case as the framework really computes it, see ``reports/run.py``) and
``environment()`` (facts about the framework for the report, see ``reports/environment.py``).
A framework backend runs in its own worker process (``reports/worker.py``).
"""

from __future__ import annotations

import numpy as np

from . import activations, calculus, losses, network
from .contract import Trace  # noqa: F401  (re-exported: the one return type of a trace)
from .trace import trace_case


STYLES = {"manual": network}


def trace_manual(case) -> Trace:
    """The reference's trace of one case (what every comparison is held to)."""
    return trace_case("numpy", "manual", network, case)


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
