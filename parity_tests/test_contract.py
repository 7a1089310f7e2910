"""One contract for every backend style: the same functions with the same signatures.

``reference/contract.py`` states the step functions once; every style module the registry
declares must define each of them with exactly that signature (parameter names, order,
kinds and defaults), and use the shared containers. A backend that cannot be imported
here is skipped like any other optional framework — and fails when BACKPROP_PARITY_REQUIRE
names it (conftest.require_backend).
"""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

import pytest

from backprop_parity.reference import contract, registry

from .conftest import missing_backend

STYLES = [(b.name, s.name) for b in registry.entries() for s in b.styles]

pytestmark = pytest.mark.cost(36)     # its tests' seconds, summed (conftest: the costliest files start first)

# Run in a process of the backend's own (its registry env set before import: Keras on JAX cannot
# share a process with Keras on TensorFlow). Prints, per style module, each contract function's
# parameters and whether the module's containers are the contract's.
PROBE = """
import importlib, inspect, json, sys
from backprop_parity.reference import contract, registry
b = registry.get(sys.argv[1])
out = {}
for s in b.styles:
    mod = importlib.import_module(f"{b.package}.{s.module}")
    fns = {}
    for name in contract.NAMES:
        fn = getattr(mod, name, None)
        fns[name] = (None if not callable(fn) else
                     [[p.name, str(p.kind), repr(p.default)] for p in inspect.signature(inspect.unwrap(fn)).parameters.values()])
    containers = {n: getattr(mod, n) is getattr(contract, n) for n in ("Forward", "Backward", "Training") if hasattr(mod, n)}
    out[s.name] = {"functions": fns, "containers": containers, "file": mod.__file__}
print("PROBE" + json.dumps(out))
"""


def _params(fn) -> list:
    return [[p.name, str(p.kind), repr(p.default)] for p in inspect.signature(fn).parameters.values()]


@lru_cache(maxsize=None)
def probe(backend: str) -> dict | str:
    b = registry.get(backend)
    env = {**os.environ, **b.env}
    r = subprocess.run([sys.executable, "-c", PROBE, backend], capture_output=True, text=True, env=env, timeout=300)
    line = next((x for x in r.stdout.splitlines() if x.startswith("PROBE")), None)
    if r.returncode or line is None:
        return (r.stderr.strip().splitlines() or ["no output"])[-1]
    return json.loads(line[len("PROBE"):])


def _probe_or_skip(backend: str) -> dict:
    got = probe(backend)
    if isinstance(got, str):
        if "No module named" in got or "ImportError" in got:
            missing_backend(backend, got)
        pytest.fail(f"{backend}: the contract probe failed: {got}")
    return got


def test_the_contract_is_not_empty():
    assert len(contract.NAMES) >= 10 and len(set(contract.NAMES)) == len(contract.NAMES)
    for name in ("forward", "backward", "gradients", "step", "train", "J_of"):
        assert name in contract.NAMES


def test_every_backend_declares_styles():
    assert len(STYLES) >= 5, STYLES
    assert sum(1 for b in registry.entries() if b.reference) == 1


@pytest.mark.parametrize("backend,style", STYLES, ids=[f"{b}/{s}" for b, s in STYLES])
def test_style_keeps_the_contract(backend, style):
    got = _probe_or_skip(backend)[style]
    problems = []
    for name in contract.NAMES:
        want, have = _params(getattr(contract, name)), got["functions"][name]
        if have is None:
            problems.append(f"{name}: missing")
        elif want != have:
            problems.append(f"{name}({', '.join(p[0] for p in have)}) ≠ contract "
                            f"{name}({', '.join(p[0] for p in want)})")
    assert not problems, f"{backend}/{style} ({got['file']}):\n" + "\n".join(problems)


@pytest.mark.parametrize("backend,style", STYLES, ids=[f"{b}/{s}" for b, s in STYLES])
def test_style_uses_the_shared_containers(backend, style):
    """Forward, Backward and Training are the contract's classes, not look-alikes redefined per style."""
    got = _probe_or_skip(backend)[style]
    assert got["containers"] and all(got["containers"].values()), (backend, style, got["containers"])


def test_the_probe_catches_a_wrong_signature():
    """The comparison is not vacuous: a function with one parameter renamed differs."""
    def forward(net, parameters, X):   # noqa: ARG001
        pass
    assert _params(forward) != _params(contract.forward)


@lru_cache(maxsize=None)
def run_probe(kind: str, backend: str) -> dict | str:
    """``probes.py KIND BACKEND`` in the backend's own process: its answer, or the last line of its error."""
    b = registry.get(backend)
    r = subprocess.run([sys.executable, str(Path(__file__).with_name("probes.py")), kind, backend],
                       capture_output=True, text=True,
                       env={**os.environ, **b.env}, timeout=300)
    line = next((x for x in r.stdout.splitlines() if x.startswith("PROBE")), None)
    if r.returncode or line is None:
        return (r.stderr.strip().splitlines() or ["no output"])[-1]
    return json.loads(line[len("PROBE"):])


@pytest.mark.parametrize("backend,style", STYLES, ids=[f"{b}/{s}" for b, s in STYLES])
def test_training_keeps_only_what_the_trace_reads(backend, style):
    """Four epochs hold three parameter sets (before, after the first, after the last) — the same ones
    every_epoch records at those places; every_epoch holds all five; J is kept for every epoch."""
    _probe_or_skip(backend)
    got = run_probe("train", backend)
    assert not isinstance(got, str), f"{backend}: the training probe failed: {got}"
    assert got[style] == {"kept": 3, "every": 5, "costs": 5, "ends": True}, (backend, style, got[style])


@pytest.mark.parametrize("backend,style", STYLES, ids=[f"{b}/{s}" for b, s in STYLES])
@pytest.mark.parametrize("bias", ["vectors", "trick"])
def test_forward_without_the_input_gradient(backend, style, bias):
    """forward(…, input_gradient=False) — what every training step asks for — leaves ∂J/∂X out (None) and
    changes nothing else: δ, ∂J/∂A of the hidden layers and ∂J/∂W are the same bits as with it."""
    _probe_or_skip(backend)
    got = run_probe("input-gradient", backend)
    assert not isinstance(got, str), f"{backend}: the input-gradient probe failed: {got}"
    assert got[f"{style}/{bias}"] == {"kept": True, "skipped": True, "same": True}, (backend, style, bias)
