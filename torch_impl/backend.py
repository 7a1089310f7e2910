"""The PyTorch mirror as a *backend*: what ``check --backend torch`` runs.

Same names as ``reference/backend.py``:

* ``STYLES``: {"autograd": network, "modules": idiomatic}, each a style module that keeps
  the contract of ``reference/contract.py`` (the trace is assembled once, by
  ``reference/trace.py``);
* ``NOTES``: mapping lines every torch trace adds;
* ``functions(dtype)``: act.*, loss.*, calc.* computed the torch way (derivatives
  by autograd, losses by torch loss modules).
"""

from __future__ import annotations

import numpy as np
import torch

from backprop_parity.reference.expr import NoCounterpart

from . import activations, calculus, idiomatic, losses, network
from .layout import numpy, tensor, torch_dtype

FUNCTIONS_NOTE = ("act.* by torch functions, their derivatives by torch.autograd.grad; loss.* by torch loss "
                  "modules; calc.* by autograd (retain_grad, backward) and torch.optim.SGD")

STYLES = {"autograd": network, "modules": idiomatic}
NOTES = {"functions": FUNCTIONS_NOTE}


def _act(name, dtype):
    g, names = activations.FUNCTIONS[name][0], activations.FUNCTIONS[name][1]

    def act(z, *p):
        with torch.no_grad():
            return numpy(g(tensor(z, dtype), **dict(zip(names, p))))
    return act


def _act_prime(name, dtype):
    g, names = activations.FUNCTIONS[name][0], activations.FUNCTIONS[name][1]
    accepts = names + (("at_zero",) if name in activations.HAS_AT_ZERO else ())

    def act_prime(z, *p):
        if len(p) > len(accepts):
            raise TypeError(f"act.{name}_prime takes at most {len(accepts)} parameters ({', '.join(accepts)})")
        params = dict(zip(accepts, p))
        at_zero = params.pop("at_zero", None)
        Z = tensor(z, dtype)
        d = activations.prime(g, Z, **params)
        if at_zero is not None:
            zeros = Z == 0
            if bool(zeros.any()) and bool((d[zeros] != at_zero).any()):
                got = float(d[zeros][0])
                raise NoCounterpart(f"act.{name}_prime",
                                    f"torch autograd through {activations.FUNCTIONS[name][2]} gives g'(0) = {got:g}; "
                                    f"at_zero = {at_zero:g} cannot be asked of it")
        return numpy(d)
    return act_prime


def functions(dtype=np.float64) -> dict:
    torch_dtype(dtype)     # refuse anything but float64 / float32
    out = {}
    for name in activations.FUNCTIONS:
        out[f"act.{name}"] = _act(name, dtype)
        out[f"act.{name}_prime"] = _act_prime(name, dtype)
    for name in losses.LOSSES:
        out[f"loss.{name}"] = lambda y_true, y_pred, f=getattr(losses, name): f(y_true, y_pred, dtype)
    out["calc.computation_graph"] = lambda a, b, c: calculus.computation_graph(a, b, c, dtype)
    out["calc.surface"] = lambda x, y: calculus.surface(x, y, dtype)
    out["calc.surface_gradient"] = lambda x, y: calculus.surface_gradient(x, y, dtype)
    out["calc.descent_step"] = lambda x, y, lr: calculus.descent_step(x, y, lr, dtype)
    return out
