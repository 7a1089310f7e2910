"""Gradient checking by centered differences (Courtial, chapter 7), on torch's own forward pass.

Mirrors ``reference/gradcheck.py``: V2 = (J(w + h) − J(w − h)) / 2h for every
parameter entry, with ``J`` a torch forward pass and torch cost; V1 is torch's
autograd gradient. The loop over entries is the method (one perturbation at a
time), each J(·) a full vectorized forward pass. ``params`` holds torch tensors
in the article's layout.
"""

from __future__ import annotations

import numpy as np
import torch

from backprop_parity.reference.spec import param_key

from .layout import numpy


def perturbed(params: dict, name: str, index: tuple, delta: float) -> dict:
    """A copy of params with one entry moved by delta (the others shared, unchanged)."""
    moved = params[name].detach().clone()
    moved[index] += delta
    return {**params, name: moved}


@torch.no_grad()
def numerical_gradient(J, params: dict, h: float) -> dict:
    """Centered differences for every entry of every parameter. J(params) -> (cost, yhat)."""
    numerical = {}
    for name, p in params.items():
        g = torch.zeros_like(p)
        for index in np.ndindex(tuple(p.shape)):
            J_plus = J(perturbed(params, name, index, h))[0]
            J_minus = J(perturbed(params, name, index, -h))[0]
            g[index] = (J_plus - J_minus) / (2 * h)                 # [step:gradcheck]
        numerical[name] = g
    return numerical


def relative_error(V1: torch.Tensor, V2: torch.Tensor) -> float:
    """‖V1 − V2‖ / ‖V1 + V2‖ (0 when both vectors are exactly zero)."""
    num = torch.linalg.norm(V1 - V2)
    den = torch.linalg.norm(V1 + V2)
    return float(num / den) if den else (0.0 if num == 0 else float("inf"))


def flatten(grads: dict, names) -> torch.Tensor:
    return torch.cat([grads[n].detach().reshape(-1) for n in names])


@torch.no_grad()
def probe(hyper, params: dict, J, prefix: str) -> dict:
    """The numbers of one perturbed entry, as Courtial prints them for W1[0, 0]."""
    name, index = hyper.probe
    J_plus, A_plus = J(perturbed(params, name, index, hyper.h))
    J_minus, A_minus = J(perturbed(params, name, index, -hyper.h))
    return {
        f"{prefix}.A_plus": numpy(A_plus), f"{prefix}.A_minus": numpy(A_minus),
        f"{prefix}.J_plus": float(J_plus), f"{prefix}.J_minus": float(J_minus),
        f"{prefix}.numerical": float((J_plus - J_minus) / (2 * hyper.h)),
    }


def check(params: dict, grads: dict, J, hyper) -> dict:
    """Numerical gradient, relative error against autograd, and the probe at the initial parameters."""
    numerical = numerical_gradient(J, params, hyper.h)
    names = list(params)
    out = {param_key("gradcheck.numerical", n): numpy(numerical[n]) for n in names}
    out["gradcheck.rel_error"] = relative_error(flatten(grads, names), flatten(numerical, names))
    if hyper.probe:
        out.update(probe(hyper, params, J, "gradcheck.probe"))
    return out
