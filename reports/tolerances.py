"""How close two backends' numbers must be — and why, element by element.

Article numbers are held at their printed precision (reports/compare.py: ½ unit
of the last printed digit). This module is about the other kind of comparison:
a framework's number against the NumPy reference's, computed from the same
inputs in the same precision.

float64 has a unit roundoff of 1.1e-16. The backends evaluate the same formulas
with different kernels (BLAS, fused operations, oneDNN, a different tanh/exp), so
each operation may differ by a few ulps — of the magnitudes it combines, not of
its result. Every element of the network's step (Z, A, g'(Z), ∂J/∂ŷ, δ, δ·Wᵀ,
∂J/∂W, ∂J/∂b, J, the first update) is therefore held to its own bound: a factor
(``element_bound``: 1e-13 in float64) times its rounding scale S, the magnitudes
it was computed from (``element_scales``). A sum whose terms cancel (∂J/∂b = Σδ
can be 1e-3 while Σ|δ| is 0.4; in Courtial's one-car network Z[4] is 3.4e-4
while |A|·|W| is 9.1e-3) keeps the scale of its terms; a small entry next to a
large one keeps its own. Measured on every built-in case and backend, float64
differences stay below 0.78·eps·S, so 1e-13·S leaves a margin of 580 while a
1e-9 relative error in any single entry of a built-in case fails
(parity_tests/test_element_bounds.py).

Quantities after many updates, and gradient checking, keep one bound each:

* centered differences divide a difference of two costs by 2h: the rounding of J
  (scale S(J)) becomes S(J)·eps/h in every element alike — with h = 1e-4, 1e4
  times the rounding of J itself; a relative change of an entry smaller than
  that cannot be told from rounding.
* long training (many epochs of per-sample SGD) feeds each rounding difference
  into the next step; the bound grows with the number of updates.
"""

from __future__ import annotations

import math
import re

import numpy as np

from backprop_parity.reference import batches as B
from backprop_parity.reference import layout as L
from backprop_parity.reference.activations import FROM_A, jacobian_product

EPS64 = float(np.finfo(np.float64).eps)
EPS32 = float(np.finfo(np.float32).eps)

REL_FLOAT64 = 1e-12
REL_FLOAT32 = 1e-5    # float32 runs: eps32 = 1.2e-7, a few ops deep


def rel_bound(dtype) -> float:
    return REL_FLOAT32 if np.dtype(dtype) == np.float32 else REL_FLOAT64


def element_bound(dtype) -> float:
    """The factor on an element's rounding scale (``element_scales``). The scale already carries every
    magnitude the element was computed from, so no cancellation can shrink it, and the factor only
    counts operations: float64 measured at most 0.78·eps·S on every built-in case and backend; 1e-13 is
    450 eps — a sum of 450 terms at its worst-case bound, far longer ones at their typical √n·eps.
    float32 keeps REL_FLOAT32 (84 eps32)."""
    return REL_FLOAT32 if np.dtype(dtype) == np.float32 else ELEMENT_FLOAT64


ELEMENT_FLOAT64 = 1e-13


