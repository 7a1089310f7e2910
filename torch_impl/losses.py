"""The articles' costs J(y, ŷ) written with torch's loss modules.

Mirrors ``reference/losses.py``: each loss is one torch module, a reduction and a
constant factor, chosen so that the module computes exactly the article's J
(∂J/∂ŷ then comes from autograd):

* ``half_sse``      J = Σ ½(y − ŷ)²   → 0.5 · nn.MSELoss(reduction="sum")
* ``mse``           J = (1/N) Σ (y − ŷ)² → nn.MSELoss(reduction="mean")
* ``squared_error`` J = Σ (y − ŷ)²     → nn.MSELoss(reduction="sum")
* ``bce``           J = (1/N) Σ −[y log ŷ + (1 − y) log(1 − ŷ)] → nn.BCELoss(reduction="mean")

Two conventions differ from the reference only at the edges: nn.BCELoss clamps
each log at −100 (the reference gives +inf for a confident wrong prediction),
and its gradient divides by max(ŷ(1 − ŷ), 1e-12).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn

from .layout import tensor


@dataclass(frozen=True)
class Loss:
    """How torch computes one of the reference's losses (its name and formula are the reference's: ``net.loss``)."""

    module: type          # nn.MSELoss, nn.BCELoss
    reduction: str        # the reduction that reproduces J: "sum" or "mean"
    factor: float = 1.0   # J = factor · module(reduction)(ŷ, y)

    @property
    def code(self) -> str:
        """The torch expression, as the report prints it."""
        call = f"nn.{self.module.__name__}(reduction={self.reduction!r})(ŷ, y)"
        return call if self.factor == 1.0 else f"{self.factor:g} · {call}"

    def J(self, y, yhat):
        return self.factor * self.module(reduction=self.reduction)(yhat, y)          # [step:cost]

    def J_each(self, y, yhat, axis=0):
        """The cost of each example (summed or averaged over its outputs, like J)."""
        terms = self.factor * self.module(reduction="none")(yhat, y)
        other = 1 - axis
        return terms.sum(dim=other) if self.reduction == "sum" else terms.mean(dim=other)


LOSSES: dict[str, Loss] = {
    "half_sse": Loss(nn.MSELoss, "sum", 0.5),
    "mse": Loss(nn.MSELoss, "mean"),
    "squared_error": Loss(nn.MSELoss, "sum"),
    "bce": Loss(nn.BCELoss, "mean"),
}


def make(name: str) -> Loss:
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r} (known: {', '.join(LOSSES)})")
    return LOSSES[name]


def value(name: str, y_true, y_pred, dtype=np.float64) -> float:
    """J of the loss ``name`` by its torch module, for a case expression such as loss.mse(y_true, y_pred)."""
    with torch.no_grad():
        return float(LOSSES[name].J(tensor(y_true, dtype), tensor(y_pred, dtype)))
