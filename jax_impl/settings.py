"""Keras' (on JAX) own defaults that are variants of the diagnose catalogue (``reference/variants.py``).

``info.py`` names each in words; here Keras on JAX computes it with nothing but its defaults (in
float64), and ``parity_tests/test_diagnose.py`` holds each to the reference's variant of the same name.
"""

import keras
import numpy as np

from .keras_style import floatx


def _leaky(z):
    with floatx(np.float64):
        return np.asarray(keras.layers.LeakyReLU()(np.asarray(z, dtype=np.float64)))


COMPUTE = {
    "slope 0.3": lambda z, y, yhat: _leaky(z),
}
