"""The "modules" style: the network as a torch user writes it.

``nn.Sequential`` of ``nn.Linear`` and activation modules, a loss module,
``torch.optim.SGD``. Same function names as ``reference/network.py`` and
``torch_impl/network.py`` (forward, backward, gradients, cost, step, one_step,
epoch, predict, train, J_of, trace), so a reader can jump between the three.

What the article calls W (and b) lives in nn.Linear as (weight (out, in), bias (out,));
``layout.to_linear`` / ``layout.from_linear`` move them across, exactly. nn.Linear
wants one row per example, so a columns-layout X enters as Xᵀ
(``layout.examples_first``) and every captured tensor is turned back
(``layout.article_layout``) before it is reported.

Captured, not recomputed: Z and A with forward hooks on the modules; δ = ∂J/∂Z
and ∂J/∂A (the input of the next nn.Linear) with full backward hooks on each
nn.Linear (grad_output, grad_input); ∂J/∂ŷ with a full backward hook on the last
activation module.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn as nn

from backprop_parity.reference.spec import Hyper, key, Net, param_key, training_keys

from . import activations as ACT
from . import gradcheck as GC
from . import layout as L
from . import losses as LOSS
from .network import NO_AUG, describe_optimizer


@dataclass
class Forward:
    Z: list          # Z[l] as nn.Linear output it (examples first)
    A: list          # A[0] = the input, A[l+1] = the activation module's output
    yhat: torch.Tensor


@dataclass
class Backward:
    dJ_dyhat: torch.Tensor
    deriv: list      # g'(Z[l]), by autograd of the activation module
    delta: list      # δ[l] = ∂J/∂Z[l]: grad_output of nn.Linear l
    dA_in: list      # ∂J/∂A[l]: grad_input of nn.Linear l, for l ≥ 1


def build(net: Net) -> nn.Sequential:
    """nn.Sequential(Linear, activation, Linear, activation, …) in the case's dtype."""
    layers = []
    for l in range(net.depth):
        n_in, n_out = net.sizes[l], net.sizes[l + 1]
        layers.append(nn.Linear(n_in, n_out, bias=net.bias != "none",
                                dtype=L.torch_dtype(net.dtype)))            # [step:forward-affine] Z = A·Wᵀ + b
        layers.append(ACT.module(net.activations[l]))                      # [step:forward-activation] A = g(Z)
    return nn.Sequential(*layers)


def linears(model: nn.Sequential) -> list:
    return [m for m in model if isinstance(m, nn.Linear)]


def activations(model: nn.Sequential) -> list:
    return [m for m in model if not isinstance(m, nn.Linear)]


@torch.no_grad()
def load(net: Net, model: nn.Sequential, params: dict) -> None:
    """Copy the article's parameters (torch tensors, article layout) into the nn.Linear layers."""
    for l, lin in enumerate(linears(model)):
        b = params[net.b_name(l)] if net.bias == "vectors" else None
        weight, bias = L.to_linear(params[net.W_name(l)], b, net.layout, net.bias)  # [step:bias-trick] bias row → bias
        lin.weight.copy_(weight)
        if bias is not None:
            lin.bias.copy_(bias)


def parameters(net: Net, model: nn.Sequential, what: str = "data") -> dict:
    """The model's parameters (what="data") or their gradients (what="grad") in the article's layout."""
    out = {}
    for l, lin in enumerate(linears(model)):
        weight = getattr(lin.weight, what)
        bias = getattr(lin.bias, what) if lin.bias is not None else None
        W, b = L.from_linear(weight.detach(), None if bias is None else bias.detach(), net.layout, net.bias)
        out[net.W_name(l)] = W
        if net.bias == "vectors":
            out[net.b_name(l)] = b
    return out


def owners(net: Net, model: nn.Sequential) -> list:
    """(article parameter name, "weight" | "bias", nn.Parameter) for every module parameter.

    Under the bias trick nn.Linear's bias belongs to the article's W (its last row/column)."""
    out = []
    for l, lin in enumerate(linears(model)):
        out.append((net.W_name(l), "weight", lin.weight))
        if lin.bias is not None:
            out.append((net.b_name(l) if net.bias == "vectors" else net.W_name(l), "bias", lin.bias))
    return out


