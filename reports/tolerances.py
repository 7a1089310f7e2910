"""How close two backends' float64 numbers must be — and why.

Article numbers are held at their printed precision (reference/case.py:
one unit of the last printed digit). This module is about the other kind of
comparison: a framework's number against the NumPy reference's, computed from
the same inputs in the same precision.

float64 has a unit roundoff of 1.1e-16. The backends evaluate the same
formulas with different kernels (BLAS, fused operations, oneDNN, a different
tanh/exp), so each operation may differ by a few ulps, and the differences add
up through the depth of the network. For these small networks a bound of
``1e-12`` relative to the magnitude of the quantity leaves at least two orders of
magnitude of margin over what we measure (see ``backprop-parity check --json``
for the measured max_rel_diff) while still catching any real difference — a
wrong sign, a missing 1/n or an off-by-one layer changes numbers at 1e-3 or more.

Two families need a wider, computed bound, stated here:

* centered differences (gradient checking) divide a difference of two costs by
  2h. A rounding difference of a few ulps in J becomes ulp(J)/h in the
  numerical gradient: with h = 1e-4 that is 1e4 times larger than the
  rounding of J itself.
* long training (many epochs of per-sample SGD) feeds each rounding difference
  into the next step; the bound grows with the number of updates.
* a gradient is a sum over examples: its rounding is bounded by eps·Σ|terms|,
  not eps·|sum|. When the terms cancel (∂J/∂b = Σδ can be 1e-3 while Σ|δ| is
  0.4), the bound follows the size of the terms (``summand_scale``). So does
  Z = A·W (+ b), a sum over the inputs: in Courtial's one-car network Z[4] is
  3.4e-4 while |A|·|W| is 9.1e-3 — float32 kernels that sum in another order
  (oneDNN's, on some CPUs) differ by 7e-9 there: 2e-5 of Z, 8e-7 of the terms.
  A = g(Z) carries that rounding times |g'(Z)|.
"""

from __future__ import annotations

import math
import re

import numpy as np

EPS64 = float(np.finfo(np.float64).eps)
EPS32 = float(np.finfo(np.float32).eps)

REL_FLOAT64 = 1e-12
REL_FLOAT32 = 1e-5    # float32 runs: eps32 = 1.2e-7, a few ops deep


def rel_bound(dtype) -> float:
    return REL_FLOAT32 if np.dtype(dtype) == np.float32 else REL_FLOAT64


def summand_scale(key: str, ref_trace: dict, net) -> float:
    """The size of the terms a sum adds: Σ|δ| for ∂J/∂b, |A|ᵀ·|δ| for ∂J/∂W, |A|·|W| (+|b|) for Z, |g'(Z)|·that for A (largest entry).

    The rounding error of a sum is bounded by eps·Σ|terms|, not by eps·|sum|: when a gradient's terms
    cancel (∂J/∂b = Σδ can be 1e-3 while Σ|δ| is 0.4), the bound must follow the terms.
    """
    if key == "yhat" and net is not None:          # ŷ is the last A
        key = f"A[{net.first_layer + net.depth - 1}]"
    z = re.fullmatch(r"([ZA])\[(\d+)\]", key)
    if z and net is not None:
        n = int(z.group(2))
        terms = _affine_terms(n, ref_trace, net)
        if terms is None:
            return 0.0
        if z.group(1) == "A":                      # A = g(Z) carries Z's rounding, times |g'(Z)|
            Z = ref_trace.get(f"Z[{n}]")
            if Z is None or np.shape(Z) != np.shape(terms):
                return 0.0
            with np.errstate(all="ignore"):
                terms = np.abs(net.activations[n - net.first_layer].g_prime(np.asarray(Z, dtype=np.float64))) * terms
        return float(np.max(terms)) if np.size(terms) else 0.0
    m = re.fullmatch(r"grad\.([Wb])\[(\d+)\]", key)
    if not m or net is None:
        return 0.0
    l = int(m.group(2)) - net.first_weight + net.first_layer
    delta = ref_trace.get(f"delta[{l}]")
    A_in = ref_trace.get(f"A_aug[{l - 1}]" if net.trick else f"A[{l - 1}]")
    if delta is None or (m.group(1) == "W" and A_in is None):
        return 0.0
    if m.group(1) == "b":
        terms = np.sum(np.abs(delta), axis=net.example_axis)
    else:
        terms = np.abs(A_in).T @ np.abs(delta) if net.layout == "rows" else np.abs(delta) @ np.abs(A_in).T
    return float(np.max(terms)) if np.size(terms) else 0.0


