"""The hand-written network, TensorFlow's way: tf.Variable weights, a GradientTape, Keras SGD.

Read beside ``reference/network.py``: the same functions and the same names
(X, W, b, Z, A, δ, J). What differs is who does the calculus:

    forward:   the same matrix products, recorded on a tf.GradientTape
    deltas:    δ(l) = ∂J/∂Z(l) = tape.gradient(J, Z(l)) — the tape runs backprop
    ∂J/∂A:     tape.gradient(J, [A | 1]) — under the bias trick it has the bias unit's column
    gradient:  ∂J/∂W = tape.gradient(J, W)  (the L2 term is part of J, so λW comes with it)
    g'(Z):     a tape around the activation op (``activations.g_prime``)
    update:    keras.optimizers.SGD(learning_rate = α·s).apply_gradients — W ← W − α·s·∂J/∂W

``params`` are {"W1": tf.Variable, …} in the article's layout, dtype of the case.
"""

from __future__ import annotations


import keras
import numpy as np
import tensorflow as tf

from backprop_parity.reference import layout as RL
from backprop_parity.reference.network import Backward, Forward  # the reference's containers
from backprop_parity.reference.spec import Hyper, key, Net, param_key, training_keys

from . import activations as ACT
from . import floatx, tf_dtype
from . import gradcheck as GC
from . import layout as L
from . import losses as LOSS

ZERO = tf.UnconnectedGradients.ZERO


def variables(net: Net, params: dict) -> dict:
    """The case's initial parameters as tf.Variables (loaded exactly, in the case's dtype)."""
    return {name: tf.Variable(p, dtype=tf_dtype(net.dtype), name=name) for name, p in params.items()}


def forward(net: Net, params: dict, X) -> Forward:
    """Run inside a tf.GradientTape: every Z, A and [A | 1] is then on the tape."""
    Z, A, A_in = [], [X], []
    for l in range(net.depth):
        A_prev = L.with_ones(A[-1], net.layout) if net.trick else A[-1]      # [step:bias-trick] tf.concat([A, ones])
        b = params[net.b_name(l)] if net.bias == "vectors" else None
        Z_l = L.affine(A_prev, params[net.W_name(l)], b, net.layout)        # [step:forward-affine] tf.matmul(A, W) (+ b)
        A_in.append(A_prev)
        Z.append(Z_l)
        A.append(ACT.g(net.activations[l], Z_l))                            # [step:forward-activation] tf.nn.tanh(Z) …
    return Forward(Z, A, A_in)


def backward(net: Net, fwd: Forward, J, tape: tf.GradientTape) -> Backward:
    """Deltas from the (persistent) tape that recorded ``forward`` and ``cost``."""
    last = net.depth - 1
    deriv = [ACT.g_prime(net.activations[l], fwd.Z[l]) for l in range(net.depth)]
    dJ_dyhat = tape.gradient(J, fwd.A[-1], unconnected_gradients=ZERO)
    delta = [None] * net.depth
    dA_in = [None] * net.depth
    delta[last] = tape.gradient(J, fwd.Z[last], unconnected_gradients=ZERO)          # [step:output-delta] tape.gradient(J, Z)
    for l in range(last, 0, -1):
        dA_in[l] = tape.gradient(J, fwd.A_in[l], unconnected_gradients=ZERO)         # [step:hidden-delta] ∂J/∂[A | 1]
        delta[l - 1] = tape.gradient(J, fwd.Z[l - 1], unconnected_gradients=ZERO)    # [step:hidden-delta] tape.gradient(J, Z)
    return Backward(dJ_dyhat, deriv, delta, dA_in)


def l2_mask(net: Net, hyper: Hyper, pname: str, shape) -> np.ndarray | float:
    """Which entries of a parameter the L2 term reaches (1) or not (0)."""
    if pname.startswith("b"):
        return 1.0 if hyper.l2_bias else 0.0
    return RL.weight_mask(shape, net.layout, net.trick, hyper.l2_bias).astype(net.dtype)


def gradients(net: Net, params: dict, J, tape: tf.GradientTape) -> dict:
    names = list(params)
    grads = tape.gradient(J, [params[n] for n in names], unconnected_gradients=ZERO)  # [step:weight-gradient] tape.gradient(J, W)
    return dict(zip(names, grads))


def cost(net: Net, params: dict, yhat, y, hyper: Hyper):
    """J, including ½·λ·ΣW² when λ > 0 (then the tape's ∂J/∂W includes λ·W)."""
    J = LOSS.J(net.loss, y, yhat)                                            # [step:cost]
    if hyper.l2:
        J = J + 0.5 * hyper.l2 * tf.add_n([tf.reduce_sum(tf.constant(l2_mask(net, hyper, n, p.shape), p.dtype)
                                                         * tf.square(p)) for n, p in params.items()])  # [step:l2] J += ½λΣW²
    return J


def optimizer(net: Net, hyper: Hyper, n: int):
    """keras.optimizers.SGD with learning_rate = α·s (s = 1/n or 1), built in the case's dtype."""
    with floatx(net.dtype):
        return keras.optimizers.SGD(learning_rate=hyper.learning_rate * hyper.scale(n))    # [step:update] α·(1/n)


def step(net: Net, params: dict, grads: dict, opt) -> None:
    """W ← W − α·s·∂J/∂W for every parameter that is not frozen, by the Keras optimizer (in place)."""
    pairs = [(grads[name], p) for name, p in params.items() if name not in net.frozen]
    if pairs:
        opt.apply_gradients(pairs)                                           # [step:update] W.assign_sub(lr·∂J/∂W)