# --------------------------------------------------------------------------- hooks

@dataclass
class Capture:
    """What the hooks saw during one forward and backward pass (examples first)."""
    Z: dict = field(default_factory=dict)
    A: dict = field(default_factory=dict)
    delta: dict = field(default_factory=dict)
    dA_in: dict = field(default_factory=dict)
    dJ_dyhat: torch.Tensor | None = None
    handles: list = field(default_factory=list)

    def attach(self, model: nn.Sequential) -> "Capture":
        for l, lin in enumerate(linears(model)):
            self.handles.append(lin.register_forward_hook(self._on_linear(l)))
            self.handles.append(lin.register_full_backward_hook(self._on_linear_backward(l)))
        acts = activations(model)
        for l, act in enumerate(acts):
            self.handles.append(act.register_forward_hook(self._on_activation(l)))
        self.handles.append(acts[-1].register_full_backward_hook(self._on_output_backward))
        return self

    def detach(self) -> None:
        for h in self.handles:
            h.remove()
        self.handles.clear()

    def _on_linear(self, l):
        def hook(module, inputs, output):
            self.Z[l] = output                                                  # Z, from nn.Linear's forward hook
        return hook

    def _on_activation(self, l):
        def hook(module, inputs, output):
            self.A[l] = output                                                  # A, from the activation's forward hook
        return hook

    def _on_linear_backward(self, l):
        def hook(module, grad_input, grad_output):
            self.delta[l] = grad_output[0]                                      # [step:hidden-delta] δ = ∂J/∂Z (grad_output)
            self.dA_in[l] = grad_input[0]                                       # [step:hidden-delta] ∂J/∂A (grad_input)
        return hook

    def _on_output_backward(self, module, grad_input, grad_output):
        self.dJ_dyhat = grad_output[0]                                          # ∂J/∂ŷ (grad_output of the last module)


def forward(net: Net, model: nn.Sequential, X) -> tuple[Forward, Capture]:
    """The model on an article-layout X, with Z and A captured by forward hooks."""
    cap = Capture().attach(model)
    yhat = model(L.examples_first(X, net.layout))
    Z = [cap.Z[l] for l in range(net.depth)]
    A = [L.examples_first(X, net.layout)] + [cap.A[l] for l in range(net.depth)]
    return Forward(Z, A, yhat), cap


# --------------------------------------------------------------------------- cost, L2, update
# SGD's weight_decay adds λ·p to a whole parameter's gradient. In nn.Linear the
# bias is its own parameter — also under the bias trick, where it is the article's
# bias row — so parameter groups say exactly which parameters L2 reaches:
# every weight, and the biases when l2_bias.

def weight_decay(hyper: Hyper, kind: str) -> float:
    """SGD's weight_decay for nn.Linear's "weight" or "bias"."""
    if not hyper.l2:
        return 0.0
    return hyper.l2 if (kind == "weight" or hyper.l2_bias) else 0.0


def cost(net: Net, model: nn.Sequential, yhat, y, hyper: Hyper):
    """J = loss module (+ ½·Σ weight_decay·p² over every parameter, frozen ones included)."""
    J = LOSS.make(net.loss.name).J(y, yhat)                                  # [step:cost] the loss module
    if hyper.l2:
        J = J + 0.5 * sum(weight_decay(hyper, kind) * (p ** 2).sum()
                          for _, kind, p in owners(net, model))             # [step:l2] ½λΣW²
    return J


