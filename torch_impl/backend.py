"""The PyTorch mirror as a *backend*: what ``check --backend torch`` runs.

Same names as ``reference/backend.py``:

* ``STYLES``: {"autograd": network, "modules": idiomatic, "ddp": ddp}, each a style module that keeps
  the contract of ``reference/contract.py`` (the trace is assembled once, by
  ``reference/trace.py``);
* ``NOTES``: mapping lines every torch trace adds;
* ``functions(dtype)``: act.*, loss.*, calc.* computed the torch way (derivatives
  by autograd, losses by torch loss modules), in the table of ``reference/functions.py``.
"""

from __future__ import annotations

import numpy as np
import torch

from backprop_parity.reference.expr import NoCounterpart
from backprop_parity.reference.functions import table

from . import activations, calculus, ddp, idiomatic, losses, network, preprocessing
from .layout import numpy, tensor, torch_dtype

FUNCTIONS_NOTE = ("act.* by torch functions, their derivatives by torch.autograd.grad (softmax's Jacobian by "
                  "torch.func.jacrev); loss.* by torch loss modules (the cross-entropy's logits forms by "
                  "nn.CrossEntropyLoss, their ∂J/∂z by backward()); calc.* by autograd (retain_grad, backward) and "
                  "torch.optim.SGD; prep.* by tensor reductions "
                  "(Tensor.std with its default correction=1, the sample σ, unless a ddof is given)")

STYLES = {"autograd": network, "modules": idiomatic, "ddp": ddp}
NOTES = {"functions": FUNCTIONS_NOTE}


def _act(name, z, dtype, **params):
    with torch.no_grad():
        return numpy(activations.FUNCTIONS[name][0](tensor(z, dtype), **params))


def _act_prime(name, z, dtype, at_zero=None, **params):
    Z = tensor(z, dtype)
    if name == "softmax":                                   # not element-wise: each example's Jacobian
        return numpy(activations.jacobian(activations.softmax, Z, **params))
    d = activations.prime(activations.FUNCTIONS[name][0], Z, **params)
    if at_zero is not None:
        zeros = Z == 0
        if bool(zeros.any()) and bool((d[zeros] != at_zero).any()):
            got = float(d[zeros][0])
            raise NoCounterpart(f"act.{name}_prime",
                                f"torch autograd through {activations.FUNCTIONS[name][1]} gives g'(0) = {got:g}; "
                                f"at_zero = {at_zero:g} cannot be asked of it")
    return numpy(d)


def functions(dtype=np.float64) -> dict:
    torch_dtype(dtype)     # refuse anything but float64 / float32
    return table(_act, _act_prime, losses.value, calculus, preprocessing, losses, dtype=dtype)
