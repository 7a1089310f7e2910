"""The JAX network data-parallel: two devices, each holding the parameters and half of every batch.

Read beside ``network.py``, whose functions this style shares for everything that is per example —
the forward pass, the deltas, ∂J/∂X, J itself. What a data-parallel run must get right is the
gradient of a batch split over devices, and so the update; those are written here:

    devices:   ``jax.make_mesh((2,), ("examples",))`` over the host's CPU devices — two, because the
               backend's worker starts with ``XLA_FLAGS=--xla_force_host_platform_device_count=2``
               (``info.py``); the two devices are two XLA CPU devices of one process
    gradient:  ``jax.shard_map`` splits the batch along the layout's example axis (rows: ``P("examples",
               None)``; columns: ``P(None, "examples")``) and replicates the parameters (``P()``). Each
               device sums its own examples' loss terms; ``jax.lax.psum`` adds the two sums (the
               all-reduce); the loss's own reduction divides by the WHOLE batch's count (N elements for
               a mean, n examples for cce, nothing for a sum); the L2 term is added once. ``jax.grad`` of
               that J, taken on each device, is the whole batch's gradient: JAX transposes the psum
    update:    optax on the replicated parameters, each epoch a ``jax.jit``-compiled ``jax.lax.scan`` of the
               sharded update over its batches, as ``network.py`` does on one device
    uneven:    a batch that does not split in two (one example; three) is padded with copies of its last
               example up to a multiple of 2, and the copies are masked out of the sum (``jnp.where``):
               they add exactly 0 to J and to every gradient, as a JAX user pads a ragged batch

The traps this avoids are asserted by ``parity_tests/test_jax_sharded.py``: under ``shard_map`` JAX
types each device's values as varying or not, so ``jax.grad`` of a device's OWN loss with respect to
replicated parameters is already summed over the devices — a device's own mean loss gives twice the
gradient, and ``jax.lax.pmean`` of it (DistributedDataParallel's averaging written in JAX) does not undo
it; a summed loss gives the right gradient either way.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax.sharding import AxisType
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from backprop_parity.reference import batches as B
from backprop_parity.reference import layout as RL
from backprop_parity.reference.contract import Forward, Training
from backprop_parity.reference.spec import Hyper, Net, Static

from . import losses as LOSS
from .network import (J_of, backward, cost, cost_each, forward, l2_mask, load, missing, numpy,  # noqa: F401
                      optimizer, parameters, predict, step, tensor, trained)
from .network import describe as one_device_description

__all__ = ["tensor", "numpy", "load", "parameters", "forward", "backward", "gradients", "cost", "cost_each",
           "optimizer", "step", "predict", "train", "J_of", "missing", "describe"]   # the contract: shared or written here

WORLD = 2                        # devices the batch is split over
AXIS = "examples"                # the mesh axis the examples run along


class DeviceError(RuntimeError):
    """Fewer host devices than the style splits over (XLA_FLAGS was not set before JAX started)."""


@functools.lru_cache(maxsize=None)
def mesh():
    """The 2-device mesh; refused (DeviceError) when JAX started with one CPU device."""
    devices = jax.devices("cpu")
    if len(devices) < WORLD:
        raise DeviceError(f"jax/sharded splits each batch over {WORLD} devices, but JAX has {len(devices)} CPU "
                          f"device(s): start it with XLA_FLAGS=--xla_force_host_platform_device_count={WORLD} "
                          f"(the jax worker does)")
    return jax.make_mesh((WORLD,), (AXIS,), axis_types=(AxisType.Auto,), devices=devices[:WORLD])


def split(net: Net) -> P:
    """How a batch lies on the mesh: its examples (rows or columns) split, the rest whole."""
    return P(AXIS, None) if net.layout == "rows" else P(None, AXIS)


def padded(net: Net, X, y):
    """(X, y, keep) with the examples padded to a multiple of WORLD by copies of the last one; keep is 1 for a
    real example and 0 for a copy, in y's shape (broadcast along the outputs)."""
    n = RL.n_examples(X, net.layout)
    extra = -n % WORLD
    idx = jnp.concatenate([jnp.arange(n), jnp.full((extra,), n - 1)])
    real = (jnp.arange(n + extra) < n).astype(y.dtype)
    keep = real[:, None] if net.layout == "rows" else real[None, :]
    return RL.examples(X, idx, net.layout), RL.examples(y, idx, net.layout), jnp.broadcast_to(keep, (
        (n + extra, y.shape[1]) if net.layout == "rows" else (y.shape[0], n + extra)))


def divisor(net: Net, n: int, k: int):
    """What the loss divides the whole batch's sum of terms by: 1 (Σ), N = n·k elements (mean), n examples (cce)."""
    return {"sum": 1, "mean": n * k, "example_mean": n}[net.loss.reduce]


