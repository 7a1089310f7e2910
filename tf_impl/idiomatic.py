"""The same network the way a Keras user writes it: Sequential, Dense, a loss object, SGD, train_on_batch.

Read beside ``network.py`` (same function names). The model is

    keras.Sequential([keras.Input((n_in,)), Dense(n1), Activation, Dense(n2), Activation, …])

with the activation as its own layer, so that a functional ``keras.Model`` over
the same layers (``outputs=[layer.output for layer in model.layers]``, the
feature-extraction idiom of the Keras guides) exposes every Z (a Dense output)
and every A (an activation output). Deltas are ``tape.gradient(J, Z)`` on a
GradientTape around that model; training is ``model.compile`` +
``model.train_on_batch`` over the data in order (all of it per step for the
batch rule, one example per step for SGD), epoch after epoch. (``model.fit``
with ``shuffle=False`` gives the same numbers but costs tens of milliseconds of
per-epoch set-up: 40 s for Zhou's 1000 epochs against 8 s.)

The article's conventions are mapped onto Keras in :class:`Plan` (derived, not
typed in; the report prints ``Plan.mapping``):

* loss: J = m·keras_loss (see ``losses.py``: Keras has no ½ and averages).
* learning rate: Keras steps W ← W − lr·∂(keras loss + regularizers)/∂W, and for
  one training batch keras loss + regularizers = J_batch / m_step, so
  lr = α·s·m_step reproduces the article's W ← W − α·s·∂J/∂W.
* L2: ``keras.regularizers.L2(l)`` adds l·ΣW² (gradient 2lW) to the Keras loss;
  l = λ/(2·m_step) makes it ½λΣW² / m_step, i.e. ½λΣW² in J. Kernel regularizers
  reach the weights; the bias (the bias row under the trick) is reached through
  ``bias_regularizer`` only when the case's ``l2_bias`` says so.
* everything in the case's dtype: ``dtype=`` on Input, every layer and the loss,
  and ``keras.config.floatx`` set for the run (``floatx``), because Keras 3
  creates the optimizer's learning rate and the loss that ``compile`` wraps
  around ours in floatx — float32 unless set.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import keras
import numpy as np
import tensorflow as tf

from backprop_parity.reference.spec import Hyper, key, Net, param_key, training_keys

from . import activations as ACT
from . import floatx, onednn_note, tf_dtype
from . import gradcheck as GC
from . import layout as L
from . import losses as LOSS


class L2(keras.regularizers.L2):
    """keras.regularizers.L2 with its coefficient kept in the weight's dtype.

    Keras 3.15's L2 computes ``ops.cast(self.l2, x.dtype) * ops.sum(ops.square(x))``; casting a Python
    float goes through a float32 tensor (tf.cast converts the float to float32 first), so l = 0.15 acts as
    0.15000000596… on float64 weights. This subclass converts l straight to the weight's dtype; nothing
    else changes (tested against the stock class: they differ by exactly that rounding of l).
    """

    def __call__(self, x):
        return tf.constant(self.l2, dtype=x.dtype) * keras.ops.sum(keras.ops.square(x))


@dataclass
class Plan:
    """How the article's loss, learning rate and L2 map onto Keras for one case (all derived)."""

    loss: keras.losses.Loss           # reduction sum_over_batch_size
    loss_each: keras.losses.Loss      # reduction None: one value per example
    m_full: float                     # J = m_full·keras_loss on all the data
    m_step: float                     # … on one training batch
    m_each: float                     # J_each = m_each·keras_loss_each
    batch_size: int                   # examples per update
    lr: float                         # SGD learning rate
    l2: float                         # L2 regularizer coefficient l (0: none)
    l2_bias: bool
    mapping: dict = field(default_factory=dict)


