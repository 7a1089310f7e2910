"""The "modules" style: the network as a torch user writes it.

``nn.Sequential`` of ``nn.Linear`` and activation modules, a loss module,
``torch.optim.SGD``. Same functions as ``reference/network.py`` and
``torch_impl/network.py`` (the contract of ``reference/contract.py``), so a reader
can jump between the three; ``params`` is the ``nn.Sequential`` itself.

What the article calls W (and b) lives in nn.Linear as (weight (out, in), bias (out,));
``layout.to_linear`` / ``layout.from_linear`` move them across, exactly. nn.Linear
wants one row per example, so a columns-layout X enters as Xᵀ
(``layout.examples_first``) and every captured tensor is turned back
(``layout.from_examples_first``) before it leaves this module: ``Forward`` and
``Backward`` hold the article's layout.

Captured, not recomputed: Z and A with forward hooks on the modules; δ = ∂J/∂Z
and ∂J/∂A (the input of the next nn.Linear) with full backward hooks on each
nn.Linear (grad_output, grad_input); ∂J/∂ŷ with a full backward hook on the last
activation module. The hooks (and the examples-first output) are ``Forward.record``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

from backprop_parity.reference import batches as B
from backprop_parity.reference import gradcheck as GC
from backprop_parity.reference.contract import Backward, Forward, History, Training
from backprop_parity.reference.spec import Hyper, key, Net

from . import activations as ACT
from . import layout as L
from . import losses as LOSS
from backprop_parity.reference import optimizers as O

from .network import NO_AUG, describe_optimizer, framework_optimizer, state_of, steps_per_epoch, steps_taken


# --------------------------------------------------------------------------- the model

def activation(act) -> nn.Module:
    """The activation module of one layer, as a torch user writes it."""
    kw = {ACT.MODULE_KEYWORDS[k]: v for k, v in ACT.forward_params(act).items()}
    if act.name == "identity":
        return nn.Identity()                                                 # [step:forward-activation] A = Z
    if act.name == "sigmoid":
        return nn.Sigmoid()                                                  # [step:forward-activation]
    if act.name == "tanh":
        return nn.Tanh()                                                     # [step:forward-activation]
    if act.name == "relu":
        return nn.ReLU()                                                     # [step:forward-activation]
    if act.name == "leaky_relu":
        return nn.LeakyReLU(**kw)                                            # [step:forward-activation] negative_slope
    if act.name == "elu":
        return nn.ELU(**kw)                                                  # [step:forward-activation] alpha
    if act.name == "softmax":
        return nn.Softmax(dim=1)                                             # [step:forward-activation] over the classes (examples first)
    raise ValueError(f"no torch module for activation {act.name!r}")


def build(net: Net) -> nn.Sequential:
    """nn.Sequential(Linear, activation, Linear, activation, …) in the case's dtype."""
    layers = []
    for l in range(net.depth):
        n_in, n_out = net.sizes[l], net.sizes[l + 1]
        lin = nn.Linear(n_in, n_out, bias=net.bias != "none", dtype=L.torch_dtype(net.dtype))   # [step:forward-affine] Z = A·Wᵀ + b
        if net.bias == "shared":                                             # one bias for the layer: F.linear broadcasts it
            lin.bias = nn.Parameter(torch.zeros(1, dtype=L.torch_dtype(net.dtype)))   # [step:forward-affine:shared] a bias of shape (1,)
        layers.append(lin)
        layers.append(activation(net.activations[l]))                       # A = g(Z)
    return nn.Sequential(*layers)


def linears(model: nn.Sequential) -> list:
    return [m for m in model if isinstance(m, nn.Linear)]


def activations(model: nn.Sequential) -> list:
    return [m for m in model if not isinstance(m, nn.Linear)]


def owners(net: Net, model: nn.Sequential) -> list:
    """(article parameter name, "weight" | "bias", nn.Parameter) for every module parameter.

    Under the bias trick nn.Linear's bias belongs to the article's W (its last row/column)."""
    out = []
    for l, lin in enumerate(linears(model)):
        out.append((net.W_name(l), "weight", lin.weight))
        if lin.bias is not None:
            out.append((net.b_name(l) if net.has_b else net.W_name(l), "bias", lin.bias))
    return out


# --------------------------------------------------------------------------- arrays

