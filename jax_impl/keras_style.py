"""The same network the way a Keras 3 user writes it — with Keras running on its JAX backend.

Read beside ``network.py`` (the same contract functions). The model is

    keras.Sequential([keras.Input((n_in,)), Dense(n1), Activation, Dense(n2), Activation, …])

with every layer's ``dtype`` set to the case's and every Dense layer created holding the case's
parameters (its initializers give the article's arrays); training is ``model.compile`` +
``model.fit(X, y, batch_size=…, shuffle=False, epochs=…)`` over the data in order (all of it
per step for the batch rule, one example per step for SGD), a callback recording the
parameters after every epoch — on JAX, Keras compiles the train step with XLA (``jit_compile``
defaults to True there). This is the test of Keras 3's promise
that one model gives the same numbers on every backend: the TensorFlow mirror runs the
same model on TensorFlow (``tf_impl/idiomatic.py``); nothing is imported from it.

Keras on JAX is set per process: ``KERAS_BACKEND=jax`` must be in the environment before
keras is first imported (the registry's worker sets it). This module imports keras lazily,
on first use, and refuses to run on any other Keras backend (:class:`KerasBackendError`),
so importing the jax backend never imports keras — nor TensorFlow through it.

Inspection, the JAX way, on the model's own layers: each ``Dense`` and activation layer is
called under ``jax.vjp`` (``forward``), so δ = the activation layer's pullback of ∂J/∂A,
∂J/∂A_in = the Dense layer's pullback of δ, g'(Z) = the activation layer's pullback of
ones (an element-wise layer), ∂J/∂ŷ = ``jax.grad`` of the Keras loss object, and ∂J/∂W =
``jax.grad`` of the whole J over every variable's value through ``model.stateless_call``
(frozen variables too: their gradient is reported, as the reference does).

The article's conventions map onto Keras in :class:`Plan` (derived, not typed in):

* loss: J = m·keras_loss. Keras' element term t is (y − ŷ)² (MeanSquaredError) or the
  cross-entropy term (BinaryCrossentropy); ``sum_over_batch_size`` averages t over the N
  numbers of a batch. The article's term is r·t (r = ½ for half_sse, else 1), so
  m = r·N for the article's summed costs and m = r for its averaged ones.
* learning rate: Keras steps W ← W − lr·∂(keras loss + regularizers)/∂W, and on one training
  batch keras loss + regularizers = J_batch/m_step, so lr = α·s·m_step gives the article's
  W ← W − α·s·∂J/∂W.
* L2: ``keras.regularizers.L2(l)`` adds l·ΣW² (gradient 2lW) to the Keras loss; l = λ/(2·m_step)
  makes that ½λΣW²/m_step, i.e. ½λΣW² in J. Kernels always; biases (the bias row under the
  trick) through ``bias_regularizer`` only when the case's ``l2_bias`` says so. On JAX the
  stock class is exact in float64 (its ``ops.cast(l, float64)`` is ``jnp.asarray(l, float64)``;
  on TensorFlow the same call rounds l through float32) — the tests check it.
* dtype: ``dtype=`` on Input, every layer and the loss, and ``keras.config.floatx`` set to
  the case's dtype around every call here (:func:`floatx`), because Keras 3 creates the SGD
  learning-rate variable and the loss that ``compile`` wraps around ours in floatx.
* BinaryCrossentropy after a sigmoid: on TensorFlow, Keras computes it from the sigmoid's
  logits; a JAX array takes no ``_keras_logits`` attribute, so on JAX it is the probability
  form, ŷ clipped to [ε, 1 − ε] (ε = 1e-7) — identical to the article's where ŷ is farther
  than ε from 0 and 1, and finite where the article's is infinite.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from backprop_parity.reference import optimizers as O
from backprop_parity.reference import batches as B
from backprop_parity.reference.contract import Backward, Forward, History, Training
from backprop_parity.reference.spec import Hyper, Net, hashable

from . import compiled, jax_dtype
from . import layout as L
from .network import Pullbacks, Record


# --------------------------------------------------------------------------- Keras, on JAX only

class KerasBackendError(RuntimeError):
    """Keras is (or would be) running on another backend in this process."""


def require_keras():
    """The keras module, imported on first use, and only when it runs on JAX in this process."""
    module = sys.modules.get("keras")
    if module is None:
        chosen = os.environ.get("KERAS_BACKEND")
        if chosen != "jax":
            raise KerasBackendError(
                f"the jax/keras style runs Keras 3 on its JAX backend: set KERAS_BACKEND=jax in the environment "
                f"before keras is imported (KERAS_BACKEND is {chosen!r}; one Keras backend per process)")
        import keras as module
    backend = module.backend.backend()
    if backend != "jax":
        raise KerasBackendError(f"keras was imported with its {backend!r} backend in this process; the jax/keras "
                                f"style needs a process started with KERAS_BACKEND=jax (one Keras backend per process)")
    return module


class _Keras:
    """``keras``, resolved on first attribute access (see :func:`require_keras`)."""

    def __getattr__(self, name):
        return getattr(require_keras(), name)


keras = _Keras()


def promotion_table() -> dict:
    """Keras' 64 → 32-bit promotion table (``keras.src.backend.common.dtypes.BIT64_TO_BIT32_DTYPE``)."""
    from keras.src.backend.common import dtypes
    return dtypes.BIT64_TO_BIT32_DTYPE


