"""The "autograd" style: the article's network on torch tensors, differentiated by autograd.

Read it beside ``reference/network.py`` — same functions (the contract of
``reference/contract.py``), same names (X, W, b, Z, A, delta, J), same order.
What changes is who does the calculus:

    forward:   as the article writes it, on tensors: [A | 1] by torch.cat, Z = A @ W (+ b), A = g(Z)
    δ = ∂J/∂Z: Z.retain_grad() before J.backward(); δ is Z.grad afterwards
    ∂J/∂A:     A_in.retain_grad() (under the bias trick A_in = [A | 1]: the bias unit's column included)
    ∂J/∂W:     W.grad (+ the weight decay SGD adds, so that it equals the reference's ∂J/∂W with λW)
    update:    torch.optim.SGD(lr = α·s, weight_decay = λ), one .step() per batch (or per example);
               the case's optimizer (torch.optim.SGD with momentum/nesterov, RMSprop, Adam, AdamW) and
               its lr_schedule (lr_scheduler.LambdaLR) when it names one; the state read from opt.state

``params`` is a dict {"W1": tensor, "b1": tensor, …} of leaf tensors
(requires_grad=True) in the article's layout. Frozen parameters keep
requires_grad (their gradient is reported) but are left out of the optimizer.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from backprop_parity.reference import batches as B
from backprop_parity.reference import optimizers as O
from backprop_parity.reference.contract import Backward, Forward, History, Training
from backprop_parity.reference.spec import Hyper, key, Net

from . import activations as ACT
from . import layout as L
from . import losses as LOSS


# --------------------------------------------------------------------------- arrays

def tensor(net: Net, x_np) -> torch.Tensor:
    return L.tensor(x_np, net.dtype)


def numpy(x) -> np.ndarray:
    return L.numpy(x) if isinstance(x, torch.Tensor) else np.array(x)


def load(net: Net, params_np: dict) -> dict:
    """The article's parameters as fresh leaf tensors (exact copies, case dtype)."""
    return {name: L.tensor(p, net.dtype).requires_grad_(True) for name, p in params_np.items()}


def parameters(net: Net, params: dict) -> dict:
    return params


# --------------------------------------------------------------------------- one step, by autograd

def activation(act, Z: torch.Tensor) -> torch.Tensor:
    """A = g(Z): torch's own function for this layer's activation (``activations.label`` names it)."""
    kw = {ACT.MODULE_KEYWORDS[k]: v for k, v in ACT.forward_params(act).items()}
    if act.name == "identity":
        return Z                                                             # [step:forward-activation] A = Z
    if act.name == "sigmoid":
        return torch.sigmoid(Z)                                              # [step:forward-activation]
    if act.name == "tanh":
        return torch.tanh(Z)                                                 # [step:forward-activation]
    if act.name == "relu":
        return torch.relu(Z)                                                 # [step:forward-activation]
    if act.name == "leaky_relu":
        return F.leaky_relu(Z, **kw)                                         # [step:forward-activation] negative_slope
    if act.name == "elu":
        return F.elu(Z, **kw)                                                # [step:forward-activation] alpha
    if act.name == "softmax":
        return torch.softmax(Z, **kw)                                        # [step:forward-activation] dim = the class axis
    raise ValueError(f"no torch function for activation {act.name!r}")


def forward(net: Net, params: dict, X: torch.Tensor, input_gradient: bool = True) -> Forward:
    if input_gradient and not X.requires_grad:
        X = X.detach().requires_grad_(True)                                  # [step:input-gradient] X a leaf that keeps ∂J/∂X
    Z, A, A_in = [], [X], []
    for l in range(net.depth):
        A_prev = A[-1]
        if net.trick and net.layout == "rows":
            A_prev = torch.cat([A_prev, torch.ones((A_prev.shape[0], 1), dtype=A_prev.dtype)], dim=1)  # [step:bias-trick] [A | 1]
        elif net.trick:
            A_prev = torch.cat([A_prev, torch.ones((1, A_prev.shape[1]), dtype=A_prev.dtype)], dim=0)  # [step:bias-trick] a row of ones
        W = params[net.W_name(l)]
        Z_l = A_prev @ W if net.layout == "rows" else W @ A_prev            # [step:forward-affine] Z = A·W (columns: W·A)
        if net.has_b:
            Z_l = Z_l + params[net.b_name(l)]                                # [step:forward-affine] + b
        A_in.append(A_prev)
        Z.append(Z_l)
        A.append(activation(net.activations[l], Z_l))                       # A = g(Z)
    return Forward(Z, A, A_in, input_gradient=input_gradient)


