"""`check --dtype float32` holds on every built-in case and every backend, or says why per row.

float32 has its own conventions, declared per quantity: `differs_float32` (a difference that appears
only in float32 — Keras' clip bound 1 − ε is 1 − 1.19e-7 there; σ(20) rounds to 1) and
`same_in_float32` (a float64 difference float32 cannot show — tanh saturates from |z| ≈ 9). Numbers
printed finer than float32 resolves, and gradient checking, are 'undecidable in float32': reported,
never passed silently.
"""

from __future__ import annotations

import numpy as np
import pytest

from backprop_parity.reference import registry
from backprop_parity.reference.case import builtin_names, load
from backprop_parity.reports import run

from . import helpers
from .conftest import skip_if_not_run
from .helpers import describe

pytestmark = pytest.mark.cost(22)     # its tests' seconds, summed (conftest: the costliest files start first)

BACKENDS = list(registry.names())
REPORTED = ("no counterpart", "undecidable in float32", "undecidable: rounding")


def test_float32_mode_holds_on_every_builtin_case_and_backend():
    names = builtin_names()
    cases, runs = helpers.session_runs("float32 everything", lambda: [load(n).cast(np.float32) for n in names],
                                       BACKENDS)
    results = run.assemble(cases, runs, BACKENDS)
    rows = [r for _, _, rs in results for r in rs]
    for b in BACKENDS:
        skip_if_not_run(b, rows)
    assert rows and not [describe(r) for r in rows if r.passed is False][:5]
    assert all(r.status in REPORTED or r.status == "hint" for r in rows if r.passed is None)
    # every float32-only convention a case declares is really there, on the backend (or style) it names
    declared = [(c.name, q.id, key) for c in cases for q in c.quantities for key in q.differs_float32]
    assert declared
    for name, qid, key in declared:
        backend, _, style = key.partition("/")
        mine = [r for r in rows if (r.case, r.quantity, r.backend) == (name, qid, backend)
                and (not style or r.style == style)]
        assert mine and all(r.status == "convention confirmed" for r in mine), [describe(r) for r in mine]