@contextlib.contextmanager
def floatx(dtype):
    """Keras in the case's dtype for the duration, restored afterwards.

    * ``keras.config.floatx``: Keras 3 creates the SGD learning-rate variable and the loss that
      ``compile`` wraps around ours in floatx (float32 unless set);
    * Keras' type promotion (``keras.backend.result_type``) ends by mapping float64 to float32 on
      every backend but TensorFlow (``BIT64_TO_BIT32_DTYPE``, "to be aligned with JAX's default
      behavior"), whether or not JAX runs with jax_enable_x64. On JAX, ``keras.ops.tanh`` (so
      ``Activation('tanh')``) and ``keras.ops.mean`` (so every Keras loss: MeanSquaredError and
      BinaryCrossentropy average over the outputs with it) therefore compute float64 tensors in
      float32 — 7e-9 off in tanh, 1.5e-10 in an MSE. With x64 on, JAX's own behaviour is float64,
      so for a float64 run the table's float64 entry is set to float64: the stock layers and losses
      then compute in float64 (``test_jax_keras.py`` asserts the stock behaviour, so that a Keras
      release that changes it is noticed).
    """
    name = np.dtype(dtype).name
    old, table = keras.config.floatx(), promotion_table()
    old_entry = table.get("float64")
    keras.config.set_floatx(name)
    if name == "float64":
        table["float64"] = "float64"
    try:
        yield
    finally:
        keras.config.set_floatx(old)
        table["float64"] = old_entry


# --------------------------------------------------------------------------- the article ↔ Keras mapping

TERM_RATIO = {"half_sse": 0.5, "mse": 1.0, "squared_error": 1.0, "bce": 1.0, "cce": 1.0,   # article term / Keras term
              "output_sum": 1.0}
KERAS_CLASS = {"half_sse": "MeanSquaredError", "mse": "MeanSquaredError", "squared_error": "MeanSquaredError",
               "output_sum": "OutputSum",
               "bce": "BinaryCrossentropy", "cce": "CategoricalCrossentropy"}


def keras_loss(loss, dtype, reduction="sum_over_batch_size"):
    """The Keras loss object for this article loss, computing in ``dtype``."""
    cls = output_sum_class() if loss.name == "output_sum" else getattr(keras.losses, KERAS_CLASS[loss.name])
    return cls(reduction=reduction, dtype=np.dtype(dtype).name)


def keras_name(loss) -> str:
    """How the report names the Keras loss class: keras.losses.X, or this module's own subclass."""
    if loss.name == "output_sum":
        return "OutputSum (a keras.losses.Loss whose call is keras.ops.mean(ŷ, axis=-1))"
    return f"keras.losses.{KERAS_CLASS[loss.name]}"


def output_sum_class():
    """J = Σ ŷ as a Keras loss (Keras has none: a user subclasses keras.losses.Loss). Like Keras' own losses it
    gives each example the mean of its outputs, which the reduction then averages over the batch; y_true is not
    read. Made on first use (keras is imported lazily)."""
    global _OUTPUT_SUM
    if _OUTPUT_SUM is None:
        class OutputSum(keras.losses.Loss):
            def call(self, y_true, y_pred):
                return keras.ops.mean(y_pred, axis=-1)                     # [step:cost:output_sum] an example's mean output
        _OUTPUT_SUM = OutputSum
    return _OUTPUT_SUM


_OUTPUT_SUM = None


def multiplier(loss, n_elements: int) -> float:
    """m in J = m·keras_loss for a batch of ``n_elements`` numbers (examples × outputs)."""
    r = TERM_RATIO[loss.name]
    return r * n_elements if loss.reduce == "sum" else r      # "mean" and "example_mean": Keras averages the same way


def rate(net: Net, hyper: Hyper, n: int) -> float:
    """Keras' SGD learning rate for an update on n examples: lr = α·s·m."""
    return hyper.learning_rate * hyper.scale(n) * multiplier(net.loss, n * net.sizes[-1])


@dataclass
class Plan:
    """How the article's loss, learning rate and L2 map onto Keras for one case (all derived)."""

    loss: Any                  # keras loss, reduction sum_over_batch_size
    loss_each: Any             # reduction None: one value per example
    m_full: float              # J = m_full·keras_loss on all the data
    m_step: float              # … on one training batch
    m_each: float              # J_each = m_each·keras_loss_each
    batch_size: int            # examples per update
    lr: float                  # SGD learning rate
    l2: float                  # L2 regularizer coefficient l (0: none)
    l2_bias: bool
    regularizer: Any = None    # keras.regularizers.L2(l), or None
    mapping: dict = field(default_factory=dict)


