"""`check` alone, as a user runs it: one framework, every built-in case, exit 0.

Run only inside a mutant's copy (``backprop-parity mutants --family F --catalogue …`` with this
test as the selection), to show which mirror bugs `check` catches with no help from the parity
tests: the normal suite already holds every case on every backend, row by row.
"""

from __future__ import annotations

import os

import pytest

from backprop_parity.reference import registry
from backprop_parity.reports.cli import main

pytestmark = pytest.mark.skipif("BACKPROP_PARITY_MUTANT" not in os.environ,
                                reason="only inside a mutant run: the parity tests cover this row by row")


@pytest.mark.parametrize("backend", [b.name for b in registry.entries() if not b.reference])
def test_check_holds(backend):
    assert main(["check", "--backend", backend, "--quiet"]) == 0
