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
* ``output_sum``    J = Σ ŷ                the network's output itself, no target (what cs231n's and micrograd's
                                            worked examples differentiate: a neuron, not a loss)   ∂J/∂ŷ = 1
* ``cce``           J = (1/n) Σ_examples −Σ_classes y log ŷ   categorical cross-entropy after a softmax,
                                            the mean over the n EXAMPLES (not over every element) ∂J/∂ŷ = −(y/ŷ)/n
                    after a softmax, δ = ∂J/∂Z = (ŷ − y)/n in one piece (``cce_softmax_delta``)

``axis`` (0 or 1) matters to a loss only through n, the number of examples ``cce`` averages over.
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


def bce_sigmoid_delta(y, Z, axis=0):
    # ∂J/∂Z of BCE after a sigmoid: (ŷ − y)/N (deeplearning.ai's dZ = A − Y, over m), with
    # ŷ − y = (1 − y)·σ(Z) − y·σ(−Z): no 0/0 and no 1 − σ(Z) rounded to 0 at saturation (σ(40) = 1.0 in
    # float64, yet ŷ − 1 = −σ(−40) = −4.2e-18).
    from .activations import sigmoid
    return ((1 - y) * sigmoid(Z) - y * sigmoid(-Z)) / np.size(y)


def output_sum_terms(y, yhat):
    # J = Σŷ: the terms are the outputs themselves; y is not read (the case gives none: it is 0)
    return yhat + 0.0 * y


def output_sum_grad(y, yhat):
    return np.ones_like(yhat)


def cce_terms(y, yhat):
    # −y·log ŷ for every class of every example; a class with y = 0 adds exactly 0 (as xlogy), even where ŷ = 0.
    # No clipping: Keras clips ŷ to [1e-7, 1 − 1e-7] and renormalises ŷ by its sum first.
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(y == 0, 0.0, -y * np.log(yhat))


def cce_grad(y, yhat):
    # ∂(−Σ y log ŷ)/∂ŷ = −y/ŷ for one example (0 where y = 0); J averages over examples: Loss.dJ_dyhat divides by n
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(y == 0, 0.0, -y / yhat)


def cce_softmax_delta(y, Z, axis=0):
    # ∂J/∂Z of the mean categorical cross-entropy after a softmax: (ŷ − y)/n. The Jacobian ŷ_i(δ_ij − ŷ_j) times −y/ŷ
    # sums to ŷ·Σy − y = ŷ − y when each example's y sums to 1 (one-hot): no division by ŷ at all.
    from .activations import softmax
    return (softmax(Z, 1 - axis) - y) / np.shape(y)[axis]


@dataclass(frozen=True)
class Loss:
    """A cost: its element terms, how they combine into J ("sum"; "mean" over every element; "example_mean":
    summed over each example's outputs, averaged over the examples), and ∂J/∂ŷ; ``delta_after``: for an output
    activation (by name), ∂J/∂Z written in one piece (y, Z, axis) -> δ, where ∂J/∂ŷ ⊙ g'(Z) would divide by what
    rounds to 0. ``axis`` is the examples' axis."""

    name: str
    formula: str
    terms: Callable
    reduce: str
    grad: Callable
    delta_after: dict = field(default_factory=dict)

    def J(self, y, yhat, axis=0):
        t = self.terms(y, yhat)
        if self.reduce == "example_mean":
            return np.sum(t) / np.shape(t)[axis]                             # Σ over classes, mean over examples
        return np.sum(t) if self.reduce == "sum" else np.mean(t)

    def J_each(self, y, yhat, axis=0):
        """The cost of each example (summed or averaged over its outputs)."""
        t = self.terms(y, yhat)
        other = 1 - axis
        return np.mean(t, axis=other) if self.reduce == "mean" else np.sum(t, axis=other)

    def dJ_dyhat(self, y, yhat, axis=0):
        g = self.grad(y, yhat)
        return g / np.shape(y)[axis] if self.reduce == "example_mean" else g


