"""Provenance: every framework style computes its own numbers (issue: a style that reported the
reference's deltas agreed with it to 1e-16 and passed every parity test).

In a framework's worker the reference's numerics are sealed (``reference/provenance.py``) before any
case runs, so every parity test — which reads the frameworks' traces from their workers — runs
each mirror with the reference's maths unusable: a mirror that called them would be an ERROR row,
never a match. These tests prove the seal bites and that no project backend turns it off.
"""

from __future__ import annotations

import subprocess
import sys

from backprop_parity.reference import registry

SEALED_CALLS = """
REF = {ref!r}
from backprop_parity.reference.case import load
case = load("courtial-one-car")
from backprop_parity.reference import activations, layout, losses, network, provenance
from backprop_parity.reports import backends as B
provenance.seal()
failed = []
for name, call in [
        ("network.forward", lambda: network.forward(case.net, case.params, case.X)),
        ("network.train", lambda: network.train(case.net, case.params, case.X, case.y, case.hyper)),
        ("layout.affine", lambda: layout.affine(case.X, case.params["W1"], None, "rows")),
        ("activation g", lambda: case.net.activations[0].g(case.X)),
        ("activation g'", lambda: case.net.activations[0].g_prime(case.X)),
        ("activations.sigmoid", lambda: activations.sigmoid(case.X)),
        ("loss J", lambda: case.net.loss.J(case.y, case.y)),
        ("loss dJ/dŷ", lambda: case.net.loss.dJ_dyhat(case.y, case.y)),
        ("losses.value", lambda: losses.value("mse", [1.0], [0.0])),
        ("the reference backend", lambda: [t for t in B.run(case, REF) if not hasattr(t, "values")] or 1 / 0)]:
    try:
        out = call()
    except provenance.Sealed:
        continue
    except ZeroDivisionError:
        failed.append(name + " ran")
        continue
    if name == "the reference backend":      # its styles became ERROR rows naming the seal
        if all("Sealed" in t.reason for t in out):
            continue
    failed.append(name)
print("UNSEALED:" + ",".join(failed) if failed else "ALL SEALED")
# what describes the case stays readable
assert activations.at_zero(activations.make("leaky_relu", slope=0.2)) == 0.2
assert activations.make("elu", alpha=0.5).label == "elu(alpha=0.5, at_zero=1)"
"""


def test_the_seal_makes_every_numeric_entry_point_raise():
    code = SEALED_CALLS.format(ref=registry.reference().name)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1] == "ALL SEALED", proc.stdout


def test_every_framework_backend_is_sealed_in_its_worker():
    """No project backend may turn the seal off (only the tests' fake backend does, being a double)."""
    for b in registry.entries():
        assert b.reference or b.sealed, f"{b.name}: sealed=False lets its styles return the reference's numbers"


def test_a_style_that_copies_the_reference_is_an_error(fake_backend, tmp_path):
    """A framework-like backend (sealed, as every project backend is) whose style returns the reference's
    trace: in its worker that is an ERROR row naming the seal — before the seal it was a perfect match."""
    import dataclasses

    from backprop_parity.reports import run

    from .test_honesty import small_case
    b = fake_backend("from backprop_parity.reference import network as REF\n"
                     "from backprop_parity.reference.trace import trace_case\n"
                     "STYLES = {'first': lambda case: relabel(trace_case('ref', 'manual', REF, case), 'first'),\n"
                     "          'second': lambda case: relabel(trace_case('ref', 'manual', REF, case), 'second')}\n")
    import backprop_parity.reference.registry as R
    sealed = dataclasses.replace(b, sealed=True)
    original = R.get

    def get(name):
        return sealed if name == "fake" else original(name)

    R.get = get
    try:
        (_, traces, rows), = run.run_cases([small_case(tmp_path)], ["fake"])
    finally:
        R.get = original
    assert [t.status for t in traces] == ["ERROR", "ERROR"], traces
    assert all("Sealed" in t.reason and "network." in t.reason for t in traces), [t.reason for t in traces]
    assert any(r.passed is False for r in rows)
