"""The "autograd" style: the article's network on torch tensors, differentiated by autograd.

Read it beside ``reference/network.py`` — same functions, same names (X, W, b, Z,
A, delta, J), same order. What changes is who does the calculus:

    forward:   as the article writes it, on tensors: [A | 1] by torch.cat, Z = A·W (+ b), A = g(Z)
    δ = ∂J/∂Z: Z.retain_grad() before J.backward(); δ is Z.grad afterwards
    ∂J/∂A:     A_in.retain_grad() (under the bias trick A_in = [A | 1]: the bias unit's column included)
    ∂J/∂W:     W.grad (+ the weight decay SGD adds, so that it equals the reference's ∂J/∂W with λW)
    update:    torch.optim.SGD(lr = α·s, weight_decay = λ), one .step() per batch (or per example)

``params`` is a dict {"W1": tensor, "b1": tensor, …} of leaf tensors
(requires_grad=True) in the article's layout. Frozen parameters keep
requires_grad (their gradient is reported) but are left out of the optimizer.
"""

from __future__ import annotations

import numpy as np
import torch

from backprop_parity.reference.network import Backward, Forward  # the reference's containers
from backprop_parity.reference.spec import Hyper, key, Net, param_key, training_keys

from . import activations as ACT
from . import gradcheck as GC
from . import layout as L
from . import losses as LOSS


def leaves(net: Net, params: dict) -> dict:
    """The article's initial parameters as fresh leaf tensors (exact copies, case dtype)."""
    return {name: L.tensor(p, net.dtype).requires_grad_(True) for name, p in params.items()}


def forward(net: Net, params: dict, X: torch.Tensor) -> Forward:
    Z, A, A_in = [], [X], []
    for l in range(net.depth):
        A_prev = L.with_ones(A[-1], net.layout) if net.trick else A[-1]      # [step:bias-trick] torch.cat([A, ones])
        b = params[net.b_name(l)] if net.bias == "vectors" else None
        Z_l = L.affine(A_prev, params[net.W_name(l)], b, net.layout)        # [step:forward-affine] Z = A @ W (+ b)
        A_in.append(A_prev)
        Z.append(Z_l)
        A.append(ACT.g(net.activations[l], Z_l))                            # [step:forward-activation] A = g(Z)
    return Forward(Z, A, A_in)


# --------------------------------------------------------------------------- L2
# SGD's weight_decay adds λ·p to a whole tensor's gradient. Where L2 reaches a
# whole tensor (every W; b when l2_bias), weight_decay = λ does it. Under the bias
# trick with l2_bias = false, L2 must skip one row (column) of W: weight_decay
# cannot, so that tensor's masked penalty ½λΣ(M⊙W)² is put into the graph instead
# and autograd adds λ·M⊙W to W.grad (its weight_decay is 0).

def l2_mask(net: Net, hyper: Hyper, pname: str, p: torch.Tensor):
    """Which entries of a parameter the L2 term reaches (1) or not (0)."""
    if pname.startswith("b"):
        return 1.0 if hyper.l2_bias else 0.0
    return L.weight_mask(tuple(p.shape), net.layout, net.trick, hyper.l2_bias, p.dtype)


def in_graph(net: Net, hyper: Hyper, pname: str) -> bool:
    """Does this parameter's L2 term go into the autograd graph (weight_decay cannot express it)?"""
    return bool(hyper.l2) and net.trick and not hyper.l2_bias and pname.startswith("W")


def weight_decay(net: Net, hyper: Hyper, pname: str) -> float:
    """SGD's weight_decay for one parameter: λ where L2 reaches the whole tensor, else 0."""
    if not hyper.l2 or in_graph(net, hyper, pname):
        return 0.0
    return hyper.l2 if (pname.startswith("W") or hyper.l2_bias) else 0.0


def l2_penalty(net: Net, hyper: Hyper, params: dict, names=None):
    """½·λ·Σ (M⊙W)² over ``names`` (default: every parameter), computed with torch."""
    names = list(params) if names is None else names
    terms = [(l2_mask(net, hyper, n, params[n]) * params[n] ** 2).sum() for n in names]
    return 0.5 * hyper.l2 * sum(terms)                                       # [step:l2] ½λΣW²


def cost(net: Net, params: dict, yhat, y, hyper: Hyper):
    """J, including ½·λ·ΣW² when λ > 0 (what the trace reports and gradient checking differentiates)."""
    J = LOSS.make(net.loss.name).J(y, yhat)                                  # [step:cost] the loss module
    if hyper.l2:
        J = J + l2_penalty(net, hyper, params)
    return J


