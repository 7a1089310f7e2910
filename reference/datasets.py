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
    """scikit-learn's digits, read from the file scikit-learn keeps them in (``datasets/data/digits.csv.gz``,
    parsed as its ``load_digits`` parses it: ``np.loadtxt`` of the gzip text, comma-separated, the digit in the
    last column) without importing scikit-learn, whose import alone takes 1.4 s; through its ``load_digits``
    when the file is not where that version keeps it."""
    import importlib.util
    from pathlib import Path
    spec = importlib.util.find_spec("sklearn")                     # finds the package, runs none of it
    if spec is None or spec.origin is None:
        raise DatasetError("load_digits needs scikit-learn, which is not installed "
                           "(pip install 'backprop-parity[data]')")
    stored = Path(spec.origin).parent / "datasets" / "data" / "digits.csv.gz"
    if stored.is_file():
        import gzip
        with gzip.open(stored, mode="rt", encoding="utf-8") as f:
            table = np.loadtxt(f, delimiter=",")
        pixels, target = table[:, :-1], table[:, -1].astype(int, copy=False)
    else:
        from sklearn.datasets import load_digits as sk_load_digits
        digits = sk_load_digits()
        pixels, target = digits.data, digits.target
    X = np.asarray(pixels, dtype=np.float64) / 16.0                # pixel intensities 0…16 → [0, 1]
    y = np.eye(10)[np.asarray(target, dtype=np.int64)]             # the digit, one-hot over the ten classes
    return X, y


SOURCES = {"load_digits": load_digits}
