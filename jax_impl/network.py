"""The hand-written network in JAX: pure functions on a dict of ``jax.Array`` s, differentiated by JAX.

Read beside ``reference/network.py``: the same functions, line for line, with the
framework's calls in place of the hand-written derivatives.

    forward:   A(0) = X;  Z(l) = A(l−1) @ W(l) (+ b);  A(l) = g(Z(l))  — each under ``jax.vjp``,
               whose pullbacks the forward pass records (Forward.record)
    output δ:  δ(L) = g's pullback of ∂J/∂ŷ, with ∂J/∂ŷ = ``jax.grad`` of the loss w.r.t. ŷ
    hidden δ:  ∂J/∂A_in = the affine map's pullback of δ(l+1) (= δ·Wᵀ, bias unit included);
               the bias trick's own pullback (of ``jnp.concatenate``) drops the bias unit;
               δ(l) = g's pullback of that. δ is "the vjp with respect to Z".
    g'(Z):     ``jnp.vectorize(jax.grad(g))`` — g acts element-wise
    gradient:  ``jax.grad`` of the whole cost J(params) (the L2 term ½λΣ(M⊙W)² included), so the
               gradient is JAX's own, not assembled from the δ's
    update:    ``optax.sgd(α·s)`` + ``optax.apply_updates``; frozen parameters get
               ``optax.set_to_zero()`` through ``optax.multi_transform`` (a zero update)
    training:  the update (``jax.grad`` of J, then optax) under ``jax.lax.scan`` over each epoch's batches
               (the whole data, each example in data order, or the minibatches of the stored order),
               the epoch compiled with ``jax.jit`` — the reference's loop, the JAX way
    compiled:  forward, backward's pullbacks, the gradient and the cost each run as one ``jax.jit``
               program per network and shapes (``compiled``); op by op, JAX compiles every operation
               of every new shape on its own

``params`` is a dict {"W1": jax.Array, "b1": …} in the article's layout.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from backprop_parity.reference import batches as B          # framework-free: each epoch's batches
from backprop_parity.reference import layout as RL          # framework-free: axes, the L2 mask
from backprop_parity.reference import optimizers as O
from backprop_parity.reference.contract import Backward, Forward, History, Training
from backprop_parity.reference.spec import Hyper, Net, Static

from . import activations as ACT
from . import compiled, jax_dtype
from . import losses as LOSS


class Pullbacks(NamedTuple):
    """What ``forward`` records for one layer: the pullbacks ``jax.vjp`` returned."""

    trick: Callable | None     # of [A | 1] w.r.t. A (None without the bias trick): drops the bias unit
    affine: Callable           # of Z = A_in @ W (+ b) w.r.t. (A_in, W, b)
    activation: Callable       # of A = g(Z) w.r.t. Z


@dataclass
class Record:
    """What ``forward`` leaves for ``backward`` and ``gradients`` (Forward.record): each layer's pullbacks
    (``jax.vjp`` returns them as pytrees, so a compiled forward hands them out), and — once ``backward`` knows
    them — the targets y, for J(params) under jax.grad."""

    layers: list = field(default_factory=list)
    y: jax.Array | None = None


jax.tree_util.register_dataclass(Record, data_fields=["layers", "y"], meta_fields=[])


# --------------------------------------------------------------------------- arrays

def tensor(net: Net, x_np) -> jax.Array:
    return jnp.asarray(np.array(x_np, dtype=jax_dtype(net.dtype)))


def numpy(x) -> np.ndarray:
    return np.array(x)


def load(net: Net, params_np: dict) -> dict:
    return {name: jnp.asarray(np.array(p, dtype=jax_dtype(net.dtype))) for name, p in params_np.items()}


def parameters(net: Net, params: dict) -> dict:
    return params


# --------------------------------------------------------------------------- one step, by JAX

def bias_trick(net: Net) -> Callable:
    """[A | 1] as a function of A: a column of ones (rows layout) or a row of ones (columns layout)."""
    if net.layout == "rows":
        return lambda A: jnp.concatenate([A, jnp.ones((A.shape[0], 1), A.dtype)], axis=1)   # [step:bias-trick] [A | 1]
    return lambda A: jnp.concatenate([A, jnp.ones((1, A.shape[1]), A.dtype)], axis=0)       # [step:bias-trick] [A ; 1]


def affine(net: Net) -> Callable:
    """Z as a function of (A_in, W[, b]): A @ W (+ b) in rows layout, W @ A (+ b) in columns layout."""
    if net.layout == "rows":
        return lambda A, W, b=None: A @ W if b is None else A @ W + b                        # [step:forward-affine] Z = A @ W (+ b)
    return lambda A, W, b=None: W @ A if b is None else W @ A + b                            # [step:forward-affine] Z = W @ A (+ b)


@compiled(static=("net", "input_gradient"))
def forward(net: Net, params: dict, X: jax.Array, input_gradient: bool = True) -> Forward:
    Z, A, A_in, record = [], [X], [], Record()
    for l in range(net.depth):
        A_prev, trick_vjp = A[-1], None
        if net.trick:
            A_prev, trick_vjp = jax.vjp(bias_trick(net), A[-1])                              # [step:bias-trick] jax.vjp of [A | 1]
        Wb = (params[net.W_name(l)],) + ((params[net.b_name(l)],) if net.has_b else ())
        Z_l, affine_vjp = jax.vjp(affine(net), A_prev, *Wb)                                  # [step:forward-affine] jax.vjp of Z = A @ W (+ b)
        A_l, act_vjp = jax.vjp(ACT.function(net.activations[l]), Z_l)                        # [step:forward-activation] jax.vjp of A = g(Z)
        A_in.append(A_prev)
        Z.append(Z_l)
        A.append(A_l)
        record.layers.append(Pullbacks(trick_vjp, affine_vjp, act_vjp))
    return Forward(Z, A, A_in, record, input_gradient)


def backward(net: Net, params: dict, fwd: Forward, y: jax.Array, hyper: Hyper) -> Backward:
    fwd.record.y = y                                                                         # J(params) for gradients
    return pullbacks(net, params, fwd, y, hyper)


@compiled
def pullbacks(net: Net, params: dict, fwd: Forward, y: jax.Array, hyper: Hyper) -> Backward:
    """∂J/∂ŷ, g'(Z), and δ and ∂J/∂A_in from the pullbacks forward recorded, compiled as one program."""
    last = net.depth - 1
    deriv = [ACT.g_prime(net.activations[l], fwd.Z[l]) for l in range(net.depth)]          # jnp.vectorize(jax.grad(g))(Z)
    dJ_dyhat = jax.grad(lambda yhat: LOSS.J(net.loss, y, yhat, net.example_axis))(fwd.A[-1])                  # [step:output-delta] ∂J/∂ŷ = jax.grad of the loss
    delta = [None] * net.depth
    dA_in = [None] * net.depth
    layers = fwd.record.layers
    (delta[last],) = layers[last].activation(dJ_dyhat)                                   # [step:output-delta] δ(L) = g's vjp of ∂J/∂ŷ
    for l in range(last, 0, -1):
        dA_in[l] = layers[l].affine(delta[l])[0]                                             # [step:hidden-delta] ∂J/∂A_in = δ·Wᵀ, Z's vjp
        (dA,) = layers[l].trick(dA_in[l]) if net.trick else (dA_in[l],)                     # [step:hidden-delta] [A | 1]'s vjp drops the bias unit
        (delta[l - 1],) = layers[l - 1].activation(dA)                                       # [step:hidden-delta] δ = g's vjp
    if fwd.input_gradient:
        dA_in[0] = layers[0].affine(delta[0])[0]                                             # [step:input-gradient] ∂J/∂X: the first Z's vjp
    return Backward(dJ_dyhat, deriv, delta, dA_in)