def backpropagate(net: Net, params: dict, fwd: Forward, y: torch.Tensor, hyper: Hyper) -> None:
    """J.backward(): autograd fills each parameter's .grad (and the .grad of every tensor that retains it)."""
    for p in params.values():
        p.grad = None
    graph_cost(net, params, fwd.A[-1], y, hyper).backward()                  # [step:weight-gradient] autograd, right to left


def backward(net: Net, params: dict, fwd: Forward, y: torch.Tensor, hyper: Hyper) -> Backward:
    last = net.depth - 1
    yhat = fwd.A[-1]
    yhat.retain_grad()                                                       # ∂J/∂ŷ = ŷ.grad
    for Z_l in fwd.Z:
        Z_l.retain_grad()                                                    # [step:hidden-delta] keep δ = ∂J/∂Z
    for A_prev in fwd.A_in[0 if fwd.input_gradient else 1:]:
        A_prev.retain_grad()                                                 # [step:hidden-delta] keep ∂J/∂A (= δ·Wᵀ)
    backpropagate(net, params, fwd, y, hyper)
    deriv = [ACT.derivative(a, lambda z, a=a: activation(a, z), fwd.Z[l]) for l, a in enumerate(net.activations)]
    dJ_dyhat = yhat.grad
    delta = [None] * net.depth
    dA_in = [None] * net.depth
    delta[last] = fwd.Z[last].grad                                           # [step:output-delta] δ(L) = Z(L).grad
    for l in range(last, 0, -1):
        dA_in[l] = fwd.A_in[l].grad                                          # [step:hidden-delta] δ·Wᵀ (bias unit kept)
        delta[l - 1] = fwd.Z[l - 1].grad                                     # [step:hidden-delta] δ = Z.grad
    if fwd.input_gradient:
        dA_in[0] = fwd.A_in[0].grad                                          # [step:input-gradient] ∂J/∂X = X.grad ([X | 1].grad)
    return Backward(dJ_dyhat, deriv, delta, dA_in)


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
    terms = [(l2_mask(net, hyper, n, params[n]) * params[n] ** 2).sum() for n in names]  # [step:l2] Σ (M⊙W)²
    return 0.5 * hyper.l2 * sum(terms)                                       # [step:l2] ½λΣW²


def gradients(net: Net, params: dict, fwd: Forward, bwd: Backward, hyper: Hyper) -> dict:
    """∂J/∂W as SGD applies it: W.grad + weight_decay·W (= the reference's ∂J/∂W including λW)."""
    grads = {}
    for l in range(net.depth):
        W = net.W_name(l)
        grads[W] = params[W].grad.detach().clone()                           # [step:weight-gradient] ∂J/∂W = W.grad
        if net.has_b:
            grads[net.b_name(l)] = params[net.b_name(l)].grad.detach().clone()   # ∂J/∂b = b.grad
    if hyper.l2:
        for name in grads:                                                   # + λ·W   (J += ½λΣW²)
            wd = weight_decay(net, hyper, name)
            if wd:
                grads[name] = grads[name] + wd * params[name].detach()      # [step:l2] what SGD's weight_decay adds
    return grads


def cost(net: Net, params: dict, yhat: torch.Tensor, y: torch.Tensor, hyper: Hyper):
    """J, including ½·λ·ΣW² when λ > 0 (what the trace reports and gradient checking differentiates)."""
    loss = LOSS.make(net.loss.name)
    yhat, y = L.examples_first(yhat, net.layout), L.examples_first(y, net.layout)   # as every torch loss takes them
    J = loss.factor * loss.module(reduction=loss.reduction)(yhat, y)         # [step:cost] the torch loss module
    if hyper.l2:
        J = J + l2_penalty(net, hyper, params)
    return J


