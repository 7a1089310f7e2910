"""The article ↔ Keras ``Dense`` mapping (for the Keras-on-JAX style), as exact array moves.

rows    (Courtial): X is (n examples, n_in), W is (n_in, n_out),  Z = A·W (+ b),  b is (1, n_out)
columns (deeplearning.ai): X is (n_in, m),   W is (n_out, n_in),  Z = W·A (+ b),  b is (n_out, 1)

Keras ``Dense`` always takes examples as rows and holds ``kernel`` (n_in, n_out) and
``bias`` (n_out,): Z = A·kernel + bias. ``to_dense`` / ``from_dense`` only select,
transpose and reshape, so the numbers move exactly:

    rows,    bias trick   W (n_in+1, n_out)  kernel = W[:-1, :]    bias = W[-1, :]
    rows,    b vectors    W (n_in, n_out)    kernel = W            bias = b[0, :]
    rows,    no bias      W (n_in, n_out)    kernel = W            (use_bias=False)
    columns, bias trick   W (n_out, n_in+1)  kernel = W[:, :-1]ᵀ   bias = W[:, -1]
    columns, b vectors    W (n_out, n_in)    kernel = Wᵀ           bias = b[:, 0]
    columns, no bias      W (n_out, n_in)    kernel = Wᵀ           (use_bias=False)

(The same table as the TensorFlow Keras style's; written again here so that the JAX
backend imports nothing from ``tf_impl``.)
"""

from __future__ import annotations

import numpy as np


def to_dense(W, b, layout, bias):
    """One layer's article-layout (W, b) -> Dense's (kernel, bias); bias is None under bias = "none"."""
    W = np.asarray(W)
    if bias == "trick":
        return (W[:-1, :], W[-1, :]) if layout == "rows" else (W[:, :-1].T, W[:, -1])
    kernel = W if layout == "rows" else W.T
    if bias == "vectors":
        b = np.asarray(b)
        return kernel, (b[0, :] if layout == "rows" else b[:, 0])
    return kernel, None


def from_dense(kernel, bias_vector, layout, bias):
    """Dense's (kernel, bias) -> the article's (W, b); b is None unless bias = "vectors"."""
    kernel = np.asarray(kernel)
    if bias == "trick":
        v = np.asarray(bias_vector)
        return (np.vstack([kernel, v[None, :]]), None) if layout == "rows" else (np.hstack([kernel.T, v[:, None]]), None)
    W = kernel if layout == "rows" else kernel.T
    if bias == "vectors":
        v = np.asarray(bias_vector)
        return W, (v[None, :] if layout == "rows" else v[:, None])
    return W, None


def describe_dense(W_name, b_name, shape_W, layout, bias) -> str:
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
    """Keras wants one example per row: a columns-layout array is transposed (rows: unchanged)."""
    return X if layout == "rows" else X.T


def from_examples_first(A, layout):
    """Back from Keras' one example per row to the article's layout."""
    return A if layout == "rows" else A.T
