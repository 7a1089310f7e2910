"""The articles' costs J(y, ŷ) written with JAX: optax's element losses, reduced with jax.numpy.

Mirrors ``reference/losses.py``; ∂J/∂ŷ is never written here — the styles take
``jax.grad`` of J.

* ``half_sse``      J = Σ ½(y − ŷ)²        → jnp.sum(optax.losses.l2_loss(ŷ, y))   (l2_loss is ½(ŷ − y)²)
* ``mse``           J = (1/N) Σ (y − ŷ)²    → jnp.mean(optax.losses.squared_error(ŷ, y))
* ``squared_error`` J = Σ (y − ŷ)²          → jnp.sum(optax.losses.squared_error(ŷ, y))
* ``bce``           J = (1/N) Σ −[y log ŷ + (1 − y) log(1 − ŷ)]
                                            → jnp.mean(−(xlogy(y, ŷ) + xlogy(1 − y, 1 − ŷ)))
* ``output_sum``    J = Σ ŷ                 → jnp.sum(ŷ)   (the output itself; no target)
* ``cce``           J = (1/n) Σ_examples −Σ_classes y log ŷ
                                            → jnp.sum(−xlogy(y, ŷ)) / n   (optax's softmax_cross_entropy
                                              takes logits: from probabilities it is xlogy again)

optax has no cross-entropy on probabilities (its ``sigmoid_binary_cross_entropy``
takes logits), so the bce term is written with ``jax.scipy.special.xlogy``: like the
reference it does not clip — a confident wrong prediction costs +inf and an exact
one 0 (xlogy(0, 0) = 0).
"""

from __future__ import annotations

import jax
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


def cce_terms(y, yhat):
    return -xlogy(y, yhat)


def output_sum_terms(y, yhat):
    return yhat                                                            # J = jnp.sum(ŷ): y is not read


TERMS = {"half_sse": half_sse_terms, "mse": mse_terms, "squared_error": squared_error_terms, "bce": bce_terms,
         "cce": cce_terms, "output_sum": output_sum_terms}
CODE = {"half_sse": "jnp.sum(optax.losses.l2_loss(ŷ, y))", "mse": "jnp.mean(optax.losses.squared_error(ŷ, y))",
        "squared_error": "jnp.sum(optax.losses.squared_error(ŷ, y))",
        "bce": "jnp.mean(−(xlogy(y, ŷ) + xlogy(1 − y, 1 − ŷ)))", "cce": "jnp.sum(−xlogy(y, ŷ)) / n",
        "output_sum": "jnp.sum(ŷ)"}


def J(loss, y, yhat, axis=0):
    """The article's J (``loss`` is a reference ``Loss``: its name and whether it sums or averages, over every
    element or over the examples along ``axis``)."""
    t = TERMS[loss.name](y, yhat)
    if loss.reduce == "example_mean":
        return jnp.sum(t) / t.shape[axis]
    return jnp.sum(t) if loss.reduce == "sum" else jnp.mean(t)


def J_each(loss, y, yhat, axis=0):
    """The cost of each example (summed or averaged over its outputs, like J)."""
    t = TERMS[loss.name](y, yhat)
    other = 1 - axis
    return jnp.mean(t, axis=other) if loss.reduce == "mean" else jnp.sum(t, axis=other)


def value(name: str, y_true, y_pred, dtype=np.float64) -> float:
    """J of the loss ``name`` for a case expression such as loss.mse(y_true, y_pred)."""
    from backprop_parity.reference.losses import LOSSES
    y = jnp.atleast_2d(jnp.asarray(np.asarray(y_true, dtype=dtype)))      # a vector is one example
    yhat = jnp.atleast_2d(jnp.asarray(np.asarray(y_pred, dtype=dtype)))
    return float(J(LOSSES[name], y, yhat))


# --------------------------------------------------------------------------- the cross-entropy forms (reference/losses.py)
# optax's calls take logits: softmax_cross_entropy (one-hot rows), softmax_cross_entropy_with_integer_labels (class
# indices), one value per example, averaged with jnp.mean. From probabilities with class indices optax has nothing:
# −log ŷ at each example's class, by jnp.take_along_axis. ∂J/∂z by jax.grad.

def _rows(x, dtype):
    return jnp.atleast_2d(jnp.asarray(np.asarray(x, dtype=dtype)))


def _classes(labels, k):
    from backprop_parity.reference.losses import class_indices
    return jnp.asarray(class_indices(labels, k))                           # integer class indices


def _cce_logits(y, z):
    return jnp.mean(optax.losses.softmax_cross_entropy(z, y))                          # [step:cost] logits, one-hot


def _sparse_cce_logits(c, z):
    return jnp.mean(optax.losses.softmax_cross_entropy_with_integer_labels(z, c))      # [step:cost] logits, class indices


def cce_logits(y, z, dtype=np.float64):
    return float(_cce_logits(_rows(y, dtype), _rows(z, dtype)))


def sparse_cce(labels, yhat, dtype=np.float64):
    yhat = _rows(yhat, dtype)
    c = _classes(labels, yhat.shape[1])
    return float(-jnp.mean(jnp.take_along_axis(jnp.log(yhat), c[:, None], axis=1)))   # [step:cost] −log ŷ[class]


def sparse_cce_logits(labels, z, dtype=np.float64):
    z = _rows(z, dtype)
    return float(_sparse_cce_logits(_classes(labels, z.shape[1]), z))


def cce_logits_delta(y, z, dtype=np.float64):
    return np.asarray(jax.grad(_cce_logits, argnums=1)(_rows(y, dtype), _rows(z, dtype)))    # [step:output-delta] jax.grad


def sparse_cce_logits_delta(labels, z, dtype=np.float64):
    z = _rows(z, dtype)
    return np.asarray(jax.grad(_sparse_cce_logits, argnums=1)(_classes(labels, z.shape[1]), z))  # [step:output-delta] jax.grad