def plan(net: Net, hyper: Hyper, n: int) -> Plan:
    k = net.sizes[-1]
    batch_size = hyper.step_size(n)
    m_step = multiplier(net.loss, batch_size * k)
    s = hyper.scale(batch_size)
    lr = rate(net, hyper, batch_size)
    l2 = hyper.l2 / (2 * m_step) if hyper.l2 else 0.0
    p = Plan(keras_loss(net.loss, net.dtype), keras_loss(net.loss, net.dtype, reduction=None),
             multiplier(net.loss, n * k), m_step, multiplier(net.loss, k), batch_size, lr, l2, hyper.l2_bias,
             keras.regularizers.L2(l2) if l2 else None)
    m_full, r = p.m_full, TERM_RATIO[net.loss.name]
    how = f"m = r·N = {r:g}·{n * k} = {m_full:g}" if net.loss.reduce == "sum" else f"m = r = {m_full:g}"
    p.mapping = {
        "loss": (f"{net.loss.formula}  =  m · {keras_name(net.loss)}(reduction="
                 f"'sum_over_batch_size'), {how} (r = article term / Keras term; N = examples × outputs)"),
        "learning rate": (f"lr = α·s·m_step = {hyper.learning_rate:g}·{s:g}·{m_step:g} = {lr:.10g} "
                          f"(s = {hyper.grad_scale} with {batch_size} example(s) per step; m_step = J / keras loss "
                          f"on one training batch of {batch_size}×{k})"),
        "update": (f"model.compile(optimizer={optimizer_words(hyper, lr, m_step)}, loss=…), "
                   + (f"model.fit(batch_size={batch_size}, shuffle=False, epochs=1) once per epoch on the data "
                      f"pre-permuted in that epoch's order: " if hyper.shuffle_seed is not None else
                      f"model.fit(batch_size={batch_size}, shuffle=False, epochs={hyper.epochs}): ")
                   + B.words(hyper, n)),
    }
    if hyper.l2:
        part = ({"rows": "bias row", "columns": "bias column"}[net.layout] + " of W") if net.trick else "b vectors"
        p.mapping["L2"] = (
            f"J += ½λΣW² with λ = {hyper.l2:g}  ↔  kernel_regularizer=keras.regularizers.L2({l2:.10g}) "
            f"(l = λ/(2·m_step): Keras adds l·ΣW², gradient 2lW, to a loss that is J/m_step); "
            + (f"bias_regularizer=L2({l2:.10g}) too, since the case's L2 reaches the {part}"
               if hyper.l2_bias and net.bias != "none" else
               f"no bias_regularizer: the case's L2 leaves the {part} alone" if net.bias != "none" else "no biases")
            + "; the stock L2 is exact in float64 on JAX (ops.cast(l, float64) = jnp.asarray(l, float64)). "
              "Keras sums regularizers over trainable weights only (model.losses); J adds every variable's, "
              "frozen ones included, as the article does")
    return p


def optimizer_words(hyper: Hyper, lr: float, m: float) -> str:
    """The Keras optimizer ``keras_optimizer`` builds, as code."""
    h = hyper
    if h.optimizer in ("sgd", "momentum", "nesterov"):
        return (f"keras.optimizers.SGD(learning_rate={lr:.10g}" + (f", momentum={h.momentum:g}" if h.momentum else "")
                + (", nesterov=True" if h.optimizer == "nesterov" else "") + ")")
    if h.optimizer == "rmsprop":
        return (f"keras.optimizers.RMSprop(learning_rate={h.learning_rate:g}, rho={h.rho:g}, "
                f"epsilon=ε/m² = {h.eps / m ** 2:.6g}, centered={h.centered})")
    return (f"keras.optimizers.{'Adam' if h.optimizer == 'adam' else 'AdamW'}(learning_rate={h.learning_rate:g}, "
            f"beta_1={h.beta1:g}, beta_2={h.beta2:g}, epsilon=ε/m = {h.eps / m:.6g}"
            + (f", weight_decay={h.weight_decay:g}" if h.optimizer == "adamw" else "") + ")")


class Optimizer(NamedTuple):
    """Keras' optimizer for updates on batches of n examples, and the m that relates its loss to J."""

    sgd: Any                   # the Keras optimizer (SGD unless the case names another)
    m: float


def learning_rate(hyper: Hyper, *factors: float):
    """α·factors (α·s·m), or the case's lr_schedule as Keras' PiecewiseConstantDecay (values in float64: Python floats
    would make it float32). It moves to values[i+1] once optimizer.iterations (0, 1, …) > boundaries[i]:
    an lr that starts at count c has boundary c − 1."""
    starts, values = O.schedule_points(hyper, *factors)
    if not starts:
        return values[0]
    return keras.optimizers.schedules.PiecewiseConstantDecay(                              # [step:update] lr_schedule
        [c - 1 for c in starts], [np.float64(v) for v in values])


def keras_optimizer(hyper: Hyper, s: float, m: float):
    """The case's Keras optimizer, handed ∂(keras loss)/∂W = ∂J/∂W / m. SGD and momentum are linear in the
    gradient: learning_rate = α·s·m undoes both; RMSprop and Adam divide by the gradient's own size, which
    cancels 1/m everywhere but in ε: epsilon = ε/m² under RMSprop's root, ε/m beside Adam's √v."""
    h = hyper
    if h.optimizer in ("sgd", "momentum", "nesterov"):
        return keras.optimizers.SGD(learning_rate=learning_rate(h, s, m), momentum=h.momentum,    # [step:update:sgd,momentum,nesterov] SGD(lr = α·s·m)
                                    nesterov=h.optimizer == "nesterov")
    if h.optimizer == "rmsprop":
        return keras.optimizers.RMSprop(learning_rate=learning_rate(h), rho=h.rho,           # [step:update:rmsprop] g/√(v + ε)
                                        epsilon=h.eps / m ** 2, centered=h.centered)
    if h.optimizer == "adam":
        return keras.optimizers.Adam(learning_rate=learning_rate(h), beta_1=h.beta1,          # [step:update:adam] ε before correction
                                     beta_2=h.beta2, epsilon=h.eps / m)
    return keras.optimizers.AdamW(learning_rate=learning_rate(h), weight_decay=h.weight_decay,  # [step:update:adamw] decoupled λ
                                  beta_1=h.beta1, beta_2=h.beta2, epsilon=h.eps / m)


