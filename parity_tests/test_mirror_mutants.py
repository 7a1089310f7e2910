"""The mirrors' mutation catalogues: bugs of the torch, TF and JAX mirrors, each killed.

parity_tests/mutants_<family>.toml holds bugs a user porting the net writes in torch, TF/Keras or
JAX (a reshape for a transpose, gradients not zeroed, lr not scaled, a default leaky slope,
float32, Keras' shuffle left on, ∂J/∂ŷ with respect to y …) and three *copies* per family: a style
that returns the reference's numbers as its own, which only the seal of the reference's numerics in
the framework's worker (reference/provenance.py) can catch. ``backprop-parity mutants --family
torch|tf|jax`` runs one catalogue against that framework's parity tests; measured on the 2-core
machine (2 jobs, --first-kill): torch 12 of 12 killed in 86 s, tf 12 of 12 in 224 s, jax 12 of 12
in 280 s. This file checks that every catalogue applies to the current tree and runs one copy of
each family, which must be killed by the seal (the parity tests of the same tree run in this
session, so no baseline run is repeated here). BACKPROP_PARITY_MIRROR_MUTANTS=all runs every
mutant of every family, with its baseline.
"""

from __future__ import annotations

import os

import pytest

from backprop_parity.reports import mutants as M

pytestmark = pytest.mark.skipif("BACKPROP_PARITY_MUTANT" in os.environ,
                                reason="inside a mutant run: the catalogue does not run itself")
pytestmark = [pytestmark, pytest.mark.cost(95)]   # its tests' seconds, summed (conftest: the costliest files start first)

MIRRORS = [f for f in M.families() if f != "reference"]


@pytest.mark.parametrize("family", MIRRORS)
def test_mirror_catalogue_applies_and_covers_provenance(family):
    selection, mutants = M.load_catalogue(M.catalogue_of(family))
    assert len(mutants) >= 10
    assert any(f"test_{family}_parity.py" in t for t in selection)
    copies = [m for m in mutants if m.breaks.startswith("provenance")]
    assert len(copies) >= 3, "three mutants that return the reference's numbers as the style's own"
    files = {p.file for m in mutants for p in m.patches}
    assert len(files) >= 2, "both styles' files (and the shared ones) are mutated"


@pytest.mark.parametrize("family", MIRRORS)
def test_mirror_mutants_are_killed(family):
    selection, mutants = M.load_catalogue(M.catalogue_of(family))
    every = os.environ.get("BACKPROP_PARITY_MIRROR_MUTANTS") == "all"
    if not every:
        mutants = M.choose([m for m in mutants if m.breaks.startswith("provenance")], None, 1, 0)
    baseline, results = M.run_all(mutants, selection, jobs=min(2, os.cpu_count() or 1), first_kill=True,
                                  baseline=every)
    assert baseline.status == "SURVIVED", f"the unpatched copy fails its own tests: {baseline}"
    bad = [f"{r.name}: {r.status} {r.detail}" for r in results if r.status != "KILLED"]
    assert not bad, "holes in the parity tests (close each with an assertion):\n" + "\n".join(bad)
    for r in results:
        if r.breaks.startswith("provenance"):     # killed by the seal, not by a number that happened to differ
            assert "Sealed" in r.why or "0 rows" in r.why, r
