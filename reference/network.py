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

import numpy as np

from . import batches as B
from . import layout as L
from . import optimizers as O
from .contract import Backward, Forward, History, Training
from .spec import Hyper, Net


# --------------------------------------------------------------------------- arrays

def tensor(net: Net, x_np) -> np.ndarray:
    return np.array(x_np, dtype=net.dtype)


def numpy(x) -> np.ndarray:
    return np.array(x)


def load(net: Net, params_np: dict) -> dict:
    return {name: np.array(p, dtype=net.dtype) for name, p in params_np.items()}


def parameters(net: Net, params: dict) -> dict:
    return params


# --------------------------------------------------------------------------- one step, by hand

def forward(net: Net, params: dict, X: np.ndarray, input_gradient: bool = True) -> Forward:
    Z, A, A_in = [], [X], []
    for l in range(net.depth):
        A_prev = L.with_ones(A[-1], net.layout) if net.trick else A[-1]      # [step:bias-trick] [A | 1]
        b = params[net.b_name(l)] if net.has_b else None
        Z_l = L.affine(A_prev, params[net.W_name(l)], b, net.layout)        # [step:forward-affine] Z = A·W (+ b)
        A_in.append(A_prev)
        Z.append(Z_l)
        A.append(net.activations[l].g(Z_l))                                 # [step:forward-activation] A = g(Z)
    return Forward(Z, A, A_in, input_gradient=input_gradient)


def backward(net: Net, params: dict, fwd: Forward, y: np.ndarray, hyper: Hyper) -> Backward:
    last = net.depth - 1
    deriv = [net.activations[l].g_prime(fwd.Z[l], fwd.A[l + 1]) for l in range(net.depth)]   # g'(Z), σ(Z) = A reused
    dJ_dyhat = net.loss.dJ_dyhat(y, fwd.A[-1], net.example_axis)
    delta = [None] * net.depth
    dA_in = [None] * net.depth
    fused = net.loss.delta_after.get(net.activations[last].name)              # sigmoid + BCE, softmax + CCE: δ = (ŷ − y)/N
    if fused is not None:
        delta[last] = fused(y, fwd.Z[last], net.example_axis)                # [step:output-delta] dZ = (A − Y)/m
    else:
        delta[last] = net.activations[last].backprop(dJ_dyhat, deriv[last])  # [step:output-delta] ∂J/∂ŷ ⊙ g'(Z) (softmax: · Jacobian)
    for l in range(last, 0, -1):
        dA_in[l] = L.backprop_error(delta[l], params[net.W_name(l)], net.layout)   # [step:hidden-delta] δ·Wᵀ
        dA = L.drop_ones(dA_in[l], net.layout) if net.trick else dA_in[l]         # [step:hidden-delta] drop the bias unit
        delta[l - 1] = dA * deriv[l - 1]                                     # [step:hidden-delta]
    if fwd.input_gradient:
        dA_in[0] = L.backprop_error(delta[0], params[net.W_name(0)], net.layout)  # [step:input-gradient] ∂J/∂X = δ(first)·Wᵀ
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
        if net.has_b:
            grads[net.b_name(l)] = L.bias_grad(bwd.delta[l], net.layout, net.bias == "shared")  # ∂J/∂b = Σ δ
    if hyper.l2:
        for name in grads:                                                   # + λ·W   (J += ½λΣW²)
            grads[name] = grads[name] + hyper.l2 * l2_mask(net, hyper, name, params[name].shape) * params[name]  # [step:l2]
    return grads


def cost(net: Net, params: dict, yhat: np.ndarray, y: np.ndarray, hyper: Hyper):
    """J, including ½·λ·ΣW² when λ > 0."""
    J = net.loss.J(y, yhat, net.example_axis)                                # [step:cost]
    if hyper.l2:
        J = J + 0.5 * hyper.l2 * sum(np.sum(l2_mask(net, hyper, n, p.shape) * p ** 2) for n, p in params.items())
    return J


def cost_each(net: Net, yhat: np.ndarray, y: np.ndarray) -> np.ndarray:
    return net.loss.J_each(y, yhat, net.example_axis)


def optimizer(net: Net, params: dict, hyper: Hyper, n: int) -> O.State:
    """By hand the optimizer is its step size α·s and, beyond SGD, its state (reference/optimizers.py)."""
    return O.State(hyper, scale=hyper.scale(n))             # [step:update] α·(1/n)


def step(net: Net, params: dict, grads: dict, hyper: Hyper, opt: O.State) -> dict:
    """W ← W − α·s·∂J/∂W (or the case's optimizer) for every parameter that is not frozen. Returns new arrays."""
    opt.t += 1
    return {name: p if name in net.frozen else O.update(opt, name, p, grads[name])   # [step:update]
            for name, p in params.items()}


def one_step(net: Net, params: dict, X, y, hyper: Hyper, opt: O.State | None = None) -> dict:
    """Forward, backward, gradients, update — on the batch (X, y); a fresh optimizer unless one is given.
    The update needs ∂J/∂W only: ∂J/∂X (a third large product, δ(1)·W(1)ᵀ) is not computed."""
    fwd = forward(net, params, X, input_gradient=False)
    bwd = backward(net, params, fwd, y, hyper)
    grads = gradients(net, params, fwd, bwd, hyper)
    opt = opt if opt is not None else optimizer(net, params, hyper, L.n_examples(X, net.layout))
    return step(net, params, grads, hyper, opt)