def tensor(net: Net, x_np) -> torch.Tensor:
    return L.tensor(x_np, net.dtype)


def numpy(x) -> np.ndarray:
    return L.numpy(x) if isinstance(x, torch.Tensor) else np.array(x)


def load(net: Net, params_np: dict) -> nn.Sequential:
    """A new model holding the article's parameters (exact copies) in its nn.Linear layers."""
    return load_into(net, params_np, build(net))


@torch.no_grad()
def load_into(net: Net, params_np: dict, model: nn.Sequential, layers=None) -> nn.Sequential:
    """``model`` (made by ``build(net)``) with the article's parameters copied into its nn.Linear layers: every
    layer, or the indexes in ``layers``."""
    for l, lin in enumerate(linears(model)):
        if layers is not None and l not in layers:
            continue
        W = tensor(net, params_np[net.W_name(l)])
        if net.trick and net.layout == "rows":      # no [A | 1]: W's last row (column) is nn.Linear's bias
            weight, bias = W[:-1, :].T, W[-1, :]                             # [step:bias-trick] bias row → bias
        elif net.trick:
            weight, bias = W[:, :-1], W[:, -1]                               # [step:bias-trick] bias column → bias
        else:
            b = tensor(net, params_np[net.b_name(l)]) if net.has_b else None
            weight, bias = L.to_linear(W, b, net.layout, net.bias)
        lin.weight.copy_(weight)
        if bias is not None:
            lin.bias.copy_(bias)
    return model


def parameters(net: Net, params: nn.Sequential) -> dict:
    """The model's parameters in the article's layout (back through ``layout.from_linear``)."""
    out = {}
    for l, lin in enumerate(linears(params)):
        bias = lin.bias.detach() if lin.bias is not None else None
        W, b = L.from_linear(lin.weight.detach(), bias, net.layout, net.bias)
        out[net.W_name(l)] = W
        if net.has_b:
            out[net.b_name(l)] = b
    return out


# --------------------------------------------------------------------------- hooks

@dataclass
class Capture:
    """What the hooks saw during one forward and backward pass (examples first): ``Forward.record``."""
    model: nn.Sequential | None = None
    yhat: torch.Tensor | None = None          # the model's output, examples first (what the loss takes)
    Z: dict = field(default_factory=dict)
    A: dict = field(default_factory=dict)
    delta: dict = field(default_factory=dict)
    dA_in: dict = field(default_factory=dict)
    dJ_dyhat: torch.Tensor | None = None
    handles: list = field(default_factory=list)

    def attach(self, model: nn.Sequential) -> "Capture":
        self.model = model
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


# --------------------------------------------------------------------------- one step, by modules and hooks

def forward(net: Net, params: nn.Sequential, X: torch.Tensor, input_gradient: bool = True) -> Forward:
    """The model on an article-layout X, with Z and A captured by forward hooks (returned in the article's layout)."""
    lay = net.layout
    cap = Capture().attach(params)
    X_first = L.examples_first(X, lay).detach()
    if input_gradient:
        X_first.requires_grad_(True)                                         # [step:input-gradient] an input that keeps ∂J/∂X
    cap.yhat = params(X_first)                                               # nn.Sequential: Linear, g, Linear, g …
    Z = [L.from_examples_first(cap.Z[l], lay) for l in range(net.depth)]
    A = [X] + [L.from_examples_first(cap.A[l], lay) for l in range(net.depth)]
    A_in = A[:-1]                       # what each nn.Linear multiplies: A itself (it adds its bias without [A | 1])
    return Forward(Z, A, A_in, record=cap, input_gradient=input_gradient)