# Keras' names for an optimizer's state (per variable, by _get_variable_index), as the trace names them
STATE_SLOTS = {"SGD": {"momentums": "velocity"}, "RMSprop": {"_velocities": "v", "_average_gradients": "m"},
               "Adam": {"_momentums": "m", "_velocities": "v"}, "AdamW": {"_momentums": "m", "_velocities": "v"}}


def snapshot(net: Net, model, opt, m: float) -> dict:
    """The optimizer's state per trainable Dense variable, in the article's names, layout (from_dense) and scale:
    a moment of ∂J/∂W / m is multiplied back by m (m² for second moments); SGD's velocity already is."""
    out: dict = {"t": int(np.asarray(opt.iterations.numpy()))}
    slots = STATE_SLOTS[type(opt).__name__]

    def value(variable, attr, slot):
        if variable is None or not variable.trainable or not getattr(opt, attr, None):
            return None
        x = np.array(getattr(opt, attr)[opt._get_variable_index(variable)].numpy())
        return x if slot == "velocity" else x * (m * m if slot == "v" else m)

    for attr, slot in slots.items():
        for l, layer in enumerate(dense_layers(model)):
            bias = layer.bias if layer.use_bias else None
            kernel, vec = value(layer.kernel, attr, slot), value(bias, attr, slot)
            if kernel is None and vec is None:
                continue
            W, b = L.from_dense(kernel if kernel is not None else np.zeros(layer.kernel.shape),
                                None if bias is None else vec if vec is not None else np.zeros(bias.shape),
                                net.layout, net.bias)
            if kernel is not None:
                out.setdefault(slot, {})[net.W_name(l)] = np.asarray(W)
            if b is not None and vec is not None:
                out.setdefault(slot, {})[net.b_name(l)] = np.asarray(b)
    return out


# --------------------------------------------------------------------------- the model

def activation_layer(act, dtype, name=None):
    """The Keras layer a Keras user writes for this activation."""
    p = {k: v for k, v in act.params.items() if k != "at_zero"}
    if act.name == "relu":
        return keras.layers.ReLU(dtype=dtype, name=name)
    if act.name == "leaky_relu":
        return keras.layers.LeakyReLU(negative_slope=p["slope"], dtype=dtype, name=name)
    if act.name == "elu":
        return keras.layers.ELU(alpha=p["alpha"], dtype=dtype, name=name)
    if act.name == "softmax":
        return keras.layers.Softmax(axis=-1, dtype=dtype, name=name)            # examples first: the classes are last
    return keras.layers.Activation({"identity": "linear"}.get(act.name, act.name), dtype=dtype, name=name)


def activation_label(act) -> str:
    p = {k: v for k, v in act.params.items() if k != "at_zero"}
    if act.name == "relu":
        return "keras.layers.ReLU()"
    if act.name == "leaky_relu":
        return f"keras.layers.LeakyReLU(negative_slope={p['slope']:g})"
    if act.name == "elu":
        return f"keras.layers.ELU(alpha={p['alpha']:g})"
    if act.name == "softmax":
        return "keras.layers.Softmax(axis=-1)"
    return f"keras.layers.Activation({ {'identity': 'linear'}.get(act.name, act.name)!r})"


def build(net: Net, params_np: dict, p: Plan | None = None):
    """keras.Sequential of Dense + activation layers holding the parameters; with p, the L2 regularizers."""
    dtype = np.dtype(jax_dtype(net.dtype)).name
    reg = p.regularizer if p is not None else None
    layers = [keras.Input(shape=(net.sizes[0],), dtype=dtype, name="X")]
    for l in range(net.depth):
        kernel, bias = dense_values(net, params_np, l)
        layers.append(dense_class(net)(net.sizes[l + 1], use_bias=net.bias != "none", dtype=dtype,
                                       kernel_initializer=given(kernel, net.dtype),
                                       bias_initializer=given(bias, net.dtype) if bias is not None else "zeros",
                                       kernel_regularizer=reg,                                    # [step:l2] L2(l)
                                       bias_regularizer=reg if p is not None and p.l2_bias else None,
                                       name=f"Z{net.layer_number(l)}"))                         # [step:forward-affine] Dense: Z = A @ kernel + bias
        layers.append(activation_layer(net.activations[l], dtype, name=f"A{net.layer_number(l)}"))  # [step:forward-activation]
    model = keras.Sequential(layers, name="article_net")
    freeze(model, net)
    return model


def dense_class(net: Net):
    """keras.layers.Dense, or under bias = "shared" a Dense with ONE bias for all of its units (Mazur's
    convention): the bias variable built with shape (1,), which Dense.call's ``ops.add`` broadcasts over the units
    and whose gradient JAX then sums over them."""
    if net.bias != "shared":
        return keras.layers.Dense
    global _SHARED
    if _SHARED is None:
        class SharedBiasDense(keras.layers.Dense):
            def build(self, input_shape):
                use_bias, self.use_bias = self.use_bias, False
                super().build(input_shape)                                   # the kernel, as any Dense
                self.use_bias = use_bias
                self.bias = self.add_weight(name="bias", shape=(1,), initializer=self.bias_initializer,   # [step:forward-affine:shared] one bias
                                            regularizer=self.bias_regularizer, constraint=self.bias_constraint)
        _SHARED = SharedBiasDense
    return _SHARED


_SHARED = None                  # the class, made on first use (keras is imported lazily)


