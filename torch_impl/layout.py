"""The two data layouts and the bias trick on torch tensors — and the map to ``nn.Linear``.

The first half mirrors ``reference/layout.py`` name for name (with_ones,
drop_ones, weight_mask), written with torch operations; what needs no torch
operation (n_examples, example) is the reference's own. (The autograd style
writes [A | 1] and Z = A @ W out where they happen, in ``network.py``.)

The second half is what the idiomatic ("modules") style needs: ``nn.Linear``
stores ``weight`` as (n_out, n_in) and ``bias`` as (n_out,), and wants examples
first (one row per example). ``to_linear`` / ``from_linear`` move one layer's
parameters between the article's layout and nn.Linear's, exactly (transposes and
slices only, no arithmetic), by the one table of ``reference/layout.py`` (shared
with the Keras styles' Dense); ``examples_first`` / ``from_examples_first`` (the
reference's) do the same for activations.

rows    (Courtial): X (n, n_in),  W (n_in[+1], n_out), bias row last,    b (1, n_out)
columns (deeplearning.ai): X (n_in, m), W (n_out, n_in[+1]), bias column last, b (n_out, 1)
"""

from __future__ import annotations

import numpy as np
import torch

from backprop_parity.reference import layout as RL
from backprop_parity.reference.layout import (  # noqa: F401  (framework-free: the styles' L.n_examples …)
    example, examples, examples_first, from_examples_first, n_examples)

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

def with_ones(A, layout):
    """[A | 1]: the bias unit appended to every example."""
    if layout == "rows":
        return torch.cat([A, torch.ones((A.shape[0], 1), dtype=A.dtype)], dim=1)
    return torch.cat([A, torch.ones((1, A.shape[1]), dtype=A.dtype)], dim=0)


def drop_ones(dA, layout):
    """Remove the bias unit's column (rows) or row (columns)."""
    return dA[:, :-1] if layout == "rows" else dA[:-1, :]


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
# reference/layout.py's table of one layer (LAYER_MAP), on NumPy copies of the tensors: nn.Linear's
# weight is the Dense kernel transposed (the table's part of W, transposed in rows layout); its bias
# is the table's bias vector.

def _tensors(*arrays):
    """New tensors holding exactly these NumPy arrays (contiguous copies, dtype kept; None stays None)."""
    return tuple(None if a is None else torch.tensor(a) for a in arrays)


def to_linear(W, b, layout: str, bias: str):
    """One layer in the article's layout -> (nn.Linear weight (n_out, n_in), bias (n_out,) or None).

    ``b`` is the article's bias vector under bias = "vectors" (its one number under "shared") and None otherwise;
    under the bias trick the bias is cut out of W's last row (rows) or column (columns).
    Returns new tensors, so loading them into a module never aliases the inputs.
    """
    kernel, vec = RL.to_dense(numpy(W), None if b is None else numpy(b), layout, bias)
    return _tensors(kernel.T, vec)


def from_linear(weight, vec, layout: str, bias: str):
    """(nn.Linear weight, bias) -> (W, b) in the article's layout (b is None unless bias = "vectors" or "shared").

    The inverse of ``to_linear``: applied to parameters, to their gradients, to updated values.
    """
    return _tensors(*RL.from_dense(numpy(weight).T, None if vec is None else numpy(vec), layout, bias))


def describe_linear(W_name: str, b_name: str, W_shape, layout: str, bias: str) -> str:
    """The mapping of one layer as a line the report prints, e.g.
    ``W1 (4, 3) → Linear(3, 3): weight = W1[:-1, :].T (3, 3), bias = W1[-1, :] (3,)``."""
    part, vector = RL.layer_texts(W_name, b_name, layout, bias)
    b_shape = RL.bias_shape(W_shape[1] if layout == "rows" else W_shape[0], layout, bias == "shared")
    b = np.zeros(b_shape) if bias in ("vectors", "shared") else None
    kernel, vec = RL.to_dense(np.zeros(tuple(W_shape)), b, layout, bias)
    n_in, n_out = kernel.shape
    src = f"{W_name} {tuple(W_shape)}" + (f", {b_name} {tuple(b.shape)}" if b is not None else "")
    out = (f"{src} → nn.Linear({n_in}, {n_out}, bias={vec is not None}): "
           f"weight = {part}{'.T' if layout == 'rows' else ''} {(n_out, n_in)}")
    if vec is not None:
        out += f", bias = {vector} {tuple(vec.shape)}" + (": ONE number, a Parameter of shape (1,) that F.linear "
                                                         "broadcasts over the units" if bias == "shared" else "")
    return out
