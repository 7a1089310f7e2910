"""Trace assembly, once for every backend style: run a style's step functions, key every number.

``trace(S, net, params, X, y, hyper, inputs)`` calls the functions of the contract
(``reference/contract.py``) on the style module ``S`` — forward, cost, backward,
gradients, train, J_of — and files each result under the key case files use
(``Z[2]``, ``delta[3]``, ``grad.W[1]``, ``W_new[1]``, ``gradcheck.numerical.W[1]`` …).
Nothing here knows a framework: values come back through ``S.numpy``.
"""

from __future__ import annotations

import numpy as np

from . import batches as B
from . import gradcheck as GC
from .losses import ONE_HOT
from . import layout as L
from .spec import key, param_key, training_keys


def trace(S, net, params, X_np, y_np, hyper, inputs: dict | None = None) -> tuple[dict, dict, dict]:
    """(values, missing, mapping): every number of one step and of training."""
    to_np = S.numpy
    X = S.tensor(net, X_np)
    P = S.load(net, params)
    named = S.parameters(net, P)
    t: dict = {"X": to_np(X), "n_params": float(sum(np.size(to_np(p)) for p in named.values()))}
    missing = dict(S.missing(net))
    fwd = S.forward(net, P, X)
    for l in range(net.depth):
        n = net.layer_number(l)
        t[key("Z", n)] = to_np(fwd.Z[l])
        t[key("A", n)] = to_np(fwd.A[l + 1])
        if net.trick:
            t[key("A_aug", n - 1)] = to_np(fwd.A_in[l])
    t[key("A", net.first_layer - 1)] = to_np(X)
    for name, p in named.items():
        t[param_key("", name)] = to_np(p)
    t["yhat"] = to_np(fwd.A[-1])
    if y_np is None:                   # a forward-only case
        return without(t, missing), missing, S.describe(net, hyper, X_np, fwd, None)
    y = S.tensor(net, y_np)
    t["y"] = to_np(y)
    t["error"] = t["y"] - t["yhat"]
    t["J"] = to_np(S.cost(net, P, fwd.A[-1], y, hyper))
    t["J_each"] = to_np(S.cost_each(net, fwd.A[-1], y))
    bwd = S.backward(net, P, fwd, y, hyper)
    grads = {name: to_np(g) for name, g in S.gradients(net, P, fwd, bwd, hyper).items()}
    t["dJ_dyhat"] = to_np(bwd.dJ_dyhat)
    for l in range(net.depth):
        n = net.layer_number(l)
        t[key("deriv", n)] = to_np(bwd.deriv[l])
        t[key("delta", n)] = to_np(bwd.delta[l])
        if l >= 1 or net.trick:          # at the input, dA is ∂J/∂[X | 1]; without the trick it would be dX again
            t[key("dA", n - 1)] = to_np(bwd.dA_in[l])
    t["dX"] = input_gradient(net, to_np(bwd.dA_in[0]), t["X"])
    t.update(courtial_aug(net, t, missing))
    for name, g in grads.items():
        t[param_key("grad", name)] = g
    every = net.loss.name in ONE_HOT and hyper.epochs * net.n_params() <= EVERY_EPOCH_NUMBERS
    training = S.train(net, params, X_np, y_np, hyper, every_epoch=every)
    t["costs"] = np.asarray(training.costs)
    if every:
        t["accuracy"] = accuracy(S, net, training.history, X_np, y_np, hyper)
    if hyper.rule == "minibatch" and hyper.shuffle_seed is not None:
        # what every framework was fed, in the run's dtype (example indexes are exact in float32 below 2²⁴)
        t["order"] = B.orders(hyper, L.n_examples(X_np, net.layout)).astype(net.dtype)
    t.update(training_keys(training.history))
    t.update({k: np.asarray(v, dtype=net.dtype) if k.endswith(".t") else v for k, v in training.state.items()})
    final = S.load(net, training.history[-1])
    for name, x in (inputs or {}).items():
        t[f"predict.{name}"] = to_np(S.predict(net, final, S.tensor(net, x)))
    grads, J = gradcheck_inputs(S, net, params, X_np, y_np, hyper, grads)
    t.update(GC.check(params, grads, J, hyper))
    if hyper.probe:
        t.update(GC.probe(hyper, training.history[1], J, "gradcheck.probe_new"))
    return without(t, missing), missing, S.describe(net, hyper, X_np, fwd, training)


