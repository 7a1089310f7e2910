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
    return Trace("numpy", "manual", values, {}, time.perf_counter() - start, mapping(case))


def mapping(case) -> dict:
    """The article's own conventions, in the words the mirrors' mappings use (the report's first column)."""
    net, h = case.net, case.hyper
    if net is None:
        return {}
    shapes = ", ".join(f"{n} {s}" for n, s in net.param_shapes().items())
    n = case.X.shape[net.example_axis]
    scale = "1/n" if h.grad_scale == "1/n" else "1"
    out = {
        "parameters": f"{shapes}: NumPy arrays in the article's {net.layout} layout"
                      + (" (bias trick: the bias is the last row of W)" if net.trick and net.layout == "rows" else
                         " (bias trick: the bias is the last column of W)" if net.trick else ""),
        "forward": ("Z = A·W" if net.layout == "rows" else "Z = W·A") + (" + b" if net.bias == "vectors" else "")
                   + (" with A = [A | 1]" if net.trick else "") + "; A = g(Z) — "
                   + ", ".join(a.label for a in net.activations),
        "loss": net.loss.formula,
        "deltas": "δ(L) = ∂J/∂ŷ ⊙ g'(Z); δ(l) = (δ(l+1)·Wᵀ) ⊙ g'(Z)" + (", bias column dropped" if net.trick else "")
                  + "; written by hand",
        "learning rate": f"α = {h.learning_rate:g}, s = {scale}" + (f" (n = {n})" if scale == "1/n" else ""),
        "update": ("W ← W − α·s·∂J/∂W once per epoch on all examples" if h.rule == "batch"
                   else "W ← W − α·∂J/∂W once per example, in data order") + f", {h.epochs} epoch(s)"
                  + (f"; frozen: {', '.join(sorted(net.frozen))}" if net.frozen else ""),
    }
    if h.l2:
        out["L2"] = f"J += ½λΣW², ∂J/∂W += λW, λ = {h.l2:g}" + ("" if h.l2_bias else " (biases not regularized)")
    return out


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
