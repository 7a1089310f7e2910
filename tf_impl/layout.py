"""The data layouts in TensorFlow, and the article ↔ Keras Dense mapping.

rows    (Courtial): X is (n examples, n_in), W is (n_in, n_out),  Z = A·W (+ b),  b is (1, n_out)
columns (deeplearning.ai): X is (n_in, m),   W is (n_out, n_in),  Z = W·A (+ b),  b is (n_out, 1)

(The bias trick's [A | 1] and the products Z = A·W are written out with tf.concat and
tf.matmul where they happen, in ``network.py``.)

Keras ``Dense`` always takes examples as rows and holds ``kernel`` (n_in, n_out)
and ``bias`` (n_out,): Z = A·kernel + bias. ``to_dense`` / ``from_dense`` move one
layer's parameters (or their gradients) between the article's layout and Dense's,
exactly — they only slice, transpose, reshape and concatenate, with TF ops:

    rows,    bias trick   W (n_in+1, n_out)  kernel = W[:-1, :]    bias = W[-1, :]
    rows,    b vectors    W (n_in, n_out)    kernel = W            bias = b[0, :]    (b is (1, n_out))
    rows,    no bias      W (n_in, n_out)    kernel = W            (use_bias=False)
    columns, bias trick   W (n_out, n_in+1)  kernel = W[:, :-1]ᵀ   bias = W[:, -1]
    columns, b vectors    W (n_out, n_in)    kernel = Wᵀ           bias = b[:, 0]    (b is (n_out, 1))
    columns, no bias      W (n_out, n_in)    kernel = Wᵀ           (use_bias=False)
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

EXAMPLE_AXIS = {"rows": 0, "columns": 1}


def n_examples(X, layout):
    return X.shape[EXAMPLE_AXIS[layout]]


def example(X, i, layout):
    """Example i as a batch of one (keeps the layout's 2-D shape)."""
    return X[i:i + 1, :] if layout == "rows" else X[:, i:i + 1]


# ---------------------------------------------------------------------------- Keras Dense

def to_dense(W, b, layout, bias):
    """One layer's article-layout (W, b) -> Dense's (kernel, bias); bias is None under bias = "none".
    ``b`` is the b vector under bias = "vectors" (ignored otherwise)."""
    W = tf.convert_to_tensor(W)
    if bias == "trick":
        if layout == "rows":
            return W[:-1, :], W[-1, :]
        return tf.transpose(W[:, :-1]), W[:, -1]
    kernel = W if layout == "rows" else tf.transpose(W)
    if bias == "vectors":
        b = tf.convert_to_tensor(b)
        return kernel, (b[0, :] if layout == "rows" else b[:, 0])
    return kernel, None


def from_dense(kernel, bias_vector, layout, bias):
    """Dense's (kernel, bias) -> the article's (W, b); b is None unless bias = "vectors"."""
    kernel = tf.convert_to_tensor(kernel)
    if bias == "trick":
        v = tf.convert_to_tensor(bias_vector)
        if layout == "rows":
            return tf.concat([kernel, v[None, :]], axis=0), None
        return tf.concat([tf.transpose(kernel), v[:, None]], axis=1), None
    W = kernel if layout == "rows" else tf.transpose(kernel)
    if bias == "vectors":
        v = tf.convert_to_tensor(bias_vector)
        return W, (v[None, :] if layout == "rows" else v[:, None])
    return W, None


def describe_dense(W_name, b_name, shape_W, layout, bias) -> str:
    """The mapping of one layer, as text (for the report)."""
    if bias == "trick":
        how = ("kernel = W[:-1, :], bias = W[-1, :] (the bias row)" if layout == "rows"
               else "kernel = W[:, :-1]ᵀ, bias = W[:, -1] (the bias column)")
    elif bias == "vectors":
        how = (f"kernel = {W_name}, bias = {b_name}[0, :]" if layout == "rows"
               else f"kernel = {W_name}ᵀ, bias = {b_name}[:, 0]")
    else:
        how = f"kernel = {W_name}" + ("ᵀ" if layout == "columns" else "") + ", use_bias=False"
    return f"{W_name} {tuple(shape_W)} → Dense: {how}"


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
