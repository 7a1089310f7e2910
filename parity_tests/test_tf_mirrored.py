"""The data-parallel TensorFlow style (``tf_impl/mirrored.py``): what it must get right, and the traps it avoids.

Every case and every random network already holds ``tf/mirrored`` to the reference, number by number
(test_tf_parity, test_tf_random). Here: the two logical CPUs are really there and the strategy really has
two replicas; an odd batch's padding is masked; and the reductions a data-parallel port gets wrong give
wrong numbers — asserted:

* a replica that divides its loss by its OWN count (``reduce_mean``, a Keras loss) and a SUM over the
  replicas (what apply_gradients does under MirroredStrategy) gives twice the gradient of a mean loss;
* averaging the replicas instead (``ReduceOp.MEAN``, DistributedDataParallel's way) halves the gradient of a
  summed loss.
"""

from __future__ import annotations

import numpy as np
import pytest

from . import helpers


def style():
    from backprop_parity.tf_impl import mirrored
    return mirrored


def network(loss="mse", layout="rows", n=4, seed=3, l2=0.0):
    from backprop_parity.reference import activations as RA
    from backprop_parity.reference import losses as RLS
    from backprop_parity.reference.spec import Hyper, Net
    net = Net(sizes=(3, 4, 2), activations=(RA.make("tanh"), RA.make("sigmoid")), loss=RLS.make(loss), layout=layout)
    rng = np.random.default_rng(seed)
    params = {k: rng.standard_normal(s) for k, s in net.param_shapes().items()}
    X = rng.standard_normal((n, 3) if layout == "rows" else (3, n))
    y = rng.standard_normal((n, 2) if layout == "rows" else (2, n))
    return net, Hyper(learning_rate=0.1, l2=l2), params, X, y


def whole_batch_gradient(S, net, hyper, params, X, y):
    """The tape's ∂J/∂W on one device: what every data-parallel gradient must equal."""
    P = S.load(net, params)
    fwd = S.forward(net, P, S.tensor(net, X))
    S.backward(net, P, fwd, S.tensor(net, y), hyper)
    from backprop_parity.tf_impl import network
    return {k: v.numpy() for k, v in network.gradients(net, P, fwd, None, hyper).items()}


def naive(S, net, params, X, y, reduce_op):
    """Each replica differentiates its OWN loss (reduced over its half only, as a Keras loss or reduce_mean
    does); the replicas' gradients then reduced with ``reduce_op``."""
    import tensorflow as tf
    from backprop_parity.tf_impl import network
    s, P = S.strategy(), S.load(net, params)
    parts = [p[:2] for p in S.halves(net, S.tensor(net, X), S.tensor(net, y))]

    def on_replica(X, y):
        with tf.GradientTape() as tape:
            J = network.cost(net, P, S.predict(net, P, X), y, S.Hyper())
        return tape.gradient(J, dict(P))
    per = s.experimental_distribute_values_from_function(lambda ctx: parts[ctx.replica_id_in_sync_group])
    grads = s.run(on_replica, args=per)
    return {k: s.reduce(reduce_op, g, axis=None).numpy() for k, g in grads.items()}


def close(a: dict, b: dict, factor: float = 1.0) -> bool:
    return all(np.allclose(np.asarray(a[k]), factor * np.asarray(b[k]), rtol=1e-12, atol=1e-14) for k in b)


# --------------------------------------------------------------------------- computed in the tf backend's own process
# (its registry env set before TensorFlow starts: this pytest process may hold Keras on JAX already)

def mirrored_gradient(S, net, hyper, params, X, y) -> dict:
    return {k: v.numpy() for k, v in S.mirrored_gradient(net, hyper, S.load(net, params), S.tensor(net, X),
                                                         S.tensor(net, y)).items()}


