"""Courtial's data preparation, the TensorFlow/Keras way. Mirrors ``reference/preprocessing.py``.

A Keras user scales features with preprocessing layers: ``keras.layers.Normalization``
(``adapt`` learns the mean and the *population* variance, ``invert=True`` undoes it; it divides
by max(√variance, 1e-7)) and ``keras.layers.Rescaling`` (x·scale + offset: min-max is
scale = 1/(max − min), offset = −min/(max − min)). The layers are made in the case's dtype (Keras'
own default is float32). ``std`` is ``tf.math.reduce_std``, the population σ, as NumPy's.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from . import tf_dtype


def _tensor(x, dtype):
    return tf.constant(np.asarray(x, dtype=float), dtype=tf_dtype(dtype))


def _axis(x):
    return -1 if x.shape.rank == 2 else None       # a mean and σ per column; a 1-D array is one feature


def _apply(layer, x):
    """The layer on x (a number goes through as a one-element batch)."""
    return tf.reshape(layer(tf.reshape(x, [-1]) if x.shape.rank == 0 else x), x.shape).numpy()


def mean(x, dtype=np.float64):
    return tf.reduce_mean(_tensor(x, dtype), axis=0).numpy()


def std(x, ddof=None, dtype=np.float64):
    x = _tensor(x, dtype)
    if ddof is None:
        return tf.math.reduce_std(x, axis=0).numpy()
    n = tf.cast(tf.shape(x)[0], x.dtype)
    return tf.sqrt(tf.reduce_sum(tf.square(x - tf.reduce_mean(x, axis=0)), axis=0) / (n - float(ddof))).numpy()


def standardize(x, mean=None, std=None, dtype=np.float64):
    x = _tensor(x, dtype)
    if mean is None:
        layer = keras.layers.Normalization(axis=_axis(x), dtype=np.dtype(dtype).name)
        layer.adapt(x)
    else:
        layer = keras.layers.Normalization(axis=_axis(x), mean=mean, variance=np.square(std), dtype=np.dtype(dtype).name)
    return _apply(layer, x)


def unstandardize(u, mean, std, dtype=np.float64):
    u = _tensor(u, dtype)
    layer = keras.layers.Normalization(axis=_axis(u), mean=mean, variance=np.square(std), invert=True,
                                       dtype=np.dtype(dtype).name)
    return _apply(layer, u)


def min_max(x, lo=None, hi=None, dtype=np.float64):
    x = _tensor(x, dtype)
    if lo is None:
        lo, hi = tf.reduce_min(x, axis=0).numpy(), tf.reduce_max(x, axis=0).numpy()
    lo, hi = np.asarray(lo, dtype=dtype), np.asarray(hi, dtype=dtype)
    layer = keras.layers.Rescaling(scale=1 / (hi - lo), offset=-lo / (hi - lo), dtype=np.dtype(dtype).name)
    return _apply(layer, x)


def min_max_inverse(u, lo, hi, dtype=np.float64):
    lo, hi = np.asarray(lo, dtype=dtype), np.asarray(hi, dtype=dtype)
    layer = keras.layers.Rescaling(scale=hi - lo, offset=lo, dtype=np.dtype(dtype).name)
    return _apply(layer, _tensor(u, dtype))


def plus_minus(x, positive, dtype=np.float64):
    x = _tensor(x, dtype)
    return tf.where(tf.equal(x, positive), tf.ones_like(x), -tf.ones_like(x)).numpy()
