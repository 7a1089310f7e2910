"""The backend registry (reference/registry.py): the one list of backends, and nobody else's.

Outside a backend's own folder, its own tests (``test_<backend>_*.py``) and the registry, no code
names a backend: everything else reads the registry. :func:`test_no_code_names_a_backend` reads
every Python file of ``reference/``, ``reports/`` and the generic tests and fails on

* an import of a framework or of another backend's package (``import torch``,
  ``from backprop_parity.tf_impl import …``);
* a string in code (docstrings are documentation and are not read; comments neither) that holds a
  backend's name, its package folder or a framework's module as a word (``"torch"``,
  ``f"{x}/tf"``, ``sys.modules.get("tensorflow")``).

Style names alone are not searched: some are ordinary words of the domain (``grad`` is also the
case files' ``grad.W[1]``), and a style is named next to its backend, which is.

The words come from the registry itself (names, folders, the distributions' top-level modules),
so a new backend is covered as soon as its info.py exists. The NumPy reference may import NumPy:
the whole project runs on it.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

import pytest

from backprop_parity.reference import registry
from backprop_parity.reports import environment
from backprop_parity.reports.worker import run_in_worker

from .conftest import TOOLS, required

ROOT = Path(__file__).resolve().parent.parent
ENTRIES = registry.entries()


# --------------------------------------------------------------------------- what the registry lists

def test_the_registry_lists_the_backends():
    names = [b.name for b in ENTRIES]
    assert names[:3] == ["numpy", "torch", "tf"]
    assert ENTRIES[0].reference and not any(b.reference for b in ENTRIES[1:])
    if (ROOT / "jax_impl" / "info.py").is_file():
        assert "jax" in names, ("jax_impl/info.py exists but the registry does not list jax: is "
                                "backprop_parity.jax_impl installed (pip install -e .)?")
    assert [b.package for b in ENTRIES] == [p for p in registry.PACKAGES if registry.info_module(p) is not None]


@pytest.mark.parametrize("backend", ENTRIES, ids=[b.name for b in ENTRIES])
def test_each_declared_module_exists(backend):
    folder = registry.package_dir(backend.package)
    assert folder is not None, f"{backend.package} is not installed"
    assert (folder / "backend.py").is_file(), f"{backend.package} has no backend.py"
    for style in backend.styles:
        assert (folder / f"{style.module}.py").is_file(), f"{backend.name}/{style.name}: no {style.module}.py"
        assert re.fullmatch(r"#[0-9A-Fa-f]{6}", style.colour), style
    assert len({s.colour for b in ENTRIES for s in b.styles}) == sum(len(b.styles) for b in ENTRIES), \
        "two styles share a colour: the plots could not tell them apart"


def test_lookups():
    ref = registry.reference()
    assert registry.get(ref.name) is ref and registry.names()[0] == ref.name
    for b in ENTRIES:
        assert registry.style_names(b.name) == tuple(s.name for s in b.styles)
        assert registry.style(b.name, b.styles[0].name) is b.styles[0]
    with pytest.raises(registry.UnknownBackend, match="unknown backend 'nope'"):
        registry.get("nope")
    assert registry.style("nope", "x") is None


def test_a_bad_declaration_is_refused():
    with pytest.raises(registry.RegistryError):
        registry.Style("Bad Name", "network", "", "#000000", "o")
    with pytest.raises(registry.RegistryError):
        registry.Backend("x", "pkg", "X", ())
    s = registry.Style("a", "network", "", "#000000", "o")
    with pytest.raises(registry.RegistryError):
        registry.Backend("x", "pkg", "X", (s, s))


def test_info_modules_and_a_reference_only_run_import_no_framework():
    """The registry (every info.py), and `check --backend <reference>`, in a fresh process: no framework
    module is imported and no worker process is started."""
    frameworks = sorted(_framework_modules() | {b.package for b in ENTRIES if not b.reference})
    code = f"""
import subprocess, sys
def no_process(*args, **kwargs):
    raise AssertionError("a process was started")
subprocess.Popen = no_process
from backprop_parity.reference import registry
registry.entries()
from backprop_parity.reports.cli import main
code = main(["check", "zhou-mse", "courtial-bias-trick", "--backend", registry.reference().name, "--quiet"])
loaded = sorted(m for m in {frameworks!r} if m in sys.modules)
print(code, loaded)
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip().splitlines()[-1] == "0 []", r.stdout