def collect() -> dict:
    """Every check's outcome, computed in a process of the tf backend's own."""
    import tensorflow as tf
    S = style()
    out: dict = {"devices": len(tf.config.list_logical_devices("CPU")), "world": S.WORLD,
                 "replicas": S.strategy().num_replicas_in_sync}
    net, hyper, params, X, y = network()
    out["parts"] = [list(p[0].shape) for p in S.halves(net, S.tensor(net, X), S.tensor(net, y))]
    out["whole"] = {}
    for loss, layout, l2 in [("mse", "rows", 0.0), ("half_sse", "rows", 0.1), ("mse", "columns", 0.1),
                             ("half_sse", "columns", 0.0), ("bce", "rows", 0.0), ("output_sum", "columns", 0.0)]:
        net, hyper, params, X, y = network(loss, layout, l2=l2)
        if loss == "bce":
            y = (y > 0).astype(float)
        out["whole"][f"{loss}-{layout}-{l2:g}"] = close(mirrored_gradient(S, net, hyper, params, X, y),
                                                         whole_batch_gradient(S, net, hyper, params, X, y))
    out["own"] = {}
    for loss in ("mse", "half_sse"):
        for layout in ("rows", "columns"):
            net, hyper, params, X, y = network(loss, layout)
            whole = whole_batch_gradient(S, net, hyper, params, X, y)
            for name, op in (("sum", tf.distribute.ReduceOp.SUM), ("mean", tf.distribute.ReduceOp.MEAN)):
                got = naive(S, net, params, X, y, op)
                out["own"][f"{loss}-{layout}-{name}"] = {"equal": close(got, whole),
                                                         "twice": close(got, whole, factor=S.WORLD),
                                                         "half": close(got, whole, factor=1 / S.WORLD)}
    out["odd"] = {}
    for n in (1, 3, 5):
        net, hyper, params, X, y = network("half_sse", "rows", n=n)   # a sum: a copy left in would count twice
        Xp, yp, keep = S.padded(net, S.tensor(net, X), S.tensor(net, y))
        got = mirrored_gradient(S, net, hyper, params, X, y)
        repeated = whole_batch_gradient(S, net, hyper, params, np.vstack([X, X[-1:]]), np.vstack([y, y[-1:]]))
        out["odd"][str(n)] = {"rows": int(Xp.shape[0]), "kept": float(np.sum(keep.numpy())),
                              "copy_is_last": bool(np.array_equal(Xp.numpy()[-1], X[-1])),
                              "whole": close(got, whole_batch_gradient(S, net, hyper, params, X, y)),
                              "repeated": close(got, repeated)}
    return out


@pytest.fixture(scope="module")
def got() -> dict:
    return helpers.collected("tf", "test_tf_mirrored")


def test_two_logical_cpus_two_replicas(got):
    assert got["devices"] >= got["world"] == 2 and got["replicas"] == 2
    assert got["parts"] == [[2, 3], [2, 3]]


@pytest.mark.parametrize("which", ["mse-rows-0", "half_sse-rows-0.1", "mse-columns-0.1", "half_sse-columns-0",
                                   "bce-rows-0", "output_sum-columns-0"])
def test_the_mirrored_gradient_is_the_whole_batchs(got, which):
    assert got["whole"][which] is True


@pytest.mark.parametrize("layout", ["rows", "columns"])
def test_a_replicas_own_mean_summed_is_twice_the_gradient(got, layout):
    assert got["own"][f"mse-{layout}-sum"] == {"equal": False, "twice": True, "half": False}
    assert got["own"][f"mse-{layout}-mean"]["equal"] is True       # averaged: right, for a mean and equal halves


@pytest.mark.parametrize("layout", ["rows", "columns"])
def test_averaging_the_replicas_halves_a_summed_loss(got, layout):
    assert got["own"][f"half_sse-{layout}-mean"] == {"equal": False, "twice": False, "half": True}
    assert got["own"][f"half_sse-{layout}-sum"]["equal"] is True


@pytest.mark.parametrize("n", [1, 3, 5])
def test_an_odd_batch_is_padded_and_the_copies_masked(got, n):
    odd = got["odd"][str(n)]
    assert odd["rows"] == n + 1 and odd["kept"] == n and odd["copy_is_last"]
    assert odd["whole"] is True and odd["repeated"] is False     # masked: left in, the copy would count twice
