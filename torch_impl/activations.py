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
import torch.nn as nn
import torch.nn.functional as F


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


def prime(g, Z, **params):
    """g'(Z), element-wise, by autograd of the torch function g."""
    Z = Z.detach().requires_grad_(True)
    with torch.enable_grad():
        (d,) = torch.autograd.grad(g(Z, **params), Z, torch.ones_like(Z))
    return d


# name -> (g, forward parameter names, torch call as the report prints it, nn module class)
FUNCTIONS = {
    "identity": (identity, (), "Z (identity)", nn.Identity),
    "sigmoid": (sigmoid, (), "torch.sigmoid", nn.Sigmoid),
    "tanh": (tanh, (), "torch.tanh", nn.Tanh),
    "relu": (relu, (), "torch.relu", nn.ReLU),
    "leaky_relu": (leaky_relu, ("slope",), "F.leaky_relu", nn.LeakyReLU),
    "elu": (elu, ("alpha",), "F.elu", nn.ELU),
}
HAS_AT_ZERO = {"relu", "leaky_relu", "elu"}
# the nn module's keyword for each forward parameter
MODULE_KEYWORDS = {"slope": "negative_slope", "alpha": "alpha"}


def forward_params(act) -> dict:
    """The parameters g itself takes (at_zero is a convention of g', not of g)."""
    return {k: v for k, v in act.params.items() if k != "at_zero"}


def g(act, Z):
    return FUNCTIONS[act.name][0](Z, **forward_params(act))


def g_prime(act, Z):
    return prime(FUNCTIONS[act.name][0], Z, **forward_params(act))


def module(act) -> nn.Module:
    """The nn module of one layer's activation (nn.Tanh(), nn.LeakyReLU(negative_slope=…), …)."""
    cls = FUNCTIONS[act.name][3]
    return cls(**{MODULE_KEYWORDS[k]: v for k, v in forward_params(act).items()})


def torch_at_zero(name: str, dtype=torch.float64, **params) -> float:
    """g'(0) as torch autograd gives it (observed, not assumed)."""
    return float(prime(FUNCTIONS[name][0], torch.zeros(1, dtype=dtype), **params)[0])


def at_zero_differences(net, Z_list) -> list[str]:
    """One line per activation whose case-file g'(0) differs from torch's, with how often Z is exactly 0."""
    groups: dict = {}
    for l, act in enumerate(net.activations):
        if "at_zero" not in act.params:
            continue
        wanted = act.params["at_zero"]
        got = torch_at_zero(act.name, **forward_params(act))
        if wanted != got:
            g = groups.setdefault((act.label, wanted, got), [[], 0])
            g[0].append(str(net.layer_number(l)))
            g[1] += int((Z_list[l] == 0).sum()) if Z_list is not None else 0
    return [f"layer{'s' if len(layers) > 1 else ''} {', '.join(layers)} {lab}: the case sets g'(0) = {wanted:g}, "
            f"torch autograd gives {got:g}; torch's value is used (it matters only where Z = 0 exactly: "
            f"{zeros} entries at the initial parameters)"
            for (lab, wanted, got), (layers, zeros) in groups.items()]


def label(act) -> str:
    """How torch computes one layer's g, as the report prints it."""
    params = forward_params(act)
    call = FUNCTIONS[act.name][2]
    inner = ", ".join(f"{MODULE_KEYWORDS.get(k, k)}={v:g}" for k, v in params.items())
    return f"{call}({inner})" if inner else call