def graph_cost(net: Net, params: dict, yhat, y, hyper: Hyper):
    """What J.backward() differentiates: the loss, plus the L2 terms weight_decay cannot express."""
    J = LOSS.make(net.loss.name).J(y, yhat)                                  # [step:cost]
    names = [n for n in params if in_graph(net, hyper, n)]
    return J + l2_penalty(net, hyper, params, names) if names else J         # [step:l2] masked, in the graph


def backward(net: Net, params: dict, fwd: Forward, y, hyper: Hyper) -> Backward:
    last = net.depth - 1
    yhat = fwd.A[-1]
    yhat.retain_grad()                                                       # ∂J/∂ŷ
    for Z in fwd.Z:
        Z.retain_grad()                                                      # [step:hidden-delta] keep δ = ∂J/∂Z
    for A_in in fwd.A_in[1:]:
        A_in.retain_grad()                                                   # [step:hidden-delta] keep ∂J/∂A (= δ·Wᵀ)
    graph_cost(net, params, yhat, y, hyper).backward()                       # [step:weight-gradient] autograd, right to left
    deriv = [ACT.g_prime(net.activations[l], fwd.Z[l]) for l in range(net.depth)]
    delta = [None] * net.depth
    dA_in = [None] * net.depth
    delta[last] = fwd.Z[last].grad                                           # [step:output-delta] δ(L) = Z(L).grad
    for l in range(last, 0, -1):
        dA_in[l] = fwd.A_in[l].grad                                          # [step:hidden-delta] δ·Wᵀ (bias unit kept)
        delta[l - 1] = fwd.Z[l - 1].grad                                     # [step:hidden-delta] δ = Z.grad
    return Backward(yhat.grad, deriv, delta, dA_in)


def gradients(net: Net, params: dict, hyper: Hyper) -> dict:
    """∂J/∂W as SGD applies it: W.grad + weight_decay·W (= the reference's ∂J/∂W including λW)."""
    grads = {}
    for name, p in params.items():
        grads[name] = p.grad.detach().clone()                                # [step:weight-gradient] ∂J/∂W = W.grad
        wd = weight_decay(net, hyper, name)
        if wd:
            grads[name] = grads[name] + wd * p.detach()                      # [step:l2] what SGD's weight_decay adds
    return grads


def optimizer(net: Net, params: dict, hyper: Hyper, n: int) -> torch.optim.SGD:
    """torch.optim.SGD with lr = α·s (s = 1/n or 1) and one parameter group per weight_decay.

    Frozen parameters are not given to the optimizer. ``group["names"]`` keeps the
    article's names for the mapping the report prints.
    """
    groups: dict[float, list] = {}
    for name in params:
        if name not in net.frozen:
            groups.setdefault(weight_decay(net, hyper, name), []).append(name)
    rate = hyper.learning_rate * hyper.scale(n)                              # [step:update] lr = α·(1/n)
    return torch.optim.SGD([{"params": [params[n] for n in names], "names": names, "weight_decay": wd}
                            for wd, names in groups.items()], lr=rate, momentum=0.0)  # [step:l2] weight_decay = λ


def step(opt: torch.optim.SGD) -> None:
    """W ← W − lr·(W.grad + weight_decay·W) for every parameter the optimizer holds."""
    opt.step()                                                               # [step:update] torch.optim.SGD


def one_step(net: Net, params: dict, X, y, hyper: Hyper, opt) -> None:
    """Forward, backward, update — on the batch (X, y)."""
    for p in params.values():
        p.grad = None
    fwd = forward(net, params, X)
    graph_cost(net, params, fwd.A[-1], y, hyper).backward()
    step(opt)


def epoch(net: Net, params: dict, X, y, hyper: Hyper, opt) -> None:
    """One pass over the data: one batch step, or one SGD step per example in data order."""
    if hyper.rule == "batch":
        return one_step(net, params, X, y, hyper, opt)
    for i in range(L.n_examples(X, net.layout)):
        one_step(net, params, L.example(X, i, net.layout), L.example(y, i, net.layout), hyper, opt)


@torch.no_grad()
def predict(net: Net, params: dict, X) -> torch.Tensor:
    return forward(net, params, X).A[-1]


def batch_size(net: Net, X, hyper: Hyper) -> int:
    return L.n_examples(X, net.layout) if hyper.rule == "batch" else 1