def plan(net: Net, hyper: Hyper, n: int) -> Plan:
    k = net.sizes[-1]
    batch_size = n if hyper.rule == "batch" else 1
    m_full = LOSS.keras_multiplier(net.loss, n * k)
    m_step = LOSS.keras_multiplier(net.loss, batch_size * k)
    s = hyper.scale(batch_size)
    lr = hyper.learning_rate * s * m_step
    l2 = hyper.l2 / (2 * m_step) if hyper.l2 else 0.0
    p = Plan(LOSS.keras_loss(net.loss, net.dtype), LOSS.keras_loss(net.loss, net.dtype, reduction=None),
             m_full, m_step, LOSS.keras_multiplier_each(net.loss, k), batch_size, lr, l2, hyper.l2_bias)
    rule = ("one train_on_batch on all the data per epoch" if hyper.rule == "batch"
            else "one train_on_batch per example, in data order")
    p.mapping = {
        "loss": LOSS.keras_formula(net.loss, n * k),
        "learning rate": (f"lr = α·s·m_step = {hyper.learning_rate:g}·{s:g}·{m_step:g} = {lr:.10g} "
                          f"(s = {hyper.grad_scale} with {batch_size} example(s) per step; m_step = J/keras loss "
                          f"on one training batch of {batch_size}×{k})"),
        "update": (f"model.compile(optimizer=keras.optimizers.SGD(learning_rate={lr:.10g}), loss=…), "
                   f"{hyper.epochs} epoch(s): {rule}"),
    }
    if hyper.l2:
        bias_part = ({"rows": "bias row", "columns": "bias column"}[net.layout] + " of W") if net.trick else "b vectors"
        p.mapping["L2"] = (
            f"J += ½λΣW² with λ = {hyper.l2:g}  ↔  kernel_regularizer=L2({l2:.10g}) "
            f"(l = λ/(2·m_step): Keras adds l·ΣW², gradient 2lW, to a loss that is J/m_step); "
            + (f"bias_regularizer=L2({l2:.10g}) too, since the case's L2 reaches the {bias_part}"
               if hyper.l2_bias and net.bias != "none" else
               f"no bias_regularizer: the case's L2 leaves the {bias_part} alone"
               if net.bias != "none" else "no biases")
            + ". L2 is keras.regularizers.L2 with l converted straight to float64 (the stock class rounds l "
              "through float32: tf.cast of a Python float)"
            + ". Keras sums regularizers over trainable weights only (model.losses); J adds every "
              "variable's regularizer, frozen ones included, as the article does")
    return p


# ---------------------------------------------------------------------------- the model

def build(net: Net, params: dict, p: Plan) -> keras.Sequential:
    """keras.Sequential of Dense + activation layers, loaded with the case's parameters."""
    dtype = np.dtype(net.dtype).name
    reg = L2(p.l2) if p.l2 else None
    layers = [keras.Input(shape=(net.sizes[0],), dtype=dtype, name="X")]
    for l in range(net.depth):
        layers.append(keras.layers.Dense(net.sizes[l + 1], use_bias=net.bias != "none", dtype=dtype,
                                         kernel_regularizer=reg,                                 # [step:l2] L2(l)
                                         bias_regularizer=reg if p.l2_bias else None,
                                         name=f"Z{net.layer_number(l)}"))                        # [step:forward-affine] Dense: Z = A·kernel + bias
        layers.append(ACT.keras_layer(net.activations[l], dtype, name=f"A{net.layer_number(l)}"))  # [step:forward-activation]
    model = keras.Sequential(layers, name="article_net")
    load_params(model, net, params)
    freeze(model, net)
    return model


def dense_layers(model) -> list:
    return [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]


def activation_layers(model) -> list:
    return [layer for layer in model.layers if not isinstance(layer, keras.layers.Dense)]


def load_params(model, net: Net, params: dict) -> None:
    """The article-layout parameters into the Dense layers (layout.to_dense), exactly."""
    for l, layer in enumerate(dense_layers(model)):
        b = params.get(net.b_name(l))
        kernel, bias = L.to_dense(params[net.W_name(l)], b, net.layout, net.bias)   # [step:bias-trick] bias row → Dense.bias
        layer.kernel.assign(kernel)
        if bias is not None:
            layer.bias.assign(bias)


def params_of(model, net: Net) -> dict:
    """The Dense layers' variables in the article's layout (layout.from_dense)."""
    out = {}
    for l, layer in enumerate(dense_layers(model)):
        W, b = L.from_dense(layer.kernel.numpy(), layer.bias.numpy() if layer.use_bias else None,
                            net.layout, net.bias)
        out[net.W_name(l)] = W
        if b is not None:
            out[net.b_name(l)] = b
    return out


def variables_by_name(model, net: Net) -> dict:
    """article parameter name -> the Keras variables that hold it (kernel, and bias under the trick)."""
    out = {}
    for l, layer in enumerate(dense_layers(model)):
        if net.bias == "trick":
            out[net.W_name(l)] = [layer.kernel, layer.bias]
        else:
            out[net.W_name(l)] = [layer.kernel]
            if net.bias == "vectors":
                out[net.b_name(l)] = [layer.bias]
    return out


