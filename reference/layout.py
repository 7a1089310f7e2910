"""The two data layouts and the bias trick, as small named operations.

rows    (Courtial): X is (n examples, n_in), W is (n_in, n_out),  Z = A·W (+ b),  b is (1, n_out)
columns (deeplearning.ai): X is (n_in, m),   W is (n_out, n_in),  Z = W·A (+ b),  b is (n_out, 1)

The bias trick (Courtial, chapter 4) appends a constant 1 to every example's
input (a column of ones in rows layout, a row of ones in columns layout); the
bias is then the last row (rows) or last column (columns) of W.

At the end, one layer's parameters and activations moved to and from a framework's
dense layer (examples first, a bias vector): the one table (``LAYER_MAP``) the
Keras styles' Dense and torch's nn.Linear are loaded and read back through.
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


def bias_grad(delta, layout, shared=False):
    """∂J/∂b: δ summed over the examples — and over the layer's units too when one b is shared by them all."""
    return np.sum(delta, axis=None if shared else EXAMPLE_AXIS[layout], keepdims=True)


def backprop_error(delta, W, layout):
    """∂J/∂A = δ·Wᵀ (rows) or Wᵀ·δ (columns)."""
    return delta @ W.T if layout == "rows" else W.T @ delta


def example(X, i, layout):
    """Example i as a batch of one (keeps the layout's 2-D shape)."""
    return X[i:i + 1, :] if layout == "rows" else X[:, i:i + 1]


def examples(X, idx, layout):
    """The examples ``idx`` (an index array, in that order) as one batch in the layout (NumPy, torch and JAX index
    alike)."""
    return X[idx, :] if layout == "rows" else X[:, idx]


def weight_shape(n_in, n_out, layout, trick):
    """The article-layout shape of one layer's W (with the bias row/column under the trick)."""
    rows_in = n_in + (1 if trick else 0)
    return (rows_in, n_out) if layout == "rows" else (n_out, rows_in)


def bias_shape(n_out, layout, shared=False):
    """b's shape: one entry per unit, or (1, 1) when the whole layer shares one number (it broadcasts over Z)."""
    if shared:
        return (1, 1)
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


# --------------------------------------------------------------------------- one layer, examples first
#
# A framework's dense layer takes one example per row and holds the bias as a vector (n_out,):
# Keras' Dense keeps a kernel (n_in, n_out), Z = A·kernel + bias; torch's nn.Linear a weight
# (n_out, n_in) = kernelᵀ, Z = A·weightᵀ + bias. One table says, for each layout and bias
# convention, which part of the article's W multiplies the inputs and where the bias vector is:
#
#     rows,    bias trick   W (n_in+1, n_out)  part = W[:-1, :]  bias = W[-1, :]   kernel = part,  weight = partᵀ
#     rows,    b vectors    W (n_in, n_out)    part = W          bias = b[0, :]    (b is (1, n_out))
#     rows,    no bias      W (n_in, n_out)    part = W          (no bias)
#     columns, bias trick   W (n_out, n_in+1)  part = W[:, :-1]  bias = W[:, -1]   kernel = partᵀ, weight = part
#     columns, b vectors    W (n_out, n_in)    part = W          bias = b[:, 0]    (b is (n_out, 1))
#     columns, no bias      W (n_out, n_in)    part = W          (no bias)
#
# The moves only slice, transpose, reshape and stack, so the numbers move exactly. They take and give
# NumPy arrays (views where they can): a framework converts its arrays before and after.

def _stack_row(part, v):
    return np.vstack([part, v[None, :]]), None


def _stack_column(part, v):
    return np.hstack([part, v[:, None]]), None


LAYER_MAP = {
    # (layout, bias): (text of the part, text of the bias vector, W (b) -> (part, vector), (part, vector) -> W (b))
    ("rows", "trick"): ("W[:-1, :]", "W[-1, :]", lambda W, b: (W[:-1, :], W[-1, :]), _stack_row),
    ("rows", "vectors"): ("W", "b[0, :]", lambda W, b: (W, b[0, :]), lambda part, v: (part, v[None, :])),
    ("rows", "none"): ("W", None, lambda W, b: (W, None), lambda part, v: (part, None)),
    ("columns", "trick"): ("W[:, :-1]", "W[:, -1]", lambda W, b: (W[:, :-1], W[:, -1]), _stack_column),
    ("columns", "vectors"): ("W", "b[:, 0]", lambda W, b: (W, b[:, 0]), lambda part, v: (part, v[:, None])),
    ("columns", "none"): ("W", None, lambda W, b: (W, None), lambda part, v: (part, None)),
}
# A bias shared by the whole layer is b (1, 1): the same slices give a bias of ONE number, (1,), which the
# framework's layer adds to every unit by broadcasting (and whose gradient its autodiff sums over the units).
LAYER_MAP.update({(layout, "shared"): LAYER_MAP[(layout, "vectors")] for layout in EXAMPLE_AXIS})


def _np(x):
    return None if x is None else np.asarray(x)


def to_dense(W, b, layout, bias):
    """One layer's article-layout W (and b, under bias = "vectors") -> (kernel (n_in, n_out), bias (n_out,)),
    the bias None under bias = "none"."""
    part, vector = LAYER_MAP[(layout, bias)][2](np.asarray(W), _np(b))
    return (part if layout == "rows" else part.T), vector


def from_dense(kernel, vector, layout, bias):
    """(kernel, bias vector) -> the article's (W, b); b is None unless bias = "vectors" or "shared". The inverse of
    ``to_dense``: applied to parameters, to their gradients, to updated values."""
    kernel = np.asarray(kernel)
    return LAYER_MAP[(layout, bias)][3](kernel if layout == "rows" else kernel.T, _np(vector))


def layer_texts(W_name, b_name, layout, bias):
    """The table's texts with one layer's names: ("W1[:-1, :]", "W1[-1, :]"), ("W2", "b2[:, 0]"), ("W3", None) …"""
    part, vector = LAYER_MAP[(layout, bias)][:2]
    named = lambda text: W_name + text[1:] if text.startswith("W") else b_name + text[1:]   # noqa: E731
    return named(part), (None if vector is None else named(vector))


def describe_dense(W_name, b_name, shape_W, layout, bias) -> str:
    """One layer's mapping onto a Dense layer, as the report prints it, e.g.
    ``W1 (4, 3) → Dense: kernel = W1[:-1, :], bias = W1[-1, :] (the bias row)``."""
    part, vector = layer_texts(W_name, b_name, layout, bias)
    how = f"kernel = {part}" + ("ᵀ" if layout == "columns" else "")
    if bias == "trick":
        how += f", bias = {vector} (the bias {'row' if layout == 'rows' else 'column'})"
    elif bias == "vectors":
        how += f", bias = {vector}"
    elif bias == "shared":
        how += f", bias = {vector}: ONE number (1,), which Dense.call's ops.add broadcasts over the units"
    else:
        how += ", use_bias=False"
    return f"{W_name} {tuple(shape_W)} → Dense: {how}"


def examples_first(A, layout):
    """An article-layout batch with one example per row, as a dense layer takes it (columns layout: Aᵀ)."""
    return A if layout == "rows" else A.T


def from_examples_first(A, layout):
    """The inverse of ``examples_first``: back to the article's layout."""
    return A if layout == "rows" else A.T
