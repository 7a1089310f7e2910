"""Activations g(Z) as torch computes them, and g'(Z) by torch autograd — never by hand.

Mirrors ``reference/activations.py``: the same names and the same optional
parameters (``slope`` of leaky ReLU, ``alpha`` of ELU). The derivative of an
element-wise g is the vector-Jacobian product with a tensor of ones,
``torch.autograd.grad(g(Z), Z, ones)``.

At exactly Z = 0 torch's autograd has its own conventions (measured by
``torch_at_zero``, not assumed): relu'(0) = 0, leaky_relu'(0) = slope,
elu'(0) = alpha. A case's ``at_zero`` that differs from them cannot be honoured
by torch: the network uses torch's value (and says so in its mapping), the
``act.*_prime`` functions raise ``NoCounterpart`` when the difference matters.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from backprop_parity.reference import activations as RA
from backprop_parity.reference.activations import forward_params

from .layout import numpy


def identity(Z):
    return Z


def sigmoid(Z):
    return torch.sigmoid(Z)


def tanh(Z):
    return torch.tanh(Z)


def relu(Z):
    return torch.relu(Z)


def leaky_relu(Z, slope=0.01):
    return F.leaky_relu(Z, negative_slope=slope)


def elu(Z, alpha=1.0):
    return F.elu(Z, alpha=alpha)


def softmax(Z, axis=-1):
    return torch.softmax(Z, dim=axis)


def prime(g, Z, **params):
    """g'(Z), element-wise, by autograd of the torch function g."""
    Z = Z.detach().requires_grad_(True)
    with torch.enable_grad():
        (d,) = torch.autograd.grad(g(Z, **params), Z, torch.ones_like(Z))
    return d


def jacobian(g, Z, axis=-1):
    """g'(Z) of a softmax-like g: each example's Jacobian ∂A_i/∂Z_j by torch.func.jacrev, vmapped over the
    examples (classes along ``axis``), examples first: (n, k, k); a single vector gives one (k, k)."""
    Z = Z.detach().movedim(axis, -1)
    one = torch.func.jacrev(lambda z: g(z, axis=-1))                     # [step:output-delta] softmax's Jacobian: torch.func.jacrev
    return one(Z) if Z.dim() == 1 else torch.func.vmap(one)(Z)


def derivative(act, g, Z):
    """One layer's g'(Z) by autograd: the vjp with ones through g (the layer's own function or module) for an
    element-wise g; for softmax each example's Jacobian of torch.softmax along the layer's class axis."""
    if act.elementwise:
        return prime(g, Z)
    return jacobian(softmax, Z, act.params["axis"])


# name -> (g, the torch call as the report prints it)
FUNCTIONS = {
    "identity": (identity, "Z (identity)"),
    "sigmoid": (sigmoid, "torch.sigmoid"),
    "tanh": (tanh, "torch.tanh"),
    "relu": (relu, "torch.relu"),
    "leaky_relu": (leaky_relu, "F.leaky_relu"),
    "elu": (elu, "F.elu"),
    "softmax": (softmax, "torch.softmax"),
}
# the torch keyword for each forward parameter (F.leaky_relu and nn.LeakyReLU: negative_slope; softmax: dim)
MODULE_KEYWORDS = {"slope": "negative_slope", "alpha": "alpha", "axis": "dim"}


def torch_at_zero(name: str, dtype=torch.float64, **params) -> float:
    """g'(0) as torch autograd gives it (observed, not assumed)."""
    return float(prime(FUNCTIONS[name][0], torch.zeros(1, dtype=dtype), **params)[0])


def at_zero_differences(net, Z_list) -> list[str]:
    """One line per activation whose case-file g'(0) differs from torch's, with how often Z is exactly 0."""
    return RA.at_zero_differences(net, None if Z_list is None else [numpy(Z) for Z in Z_list],
                                  lambda act: torch_at_zero(act.name, **forward_params(act)),
                                  "torch autograd", "torch's")


def label(act) -> str:
    """How torch computes one layer's g, as the report prints it."""
    return RA.call_label(FUNCTIONS[act.name][1], act, MODULE_KEYWORDS)