def backward(net: Net, model: nn.Sequential, fwd: Forward, cap: Capture, y, hyper: Hyper) -> Backward:
    """loss.backward() with the hooks attached; δ, ∂J/∂A and ∂J/∂ŷ are what the hooks received."""
    last = net.depth - 1
    with warnings.catch_warnings():   # the first nn.Linear's input X needs no gradient: torch warns, harmlessly
        warnings.filterwarnings("ignore", message="Full backward hook is firing")
        LOSS.make(net.loss.name).J(y, fwd.yhat).backward()                   # [step:weight-gradient] autograd fills .grad
    cap.detach()
    deriv = [ACT.prime(lambda z, m=m: m(z), fwd.Z[l]) for l, m in enumerate(activations(model))]
    delta = [None] * net.depth
    dA_in = [None] * net.depth
    delta[last] = cap.delta[last]                                            # [step:output-delta] from the hook on the last nn.Linear
    for l in range(last, 0, -1):
        dA_in[l] = cap.dA_in[l]                                              # [step:hidden-delta] grad_input of nn.Linear l
        delta[l - 1] = cap.delta[l - 1]                                      # [step:hidden-delta] grad_output of nn.Linear l−1
    return Backward(cap.dJ_dyhat, deriv, delta, dA_in)


def _with_decay(p, wd: float):
    """p.grad + weight_decay·p: the gradient SGD applies (the reference's ∂J/∂W including λW)."""
    return p.grad + wd * p if wd else p.grad                                 # [step:l2] + λ·W, as weight_decay adds it


def gradients(net: Net, model: nn.Sequential, hyper: Hyper) -> dict:
    """∂J/∂W in the article's layout: nn.Linear's .grad (+ weight decay), through from_linear."""
    out = {}
    with torch.no_grad():
        for l, lin in enumerate(linears(model)):
            weight = _with_decay(lin.weight, weight_decay(hyper, "weight"))
            bias = _with_decay(lin.bias, weight_decay(hyper, "bias")) if lin.bias is not None else None
            W, b = L.from_linear(weight, bias, net.layout, net.bias)         # [step:weight-gradient] .grad → ∂J/∂W
            out[net.W_name(l)] = W
            if net.bias == "vectors":
                out[net.b_name(l)] = b
    return out


def optimizer(net: Net, model: nn.Sequential, hyper: Hyper, n: int) -> torch.optim.SGD:
    """torch.optim.SGD(lr = α·s) with a weight group and a bias group (weight_decay λ, and λ or 0).

    Frozen article parameters (both nn.Linear parameters of a frozen W under the bias trick)
    are left out. ``group["names"]`` keeps readable names for the mapping."""
    groups: dict[str, dict] = {}
    for name, kind, p in owners(net, model):
        if name in net.frozen:
            continue
        g = groups.setdefault(kind, {"params": [], "names": [], "weight_decay": weight_decay(hyper, kind)})
        g["params"].append(p)
        g["names"].append(f"{name}.{kind}" if net.trick else name)
    rate = hyper.learning_rate * hyper.scale(n)                              # [step:update] lr = α·(1/n)
    return torch.optim.SGD(list(groups.values()) or [{"params": [], "names": []}],
                           lr=rate, momentum=0.0)                            # [step:l2] weight_decay per group


def step(opt: torch.optim.SGD) -> None:
    opt.step()                                                               # [step:update] torch.optim.SGD


def one_step(net: Net, model: nn.Sequential, X_first, y_first, hyper: Hyper, opt) -> None:
    """Forward, backward, update — on one batch, examples first (the usual torch training step)."""
    model.zero_grad()
    LOSS.make(net.loss.name).J(y_first, model(X_first)).backward()
    step(opt)


def epoch(net: Net, model: nn.Sequential, X_first, y_first, hyper: Hyper, opt) -> None:
    """One pass: one batch step, or one step per example in data order (the rows of X_first)."""
    if hyper.rule == "batch":
        return one_step(net, model, X_first, y_first, hyper, opt)
    for i in range(X_first.shape[0]):
        one_step(net, model, X_first[i:i + 1], y_first[i:i + 1], hyper, opt)


@torch.no_grad()
def predict(net: Net, model: nn.Sequential, X) -> torch.Tensor:
    """The model's output for an article-layout X, in the article's layout."""
    return L.article_layout(model(L.examples_first(X, net.layout)), net.layout)


def model_of(net: Net, params: dict) -> nn.Sequential:
    model = build(net)
    load(net, model, {n: L.tensor(p, net.dtype) for n, p in params.items()})
    return model