def l2_mask(net: Net, hyper: Hyper, pname: str, shape) -> np.ndarray | float:
    """Which entries of a parameter the L2 term reaches (1) or not (0): the reference's mask, a constant."""
    if pname.startswith("b"):
        return 1.0 if hyper.l2_bias else 0.0
    return RL.weight_mask(shape, net.layout, net.trick, hyper.l2_bias).astype(net.dtype)   # a float64 mask would promote float32 W


@compiled
def gradients(net: Net, params: dict, fwd: Forward, bwd: Backward, hyper: Hyper) -> dict:
    """∂J/∂W = jax.grad of the whole J(params) on the forward pass's X and backward's y (λW comes with the L2 term)."""
    X, y = fwd.A[0], fwd.record.y
    grads = jax.grad(lambda params: cost(net, params, predict(net, params, X), y, hyper))(params)  # [step:weight-gradient] jax.grad of the whole J
    return {name: grads[name] for name in params}


@compiled
def cost(net: Net, params: dict, yhat: jax.Array, y: jax.Array, hyper: Hyper):
    """J, including ½·λ·ΣW² when λ > 0."""
    terms = LOSS.TERMS[net.loss.name](y, yhat)                                               # optax.losses.l2_loss / squared_error, xlogy
    J = jnp.mean(terms) if net.loss.reduce == "mean" else jnp.sum(terms)                     # [step:cost] J = Σ or mean of the terms
    if net.loss.reduce == "example_mean":
        J = J / terms.shape[net.example_axis]                                                # mean over the examples
    if hyper.l2:
        J = J + 0.5 * hyper.l2 * sum(jnp.sum(l2_mask(net, hyper, n, p.shape) * p ** 2) for n, p in params.items())  # [step:l2] J += ½λΣ(M⊙W)²
    return J