def train(net: Net, params: dict, X, y, hyper: Hyper):
    """Returns (params after each epoch as NumPy arrays, costs, the optimizer); costs[0] is J before any update.

    ``params`` are the article's initial NumPy arrays: training runs on fresh leaf tensors.
    """
    W = leaves(net, params)
    opt = optimizer(net, W, hyper, batch_size(net, X, hyper))
    history = [{n: L.numpy(p) for n, p in W.items()}]
    with torch.no_grad():
        costs = [L.numpy(cost(net, W, predict(net, W, X), y, hyper))]
    for _ in range(hyper.epochs):
        epoch(net, W, X, y, hyper, opt)
        history.append({n: L.numpy(p) for n, p in W.items()})
        with torch.no_grad():
            costs.append(L.numpy(cost(net, W, predict(net, W, X), y, hyper)))
    return history, np.stack(costs), opt


def J_of(net: Net, X, y, hyper: Hyper):
    """J as a function of the parameters alone (tensors): what gradient checking differentiates."""
    @torch.no_grad()
    def J(params):
        yhat = predict(net, params, X)
        return cost(net, params, yhat, y, hyper), yhat
    return J


# --------------------------------------------------------------------------- the trace

NO_AUG = ("Courtial's display-only form: g' applied to the bias unit's constant 1 is not a derivative "
          "of anything in the graph (the ones are not a function of Z), so autograd has no counterpart")


def trace(net: Net, params: dict, X_np, y_np, hyper: Hyper, inputs: dict | None = None):
    """(values, missing, mapping): every number of one step and of training, keyed as case files name them."""
    X = L.tensor(X_np, net.dtype)
    W = leaves(net, params)
    t: dict = {"X": L.numpy(X), "n_params": float(sum(p.numel() for p in W.values()))}
    missing: dict = {}
    fwd = forward(net, W, X)
    for l in range(net.depth):
        n = net.layer_number(l)
        t[key("Z", n)] = L.numpy(fwd.Z[l])
        t[key("A", n)] = L.numpy(fwd.A[l + 1])
        if net.trick:
            t[key("A_aug", n - 1)] = L.numpy(fwd.A_in[l])
    t[key("A", net.first_layer - 1)] = L.numpy(X)
    for name, p in W.items():
        t[param_key("", name)] = L.numpy(p)
    t["yhat"] = L.numpy(fwd.A[-1])
    mapping = describe(net, hyper, X_np, fwd)
    if y_np is None:                   # a forward-only case
        return t, missing, mapping
    y = L.tensor(y_np, net.dtype)
    t["y"] = L.numpy(y)
    with torch.no_grad():
        t["error"] = L.numpy(y - fwd.A[-1])
        t["J"] = L.numpy(cost(net, W, fwd.A[-1], y, hyper))
        t["J_each"] = L.numpy(LOSS.make(net.loss.name).J_each(y, fwd.A[-1], net.example_axis))
    bwd = backward(net, W, fwd, y, hyper)
    grads = gradients(net, W, hyper)
    t["dJ_dyhat"] = L.numpy(bwd.dJ_dyhat)
    for l in range(net.depth):
        n = net.layer_number(l)
        t[key("deriv", n)] = L.numpy(bwd.deriv[l])
        t[key("delta", n)] = L.numpy(bwd.delta[l])
        if l >= 1:
            t[key("dA", n - 1)] = L.numpy(bwd.dA_in[l])
            if net.trick:
                missing[key("deriv_aug", n - 1)] = NO_AUG
                missing[key("delta_aug", n - 1)] = NO_AUG + "; the real ∂J/∂[A | 1] is dA"
    for name, g in grads.items():
        t[param_key("grad", name)] = L.numpy(g)
    history, costs, opt = train(net, params, X, y, hyper)
    t["costs"] = costs
    t.update(training_keys(history))
    final = leaves(net, history[-1])
    for name, x in (inputs or {}).items():
        t[f"predict.{name}"] = L.numpy(predict(net, final, L.tensor(x, net.dtype)))
    J = J_of(net, X, y, hyper)
    start = {n: p.detach() for n, p in W.items()}
    t.update(GC.check(start, grads, J, hyper))
    if hyper.probe:
        t.update(GC.probe(hyper, leaves(net, history[1]), J, "gradcheck.probe_new"))
    mapping.update(describe_training(net, hyper, X_np, opt))
    return t, missing, mapping


# --------------------------------------------------------------------------- the mapping the report prints

