"""The NumPy reference as a *backend*: what ``check`` runs for the reference.

Every backend package of the registry (``reference/registry.py``) has a module ``backend.py``
with the same names:

* ``STYLES``: {style name: the style module, which keeps ``reference/contract.py``} (or a
  function(case) -> Trace);
* ``functions(dtype)``: the small functions case expressions may call
  (``act.sigmoid_prime(2)``, ``loss.mse(y_true, y_pred)``,
  ``calc.computation_graph(5, 3, 2)``), computed the backend's way: ``reference/functions.py``
  names them and builds the table from the backend's own functions;

and optionally ``NOTES`` (mapping lines every trace gets), ``effective_case(case)`` (the case as the
framework really computes it — returned with its note as ``(case, note)``, or alone with ``EFFECTIVE_NOTE``;
see ``reports/run.py``) and
``environment()`` (facts about the framework for the report, see ``reports/environment.py``).
A framework backend runs in its own worker process (``reports/worker.py``).
"""

from __future__ import annotations

from functools import partial

import numpy as np

from . import activations, calculus, losses, network, preprocessing
from .contract import Trace  # noqa: F401  (re-exported: the one return type of a trace)
from .functions import table
from .trace import trace_case


STYLES = {"manual": network}


def trace_manual(case) -> Trace:
    """The reference's trace of one case (what every comparison is held to)."""
    return trace_case("numpy", "manual", network, case)


def _act(name, z, dtype, **params):
    return activations.FUNCTIONS[name][0](np.asarray(z, dtype=dtype), **params)


def _act_prime(name, z, dtype, **params):
    return activations.FUNCTIONS[name][1](np.asarray(z, dtype=dtype), **params)


def functions(dtype=np.float64) -> dict:
    """act.* in ``dtype``; loss.*, calc.* and prep.* in float64 whatever the dtype."""
    return table(partial(_act, dtype=dtype), partial(_act_prime, dtype=dtype), losses.value, calculus, preprocessing,
                 losses)