def freeze(model, net: Net) -> None:
    """Frozen article parameters -> variable.trainable = False (train_on_batch then leaves them alone)."""
    for name, vs in variables_by_name(model, net).items():
        if name in net.frozen:
            for v in vs:
                v.trainable = False


def extractor(model) -> keras.Model:
    """A functional model over the same layers, returning [Z1, A1, Z2, A2, …]."""
    return keras.Model(inputs=model.inputs, outputs=[layer.output for layer in model.layers])


# ---------------------------------------------------------------------------- one step, captured

@dataclass
class Forward:
    Z: list
    A: list          # A[0] = X (examples first), A[l+1] = g(Z[l])


def forward(features: keras.Model, X) -> Forward:
    outs = features(X)                       # Z and A of every layer, from the model's own layers
    return Forward(list(outs[0::2]), [X, *outs[1::2]])


def cost(model, p: Plan, yhat, y, m: float):
    """J in the article's convention from the Keras loss object (J = m·keras) and the layers' regularizers."""
    J = p.loss(y, yhat) * m                                                        # [step:cost] J = m·keras_loss
    regs = [v.regularizer(v) for v in model.weights if v.regularizer is not None]
    if regs:
        J = J + tf.add_n(regs) * p.m_step                                          # [step:l2] + l·ΣW²·m_step = ½λΣW²
    return J


def capture(model, features, p: Plan, X, y) -> dict:
    """Z, A, J, ∂J/∂ŷ, g'(Z), δ, ∂J/∂A and ∂J/∂(kernel, bias) of one forward/backward pass."""
    weights = [v for layer in dense_layers(model) for v in layer.weights]
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([v.value for v in weights])   # frozen (non-trainable) variables too: their gradient is reported
        fwd = forward(features, X)
        J = cost(model, p, fwd.A[-1], y, p.m_full)
    delta_out = tape.gradient(J, fwd.Z[-1])                                  # [step:output-delta] tape.gradient(J, Z)
    delta_hidden = tape.gradient(J, fwd.Z[:-1])                              # [step:hidden-delta] tape.gradient(J, Z)
    dA = tape.gradient(J, fwd.A[1:-1])
    grads = tape.gradient(J, weights)                                        # [step:weight-gradient] tape.gradient(J, kernel/bias)
    dJ_dyhat = tape.gradient(J, fwd.A[-1])
    del tape
    out = {"Z": fwd.Z, "A": fwd.A[1:], "J": J, "J_each": p.loss_each(y, fwd.A[-1]) * p.m_each,
           "delta": [*delta_hidden, delta_out], "dA": dA, "grads": grads, "yhat_on_path": dJ_dyhat is not None}
    if dJ_dyhat is None:
        # Keras computed the loss from the sigmoid's logits (BinaryCrossentropy after a sigmoid layer), so ŷ
        # is not on the gradient path: ask the same loss object about ŷ as a plain tensor instead.
        yhat = tf.identity(fwd.A[-1])
        with tf.GradientTape() as t2:
            t2.watch(yhat)
            J2 = p.loss(y, yhat) * p.m_full
        dJ_dyhat = t2.gradient(J2, yhat)
    out["dJ_dyhat"] = dJ_dyhat
    deriv = []
    for layer, Z in zip(activation_layers(model), fwd.Z):
        with tf.GradientTape() as t3:
            t3.watch(Z)
            A = layer(Z)
        deriv.append(t3.gradient(A, Z))                                      # g'(Z) of the model's own activation layer
    out["deriv"] = deriv
    return out


def grads_by_name(model, net: Net, grads: list) -> dict:
    """The tape's gradients of (kernel, bias) of every Dense, in the article's layout."""
    out, i = {}, 0
    for l, layer in enumerate(dense_layers(model)):
        gk = grads[i].numpy()
        gb = grads[i + 1].numpy() if layer.use_bias else None
        i += 2 if layer.use_bias else 1
        W, b = L.from_dense(gk, gb, net.layout, net.bias)
        out[net.W_name(l)] = W
        if b is not None:
            out[net.b_name(l)] = b
    return out


# ---------------------------------------------------------------------------- training

