"""The data layouts in TensorFlow, and the article ↔ Keras Dense mapping.

rows    (Courtial): X is (n examples, n_in), W is (n_in, n_out),  Z = A·W (+ b),  b is (1, n_out)
columns (deeplearning.ai): X is (n_in, m),   W is (n_out, n_in),  Z = W·A (+ b),  b is (n_out, 1)

(The bias trick's [A | 1] and the products Z = A·W are written out with tf.concat and
tf.matmul where they happen, in ``network.py``.)

Keras ``Dense`` always takes examples as rows and holds ``kernel`` (n_in, n_out)
and ``bias`` (n_out,): Z = A·kernel + bias. ``to_dense`` / ``from_dense`` move one
layer's parameters (or their gradients) between the article's layout and Dense's,
exactly — they only slice, transpose, reshape and stack. They are framework-free and
live once, in ``reference/layout.py`` (its table of one layer, examples first, shared
with the Keras-on-JAX style and torch's nn.Linear): NumPy in and out, so the Keras style
maps NumPy parameters on load and its gradients after converting them.

``examples_first`` is TensorFlow's own: it keeps the logits Keras' sigmoid marks its output with.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from backprop_parity.reference.layout import (  # noqa: F401  (framework-free: the styles' L.n_examples …)
    describe_dense, example, from_dense, n_examples, to_dense)


def examples_first(X, layout):
    """Keras wants one example per row: columns-layout arrays are transposed (rows: unchanged).

    Keras' sigmoid marks its output with the logits it came from (``_keras_logits``), and
    BinaryCrossentropy then computes from those logits. A transpose makes a new tensor, so the
    mark is carried over (transposed too): the loss must not switch silently to its clipped
    probability form because of a change of layout."""
    if layout == "rows":
        return X
    if not tf.is_tensor(X):
        return np.asarray(X).T
    out = tf.transpose(X)
    if hasattr(X, "_keras_logits"):
        out._keras_logits = tf.transpose(X._keras_logits)
    return out


def from_examples_first(A, layout):
    """Back from Keras' one-example-per-row to the article's layout (the same transpose)."""
    return examples_first(A, layout)
