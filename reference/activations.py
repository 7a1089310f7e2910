"""Activation functions g(Z) and their derivatives g'(Z), written out by hand.

Every derivative is a function of Z (not of A = g(Z)): backprop multiplies the
incoming error by g'(Z) element-wise (Courtial, "Deep Neural Network from
scratch", chapter 6; deeplearning.ai notes, "Derivatives of activation
functions"). σ' and tanh' are written with σ(Z) and tanh(Z); when the forward
pass's A = g(Z) is at hand it is used for them rather than computed again (the
same bits: the same function of the same Z).

Value at exactly 0, where the derivative of relu / leaky_relu / elu is not
defined, is a *convention*, stated here and settable per layer in a case file
(``at_zero``):

* relu'(0)       = 0      (torch and TensorFlow give 0; the deeplearning.ai
                           notes define 1 — their case sets ``at_zero = 1``)
* leaky_relu'(0) = slope  (torch and TensorFlow give the slope; the notes define 1)
* elu'(0)        = 1      (the chapter after Victor Zhou defines ELU by "x for x >= 0";
                           torch and TensorFlow give alpha at exactly 0 — equal only when alpha = 1)

Softmax is the one activation that is not element-wise: each output of an example depends on
every Z of that example, along the class ``axis`` (the case sets it from the layout: 1 when
examples are rows, 0 when they are columns). Its g'(Z) is therefore a Jacobian per example,
∂A_i/∂Z_j = A_i(δ_ij − A_j), examples first: shape (n, k, k). Backprop multiplies ∂J/∂A by it
(``Activation.backprop``) instead of element-wise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np


def identity(Z):
    return Z


def identity_prime(Z):
    return np.ones_like(Z)


def sigmoid(Z):
    # 1 / (1 + e^-Z), written so that large |Z| cannot overflow exp().
    E = np.exp(-np.abs(Z))
    return np.where(Z >= 0, 1 / (1 + E), E / (1 + E))


def sigmoid_prime(Z, A=None):
    s = sigmoid(Z) if A is None else A          # σ(Z), already computed as A in the forward pass
    return s * (1 - s)


def tanh(Z):
    return np.tanh(Z)


def tanh_prime(Z, A=None):
    t = np.tanh(Z) if A is None else A          # tanh(Z), already computed as A in the forward pass
    return 1 - t ** 2


def relu(Z):
    return np.maximum(Z, 0)


def relu_prime(Z, at_zero=0.0):
    dtype = np.result_type(Z, np.float32)
    d = np.greater(Z, 0).astype(dtype)                      # 1 where Z > 0, 0 where Z < 0
    if at_zero != 0:                                        # exactly 0 (and NaN): the convention
        d = np.where(np.greater(Z, 0) | np.less(Z, 0), d, at_zero).astype(dtype)
    return d


def leaky_relu(Z, slope=0.01):
    return np.where(Z > 0, Z, slope * Z)


def leaky_relu_prime(Z, slope=0.01, at_zero=None):
    at_zero = slope if at_zero is None else at_zero
    return np.where(Z > 0, 1.0, np.where(Z < 0, slope, at_zero)).astype(np.result_type(Z, np.float32))


def elu(Z, alpha=1.0):
    return np.where(Z >= 0, Z, alpha * np.expm1(np.minimum(Z, 0)))


def elu_prime(Z, alpha=1.0, at_zero=1.0):
    return np.where(Z > 0, 1.0, np.where(Z < 0, alpha * np.exp(np.minimum(Z, 0)), at_zero)).astype(
        np.result_type(Z, np.float32))


def softmax(Z, axis=-1):
    # e^Z / Σ e^Z along the class axis; max(Z) subtracted first (the same quotient) so exp() cannot overflow.
    E = np.exp(Z - np.max(Z, axis=axis, keepdims=True))
    return E / np.sum(E, axis=axis, keepdims=True)


def softmax_prime(Z, axis=-1, A=None):
    # The Jacobian of each example, examples first: ∂A_i/∂Z_j = A_i·(δ_ij − A_j), shape (n, k, k).
    s = np.moveaxis(softmax(Z, axis) if A is None else A, axis, -1)        # classes last
    return s[..., :, None] * (np.eye(s.shape[-1], dtype=s.dtype) - s[..., None, :])


def jacobian_product(dA, jac, axis=-1):
    """∂J/∂Z = ∂J/∂A · ∂A/∂Z for each example (the chain rule of a non-element-wise g): row i of dA times
    that example's Jacobian, ``jac`` examples first as ``softmax_prime`` gives it; dA and the result in Z's
    layout (classes along ``axis``)."""
    return np.moveaxis(np.einsum("...i,...ij->...j", np.moveaxis(dA, axis, -1), jac), -1, axis)


@dataclass(frozen=True)
class Activation:
    """One layer's activation: its name, its parameters, g and g'."""

    name: str
    params: dict = field(default_factory=dict)

    @property
    def label(self) -> str:
        inner = ", ".join(f"{k}={v:g}" for k, v in self.params.items())
        return f"{self.name}({inner})" if inner else self.name

    def g(self, Z):
        return FUNCTIONS[self.name][0](Z, **forward_params(self))

    @property
    def elementwise(self) -> bool:
        return self.name not in NOT_ELEMENTWISE

    def backprop(self, dA, deriv):
        """∂J/∂Z from ∂J/∂A and g'(Z): dA ⊙ g'(Z) for an element-wise g; for softmax each example's row of
        dA times its Jacobian (``jacobian_product``)."""
        if self.elementwise:
            return dA * deriv
        return jacobian_product(dA, deriv, self.params["axis"])

    def g_prime(self, Z, A=None):
        """g'(Z); ``A`` = g(Z) when the caller has it: σ' and tanh' are written with σ(Z) and tanh(Z),
        which need not be computed twice (the same function of the same Z gives the same bits)."""
        if A is not None and self.name in FROM_A:
            return FUNCTIONS[self.name][1](Z, A=A, **self.params)
        return FUNCTIONS[self.name][1](Z, **self.params)


def forward_params(act: Activation) -> dict:
    """The parameters g itself takes (at_zero is a convention of g', not of g)."""
    return {k: v for k, v in act.params.items() if k != "at_zero"}


# name -> (g, g', parameters each accepts, default parameters)
FUNCTIONS: dict[str, tuple[Callable, Callable, tuple[str, ...]]] = {
    "identity": (identity, identity_prime, ()),
    "sigmoid": (sigmoid, sigmoid_prime, ()),
    "tanh": (tanh, tanh_prime, ()),
    "relu": (relu, relu_prime, ("at_zero",)),
    "leaky_relu": (leaky_relu, leaky_relu_prime, ("slope", "at_zero")),
    "elu": (elu, elu_prime, ("alpha", "at_zero")),
    "softmax": (softmax, softmax_prime, ("axis",)),
}

FROM_A = {"sigmoid", "tanh", "softmax"}          # g' written with g(Z) itself: the forward pass's A serves
NOT_ELEMENTWISE = {"softmax"}                    # g' is a Jacobian per example, not one number per entry
INTEGER_PARAMS = {"axis"}                        # parameters that are not numbers but positions

DEFAULTS: dict[str, dict] = {
    "relu": {"at_zero": 0.0},
    "leaky_relu": {"slope": 0.01},
    "elu": {"alpha": 1.0, "at_zero": 1.0},
}


def make(name: str, **params) -> Activation:
    """An activation by name; unknown names or parameters raise ValueError."""
    if name not in FUNCTIONS:
        raise ValueError(f"unknown activation {name!r} (known: {', '.join(FUNCTIONS)})")
    allowed = FUNCTIONS[name][2]
    for key in params:
        if key not in allowed:
            raise ValueError(f"activation {name!r} takes no parameter {key!r}"
                             + (f" (it takes: {', '.join(allowed)})" if allowed else ""))
    return Activation(name, {**DEFAULTS.get(name, {}),
                             **{k: int(v) if k in INTEGER_PARAMS else float(v) for k, v in params.items()}})


# --------------------------------------------------------------------------- what a framework's mapping says

def call_label(call: str, act: Activation, keywords: dict) -> str:
    """One layer's g as a framework calls it, for the report: ``call(keyword=value, …)`` with the
    activation's forward parameters under the framework's keywords (``call`` alone without any)."""
    inner = ", ".join(f"{keywords.get(k, k)}={v:g}" for k, v in forward_params(act).items())
    return f"{call}({inner})" if inner else call


def at_zero(act: Activation) -> float:
    """g'(0) as the case sets it (``at_zero``, else the default above): a convention, read, not computed."""
    if "at_zero" in act.params:
        return float(act.params["at_zero"])
    return float(act.params["slope"]) if act.name == "leaky_relu" else float(DEFAULTS.get(act.name, {}).get("at_zero", 0.0))


def at_zero_differences(net, Zs, framework_at_zero: Callable, by: str, whose: str) -> list[str]:
    """One line per activation whose g'(0) in the case (``at_zero``, or the default above) differs from a
    framework's, ``framework_at_zero(act)`` (measured), with how many entries of Z are exactly 0, where the
    difference shows (``Zs``: every layer's Z as NumPy arrays, or None). ``by`` names what differentiates
    (e.g. the framework's autograd), ``whose`` the framework (its possessive, for the sentence)."""
    groups: dict = {}
    for l, act in enumerate(net.activations):
        if "at_zero" not in FUNCTIONS[act.name][2]:
            continue
        wanted = at_zero(act)
        got = framework_at_zero(act)
        if wanted != got:
            entry = groups.setdefault((act.label, wanted, got), [[], 0])
            entry[0].append(str(net.layer_number(l)))
            entry[1] += int(np.sum(np.asarray(Zs[l]) == 0)) if Zs is not None else 0
    return [f"layer{'s' if len(layers) > 1 else ''} {', '.join(layers)} {lab}: the case's g'(0) is {wanted:g}, "
            f"{by} gives {got:g}; {whose} value is used (it matters only where Z = 0 exactly: "
            f"{zeros} entries at the initial parameters)"
            for (lab, wanted, got), (layers, zeros) in groups.items()]
