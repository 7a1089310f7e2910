"""Costs J(y, ŷ) and their derivatives ∂J/∂ŷ, as the four articles define them.

Each loss gives the total cost J (a number), the per-example terms that J adds
or averages (what an article calls "the cost of one example"), and ∂J/∂ŷ, which
starts backpropagation. ``axis`` is the axis along which examples run: 0 when
examples are rows (Courtial), 1 when they are columns (deeplearning.ai).
With several outputs per example, "mean" costs average over every element, as
torch's ``reduction='mean'`` and Keras do.

* ``half_sse``      J = Σ ½(y − ŷ)²       Courtial, chapter 4          ∂J/∂ŷ = −(y − ŷ)
* ``mse``           J = (1/N) Σ (y − ŷ)²   Zhou chapter, "Loss"          ∂J/∂ŷ = −2(y − ŷ)/N
* ``squared_error`` J = Σ (y − ŷ)²         Zhou chapter, SGD per sample  ∂J/∂ŷ = −2(y − ŷ)
* ``bce``           J = (1/N) Σ −[y log ŷ + (1 − y) log(1 − ŷ)]   deeplearning.ai notes,
                                            logistic regression       ∂J/∂ŷ = (−y/ŷ + (1 − y)/(1 − ŷ)) / N
                    after a sigmoid, δ = ∂J/∂Z = (ŷ − y)/N in one piece (``bce_sigmoid_delta``)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np


def half_sse_terms(y, yhat):
    return 0.5 * (y - yhat) ** 2


def half_sse_grad(y, yhat):
    return -(y - yhat)


def mse_terms(y, yhat):
    return (y - yhat) ** 2


def mse_grad(y, yhat):
    return -2 * (y - yhat) / np.size(y)


def squared_error_terms(y, yhat):
    return (y - yhat) ** 2


def squared_error_grad(y, yhat):
    return -2 * (y - yhat)


def bce_terms(y, yhat):
    # No clipping: a confident wrong prediction (ŷ = 0 with y = 1) costs +inf,
    # honestly. torch's BCELoss clamps log() at -100; Keras clips ŷ to [1e-7, 1 - 1e-7].
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = -(y * np.log(yhat) + (1 - y) * np.log(1 - yhat))
    exact = ((y == 0) & (yhat == 0)) | ((y == 1) & (yhat == 1))
    return np.where(exact, 0.0, terms)


def bce_grad(y, yhat):
    # −y/ŷ + (1 − y)/(1 − ŷ), each term 0 where its coefficient is 0 (as xlogy's derivative): at ŷ = y = 1 this
    # is −1, where the one-fraction form (ŷ − y)/(ŷ(1 − ŷ)) is 0/0.
    with np.errstate(divide="ignore", invalid="ignore"):
        return (np.where(y == 0, 0.0, -y / yhat) + np.where(y == 1, 0.0, (1 - y) / (1 - yhat))) / np.size(y)


def bce_sigmoid_delta(y, Z):
    # ∂J/∂Z of BCE after a sigmoid: (ŷ − y)/N (deeplearning.ai's dZ = A − Y, over m), with
    # ŷ − y = (1 − y)·σ(Z) − y·σ(−Z): no 0/0 and no 1 − σ(Z) rounded to 0 at saturation (σ(40) = 1.0 in
    # float64, yet ŷ − 1 = −σ(−40) = −4.2e-18).
    from .activations import sigmoid
    return ((1 - y) * sigmoid(Z) - y * sigmoid(-Z)) / np.size(y)


@dataclass(frozen=True)
class Loss:
    """A cost: its element terms, how they combine into J ("sum" or "mean"), and ∂J/∂ŷ; ``delta_after``:
    for an output activation (by name), ∂J/∂Z written in one piece (y, Z) -> δ, where ∂J/∂ŷ ⊙ g'(Z) would
    divide by what rounds to 0."""

    name: str
    formula: str
    terms: Callable
    reduce: str
    grad: Callable
    delta_after: dict = field(default_factory=dict)

    def J(self, y, yhat):
        t = self.terms(y, yhat)
        return np.sum(t) if self.reduce == "sum" else np.mean(t)

    def J_each(self, y, yhat, axis=0):
        """The cost of each example (summed or averaged over its outputs)."""
        t = self.terms(y, yhat)
        other = 1 - axis
        return np.sum(t, axis=other) if self.reduce == "sum" else np.mean(t, axis=other)

    def dJ_dyhat(self, y, yhat):
        return self.grad(y, yhat)


LOSSES: dict[str, Loss] = {
    "half_sse": Loss("half_sse", "J = Σ ½(y − ŷ)²", half_sse_terms, "sum", half_sse_grad),
    "mse": Loss("mse", "J = (1/N) Σ (y − ŷ)²", mse_terms, "mean", mse_grad),
    "squared_error": Loss("squared_error", "J = Σ (y − ŷ)²", squared_error_terms, "sum", squared_error_grad),
    "bce": Loss("bce", "J = (1/N) Σ −[y log ŷ + (1 − y) log(1 − ŷ)]", bce_terms, "mean", bce_grad,
                {"sigmoid": bce_sigmoid_delta}),
}


def make(name: str) -> Loss:
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r} (known: {', '.join(LOSSES)})")
    return LOSSES[name]


def value(name: str, y_true, y_pred):
    """J of the loss ``name`` for numbers or nested lists, in float64: what a case expression such as
    ``loss.mse(y_true, y_pred)`` (the Zhou chapter's MSE example) computes."""
    return LOSSES[name].J(np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float))