@compiled
def cost_each(net: Net, yhat: jax.Array, y: jax.Array) -> jax.Array:
    return LOSS.J_each(net.loss, y, yhat, net.example_axis)


@dataclass
class Optimizer:
    """An optax transformation and its state: optax is functional, so the state travels with it (``step``
    replaces it; the compiled training step takes it in and hands it back)."""
    tx: optax.GradientTransformation
    state: object


def transformation(hyper: Hyper, s: float) -> optax.GradientTransformation:
    """The case's optax optimizer at learning rate α·s, or its lr_schedule as optax.join_schedules of constant
    schedules (a new lr from the count, 0, 1, …, at which it starts)."""
    h = hyper
    starts, values = O.schedule_points(h, s)
    lr = values[0] if not starts else optax.join_schedules(                                  # [step:update] lr_schedule
        [optax.constant_schedule(v) for v in values], starts)
    if h.optimizer == "rmsprop":
        return optax.rmsprop(lr, decay=h.rho, eps=h.eps, centered=h.centered)                 # [step:update:rmsprop] g/√(ν + ε)
    if h.optimizer == "adam":
        return optax.adam(lr, b1=h.beta1, b2=h.beta2, eps=h.eps)                              # [step:update:adam] m̂/(√v̂ + ε)
    if h.optimizer == "adamw":
        return optax.adamw(lr, b1=h.beta1, b2=h.beta2, eps=h.eps, weight_decay=h.weight_decay)  # [step:update:adamw] + λ·p
    if h.optimizer in ("momentum", "nesterov"):
        return optax.sgd(lr, momentum=h.momentum, nesterov=h.optimizer == "nesterov")          # [step:update:momentum,nesterov] trace b = μb + g
    return optax.sgd(lr)                                                                      # [step:update:sgd] optax.sgd(α·s)


def optimizer(net: Net, params: dict, hyper: Hyper, n: int) -> Optimizer:
    """The case's optax optimizer (optax.sgd(α·s) by default) on every parameter that is not frozen; frozen
    ones get optax.set_to_zero(); its state from tx.init."""
    labels = {name: "frozen" if name in net.frozen else "update" for name in params}
    tx = optax.multi_transform({"update": transformation(hyper, hyper.scale(n)), "frozen": optax.set_to_zero()},
                               labels)
    return Optimizer(tx, tx.init(params))                                                    # optax's zero state


def step(net: Net, params: dict, grads: dict, hyper: Hyper, opt: Optimizer) -> dict:
    """W ← W − α·s·∂J/∂W (or the case's optimizer) for every parameter that is not frozen. Returns new arrays."""
    updates, opt.state = opt.tx.update(grads, opt.state, params)                             # [step:update] −α·s·∂J/∂W (0 when frozen)
    return optax.apply_updates(params, updates)                                              # [step:update] W ← W + update


def one_step(net: Net, params: dict, X, y, hyper: Hyper, opt: Optimizer | None = None) -> dict:
    """jax.grad of J, then the optax update — on the batch (X, y); a fresh optimizer unless one is given."""
    grads = jax.grad(lambda params: cost(net, params, predict(net, params, X), y, hyper))(params)
    opt = opt if opt is not None else optimizer(net, params, hyper, RL.n_examples(X, net.layout))
    return step(net, params, grads, hyper, opt)


