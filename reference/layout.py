"""The two data layouts and the bias trick, as small named operations.

rows    (Courtial): X is (n examples, n_in), W is (n_in, n_out),  Z = A·W (+ b),  b is (1, n_out)
columns (deeplearning.ai): X is (n_in, m),   W is (n_out, n_in),  Z = W·A (+ b),  b is (n_out, 1)

The bias trick (Courtial, chapter 4) appends a constant 1 to every example's
input (a column of ones in rows layout, a row of ones in columns layout); the
bias is then the last row (rows) or last column (columns) of W.
"""

from __future__ import annotations

import numpy as np

EXAMPLE_AXIS = {"rows": 0, "columns": 1}


def n_examples(X, layout):
    return X.shape[EXAMPLE_AXIS[layout]]


def with_ones(A, layout):
    """[A | 1]: the bias unit appended to every example."""
    if layout == "rows":
        return np.hstack([A, np.ones((A.shape[0], 1), dtype=A.dtype)])
    return np.vstack([A, np.ones((1, A.shape[1]), dtype=A.dtype)])


def drop_ones(dA, layout):
    """Remove the bias unit's column (rows) or row (columns): it has no link backwards."""
    return dA[:, :-1] if layout == "rows" else dA[:-1, :]


def affine(A, W, b, layout):
    """Z = A·W + b (rows) or Z = W·A + b (columns); b may be None."""
    Z = A @ W if layout == "rows" else W @ A
    return Z if b is None else Z + b


def weight_grad(A, delta, layout):
    """∂J/∂W = Aᵀ·δ (rows) or δ·Aᵀ (columns): sums over the examples."""
    return A.T @ delta if layout == "rows" else delta @ A.T


def bias_grad(delta, layout):
    """∂J/∂b: δ summed over the examples."""
    return np.sum(delta, axis=EXAMPLE_AXIS[layout], keepdims=True)


def backprop_error(delta, W, layout):
    """∂J/∂A = δ·Wᵀ (rows) or Wᵀ·δ (columns)."""
    return delta @ W.T if layout == "rows" else W.T @ delta


def example(X, i, layout):
    """Example i as a batch of one (keeps the layout's 2-D shape)."""
    return X[i:i + 1, :] if layout == "rows" else X[:, i:i + 1]


def weight_shape(n_in, n_out, layout, trick):
    """The article-layout shape of one layer's W (with the bias row/column under the trick)."""
    rows_in = n_in + (1 if trick else 0)
    return (rows_in, n_out) if layout == "rows" else (n_out, rows_in)


def bias_shape(n_out, layout):
    return (1, n_out) if layout == "rows" else (n_out, 1)


def bias_part(W, layout):
    """The bias entries of a bias-trick W: its last row (rows) or last column (columns)."""
    return W[-1:, :] if layout == "rows" else W[:, -1:]


def weight_mask(shape, layout, trick, include_bias):
    """1 where L2 applies to a W of this shape (the trick's bias row/column optionally excluded)."""
    mask = np.ones(shape)
    if trick and not include_bias:
        if layout == "rows":
            mask[-1, :] = 0
        else:
            mask[:, -1] = 0
    return mask
