"""The TensorFlow network data-parallel: ``tf.distribute.MirroredStrategy`` over two logical CPU devices.

Read beside ``network.py``, whose functions this style shares for everything that is per example — the
tape's forward pass, the deltas, ∂J/∂X, J itself. What a data-parallel run must get right is the gradient
of a batch split over replicas, and so the update; those are written here:

    devices:   the one physical CPU split into two logical devices before TensorFlow starts
               (``tf.config.set_logical_device_configuration``, in ``tf_impl/__init__.py``), and
               ``tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])`` over them
    gradient:  ``strategy.run`` hands each replica its half of the batch (along the layout's example axis);
               each replica tapes its OWN examples' loss, divided by the WHOLE batch's count
               (``tf.nn.compute_average_loss(…, global_batch_size=n)`` for a mean; a sum is not divided) plus
               its share of the L2 term (``tf.nn.scale_regularization_loss``: ½λΣW² / replicas), and asks the
               tape for ∂/∂W; ``strategy.reduce(SUM, …)`` adds the replicas' gradients
    update:    the Keras optimizer's ``apply_gradients`` with that gradient, on the parameters — as
               ``network.py`` does (the replicas' copies are equal: the update is the same on each)
    uneven:    a batch that does not split in two (one example; three) is padded with copies of its last
               example, masked out of each replica's loss (``tf.where``): they add exactly 0

The traps this avoids are asserted by ``parity_tests/test_tf_mirrored.py``: a replica that divides by its
OWN count (a Keras loss, ``reduce_mean``) gives, summed over the replicas, twice the gradient of a mean loss;
averaging the replicas instead (``ReduceOp.MEAN``) halves the gradient of a summed loss.
"""

from __future__ import annotations

import functools

import tensorflow as tf

from backprop_parity.reference import layout as RL
from backprop_parity.reference.contract import Forward, Training
from backprop_parity.reference.spec import Hyper, Net

from .network import (TERMS, J_of, cost, cost_each, examples_per_step, forward, l2_mask, load, missing,  # noqa: F401
                      numpy, optimizer, parameters, predict, step, tensor, trained)
from .network import backward as taped_backward
from .network import describe as one_device_description

__all__ = ["tensor", "numpy", "load", "parameters", "forward", "backward", "gradients", "cost", "cost_each",
           "optimizer", "step", "predict", "train", "J_of", "missing", "describe"]   # the contract: shared or written here

WORLD = 2                        # replicas the batch is split over


class DeviceError(RuntimeError):
    """Fewer logical CPU devices than the style splits over (TensorFlow started before tf_impl configured them)."""


@functools.lru_cache(maxsize=None)
def strategy() -> tf.distribute.MirroredStrategy:
    """MirroredStrategy over the 2 logical CPUs; refused (DeviceError) when TensorFlow has only one."""
    cpus = tf.config.list_logical_devices("CPU")
    if len(cpus) < WORLD:
        raise DeviceError(f"tf/mirrored splits each batch over {WORLD} logical CPU devices, but TensorFlow has "
                          f"{len(cpus)}: tf_impl configures them when it is imported before TensorFlow runs anything")
    return tf.distribute.MirroredStrategy([d.name for d in cpus[:WORLD]])          # [step:weight-gradient] MirroredStrategy over 2 CPUs


def padded(net: Net, X, y):
    """(X, y, keep) with the examples padded to a multiple of WORLD by copies of the last one; keep is 1 for a
    real example and 0 for a copy, one per example."""
    n = RL.n_examples(X, net.layout)
    extra = -n % WORLD
    idx = tf.concat([tf.range(n), tf.fill([extra], n - 1)], axis=0)
    axis = net.example_axis
    return tf.gather(X, idx, axis=axis), tf.gather(y, idx, axis=axis), tf.cast(tf.range(n + extra) < n, y.dtype)


def halves(net: Net, X, y):
    """Each replica's part of the batch (X, y, keep), split along the layout's example axis."""
    X, y, keep = padded(net, X, y)
    axis = net.example_axis
    return list(zip(tf.split(X, WORLD, axis=axis), tf.split(y, WORLD, axis=axis), tf.split(keep, WORLD)))