def reference_tolerance(key: str, ref_value, ref_trace: dict, case, scales: dict | None = None):
    """(absolute tolerance, reason) for comparing a backend's ``key`` with the reference's: an array, one
    bound per element, where ``scales`` (``element_scales`` of the reference's trace) covers the key;
    else one number for the whole quantity."""
    hyper, net = case.hyper, case.net
    dtype = net.dtype if net is not None else np.float64
    n_examples = case.X.shape[net.example_axis] if net is not None and case.X is not None else 1
    eps = EPS32 if np.dtype(dtype) == np.float32 else EPS64
    rel = rel_bound(dtype)
    scale = float(np.max(np.abs(ref_value))) if np.size(ref_value) else 0.0
    S = (scales or {}).get(key)
    is_input = key.startswith("A[") and ref_value is ref_trace.get("X")     # A at first_layer − 1 is X
    if S is not None and np.shape(S) == np.shape(ref_value) and not is_input:
        factor = element_bound(dtype)
        tol = factor * np.broadcast_to(np.asarray(S, dtype=np.float64), np.shape(ref_value))
        return tol, (f"{factor:g} × each element's rounding scale: the magnitudes it is computed from "
                     f"(|A|·|W| + |b| for Z, |A|ᵀ·|δ| for ∂J/∂W, |δ|·|Wᵀ| for δ·Wᵀ, …; largest "
                     f"{float(np.max(S)) if np.size(S) else 0.0:.2e}), element by element")
    if key in ("X", "y", "n_params") or key.startswith(("W[", "b[")) or is_input:
        return 0.0, "input loaded by every backend: must be identical"
    if key.startswith("gradcheck."):
        J = abs(float(ref_trace.get("J", 1.0)))
        n = max(1, int(ref_trace.get("n_params", 1)))
        S_J = (scales or {}).get("J")
        J_scale = float(S_J) if S_J is not None and np.size(S_J) == 1 else max(J, 1.0)
        noise = 64 * eps * J_scale / hyper.h          # rounding of (J+ − J−) / 2h: J's rounding scale over h
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
        return noise, (f"centered differences: 64·eps·S(J)/h = {noise:.1e}, the same for every element (each divides "
                       f"the rounding of J, scale S(J) = {J_scale:.2e}, by the same 2h)")
    if key == "costs" or key.startswith(("W_final[", "b_final[", "predict.", "opt.", "opt_new.")):
        steps = max(1, hyper.epochs) * B.steps_per_epoch(hyper, n_examples)
        tol = rel * math.sqrt(steps) * max(scale, 1e-300)
        S_J = (scales or {}).get("J")
        if key == "costs" and S_J is not None and element_bound(dtype) * float(S_J) * math.sqrt(steps) > tol:
            tol = element_bound(dtype) * float(S_J) * math.sqrt(steps)     # a cost of 1e-9 from ŷ ≈ 1: log(ŷ)'s rounding
            return tol, (f"{element_bound(dtype):g} × J's rounding scale S(J) = {float(S_J):.2e} × √(updates = "
                         f"{steps}): each cost carries the rounding of J, here larger than J itself")
        return tol, (f"{rel:g} relative × √(updates = {steps}): rounding differences carried "
                     f"through {hyper.epochs} epochs of training")
    return rel * max(scale, 1e-300), f"{rel:g} relative to the largest |value| (float rounding, a few ulps per op)"


# --------------------------------------------------------------------------- per-element rounding scales
#
# Each number a backend computes carries rounding of a few ulps of the magnitudes it was computed from,
# not of its own size: Z = A·W adds terms |A|·|W|, a gradient sums |A|ᵀ·|δ|, and a difference of nearly
# equal numbers (1 − σ(Z) at saturation, y − ŷ for a near-perfect prediction) keeps the absolute rounding
# of its operands. ``element_scales`` walks the reference's trace once, forward then backward, and gives
# every element the magnitude its rounding is measured against — first-order error propagation with
# |·| in place of every value: S(Z) = S(A)·|W| + |b|, S(A) = |A| + |g'(Z)|·S(Z), S(δ·Wᵀ) = S(δ)·|Wᵀ|,
# S(u ⊙ v) = S(u)·|v| + |u|·S(v), S(Aᵀδ) = S(A)ᵀ·S(δ), and for an element-wise f (g', ∂J/∂ŷ, the loss
# terms) |f(x)| + its change when x moves by its own scale S(x), measured by a centered difference.
# A bound is then REL × S element by element, so a wrong small entry cannot hide behind a large one.

_STEP = 2.0 ** -20        # centered difference for an element-wise map's sensitivity: |f'(x)|·S(x) to ~1e-6


def _sensitivity(f, x, s):
    """|f(x)| + how far f moves when x moves by its scale s (the larger one-sided difference, |f(x ± δs) − f(x)|/δ;
    a side that leaves f's domain — ŷ past 1 in a log — is not counted)."""
    with np.errstate(all="ignore"):
        here = f(x)
        up, down = np.abs(f(x + _STEP * s) - here) / _STEP, np.abs(here - f(x - _STEP * s)) / _STEP
        moved = np.fmax(np.where(np.isfinite(up), up, np.nan), np.where(np.isfinite(down), down, np.nan))
        return np.abs(here) + np.where(np.isnan(moved), 0.0, moved)


def _softmax_scales(A, z, axis, jac):
    """Softmax's scales: S(A_i) = |A_i| + A_i·(S(Z_i) + Σ_j A_j·S(Z_j)) (first order: dA_i = A_i·(dZ_i − Σ_j A_j dZ_j)),
    and for its Jacobian A_i(δ_ij − A_j): |J_ij| + S(A_i)·|δ_ij − A_j| + A_i·S(A_j), examples first."""
    Ac, zc = np.abs(np.moveaxis(A, axis, -1)), np.moveaxis(z, axis, -1)
    a = Ac + Ac * (zc + np.sum(Ac * zc, axis=-1, keepdims=True))
    k = Ac.shape[-1]
    d = np.abs(jac) + a[..., :, None] * np.abs(np.eye(k) - Ac[..., None, :]) + Ac[..., :, None] * a[..., None, :]
    return np.moveaxis(a, -1, axis), d