def train(net: Net, params: dict, X, y, hyper: Hyper):
    """Returns (params after each epoch as NumPy arrays, costs, the optimizer); costs[0] is J before any update."""
    model = model_of(net, params)
    n = L.n_examples(X, net.layout)
    opt = optimizer(net, model, hyper, n if hyper.rule == "batch" else 1)
    X_first, y_first = L.examples_first(X, net.layout), L.examples_first(y, net.layout)

    def snapshot():
        return {name: L.numpy(p) for name, p in parameters(net, model).items()}

    def J_now():
        with torch.no_grad():
            return L.numpy(cost(net, model, model(X_first), y_first, hyper))

    history, costs = [snapshot()], [J_now()]
    for _ in range(hyper.epochs):
        epoch(net, model, X_first, y_first, hyper, opt)
        history.append(snapshot())
        costs.append(J_now())
    return history, np.stack(costs), opt


def J_of(net: Net, X, y, hyper: Hyper):
    """J as a function of article-layout parameters (tensors): loaded into a model, run, costed."""
    model = build(net)
    X_first, y_first = L.examples_first(X, net.layout), L.examples_first(y, net.layout)

    @torch.no_grad()
    def J(params):
        load(net, model, params)
        yhat = model(X_first)
        return cost(net, model, yhat, y_first, hyper), L.article_layout(yhat, net.layout)
    return J


# --------------------------------------------------------------------------- the trace

def trace(net: Net, params: dict, X_np, y_np, hyper: Hyper, inputs: dict | None = None):
    """(values, missing, mapping), keyed exactly like reference.network.trace."""
    lay = net.layout
    X = L.tensor(X_np, net.dtype)
    model = model_of(net, params)
    start = parameters(net, model)
    t: dict = {"X": L.numpy(L.article_layout(L.examples_first(X, lay), lay)),
               "n_params": float(sum(p.numel() for p in model.parameters()))}
    missing: dict = {}
    fwd, cap = forward(net, model, X)
    for l in range(net.depth):
        n = net.layer_number(l)
        t[key("Z", n)] = L.numpy(L.article_layout(fwd.Z[l], lay))
        t[key("A", n)] = L.numpy(L.article_layout(fwd.A[l + 1], lay))
        if net.trick:
            missing[key("A_aug", n - 1)] = ("nn.Linear adds its bias itself: no column of ones is ever "
                                            "appended to A (see the autograd style for [A | 1])")
    t[key("A", net.first_layer - 1)] = L.numpy(L.article_layout(fwd.A[0], lay))
    for name, p in start.items():
        t[param_key("", name)] = L.numpy(p)
    t["yhat"] = L.numpy(L.article_layout(fwd.yhat, lay))
    mapping = describe(net, hyper, X_np, model, fwd)
    if y_np is None:
        cap.detach()
        return t, missing, mapping
    y = L.tensor(y_np, net.dtype)
    y_first = L.examples_first(y, lay)
    t["y"] = L.numpy(L.article_layout(y_first, lay))
    with torch.no_grad():
        t["error"] = L.numpy(L.article_layout(y_first - fwd.yhat, lay))
        t["J"] = L.numpy(cost(net, model, fwd.yhat, y_first, hyper))
        t["J_each"] = L.numpy(LOSS.make(net.loss.name).J_each(y_first, fwd.yhat, 0))
    model.zero_grad()
    bwd = backward(net, model, fwd, cap, y_first, hyper)
    grads = gradients(net, model, hyper)
    t["dJ_dyhat"] = L.numpy(L.article_layout(bwd.dJ_dyhat, lay))
    for l in range(net.depth):
        n = net.layer_number(l)
        t[key("deriv", n)] = L.numpy(L.article_layout(bwd.deriv[l], lay))
        t[key("delta", n)] = L.numpy(L.article_layout(bwd.delta[l], lay))
        if l >= 1:
            if net.trick:
                missing[key("dA", n - 1)] = ("nn.Linear's bias has no input unit, so ∂J/∂A (the full backward "
                                             "hook's grad_input) has no bias-unit column to report")
                missing[key("deriv_aug", n - 1)] = NO_AUG
                missing[key("delta_aug", n - 1)] = NO_AUG
            else:
                t[key("dA", n - 1)] = L.numpy(L.article_layout(bwd.dA_in[l], lay))
    for name, g in grads.items():
        t[param_key("grad", name)] = L.numpy(g)
    history, costs, opt = train(net, params, X, y, hyper)
    t["costs"] = costs
    t.update(training_keys(history))
    final = model_of(net, history[-1])
    for name, x in (inputs or {}).items():
        t[f"predict.{name}"] = L.numpy(predict(net, final, L.tensor(x, net.dtype)))
    J = J_of(net, X, y, hyper)
    t.update(GC.check(start, grads, J, hyper))
    if hyper.probe:
        t.update(GC.probe(hyper, {n: L.tensor(p, net.dtype) for n, p in history[1].items()}, J,
                          "gradcheck.probe_new"))
    mapping.update(describe_training(net, hyper, X_np, opt))
    return t, missing, mapping