def replica_gradient(net: Net, hyper: Hyper, params: dict, n: int):
    """What one replica computes on its part (X, y, keep): ∂/∂W of its examples' loss over the whole batch's
    count, plus its share of the L2 term."""
    def on_replica(X, y, keep):
        with tf.GradientTape() as tape:
            terms = TERMS[net.loss.name](y, predict(net, params, X))
            other = 1 - net.example_axis
            each = tf.reduce_mean(terms, axis=other) if net.loss.reduce == "mean" else tf.reduce_sum(terms, axis=other)
            each = tf.where(keep > 0, each, tf.zeros_like(each))                    # a padding copy adds 0
            if net.loss.reduce == "sum":
                J = tf.reduce_sum(each)
            else:
                J = tf.nn.compute_average_loss(each, global_batch_size=n)          # [step:weight-gradient] ÷ the whole batch
            if hyper.l2:
                J = J + tf.nn.scale_regularization_loss(0.5 * hyper.l2 * tf.add_n(
                    [tf.reduce_sum(tf.constant(l2_mask(net, hyper, name, p.shape), p.dtype) * tf.square(p))
                     for name, p in params.items()]))                                # [step:l2] ½λΣW² ÷ replicas
        return tape.gradient(J, dict(params), unconnected_gradients=tf.UnconnectedGradients.ZERO)  # [step:weight-gradient] each replica's tape
    return on_replica


def mirrored_gradient(net: Net, hyper: Hyper, params: dict, X, y) -> dict:
    """∂J/∂W of the whole batch (X, y), half of it on each replica, the replicas' gradients summed."""
    s = strategy()
    parts = halves(net, X, y)
    per_replica = s.experimental_distribute_values_from_function(lambda ctx: parts[ctx.replica_id_in_sync_group])
    grads = s.run(replica_gradient(net, hyper, params, RL.n_examples(X, net.layout)), args=per_replica)  # [step:weight-gradient] strategy.run
    return {name: s.reduce(tf.distribute.ReduceOp.SUM, g, axis=None) for name, g in grads.items()}       # [step:weight-gradient] the all-reduce: SUM


def backward(net: Net, params: dict, fwd: Forward, y, hyper: Hyper):
    """network.py's backward on the whole batch (the tape's deltas), keeping y for ``gradients``."""
    fwd.record.y = y
    return taped_backward(net, params, fwd, y, hyper)


def gradients(net: Net, params: dict, fwd: Forward, bwd, hyper: Hyper) -> dict:
    """∂J/∂W of the forward pass's batch, split over the 2 replicas (``mirrored_gradient``)."""
    return mirrored_gradient(net, hyper, params, fwd.A[0], fwd.record.y)


def train(net: Net, params_np: dict, X_np, y_np, hyper: Hyper, every_epoch: bool = False) -> Training:
    """Every epoch of the update rule, each update's gradient from the 2 replicas; costs[0] is J before any update."""
    params, X, y = load(net, params_np), tensor(net, X_np), tensor(net, y_np)
    opt = optimizer(net, params, hyper, examples_per_step(net, hyper, X))
    train_step = tf.function(lambda X_batch, y_batch: step(net, params, mirrored_gradient(net, hyper, params, X_batch,
                                                                                          y_batch), hyper, opt))
    return trained(net, params, X, y, X_np, hyper, opt, train_step, every_epoch)


def describe(net: Net, hyper: Hyper, X_np, fwd: Forward, training: Training | None) -> dict:
    """network.py's mapping, with the gradient as this style computes it."""
    out = one_device_description(net, hyper, X_np, fwd, training)
    size = hyper.step_size(X_np.shape[net.example_axis])
    uneven = f"; a batch of {size} is padded to {size + 1} with a copy masked out" if size % WORLD else ""
    divide = ("not divided (a sum)" if net.loss.reduce == "sum" else
              "tf.nn.compute_average_loss(…, global_batch_size = the whole batch's examples)")
    out["data parallel"] = (f"tf.distribute.MirroredStrategy over {WORLD} logical CPU devices: strategy.run gives "
                            f"each replica half of the batch along axis {net.example_axis}{uneven}; each replica's loss "
                            f"is {divide}" + (", plus tf.nn.scale_regularization_loss(½λΣW²)" if hyper.l2 else "")
                            + "; strategy.reduce(SUM) of the replicas' tape gradients; then apply_gradients")
    return out
