"""`check` run twice gives bit-identical numbers — across processes, hash seeds and thread counts.

Each test runs ``backprop-parity check --json`` in two fresh processes that differ in
PYTHONHASHSEED (dict/set order of anything hashed by string) and in the number of BLAS/OpenMP
threads, and compares the two JSON files byte for byte: every expected, actual, difference and
tolerance, printed with Python's shortest round-trip repr, must be identical.

The two runs share an XLA compilation cache of their own, empty before the first (not the session's, which
may hold the programs from an earlier session): the first run compiles every program, the second loads
them, so a loaded program must give the bits a fresh compile gave.

The reference runs every built-in case. Every framework backend of the registry (when importable;
required in CI through BACKPROP_PARITY_REQUIRE) runs a representative subset — the bias trick with gradient
checking and probes, the columns layout with cross-entropy over 20 epochs, per-sample SGD with a frozen bias, the
numerical edges — because starting the frameworks twice over every case costs minutes; set
BACKPROP_PARITY_DETERMINISM_ALL=1 to run every case on them too.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from backprop_parity.reference import registry
from backprop_parity.reports.cache import COMPILE_ENV

from .conftest import missing_backend

pytestmark = pytest.mark.cost(64)     # its tests' seconds, summed (conftest: the costliest files start first)

ROOT = Path(__file__).resolve().parent.parent
SUBSET = ["courtial-bias-trick", "dlai-logistic", "robust-sgd-frozen", "robust-edges", "dlai-activations"]
RUNS = [{"PYTHONHASHSEED": "0", "OMP_NUM_THREADS": "1"},
        {"PYTHONHASHSEED": "4242", "OMP_NUM_THREADS": "2"}]


def check_json(tmp_path: Path, backend: str, cases: list[str], run: int) -> bytes:
    out = tmp_path / f"{backend}-{run}.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMP_", "OPENBLAS_", "MKL_"))}
    env.update(RUNS[run])
    env[COMPILE_ENV] = str(tmp_path / f"xla-{backend}")      # compiled by run 0, loaded by run 1
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])
    proc = subprocess.run([sys.executable, "-m", "backprop_parity.reports.cli", "check", *cases, "--backend", backend, "--quiet",
                           "--json", str(out)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    assert proc.returncode in (0, 1), proc.stderr[-2000:]
    return out.read_bytes()


def compared(data: bytes) -> bytes:
    assert data.count(b'"quantity"') > 10, "the run compared (almost) nothing"
    return data


def assert_identical(a: bytes, b: bytes) -> None:
    if a != b:
        import json
        ra, rb = json.loads(a), json.loads(b)
        diff = [(x["case"], x["quantity"], x["backend"], x["style"]) for x, y in zip(ra, rb) if x != y]
        pytest.fail(f"{len(diff)} rows differ between the two runs, e.g. {diff[:5]}"
                    + ("" if len(ra) == len(rb) else f"; {len(ra)} vs {len(rb)} rows"))


def not_run(data: bytes, backend: str) -> str | None:
    """The reason, when every row of the backend says NOT RUN (its worker could not import it)."""
    import json
    mine = [r for r in json.loads(data) if r["backend"] == backend]
    return mine[0]["reason"] if mine and all(r["status"] == "NOT RUN" for r in mine) else None


def test_reference_check_is_bit_identical(tmp_path):
    ref = registry.reference().name
    assert_identical(compared(check_json(tmp_path, ref, [], 0)), check_json(tmp_path, ref, [], 1))


@pytest.mark.parametrize("backend", [b.name for b in registry.entries() if not b.reference])
def test_framework_check_is_bit_identical(tmp_path, backend):
    cases = [] if os.environ.get("BACKPROP_PARITY_DETERMINISM_ALL") == "1" else SUBSET
    first = check_json(tmp_path, backend, cases, 0)
    reason = not_run(first, backend)
    if reason:
        missing_backend(backend, reason)                 # skip cleanly if absent (fail when required)
    assert_identical(compared(first), check_json(tmp_path, backend, cases, 1))