def given(value, dtype):
    """A Keras initializer (a callable of shape and dtype) that gives one of the article's arrays, exactly: the
    Dense layer is created holding the case's parameters (no random draw, compiled per shape, to overwrite)."""
    value = np.asarray(value, dtype=dtype)

    def initializer(shape, dtype=None):
        if tuple(shape) != value.shape:
            raise ValueError(f"a Dense variable of shape {tuple(shape)} for an article array of shape {value.shape}")
        return value
    return initializer


def dense_layers(model) -> list:
    return [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]


def layer_pairs(model) -> list:
    """(Dense, activation layer) per article layer."""
    return list(zip(model.layers[0::2], model.layers[1::2]))


def dense_values(net: Net, params_np: dict, l: int):
    """Layer l's (kernel, bias) from the article's parameters (bias None under bias = "none")."""
    return L.to_dense(params_np[net.W_name(l)], params_np.get(net.b_name(l)), net.layout, net.bias)   # the bias row → Dense.bias


def from_variables(model, net: Net, value) -> dict:
    """{article name: array} from one value per Dense variable (``value(variable)``), in the article's layout."""
    out = {}
    for l, layer in enumerate(dense_layers(model)):
        W, b = L.from_dense(value(layer.kernel), value(layer.bias) if layer.use_bias else None, net.layout, net.bias)
        out[net.W_name(l)] = W
        if b is not None:
            out[net.b_name(l)] = b
    return out


def params_of(model, net: Net) -> dict:
    return from_variables(model, net, lambda v: np.array(v.numpy()))


def freeze(model, net: Net) -> None:
    """Frozen article parameters -> variable.trainable = False (fit then leaves them alone)."""
    for l, layer in enumerate(dense_layers(model)):
        if net.W_name(l) in net.frozen:
            layer.kernel.trainable = False
            if net.trick:
                layer.bias.trainable = False            # the bias row is part of W
        if net.has_b and net.b_name(l) in net.frozen:
            layer.bias.trainable = False


def regularized(model, net: Net, p: Plan) -> list:
    """The variables the case's L2 reaches: every kernel, and the biases when l2_bias."""
    out = []
    for layer in dense_layers(model):
        out.append(layer.kernel)
        if layer.use_bias and p.l2_bias:
            out.append(layer.bias)
    return out


def variables(model) -> list:
    """Every variable, in the order stateless_call takes them: trainable, then non-trainable."""
    return list(model.trainable_variables) + list(model.non_trainable_variables)


def keras_J(model, net: Net, p: Plan, trainable: list, non_trainable: list, X_ex, y_ex):
    """(J, ŷ) from the variables' values, statelessly (what jax.grad and jax.jit take):
    J = m·keras loss of model.stateless_call + m_step·Σ L2(l)(W) over the regularized variables."""
    yhat, _ = model.stateless_call(trainable, non_trainable, X_ex)
    J = p.loss(y_ex, yhat) * p.m_full                                                       # [step:cost] J = m·keras loss
    if p.regularizer is not None:
        value = dict(zip(map(id, variables(model)), list(trainable) + list(non_trainable)))
        J = J + p.m_step * sum(p.regularizer(value[id(v)]) for v in regularized(model, net, p))  # [step:l2] m_step·lΣW² = ½λΣW²
    return J, yhat


def values_for(model, net: Net, params_np: dict) -> tuple[list, list]:
    """The article's parameters as (trainable, non_trainable) value lists for stateless_call."""
    by_id = {}
    for l, layer in enumerate(dense_layers(model)):
        kernel, bias = dense_values(net, params_np, l)
        by_id[id(layer.kernel)] = jnp.asarray(np.asarray(kernel, dtype=net.dtype))
        if bias is not None:
            by_id[id(layer.bias)] = jnp.asarray(np.asarray(bias, dtype=net.dtype))
    return ([by_id[id(v)] for v in model.trainable_variables], [by_id[id(v)] for v in model.non_trainable_variables])


# --------------------------------------------------------------------------- the contract

def tensor(net: Net, x_np) -> jax.Array:
    return jnp.asarray(np.array(x_np, dtype=jax_dtype(net.dtype)))


def numpy(x) -> np.ndarray:
    return np.array(x)


def load(net: Net, params_np: dict):
    with floatx(net.dtype):
        return build(net, params_np)


def parameters(net: Net, params) -> dict:
    return params_of(params, net)


def article_dense(dense, trick: bool):
    """The Dense layer as a function of the article's layer input. Under the bias trick that input is
    [A | u] with the bias unit u = 1, and the layer is Dense(A) + (u − 1)·bias — at u = 1 exactly Dense(A),
    while its vjp also gives the bias unit's ∂J/∂u = δ·bias, the column the article's dA has."""
    if not trick:
        return dense
    return lambda A_aug: dense(A_aug[:, :-1]) + (A_aug[:, -1:] - 1) * dense.bias.value


@compiled(static=("net", "params", "input_gradient"))
def forward(net: Net, params, X, input_gradient: bool = True) -> Forward:
    lay = net.layout
    A_ex = L.examples_first(X, lay)                                   # Keras: one example per row
    Z, A, A_in, record = [], [X], [], Record()
    with floatx(net.dtype):
        for dense, act in layer_pairs(params):
            A_prev, trick_vjp = A_ex, None
            if net.trick:
                A_prev, trick_vjp = jax.vjp(lambda A: jnp.concatenate([A, jnp.ones((A.shape[0], 1), A.dtype)], axis=1),
                                            A_ex)                      # [step:bias-trick] the article's [A | 1] (implicit in Dense)
            Z_ex, dense_vjp = jax.vjp(article_dense(dense, net.trick), A_prev)                # [step:forward-affine] jax.vjp of the Dense layer
            A_ex, act_vjp = jax.vjp(act, Z_ex)                                                # [step:forward-activation] jax.vjp of the activation layer
            A_in.append(L.from_examples_first(A_prev, lay))
            Z.append(L.from_examples_first(Z_ex, lay))
            A.append(L.from_examples_first(A_ex, lay))
            record.layers.append(Pullbacks(trick_vjp, dense_vjp, act_vjp))
    return Forward(Z, A, A_in, record, input_gradient)


