"""Scripts the tests run in a backend's own process (its registry ``env`` set before any import: Keras on
JAX cannot share a process with Keras on TensorFlow): ``python probes.py KIND BACKEND [ARGS …]`` prints one
line ``PROBE{json}``.

* ``train BACKEND``: every style trains a 2-2-1 net for 4 epochs, as the trace does and with every_epoch;
  how many parameter sets each holds, and whether both agree before, after the first and after the last.
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
    print("PROBE" + json.dumps({"train": train, "settings": settings}[kind](*args)))