def _affine_terms(n: int, ref_trace: dict, net):
    """The size of the terms Z(n) = A(n−1)·W (+ b) sums, per entry: |A|·|W| (+ |b|); None when unknown."""
    l = n - net.first_layer
    if not 0 <= l < net.depth:
        return None
    number = net.first_weight + l
    A_in = ref_trace.get(f"A_aug[{n - 1}]" if net.trick else f"A[{n - 1}]")
    W = ref_trace.get(f"W[{number}]")
    if A_in is None or W is None:
        return None
    try:
        terms = np.abs(A_in) @ np.abs(W) if net.layout == "rows" else np.abs(W) @ np.abs(A_in)
        b = ref_trace.get(f"b[{number}]")
        if b is not None and net.bias == "vectors":
            terms = terms + np.abs(b)
    except ValueError:
        return None
    return terms


def reference_tolerance(key: str, ref_value, ref_trace: dict, case) -> tuple[float, str]:
    """(absolute tolerance, reason) for comparing a backend's ``key`` with the reference's."""
    hyper, net = case.hyper, case.net
    dtype = net.dtype if net is not None else np.float64
    n_examples = case.X.shape[net.example_axis] if net is not None and case.X is not None else 1
    eps = EPS32 if np.dtype(dtype) == np.float32 else EPS64
    rel = rel_bound(dtype)
    scale = float(np.max(np.abs(ref_value))) if np.size(ref_value) else 0.0
    terms = summand_scale(key, ref_trace, net)
    if terms > scale:
        return rel * terms, (f"{rel:g} relative to the size of the summed terms ({terms:.2e}; the sum itself "
                             f"is {scale:.2e}: its terms cancel, and rounding follows the terms)")
    is_input = key.startswith("A[") and ref_value is ref_trace.get("X")     # A at first_layer − 1 is X
    if key in ("X", "y", "n_params") or key.startswith(("W[", "b[")) or is_input:
        return 0.0, "input loaded by every backend: must be identical"
    if key.startswith("gradcheck."):
        J = abs(float(ref_trace.get("J", 1.0)))
        n = max(1, int(ref_trace.get("n_params", 1)))
        noise = 64 * eps * max(J, 1.0) / hyper.h          # rounding of (J+ − J−) / 2h
        if key == "gradcheck.rel_error":
            norm = float(np.linalg.norm(np.concatenate([np.ravel(v) for k, v in ref_trace.items()
                                                        if k.startswith("grad.")]) * 2)) or 1.0
            tol = noise * math.sqrt(n) / norm
            return tol, (f"centered differences: 64·eps·max(|J|,1)/h·√P / ‖V1+V2‖ = {tol:.1e} "
                         f"(rounding of J divided by 2h, summed over P = {n} entries)")
        if key.endswith(("J_plus", "J_minus")):
            return rel * max(scale, 1e-300), f"{rel:g} relative (a cost, like J)"
        if key.endswith(("A_plus", "A_minus")):
            return rel * max(scale, 1e-300), f"{rel:g} relative (a forward pass)"
        return noise, f"centered differences: 64·eps·max(|J|,1)/h = {noise:.1e} (rounding of J amplified by 1/h)"
    if key == "costs" or key.startswith(("W_final[", "b_final[", "predict.")):
        steps = max(1, hyper.epochs) * (1 if hyper.rule == "batch" else n_examples)
        tol = rel * math.sqrt(steps) * max(scale, 1e-300)
        return tol, (f"{rel:g} relative × √(updates = {steps}): rounding differences carried "
                     f"through {hyper.epochs} epochs of training")
    return rel * max(scale, 1e-300), f"{rel:g} relative to the largest |value| (float rounding, a few ulps per op)"
