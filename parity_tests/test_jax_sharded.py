"""The data-parallel JAX style (``jax_impl/sharded.py``): what it must get right, and the traps it avoids.

Every case and every random network already holds ``jax/sharded`` to the reference, number by number
(test_jax_parity, test_jax_random). Here: the two devices are really there and really split the batch; an
odd batch's padding is really masked; and the reductions a data-parallel port gets wrong give wrong numbers —
asserted, so that the style's way is shown to matter:

* under ``jax.shard_map`` JAX types each device's values as varying or not, and ``jax.grad`` of a device's
  OWN loss with respect to replicated parameters is summed over the devices (the transpose of the implicit
  broadcast is a psum): a device's own mean, differentiated, is the whole batch's gradient times the number
  of devices — and ``jax.lax.pmean`` of it, DistributedDataParallel's averaging written in JAX, leaves it so;
* a summed loss gives the whole batch's gradient by the same rule, with or without the pmean;
* without the mask, an odd batch's padding copy counts twice.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from . import helpers

pytestmark = pytest.mark.cost(24)     # its tests' seconds, summed (conftest: the costliest files start first)


def style():
    from backprop_parity.jax_impl import sharded
    return sharded


def network(loss="mse", layout="rows", n=4, seed=3):
    from backprop_parity.reference import activations as RA
    from backprop_parity.reference import losses as RLS
    from backprop_parity.reference.spec import Hyper, Net
    net = Net(sizes=(3, 4, 2), activations=(RA.make("tanh"), RA.make("sigmoid")), loss=RLS.make(loss), layout=layout)
    rng = np.random.default_rng(seed)
    params = {k: rng.standard_normal(s) for k, s in net.param_shapes().items()}
    X = rng.standard_normal((n, 3) if layout == "rows" else (3, n))
    y = rng.standard_normal((n, 2) if layout == "rows" else (2, n))
    return net, Hyper(learning_rate=0.1), params, X, y


def whole_batch_gradient(S, net, hyper, params, X, y):
    """jax.grad of J on one device: what every data-parallel gradient must equal."""
    import jax
    P, Xj, yj = S.load(net, params), S.tensor(net, X), S.tensor(net, y)
    return jax.grad(lambda p: S.cost(net, p, S.predict(net, p, Xj), yj, hyper))(P)


def naive(S, net, params, X, y, average: bool):
    """Each device differentiates its OWN loss (its half's J, reduced over its half only); then, with ``average``,
    jax.lax.pmean of the gradients (DDP's all-reduce of the mean)."""
    import jax
    from backprop_parity.jax_impl import losses as LOSS

    def on_device(params, X, y):
        g = jax.grad(lambda p: LOSS.J(net.loss, y, S.predict(net, p, X), net.example_axis))(params)
        return jax.lax.pmean(g, S.AXIS) if average else g
    spec = S.split(net)
    return jax.shard_map(on_device, mesh=S.mesh(), in_specs=(jax.sharding.PartitionSpec(), spec, spec),
                         out_specs=jax.sharding.PartitionSpec())(S.load(net, params), S.tensor(net, X), S.tensor(net, y))


def close(a: dict, b: dict, factor: float = 1.0) -> bool:
    return all(np.allclose(np.asarray(a[k]), factor * np.asarray(b[k]), rtol=1e-12, atol=1e-14) for k in b)


def _fwd_bwd(S, net, params, X, y, hyper):
    P = S.load(net, params)
    fwd = S.forward(net, P, S.tensor(net, X))
    return fwd, S.backward(net, P, fwd, S.tensor(net, y), hyper)


# --------------------------------------------------------------------------- computed in the jax backend's own process
# (its registry env set before JAX starts: this pytest process may hold Keras on TensorFlow already)

def collect() -> dict:
    """Every check's outcome, computed in a process of the jax backend's own."""
    import jax
    import jax.numpy as jnp
    S = style()
    out: dict = {"devices": len(jax.devices("cpu")), "world": S.WORLD}
    net, hyper, params, X, y = network()
    Xp, yp, keep = S.padded(net, S.tensor(net, X), S.tensor(net, y))
    placed = jax.device_put(Xp, jax.NamedSharding(S.mesh(), S.split(net)))
    out["shards"] = sorted((s.device.id, list(s.data.shape)) for s in placed.addressable_shards)
    out["whole"] = {}
    for loss, layout in [("mse", "rows"), ("half_sse", "rows"), ("mse", "columns"), ("half_sse", "columns"),
                         ("bce", "rows"), ("output_sum", "columns")]:
        net, hyper, params, X, y = network(loss, layout)
        if loss == "bce":
            y = (y > 0).astype(float)
        got = S.gradients(net, S.load(net, params), *_fwd_bwd(S, net, params, X, y, hyper), hyper)
        out["whole"][f"{loss}-{layout}"] = close(got, whole_batch_gradient(S, net, hyper, params, X, y))
    out["own"] = {}
    for loss in ("mse", "half_sse"):
        for layout in ("rows", "columns"):
            net, hyper, params, X, y = network(loss, layout)
            whole = whole_batch_gradient(S, net, hyper, params, X, y)
            for average in (False, True):
                got = naive(S, net, params, X, y, average)
                out["own"][f"{loss}-{layout}-{'pmean' if average else 'plain'}"] = {
                    "equal": close(got, whole), "twice": close(got, whole, factor=S.WORLD)}
    out["odd"] = {}
    for n in (1, 3, 5):
        net, hyper, params, X, y = network("half_sse", "rows", n=n)   # a sum: a copy left in would count twice
        Xp, yp, keep = S.padded(net, S.tensor(net, X), S.tensor(net, y))
        got = S.gradients(net, S.load(net, params), *_fwd_bwd(S, net, params, X, y, hyper), hyper)
        repeated = whole_batch_gradient(S, net, hyper, params, np.vstack([X, X[-1:]]), np.vstack([y, y[-1:]]))
        out["odd"][str(n)] = {"rows": int(Xp.shape[0]), "kept": float(jnp.sum(keep)) / 2,
                              "copy_is_last": bool(np.array_equal(np.asarray(Xp[-1]), X[-1])),
                              "whole": close(got, whole_batch_gradient(S, net, hyper, params, X, y)),
                              "repeated": close(got, repeated)}
    S.mesh.cache_clear()
    real = jax.devices
    try:
        jax.devices = lambda *a: [object()]
        S.mesh()
        out["one_device"] = None
    except S.DeviceError as exc:
        out["one_device"] = str(exc)
    finally:
        jax.devices = real
        S.mesh.cache_clear()
    return out


@pytest.fixture(scope="module")
def got() -> dict:
    return helpers.collected("jax", "test_jax_sharded")


def test_two_cpu_devices_split_the_batch(got):
    assert got["devices"] >= got["world"] == 2
    assert got["shards"] == [[0, [2, 3]], [1, [2, 3]]]


@pytest.mark.parametrize("which", ["mse-rows", "half_sse-rows", "mse-columns", "half_sse-columns", "bce-rows",
                                   "output_sum-columns"])
def test_the_sharded_gradient_is_the_whole_batchs(got, which):
    assert got["whole"][which] is True


@pytest.mark.parametrize("layout", ["rows", "columns"])
@pytest.mark.parametrize("reduced", ["plain", "pmean"])
def test_a_devices_own_mean_differentiated_is_twice_the_gradient(got, layout, reduced):
    """pmean does not undo it: both devices hold the same, already summed, gradient."""
    assert got["own"][f"mse-{layout}-{reduced}"] == {"equal": False, "twice": True}


@pytest.mark.parametrize("layout", ["rows", "columns"])
@pytest.mark.parametrize("reduced", ["plain", "pmean"])
def test_a_summed_loss_differentiated_per_device_is_the_whole_gradient(got, layout, reduced):
    assert got["own"][f"half_sse-{layout}-{reduced}"]["equal"] is True


@pytest.mark.parametrize("n", [1, 3, 5])
def test_an_odd_batch_is_padded_and_the_copies_masked(got, n):
    odd = got["odd"][str(n)]
    assert odd["rows"] == n + 1 and odd["kept"] == n and odd["copy_is_last"]
    assert odd["whole"] is True and odd["repeated"] is False     # masked: left in, the copy would count twice


def test_without_two_devices_the_style_says_so(got):
    assert got["one_device"] and "XLA_FLAGS=--xla_force_host_platform_device_count=2" in got["one_device"]


# A sharded epoch's two device parts each block a thread of XLA's CPU client in the all-reduce until the other
# arrives; a one-device program (a J of the epoch's result, here a 4 s host callback standing in for a slow one)
# takes a thread of the same pool. With as many threads as cores (2 here) the second part waits for the J, past
# XLA's rendezvous deadline (1 s here, 40 s by default), and XLA aborts the process. The project's JAX package
# sizes the pool (PJRT_NPROC, jax_impl._client_threads); the second run shows what that removes.
STARVED = """
import time
import backprop_parity.jax_impl  # noqa: F401  (two host devices, the client's threads, float64)
import jax, jax.numpy as jnp, numpy as np
from jax.sharding import NamedSharding, PartitionSpec as P
mesh = jax.make_mesh((2,), ("d",))
def step(w, x):
    def local(w, x):
        return jax.lax.psum(jax.grad(lambda w: jnp.sum((x @ w) ** 2))(w), "d")
    return w - 1e-6 * jax.shard_map(local, mesh=mesh, in_specs=(P(), P("d")), out_specs=P())(w, x), None
epoch = jax.jit(lambda w, X: jax.lax.scan(step, w, X)[0])
def slow(x):
    time.sleep(4.0)
    return x
J = jax.jit(lambda w: jax.pure_callback(slow, jax.ShapeDtypeStruct(w.shape, w.dtype), w).sum())
X = jax.device_put(np.ones((400, 8, 16)), NamedSharding(mesh, P(None, "d")))
w = jax.device_put(np.ones((16,)), NamedSharding(mesh, P()))
epoch(w, X).block_until_ready()
J(w.addressable_shards[0].data).block_until_ready()   # both compiled before the race
w1 = epoch(w, X)                                      # still running while the next two are dispatched
j = J(w1.addressable_shards[0].data)                  # J of its result: 4 s on a client thread
w2 = epoch(w1, X)                                     # meanwhile each device's part needs a thread
print("survived", float(w2.sum()), float(j))
"""


@pytest.mark.parametrize("threads", ["the project's", "one per core"])
def test_a_slow_program_beside_a_sharded_epoch_does_not_starve_it(threads):
    import importlib.util
    import subprocess
    import sys
    from .conftest import missing_backend
    if importlib.util.find_spec("jax") is None:
        missing_backend("jax", "jax is not installed")
    env = {**os.environ, "XLA_FLAGS": "--xla_cpu_collective_call_terminate_timeout_seconds=1 "
                                      "--xla_cpu_collective_call_warn_stuck_timeout_seconds=1"}
    env.pop("PJRT_NPROC", None)
    if threads == "one per core":
        env["PJRT_NPROC"] = "2"
    r = subprocess.run([sys.executable, "-c", STARVED], capture_output=True, text=True, timeout=300, env=env)
    if threads == "the project's":
        assert r.returncode == 0 and "survived" in r.stdout, r.stderr[-1500:]
    else:
        assert r.returncode != 0 and "Termination timeout for `all reduce" in r.stderr, (r.returncode, r.stderr[-800:])