# --------------------------------------------------------------------------- the mapping the report prints

def describe(net: Net, hyper: Hyper, X_np, model: nn.Sequential, fwd: Forward) -> dict:
    shapes = net.param_shapes()
    layers = [L.describe_linear(net.W_name(l), net.b_name(l), shapes[net.W_name(l)], net.layout, net.bias)
              for l in range(net.depth)]
    m = {
        "style": "idiomatic torch: nn.Sequential of nn.Linear and activation modules, hooks to see inside",
        "model": "nn.Sequential(" + ", ".join(_short(m) for m in model) + f"), {L.torch_dtype(net.dtype)}",
        "parameters": " | ".join(layers) + " (layout.to_linear; back with layout.from_linear)",
        "input": (f"X {tuple(np.shape(X_np))} fed as is (rows: one example per row)" if net.layout == "rows"
                  else f"X {tuple(np.shape(X_np))} fed as X.T {tuple(np.shape(X_np))[::-1]} (nn.Linear wants one "
                       f"example per row); every captured tensor is transposed back"),
        "activations": "; ".join(f"layer {net.layer_number(l)}: {_short(ACT.module(a))}"
                                 for l, a in enumerate(net.activations))
                       + "; g'(Z) by torch.autograd.grad through the module",
    }
    zeros = ACT.at_zero_differences(net, [L.article_layout(z, net.layout) for z in fwd.Z])
    if zeros:
        m["g'(0)"] = " | ".join(zeros)
    if net.trick:
        m["bias trick"] = ("the article's bias row is nn.Linear's bias: the ones column, the bias-unit column "
                           "of ∂J/∂A and Courtial's deriv_aug/delta_aug do not exist here")
    return m


def describe_training(net: Net, hyper: Hyper, X_np, opt) -> dict:
    n = L.n_examples(X_np, net.layout)
    loss = LOSS.make(net.loss.name)
    m = {
        "loss": f"{loss.formula} → {loss.code}",
        "deltas": ("full backward hooks on each nn.Linear: δ = grad_output[0], ∂J/∂A = grad_input[0]; "
                   "∂J/∂ŷ = grad_output[0] of the last activation module; Z and A from forward hooks"),
    }
    m.update(describe_optimizer(net, hyper, n, opt))
    if hyper.l2:
        groups = ", ".join(f"{'/'.join(g['names'])} → weight_decay {g['weight_decay']:g}" for g in opt.param_groups)
        m["L2"] = (f"J += ½λΣW² with λ = {hyper.l2:g}; SGD parameter groups: {groups}"
                   + (" (under the bias trick the article's bias rows are nn.Linear's bias: "
                      f"l2_bias = {str(hyper.l2_bias).lower()} decides their group)" if net.trick else "")
                   + "; weight_decay adds λ·p to p.grad before lr = α·s multiplies it, so it is λ, not λ/n; "
                     "reported J adds ½·Σ weight_decay·p² (torch), reported grad.* = p.grad + weight_decay·p")
    return m


def _short(module: nn.Module) -> str:
    if isinstance(module, nn.Linear):
        return f"Linear({module.in_features}, {module.out_features}, bias={module.bias is not None})"
    extra = module.extra_repr()
    return f"{type(module).__name__}({extra})"
