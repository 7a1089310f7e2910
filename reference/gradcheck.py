"""Gradient checking by centered differences (Courtial, chapter 7).

For every parameter entry w:  V2 = (J(w + h) − J(w − h)) / 2h,  all others held
fixed. Backprop's gradient V1 is right when ‖V1 − V2‖ / ‖V1 + V2‖ is tiny
(Courtial expects 1e-8 or less with h = 1e-4).

The loop over entries is the method itself (one perturbation at a time), not a
loop over examples: each J(·) is a full vectorized forward pass.
"""

from __future__ import annotations

import numpy as np

from .spec import param_key


def perturbed(params: dict, name: str, index: tuple, delta: float) -> dict:
    """A copy of params with one entry moved by delta (the others shared, unchanged)."""
    moved = params[name].copy()
    moved[index] += delta
    return {**params, name: moved}


def numerical_gradient(J, params: dict, h: float) -> dict:
    """Centered differences for every entry of every parameter. J(params) -> (cost, yhat)."""
    numerical = {}
    for name, p in params.items():
        g = np.zeros_like(p)
        for index in np.ndindex(p.shape):
            J_plus = J(perturbed(params, name, index, h))[0]
            J_minus = J(perturbed(params, name, index, -h))[0]
            g[index] = (J_plus - J_minus) / (2 * h)                 # [step:gradcheck]
        numerical[name] = g
    return numerical


class Loaded:
    """What a framework's model holds of the parameters, for a J that loads them into one model at each call
    (Keras, torch.nn): the layers whose parameters differ, bit for bit, from the last call's are the only ones
    to load again — the driver above moves one entry at a time (4 820 calls on ``digits-minibatch``), and a
    load converts whole arrays."""

    def __init__(self, net):
        self.net, self.bits = net, {}

    def stale(self, params: dict) -> set:
        """Indexes of the layers to load ``params`` into (every layer at the first call); then held as loaded."""
        bits = {n: (np.shape(p), np.asarray(p, dtype=self.net.dtype).tobytes()) for n, p in params.items()}
        changed = {n for n in bits if self.bits.get(n) != bits[n]}
        self.bits.update({n: bits[n] for n in changed})
        return {l for l in range(self.net.depth) if {self.net.W_name(l), self.net.b_name(l)} & changed}


def relative_error(V1: np.ndarray, V2: np.ndarray) -> float:
    """‖V1 − V2‖ / ‖V1 + V2‖ (0 when both vectors are exactly zero)."""
    num = np.linalg.norm(V1 - V2)
    den = np.linalg.norm(V1 + V2)
    return float(num / den) if den else (0.0 if num == 0 else float("inf"))


def flatten(grads: dict, names) -> np.ndarray:
    return np.concatenate([np.ravel(grads[n]) for n in names])


def probe(hyper, params: dict, J, prefix: str) -> dict:
    """The numbers of one perturbed entry, as Courtial prints them for W1[0, 0]."""
    name, index = hyper.probe
    J_plus, A_plus = J(perturbed(params, name, index, hyper.h))
    J_minus, A_minus = J(perturbed(params, name, index, -hyper.h))
    return {
        f"{prefix}.A_plus": A_plus, f"{prefix}.A_minus": A_minus,
        f"{prefix}.J_plus": J_plus, f"{prefix}.J_minus": J_minus,
        f"{prefix}.numerical": (J_plus - J_minus) / (2 * hyper.h),
    }


def check(params: dict, grads: dict, J, hyper) -> dict:
    """Numerical gradient, relative error against backprop, and the probe at the initial parameters."""
    numerical = numerical_gradient(J, params, hyper.h)
    names = list(params)
    out = {param_key("gradcheck.numerical", n): numerical[n] for n in names}
    out["gradcheck.rel_error"] = relative_error(flatten(grads, names), flatten(numerical, names))
    if hyper.probe:
        out.update(probe(hyper, params, J, "gradcheck.probe"))
    return out
