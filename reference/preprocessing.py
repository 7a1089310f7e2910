"""Courtial's data preparation, written out: standardise, encode ±1, min-max, and back.

Courtial, chapter 2 ("Data Preprocessing"): the distance and the age are standardised with
the dataset's mean and standard deviation, x' = (x − x̄)/σ; the fuel type becomes −1 or 1;
the price is scaled to [0, 1] by (x − min)/(max − min), and a predicted price is turned back
into euros by the inverse. Every function works column by column (examples along axis 0; a
1-D array is one feature) and is mirrored in each backend's ``preprocessing.py`` with that
framework's own calls; a case file reaches them as ``prep.<name>``.

Which σ? x' = (x − x̄)/σ leaves σ's divisor open, and the tools disagree on their default:
NumPy's ``np.std`` and Keras' ``Normalization`` use the population σ (divide by n, ddof = 0);
pandas' ``Series.std`` and ``torch.std`` the sample σ (divide by n − 1, ddof = 1); JAX's
``jax.nn.standardize`` adds ε = 1e-5 to the variance and by default computes it as
E[x²] − E[x]². ``std(x, ddof=None)`` and ``standardize(x)`` take each framework's default — so
the parity rows show the trap — and an explicit ``ddof`` (or a given mean and σ) makes them agree.
"""

from __future__ import annotations

import numpy as np

DDOF = 0     # np.std's default divisor n − ddof: the population σ


class PreprocessingError(ValueError):
    """Data these formulas cannot scale (a constant feature: σ = 0 or max = min)."""


def _array(x, dtype):
    return np.asarray(x, dtype=dtype)


def _nonzero(width, what):
    """Refuse a zero divisor: a constant feature has no scale, and dividing by it gives inf or nan."""
    zero = np.flatnonzero(np.asarray(width) == 0)
    if zero.size:
        raise PreprocessingError(f"{what} = 0 in column {int(zero[0])}: a constant feature cannot be scaled")
    return width


def mean(x, dtype=np.float64):
    """x̄ of each column."""
    return np.mean(_array(x, dtype), axis=0)


def std(x, ddof=None, dtype=np.float64):
    """σ of each column, √(Σ(x − x̄)²/(n − ddof)); ddof None is NumPy's default, 0."""
    return np.std(_array(x, dtype), axis=0, ddof=DDOF if ddof is None else int(ddof))


def standardize(x, mean=None, std=None, dtype=np.float64):
    """(x − x̄)/σ, with the data's own x̄ and σ (np.std's default σ) or the given ones (``functions.table`` asks
    for both or neither)."""
    x = _array(x, dtype)
    if mean is None:
        mean, std = np.mean(x, axis=0), np.std(x, axis=0)
    return (x - mean) / _nonzero(_array(std, dtype), "σ")


def unstandardize(u, mean, std, dtype=np.float64):
    """x = u·σ + x̄: a standardised value back in its units."""
    return _array(u, dtype) * _array(std, dtype) + _array(mean, dtype)


def min_max(x, lo=None, hi=None, dtype=np.float64):
    """(x − min)/(max − min), with the data's own min and max or the given range (both or neither)."""
    x = _array(x, dtype)
    if lo is None:
        lo, hi = np.min(x, axis=0), np.max(x, axis=0)
    return (x - lo) / _nonzero(_array(hi, dtype) - _array(lo, dtype), "max − min")


def min_max_inverse(u, lo, hi, dtype=np.float64):
    """x = u·(max − min) + min: a scaled value (a predicted price) back in its units."""
    lo = _array(lo, dtype)
    return _array(u, dtype) * (_array(hi, dtype) - lo) + lo


def plus_minus(x, positive, dtype=np.float64):
    """1 where x is the ``positive`` value, −1 elsewhere: a binary feature (the fuel type) as ±1."""
    return np.where(_array(x, dtype) == positive, 1.0, -1.0).astype(dtype)
