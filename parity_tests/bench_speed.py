"""Benchmarks (pytest-benchmark), not tests: run them explicitly.

    python -m pytest parity_tests/bench_speed.py --benchmark-only

* the deeplearning.ai notes' vectorization claim — np.dot over 10⁶ numbers against
  a Python loop ("~2ms" against "~475ms, or 200 times slower");
* one forward + backward + update of the NumPy reference on a batch, and the same
  loop written per example, to show why the reference never loops over examples.
"""

from __future__ import annotations

import numpy as np
import pytest

from backprop_parity.reference import activations, losses, network
from backprop_parity.reference.spec import Hyper, Net

N = 1_000_000


@pytest.fixture(scope="module")
def vectors():
    rng = np.random.default_rng(0)
    return rng.random(N), rng.random(N)


def test_dot_vectorized(benchmark, vectors):
    a, b = vectors
    benchmark(np.dot, a, b)


def test_dot_python_loop(benchmark, vectors):
    a, b = vectors
    al, bl = a.tolist(), b.tolist()

    def loop():
        c = 0.0
        for i in range(N):
            c += al[i] * bl[i]
        return c

    benchmark.pedantic(loop, rounds=3, iterations=1)


def _problem(n=2000):
    rng = np.random.default_rng(1)
    net = Net(sizes=(64, 32, 16, 1), activations=tuple(activations.make(a) for a in ("tanh", "tanh", "sigmoid")),
              loss=losses.make("half_sse"), layout="rows", bias="trick")
    params = {k: 0.1 * rng.standard_normal(s) for k, s in net.param_shapes().items()}
    return net, params, rng.standard_normal((n, 64)), rng.random((n, 1))


def test_reference_batch_step(benchmark):
    net, params, X, y = _problem()
    benchmark(network.one_step, net, params, X, y, Hyper(grad_scale="1/n"))


def test_reference_step_per_example(benchmark):
    """The same gradient, accumulated one example at a time: what vectorizing saves."""
    net, params, X, y = _problem(200)

    def per_example():
        total = None
        for i in range(X.shape[0]):
            fwd = network.forward(net, params, X[i:i + 1])
            bwd = network.backward(net, params, fwd, y[i:i + 1], Hyper())
            g = network.gradients(net, params, fwd, bwd, Hyper())
            total = g if total is None else {k: total[k] + g[k] for k in g}
        return total

    benchmark.pedantic(per_example, rounds=5, iterations=1)
