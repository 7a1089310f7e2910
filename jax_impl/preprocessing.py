"""Courtial's data preparation, the JAX way. Mirrors ``reference/preprocessing.py``.

``jax.nn.standardize`` is JAX's scaler, and its defaults are not NumPy's: it adds ε = 1e-5 to the
variance inside the root, and ``algorithm="fast"`` computes the variance as E[x²] − E[x]², which
loses every digit when the mean is large next to the spread. ``standardize`` keeps those defaults,
so the parity rows show them; ``jnp.std`` is the population σ, as NumPy's (``ddof`` passes through).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from . import array


def mean(x, dtype=np.float64):
    return np.asarray(jnp.mean(array(x, dtype), axis=0))


def std(x, ddof=None, dtype=np.float64):
    x = array(x, dtype)
    return np.asarray(jnp.std(x, axis=0) if ddof is None else jnp.std(x, axis=0, ddof=int(ddof)))


def standardize(x, mean=None, std=None, dtype=np.float64):
    x = array(x, dtype)
    if mean is None:
        return np.asarray(jax.nn.standardize(x, axis=0))
    return np.asarray(jax.nn.standardize(x, axis=0, mean=array(mean, dtype), variance=array(std, dtype) ** 2))


def unstandardize(u, mean, std, dtype=np.float64):
    return np.asarray(array(u, dtype) * array(std, dtype) + array(mean, dtype))


def min_max(x, lo=None, hi=None, dtype=np.float64):
    x = array(x, dtype)
    lo, hi = (jnp.min(x, axis=0), jnp.max(x, axis=0)) if lo is None else (array(lo, dtype), array(hi, dtype))
    return np.asarray((x - lo) / (hi - lo))


def min_max_inverse(u, lo, hi, dtype=np.float64):
    lo = array(lo, dtype)
    return np.asarray(array(u, dtype) * (array(hi, dtype) - lo) + lo)


def plus_minus(x, positive, dtype=np.float64):
    x = array(x, dtype)
    return np.asarray(jnp.where(x == positive, 1.0, -1.0).astype(x.dtype))