def backward(net: Net, params, fwd: Forward, y, hyper: Hyper) -> Backward:
    fwd.record.y = y                                                                         # J(variables) for gradients
    return pullbacks(net, params, fwd, y, hyper)


@compiled(static=("net", "params", "hyper"))
def pullbacks(net: Net, params, fwd: Forward, y, hyper: Hyper) -> Backward:
    """∂J/∂ŷ, g'(Z), and δ and ∂J/∂A_in from the layers' pullbacks forward recorded, compiled as one program
    (the model static: its variables' values are the program's constants)."""
    lay = net.layout
    last = net.depth - 1
    with floatx(net.dtype):
        p = plan(net, hyper, int(L.examples_first(y, lay).shape[0]))
        y_ex, yhat_ex = L.examples_first(y, lay), L.examples_first(fwd.A[-1], lay)
        Z_ex = [L.examples_first(Z, lay) for Z in fwd.Z]
        layers = fwd.record.layers
        deriv = [r.activation(jnp.ones_like(Z))[0] if a.elementwise else layer_jacobian(layer, Z)
                 for a, (_, layer), r, Z in zip(net.activations, layer_pairs(params), layers, Z_ex)]  # g'(Z): the layer's vjp of ones
        dJ_dyhat = jax.grad(lambda yhat: p.loss(y_ex, yhat) * p.m_full)(yhat_ex)            # [step:output-delta] ∂J/∂ŷ = jax.grad of m·keras loss
        delta = [None] * net.depth
        dA_in = [None] * net.depth
        (delta[last],) = layers[last].activation(dJ_dyhat)                                  # [step:output-delta] δ(L): the activation layer's vjp
        for l in range(last, 0, -1):
            (dA_in[l],) = layers[l].affine(delta[l])                                         # [step:hidden-delta] ∂J/∂A_in: the Dense layer's vjp
            (dA,) = layers[l].trick(dA_in[l]) if net.trick else (dA_in[l],)                 # [step:hidden-delta] [A | 1]'s vjp drops the bias unit
            (delta[l - 1],) = layers[l - 1].activation(dA)                                   # [step:hidden-delta] δ: the activation layer's vjp
        if fwd.input_gradient:
            (dA_in[0],) = layers[0].affine(delta[0])                                         # [step:input-gradient] ∂J/∂X: the first Dense layer's vjp
    back = lambda xs: [None if x is None else L.from_examples_first(x, lay) for x in xs]  # noqa: E731
    deriv = [L.from_examples_first(d, lay) if a.elementwise else d                  # softmax's Jacobians stay examples first
             for a, d in zip(net.activations, deriv)]
    return Backward(L.from_examples_first(dJ_dyhat, lay), deriv, back(delta), back(dA_in))


def layer_jacobian(layer, Z_ex):
    """g'(Z) of a softmax layer: each example's Jacobian, jax.jacrev of the layer on a batch of one, jax.vmap over
    the examples (examples first: (n, k, k))."""
    return jax.vmap(jax.jacrev(lambda z: layer(z[None, :])[0]))(Z_ex)


def gradients(net: Net, params, fwd: Forward, bwd: Backward, hyper: Hyper) -> dict:
    """∂J/∂(kernel, bias) = jax.grad of J(variables) (stateless_call + loss + L2) over every variable, frozen ones
    too; mapped back to the article's layout."""
    g_tr, g_ntr = variable_gradients(net, params, fwd, hyper)
    grads = dict(zip(map(id, variables(params)), list(g_tr) + list(g_ntr)))
    return from_variables(params, net, lambda v: np.asarray(grads[id(v)]))


@compiled(static=("net", "params", "hyper"))
def variable_gradients(net: Net, params, fwd: Forward, hyper: Hyper) -> tuple:
    """(∂J/∂trainable, ∂J/∂non-trainable) on forward's X and backward's y, compiled as one program."""
    lay = net.layout
    X_ex, y_ex = L.examples_first(fwd.A[0], lay), L.examples_first(fwd.record.y, lay)
    with floatx(net.dtype):
        p = plan(net, hyper, int(y_ex.shape[0]))
        J = lambda tr, ntr: keras_J(params, net, p, tr, ntr, X_ex, y_ex)[0]                # noqa: E731  J(variables)
        trainable = [v.value for v in params.trainable_variables]
        non_trainable = [v.value for v in params.non_trainable_variables]
        return jax.grad(J, argnums=(0, 1))(trainable, non_trainable)                         # [step:weight-gradient] jax.grad over every variable


@compiled(static=("net", "params", "hyper"))
def cost(net: Net, params, yhat, y, hyper: Hyper):
    """J = m·keras loss (+ m_step·Σ L2(l)(W) = ½λΣW²), from the model's current variables."""
    lay = net.layout
    y_ex, yhat_ex = L.examples_first(y, lay), L.examples_first(yhat, lay)
    with floatx(net.dtype):
        p = plan(net, hyper, int(y_ex.shape[0]))
        J = p.loss(y_ex, yhat_ex) * p.m_full                                                # [step:cost] J = m·keras loss
        if p.regularizer is not None:
            J = J + p.m_step * sum(p.regularizer(v.value) for v in regularized(params, net, p))  # [step:l2] + ½λΣW²
    return J