def describe(net: Net, hyper: Hyper, X_np, fwd: Forward | None) -> dict:
    """How the article's conventions map onto this style, from the objects the code uses."""
    p = {name: tuple(s) for name, s in net.param_shapes().items()}
    product = "A_in @ W" if net.layout == "rows" else "W @ A_in"
    m = {
        "style": "autograd on leaf tensors in the article's own layout",
        "parameters": (", ".join(f"{n} {s}" for n, s in p.items())
                       + f": leaf tensors, {L.torch_dtype(net.dtype)}, requires_grad=True, {net.layout} layout"),
        "forward": (f"Z = {product}" + (" + b" if net.bias == "vectors" else "")
                    + (f" with A_in = torch.cat([A, ones], dim={1 if net.layout == 'rows' else 0}) (bias trick: "
                       f"the bias is the last {'row' if net.layout == 'rows' else 'column'} of W)"
                       if net.trick else " with A_in = A")
                    + "; A = g(Z)"),
        "activations": "; ".join(f"layer {net.layer_number(l)}: {ACT.label(a)}"
                                 for l, a in enumerate(net.activations)) + "; g'(Z) by torch.autograd.grad",
        "dtype": str(L.torch_dtype(net.dtype)),
    }
    zeros = ACT.at_zero_differences(net, None if fwd is None else fwd.Z)
    if zeros:
        m["g'(0)"] = " | ".join(zeros)
    return m


def describe_training(net: Net, hyper: Hyper, X_np, opt) -> dict:
    n = L.n_examples(X_np, net.layout)
    loss = LOSS.make(net.loss.name)
    m = {
        "loss": f"{loss.formula} → {loss.code}",
        "deltas": ("Z.retain_grad() on every Z, then J.backward(): δ = Z.grad; ∂J/∂A from A_in.retain_grad()"
                   + (" — A_in = [A | 1], so dA keeps the bias unit's column" if net.trick else "")
                   + "; ∂J/∂ŷ from ŷ.retain_grad()"),
    }
    m.update(describe_optimizer(net, hyper, n, opt))
    if hyper.l2:
        graph = [name for name in net.param_names() if in_graph(net, hyper, name)]
        parts = [f"J += ½λΣW² with λ = {hyper.l2:g} (computed with torch for the reported J)"]
        decayed = [(g["names"], g["weight_decay"]) for g in opt.param_groups]
        parts.append("SGD weight_decay: " + ", ".join(f"{'/'.join(ns)} → {wd:g}" for ns, wd in decayed)
                     + " (it adds weight_decay·p to p.grad; lr = α·s multiplies it, so weight_decay = λ, not λ/n)")
        if graph:
            parts.append(f"bias trick with l2_bias = false: weight_decay would decay the bias "
                         f"{'row' if net.layout == 'rows' else 'column'} of {', '.join(graph)} too, so for "
                         f"{'them' if len(graph) > 1 else 'it'} the masked ½λΣ(M⊙W)² is added to the graph and "
                         f"autograd puts λ·M⊙W into .grad (weight_decay 0)")
        elif net.bias != "none":
            parts.append("l2_bias = " + str(hyper.l2_bias).lower()
                         + (": biases decayed too" if hyper.l2_bias else ": biases in a weight_decay = 0 group"))
        parts.append("reported grad.* = p.grad + weight_decay·p (what SGD applies)")
        m["L2"] = "; ".join(parts)
    return m


def describe_optimizer(net: Net, hyper: Hyper, n: int, opt) -> dict:
    """Learning rate, update rule and frozen parameters, read from the optimizer itself."""
    lr = opt.param_groups[0]["lr"] if opt.param_groups else hyper.learning_rate * hyper.scale(n)
    batch = n if hyper.rule == "batch" else 1
    scale = f"α·(1/n) = {hyper.learning_rate:g}·(1/{batch})" if hyper.grad_scale == "1/n" else "α"
    examples = f"{n} example{'s' if n != 1 else ''}"
    m = {
        "learning rate": (f"lr = {scale} = {lr:g}"
                          + (" (the loss module keeps the article's J = the sum; the 1/n of the update goes into lr)"
                             if hyper.grad_scale == "1/n" else " (the article's step is W − α·∂J/∂W)")),
        "update": (f"torch.optim.SGD(lr={lr:g}, momentum=0), opt.step() "
                   + (f"once per epoch on all {examples}" if hyper.rule == "batch"
                      else f"once per example in data order ({n} steps per epoch)")
                   + f", {hyper.epochs} epoch{'s' if hyper.epochs != 1 else ''}"),
    }
    if net.frozen:
        held = sorted({name for g in opt.param_groups for name in g["names"]})
        m["frozen"] = (f"{', '.join(sorted(net.frozen))} left out of the optimizer (never updated); their "
                       f"gradient is still computed and reported; optimizer holds {', '.join(held) or 'nothing'}")
    return m