def graph_cost(net: Net, params: dict, yhat: torch.Tensor, y: torch.Tensor, hyper: Hyper):
    """What J.backward() differentiates: the loss, plus the L2 terms weight_decay cannot express."""
    loss = LOSS.make(net.loss.name)
    yhat, y = L.examples_first(yhat, net.layout), L.examples_first(y, net.layout)   # as every torch loss takes them
    J = loss.factor * loss.module(reduction=loss.reduction)(yhat, y)         # [step:cost] the torch loss module
    names = [n for n in params if in_graph(net, hyper, n)]
    return J + l2_penalty(net, hyper, params, names) if names else J        # masked ½λΣ(M⊙W)², in the graph


def cost_each(net: Net, yhat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return LOSS.make(net.loss.name).J_each(y, yhat, net.example_axis)


def optimizer(net: Net, params: dict, hyper: Hyper, n: int) -> torch.optim.SGD:
    """torch.optim.SGD with lr = α·s (s = 1/n or 1) and one parameter group per weight_decay.

    Frozen parameters are not given to the optimizer. ``group["names"]`` keeps the
    article's names for the mapping the report prints.
    """
    by_decay: dict[float, list] = {}
    for name in params:
        if name not in net.frozen:
            by_decay.setdefault(weight_decay(net, hyper, name), []).append(name)
    groups = [{"params": [params[n] for n in names], "names": names, "weight_decay": wd}  # [step:l2] weight_decay = λ
              for wd, names in by_decay.items()]
    return framework_optimizer(groups, hyper, hyper.learning_rate * hyper.scale(n))


def framework_optimizer(groups: list, hyper: Hyper, lr: float) -> torch.optim.Optimizer:
    """The case's torch.optim optimizer on parameter groups (both styles), lr = α·s; a LambdaLR for a schedule.
    AdamW's weight_decay is its own decoupled λ (the groups' coupled L2 is refused with AdamW by the case)."""
    h = hyper
    if h.optimizer == "rmsprop":
        opt = torch.optim.RMSprop(groups, lr=lr, alpha=h.rho, eps=h.eps, centered=h.centered)   # [step:update:rmsprop] ε outside √v
    elif h.optimizer == "adam":
        opt = torch.optim.Adam(groups, lr=lr, betas=(h.beta1, h.beta2), eps=h.eps)              # [step:update:adam] m̂/(√v̂ + ε)
    elif h.optimizer == "adamw":
        for g in groups:
            g["weight_decay"] = h.weight_decay                                                   # [step:update:adamw] decoupled λ
        opt = torch.optim.AdamW(groups, lr=lr, betas=(h.beta1, h.beta2), eps=h.eps)             # [step:update:adamw] p −= lr·λ·p first
    else:
        opt = torch.optim.SGD(groups, lr=lr, momentum=h.momentum,                                # [step:update:sgd,momentum,nesterov] b = μb + g
                              nesterov=h.optimizer == "nesterov")
    if h.lr_schedule:
        opt.scheduler = torch.optim.lr_scheduler.LambdaLR(                                       # [step:update] lr_schedule
            opt, lambda k: O.lr_at(h, k + 1) / h.learning_rate)
    return opt


def step(net: Net, params: dict, grads: dict, hyper: Hyper, opt: torch.optim.Optimizer) -> dict:
    """W ← W − lr·(W.grad + weight_decay·W) for every parameter the optimizer holds (in place), or the
    case's optimizer's update.

    The optimizer reads W.grad, which ``backward`` filled, and adds weight_decay·W itself:
    that sum is ``grads`` (what the reference applies by hand)."""
    opt.step()                                                               # [step:update] the optimizer's step
    if getattr(opt, "scheduler", None) is not None:
        opt.scheduler.step()                                                 # [step:update] the next update's lr
    return params


# torch's names for an optimizer's state, as the trace names it (reference/optimizers.py)
STATE_SLOTS = {"momentum_buffer": "velocity", "exp_avg": "m", "grad_avg": "m", "exp_avg_sq": "v", "square_avg": "v"}


def state_of(opt: torch.optim.Optimizer, p: torch.Tensor) -> dict:
    """{slot: tensor} of one parameter, read from opt.state (momentum_buffer, exp_avg, exp_avg_sq …)."""
    return {STATE_SLOTS[k]: v.detach() for k, v in opt.state.get(p, {}).items()
            if k in STATE_SLOTS and isinstance(v, torch.Tensor)}


def steps_taken(opt: torch.optim.Optimizer, counted: int) -> int:
    """The update count: opt.state's "step" where the optimizer keeps one (Adam, RMSprop), else ``counted``."""
    found = [float(s["step"]) for s in opt.state.values() if "step" in s]
    return int(found[0]) if found else counted


def snapshot(net: Net, params: dict, opt, counted: int) -> dict:
    """The optimizer's state in article names: {"t": updates, slot: {name: NumPy}}."""
    out: dict = {"t": steps_taken(opt, counted)}
    for name, p in params.items():
        for slot, x in state_of(opt, p).items():
            out.setdefault(slot, {})[name] = numpy(x)
    return out


def one_step(net: Net, params: dict, X, y, hyper: Hyper, opt) -> dict:
    """Forward, J.backward(), gradients, update — on the batch (X, y). The update needs ∂J/∂W only: X is no
    leaf that keeps a gradient, so autograd skips ∂J/∂X (a third large product, δ(1)·W(1)ᵀ), and no δ or
    g'(Z) is kept or asked for (``backward``'s inspection: softmax's Jacobian alone is a vmap per step)."""
    fwd = forward(net, params, X, input_gradient=False)
    backpropagate(net, params, fwd, y, hyper)
    grads = gradients(net, params, fwd, None, hyper)
    return step(net, params, grads, hyper, opt)


def epoch(net: Net, params: dict, X, y, hyper: Hyper, opt, e: int = 0) -> dict:
    """One pass over the data: one batch step, one SGD step per example in data order, or one step per
    minibatch in epoch ``e``'s order (reference/batches.py: the same indices every framework gets)."""
    if hyper.rule == "batch":
        return one_step(net, params, X, y, hyper, opt)
    for idx in B.batches(hyper, L.n_examples(X, net.layout), e):
        idx = torch.as_tensor(idx)
        params = one_step(net, params, L.examples(X, idx, net.layout), L.examples(y, idx, net.layout), hyper, opt)
    return params


@torch.no_grad()
def predict(net: Net, params: dict, X) -> torch.Tensor:
    return forward(net, params, X).A[-1]


def train(net: Net, params_np: dict, X_np, y_np, hyper: Hyper, every_epoch: bool = False) -> Training:
    """Every epoch of the update rule on fresh leaf tensors; costs[0] is J before any update."""
    params, X, y = load(net, params_np), tensor(net, X_np), tensor(net, y_np)
    opt = optimizer(net, params, hyper, hyper.step_size(L.n_examples(X, net.layout)))
    history = History({name: numpy(p) for name, p in params.items()}, every_epoch)
    with torch.no_grad():
        costs = [numpy(cost(net, params, predict(net, params, X), y, hyper))]
    per_epoch, state = steps_per_epoch(net, hyper, X), {}
    for e in range(hyper.epochs):
        params = epoch(net, params, X, y, hyper, opt, e)
        history.append({name: numpy(p) for name, p in params.items()})
        with torch.no_grad():
            costs.append(numpy(cost(net, params, predict(net, params, X), y, hyper)))
        if e in (0, hyper.epochs - 1):
            state["opt_new" if e == 0 else "opt"] = snapshot(net, params, opt, (e + 1) * per_epoch)
    return Training(history, np.stack(costs), notes(net, hyper, L.n_examples(X, net.layout), opt),
                    O.traced(hyper, state))


def steps_per_epoch(net: Net, hyper: Hyper, X) -> int:
    return B.steps_per_epoch(hyper, L.n_examples(X, net.layout))


def J_of(net: Net, X_np, y_np, hyper: Hyper):
    """J as a function of NumPy parameters: loaded as tensors, run forward, costed by torch."""
    X, y = tensor(net, X_np), tensor(net, y_np)

    @torch.no_grad()
    def J(params_np):
        params = load(net, params_np)
        yhat = predict(net, params, X)
        return numpy(cost(net, params, yhat, y, hyper)), numpy(yhat)
    return J


NO_AUG = ("Courtial's display-only form: g' applied to the bias unit's constant 1 is not a derivative "
          "of anything in the graph (the ones are not a function of Z), so autograd has no counterpart")


def missing(net: Net) -> dict:
    out = {}
    if net.trick:
        for l in range(1, net.depth):
            n = net.layer_number(l)
            out[key("deriv_aug", n - 1)] = NO_AUG
            out[key("delta_aug", n - 1)] = NO_AUG + "; the real ∂J/∂[A | 1] is dA"
    return out


# --------------------------------------------------------------------------- the mapping the report prints

def describe(net: Net, hyper: Hyper, X_np, fwd: Forward, training: Training | None) -> dict:
    """How the article's conventions map onto this style, from the objects the code used."""
    p = {name: tuple(s) for name, s in net.param_shapes().items()}
    product = "A_in @ W" if net.layout == "rows" else "W @ A_in"
    m = {
        "style": "autograd on leaf tensors in the article's own layout",
        "parameters": (", ".join(f"{n} {s}" for n, s in p.items())
                       + f": leaf tensors, {L.torch_dtype(net.dtype)}, requires_grad=True, {net.layout} layout"),
        "forward": (f"Z = {product}" + (" + b" if net.has_b else "")
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
    if training is None:
        return m
    loss = LOSS.make(net.loss.name)
    m["loss"] = f"{net.loss.formula} → {loss.code}"
    m["deltas"] = ("Z.retain_grad() on every Z, then J.backward(): δ = Z.grad; ∂J/∂A from A_in.retain_grad()"
                   + (" — A_in = [A | 1], so dA keeps the bias unit's column" if net.trick else "")
                   + "; ∂J/∂ŷ from ŷ.retain_grad()")
    m.update(training.notes)
    return m


def notes(net: Net, hyper: Hyper, n: int, opt: torch.optim.SGD) -> dict:
    """Learning rate, update rule, frozen parameters and L2, read from the optimizer that trained."""
    m = describe_optimizer(net, hyper, n, opt)
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


def optimizer_call(hyper: Hyper, lr: float) -> str:
    """The optimizer as the code builds it, in words."""
    h = hyper
    call = {"sgd": f"torch.optim.SGD(lr={lr:g}, momentum=0)",
            "momentum": f"torch.optim.SGD(lr={lr:g}, momentum={h.momentum:g})",
            "nesterov": f"torch.optim.SGD(lr={lr:g}, momentum={h.momentum:g}, nesterov=True)",
            "rmsprop": f"torch.optim.RMSprop(lr={lr:g}, alpha={h.rho:g}, eps={h.eps:g}, centered={h.centered})",
            "adam": f"torch.optim.Adam(lr={lr:g}, betas=({h.beta1:g}, {h.beta2:g}), eps={h.eps:g})",
            "adamw": f"torch.optim.AdamW(lr={lr:g}, betas=({h.beta1:g}, {h.beta2:g}), eps={h.eps:g}, "
                     f"weight_decay={h.weight_decay:g})"}[h.optimizer]
    if h.lr_schedule:
        call += (" with lr_scheduler.LambdaLR(lambda k: lr(k + 1)/α), scheduler.step() after each opt.step() ("
                 + ", ".join(f"lr {v:g} from update {t}" for t, v in h.lr_schedule) + ")")
    return call


def describe_optimizer(net: Net, hyper: Hyper, n: int, opt) -> dict:
    """Learning rate, update rule and frozen parameters, read from the optimizer itself (both styles)."""
    group = opt.param_groups[0] if opt.param_groups else {}
    lr = group.get("initial_lr", group.get("lr", hyper.learning_rate * hyper.scale(n)))   # a schedule's base lr
    batch = hyper.step_size(n)
    scale = f"α·(1/n) = {hyper.learning_rate:g}·(1/{batch})" if hyper.grad_scale == "1/n" else "α"
    m = {
        "learning rate": (f"lr = {scale} = {lr:g}"
                          + (" (the loss module keeps the article's J = the sum; the 1/n of the update goes into lr)"
                             if hyper.grad_scale == "1/n" else " (the article's step is W − α·∂J/∂W)")),
        "update": (f"{optimizer_call(hyper, lr)}, opt.step() " + B.words(hyper, n)
                   + f", {hyper.epochs} epoch{'s' if hyper.epochs != 1 else ''}"),
    }
    if net.frozen:
        held = sorted({name for g in opt.param_groups for name in g["names"]})
        m["frozen"] = (f"{', '.join(sorted(net.frozen))} left out of the optimizer (never updated); their "
                       f"gradient is still computed and reported; optimizer holds {', '.join(held) or 'nothing'}")
    return m