def sharded_gradient(net: Net, hyper: Hyper, params: dict, X, y) -> dict:
    """∂J/∂W of the whole batch (X, y), computed with half of it on each device (traceable: called under jit)."""
    n, k = RL.n_examples(X, net.layout), y.shape[1 - net.example_axis]
    X, y, keep = padded(net, X, y)

    def on_device(params, X, y, keep):
        def J(params):
            terms = jnp.where(keep > 0, LOSS.TERMS[net.loss.name](y, predict(net, params, X)), 0)  # padding adds 0
            total = jax.lax.psum(jnp.sum(terms), AXIS)                                    # [step:weight-gradient] the all-reduce of the devices' sums
            J = total / divisor(net, n, k)
            if hyper.l2:
                J = J + 0.5 * hyper.l2 * sum(jnp.sum(l2_mask(net, hyper, name, p.shape) * p ** 2)
                                             for name, p in params.items())             # ½λΣ(M⊙W)², once
            return J
        return jax.grad(J)(params)                                                        # [step:weight-gradient] jax.grad on each device: the psum transposed
    spec = split(net)
    return jax.shard_map(on_device, mesh=mesh(), in_specs=(P(), spec, spec, spec),
                         out_specs=P())(params, X, y, keep)                               # [step:weight-gradient] jax.shard_map over 2 devices


@functools.lru_cache(maxsize=64)
def _gradient_program(net: Static, hyper: Static):
    return jax.jit(lambda params, X, y: sharded_gradient(net.value, hyper.value, params, X, y))


def gradients(net: Net, params: dict, fwd: Forward, bwd, hyper: Hyper) -> dict:
    """∂J/∂W of the forward pass's batch, split over the 2 devices (``sharded_gradient``, compiled once per
    network and shapes)."""
    grads = jax.block_until_ready(_gradient_program(Static(net), Static(hyper))(params, fwd.A[0], fwd.record.y))
    return {name: grads[name] for name in params}


def one_step(net: Net, params: dict, X, y, hyper: Hyper, opt) -> dict:
    """The sharded gradient of the batch (X, y), then the optax update on the replicated parameters."""
    return step(net, params, sharded_gradient(net, hyper, params, X, y), hyper, opt)


def compiled_epoch(net: Net, hyper: Hyper, opt):
    """One epoch: the sharded update under jax.lax.scan over the epoch's batches, compiled with jax.jit (the
    optimizer's state carried through the scan and handed back)."""
    from .network import Optimizer

    @jax.jit
    def updates(params, state, X, y, idx):
        def update(carry, i):
            params, state = carry
            held = Optimizer(opt.tx, state)
            params = one_step(net, params, RL.examples(X, i, net.layout), RL.examples(y, i, net.layout), hyper, held)
            return (params, held.state), None
        (params, state), _ = jax.lax.scan(update, (params, state), idx)
        return params, state

    def epoch(params: dict, X, y, e: int) -> dict:
        for idx in B.stacked(hyper, RL.n_examples(X, net.layout), e):      # finished before the next is dispatched
            params, opt.state = jax.block_until_ready(updates(params, opt.state, X, y, jnp.asarray(idx)))
        return params
    return epoch


def train(net: Net, params_np: dict, X_np, y_np, hyper: Hyper, every_epoch: bool = False) -> Training:
    """Every epoch of the update rule, each update's gradient split over the 2 devices; costs[0] is J before any
    update."""
    params, X, y = load(net, params_np), tensor(net, X_np), tensor(net, y_np)
    opt = optimizer(net, params, hyper, hyper.step_size(RL.n_examples(X, net.layout)))
    # the parameters and the optimizer's state replicated on the mesh from the start, as each epoch hands them
    # back: otherwise the second epoch's inputs lie otherwise than the first's and XLA compiles the epoch again
    replicated = NamedSharding(mesh(), P())
    params, opt.state = jax.device_put(params, replicated), jax.device_put(opt.state, replicated)
    return trained(net, params, X, y, hyper, opt, compiled_epoch(net, hyper, opt), every_epoch,
                   f"jax.jit of each epoch: jax.lax.scan of the sharded update (jax.shard_map over {WORLD} devices, "
                   "then optax) over the epoch's batches; and jax.jit of J")


def describe(net: Net, hyper: Hyper, X_np, fwd: Forward, training: Training | None) -> dict:
    """network.py's mapping, with the gradient and the update as this style computes them."""
    out = one_device_description(net, hyper, X_np, fwd, training)
    if training is not None:
        out.update(training.notes)
    n = X_np.shape[net.example_axis]
    size = hyper.step_size(n)
    uneven = f"; a batch of {size} is padded to {size + (-size % WORLD)} with copies masked out" if size % WORLD else ""
    reduce = {"sum": "nothing (a sum)", "mean": "N, the whole batch's elements", "example_mean": "n, the whole batch's examples"}
    out["data parallel"] = (f"jax.shard_map over {WORLD} CPU devices (XLA_FLAGS=--xla_force_host_platform_device_count="
                            f"{WORLD}): the examples split along axis {net.example_axis}, the parameters replicated{uneven}; "
                            f"each device sums its examples' loss terms, jax.lax.psum adds the sums, J divides by "
                            f"{reduce[net.loss.reduce]}; jax.grad on each device is then the whole batch's gradient "
                            f"(JAX transposes the psum)")
    return out
