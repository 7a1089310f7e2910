"""Courtial's data preparation, the torch way. Mirrors ``reference/preprocessing.py``.

torch has no scaler layer: a torch user writes the formula with tensor reductions — and
``Tensor.std`` divides by n − 1 unless told otherwise (``correction=1`` is its default, the
sample σ, where NumPy and Keras take the population σ). ``std(x)`` and ``standardize(x)`` keep
that default, so the parity rows show it; ``std(x, ddof)`` passes ``correction=ddof``.
"""

from __future__ import annotations

import numpy as np
import torch

from .layout import numpy, tensor


def mean(x, dtype=np.float64):
    return numpy(tensor(x, dtype).mean(dim=0))


def std(x, ddof=None, dtype=np.float64):
    x = tensor(x, dtype)
    return numpy(x.std(dim=0) if ddof is None else x.std(dim=0, correction=int(ddof)))


def standardize(x, mean=None, std=None, dtype=np.float64):
    x = tensor(x, dtype)
    if mean is None:
        return numpy((x - x.mean(dim=0)) / x.std(dim=0))
    return numpy((x - tensor(mean, dtype)) / tensor(std, dtype))


def unstandardize(u, mean, std, dtype=np.float64):
    return numpy(tensor(u, dtype) * tensor(std, dtype) + tensor(mean, dtype))


def min_max(x, lo=None, hi=None, dtype=np.float64):
    x = tensor(x, dtype)
    lo, hi = torch.aminmax(x, dim=0) if lo is None else (tensor(lo, dtype), tensor(hi, dtype))
    return numpy((x - lo) / (hi - lo))


def min_max_inverse(u, lo, hi, dtype=np.float64):
    lo = tensor(lo, dtype)
    return numpy(tensor(u, dtype) * (tensor(hi, dtype) - lo) + lo)


def plus_minus(x, positive, dtype=np.float64):
    x = tensor(x, dtype)
    return numpy(torch.where(x == positive, 1.0, -1.0).to(x.dtype))