def train(model, net: Net, p: Plan, X, y, hyper: Hyper, run_eagerly: bool):
    """compile, then train_on_batch over the data in order, epoch after epoch; returns the parameters
    (article layout) before training and after each epoch."""
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=p.lr), loss=p.loss,       # [step:update] SGD(lr = α·s·m)
                  run_eagerly=run_eagerly, jit_compile=False)
    batches = [(X[i:i + p.batch_size], y[i:i + p.batch_size]) for i in range(0, len(X), p.batch_size)]
    history = [params_of(model, net)]
    for _ in range(hyper.epochs):
        for X_batch, y_batch in batches:                                                   # data order, no shuffling
            model.train_on_batch(X_batch, y_batch)                                         # [step:update] W ← W − lr·∂/∂W
        history.append(params_of(model, net))
    return history


def J_of(model, net: Net, p: Plan, X, y, run_eagerly: bool = True):
    """J as a function of the (article-layout) parameters: loads them into the model, then model(X)
    (under tf.function unless run_eagerly, like Keras' own predict/evaluate functions)."""
    def evaluate(X, y):
        yhat = model(X)
        return cost(model, p, yhat, y, p.m_full), yhat
    evaluate = evaluate if run_eagerly else tf.function(evaluate)

    def J(params):
        load_params(model, net, params)
        J_value, yhat = evaluate(X, y)
        return J_value, L.from_examples_first(yhat.numpy(), net.layout)
    return J


def predict(model, X) -> np.ndarray:
    return model.predict(X, verbose=0)


# ---------------------------------------------------------------------------- the trace

def missing(net: Net) -> dict:
    out = {}
    if net.trick:
        for l in range(net.depth):
            out[key("A_aug", net.layer_number(l) - 1)] = (
                "Keras Dense adds a bias vector: no layer sees [A | 1] (the bias row of W is Dense.bias)")
        for l in range(1, net.depth):
            n = net.layer_number(l)
            out[key("dA", n - 1)] = ("Dense has no bias unit, so ∂J/∂A has no bias column; the tape's "
                                     "∂J/∂A equals dA without its last column")
            out[key("deriv_aug", n - 1)] = "no autodiff counterpart: g' of the bias unit's constant 1 (Courtial's display)"
            out[key("delta_aug", n - 1)] = "no autodiff counterpart: Courtial's δ with a bias column (display only)"
    return out


def trace(case, run_eagerly: bool = False) -> tuple[dict, dict, dict]:
    """(values, missing, mapping) of the Keras style for one case."""
    net, hyper = case.net, case.hyper
    with floatx(net.dtype):
        return _trace(case, net, hyper, run_eagerly)