@compiled
def cost_each(net: Net, yhat, y):
    lay = net.layout
    with floatx(net.dtype):
        m_each = multiplier(net.loss, net.sizes[-1])
        return keras_loss(net.loss, net.dtype, reduction=None)(L.examples_first(y, lay), L.examples_first(yhat, lay)) * m_each


def optimizer(net: Net, params, hyper: Hyper, n: int) -> Optimizer:
    """keras.optimizers.SGD(lr = α·s·m) for updates on n examples (its variables in the case's dtype)."""
    with floatx(net.dtype):
        m = multiplier(net.loss, n * net.sizes[-1])
        return Optimizer(keras_optimizer(hyper, hyper.scale(n), m), m)                            # [step:update] SGD(lr = α·s·m)


def step(net: Net, params, grads: dict, hyper: Hyper, opt: Optimizer):
    """One update by the Keras optimizer outside fit: it is handed ∂(keras loss)/∂variable =
    ∂J/∂W / m (what fit's train step differentiates), for the trainable variables only."""
    pairs = []
    with floatx(net.dtype):
        for l, layer in enumerate(dense_layers(params)):
            kernel, bias = dense_values(net, grads, l)
            for variable, g in ((layer.kernel, kernel), (layer.bias if layer.use_bias else None, bias)):
                if variable is not None and variable.trainable:
                    pairs.append((jnp.asarray(g) / opt.m, variable))
        opt.sgd.apply_gradients(pairs)                                                            # [step:update] W ← W − lr·∂(keras loss)/∂W
    return params


def predict(net: Net, params, X):
    """ŷ of the model on X: ``model(x, training=False)``, the call Keras' documentation of ``Model.predict`` gives for
    inputs that fit in one batch (``predict`` makes a dataset and a prediction function for each model: 60 ms)."""
    with floatx(net.dtype):
        return L.from_examples_first(params(L.examples_first(X, net.layout), training=False), net.layout)


def train(net: Net, params_np: dict, X_np, y_np, hyper: Hyper, every_epoch: bool = False) -> Training:
    """compile, then fit over the data in order (no shuffling), the parameters recorded after every epoch."""
    lay = net.layout
    X_ex = np.array(L.examples_first(np.asarray(X_np, dtype=net.dtype), lay))
    y_ex = np.array(L.examples_first(np.asarray(y_np, dtype=net.dtype), lay))
    with floatx(net.dtype):
        p = plan(net, hyper, X_ex.shape[0])
        model = build(net, params_np, p)
        opt = optimizer(net, model, hyper, p.batch_size)
        model.compile(optimizer=opt.sgd, loss=p.loss)                                               # [step:update] jit_compile: XLA on JAX
        J = J_of(net, X_np, y_np, hyper)
        history = History(params_of(model, net), every_epoch)
        costs = [J(history[0])[0]]
        state = {}

        def record_epoch(epoch, logs):
            history.append(params_of(model, net))
            costs.append(J(history[-1])[0])
            if epoch in (0, hyper.epochs - 1):
                state["opt_new" if epoch == 0 else "opt"] = snapshot(net, model, opt.sgd, opt.m)

        record = keras.callbacks.LambdaCallback(on_epoch_end=record_epoch)
        if hyper.shuffle_seed is None:
            model.fit(X_ex, y_ex, batch_size=p.batch_size, epochs=hyper.epochs, shuffle=False, verbose=0,
                      callbacks=[record])                                                           # [step:update] W ← W − lr·∂/∂W, batch by batch in data order
        for e in range(hyper.epochs if hyper.shuffle_seed is not None else 0):
            order = B.order(hyper, len(X_ex), e)                                                    # each epoch's order (reference/batches.py)
            model.fit(X_ex[order], y_ex[order], batch_size=p.batch_size, epochs=e + 1, initial_epoch=e,
                      shuffle=False, verbose=0, callbacks=[record])                                 # [step:update] the data pre-permuted, no shuffling by Keras
        notes = observed(model, opt.sgd)
    return Training(history, np.asarray(costs), notes, O.traced(hyper, state))


def observed(model, sgd) -> dict:
    """What the trained Keras objects say about themselves (dtypes, compilation), for the mapping."""
    lr = sgd.learning_rate
    kinds = sorted({str(v.dtype) for v in model.weights})
    return {"observed": (f"variables {', '.join(kinds)}; {type(sgd).__name__} learning rate {float(np.asarray(lr))!r} as "
                         f"{np.asarray(lr).dtype}; jit_compile = {model.jit_compile}; Keras {keras.__version__} on "
                         f"{keras.backend.backend()}")}


