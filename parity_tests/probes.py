"""Scripts the tests run in a backend's own process (its registry ``env`` set before any import: Keras on
JAX cannot share a process with Keras on TensorFlow): ``python probes.py KIND BACKEND [ARGS …]`` prints one
line ``PROBE{json}``.

* ``train BACKEND``: every style trains a 2-2-1 net for 4 epochs, as the trace does and with every_epoch;
  how many parameter sets each holds, and whether both agree before, after the first and after the last.
* ``input-gradient BACKEND``: every style's forward and backward on a 3-4-2 net, with and without
  ``input_gradient``: whether ∂J/∂X is there only when asked for, and whether δ, ∂J/∂A and ∂J/∂W are
  the same bits either way.
* ``settings BACKEND Z Y YHAT``: each framework default the registry declares as a diagnose variant
  (``settings``), computed by the backend's ``settings.py`` on the JSON arrays given.
"""

from __future__ import annotations

import importlib
import json
import sys

import numpy as np

from backprop_parity.reference import activations, losses, registry
from backprop_parity.reference.spec import Hyper, Net


def train(backend: str) -> dict:
    b = registry.get(backend)
    net = Net(sizes=(2, 2, 1), activations=(activations.make("tanh"), activations.make("sigmoid")),
              loss=losses.make("mse"))
    rng = np.random.default_rng(3)
    params = {k: rng.standard_normal(s) for k, s in net.param_shapes().items()}
    X, y = rng.standard_normal((3, 2)), rng.uniform(0.1, 0.9, (3, 1))
    out = {}
    for s in b.styles:
        mod = importlib.import_module(f"{b.package}.{s.module}")
        kept = mod.train(net, params, X, y, Hyper(rule="sgd", epochs=4))
        every = mod.train(net, params, X, y, Hyper(rule="sgd", epochs=4), every_epoch=True)
        out[s.name] = {"kept": len(kept.history), "every": len(every.history), "costs": len(kept.costs),
                       "ends": all(np.array_equal(kept.history[i][k], every.history[j][k])
                                   for i, j in ((0, 0), (1, 1), (-1, -1)) for k in params)}
    return out


def input_gradient(backend: str) -> dict:
    b = registry.get(backend)
    out = {}
    for trick in (False, True):
        net = Net(sizes=(3, 4, 2), activations=(activations.make("tanh"), activations.make("sigmoid")),
                  loss=losses.make("mse"), bias="trick" if trick else "vectors")
        rng = np.random.default_rng(5)
        params_np = {k: rng.standard_normal(s) for k, s in net.param_shapes().items()}
        X_np, y_np = rng.standard_normal((5, 3)), rng.uniform(0.1, 0.9, (5, 2))
        hyper = Hyper()
        for s in b.styles:
            mod = importlib.import_module(f"{b.package}.{s.module}")
            runs = {}
            for wanted in (True, False):
                params, X, y = mod.load(net, params_np), mod.tensor(net, X_np), mod.tensor(net, y_np)
                fwd = mod.forward(net, params, X, input_gradient=wanted)
                bwd = mod.backward(net, params, fwd, y, hyper)
                grads = mod.gradients(net, params, fwd, bwd, hyper)
                runs[wanted] = {"dX": None if bwd.dA_in[0] is None else mod.numpy(bwd.dA_in[0]),
                                "rest": [mod.numpy(a) for a in [*bwd.delta, *bwd.dA_in[1:]]]
                                        + [mod.numpy(grads[k]) for k in sorted(grads)]}
            out[f"{s.name}/{'trick' if trick else 'vectors'}"] = {
                "kept": runs[True]["dX"] is not None and runs[True]["dX"].size > 0,
                "skipped": runs[False]["dX"] is None,
                "same": len(runs[True]["rest"]) == len(runs[False]["rest"]) > 0 and all(
                    np.array_equal(a, b) for a, b in zip(runs[True]["rest"], runs[False]["rest"]))}
    return out


def settings(backend: str, z: str, y: str, yhat: str) -> dict:
    b = registry.get(backend)
    mod = importlib.import_module(b.package + ".settings")
    z, y, yhat = (np.asarray(json.loads(a)) for a in (z, y, yhat))
    out = {}
    for name in b.settings:
        v = mod.COMPUTE[name](z, y, yhat)
        out[name] = v if isinstance(v, str) else np.asarray(v, dtype=float).tolist()
    return {"values": out, "kept_as": getattr(mod, "KEPT_AS", {})}


if __name__ == "__main__":
    kind, *args = sys.argv[1:]
    print("PROBE" + json.dumps({"train": train, "settings": settings, "input-gradient": input_gradient}[kind](*args)))