EVERY_EPOCH_NUMBERS = 10 ** 7     # a classifier's accuracy per epoch needs every epoch's parameters: at most this many


def accuracy(S, net, history, X_np, y_np, hyper) -> np.ndarray:
    """The share of examples whose largest output is their class, for each recorded epoch's parameters: each
    framework's own predictions (ŷ of S.J_of, one compiled evaluation for every epoch), compared here."""
    evaluate, axis = S.J_of(net, X_np, y_np, hyper), 1 - net.example_axis
    truth = np.argmax(y_np, axis=axis)
    return np.asarray([np.mean(np.argmax(evaluate(p)[1], axis=axis) == truth) for p in history],
                      dtype=net.dtype)                 # in the run's dtype, like every other number of its trace


def gradcheck_inputs(S, net, params, X_np, y_np, hyper, grads):
    """(∂J/∂W, J(params)) that gradient checking compares: on every example, or — ``[gradcheck] examples = N``,
    for a run too large to perturb every parameter on all the data — on the first N, with ∂J/∂W of those N
    from the style's own forward and backward."""
    k, n = hyper.gradcheck_examples, L.n_examples(X_np, net.layout)
    if not k or k >= n:
        return grads, S.J_of(net, X_np, y_np, hyper)
    first = np.arange(k)
    Xg, yg = L.examples(X_np, first, net.layout), L.examples(y_np, first, net.layout)
    P, X, y = S.load(net, params), S.tensor(net, Xg), S.tensor(net, yg)
    fwd = S.forward(net, P, X)
    bwd = S.backward(net, P, fwd, y, hyper)
    return ({name: S.numpy(g) for name, g in S.gradients(net, P, fwd, bwd, hyper).items()},
            S.J_of(net, Xg, yg, hyper))


def without(t: dict, missing: dict) -> dict:
    """The values, less the keys the style declares it has no counterpart for (values and missing never overlap)."""
    return {k: v for k, v in t.items() if k not in missing}


def input_gradient(net, dA0: np.ndarray, X: np.ndarray) -> np.ndarray:
    """∂J/∂X in X's shape: the first layer's ∂J/∂A_in, less the bias unit's column (row) when the style
    differentiated [X | 1] (a style whose layer adds its bias itself differentiates X alone)."""
    return L.drop_ones(dA0, net.layout) if net.trick and np.shape(dA0) != np.shape(X) else dA0


def courtial_aug(net, t: dict, missing: dict) -> dict:
    """Courtial's printed forms with the bias unit's column kept (bias trick, hidden layers):
    g'([Z | 1]) and (δ·Wᵀ) ⊙ g'([Z | 1]). Display only — no derivative of J — so a style that
    differentiates declares them missing; where it does not, they come from its own Z and dA."""
    out = {}
    if not net.trick:
        return out
    for l in range(1, net.depth):
        n = net.layer_number(l)
        if key("deriv_aug", n - 1) in missing:
            continue
        deriv_aug = net.activations[l - 1].g_prime(L.with_ones(t[key("Z", n - 1)], net.layout))
        out[key("deriv_aug", n - 1)] = deriv_aug
        out[key("delta_aug", n - 1)] = t[key("dA", n - 1)] * deriv_aug
    return out


def trace_case(backend: str, style: str, S, case, notes: dict | None = None):
    """One style of one backend on one case: a :class:`reference.contract.Trace`."""
    import time

    from .contract import Trace
    start = time.perf_counter()
    values, missing, mapping = {}, {}, {}
    if case.net is not None:
        values, missing, mapping = trace(S, case.net, case.params, case.X, case.y, case.hyper, case.inputs)
    mapping = {**mapping, **(notes or {})}
    return Trace(backend, style, values, missing, time.perf_counter() - start, mapping)