def compiled_epoch(net: Net, hyper: Hyper, opt: Optimizer):
    """The epoch training calls: the update (one_step: jax.grad of J, then optax) under jax.lax.scan over the
    epoch's batches — their example indexes stacked, one scan per batch size (a minibatch run's last batch is
    shorter) — compiled with jax.jit, the optimizer's state carried through the scan and handed back."""
    @jax.jit
    def updates(params, state, X, y, idx):
        def update(carry, i):
            params, state = carry
            held = Optimizer(opt.tx, state)
            params = one_step(net, params, RL.examples(X, i, net.layout), RL.examples(y, i, net.layout), hyper, held)
            return (params, held.state), None
        (params, state), _ = jax.lax.scan(update, (params, state), idx)                      # the updates, in order
        return params, state

    def epoch(params: dict, X, y, e: int) -> dict:
        """One pass over the data: one batch step, one SGD step per example in data order, or one step per
        minibatch, in epoch ``e``'s order (reference/batches.py)."""
        for idx in B.stacked(hyper, RL.n_examples(X, net.layout), e):
            params, opt.state = updates(params, opt.state, X, y, jnp.asarray(idx))
        return params
    return epoch


# optax's names for an optimizer's state (fields of its state tuples), as the trace names them
STATE_SLOTS = {"trace": "velocity", "mu": "m", "nu": "v"}


def snapshot(opt: Optimizer, counted: int) -> dict:
    """The optimizer's state in article names, read from optax's state tree: trace, mu, nu per parameter
    (masked out for frozen ones), count as t where a state keeps one."""
    out: dict = {"t": counted}

    def walk(node):
        if isinstance(node, dict):
            for v in node.values():
                walk(v)
        elif isinstance(node, tuple):
            fields = getattr(node, "_fields", None)
            for i, v in enumerate(node):
                name = fields[i] if fields else None
                if name in STATE_SLOTS and isinstance(v, dict):
                    for pname, x in v.items():
                        if isinstance(x, jax.Array):
                            out.setdefault(STATE_SLOTS[name], {})[pname] = numpy(x)
                elif name == "count" and isinstance(v, jax.Array):
                    out["t"] = int(v)
                else:
                    walk(v)
        elif hasattr(node, "inner_state"):
            walk(node.inner_state)
    walk(opt.state)
    return out


def predict(net: Net, params: dict, X) -> jax.Array:
    return forward(net, params, X).A[-1]


def train(net: Net, params_np: dict, X_np, y_np, hyper: Hyper, every_epoch: bool = False) -> Training:
    """Every epoch of the update rule with one jax.jit-compiled update; costs[0] is J before any update."""
    params, X, y = load(net, params_np), tensor(net, X_np), tensor(net, y_np)
    opt = optimizer(net, params, hyper, hyper.step_size(RL.n_examples(X, net.layout)))
    return trained(net, params, X, y, hyper, opt, compiled_epoch(net, hyper, opt), every_epoch,
                   "jax.jit of each epoch: jax.lax.scan of the update (jax.grad of J + optax, its state carried) over "
                   "the epoch's batches; and jax.jit of J")


def trained(net: Net, params: dict, X, y, hyper: Hyper, opt: Optimizer, epoch, every_epoch: bool,
            compiled: str) -> Training:
    """Every epoch through ``epoch`` (a compiled epoch, ``compiled_epoch``'s); J by jax.jit; the parameters, J and
    the optimizer's state as the trace reads them."""
    n = RL.n_examples(X, net.layout)
    program = J_program(Static(net), Static(hyper))
    J = lambda params: program(params, X, y)[0]                                              # noqa: E731
    history = History(params, every_epoch)
    # one program in flight: each epoch and each J is finished before the next is dispatched, so a sharded
    # epoch's two device parts never wait for a thread behind a J (see jax_impl._client_threads)
    costs = [jax.block_until_ready(J(params))]
    per_epoch, state = B.steps_per_epoch(hyper, n), {}
    for e in range(hyper.epochs):
        params = jax.block_until_ready(epoch(params, X, y, e))
        history.append(params)
        costs.append(jax.block_until_ready(J(params)))
        if e in (0, hyper.epochs - 1):
            state["opt_new" if e == 0 else "opt"] = snapshot(opt, (e + 1) * per_epoch)
    return Training([{k: numpy(v) for k, v in p.items()} for p in history], np.asarray([numpy(c) for c in costs]),
                    notes={"compiled": compiled}, state=O.traced(hyper, state))


@functools.lru_cache(maxsize=64)
def J_program(net: Static, hyper: Static):
    """(J, ŷ) of (params, X, y) under jax.jit, made once per network and hyper-parameters (and compiled once per
    shapes): training's costs and gradient checking, in this style and in the sharded one, run one program."""
    def J_and_yhat(params, X, y):
        yhat = predict(net.value, params, X)
        return cost(net.value, params, yhat, y, hyper.value), yhat
    return jax.jit(J_and_yhat)