def backward(net: Net, params: nn.Sequential, fwd: Forward, y: torch.Tensor, hyper: Hyper) -> Backward:
    """loss.backward() with the hooks attached; δ, ∂J/∂A and ∂J/∂ŷ are what the hooks received."""
    lay, cap, last = net.layout, fwd.record, net.depth - 1
    loss = LOSS.make(net.loss.name)
    params.zero_grad()
    with warnings.catch_warnings():   # the first nn.Linear's input X needs no gradient: torch warns, harmlessly
        warnings.filterwarnings("ignore", message="Full backward hook is firing")
        J = loss.factor * loss.module(reduction=loss.reduction)(cap.yhat, L.examples_first(y, lay))
        J.backward()                                                         # [step:weight-gradient] autograd fills .grad
    cap.detach()
    deriv = [layer_derivative(a, m, cap.Z[l], lay) for l, (a, m) in enumerate(zip(net.activations, activations(params)))]
    dJ_dyhat = L.from_examples_first(cap.dJ_dyhat, lay)
    delta = [None] * net.depth
    dA_in = [None] * net.depth
    delta[last] = L.from_examples_first(cap.delta[last], lay)                # [step:output-delta] from the hook on the last nn.Linear
    for l in range(last, 0, -1):
        dA_in[l] = L.from_examples_first(cap.dA_in[l], lay)                  # [step:hidden-delta] grad_input of nn.Linear l
        delta[l - 1] = L.from_examples_first(cap.delta[l - 1], lay)          # [step:hidden-delta] grad_output of nn.Linear l−1
    if fwd.input_gradient:
        dA_in[0] = L.from_examples_first(cap.dA_in[0], lay)                  # [step:input-gradient] ∂J/∂X: grad_input of the first nn.Linear
    return Backward(dJ_dyhat, deriv, delta, dA_in)


def layer_derivative(act, module: nn.Module, Z_first: torch.Tensor, layout: str) -> torch.Tensor:
    """g'(Z) by autograd through the layer's module, back in the article's layout; softmax's g'(Z) is each
    example's Jacobian (torch.func over torch.softmax, nn.Softmax's function), examples first in every layout."""
    if act.elementwise:
        return L.from_examples_first(ACT.prime(lambda z: module(z), Z_first), layout)
    return ACT.jacobian(ACT.softmax, Z_first, 1)


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


def gradients(net: Net, params: nn.Sequential, fwd: Forward, bwd: Backward, hyper: Hyper) -> dict:
    """∂J/∂W in the article's layout: nn.Linear's .grad (+ weight decay), back through from_linear."""
    grads = {}
    with torch.no_grad():
        for l, lin in enumerate(linears(params)):
            weight = lin.weight.grad                                         # [step:weight-gradient] nn.Linear's weight.grad
            bias = lin.bias.grad if lin.bias is not None else None
            wd_weight, wd_bias = weight_decay(hyper, "weight"), weight_decay(hyper, "bias")
            if wd_weight:
                weight = weight + wd_weight * lin.weight                     # [step:l2] + λ·W, as weight_decay adds it
            if bias is not None and wd_bias:
                bias = bias + wd_bias * lin.bias                             # [step:l2] + λ·b (l2_bias)
            W, b = L.from_linear(weight, bias, net.layout, net.bias)         # back to the article's layout
            grads[net.W_name(l)] = W
            if net.has_b:
                grads[net.b_name(l)] = b
    return grads


def cost(net: Net, params: nn.Sequential, yhat: torch.Tensor, y: torch.Tensor, hyper: Hyper):
    """J = loss module (+ ½·Σ weight_decay·p² over every parameter, frozen ones included), examples first."""
    loss = LOSS.make(net.loss.name)
    yhat, y = L.examples_first(yhat, net.layout), L.examples_first(y, net.layout)
    J = loss.factor * loss.module(reduction=loss.reduction)(yhat, y)         # [step:cost] the torch loss module
    if hyper.l2:
        J = J + 0.5 * sum(weight_decay(hyper, kind) * (p ** 2).sum()
                          for _, kind, p in owners(net, params))             # [step:l2] ½λΣW²
    return J