def epoch(net: Net, params: dict, X, y, hyper: Hyper, opt: O.State | None = None, e: int = 0) -> dict:
    """One pass over the data: one batch step, one SGD step per example in data order, or one step per
    minibatch in epoch ``e``'s order (reference/batches.py)."""
    if hyper.rule == "batch":
        return one_step(net, params, X, y, hyper, opt)
    n = L.n_examples(X, net.layout)
    opt = opt if opt is not None else optimizer(net, params, hyper, hyper.step_size(n))
    for idx in B.batches(hyper, n, e):
        params = one_step(net, params, L.examples(X, idx, net.layout), L.examples(y, idx, net.layout), hyper, opt)
    return params


def predict(net: Net, params: dict, X) -> np.ndarray:
    return forward(net, params, X).A[-1]


def train(net: Net, params_np: dict, X_np, y_np, hyper: Hyper, every_epoch: bool = False) -> Training:
    """Every epoch of the update rule; costs[0] is J before any update."""
    params, X, y = load(net, params_np), tensor(net, X_np), tensor(net, y_np)
    opt = optimizer(net, params, hyper, hyper.step_size(L.n_examples(X, net.layout)))
    history = History(params, every_epoch)
    costs = [cost(net, params, predict(net, params, X), y, hyper)]
    state = {}
    for e in range(hyper.epochs):
        params = epoch(net, params, X, y, hyper, opt, e)
        history.append(params)
        costs.append(cost(net, params, predict(net, params, X), y, hyper))
        if e == 0 or e == hyper.epochs - 1:
            state["opt_new" if e == 0 else "opt"] = opt.snapshot()
    return Training(history, np.asarray(costs), state=O.traced(hyper, state))


def J_of(net: Net, X_np, y_np, hyper: Hyper):
    """J as a function of the parameters alone: what gradient checking differentiates."""
    X, y = tensor(net, X_np), tensor(net, y_np)

    def J(params_np):
        yhat = predict(net, params_np, X)
        return cost(net, params_np, yhat, y, hyper), yhat
    return J


def missing(net: Net) -> dict:
    return {}


def describe(net: Net, hyper: Hyper, X_np, fwd: Forward, training: Training | None) -> dict:
    """The article's own conventions, in the words the mirrors' mappings use (the report's first column)."""
    h = hyper
    shapes = ", ".join(f"{n} {s}" for n, s in net.param_shapes().items())
    n = X_np.shape[net.example_axis]
    scale = "1/n" if h.grad_scale == "1/n" else "1"
    out = {
        "parameters": f"{shapes}: NumPy arrays in the article's {net.layout} layout"
                      + (" (bias trick: the bias is the last row of W)" if net.trick and net.layout == "rows" else
                         " (bias trick: the bias is the last column of W)" if net.trick else
                         " (one b per layer, shared by its units: (1, 1), broadcast over Z; ∂J/∂b = Σ δ over "
                         "examples and units)" if net.bias == "shared" else ""),
        "forward": ("Z = A·W" if net.layout == "rows" else "Z = W·A") + (" + b" if net.has_b else "")
                   + (" with A = [A | 1]" if net.trick else "") + "; A = g(Z) — "
                   + ", ".join(a.label for a in net.activations),
        "loss": net.loss.formula,
        "deltas": output_delta_words(net) + "; δ(l) = (δ(l+1)·Wᵀ) ⊙ g'(Z)" + (", bias column dropped" if net.trick else "")
                  + "; written by hand",
        "learning rate": f"α = {h.learning_rate:g}, s = {scale}" + (f" (n = {h.step_size(n)})" if scale == "1/n" else ""),
        "update": ((("W ← W − α·∂J/∂W" if h.rule == "sgd" else "W ← W − α·s·∂J/∂W") if h.optimizer == "sgd" else
                     f"{O.describe(h)}: {O.FORMS[h.optimizer][O.form(h)]}, by hand (reference/optimizers.py)")
                    + " " + B.words(h, n)) + f", {h.epochs} epoch(s)"
                  + (f"; frozen: {', '.join(sorted(net.frozen))}" if net.frozen else ""),
    }
    if h.l2:
        out["L2"] = f"J += ½λΣW², ∂J/∂W += λW, λ = {h.l2:g}" + ("" if h.l2_bias else " (biases not regularized)")
    return out


def output_delta_words(net: Net) -> str:
    """How the reference writes δ(L), in words: the fused forms, softmax's Jacobian, or ∂J/∂ŷ ⊙ g'(Z)."""
    out = net.activations[-1]
    if out.name in net.loss.delta_after:
        return (f"δ(L) = (ŷ − y)/{'n' if net.loss.reduce == 'example_mean' else 'N'} in one piece "
                f"({net.loss.name} after {out.name})")
    if not out.elementwise:
        return f"δ(L) = ∂J/∂ŷ · g'(Z), g'(Z) each example's {net.sizes[-1]} × {net.sizes[-1]} Jacobian ({out.name})"
    return "δ(L) = ∂J/∂ŷ ⊙ g'(Z)"

