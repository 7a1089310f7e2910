"""The same network the way a Keras user writes it: Sequential, Dense, a loss object, SGD, compile + fit.

Read beside ``reference/network.py`` and ``network.py``: the same functions with the
same signatures (``reference/contract.py``). ``params`` is the model itself,

    keras.Sequential([keras.Input((n_in,)), Dense(n1), Activation, Dense(n2), Activation, …])

with the activation as its own layer, so that a functional ``keras.Model`` over
the same layers (``outputs=[layer.output for layer in model.layers]``, the
feature-extraction idiom of the Keras guides) exposes every Z (a Dense output)
and every A (an activation output). Deltas are ``tape.gradient(J, Z)`` on a
GradientTape around that model; training is ``model.compile`` + one
``model.fit`` over every epoch with ``shuffle=False`` (all of the data per step
for the batch rule, one example per step for SGD, each epoch's batches in its
order): one dataset of every epoch's batches (``epochs_data``), an epoch's steps
one call of Keras' compiled train function (``steps_per_execution``), a callback
recording the parameters after every epoch — the same numbers as
``train_on_batch`` step by step, at a third less time over Zhou's 4000 steps
(``fit`` called once per epoch costs 30 ms of set-up each). Dense works
examples-first; every Forward/Backward value is transposed back to the
article's layout (``layout.from_examples_first``).

The article's conventions are mapped onto Keras in :class:`Plan` (derived, not
typed in; the report prints ``Plan.mapping``):

* loss: J = m·keras_loss (see ``losses.py``: Keras has no ½ and averages).
* learning rate: Keras steps W ← W − lr·∂(keras loss + regularizers)/∂W, and for
  one training batch keras loss + regularizers = J_batch / m_step, so
  lr = α·s·m_step reproduces the article's W ← W − α·s·∂J/∂W.
* L2: ``keras.regularizers.L2(l)`` adds l·ΣW² (gradient 2lW) to the Keras loss;
  l = λ/(2·m_step) makes it ½λΣW² / m_step, i.e. ½λΣW² in J. Kernel regularizers
  reach the weights; the bias (the bias row under the trick) is reached through
  ``bias_regularizer`` only when the case's ``l2_bias`` says so. ``load`` knows no
  λ, so the model it builds has no regularizer and ``cost`` applies the same L2
  objects to its variables; the model ``train`` compiles carries them.
* everything in the case's dtype: ``dtype=`` on Input, every layer and the loss,
  and ``keras.config.floatx`` set around every function that makes Keras objects
  (``floatx``), because Keras 3 creates the optimizer's learning rate and the loss
  that ``compile`` wraps around ours in floatx — float32 unless set.

``RUN_EAGERLY`` (or ``with executing(eagerly=True)``) switches compile and the
evaluation of J from tf.function (Keras' default) to eager execution: the eager
twin, tested to agree.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from backprop_parity.reference import batches as B
from backprop_parity.reference import gradcheck as GC
from backprop_parity.reference.contract import Backward, Forward, History, Training
from backprop_parity.reference.spec import Hyper, key, Net

from . import activations as ACT
from . import floatx, onednn_note, tf_dtype
from . import layout as L
from . import losses as LOSS
from backprop_parity.reference import optimizers as O

from .network import activations_notes, keras_optimizer, optimizer_call, state_of

RUN_EAGERLY = False     # compile(run_eagerly=…) and J_of: False is Keras' default (tf.function)


@contextlib.contextmanager
def executing(eagerly: bool):
    """``RUN_EAGERLY`` set inside the block, restored after it."""
    global RUN_EAGERLY
    before, RUN_EAGERLY = RUN_EAGERLY, bool(eagerly)
    try:
        yield
    finally:
        RUN_EAGERLY = before


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
    """The mapping for ``n`` examples in all (the batch rule steps on all of them, SGD on one, minibatch on
    batch_size: a last, smaller batch only where the loss averages and s = 1, which the case file checks)."""
    k = net.sizes[-1]
    batch_size = hyper.step_size(n)
    m_full = LOSS.keras_multiplier(net.loss, n * k)
    m_step = LOSS.keras_multiplier(net.loss, batch_size * k)
    s = hyper.scale(batch_size)
    lr = hyper.learning_rate * s * m_step
    l2 = hyper.l2 / (2 * m_step) if hyper.l2 else 0.0
    p = Plan(LOSS.keras_loss(net.loss, net.dtype), LOSS.keras_loss(net.loss, net.dtype, reduction=None),
             m_full, m_step, LOSS.keras_multiplier_each(net.loss, k), batch_size, lr, l2, hyper.l2_bias)
    p.mapping = {"loss": LOSS.keras_formula(net.loss, n * k), **training_notes(net, hyper, p, lr, l2)}
    return p


def training_notes(net: Net, hyper: Hyper, p: Plan, lr: float, l2: float, call: str | None = None) -> dict:
    """The learning rate, update and L2 as text; ``lr`` and ``l2`` are the optimizer's and the regularizers'
    (``train`` reads them from the compiled model; ``plan`` states what it will give them)."""
    k = net.sizes[-1]
    s = hyper.scale(p.batch_size)
    rule = ("one step on all the data per epoch" if hyper.rule == "batch"
            else "one step per example, in data order" if hyper.rule == "sgd"
            else f"one step per batch of {p.batch_size}, the data pre-permuted in each epoch's order "
                 f"(reference/batches.py), no shuffling by Keras")
    out = {
        "learning rate": (f"lr = α·s·m_step = {hyper.learning_rate:g}·{s:g}·{p.m_step:g} = {lr:.10g} "
                          f"(s = {hyper.grad_scale} with {p.batch_size} example(s) per step; m_step = J/keras loss "
                          f"on one training batch of {p.batch_size}×{k})"),
        "update": (f"model.compile(optimizer={call or f'keras.optimizers.SGD(learning_rate={lr:.10g})'}, loss=…, "
                   f"steps_per_execution=steps per epoch), model.fit(shuffle=False, epochs={hyper.epochs}): {rule}"),
    }
    if hyper.l2:
        bias_part = ({"rows": "bias row", "columns": "bias column"}[net.layout] + " of W") if net.trick else "b vectors"
        out["L2"] = (
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
    return out


# ---------------------------------------------------------------------------- arrays and the model

def tensor(net: Net, x_np) -> tf.Tensor:
    return tf.constant(x_np, dtype=tf_dtype(net.dtype))


def numpy(x) -> np.ndarray:
    """A NumPy copy (``.numpy()`` may share the tensor's memory; tf.Variable's __array__ predates NumPy 2's copy=)."""
    return np.array(x.numpy() if hasattr(x, "numpy") else x)


# A = g(Z) as a Keras layer of its own (so that the functional extractor sees every A).
ACTIVATION_LAYER = {
    "identity": lambda act, **kw: keras.layers.Activation("linear", **kw),
    "sigmoid": lambda act, **kw: keras.layers.Activation("sigmoid", **kw),
    "tanh": lambda act, **kw: keras.layers.Activation("tanh", **kw),
    "relu": lambda act, **kw: keras.layers.ReLU(**kw),
    "leaky_relu": lambda act, **kw: keras.layers.LeakyReLU(negative_slope=act.params["slope"], **kw),
    "elu": lambda act, **kw: keras.layers.ELU(alpha=act.params["alpha"], **kw),
    "softmax": lambda act, **kw: keras.layers.Softmax(axis=-1, **kw),
}   # [step:forward-activation] the Keras layer of g


def build(net: Net, params_np: dict | None, p: Plan | None = None) -> keras.Sequential:
    """keras.Sequential of Dense + activation layers, loaded with ``params_np`` (when given), with the
    plan's L2 regularizers (when given). Call it under ``floatx(net.dtype)``."""
    dtype = np.dtype(net.dtype).name
    reg = L2(p.l2) if p is not None and p.l2 else None
    layers = [keras.Input(shape=(net.sizes[0],), dtype=dtype, name="X")]
    for l in range(net.depth):
        act = net.activations[l]
        layers.append(dense_class(net)(net.sizes[l + 1], use_bias=net.bias != "none", dtype=dtype,
                                       kernel_regularizer=reg,                                   # [step:l2] L2(l)
                                       bias_regularizer=reg if p is not None and p.l2_bias else None,
                                       name=f"Z{net.layer_number(l)}"))                        # [step:forward-affine] Dense: Z = A·kernel + bias
        layers.append(ACTIVATION_LAYER[act.name](act, dtype=dtype, name=f"A{net.layer_number(l)}"))  # [step:forward-activation]
    model = keras.Sequential(layers, name="article_net")
    if params_np is not None:
        assign(net, model, params_np)
    freeze(net, model)
    return model


class SharedBiasDense(keras.layers.Dense):
    """Dense with ONE bias for all of its units (bias = "shared", Mazur's convention): the bias variable is built
    with shape (1,) and Dense.call's ``ops.add(x, self.bias)`` broadcasts it over the units; its gradient is
    then summed over them by the framework's own differentiation."""

    def build(self, input_shape):
        use_bias, self.use_bias = self.use_bias, False
        super().build(input_shape)                                       # the kernel, as any Dense
        self.use_bias = use_bias
        self.bias = self.add_weight(name="bias", shape=(1,), initializer=self.bias_initializer,   # [step:forward-affine:shared] one bias
                                    regularizer=self.bias_regularizer, constraint=self.bias_constraint)


def dense_class(net: Net):
    return SharedBiasDense if net.bias == "shared" else keras.layers.Dense


def dense_layers(model) -> list:
    return [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]


def activation_layers(model) -> list:
    return [layer for layer in model.layers if not isinstance(layer, keras.layers.Dense)]


def assign(net: Net, model, params_np: dict, layers=None) -> None:
    """The article's NumPy parameters into the Dense layers (layout.to_dense), exactly: every layer, or the
    indexes in ``layers``."""
    for l, layer in enumerate(dense_layers(model)):
        if layers is not None and l not in layers:
            continue
        kernel, bias = L.to_dense(params_np[net.W_name(l)], params_np.get(net.b_name(l)), net.layout, net.bias)
        layer.kernel.assign(kernel)
        if bias is not None:
            layer.bias.assign(bias)                                          # [step:bias-trick] the bias row of W → Dense.bias


def freeze(net: Net, model) -> None:
    """Frozen article parameters -> variable.trainable = False (fit then leaves them alone).
    Under the bias trick W is kernel and bias together."""
    for l, layer in enumerate(dense_layers(model)):
        if net.W_name(l) in net.frozen:
            layer.kernel.trainable = False
            if net.trick:
                layer.bias.trainable = False
        if net.has_b and net.b_name(l) in net.frozen:
            layer.bias.trainable = False


def load(net: Net, params_np: dict) -> keras.Sequential:
    """The model, loaded with the article's parameters (no regularizer: ``load`` knows no λ; see ``cost``)."""
    with floatx(net.dtype):
        return build(net, params_np)


def article_params(net: Net, values) -> dict:
    """{article name: tensor} from every Dense layer's (kernel, bias) values (bias None without one): NumPy
    copies mapped back by layout.from_dense, as new tensors."""
    out = {}
    for l, (kernel, bias) in enumerate(values):
        W, b = L.from_dense(numpy(kernel), None if bias is None else numpy(bias), net.layout, net.bias)
        out[net.W_name(l)] = tensor(net, W)
        if b is not None:
            out[net.b_name(l)] = tensor(net, b)
    return out


def parameters(net: Net, params) -> dict:
    """The Dense layers' variables in the article's layout."""
    return article_params(net, [(layer.kernel, layer.bias if layer.use_bias else None)
                                for layer in dense_layers(params)])


def extractor(model) -> keras.Model:
    """A functional model over the same layers, returning [Z1, A1, Z2, A2, …]."""
    return keras.Model(inputs=model.inputs, outputs=[layer.output for layer in model.layers])


# ---------------------------------------------------------------------------- one step, on a tape around the model

@dataclass
class Record:
    """What ``forward`` leaves for ``backward`` and ``gradients``: the tape and the model's own tensors
    (examples first), which the tape differentiates; J once backward has taped it."""

    tape: tf.GradientTape
    Z: list
    A: list          # A[0] = X, A[l+1] = g(Z[l]), examples first
    J: Any = None
    yhat_on_path: bool = True


def forward(net: Net, params, X, input_gradient: bool = True) -> Forward:
    model = params
    weights = [v for layer in dense_layers(model) for v in layer.weights]
    tape = tf.GradientTape(persistent=True)
    with tape:
        tape.watch([v.value for v in weights])   # frozen (non-trainable) variables too: their gradient is reported
        X_first = L.examples_first(X, net.layout)
        if input_gradient:
            tape.watch(X_first)                  # [step:input-gradient] the model's input on the tape, for ∂J/∂X
        outs = extractor(model)(X_first)         # Z and A of every layer, from the model's own layers
        Z_first, A_first = list(outs[0::2]), [X_first, *outs[1::2]]
        Z = [L.from_examples_first(Z_l, net.layout) for Z_l in Z_first]
        A = [X] + [L.from_examples_first(A_l, net.layout) for A_l in A_first[1:]]
    return Forward(Z, A, A[:-1], Record(tape, Z_first, A_first), input_gradient)


def backward(net: Net, params, fwd: Forward, y, hyper: Hyper) -> Backward:
    model, rec = params, fwd.record
    with rec.tape:
        J = cost(net, model, fwd.A[-1], y, hyper)
    rec.J = J
    last = net.depth - 1
    deriv = []
    for act, layer, Z in zip(net.activations, activation_layers(model), rec.Z):
        with tf.GradientTape() as tape:
            tape.watch(Z)
            A = layer(Z)
        deriv.append(L.from_examples_first(tape.gradient(A, Z), net.layout) if act.elementwise
                     else tape.batch_jacobian(A, Z))                           # g'(Z) of the model's own layer (softmax: Jacobians)
    dJ_dyhat = rec.tape.gradient(J, rec.A[-1])
    rec.yhat_on_path = dJ_dyhat is not None
    if dJ_dyhat is None:
        # Keras computed the loss from the layer's logits (BinaryCrossentropy after a sigmoid layer, CategoricalCrossentropy
        # after a softmax), so ŷ is not on the gradient path: ask the same loss object about ŷ as a plain tensor instead.
        yhat = tf.identity(fwd.A[-1])
        with tf.GradientTape() as tape:
            tape.watch(yhat)
            J_plain = cost(net, model, yhat, y, hyper)
        dJ_dyhat = tape.gradient(J_plain, yhat)
    else:
        dJ_dyhat = L.from_examples_first(dJ_dyhat, net.layout)
    delta = [None] * net.depth
    dA_in = [None] * net.depth
    delta[last] = L.from_examples_first(rec.tape.gradient(J, rec.Z[last]), net.layout)      # [step:output-delta] tape.gradient(J, Z)
    for l in range(last, 0, -1):
        dA_in[l] = L.from_examples_first(rec.tape.gradient(J, rec.A[l]), net.layout)        # [step:hidden-delta] ∂J/∂A
        delta[l - 1] = L.from_examples_first(rec.tape.gradient(J, rec.Z[l - 1]), net.layout)  # [step:hidden-delta] tape.gradient(J, Z)
    if fwd.input_gradient:
        dA_in[0] = L.from_examples_first(rec.tape.gradient(J, rec.A[0]), net.layout)        # [step:input-gradient] tape.gradient(J, X)
    return Backward(dJ_dyhat, deriv, delta, dA_in)


def gradients(net: Net, params, fwd: Forward, bwd: Backward, hyper: Hyper) -> dict:
    """∂J/∂(kernel, bias) of every Dense in one backward pass of the tape, mapped back to the article's
    W (b); J holds the L2 term, so λW is in."""
    rec, dense = fwd.record, dense_layers(params)
    per_layer = rec.tape.gradient(rec.J, [layer.weights for layer in dense])  # [step:weight-gradient] tape.gradient(J, [kernel, bias])
    return article_params(net, [(g[0], g[1] if layer.use_bias else None) for layer, g in zip(dense, per_layer)])


def cost(net: Net, params, yhat, y, hyper: Hyper):
    """J in the article's convention from the Keras loss object (J = m·keras) and Keras L2 regularizers."""
    with floatx(net.dtype):
        p = plan(net, hyper, L.n_examples(yhat, net.layout))
        J = p.loss(L.examples_first(y, net.layout), L.examples_first(yhat, net.layout)) * p.m_full   # [step:cost] J = m·keras_loss
        if p.l2:
            reg = L2(p.l2)
            J = J + tf.add_n([reg(v) for layer in dense_layers(params) for v in layer.weights
                              if v is layer.kernel or p.l2_bias]) * p.m_step   # [step:l2] + l·ΣW²·m_step = ½λΣW²
    return J


def cost_each(net: Net, yhat, y):
    with floatx(net.dtype):
        loss_each = LOSS.keras_loss(net.loss, net.dtype, reduction=None)
        return loss_each(L.examples_first(y, net.layout), L.examples_first(yhat, net.layout)) \
            * LOSS.keras_multiplier_each(net.loss, net.sizes[-1])


def optimizer(net: Net, params, hyper: Hyper, n: int):
    """keras.optimizers.SGD for ``step``: it applies the article's ∂J/∂W, so learning_rate = α·s.
    (``train`` compiles its own SGD, whose lr = α·s·m_step, because Keras differentiates J/m_step.)"""
    with floatx(net.dtype):
        opt = keras_optimizer(hyper, hyper.scale(n))                        # [step:update] α·(1/n)
        opt.build(params.trainable_variables)
    return opt


def step(net: Net, params, grads: dict, hyper: Hyper, opt):
    """W ← W − α·s·∂J/∂W on the model's trainable variables, the article's gradients mapped to Dense's layout."""
    pairs = []
    for l, layer in enumerate(dense_layers(params)):
        g_kernel, g_bias = L.to_dense(grads[net.W_name(l)], grads.get(net.b_name(l)), net.layout, net.bias)
        pairs.append((tensor(net, g_kernel), layer.kernel))
        if g_bias is not None:
            pairs.append((tensor(net, g_bias), layer.bias))
    pairs = [(g, v) for g, v in pairs if v.trainable]
    if pairs:
        opt.apply_gradients(pairs)                                          # [step:update] W ← W − lr·∂J/∂W
    return params


def predict(net: Net, params, X):
    """ŷ of the model on X: ``model(x, training=False)``, the call Keras' documentation of ``Model.predict`` gives for
    inputs that fit in one batch (``predict`` makes a dataset and a prediction function for each model: 60 ms)."""
    with floatx(net.dtype):
        return L.from_examples_first(params(L.examples_first(X, net.layout), training=False), net.layout)


# ---------------------------------------------------------------------------- training, and J for gradient checking

def evaluate(net: Net, model, X, y, hyper: Hyper):
    """J() -> (J, ŷ): model(X) and ``cost`` from the model's current variables — under tf.function unless
    RUN_EAGERLY (like Keras' own predict/evaluate functions).

    X is transposed to examples-first here, eagerly, not inside the function: in a graph Grappler
    folds a transpose into the MatMul after it (transpose_a), and float32 kernels then sum in
    another order."""
    X_first = L.examples_first(X, net.layout)

    def J():
        yhat = L.from_examples_first(model(X_first), net.layout)
        return cost(net, model, yhat, y, hyper), yhat
    return J if RUN_EAGERLY else tf.function(J)


def fit(net: Net, model, p: Plan, X_np, y_np, hyper: Hyper, every_epoch: bool = False) -> Training:
    """compile, then one ``model.fit`` over every epoch, no shuffling by Keras: the parameters (article layout) and
    J before training and after each epoch (a callback)."""
    with floatx(net.dtype):
        X, y = (np.asarray(L.examples_first(a, net.layout), dtype=net.dtype) for a in (X_np, y_np))
        steps = B.steps_per_epoch(hyper, len(X))
        model.compile(optimizer=keras_optimizer(hyper, hyper.scale(p.batch_size), p.m_step),   # [step:update] SGD(lr = α·s·m)
                      loss=p.loss, run_eagerly=RUN_EAGERLY, jit_compile=False, steps_per_execution=steps)
        J = evaluate(net, model, tensor(net, X_np), tensor(net, y_np), hyper)
        history = History({name: numpy(v) for name, v in parameters(net, model).items()}, every_epoch)
        costs = [numpy(J()[0])]
        state = {}

        def record_epoch(epoch, logs):
            history.append({name: numpy(v) for name, v in parameters(net, model).items()})
            costs.append(numpy(J()[0]))
            if epoch in (0, hyper.epochs - 1):
                state["opt_new" if epoch == 0 else "opt"] = snapshot(net, model, p.m_step)

        record = keras.callbacks.LambdaCallback(on_epoch_end=record_epoch)
        model.fit(epochs_data(X, y, p.batch_size, hyper), epochs=hyper.epochs, steps_per_epoch=steps, shuffle=False,
                  verbose=0, callbacks=[record])                                              # [step:update] W ← W − lr·∂/∂W, batch by batch
        regs = [v.regularizer for v in model.weights if v.regularizer is not None]
        notes = training_notes(net, hyper, p, float(numpy(model.optimizer.learning_rate)),
                               regs[0].l2 if regs else 0.0, optimizer_call(model.optimizer))
    return Training(history, np.asarray(costs), notes, O.traced(hyper, state))


def epochs_data(X: np.ndarray, y: np.ndarray, batch_size: int, hyper: Hyper):
    """Every epoch's batches, one after the other, as one tf.data.Dataset: each epoch's examples in its order
    (reference/batches.py), cut into batches of ``batch_size`` (the last of an epoch holds what is left). One
    dataset for the whole run, so ``fit`` keeps one iterator across its epochs (``steps_per_epoch``); why, in the
    module's docstring."""
    orders = B.orders(hyper, len(X))                                            # (epochs, n)
    X_t, y_t = tf.constant(X), tf.constant(y)
    return tf.data.Dataset.from_tensor_slices(orders).flat_map(
        lambda order: tf.data.Dataset.from_tensor_slices((tf.gather(X_t, order), tf.gather(y_t, order)))
        .batch(batch_size))                                                                    # [step:update] the data pre-permuted, no shuffling by Keras


def snapshot(net: Net, model, m: float) -> dict:
    """The compiled optimizer's state per Dense variable, mapped to the article's names and layout (from_dense)
    and scale (a moment of the Keras loss's gradient ∂J/∂W / m, multiplied back)."""
    opt = model.optimizer
    out: dict = {"t": int(numpy(opt.iterations))}
    for l, layer in enumerate(dense_layers(model)):
        kernel = state_of(opt, layer.kernel, m) if layer.kernel.trainable else {}        # frozen: no state
        vec = state_of(opt, layer.bias, m) if layer.use_bias and layer.bias.trainable else {}
        for slot in dict.fromkeys([*kernel, *vec]):
            W, b = L.from_dense(kernel.get(slot, np.zeros(layer.kernel.shape)),
                                vec.get(slot, np.zeros(layer.bias.shape)) if layer.use_bias else None,
                                net.layout, net.bias)
            if slot in kernel:
                out.setdefault(slot, {})[net.W_name(l)] = np.asarray(W)
            if b is not None and slot in vec:
                out.setdefault(slot, {})[net.b_name(l)] = np.asarray(b)
    return out


def train(net: Net, params_np: dict, X_np, y_np, hyper: Hyper, every_epoch: bool = False) -> Training:
    """The model a Keras user trains: regularizers on the layers, compile, then ``fit``."""
    with floatx(net.dtype):
        p = plan(net, hyper, L.n_examples(X_np, net.layout))
        return fit(net, build(net, params_np, p), p, X_np, y_np, hyper, every_epoch)


def J_of(net: Net, X_np, y_np, hyper: Hyper):
    """J as a function of NumPy parameters: what gradient checking perturbs. One model and one evaluation
    (traced once); each call assigns the parameters to the model's variables, then runs it."""
    with floatx(net.dtype):
        model = build(net, None)
        J = evaluate(net, model, tensor(net, X_np), tensor(net, y_np), hyper)

    loaded = GC.Loaded(net)

    def J_np(params_np):
        params = {name: np.asarray(p, dtype=net.dtype) for name, p in params_np.items()}
        assign(net, model, params, loaded.stale(params))          # the layers whose parameters moved since the last call
        J_value, yhat = J()
        return numpy(J_value), numpy(yhat)
    return J_np


# ---------------------------------------------------------------------------- what has no counterpart, the mapping

def missing(net: Net) -> dict:
    out = {}
    if net.trick:
        for l in range(net.depth):
            out[key("A_aug", net.layer_number(l) - 1)] = (
                "Keras Dense adds a bias vector: no layer sees [A | 1] (the bias row of W is Dense.bias)")
        for l in range(net.depth):
            out[key("dA", net.layer_number(l) - 1)] = ("Dense has no bias unit, so ∂J/∂A has no bias column; the "
                                                       "tape's ∂J/∂A equals dA without its last column")
        for l in range(1, net.depth):
            n = net.layer_number(l)
            out[key("deriv_aug", n - 1)] = "no autodiff counterpart: g' of the bias unit's constant 1 (Courtial's display)"
            out[key("delta_aug", n - 1)] = "no autodiff counterpart: Courtial's δ with a bias column (display only)"
    return out


def describe(net: Net, hyper: Hyper, X_np, fwd: Forward, training: Training | None) -> dict:
    """How the article's conventions map onto Keras (the plan, and what training read from the objects)."""
    dtype = np.dtype(net.dtype).name
    with floatx(net.dtype):
        p = plan(net, hyper, L.n_examples(X_np, net.layout))
    layers = ", ".join(
        f"{dense_class(net).__name__}({net.sizes[l + 1]}{', use_bias=False' if net.bias == 'none' else ''}), "
        f"{ACT.keras_label(net.activations[l])}" for l in range(net.depth))
    m = {
        "model": f"keras.Sequential([keras.Input(({net.sizes[0]},)), {layers}])",
        "parameters": "; ".join(L.describe_dense(net.W_name(l), net.b_name(l), net.param_shapes()[net.W_name(l)],
                                                 net.layout, net.bias) for l in range(net.depth))
                      + ("; X, y, Z, A, δ transposed: Keras takes one example per row" if net.layout == "columns" else ""),
        "dtype": (f"{dtype} everywhere: dtype='{dtype}' on Input, every layer and the loss; keras.config.floatx set "
                  f"to {dtype} for the run (compile() wraps our loss in a CompileLoss and the SGD learning rate is a "
                  f"variable, both created in floatx)"),
        "execution": ("eager: compile(run_eagerly=True), J evaluated eagerly" if RUN_EAGERLY else
                      "graph: compile(run_eagerly=False, jit_compile=False) trains under tf.function (Keras' "
                      "default), J of each epoch and of gradient checking under tf.function too")
                     + "; Z, A, δ captured eagerly by a GradientTape around the model (inspection)",
        "deltas": ("Z, A from keras.Model(model.inputs, [layer.output for layer in model.layers]) over the same "
                   "layers; δ = tape.gradient(J, Z), ∂J/∂A = tape.gradient(J, A), g'(Z) = tape.gradient of the "
                   "model's activation layer; ∂J/∂W = tape.gradient(J, [kernel, bias]) mapped back by from_dense"),
        "oneDNN": onednn_note(),
    }
    m.update(p.mapping)
    if training is not None:
        m.update(training.notes)
    if net.frozen:
        m["frozen"] = (f"{', '.join(sorted(net.frozen))}: variable.trainable = False on "
                       + ("kernel and bias (the bias row is part of W)" if net.trick else "the matching variables")
                       + "; fit skips them, their gradient is still taken by the tape")
    m.update(activations_notes(net, [numpy(Z) for Z in fwd.Z]))
    if fwd.record is not None and not fwd.record.yhat_on_path:
        out = net.activations[-1].name
        m["dJ_dyhat"] = (f"Keras computed the loss from the {out}'s logits ({LOSS.KERAS_CLASS[net.loss.name]} after a "
                         f"{out} layer), so ŷ is off the gradient path; ∂J/∂ŷ is the same loss object's gradient "
                         "at ŷ taken as a plain tensor (its probability form, ŷ clipped to [ε, 1 − ε], "
                         f"ε = {keras.config.epsilon():g}" + (", after ŷ / Σŷ" if out == "softmax" else "") + ")")
    return m