def first_update_scales(hyper, n: int, letter: str, number: str, P, g, S_g) -> dict:
    """The first update from zero state is element-wise in g, whatever the optimizer: W_new = W + u(g), and each
    state slot is s(g). Their scales: |W| + |u| + u's change when g moves by S(g) (W − α·g: |W| + α·|g| + α·S(g);
    Adam's α·g/(|g| + ε) moves little for |g| ≫ ε and much for |g| ≪ ε), and the same for each slot."""
    from backprop_parity.reference import optimizers as O

    def run(grad):
        state = O.State(hyper, scale=hyper.scale(n), t=1)
        new = O.update(state, "p", P, grad)
        return new - P, {slot: arrays["p"] for slot, arrays in state.state.items()}
    out = {f"{letter}_new[{number}]": np.abs(P) + _sensitivity(lambda x: run(x)[0], g, S_g)}
    for slot in run(g)[1]:
        out[f"opt_new.{slot}.{letter}[{number}]"] = _sensitivity(lambda x, slot=slot: run(x)[1][slot], g, S_g)
    return out


def element_scales(trace: dict, net, hyper) -> dict:
    """{key: array} — the magnitude each element of the reference's trace is rounded against (above).
    Keys it does not cover (training after the first step, gradient checking) are left to
    :func:`reference_tolerance`'s per-quantity rules."""
    S: dict = {}
    if net is None or "X" not in trace:
        return S
    f = np.float64
    rows = net.layout == "rows"

    def mm(a, b):
        return a @ b

    S_prev = np.abs(np.asarray(trace["X"], f))
    S[f"A[{net.first_layer - 1}]"] = S_prev
    S_in_by_layer, S_Z, S_deriv = [], [], []
    try:
        for l in range(net.depth):
            n = net.layer_number(l)
            W = np.abs(np.asarray(trace[f"W[{net.first_weight + l}]"], f))
            S_in = L.with_ones(S_prev, net.layout) if net.trick else S_prev
            z = mm(S_in, W) if rows else mm(W, S_in)
            b = trace.get(f"b[{net.first_weight + l}]")
            if b is not None and net.has_b:
                z = z + np.abs(np.asarray(b, f))
            Z, A = np.asarray(trace[f"Z[{n}]"], f), np.asarray(trace[f"A[{n}]"], f)
            act = net.activations[l]
            if not act.elementwise:           # softmax: |∂A_i| ≤ A_i·(S(Z_i) + Σ_j A_j·S(Z_j)); g' is a Jacobian
                a, d = _softmax_scales(A, z, act.params["axis"], act.g_prime(Z, A))
            else:
                with np.errstate(all="ignore"):
                    a = np.abs(A) + np.abs(act.g_prime(Z, A)) * z
                if act.name in FROM_A:        # g'(Z) written with A = g(Z): it inherits A's rounding
                    d = _sensitivity(lambda v: act.g_prime(Z, v), A, a)
                else:
                    d = _sensitivity(act.g_prime, Z, z)
            S[f"Z[{n}]"], S[f"A[{n}]"], S[f"deriv[{n}]"] = z, a, d
            if net.trick:
                S[f"A_aug[{n - 1}]"] = S_in
            S_in_by_layer.append(S_in)
            S_Z.append(z)
            S_deriv.append(d)
            S_prev = a
        last = net.depth - 1
        S["yhat"] = S_prev
        if "y" not in trace:
            return S
        y, yhat = np.asarray(trace["y"], f), np.asarray(trace["yhat"], f)
        S["error"] = np.abs(y) + S_prev
        loss = net.loss
        axis = net.example_axis
        dJ = _sensitivity(lambda v: loss.dJ_dyhat(y, v, axis), yhat, S_prev)
        S["dJ_dyhat"] = dJ
        terms = _sensitivity(lambda v: loss.terms(y, v), yhat, S_prev)
        S["J_each"] = np.mean(terms, axis=1 - axis) if loss.reduce == "mean" else np.sum(terms, axis=1 - axis)
        J = (np.sum(terms) / np.shape(terms)[axis] if loss.reduce == "example_mean" else
             np.sum(terms) if loss.reduce == "sum" else np.mean(terms))
        if hyper.l2:
            J = J + 0.5 * hyper.l2 * sum(float(np.sum(np.asarray(v, f) ** 2)) for k, v in trace.items()
                                         if re.fullmatch(r"[Wb]\[\d+\]", k))
        S["J"] = np.asarray(J)
        deltas = [None] * net.depth
        dJ_v = np.asarray(trace["dJ_dyhat"], f)
        deriv_last = np.abs(np.asarray(trace[f"deriv[{net.layer_number(last)}]"], f))
        out = net.activations[last]
        if out.name in loss.delta_after and not out.elementwise:     # softmax + cce: δ = (ŷ − y)/n, one subtraction
            deltas[last] = (np.abs(y) + S_prev) / np.shape(y)[axis]
        elif not out.elementwise:                                     # ∂J/∂ŷ · Jacobian, each example
            deltas[last] = (jacobian_product(dJ, deriv_last, out.params["axis"])
                            + jacobian_product(np.abs(dJ_v), S_deriv[last], out.params["axis"]))
        else:
            deltas[last] = dJ * deriv_last + np.abs(dJ_v) * S_deriv[last]
        for l in range(last, 0, -1):
            n = net.layer_number(l)
            W = np.abs(np.asarray(trace[f"W[{net.first_weight + l}]"], f))
            dA_in = mm(deltas[l], W.T) if rows else mm(W.T, deltas[l])
            S[f"dA[{n - 1}]"] = dA_in
            dA = L.drop_ones(dA_in, net.layout) if net.trick else dA_in
            dA_v = np.abs(np.asarray(trace.get(f"dA[{n - 1}]", dA_in), f))
            dA_v = L.drop_ones(dA_v, net.layout) if net.trick else dA_v
            deriv = np.abs(np.asarray(trace[f"deriv[{n - 1}]"], f))
            deltas[l - 1] = dA * deriv + dA_v * S_deriv[l - 1]
            if net.trick and f"deriv_aug[{n - 1}]" in trace:
                d_aug = L.with_ones(S_deriv[l - 1], net.layout)
                S[f"deriv_aug[{n - 1}]"] = d_aug
                S[f"delta_aug[{n - 1}]"] = (dA_in * np.abs(np.asarray(trace[f"deriv_aug[{n - 1}]"], f))
                                            + np.abs(np.asarray(trace[f"dA[{n - 1}]"], f)) * d_aug)
        n0 = net.layer_number(0)                # ∂J/∂X = δ(first)·Wᵀ: the walk one layer further
        W0 = np.abs(np.asarray(trace[f"W[{net.first_weight}]"], f))
        dA0 = mm(deltas[0], W0.T) if rows else mm(W0.T, deltas[0])
        S[f"dA[{n0 - 1}]"] = dA0
        S["dX"] = L.drop_ones(dA0, net.layout) if net.trick else dA0
        for l in range(net.depth):
            n = net.layer_number(l)
            S[f"delta[{n}]"] = deltas[l]
            k = net.first_weight + l
            g = mm(S_in_by_layer[l].T, deltas[l]) if rows else mm(deltas[l], S_in_by_layer[l].T)
            b = np.sum(deltas[l], axis=net.example_axis, keepdims=True)
            if hyper.l2:
                g = g + hyper.l2 * np.abs(np.asarray(trace[f"W[{k}]"], f))
                b = b + hyper.l2 * np.abs(np.asarray(trace.get(f"b[{k}]", 0.0), f))
            S[f"grad.W[{k}]"] = g
            if f"grad.b[{k}]" in trace:
                S[f"grad.b[{k}]"] = b.reshape(np.shape(trace[f"grad.b[{k}]"]))
        if hyper.rule == "batch":               # one step on the whole batch: W_new = W − α·s·∂J/∂W (or the optimizer's)
            n = int(np.shape(trace["X"])[net.example_axis])
            for k in list(S):
                m = re.fullmatch(r"grad\.([Wb])\[(\d+)\]", k)
                if m and f"{m.group(1)}[{m.group(2)}]" in trace:
                    P = np.asarray(trace[f"{m.group(1)}[{m.group(2)}]"], f)
                    S.update(first_update_scales(hyper, n, m.group(1), m.group(2), P, np.asarray(trace[k], f), S[k]))
    except (KeyError, ValueError):        # a trace without every key of the walk: those keys keep the per-quantity rules
        pass
    return S