def J_of(net: Net, X_np, y_np, hyper: Hyper):
    """J as a function of the parameters alone: what gradient checking differentiates (``J_program``)."""
    X, y = tensor(net, X_np), tensor(net, y_np)
    J_and_yhat = J_program(Static(net), Static(hyper))

    def J(params_np):
        J_value, yhat = J_and_yhat(load(net, params_np), X, y)
        return numpy(J_value), numpy(yhat)
    return J


NO_AUG = ("no autodiff counterpart: g'([Z | 1]) applies g' to the bias unit's constant 1, which is "
          "jnp.ones, not g of anything; Courtial prints it for display only")


def missing(net: Net) -> dict:
    out = {}
    if net.trick:
        for l in range(1, net.depth):
            n = net.layer_number(l)
            out[f"deriv_aug[{n - 1}]"] = NO_AUG
            out[f"delta_aug[{n - 1}]"] = ("no autodiff counterpart: the vjp's ∂J/∂[A | 1] is dA; multiplying its "
                                          "bias column by g'(1) is Courtial's display, not a derivative of J")
    return out


OPTAX_CALL = {"sgd": "optax.sgd(learning_rate)", "momentum": "optax.sgd(learning_rate, momentum={h.momentum:g})",
              "nesterov": "optax.sgd(learning_rate, momentum={h.momentum:g}, nesterov=True)",
              "rmsprop": "optax.rmsprop(learning_rate, decay={h.rho:g}, eps={h.eps:g}, centered={h.centered})",
              "adam": "optax.adam(learning_rate, b1={h.beta1:g}, b2={h.beta2:g}, eps={h.eps:g})",
              "adamw": "optax.adamw(learning_rate, b1={h.beta1:g}, b2={h.beta2:g}, eps={h.eps:g}, "
                       "weight_decay={h.weight_decay:g})"}


def describe(net: Net, hyper: Hyper, X_np, fwd: Forward, training: Training | None) -> dict:
    """How the article's conventions map onto JAX (the report's mapping column)."""
    from . import platform_note
    h = hyper
    n = X_np.shape[net.example_axis]
    s = h.scale(h.step_size(n))
    acts = ", ".join(ACT.label(a) for a in net.activations)
    out = {
        "parameters": (f"a dict of jax.Array ({', '.join(net.param_names())}) in the article's {net.layout} layout, "
                       f"dtype {np.dtype(net.dtype).name}, loaded from the case"),
        "forward": (("Z = A @ W" if net.layout == "rows" else "Z = W @ A") + (" + b" if net.has_b else "")
                    + (" with A = jnp.concatenate([A, jnp.ones(…)])" if net.trick else "")
                    + f"; A = g(Z) — {acts}; each under jax.vjp, the pullbacks kept in Forward.record"),
        "loss": f"{net.loss.formula}  =  {LOSS.CODE[net.loss.name]}",
        "deltas": ("∂J/∂ŷ = jax.grad of the loss w.r.t. ŷ; δ(L) = g's vjp of ∂J/∂ŷ; ∂J/∂A_in = the affine map's "
                   "vjp of δ" + (" (bias unit included; the vjp of jnp.concatenate drops it)" if net.trick else "")
                   + "; δ = g's vjp; g'(Z) = jnp.vectorize(jax.grad(g))(Z); ∂J/∂W = jax.grad(J)(params) of the "
                     "whole cost"),
        "learning rate": f"learning_rate = α·s = {h.learning_rate:g}·{s:g} = {h.learning_rate * s:.10g}"
                         + (" (optax.join_schedules of constant schedules: " + ", ".join(
                             f"{v:g} from update {t}" for t, v in h.lr_schedule) + ")" if h.lr_schedule else ""),
        "update": (f"{OPTAX_CALL[h.optimizer].format(h=h)} + optax.apply_updates, "
                   + B.words(h, n)
                   + f", {h.epochs} epoch(s); each update is one call of the jax.jit-compiled step"
                   + (f"; frozen {', '.join(sorted(net.frozen))}: optax.multi_transform gives them "
                      f"optax.set_to_zero() (a zero update), their gradient is still reported" if net.frozen else "")),
        "platform": platform_note(),
    }
    if h.l2:
        out["L2"] = (f"½λΣ(M⊙W)² (λ = {h.l2:g}) added to J with jnp" + ("" if h.l2_bias else
                     ", M masking the bias entries out") + "; jax.grad of J then includes λM⊙W")
    zeros = ACT.at_zero_differences(net, fwd.Z if fwd is not None else None)
    if zeros:
        out["g'(0)"] = "; ".join(zeros)
    return out