def cost_each(net: Net, yhat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return LOSS.make(net.loss.name).J_each(L.examples_first(y, net.layout), L.examples_first(yhat, net.layout), 0)


def optimizer(net: Net, params: nn.Sequential, hyper: Hyper, n: int) -> torch.optim.SGD:
    """torch.optim.SGD(lr = α·s) with a weight group and a bias group (weight_decay λ, and λ or 0).

    Frozen article parameters (both nn.Linear parameters of a frozen W under the bias trick)
    are left out. ``group["names"]`` keeps readable names for the mapping."""
    groups: dict[str, dict] = {}
    for name, kind, p in owners(net, params):
        if name in net.frozen:
            continue
        g = groups.setdefault(kind, {"params": [], "names": [],
                                     "weight_decay": weight_decay(hyper, kind)})    # [step:l2] weight_decay per group
        g["params"].append(p)
        g["names"].append(f"{name}.{kind}" if net.trick else name)
    return framework_optimizer(list(groups.values()) or [{"params": [], "names": []}],
                               hyper, hyper.learning_rate * hyper.scale(n))       # [step:update] lr = α·s


def step(net: Net, params: nn.Sequential, grads: dict, hyper: Hyper, opt: torch.optim.SGD) -> nn.Sequential:
    """p ← p − lr·(p.grad + weight_decay·p) for every parameter the optimizer holds (in place).

    The optimizer reads .grad, which the backward pass filled, and adds weight_decay·p itself:
    that sum is ``grads`` (what the reference applies by hand)."""
    opt.step()                                                               # [step:update] the optimizer's step
    if getattr(opt, "scheduler", None) is not None:
        opt.scheduler.step()                                                 # [step:update] the next update's lr
    return params


def snapshot(net: Net, model: nn.Sequential, opt, counted: int) -> dict:
    """The optimizer's state per nn.Linear parameter, in the article's names and layout (from_linear)."""
    out: dict = {"t": steps_taken(opt, counted)}
    for l, lin in enumerate(linears(model)):
        weight, vec = state_of(opt, lin.weight), (state_of(opt, lin.bias) if lin.bias is not None else {})
        for slot in weight:
            W, b = L.from_linear(weight[slot], vec.get(slot), net.layout, net.bias)
            out.setdefault(slot, {})[net.W_name(l)] = numpy(W)
            if net.has_b and slot in vec:
                out[slot][net.b_name(l)] = numpy(b)
    return out


def one_step(net: Net, params: nn.Sequential, X_first, y_first, hyper: Hyper, opt) -> nn.Sequential:
    """Forward, backward, update — on one batch, examples first (the usual torch training step)."""
    loss = LOSS.make(net.loss.name)
    params.zero_grad()
    J = loss.factor * loss.module(reduction=loss.reduction)(params(X_first), y_first)
    J.backward()
    return step(net, params, None, hyper, opt)          # no article-named grads needed: SGD reads .grad itself


def epoch(net: Net, params: nn.Sequential, X_first, y_first, hyper: Hyper, opt, e: int = 0) -> nn.Sequential:
    """One pass: one batch step; or the batches of a DataLoader whose sampler is epoch ``e``'s order
    (reference/batches.py: one example at a time in data order, or minibatches in the order every framework
    gets) — a fixed sampler, never the DataLoader's own shuffle."""
    if hyper.rule == "batch":
        return one_step(net, params, X_first, y_first, hyper, opt)
    n = X_first.shape[0]
    data = DataLoader(TensorDataset(X_first, y_first), batch_size=hyper.step_size(n),
                      sampler=B.order(hyper, n, e).tolist())                 # [step:update] the epoch's order as the sampler
    for X_batch, y_batch in data:
        params = one_step(net, params, X_batch, y_batch, hyper, opt)
    return params


@torch.no_grad()
def predict(net: Net, params: nn.Sequential, X) -> torch.Tensor:
    """The model's output for an article-layout X, in the article's layout."""
    return L.from_examples_first(params(L.examples_first(X, net.layout)), net.layout)


def train(net: Net, params_np: dict, X_np, y_np, hyper: Hyper, every_epoch: bool = False) -> Training:
    """Every epoch of the update rule on a fresh model; costs[0] is J before any update."""
    model, X, y = load(net, params_np), tensor(net, X_np), tensor(net, y_np)
    opt = optimizer(net, model, hyper, hyper.step_size(L.n_examples(X, net.layout)))
    X_first, y_first = L.examples_first(X, net.layout), L.examples_first(y, net.layout)
    return trained(net, model, X, y, hyper, opt, lambda e: epoch(net, model, X_first, y_first, hyper, opt, e),
                   every_epoch)


def trained(net: Net, model: nn.Sequential, X, y, hyper: Hyper, opt, run_epoch, every_epoch: bool) -> Training:
    """The epochs (``run_epoch(e)`` updates ``model`` in place), with the parameters and J after each, and the
    optimizer's state after the first and the last."""
    n = L.n_examples(X, net.layout)
    history = History({name: numpy(p) for name, p in parameters(net, model).items()}, every_epoch)
    with torch.no_grad():
        costs = [numpy(cost(net, model, predict(net, model, X), y, hyper))]
    per_epoch, state = steps_per_epoch(net, hyper, X), {}
    for e in range(hyper.epochs):
        run_epoch(e)
        history.append({name: numpy(p) for name, p in parameters(net, model).items()})
        with torch.no_grad():
            costs.append(numpy(cost(net, model, predict(net, model, X), y, hyper)))
        if e in (0, hyper.epochs - 1):
            state["opt_new" if e == 0 else "opt"] = snapshot(net, model, opt, (e + 1) * per_epoch)
    return Training(history, np.stack(costs), notes(net, hyper, n, opt), O.traced(hyper, state))


def J_of(net: Net, X_np, y_np, hyper: Hyper):
    """J as a function of NumPy parameters: loaded into one model (built once, its parameters overwritten at
    each call), run, costed by torch."""
    X, y, model = tensor(net, X_np), tensor(net, y_np), build(net)
    loaded = GC.Loaded(net)

    @torch.no_grad()
    def J(params_np):
        load_into(net, params_np, model, loaded.stale(params_np))    # the layers whose parameters moved since the last call
        yhat = predict(net, model, X)
        return numpy(cost(net, model, yhat, y, hyper)), numpy(yhat)
    return J


def missing(net: Net) -> dict:
    out = {}
    if not net.trick:
        return out
    for l in range(net.depth):
        n = net.layer_number(l)
        out[key("A_aug", n - 1)] = ("nn.Linear adds its bias itself: no column of ones is ever "
                                    "appended to A (see the autograd style for [A | 1])")
        out[key("dA", n - 1)] = ("nn.Linear's bias has no input unit, so ∂J/∂A (the full backward "
                                 "hook's grad_input) has no bias-unit column to report")
        if l >= 1:
            out[key("deriv_aug", n - 1)] = NO_AUG
            out[key("delta_aug", n - 1)] = NO_AUG
    return out


# --------------------------------------------------------------------------- the mapping the report prints

def describe(net: Net, hyper: Hyper, X_np, fwd: Forward, training: Training | None) -> dict:
    shapes = net.param_shapes()
    layers = [L.describe_linear(net.W_name(l), net.b_name(l), shapes[net.W_name(l)], net.layout, net.bias)
              for l in range(net.depth)]
    m = {
        "style": "idiomatic torch: nn.Sequential of nn.Linear and activation modules, hooks to see inside",
        "model": "nn.Sequential(" + ", ".join(_short(m) for m in fwd.record.model) + f"), {L.torch_dtype(net.dtype)}",
        "parameters": " | ".join(layers) + " (layout.to_linear; back with layout.from_linear)",
        "input": (f"X {tuple(np.shape(X_np))} fed as is (rows: one example per row)" if net.layout == "rows"
                  else f"X {tuple(np.shape(X_np))} fed as X.T {tuple(np.shape(X_np))[::-1]} (nn.Linear wants one "
                       f"example per row); every captured tensor is transposed back"),
        "activations": "; ".join(f"layer {net.layer_number(l)}: {_short(activation(a))}"
                                 for l, a in enumerate(net.activations))
                       + "; g'(Z) by torch.autograd.grad through the module",
    }
    zeros = ACT.at_zero_differences(net, fwd.Z)
    if zeros:
        m["g'(0)"] = " | ".join(zeros)
    if net.trick:
        m["bias trick"] = ("the article's bias row is nn.Linear's bias: the ones column, the bias-unit column "
                           "of ∂J/∂A and Courtial's deriv_aug/delta_aug do not exist here")
    if training is None:
        return m
    loss = LOSS.make(net.loss.name)
    m["loss"] = f"{net.loss.formula} → {loss.code}"
    m["deltas"] = ("full backward hooks on each nn.Linear: δ = grad_output[0], ∂J/∂A = grad_input[0]; "
                   "∂J/∂ŷ = grad_output[0] of the last activation module; Z and A from forward hooks")
    m.update(training.notes)
    return m


def notes(net: Net, hyper: Hyper, n: int, opt: torch.optim.SGD) -> dict:
    """Learning rate, update rule, frozen parameters and L2 groups, read from the optimizer that trained."""
    m = describe_optimizer(net, hyper, n, opt)
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