# --------------------------------------------------------------------------- BACKPROP_PARITY_REQUIRE

REQUIRED = sorted(required() - TOOLS)      # tools (chromium) are checked by the tests that use them


def test_required_backends_are_registered_and_start():
    """What BACKPROP_PARITY_REQUIRE names must exist and import in its own worker process — even if no
    other test happened to ask for it (a typo, or a backend whose info.py is gone, fails here)."""
    for name in REQUIRED:
        assert name in registry.names(), (f"BACKPROP_PARITY_REQUIRE names {name!r}, which the registry does not "
                                          f"list (registered: {', '.join(registry.names())})")
        result = run_in_worker(registry.get(name), [])
        assert result.unavailable is None, result.unavailable
        assert result.failure is None, result.failure


# --------------------------------------------------------------------------- nobody else names a backend

def _framework_modules() -> set[str]:
    out = set()
    for b in ENTRIES:
        if b.reference:
            continue
        for dist in b.distributions:
            out.add(re.split(r"[-_.]", dist)[0])
            out.update(environment._import_names(dist))
    return out


@lru_cache(maxsize=None)
def _words_of(backend) -> frozenset:
    words = {backend.name}
    if not backend.reference:
        words.add(backend.folder)
        for dist in backend.distributions:
            words.add(re.split(r"[-_.]", dist)[0])
            words.update(environment._import_names(dist))
    return frozenset(words)


@lru_cache(maxsize=None)
def _own_files(backend) -> frozenset:
    folder = registry.package_dir(backend.package)
    own = {p.resolve() for p in folder.glob("*.py")} if folder is not None else set()
    return frozenset(own | {p.resolve() for p in (ROOT / "parity_tests").glob(f"test_{backend.name}_*.py")})


def _scanned() -> list[Path]:
    files = sorted((ROOT / "reference").rglob("*.py")) + sorted((ROOT / "reports").rglob("*.py")) \
        + sorted((ROOT / "parity_tests").glob("*.py"))
    skip = {(ROOT / "reference" / "registry.py").resolve(), Path(__file__).resolve()}
    skip |= {(registry.package_dir(b.package) / "info.py").resolve() for b in ENTRIES
             if registry.package_dir(b.package) is not None}
    framework_tests = {p.resolve() for b in ENTRIES for p in (ROOT / "parity_tests").glob(f"test_{b.name}_*.py")}
    return [p for p in files if p.resolve() not in skip | framework_tests]


def _docstrings(tree) -> set[int]:
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = getattr(node, "body", [])
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                ids.add(id(body[0].value))
    return ids


def offences(path: Path, entries=ENTRIES) -> list[str]:
    """Every place in one file that names a backend it does not belong to."""
    resolved = path.resolve()
    others = [b for b in entries if resolved not in _own_files(b)]
    words = {w: b.name for b in others for w in _words_of(b)}
    imports = {w: b.name for b in others if not b.reference for w in _words_of(b)}
    pattern = re.compile(r"(?<![A-Za-z0-9_])(" + "|".join(sorted(map(re.escape, words), key=len, reverse=True))
                         + r")(?![A-Za-z0-9_])")
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    skip = _docstrings(tree)
    found = []
    where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            for m in modules:
                hit = [part for part in m.split(".") if part in imports]
                if hit:
                    found.append(f"{where}:{node.lineno}: imports {m} ({imports[hit[0]]})")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            m = pattern.search(node.value)
            if m:
                found.append(f"{where}:{node.lineno}: the string {node.value[:60]!r} names {m.group(1)!r} "
                             f"({words[m.group(1)]})")
    return found


def test_no_code_names_a_backend():
    found = [o for path in _scanned() for o in offences(path)]
    assert not found, ("code outside the registry, the info files and a backend's own folder and tests names a "
                       "backend (read registry.entries() instead):\n" + "\n".join(found))


def test_the_scan_would_see_it(tmp_path):
    """The scan itself catches each way of naming a backend (so that passing means something)."""
    f = tmp_path / "sample.py"
    other = next(b for b in ENTRIES if not b.reference)
    f.write_text(f'"""A docstring may say {other.name}."""\n'
                 f"import {other.folder}\n"
                 f"x = {other.name!r}\n"
                 f"y = f'{{x}}/{other.name}'\n"
                 f"w = {registry.reference().name!r}\n", encoding="utf-8")
    found = offences(f)
    assert len(found) == 4 and not any(":1:" in o for o in found), found
