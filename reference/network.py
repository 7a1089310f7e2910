"""The hand-written network: forward pass, backprop deltas, gradients, update.

Read it beside Florian Courtial, "Deep Neural Network from scratch" (chapters
3–8) and the deeplearning.ai notes ("Forward Propagation in a Deep Network",
"Getting matrix dimensions right"). Symbols are theirs: X, W, b, Z, A, δ, J.

    forward:   A(0) = X;  Z(l) = A(l−1)·W(l) (+ b);  A(l) = g(Z(l))
    output δ:  δ(L) = ∂J/∂ŷ ⊙ g'(Z(L))            (half_sse: −(y − ŷ) ⊙ g'(Z))
    hidden δ:  δ(l) = (δ(l+1)·W(l+1)ᵀ) ⊙ g'(Z(l))  — under the bias trick, the
               bias unit's column of δ(l+1)·Wᵀ is dropped first: it has no link back
    gradient:  ∂J/∂W(l) = A(l−1)ᵀ·δ(l)             (rows; δ·Aᵀ in columns layout)
    update:    W ← W − α·s·∂J/∂W,  s = 1/n (Courtial) or 1

Every matrix product runs over the whole batch at once; only per-sample SGD
(Zhou) walks the examples one by one, because that is the algorithm.
``params`` is a dict {"W1": array, "b1": array, …} in the article's layout.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import gradcheck as GC
from . import layout as L
from .spec import Hyper, key, Net, param_key, training_keys


@dataclass
class Forward:
    Z: list          # Z[l], l = 0 … depth−1
    A: list          # A[0] = X, A[l+1] = g(Z[l])
    A_in: list       # the input each layer multiplies: A[l], or [A[l] | 1] under the bias trick


@dataclass
class Backward:
    dJ_dyhat: np.ndarray
    deriv: list      # g'(Z[l])
    delta: list      # δ[l] = ∂J/∂Z[l]
    dA_in: list      # ∂J/∂A_in[l] = δ[l]·Wᵀ, for l ≥ 1 (index 0 unused: X needs no error)


def forward(net: Net, params: dict, X: np.ndarray) -> Forward:
    Z, A, A_in = [], [X], []
    for l in range(net.depth):
        A_prev = L.with_ones(A[-1], net.layout) if net.trick else A[-1]      # [step:bias-trick] [A | 1]
        b = params[net.b_name(l)] if net.bias == "vectors" else None
        Z_l = L.affine(A_prev, params[net.W_name(l)], b, net.layout)        # [step:forward-affine] Z = A·W (+ b)
        A_in.append(A_prev)
        Z.append(Z_l)
        A.append(net.activations[l].g(Z_l))                                 # [step:forward-activation] A = g(Z)
    return Forward(Z, A, A_in)


def backward(net: Net, params: dict, fwd: Forward, y: np.ndarray) -> Backward:
    last = net.depth - 1
    deriv = [net.activations[l].g_prime(fwd.Z[l]) for l in range(net.depth)]
    dJ_dyhat = net.loss.dJ_dyhat(y, fwd.A[-1])
    delta = [None] * net.depth
    dA_in = [None] * net.depth
    delta[last] = dJ_dyhat * deriv[last]                                     # [step:output-delta]
    for l in range(last, 0, -1):
        dA_in[l] = L.backprop_error(delta[l], params[net.W_name(l)], net.layout)   # [step:hidden-delta] δ·Wᵀ
        dA = L.drop_ones(dA_in[l], net.layout) if net.trick else dA_in[l]         # [step:hidden-delta] drop the bias unit
        delta[l - 1] = dA * deriv[l - 1]                                     # [step:hidden-delta]
    return Backward(dJ_dyhat, deriv, delta, dA_in)


def l2_mask(net: Net, hyper: Hyper, pname: str, shape) -> np.ndarray | float:
    """Which entries of a parameter the L2 term reaches (1) or not (0)."""
    if pname.startswith("b"):
        return 1.0 if hyper.l2_bias else 0.0
    return L.weight_mask(shape, net.layout, net.trick, hyper.l2_bias)


def gradients(net: Net, params: dict, fwd: Forward, bwd: Backward, hyper: Hyper) -> dict:
    grads = {}
    for l in range(net.depth):
        W = net.W_name(l)
        grads[W] = L.weight_grad(fwd.A_in[l], bwd.delta[l], net.layout)     # [step:weight-gradient] ∂J/∂W = Aᵀ·δ
        if net.bias == "vectors":
            grads[net.b_name(l)] = L.bias_grad(bwd.delta[l], net.layout)    # ∂J/∂b = Σ δ
    if hyper.l2:
        for name in grads:                                                   # + λ·W   (J += ½λΣW²)
            grads[name] = grads[name] + hyper.l2 * l2_mask(net, hyper, name, params[name].shape) * params[name]  # [step:l2]
    return grads


def cost(net: Net, params: dict, yhat: np.ndarray, y: np.ndarray, hyper: Hyper):
    """J, including ½·λ·ΣW² when λ > 0."""
    J = net.loss.J(y, yhat)                                                  # [step:cost]
    if hyper.l2:
        J = J + 0.5 * hyper.l2 * sum(np.sum(l2_mask(net, hyper, n, p.shape) * p ** 2) for n, p in params.items())
    return J


def step(net: Net, params: dict, grads: dict, hyper: Hyper, n: int) -> dict:
    """W ← W − α·s·∂J/∂W for every parameter that is not frozen. Returns new arrays."""
    rate = hyper.learning_rate * hyper.scale(n)                              # [step:update] α·(1/n)
    return {name: p if name in net.frozen else p - rate * grads[name] for name, p in params.items()}  # [step:update]


def one_step(net: Net, params: dict, X, y, hyper: Hyper) -> dict:
    """Forward, backward, gradients, update — on the batch (X, y)."""
    fwd = forward(net, params, X)
    bwd = backward(net, params, fwd, y)
    grads = gradients(net, params, fwd, bwd, hyper)
    return step(net, params, grads, hyper, L.n_examples(X, net.layout))


def epoch(net: Net, params: dict, X, y, hyper: Hyper) -> dict:
    """One pass over the data: one batch step, or one SGD step per example in data order."""
    if hyper.rule == "batch":
        return one_step(net, params, X, y, hyper)
    for i in range(L.n_examples(X, net.layout)):
        params = one_step(net, params, L.example(X, i, net.layout), L.example(y, i, net.layout), hyper)
    return params


def predict(net: Net, params: dict, X) -> np.ndarray:
    return forward(net, params, X).A[-1]


def train(net: Net, params: dict, X, y, hyper: Hyper):
    """Returns (params after each epoch, costs): costs[0] is J before any update."""
    history = [params]
    costs = [cost(net, params, predict(net, params, X), y, hyper)]
    for _ in range(hyper.epochs):
        params = epoch(net, params, X, y, hyper)
        history.append(params)
        costs.append(cost(net, params, predict(net, params, X), y, hyper))
    return history, np.asarray(costs)


def J_of(net: Net, X, y, hyper: Hyper):
    """J as a function of the parameters alone: what gradient checking differentiates."""
    def J(params):
        yhat = predict(net, params, X)
        return cost(net, params, yhat, y, hyper), yhat
    return J


def trace(net: Net, params: dict, X, y, hyper: Hyper, inputs: dict | None = None) -> dict:
    """Every number of one step (and of training), keyed as case files name them."""
    t: dict = {"X": X, "n_params": float(net.n_params())}
    fwd = forward(net, params, X)
    for l in range(net.depth):
        n = net.layer_number(l)
        t[key("Z", n)] = fwd.Z[l]
        t[key("A", n)] = fwd.A[l + 1]
        if net.trick:
            t[key("A_aug", n - 1)] = fwd.A_in[l]
    t[key("A", net.first_layer - 1)] = X
    for name, p in params.items():
        t[param_key("", name)] = p
    t["yhat"] = fwd.A[-1]
    if y is None:                      # a forward-only case
        return t
    t["y"] = y
    t["error"] = y - fwd.A[-1]
    bwd = backward(net, params, fwd, y)
    grads = gradients(net, params, fwd, bwd, hyper)
    t["J"] = cost(net, params, fwd.A[-1], y, hyper)
    t["J_each"] = net.loss.J_each(y, fwd.A[-1], net.example_axis)
    t["dJ_dyhat"] = bwd.dJ_dyhat
    for l in range(net.depth):
        n = net.layer_number(l)
        t[key("deriv", n)] = bwd.deriv[l]
        t[key("delta", n)] = bwd.delta[l]
        if l >= 1:
            t[key("dA", n - 1)] = bwd.dA_in[l]
            if net.trick:   # Courtial's printed forms, with the bias unit's column kept
                deriv_aug = net.activations[l - 1].g_prime(L.with_ones(fwd.Z[l - 1], net.layout))
                t[key("deriv_aug", n - 1)] = deriv_aug
                t[key("delta_aug", n - 1)] = bwd.dA_in[l] * deriv_aug
    for name, g in grads.items():
        t[param_key("grad", name)] = g
    history, costs = train(net, params, X, y, hyper)
    t["costs"] = costs
    t.update(training_keys(history))
    for name, x in (inputs or {}).items():
        t[f"predict.{name}"] = predict(net, history[-1], x)
    t.update(GC.check(params, grads, J_of(net, X, y, hyper), hyper))
    if hyper.probe:
        t.update(GC.probe(hyper, history[1], J_of(net, X, y, hyper), "gradcheck.probe_new"))
    return t
