"""Real data that ships offline, for a case's ``[data] source``: loaded, scaled and encoded here, once.

* ``load_digits`` — scikit-learn's 8×8 handwritten digits (1 797 examples, 64 pixels of 0…16, ten classes),
  stored inside the scikit-learn package: nothing is downloaded. X = pixels / 16 (each in [0, 1]); y one-hot
  over the ten digits, examples in file order. ``examples = N`` keeps the first N.

The arrays come back in the rows layout (examples × features); the case turns them to its layout.
"""

from __future__ import annotations

import numpy as np


class DatasetError(ValueError):
    """The source cannot be loaded (with the reason and what to do)."""


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    try:
        from sklearn.datasets import load_digits as sk_load_digits
    except ImportError:
        raise DatasetError("load_digits needs scikit-learn, which is not installed "
                           "(pip install 'backprop-parity[data]')") from None
    digits = sk_load_digits()
    X = np.asarray(digits.data, dtype=np.float64) / 16.0          # pixel intensities 0…16 → [0, 1]
    y = np.eye(10)[np.asarray(digits.target, dtype=np.int64)]      # the digit, one-hot over the ten classes
    return X, y


SOURCES = {"load_digits": load_digits}
