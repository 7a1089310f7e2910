"""The articles' costs J(y, ŷ) written with torch's loss modules.

Mirrors ``reference/losses.py``: each loss is one torch module, a reduction and a
constant factor, chosen so that the module computes exactly the article's J
(∂J/∂ŷ then comes from autograd):

* ``half_sse``      J = Σ ½(y − ŷ)²   → 0.5 · nn.MSELoss(reduction="sum")
* ``mse``           J = (1/N) Σ (y − ŷ)² → nn.MSELoss(reduction="mean")
* ``squared_error`` J = Σ (y − ŷ)²     → nn.MSELoss(reduction="sum")
* ``bce``           J = (1/N) Σ −[y log ŷ + (1 − y) log(1 − ŷ)] → nn.BCELoss(reduction="mean")
* ``output_sum``    J = Σ ŷ               → ŷ.sum(): no loss module — what cs231n and micrograd call backward on
* ``cce``           J = (1/n) Σ_examples −Σ_classes y log ŷ → nn.NLLLoss(reduction="mean")(torch.log(ŷ), y.argmax(1)):
                    from probabilities torch's call is the negative log-likelihood of the log of ŷ, with the
                    class index of each one-hot row (nn.CrossEntropyLoss would apply its own log_softmax
                    to ŷ: it takes logits)

Every loss takes ŷ and y examples first (the class axis is 1).

Two conventions differ from the reference only at the edges: nn.BCELoss clamps
each log at −100 (the reference gives +inf for a confident wrong prediction),
and its gradient divides by max(ŷ(1 − ŷ), 1e-12).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .layout import tensor


class ProbabilityNLL(nn.Module):
    """Categorical cross-entropy from probabilities, as torch writes it: NLLLoss of log ŷ at each example's class
    index (one-hot y → y.argmax(1)); reduction "mean" divides by the number of examples."""

    def __init__(self, reduction="mean"):
        super().__init__()
        self.reduction = reduction

    def forward(self, yhat, y):
        return F.nll_loss(torch.log(yhat), y.argmax(dim=1), reduction=self.reduction)   # [step:cost] NLLLoss(log ŷ, class)


class OutputSum(nn.Module):
    """J = Σ ŷ, the output itself (y is not read): torch needs no loss module for it — ``ŷ.sum()`` is what a
    micrograd or cs231n reader calls ``backward()`` on. A module here only so that it reduces like the others."""

    def __init__(self, reduction="sum"):
        super().__init__()
        self.reduction = reduction

    def forward(self, yhat, y):
        if self.reduction == "none":
            return yhat
        return yhat.sum() if self.reduction == "sum" else yhat.mean()     # [step:cost:output_sum] ŷ.sum()


@dataclass(frozen=True)
class Loss:
    """How torch computes one of the reference's losses (its name and formula are the reference's: ``net.loss``)."""

    module: type          # nn.MSELoss, nn.BCELoss
    reduction: str        # the reduction that reproduces J: "sum" or "mean"
    factor: float = 1.0   # J = factor · module(reduction)(ŷ, y)

    @property
    def code(self) -> str:
        """The torch expression, as the report prints it."""
        call = (f"nn.NLLLoss(reduction={self.reduction!r})(torch.log(ŷ), y.argmax(1))" if self.module is ProbabilityNLL
                else "ŷ.sum()" if self.module is OutputSum
                else f"nn.{self.module.__name__}(reduction={self.reduction!r})(ŷ, y)")
        return call if self.factor == 1.0 else f"{self.factor:g} · {call}"

    def J(self, y, yhat):
        return self.factor * self.module(reduction=self.reduction)(yhat, y)          # [step:cost]

    def J_each(self, y, yhat, axis=0):
        """The cost of each example (summed or averaged over its outputs, like J)."""
        if axis == 1:                                                    # examples first, as every loss takes them
            y, yhat = y.T, yhat.T
        terms = self.factor * self.module(reduction="none")(yhat, y)
        if terms.dim() == 1:                                             # already one per example (NLLLoss)
            return terms
        return terms.sum(dim=1) if self.reduction == "sum" else terms.mean(dim=1)


LOSSES: dict[str, Loss] = {
    "half_sse": Loss(nn.MSELoss, "sum", 0.5),
    "mse": Loss(nn.MSELoss, "mean"),
    "squared_error": Loss(nn.MSELoss, "sum"),
    "bce": Loss(nn.BCELoss, "mean"),
    "cce": Loss(ProbabilityNLL, "mean"),
    "output_sum": Loss(OutputSum, "sum"),
}


def make(name: str) -> Loss:
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r} (known: {', '.join(LOSSES)})")
    return LOSSES[name]


def value(name: str, y_true, y_pred, dtype=np.float64) -> float:
    """J of the loss ``name`` by its torch module, for a case expression such as loss.mse(y_true, y_pred)."""
    with torch.no_grad():
        return float(LOSSES[name].J(torch.atleast_2d(tensor(y_true, dtype)), torch.atleast_2d(tensor(y_pred, dtype))))


# --------------------------------------------------------------------------- the cross-entropy forms (reference/losses.py)
# torch's calls: nn.CrossEntropyLoss takes logits, with class indices or with class probabilities as the target;
# from probabilities nn.NLLLoss of log ŷ at the class indices. ∂J/∂z by autograd (z.grad after backward()).

def _rows(x, dtype):
    return torch.atleast_2d(tensor(x, dtype))


def _classes(labels, k):
    from backprop_parity.reference.losses import class_indices
    return torch.as_tensor(class_indices(labels, k))                       # int64 class indices


def cce_logits(y, z, dtype=np.float64):
    with torch.no_grad():
        return float(nn.CrossEntropyLoss()(_rows(z, dtype), _rows(y, dtype)))          # [step:cost] logits, one-hot target


def sparse_cce(labels, yhat, dtype=np.float64):
    yhat = _rows(yhat, dtype)
    with torch.no_grad():
        return float(nn.NLLLoss()(torch.log(yhat), _classes(labels, yhat.shape[1])))    # [step:cost] NLLLoss(log ŷ, class)


def sparse_cce_logits(labels, z, dtype=np.float64):
    z = _rows(z, dtype)
    with torch.no_grad():
        return float(nn.CrossEntropyLoss()(z, _classes(labels, z.shape[1])))            # [step:cost] logits, class indices


def _logits_delta(target, z):
    z = z.detach().requires_grad_(True)
    nn.CrossEntropyLoss()(z, target).backward()                            # [step:output-delta] ∂J/∂z = z.grad
    return z.grad.numpy().copy()


def cce_logits_delta(y, z, dtype=np.float64):
    return _logits_delta(_rows(y, dtype), _rows(z, dtype))


def sparse_cce_logits_delta(labels, z, dtype=np.float64):
    z = _rows(z, dtype)
    return _logits_delta(_classes(labels, z.shape[1]), z)

