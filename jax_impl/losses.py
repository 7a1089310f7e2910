"""The articles' costs J(y, ŷ) written with JAX: optax's element losses, reduced with jax.numpy.

Mirrors ``reference/losses.py``; ∂J/∂ŷ is never written here — the styles take
``jax.grad`` of J.

* ``half_sse``      J = Σ ½(y − ŷ)²        → jnp.sum(optax.losses.l2_loss(ŷ, y))   (l2_loss is ½(ŷ − y)²)
* ``mse``           J = (1/N) Σ (y − ŷ)²    → jnp.mean(optax.losses.squared_error(ŷ, y))
* ``squared_error`` J = Σ (y − ŷ)²          → jnp.sum(optax.losses.squared_error(ŷ, y))
* ``bce``           J = (1/N) Σ −[y log ŷ + (1 − y) log(1 − ŷ)]
                                            → jnp.mean(−(xlogy(y, ŷ) + xlogy(1 − y, 1 − ŷ)))

optax has no cross-entropy on probabilities (its ``sigmoid_binary_cross_entropy``
takes logits), so the bce term is written with ``jax.scipy.special.xlogy``: like the
reference it does not clip — a confident wrong prediction costs +inf and an exact
one 0 (xlogy(0, 0) = 0).
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import optax
from jax.scipy.special import xlogy


def half_sse_terms(y, yhat):
    return optax.losses.l2_loss(yhat, y)


def mse_terms(y, yhat):
    return optax.losses.squared_error(yhat, y)


def squared_error_terms(y, yhat):
    return optax.losses.squared_error(yhat, y)


def bce_terms(y, yhat):
    return -(xlogy(y, yhat) + xlogy(1 - y, 1 - yhat))


TERMS = {"half_sse": half_sse_terms, "mse": mse_terms, "squared_error": squared_error_terms, "bce": bce_terms}
CODE = {"half_sse": "jnp.sum(optax.losses.l2_loss(ŷ, y))", "mse": "jnp.mean(optax.losses.squared_error(ŷ, y))",
        "squared_error": "jnp.sum(optax.losses.squared_error(ŷ, y))",
        "bce": "jnp.mean(−(xlogy(y, ŷ) + xlogy(1 − y, 1 − ŷ)))"}


def J(loss, y, yhat):
    """The article's J (``loss`` is a reference ``Loss``: its name and whether it sums or averages)."""
    t = TERMS[loss.name](y, yhat)
    return jnp.sum(t) if loss.reduce == "sum" else jnp.mean(t)


def J_each(loss, y, yhat, axis=0):
    """The cost of each example (summed or averaged over its outputs, like J)."""
    t = TERMS[loss.name](y, yhat)
    other = 1 - axis
    return jnp.sum(t, axis=other) if loss.reduce == "sum" else jnp.mean(t, axis=other)


def value(name: str, y_true, y_pred, dtype=np.float64) -> float:
    """J of the loss ``name`` for a case expression such as loss.mse(y_true, y_pred)."""
    from backprop_parity.reference.losses import LOSSES
    y = jnp.asarray(np.asarray(y_true, dtype=dtype))
    yhat = jnp.asarray(np.asarray(y_pred, dtype=dtype))
    return float(J(LOSSES[name], y, yhat))
