"""The two data layouts and the bias trick on torch tensors — and the map to ``nn.Linear``.

The first half mirrors ``reference/layout.py`` name for name (with_ones,
drop_ones, affine, example, weight_mask …), written with torch operations.

The second half is what the idiomatic ("modules") style needs: ``nn.Linear``
stores ``weight`` as (n_out, n_in) and ``bias`` as (n_out,), and wants examples
first (one row per example). ``to_linear`` / ``from_linear`` move one layer's
parameters between the article's layout and nn.Linear's, exactly (transposes and
slices only, no arithmetic); ``examples_first`` / ``article_layout`` do the same
for activations.

rows    (Courtial): X (n, n_in),  W (n_in[+1], n_out), bias row last,    b (1, n_out)
columns (deeplearning.ai): X (n_in, m), W (n_out, n_in[+1]), bias column last, b (n_out, 1)
"""

from __future__ import annotations

import numpy as np
import torch

EXAMPLE_AXIS = {"rows": 0, "columns": 1}

_DTYPES = {np.dtype(np.float64): torch.float64, np.dtype(np.float32): torch.float32}


def torch_dtype(dtype) -> torch.dtype:
    """The torch dtype of a NumPy dtype (float64 or float32 only: nothing else is allowed to sneak in)."""
    try:
        return _DTYPES[np.dtype(dtype)]
    except KeyError:
        raise ValueError(f"unsupported dtype {dtype!r}: torch_impl runs float64 or float32") from None


def tensor(x, dtype=np.float64) -> torch.Tensor:
    """A new torch tensor holding exactly the numbers of ``x`` in ``dtype`` (a copy, never a view)."""
    return torch.tensor(np.asarray(x, dtype=dtype), dtype=torch_dtype(dtype))


def numpy(t) -> np.ndarray:
    """A NumPy copy of a tensor (detached: later in-place updates cannot change it)."""
    return t.detach().cpu().numpy().copy()


# --------------------------------------------------------------------------- mirror of reference/layout.py

def n_examples(X, layout):
    return X.shape[EXAMPLE_AXIS[layout]]


def with_ones(A, layout):
    """[A | 1]: the bias unit appended to every example."""
    if layout == "rows":
        return torch.cat([A, torch.ones((A.shape[0], 1), dtype=A.dtype)], dim=1)
    return torch.cat([A, torch.ones((1, A.shape[1]), dtype=A.dtype)], dim=0)


def drop_ones(dA, layout):
    """Remove the bias unit's column (rows) or row (columns)."""
    return dA[:, :-1] if layout == "rows" else dA[:-1, :]


def affine(A, W, b, layout):
    """Z = A·W + b (rows) or Z = W·A + b (columns); b may be None."""
    Z = A @ W if layout == "rows" else W @ A
    return Z if b is None else Z + b


def example(X, i, layout):
    """Example i as a batch of one (keeps the layout's 2-D shape)."""
    return X[i:i + 1, :] if layout == "rows" else X[:, i:i + 1]


def weight_mask(shape, layout, trick, include_bias, dtype=torch.float64):
    """1 where L2 applies to a W of this shape (the trick's bias row/column optionally excluded)."""
    mask = torch.ones(shape, dtype=dtype)
    if trick and not include_bias:
        if layout == "rows":
            mask[-1, :] = 0
        else:
            mask[:, -1] = 0
    return mask


# --------------------------------------------------------------------------- article layout <-> nn.Linear
#
# One table, read by to_linear, from_linear and describe_linear alike: for each
# (layout, bias convention), how nn.Linear's weight and bias are cut out of the
# article's W (and b), and how the article's W (and b) are put back together.

def _rows_trick_from(weight, bias):
    return torch.cat([weight.T, bias[None, :]], dim=0), None


def _columns_trick_from(weight, bias):
    return torch.cat([weight, bias[:, None]], dim=1), None


LINEAR_MAP = {
    # (layout, bias): (text of weight, text of bias, to_linear, from_linear)
    ("rows", "trick"): ("W[:-1, :].T", "W[-1, :]",
                        lambda W, b: (W[:-1, :].T, W[-1, :]), _rows_trick_from),
    ("rows", "vectors"): ("W.T", "b[0, :]",
                          lambda W, b: (W.T, b[0, :]), lambda w, c: (w.T, c[None, :])),
    ("rows", "none"): ("W.T", None,
                       lambda W, b: (W.T, None), lambda w, c: (w.T, None)),
    ("columns", "trick"): ("W[:, :-1]", "W[:, -1]",
                           lambda W, b: (W[:, :-1], W[:, -1]), _columns_trick_from),
    ("columns", "vectors"): ("W", "b[:, 0]",
                             lambda W, b: (W, b[:, 0]), lambda w, c: (w, c[:, None])),
    ("columns", "none"): ("W", None,
                          lambda W, b: (W, None), lambda w, c: (w, None)),
}


def to_linear(W, b, layout: str, bias: str):
    """One layer in the article's layout -> (nn.Linear weight (n_out, n_in), bias (n_out,) or None).

    ``b`` is the article's bias vector under bias = "vectors" and None otherwise;
    under the bias trick the bias is cut out of W's last row (rows) or column (columns).
    Returns contiguous copies, so loading them into a module never aliases the inputs.
    """
    weight, vec = LINEAR_MAP[(layout, bias)][2](W, b)
    return weight.contiguous().clone(), (None if vec is None else vec.contiguous().clone())


def from_linear(weight, vec, layout: str, bias: str):
    """(nn.Linear weight, bias) -> (W, b) in the article's layout (b is None unless bias = "vectors").

    The inverse of ``to_linear``: applied to parameters, to their gradients, to updated values.
    """
    W, b = LINEAR_MAP[(layout, bias)][3](weight, vec)
    return W.contiguous().clone(), (None if b is None else b.contiguous().clone())


def describe_linear(W_name: str, b_name: str, W_shape, layout: str, bias: str) -> str:
    """The mapping of one layer as a line the report prints, e.g.
    ``W1 (4, 3) → Linear(3, 3): weight = W1[:-1, :].T (3, 3), bias = W1[-1, :] (3,)``."""
    w_text, b_text, to, _ = LINEAR_MAP[(layout, bias)]
    W = torch.zeros(tuple(W_shape))
    n_out = W_shape[1] if layout == "rows" else W_shape[0]
    b = torch.zeros((1, n_out) if layout == "rows" else (n_out, 1)) if bias == "vectors" else None
    weight, vec = to(W, b)
    name = lambda text, sym, nm: text.replace(sym, nm, 1)   # noqa: E731  "W[:-1, :].T" -> "W1[:-1, :].T"
    src = f"{W_name} {tuple(W_shape)}" + (f", {b_name} {tuple(b.shape)}" if b is not None else "")
    out = (f"{src} → nn.Linear({weight.shape[1]}, {weight.shape[0]}, bias={vec is not None}): "
           f"weight = {name(w_text, 'W', W_name)} {tuple(weight.shape)}")
    if vec is not None:
        sym, nm = ("b", b_name) if bias == "vectors" else ("W", W_name)
        out += f", bias = {name(b_text, sym, nm)} {tuple(vec.shape)}"
    return out


def examples_first(A, layout):
    """An article-layout batch as nn.Linear wants it: one row per example (columns layout: Aᵀ)."""
    return A if layout == "rows" else A.T


def article_layout(A, layout):
    """The inverse of ``examples_first``: back to the article's layout."""
    return A if layout == "rows" else A.T