def _trace(case, net: Net, hyper: Hyper, run_eagerly: bool):
    dtype = tf_dtype(net.dtype)
    lay = net.layout
    X = tf.constant(L.examples_first(case.X, lay), dtype=dtype)
    n = int(X.shape[0])
    p = plan(net, hyper, n)
    model = build(net, case.params, p)
    features = extractor(model)
    t: dict = {"X": L.from_examples_first(X.numpy(), lay), "n_params": float(model.count_params())}
    t.update({param_key("", name): v for name, v in params_of(model, net).items()})
    y = None if case.y is None else tf.constant(L.examples_first(case.y, lay), dtype=dtype)
    if y is None:
        fwd = forward(features, X)
        Zs, As = fwd.Z, fwd.A[1:]
    else:
        cap = capture(model, features, p, X, y)
        Zs, As = cap["Z"], cap["A"]
    for l in range(net.depth):
        num = net.layer_number(l)
        t[key("Z", num)] = L.from_examples_first(Zs[l].numpy(), lay)
        t[key("A", num)] = L.from_examples_first(As[l].numpy(), lay)
    t[key("A", net.first_layer - 1)] = t["X"]
    t["yhat"] = t[key("A", net.layer_number(net.depth - 1))]
    mapping = _mapping(net, hyper, p, model, Zs, run_eagerly)
    if y is None:
        return t, _missing_forward_only(net), mapping
    t["y"] = L.from_examples_first(y.numpy(), lay)
    t["error"] = L.from_examples_first(tf.subtract(y, As[-1]).numpy(), lay)
    t["J"] = cap["J"].numpy()
    t["J_each"] = cap["J_each"].numpy()
    t["dJ_dyhat"] = L.from_examples_first(cap["dJ_dyhat"].numpy(), lay)
    if not cap["yhat_on_path"]:
        mapping["dJ_dyhat"] = ("Keras computed the loss from the sigmoid's logits (BinaryCrossentropy after a "
                               "sigmoid), so ŷ is off the gradient path; ∂J/∂ŷ is the same loss object's gradient "
                               "at ŷ taken as a plain tensor (its probability form, ŷ clipped to [ε, 1 − ε], "
                               f"ε = {keras.config.epsilon():g})")
    for l in range(net.depth):
        num = net.layer_number(l)
        t[key("deriv", num)] = L.from_examples_first(cap["deriv"][l].numpy(), lay)
        t[key("delta", num)] = L.from_examples_first(cap["delta"][l].numpy(), lay)
        if l >= 1 and not net.trick:
            t[key("dA", num - 1)] = L.from_examples_first(cap["dA"][l - 1].numpy(), lay)
    grads = grads_by_name(model, net, cap["grads"])
    for name, g in grads.items():
        t[param_key("grad", name)] = g
    history = train(model, net, p, X.numpy(), y.numpy(), hyper, run_eagerly)
    J = J_of(model, net, p, X, y, run_eagerly)
    t["costs"] = np.asarray([J(h)[0].numpy() for h in history])
    t.update(training_keys(history))
    load_params(model, net, history[-1])
    for name, x in case.inputs.items():
        xk = np.asarray(L.examples_first(x, lay), dtype=net.dtype)
        t[f"predict.{name}"] = L.from_examples_first(predict(model, xk), lay)
    initial = {name: tf.constant(v, dtype=dtype) for name, v in case.params.items()}
    t.update(GC.check(initial, grads, J, hyper))
    if hyper.probe:
        new = {name: tf.constant(v, dtype=dtype) for name, v in history[1].items()}
        t.update(GC.probe(hyper, new, J, "gradcheck.probe_new"))
    return t, missing(net), mapping


def _missing_forward_only(net: Net) -> dict:
    return {k: v for k, v in missing(net).items() if k.startswith("A_aug")}


def _mapping(net: Net, hyper: Hyper, p: Plan, model, Zs, run_eagerly: bool) -> dict:
    dtype = np.dtype(net.dtype).name
    layers = ", ".join(
        f"Dense({net.sizes[l + 1]}{', use_bias=False' if net.bias == 'none' else ''}), "
        f"{ACT.keras_label(net.activations[l])}" for l in range(net.depth))
    m = {
        "model": f"keras.Sequential([keras.Input(({net.sizes[0]},)), {layers}])",
        "parameters": "; ".join(L.describe_dense(net.W_name(l), net.b_name(l), net.param_shapes()[net.W_name(l)],
                                             net.layout, net.bias) for l in range(net.depth))
                  + ("; X, y, Z, A, δ transposed: Keras takes one example per row" if net.layout == "columns" else ""),
        "dtype": (f"{dtype} everywhere: dtype='{dtype}' on Input, every layer and the loss; keras.config.floatx set "
                  f"to {dtype} for the run (compile() wraps our loss in a CompileLoss and the SGD learning rate is a "
                  f"variable, both created in floatx)"),
        "execution": ("eager: compile(run_eagerly=True), J evaluated eagerly" if run_eagerly else
                      "graph: compile(run_eagerly=False, jit_compile=False) trains under tf.function (Keras' "
                      "default), J of each epoch and of gradient checking under tf.function too")
                     + "; Z, A, δ captured eagerly by a GradientTape around the model (inspection)",
        "deltas": ("Z, A from keras.Model(model.inputs, [layer.output for layer in model.layers]) over the same "
                   "layers; δ = tape.gradient(J, Z), ∂J/∂A = tape.gradient(J, A), g'(Z) = tape.gradient of the "
                   "model's activation layer; ∂J/∂W = tape.gradient(J, [kernel, bias]) mapped back by from_dense"),
        "oneDNN": onednn_note(),
    }
    m.update(p.mapping)
    if net.frozen:
        m["frozen"] = (f"{', '.join(sorted(net.frozen))}: variable.trainable = False on "
                       + ("kernel and bias (the bias row is part of W)" if net.trick else "the matching variables")
                       + "; train_on_batch skips them, their gradient is still taken by the tape")
    from .backend import activations_notes
    m.update(activations_notes(net, Zs))
    return m

