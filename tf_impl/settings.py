"""Keras' (on TensorFlow) own defaults that are variants of the diagnose catalogue (``reference/variants.py``).

``info.py`` names each in words (shown by ``diagnose`` next to a reproducing variant); here Keras
computes it with nothing but its defaults (in float64, so that the comparison is exact), and
``parity_tests/test_diagnose.py`` holds each to the reference's variant of the same name.
"""

import keras
import numpy as np

from . import floatx


def _leaky(z):
    with floatx(np.float64):
        return np.asarray(keras.layers.LeakyReLU()(np.asarray(z, dtype=np.float64)))


def _mse(y, yhat):
    with floatx(np.float64):
        return float(keras.losses.MeanSquaredError()(np.asarray(y, dtype=np.float64), np.asarray(yhat, dtype=np.float64)))


COMPUTE = {
    "slope 0.3": lambda z, y, yhat: _leaky(z),
    "mean": lambda z, y, yhat: _mse(y, yhat),
    "float32": lambda z, y, yhat: keras.config.floatx(),
}

# parameters TensorFlow keeps in a narrower type than the case's (tf.nn.leaky_relu's alpha is a float32
# op attribute: backend.EFFECTIVE_NOTE)
KEPT_AS = {"slope 0.3": "float32"}
