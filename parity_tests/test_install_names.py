"""Installed, the project's folders are imported under one package: backprop_parity.<folder>.

Generic top-level names (``reports``, ``reference``, …) must not land in site-packages, where
they could shadow or be shadowed by other packages. Checked from a folder outside the checkout,
so that the current directory cannot make the old names importable.
"""

from __future__ import annotations

import subprocess
import sys

from backprop_parity.reference import registry

FOLDERS = sorted({b.package.rsplit(".", 1)[1] for b in registry.entries()} | {"reports"})


def _imports(name: str, cwd) -> subprocess.CompletedProcess:
    code = f"import importlib.util, sys; sys.exit(0 if importlib.util.find_spec({name!r}) else 3)"
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=60)


def test_folders_import_under_backprop_parity(tmp_path):
    for folder in FOLDERS:
        r = _imports(f"backprop_parity.{folder}", tmp_path)
        assert r.returncode == 0, (folder, r.stderr)


def test_generic_top_level_names_do_not_resolve(tmp_path):
    for folder in FOLDERS:
        r = _imports(folder, tmp_path)
        assert r.returncode == 3, f"`import {folder}` resolves after install: {r.stderr or r.stdout}"


def test_the_command_lives_under_backprop_parity():
    from importlib.metadata import entry_points
    (ep,) = [e for e in entry_points(group="console_scripts") if e.name == "backprop-parity"]
    assert ep.value.startswith("backprop_parity.reports.")