def one_step(net: Net, params: dict, X, y, hyper: Hyper, opt) -> None:
    """Forward, backward, gradients, update — on the batch (X, y)."""
    with tf.GradientTape() as tape:
        fwd = forward(net, params, X)
        J = cost(net, params, fwd.A[-1], y, hyper)
    step(net, params, gradients(net, params, J, tape), opt)


def batches(net: Net, X, y, hyper: Hyper) -> list:
    """What one epoch steps on, in data order: all examples at once, or one example at a time."""
    if hyper.rule == "batch":
        return [(X, y)]
    return [(L.example(X, i, net.layout), L.example(y, i, net.layout)) for i in range(L.n_examples(X, net.layout))]


def epoch(batches: list, train_step) -> None:
    """One pass over the data: one batch step, or one SGD step per example in data order."""
    for X_batch, y_batch in batches:
        train_step(X_batch, y_batch)


def predict(net: Net, params: dict, X):
    return forward(net, params, X).A[-1]


def snapshot(params: dict) -> dict:
    return {name: p.numpy() for name, p in params.items()}


def steps_batch(net: Net, hyper: Hyper, X) -> int:
    """Examples in one update: all of them (batch) or one (sgd)."""
    return L.n_examples(X, net.layout) if hyper.rule == "batch" else 1


def train(net: Net, params: dict, X, y, hyper: Hyper):
    """Returns (params after each epoch, costs): costs[0] is J before any update. Starts from copies.

    The step is the custom-training-loop idiom: ``one_step`` (tape + apply_gradients) under tf.function,
    traced once and run once per update."""
    params = variables(net, {name: np.asarray(p) for name, p in params.items()})
    opt = optimizer(net, hyper, steps_batch(net, hyper, X))
    opt.build([p for name, p in params.items() if name not in net.frozen])
    train_step = tf.function(lambda Xb, yb: one_step(net, params, Xb, yb, hyper, opt))
    J = tf.function(lambda: cost(net, params, predict(net, params, X), y, hyper))
    data = batches(net, X, y, hyper)
    history = [snapshot(params)]
    costs = [J()]
    for _ in range(hyper.epochs):
        epoch(data, train_step)
        history.append(snapshot(params))
        costs.append(J())
    return history, np.asarray([c.numpy() for c in costs])


def J_of(net: Net, X, y, hyper: Hyper):
    """J as a function of the parameters alone: what gradient checking differentiates."""
    def J(params):
        yhat = predict(net, params, X)
        return cost(net, params, yhat, y, hyper), yhat
    return J


def trace(net: Net, params: dict, X, y, hyper: Hyper, inputs: dict | None = None) -> dict:
    """Every number of one step (and of training), keyed as case files name them."""
    dtype = tf_dtype(net.dtype)
    X = tf.constant(X, dtype=dtype)
    W = variables(net, params)
    t: dict = {"X": X.numpy(), "n_params": float(sum(int(tf.size(p)) for p in W.values()))}
    with tf.GradientTape(persistent=True) as tape:
        fwd = forward(net, W, X)
        if y is not None:
            y = tf.constant(y, dtype=dtype)
            J = cost(net, W, fwd.A[-1], y, hyper)
    for l in range(net.depth):
        n = net.layer_number(l)
        t[key("Z", n)] = fwd.Z[l].numpy()
        t[key("A", n)] = fwd.A[l + 1].numpy()
        if net.trick:
            t[key("A_aug", n - 1)] = fwd.A_in[l].numpy()
    t[key("A", net.first_layer - 1)] = X.numpy()
    for name, p in W.items():
        t[param_key("", name)] = p.numpy()
    t["yhat"] = fwd.A[-1].numpy()
    if y is None:
        return t
    t["y"] = y.numpy()
    t["error"] = (y - fwd.A[-1]).numpy()
    bwd = backward(net, fwd, J, tape)
    grads = gradients(net, W, J, tape)
    del tape
    t["J"] = J.numpy()
    t["J_each"] = LOSS.J_each(net.loss, y, fwd.A[-1], net.example_axis).numpy()
    t["dJ_dyhat"] = bwd.dJ_dyhat.numpy()
    for l in range(net.depth):
        n = net.layer_number(l)
        t[key("deriv", n)] = bwd.deriv[l].numpy()
        t[key("delta", n)] = bwd.delta[l].numpy()
        if l >= 1:
            t[key("dA", n - 1)] = bwd.dA_in[l].numpy()
    for name, g in grads.items():
        t[param_key("grad", name)] = g.numpy()
    history, costs = train(net, params, X, y, hyper)
    t["costs"] = costs
    t.update(training_keys(history))
    for name, x in (inputs or {}).items():
        t[f"predict.{name}"] = predict(net, variables(net, history[-1]), tf.constant(x, dtype=dtype)).numpy()
    consts = {name: tf.constant(p, dtype=dtype) for name, p in params.items()}
    J = tf.function(J_of(net, X, y, hyper))          # one trace; every perturbed parameter set reuses it
    t.update(GC.check(consts, grads, J, hyper))
    if hyper.probe:
        new = {name: tf.constant(p, dtype=dtype) for name, p in history[1].items()}
        t.update(GC.probe(hyper, new, J, "gradcheck.probe_new"))
    return t


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
