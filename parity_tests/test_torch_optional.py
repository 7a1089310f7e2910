"""torch is optional at import time — and a run that needed it cannot pass without it.

Each test starts a fresh Python in which ``import torch`` fails (a stand-in package
named torch, first on PYTHONPATH, raises ImportError), so it runs with or without
torch installed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def no_torch_env(tmp_path_factory):
    blocker = tmp_path_factory.mktemp("no_torch") / "torch"
    blocker.mkdir()
    (blocker / "__init__.py").write_text('raise ImportError("torch is blocked for this test")\n')
    env = {k: v for k, v in os.environ.items() if k != "BACKPROP_PARITY_REQUIRE"}
    env["PYTHONPATH"] = os.pathsep.join([str(blocker.parent), str(ROOT)])
    return env


def run(env, *args):
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True)


def test_numpy_backend_works_without_torch(no_torch_env):
    r = run(no_torch_env, "-m", "backprop_parity.reports.cli", "check", "courtial-bias-trick", "--backend", "numpy", "--quiet")
    assert r.returncode == 0, r.stdout + r.stderr


def test_torch_backend_without_torch_is_a_failure_not_a_skip(no_torch_env, tmp_path):
    out = tmp_path / "rows.json"
    r = run(no_torch_env, "-m", "backprop_parity.reports.cli", "check", "courtial-one-car", "--backend", "torch", "--json", str(out))
    assert r.returncode == 1, r.stdout + r.stderr
    rows = json.loads(out.read_text(encoding="utf-8"))
    assert sorted(row["style"] for row in rows) == ["autograd", "ddp", "modules"]
    for row in rows:
        assert row["status"] == "NOT RUN" and row["passed"] is False
        assert "torch is blocked for this test" in row["reason"]
        assert "pip install 'backprop-parity[torch]'" in row["reason"]          # the full reason, with the fix
    assert "NOT RUN torch: the torch backend cannot be imported here: torch is blocked for this test. Install it " \
           "with: pip install 'backprop-parity[torch]'" in " ".join(r.stdout.split())


def test_torch_tests_skip_cleanly_without_torch(no_torch_env):
    r = run(no_torch_env, "-m", "pytest", "-q", "-p", "no:cacheprovider", "parity_tests/test_torch_layout.py",
            "-rs")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "passed" not in r.stdout.splitlines()[-1] and "skipped" in r.stdout.splitlines()[-1], r.stdout
    assert "torch is blocked for this test" in r.stdout


def test_required_torch_missing_fails_the_run(no_torch_env):
    env = {**no_torch_env, "BACKPROP_PARITY_REQUIRE": "torch,tf"}
    r = run(env, "-m", "pytest", "-q", "-p", "no:cacheprovider", "parity_tests/test_torch_layout.py")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "BACKPROP_PARITY_REQUIRE" in r.stdout
