"""The hand-written network, TensorFlow's way: tf.Variable weights, a GradientTape, Keras SGD.

Read beside ``reference/network.py``: the same functions, the same signatures
(``reference/contract.py``) and the same names (X, W, b, Z, A, δ, J). What
differs is who does the calculus:

    forward:   the same matrix products (tf.matmul), recorded on a persistent tf.GradientTape
    deltas:    δ(l) = ∂J/∂Z(l) = tape.gradient(J, Z(l)) — the tape runs backprop
    ∂J/∂A:     tape.gradient(J, [A | 1]) — under the bias trick it has the bias unit's column
    g'(Z):     tape.gradient(A, Z) on the same tape (g acts element-wise)
    gradient:  ∂J/∂W = tape.gradient(J, W)  (the L2 term is part of J, so λW comes with it)
    update:    keras.optimizers.SGD(learning_rate = α·s).apply_gradients — W ← W − α·s·∂J/∂W

``params`` are {"W1": tf.Variable, …} in the article's layout, dtype of the case.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from backprop_parity.reference import batches as B
from backprop_parity.reference import layout as RL
from backprop_parity.reference import optimizers as O
from backprop_parity.reference.contract import Backward, Forward, History, Training
from backprop_parity.reference.spec import Hyper, key, Net, Static

from . import activations as ACT
from . import floatx, onednn_note, tf_dtype
from . import layout as L

ZERO = tf.UnconnectedGradients.ZERO


# --------------------------------------------------------------------------- arrays

def tensor(net: Net, x_np) -> tf.Tensor:
    return tf.constant(x_np, dtype=tf_dtype(net.dtype))


def numpy(x) -> np.ndarray:
    """A NumPy copy (``.numpy()`` may share the tensor's memory; tf.Variable's __array__ predates NumPy 2's copy=)."""
    return np.array(x.numpy() if hasattr(x, "numpy") else x)


def load(net: Net, params_np: dict) -> dict:
    """The case's parameters as tf.Variables (loaded exactly, in the case's dtype)."""
    return {name: tf.Variable(p, dtype=tf_dtype(net.dtype), name=name) for name, p in params_np.items()}


def parameters(net: Net, params: dict) -> dict:
    return params


# --------------------------------------------------------------------------- one step, on a tape

@dataclass
class Record:
    """What ``forward`` leaves for ``backward`` and ``gradients``: the tape, and J once backward has taped it."""

    tape: tf.GradientTape
    J: Any = None


# A = g(Z): the TF op of each activation (tf.nn.elu has no alpha, so ELU is Keras'; the case's
# leaky_relu slope is tf.nn.leaky_relu's alpha, a float32 op attribute: see activations.leaky_relu_note).
G = {"identity": lambda Z, act: tf.identity(Z),
     "sigmoid": lambda Z, act: tf.nn.sigmoid(Z),
     "tanh": lambda Z, act: tf.nn.tanh(Z),
     "relu": lambda Z, act: tf.nn.relu(Z),
     "leaky_relu": lambda Z, act: tf.nn.leaky_relu(Z, alpha=act.params["slope"]),
     "elu": lambda Z, act: keras.activations.elu(Z, alpha=act.params["alpha"]),
     "softmax": lambda Z, act: tf.nn.softmax(Z, axis=act.params["axis"])}   # [step:forward-activation] the TF op of g


def forward(net: Net, params: dict, X, input_gradient: bool = True) -> Forward:
    """Every Z, A and [A | 1] recorded on a persistent tape (kept in ``Forward.record``)."""
    tape = tf.GradientTape(persistent=True)
    with tape:
        if input_gradient:
            tape.watch(X)                                                                    # [step:input-gradient] X on the tape, for ∂J/∂X
        Z, A, A_in = [], [X], []
        for l in range(net.depth):
            A_prev = A[-1] if not net.trick else (
                tf.concat([A[-1], tf.ones((tf.shape(A[-1])[0], 1), A[-1].dtype)], axis=1) if net.layout == "rows" else
                tf.concat([A[-1], tf.ones((1, tf.shape(A[-1])[1]), A[-1].dtype)], axis=0))  # [step:bias-trick] [A | 1]
            W = params[net.W_name(l)]
            Z_l = tf.matmul(A_prev, W) if net.layout == "rows" else tf.matmul(W, A_prev)      # [step:forward-affine] Z = A·W
            if net.has_b:
                Z_l = Z_l + params[net.b_name(l)]                                            # [step:forward-affine] + b
            A_in.append(A_prev)
            Z.append(Z_l)
            A.append(G[net.activations[l].name](Z_l, net.activations[l]))                   # [step:forward-activation] A = g(Z)
    return Forward(Z, A, A_in, Record(tape), input_gradient)


def taped_cost(net: Net, params: dict, fwd: Forward, y, hyper: Hyper):
    """J, recorded on the forward's tape (and kept in its record, for ``gradients``)."""
    with fwd.record.tape:
        fwd.record.J = cost(net, params, fwd.A[-1], y, hyper)
    return fwd.record.J


def backward(net: Net, params: dict, fwd: Forward, y, hyper: Hyper) -> Backward:
    """J taped on the forward's tape, then every derivative asked of that tape."""
    tape, J = fwd.record.tape, taped_cost(net, params, fwd, y, hyper)
    last = net.depth - 1
    deriv = [tape.gradient(fwd.A[l + 1], fwd.Z[l], unconnected_gradients=ZERO) if act.elementwise
             else ACT.jacobian(ACT.softmax, fwd.Z[l], act.params["axis"]) for l, act in enumerate(net.activations)]
    dJ_dyhat = tape.gradient(J, fwd.A[-1], unconnected_gradients=ZERO)
    delta = [None] * net.depth
    dA_in = [None] * net.depth
    delta[last] = tape.gradient(J, fwd.Z[last], unconnected_gradients=ZERO)          # [step:output-delta] tape.gradient(J, Z)
    for l in range(last, 0, -1):
        dA_in[l] = tape.gradient(J, fwd.A_in[l], unconnected_gradients=ZERO)         # [step:hidden-delta] ∂J/∂[A | 1]
        delta[l - 1] = tape.gradient(J, fwd.Z[l - 1], unconnected_gradients=ZERO)    # [step:hidden-delta] tape.gradient(J, Z)
    if fwd.input_gradient:
        dA_in[0] = tape.gradient(J, fwd.A_in[0], unconnected_gradients=ZERO)         # [step:input-gradient] tape.gradient(J, X)
    return Backward(dJ_dyhat, deriv, delta, dA_in)


def l2_mask(net: Net, hyper: Hyper, pname: str, shape) -> np.ndarray | float:
    """Which entries of a parameter the L2 term reaches (1) or not (0)."""
    if pname.startswith("b"):
        return 1.0 if hyper.l2_bias else 0.0
    return RL.weight_mask(shape, net.layout, net.trick, hyper.l2_bias).astype(net.dtype)


def gradients(net: Net, params: dict, fwd: Forward, bwd: Backward, hyper: Hyper) -> dict:
    """∂J/∂W (∂J/∂b) of every parameter, in one backward pass of the tape; λW comes with it, since the
    L2 term is part of the taped J."""
    tape, J = fwd.record.tape, fwd.record.J
    return tape.gradient(J, dict(params), unconnected_gradients=ZERO)        # [step:weight-gradient] tape.gradient(J, W)


# The article's loss terms as TF ops (reference/losses.py): xlogy(0, 0) = 0, as there; no clipping.
TERMS = {"half_sse": lambda y, yhat: 0.5 * tf.square(y - yhat),
         "mse": lambda y, yhat: tf.square(y - yhat),
         "squared_error": lambda y, yhat: tf.square(y - yhat),
         "bce": lambda y, yhat: -(tf.math.xlogy(y, yhat) + tf.math.xlogy(1 - y, 1 - yhat)),
         "cce": lambda y, yhat: -tf.math.xlogy(y, yhat),
         "output_sum": lambda y, yhat: tf.identity(yhat)}   # [step:cost] the loss terms (J = Σŷ: ŷ itself)


def cost(net: Net, params: dict, yhat, y, hyper: Hyper):
    """J, including ½·λ·ΣW² when λ > 0 (then the tape's ∂J/∂W includes λ·W)."""
    terms = TERMS[net.loss.name](y, yhat)
    J = tf.reduce_mean(terms) if net.loss.reduce == "mean" else tf.reduce_sum(terms)       # [step:cost] J
    if net.loss.reduce == "example_mean":
        J = J / tf.cast(tf.shape(terms)[net.example_axis], J.dtype)                         # [step:cost] mean over the examples
    if hyper.l2:
        J = J + 0.5 * hyper.l2 * tf.add_n([tf.reduce_sum(tf.constant(l2_mask(net, hyper, n, p.shape), p.dtype)
                                                         * tf.square(p)) for n, p in params.items()])  # [step:l2] J += ½λΣW²
    return J


def cost_each(net: Net, yhat, y):
    terms = TERMS[net.loss.name](y, yhat)
    other = 1 - net.example_axis
    return tf.reduce_mean(terms, axis=other) if net.loss.reduce == "mean" else tf.reduce_sum(terms, axis=other)


def optimizer(net: Net, params: dict, hyper: Hyper, n: int):
    """keras.optimizers.SGD with learning_rate = α·s (s = 1/n or 1), or the case's optimizer, built in the
    case's dtype for the parameters it updates (built here, so a tf.function step creates no variable)."""
    with floatx(net.dtype):
        opt = keras_optimizer(hyper, hyper.scale(n))                         # [step:update] α·(1/n)
        opt.build([p for name, p in params.items() if name not in net.frozen])
    return opt


def learning_rate(hyper: Hyper, *factors: float):
    """α·factors (α·s·m), or the case's lr_schedule as Keras' PiecewiseConstantDecay (values in float64: Python floats
    would make it float32). It moves to values[i+1] once optimizer.iterations (0, 1, …) > boundaries[i]:
    an lr that starts at count c has boundary c − 1."""
    starts, values = O.schedule_points(hyper, *factors)
    if not starts:
        return values[0]
    return keras.optimizers.schedules.PiecewiseConstantDecay(                # [step:update] lr_schedule
        [c - 1 for c in starts], [np.float64(v) for v in values])


def keras_optimizer(hyper: Hyper, s: float, m: float = 1.0):
    """The case's Keras optimizer, handed ∂J/∂W / m (m = 1: the tape's ∂J/∂W; m_step: a Keras loss that is
    J/m_step). SGD and momentum are linear in the gradient: learning_rate = α·s·m undoes both. RMSprop and
    Adam divide by the gradient's own size, which cancels 1/m everywhere but in ε: epsilon = ε/m² under
    RMSprop's root, ε/m beside Adam's √v (their s is 1: the case refuses 1/n for them)."""
    h = hyper
    if h.optimizer in ("sgd", "momentum", "nesterov"):
        return keras.optimizers.SGD(learning_rate=learning_rate(h, s, m), momentum=h.momentum,   # [step:update:sgd,momentum,nesterov] v = μv − lr·g
                                    nesterov=h.optimizer == "nesterov")
    if h.optimizer == "rmsprop":
        return keras.optimizers.RMSprop(learning_rate=learning_rate(h), rho=h.rho,          # [step:update:rmsprop] g/√(v + ε)
                                        epsilon=h.eps / m ** 2, centered=h.centered)
    if h.optimizer == "adam":
        return keras.optimizers.Adam(learning_rate=learning_rate(h), beta_1=h.beta1,         # [step:update:adam] ε before correction
                                     beta_2=h.beta2, epsilon=h.eps / m)
    return keras.optimizers.AdamW(learning_rate=learning_rate(h), weight_decay=h.weight_decay,  # [step:update:adamw] decoupled λ
                                  beta_1=h.beta1, beta_2=h.beta2, epsilon=h.eps / m)


# Keras' names for an optimizer's state (per variable, by _get_variable_index), as the trace names them
STATE_SLOTS = {"momentums": "velocity", "_momentums": "m", "_velocities": "v", "_average_gradients": "m"}


def state_of(opt, variable, m: float = 1.0) -> dict:
    """{slot: NumPy} of one variable, in the scale of ∂J/∂W: a moment of ∂J/∂W / m is multiplied back by m (m²
    for second moments); SGD's velocity is already lr·gradient, which lr = α·s·m made the article's."""
    out = {}
    kind = type(opt).__name__
    for attr, slot in STATE_SLOTS.items():
        if kind == "SGD" and attr != "momentums" or kind != "SGD" and attr == "momentums":
            continue
        if kind == "RMSprop" and attr == "_momentums":
            continue
        found = getattr(opt, attr, None)
        if found:
            x = found[opt._get_variable_index(variable)].numpy()
            out[slot] = x if slot == "velocity" else x * (m * m if slot == "v" else m)
    return out


def snapshot(opt, named: dict, m: float = 1.0) -> dict:
    """The optimizer's state in article names: {"t": opt.iterations, slot: {name: NumPy}}."""
    out: dict = {"t": int(opt.iterations.numpy())}
    for name, variable in named.items():
        for slot, x in state_of(opt, variable, m).items():
            out.setdefault(slot, {})[name] = x
    return out


def step(net: Net, params: dict, grads: dict, hyper: Hyper, opt) -> dict:
    """W ← W − α·s·∂J/∂W for every parameter that is not frozen, by the Keras optimizer (in place)."""
    pairs = [(grads[name], p) for name, p in params.items() if name not in net.frozen]
    if pairs:
        opt.apply_gradients(pairs)                                           # [step:update] W.assign_sub(lr·∂J/∂W)
    return params


def one_step(net: Net, params: dict, X, y, hyper: Hyper, opt) -> dict:
    """Forward, J, gradients, update — on the batch (X, y). The update needs ∂J/∂W only: the tape gives it
    without ``backward``'s δ and g'(Z) (inspection; a tf.function would trace them only to prune them).
    One optimizer for all steps: it is built once, outside the tf.function that runs this."""
    fwd = forward(net, params, X, input_gradient=False)
    taped_cost(net, params, fwd, y, hyper)
    grads = gradients(net, params, fwd, None, hyper)
    return step(net, params, grads, hyper, opt)


def examples_per_step(net: Net, hyper: Hyper, X) -> int:
    """Examples in one update: all of them (batch), one (sgd), batch_size (minibatch)."""
    return hyper.step_size(L.n_examples(X, net.layout))


def batches(net: Net, X, y, hyper: Hyper, e: int = 0) -> list:
    """What epoch ``e`` steps on: all examples at once, or tf.gather of each batch's indices in the epoch's
    order (reference/batches.py; sliced before the epoch: slicing an eager tensor costs more than the step)."""
    if hyper.rule == "batch":
        return [(X, y)]
    axis = net.example_axis
    return [(tf.gather(X, idx, axis=axis), tf.gather(y, idx, axis=axis))           # [step:update] the epoch's batches
            for idx in B.batches(hyper, L.n_examples(X, net.layout), e)]


def epoch(net: Net, params: dict, data: list, train_step) -> dict:
    """One pass over the data: one batch step, or one SGD step per example in data order."""
    for X_batch, y_batch in data:
        train_step(X_batch, y_batch)
    return params


def predict(net: Net, params: dict, X):
    return forward(net, params, X).A[-1]


def train(net: Net, params_np: dict, X_np, y_np, hyper: Hyper, every_epoch: bool = False) -> Training:
    """Every epoch of the update rule; costs[0] is J before any update.

    The step is the custom-training-loop idiom: ``one_step`` (tape + apply_gradients) under tf.function,
    traced once and run once per update; J under tf.function too."""
    params, X, y = load(net, params_np), tensor(net, X_np), tensor(net, y_np)
    opt = optimizer(net, params, hyper, examples_per_step(net, hyper, X))
    train_step = tf.function(lambda X_batch, y_batch: one_step(net, params, X_batch, y_batch, hyper, opt))
    return trained(net, params, X, y, X_np, hyper, opt, train_step, every_epoch)


def trained(net: Net, params: dict, X, y, X_np, hyper: Hyper, opt, train_step, every_epoch: bool) -> Training:
    """Every epoch, each batch through ``train_step`` (a tf.function of one batch, traced once); J by
    ``J_program``, the graph gradient checking runs too. The parameters, J and the optimizer's state as the trace
    reads them."""
    J_and_yhat = J_graph(net, hyper, X, y)
    J = lambda: J_and_yhat({name: tf.convert_to_tensor(p) for name, p in params.items()}, X, y)[0]   # noqa: E731
    data = batches(net, X, y, hyper)
    history = History({name: p.numpy() for name, p in params.items()}, every_epoch)
    costs = [J().numpy()]
    state = {}
    for e in range(hyper.epochs):
        if e and hyper.shuffle_seed is not None:
            data = batches(net, X, y, hyper, e)                              # a new order each epoch
        params = epoch(net, params, data, train_step)
        history.append({name: p.numpy() for name, p in params.items()})
        costs.append(J().numpy())
        if e in (0, hyper.epochs - 1):
            state["opt_new" if e == 0 else "opt"] = snapshot(opt, {n: p for n, p in params.items() if n not in net.frozen})
    return Training(history, np.asarray(costs), update_notes(net, hyper, X_np, float(opt.learning_rate.numpy()), opt),
                    O.traced(hyper, state))


@functools.lru_cache(maxsize=64)
def J_program(net: Static, hyper: Static):
    """(J, ŷ) of (params, X, y) under tf.function, made once per network and hyper-parameters (and traced once per
    shapes): training's costs and gradient checking, in this style and in the mirrored one, run one graph."""
    def J_and_yhat(params, X, y):
        yhat = predict(net.value, params, X)
        return cost(net.value, params, yhat, y, hyper.value), yhat
    return tf.function(J_and_yhat)


def J_graph(net: Net, hyper: Hyper, X, y):
    """``J_program``'s graph for the parameters' shapes and X's and y's, traced once (or found traced), called
    directly: without the dispatch of a tf.function call on its arguments (0.50 → 0.36 ms a call on 16 digits)."""
    specs = {name: tf.TensorSpec(shape, tf_dtype(net.dtype)) for name, shape in net.param_shapes().items()}
    return J_program(Static(net), Static(hyper)).get_concrete_function(specs, X, y)


def J_of(net: Net, X_np, y_np, hyper: Hyper):
    """J as a function of NumPy parameters: what gradient checking perturbs (``J_program``)."""
    X, y = tensor(net, X_np), tensor(net, y_np)
    J_and_yhat = J_graph(net, hyper, X, y)

    def J(params_np):
        J_value, yhat = J_and_yhat({name: tf.constant(p, dtype=tf_dtype(net.dtype)) for name, p in params_np.items()},
                                   X, y)
        return J_value.numpy(), yhat.numpy()
    return J


# --------------------------------------------------------------------------- what has no counterpart, the mapping

MISSING = {
    "deriv_aug": "no autodiff counterpart: g'([Z | 1]) applies g' to the bias unit's constant 1, which no tape "
                 "records (the bias unit is tf.ones, not g of anything); Courtial prints it for display only",
    "delta_aug": "no autodiff counterpart: the tape's ∂J/∂[A | 1] is dA; multiplying its bias column by g'(1) "
                 "is Courtial's display, not a derivative of J",
}


def missing(net: Net) -> dict:
    out = {}
    if net.trick:
        for l in range(1, net.depth):
            n = net.layer_number(l)
            out[key("deriv_aug", n - 1)] = MISSING["deriv_aug"]
            out[key("delta_aug", n - 1)] = MISSING["delta_aug"]
    return out


def optimizer_call(opt) -> str:
    """The Keras optimizer as built, from its own attributes."""
    kind = type(opt).__name__
    if kind == "SGD":
        extra = (f", momentum={opt.momentum:g}" + (", nesterov=True" if opt.nesterov else "")) if opt.momentum else ""
    elif kind == "RMSprop":
        extra = f", rho={opt.rho:g}, epsilon={opt.epsilon:g}" + (", centered=True" if opt.centered else "")
    else:
        extra = (f", beta_1={opt.beta_1:g}, beta_2={opt.beta_2:g}, epsilon={opt.epsilon:g}"
                 + (f", weight_decay={opt.weight_decay:g}" if kind == "AdamW" else ""))
    schedule = opt._learning_rate if hasattr(opt._learning_rate, "boundaries") else None
    lr = (f"PiecewiseConstantDecay(boundaries={schedule.boundaries}, values={[float(v) for v in schedule.values]})"
          if schedule is not None else f"{float(opt.learning_rate.numpy()):.10g}")
    return f"keras.optimizers.{kind}(learning_rate={lr}{extra})"


def update_notes(net: Net, hyper: Hyper, X_np, lr: float, opt=None) -> dict:
    """The learning rate and update, as text; ``lr`` is the optimizer's (``train`` reads it from the object)."""
    n = X_np.shape[net.example_axis]
    s = hyper.scale(hyper.step_size(n))
    return {
        "learning rate": f"learning_rate = α·s = {hyper.learning_rate:g}·{s:g} = {lr:.10g}",
        "update": (f"{optimizer_call(opt) if opt is not None else 'keras.optimizers.SGD(learning_rate=' + format(lr, '.10g') + ')'}.apply_gradients, "
                   + B.words(hyper, n)
                   + (f"; frozen {', '.join(sorted(net.frozen))} left out of apply_gradients" if net.frozen else "")),
    }


def activations_notes(net: Net, Zs) -> dict:
    """Where TensorFlow's activations differ from the case's: g'(0) conventions, the float32 leaky slope."""
    out = {}
    zero = [ACT.at_zero_note(a, [Zs[l]], net.dtype) for l, a in enumerate(net.activations)]
    zero = [x for x in zero if x]
    if zero:
        out["activations at 0"] = "; ".join(dict.fromkeys(zero))
    leaky = [ACT.leaky_relu_note(a, net.dtype) for a in net.activations]
    leaky = [x for x in leaky if x]
    if leaky:
        out["leaky_relu slope"] = "; ".join(dict.fromkeys(leaky))
    return out


def describe(net: Net, hyper: Hyper, X_np, fwd: Forward, training: Training | None) -> dict:
    """How the article's conventions map onto tf.Variables, a GradientTape and Keras SGD."""
    h = hyper
    out = {
        "parameters": (f"one tf.Variable per article parameter ({', '.join(net.param_names())}), in the article's "
                       f"{net.layout} layout, dtype {np.dtype(net.dtype).name}, loaded from the case"),
        "forward": ("Z = tf.matmul(A, W) (+ b)" if net.layout == "rows" else "Z = tf.matmul(W, A) (+ b)")
                   + (", A_aug = tf.concat([A, tf.ones]) (bias trick)" if net.trick else "")
                   + ", inside a persistent tf.GradientTape",
        "loss": f"{net.loss.formula}, written with TF ops and differentiated by the tape",
        "deltas": ("δ = tape.gradient(J, Z); ∂J/∂A = tape.gradient(J, A_in)"
                   + (" (the bias unit's column included)" if net.trick else "")
                   + "; g'(Z) = tape.gradient(g(Z), Z); ∂J/∂W = tape.gradient(J, W)"),
        **update_notes(net, h, X_np, h.learning_rate * h.scale(examples_per_step(net, h, X_np))),
        "oneDNN": onednn_note(),
    }
    if training is not None:
        out.update(training.notes)
    if h.l2:
        out["L2"] = (f"½λΣW² (λ = {h.l2:g}) added to J with tf ops" + ("" if h.l2_bias else ", bias entries masked out")
                     + "; the tape's ∂J/∂W then includes λW")
    out.update(activations_notes(net, [numpy(Z) for Z in fwd.Z]))
    return out