LOSSES: dict[str, Loss] = {
    "half_sse": Loss("half_sse", "J = Σ ½(y − ŷ)²", half_sse_terms, "sum", half_sse_grad),
    "mse": Loss("mse", "J = (1/N) Σ (y − ŷ)²", mse_terms, "mean", mse_grad),
    "squared_error": Loss("squared_error", "J = Σ (y − ŷ)²", squared_error_terms, "sum", squared_error_grad),
    "bce": Loss("bce", "J = (1/N) Σ −[y log ŷ + (1 − y) log(1 − ŷ)]", bce_terms, "mean", bce_grad,
                {"sigmoid": bce_sigmoid_delta}),
    "cce": Loss("cce", "J = (1/n) Σ_examples −Σ_classes y log ŷ", cce_terms, "example_mean", cce_grad,
                {"softmax": cce_softmax_delta}),
    "output_sum": Loss("output_sum", "J = Σ ŷ (the output itself, no target)", output_sum_terms, "sum",
                       output_sum_grad),
}

# Losses of the output alone: the case gives no targets (data.y is left out and taken as 0, never read).
NO_TARGET = {"output_sum"}

# Losses whose targets are a distribution over classes: each example's y is one-hot (the case checks it).
ONE_HOT = {"cce"}


def make(name: str) -> Loss:
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r} (known: {', '.join(LOSSES)})")
    return LOSSES[name]


def value(name: str, y_true, y_pred):
    """J of the loss ``name`` for numbers or nested lists, in float64: what a case expression such as
    ``loss.mse(y_true, y_pred)`` (the Zhou chapter's MSE example) computes. A vector is one example (a row)."""
    return LOSSES[name].J(np.atleast_2d(np.asarray(y_true, dtype=float)), np.atleast_2d(np.asarray(y_pred, dtype=float)))


# --------------------------------------------------------------------------- the cross-entropy as frameworks take it
# The same cce J in the forms a framework's loss call takes: from logits z (the softmax inside the loss: log-sum-exp,
# no probability formed) and with class indices ("sparse") instead of one-hot rows; and ∂J/∂z of the logits forms,
# which is δ(L) = (softmax(z) − y)/n. Examples are rows (a columns-layout case passes Z.T), a vector is one example;
# J is the mean over the examples. Case expressions reach them as loss.cce_logits(y, Z[2]) and so on.

CROSS_ENTROPY = ("cce_logits", "sparse_cce", "sparse_cce_logits", "cce_logits_delta", "sparse_cce_logits_delta")


def class_indices(labels, k: int) -> np.ndarray:
    """Class indices as integers, refused (ValueError) unless each is a whole number in 0 … k − 1."""
    c = np.atleast_1d(np.asarray(labels, dtype=float))
    if c.ndim != 1 or not np.all(np.isfinite(c)) or np.any(c != np.round(c)) or np.any((c < 0) | (c >= k)):
        raise ValueError(f"class indices must be whole numbers 0 … {k - 1}, one per example: got {c.tolist()}")
    return c.astype(np.int64)


def _rows(x) -> np.ndarray:
    return np.atleast_2d(np.asarray(x, dtype=float))


def _log_softmax(z):
    m = np.max(z, axis=1, keepdims=True)
    return z - m - np.log(np.sum(np.exp(z - m), axis=1, keepdims=True))     # log-sum-exp, shifted: no overflow


def cce_logits(y, z):
    y, z = _rows(y), _rows(z)
    return -np.sum(y * _log_softmax(z)) / z.shape[0]


def sparse_cce(labels, yhat):
    yhat = _rows(yhat)
    c = class_indices(labels, yhat.shape[1])
    with np.errstate(divide="ignore"):
        return -np.mean(np.log(yhat[np.arange(len(c)), c]))


def sparse_cce_logits(labels, z):
    z = _rows(z)
    c = class_indices(labels, z.shape[1])
    return -np.mean(_log_softmax(z)[np.arange(len(c)), c])


def cce_logits_delta(y, z):
    from .activations import softmax
    y, z = _rows(y), _rows(z)
    return (softmax(z, 1) - y) / z.shape[0]


def sparse_cce_logits_delta(labels, z):
    z = _rows(z)
    return cce_logits_delta(np.eye(z.shape[1])[class_indices(labels, z.shape[1])], z)