def J_of(net: Net, X_np, y_np, hyper: Hyper):
    """J as a function of the (article-layout) parameters: the model's stateless_call and loss, jax.jit-compiled
    once per case — training's costs and gradient checking share one model and one compiled function."""
    lay = net.layout
    X_ex = np.array(L.examples_first(np.asarray(X_np, dtype=net.dtype), lay))
    y_ex = np.array(L.examples_first(np.asarray(y_np, dtype=net.dtype), lay))
    key = (hashable(net), hashable(hyper), X_ex.dtype.str, X_ex.shape, X_ex.tobytes(), y_ex.shape, y_ex.tobytes())
    if key not in _EVALUATORS:
        with floatx(net.dtype):
            p = plan(net, hyper, int(X_ex.shape[0]))
            model = build(net, {k: np.zeros(s) for k, s in net.param_shapes().items()}, p)
        X_j, y_j = jnp.asarray(X_ex), jnp.asarray(y_ex)
        _EVALUATORS[key] = (model, jax.jit(lambda tr, ntr: keras_J(model, net, p, tr, ntr, X_j, y_j)))
        while len(_EVALUATORS) > 8:
            _EVALUATORS.popitem(last=False)
    model, evaluate = _EVALUATORS[key]

    def J(params_np):
        with floatx(net.dtype):
            J_value, yhat = evaluate(*values_for(model, net, params_np))
        return np.array(J_value), L.from_examples_first(np.array(yhat), lay)
    return J


_EVALUATORS: OrderedDict = OrderedDict()      # the last few cases' (model, compiled J), by network, hyper and data


NO_AUG = ("no autodiff counterpart: g'([Z | 1]) applies g' to the bias unit's constant 1, which no Keras layer "
          "computes; Courtial prints it for display only")


def missing(net: Net) -> dict:
    out = {}
    if net.trick:
        for l in range(1, net.depth):
            n = net.layer_number(l)
            out[f"deriv_aug[{n - 1}]"] = NO_AUG
            out[f"delta_aug[{n - 1}]"] = ("no autodiff counterpart: the vjp's ∂J/∂[A | 1] is dA; multiplying its "
                                          "bias column by g'(1) is Courtial's display, not a derivative of J")
    return out


def describe(net: Net, hyper: Hyper, X_np, fwd: Forward, training: Training | None) -> dict:
    from . import platform_note
    dtype = np.dtype(net.dtype).name
    n = X_np.shape[net.example_axis]
    layers = ", ".join(f"{dense_class(net).__name__}({net.sizes[l + 1]}{', use_bias=False' if net.bias == 'none' else ''}), "
                       f"{activation_label(net.activations[l])}" for l in range(net.depth))
    m = {
        "model": f"keras.Sequential([keras.Input(({net.sizes[0]},)), {layers}]), Keras {keras.__version__} on "
                 f"the {keras.backend.backend()} backend (KERAS_BACKEND=jax)",
        "parameters": "; ".join(L.describe_dense(net.W_name(l), net.b_name(l), net.param_shapes()[net.W_name(l)],
                                                 net.layout, net.bias) for l in range(net.depth))
                      + ("; X, y, Z, A, δ transposed: Keras takes one example per row" if net.layout == "columns" else ""),
        "dtype": (f"{dtype} everywhere: dtype='{dtype}' on Input, every layer and the loss; keras.config.floatx set "
                  f"to {dtype} around every call (compile() wraps the loss in a CompileLoss and the SGD learning "
                  f"rate is a variable, both created in floatx); jax_enable_x64 on at import"
                  + ("; Keras' type promotion (result_type) maps float64 to float32 on every backend but TensorFlow, "
                     "so on JAX keras.ops.tanh and keras.ops.mean — Activation('tanh') and every Keras loss — compute "
                     "float64 tensors in float32 (tanh 7e-9 off, an MSE 1.5e-10): its table entry "
                     "(BIT64_TO_BIT32_DTYPE['float64']) is set to float64 for the run, as JAX itself does with x64 on"
                     if dtype == "float64" else "")),
        "execution": ("model.fit runs Keras' XLA-compiled train step (jit_compile is True by default on JAX); "
                      "J of each epoch and of gradient checking: jax.jit of model.stateless_call + the loss object; "
                      "Z, A, δ: the layers called eagerly under jax.vjp (inspection)"),
        "deltas": ("each Dense and activation layer of the model called under jax.vjp: δ(L) = the activation layer's "
                   "vjp of ∂J/∂ŷ, ∂J/∂ŷ = jax.grad of m·keras loss; ∂J/∂A_in = the Dense layer's vjp of δ"
                   + (" — as a function of [A | u], Dense(A) + (u − 1)·bias at u = 1, so the bias unit's column "
                      "δ·bias is there as in the article's dA" if net.trick else "")
                   + "; g'(Z) = the activation layer's vjp of ones; ∂J/∂W = jax.grad of J over every variable's "
                     "value through model.stateless_call, mapped back by from_dense"),
        "platform": platform_note(),
    }
    with floatx(net.dtype):
        m.update(plan(net, hyper, n).mapping)
    if net.frozen:
        m["frozen"] = (f"{', '.join(sorted(net.frozen))}: variable.trainable = False on "
                       + ("kernel and bias (the bias row is part of W)" if net.trick else "the matching variables")
                       + "; fit leaves them alone, jax.grad still differentiates them")
    if net.loss.name == "bce":
        m["dJ_dyhat"] = ("keras.losses.BinaryCrossentropy on JAX: the probability form with ŷ clipped to "
                         f"[ε, 1 − ε], ε = {keras.config.epsilon():g} (a JAX array carries no _keras_logits, so the "
                         "sigmoid's logits are not used as on TensorFlow)")
    from . import activations as ACT
    zeros = ACT.at_zero_differences(net, fwd.Z if fwd is not None else None)
    if zeros:
        m["g'(0)"] = "; ".join(zeros).replace("jax.grad gives", "the Keras layer on JAX gives")
    if training is not None:
        m.update(training.notes)
    return m
