"""Shared fixtures for the parity tests.

Backends come from the registry (``reference/registry.py``); nothing here names one.

Optional frameworks: a test that needs a framework's module in this process calls
``require_backend(name)`` (or uses the ``<name>_backend`` fixture, one per framework backend
of the registry: ``torch_backend`` …). Without the framework the test is skipped with the
import error as the reason — unless the environment variable BACKPROP_PARITY_REQUIRE names
the backend (CI sets it), in which case the missing framework is a failure: a CI run in which
a framework's tests were skipped must not pass. Tests that run the comparison path
(``helpers.rows``, the command) compute each framework in its own worker process; there a
missing framework shows up as NOT RUN rows, and :func:`missing_backend` skips or fails the same
way. ``test_registry.py`` also fails a run whose BACKPROP_PARITY_REQUIRE names a backend that is
not registered or cannot start.
"""

from __future__ import annotations

import os
import sys
import tempfile
import textwrap
import uuid

import pytest

from backprop_parity.reports.worker import worker_environ

# Every process of the session computes with the thread counts a framework worker of ``check`` starts with
# (reports/worker.py: one thread per framework unless the environment sets a count), set here before any framework
# is imported: the tests that run a framework in their own process run it as ``check`` does, and two pytest-xdist
# workers side by side no longer each size their thread pools for the whole machine (tiny networks gain nothing).
os.environ.update(worker_environ())

from backprop_parity.reference import registry  # noqa: E402
from backprop_parity.reports import backends as B  # noqa: E402
from backprop_parity.reports import cache  # noqa: E402

# The command line's folder (reports/cache.py), read before the next line turns its results off for the tests:
# its compiled/ subfolder of JAX's compiled programs is the tests' too (pytest_configure).
CLI_CACHE = cache.default_root()
# Tests never read the command line's reused results (reports/cache.py): a command a test starts computes
# afresh unless the test hands it the session's own store (helpers.session_store_env), which starts empty.
# test_cache.py gives its own commands a folder of their own.
os.environ["BACKPROP_PARITY_CACHE"] = "off"

TOOLS = {"chromium"}          # names BACKPROP_PARITY_REQUIRE may hold that are not backends


def required() -> set[str]:
    return {s.strip() for s in os.environ.get("BACKPROP_PARITY_REQUIRE", "").split(",") if s.strip()}


def missing_backend(name: str, reason: str):
    """Skip (or fail, when BACKPROP_PARITY_REQUIRE names it) a test whose backend cannot run."""
    if name in required():
        pytest.fail(f"{reason} — and BACKPROP_PARITY_REQUIRE={os.environ['BACKPROP_PARITY_REQUIRE']} "
                    f"says this run must include it", pytrace=False)
    pytest.skip(reason)


def require_backend(name: str):
    """The backend's module, imported in this process (skipped or failed when it cannot be)."""
    try:
        return B.load(name)
    except B.BackendUnavailable as exc:
        missing_backend(name, str(exc))


def skip_if_not_run(name: str, rows) -> None:
    """When every row of a backend is NOT RUN (its worker could not import it): skip, or fail if required."""
    mine = [r for r in rows if r.backend == name]
    if mine and all(r.status == "NOT RUN" for r in mine):
        missing_backend(name, mine[0].reason)


def _backend_fixture(name: str):
    @pytest.fixture(scope="session", name=f"{name}_backend")
    def fixture():
        return require_backend(name)
    fixture.__doc__ = f"The {name} backend module, imported in the test process (skipped when unavailable)."
    return fixture


for _b in registry.entries():
    if not _b.reference:
        globals()[f"_{_b.name}_backend_fixture"] = _backend_fixture(_b.name)


def pytest_configure(config):
    """Made by the controlling process before any pytest-xdist worker starts, so that all of them share
    them, and removed at the end:

    * one XLA compilation cache for the whole run (``BACKPROP_PARITY_COMPILE_CACHE``, which ``jax_impl``
      reads in every worker process a test starts): compiled programs only, never results. By default the
      command line's own folder of them (``compiled/`` in its cache folder, trimmed as the command line
      trims it), so a program compiled by an earlier run — of the tests or of ``check`` — is loaded, not
      compiled again: XLA keys each by the program itself, jax/jaxlib and the XLA flags, so a loaded
      program is the one a compile would give (``test_determinism`` compares the two, bit for bit).
      ``BACKPROP_PARITY_XLA_CACHE``: ``session``, a new empty folder for this run alone (everything
      compiled: how a first run on a new machine goes); a path, that folder; ``off``, none;
    * the session's store of results (``helpers.SESSION_STORE``): every framework's traces of a case,
      computed once in this session by this source and read by every test that looks at them, in any
      pytest-xdist worker (``helpers.compute``), and by the commands a test runs to look at their output
      (``helpers.session_store_env``). It starts empty: nothing computed before the session is read."""
    if hasattr(config, "workerinput"):                     # an xdist worker: the controller made them
        return
    from .helpers import SESSION_STORE, XLA_CACHE
    if not os.environ.get(SESSION_STORE):
        config._results_store = tempfile.mkdtemp(prefix="backprop-parity-session-")
        os.environ[SESSION_STORE] = config._results_store
    choice = os.environ.get(XLA_CACHE, "").strip()
    if choice == "off" or os.environ.get("JAX_COMPILATION_CACHE_DIR"):
        return                                             # no shared cache: the caller said so
    if not choice and CLI_CACHE is not None and writable(CLI_CACHE / "compiled"):   # else: nothing kept from before
        config._xla_trim = CLI_CACHE
        os.environ[XLA_CACHE] = choice = str(CLI_CACHE / "compiled")
    if not choice or choice == "session":
        config._xla_cache = tempfile.mkdtemp(prefix="backprop-parity-xla-")
        os.environ[XLA_CACHE] = choice = config._xla_cache
    os.environ["BACKPROP_PARITY_COMPILE_CACHE"] = os.path.abspath(os.path.expanduser(choice))


def writable(folder) -> bool:
    """The folder exists, or could be made, and takes a file (a read-only home leaves the tests a folder of their own)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder):
            return True
    except OSError:
        return False


def pytest_unconfigure(config):
    import shutil
    if getattr(config, "_xla_trim", None) is not None:     # the command line's folder: bounded as it bounds it
        cache.Store(config._xla_trim).trim()
        os.environ.pop("BACKPROP_PARITY_XLA_CACHE", None)
        os.environ.pop("BACKPROP_PARITY_COMPILE_CACHE", None)
    folder = getattr(config, "_xla_cache", None)
    if folder:
        shutil.rmtree(folder, ignore_errors=True)
        os.environ.pop("BACKPROP_PARITY_XLA_CACHE", None)
        os.environ.pop("BACKPROP_PARITY_COMPILE_CACHE", None)
    store = getattr(config, "_results_store", None)
    if store:
        from .helpers import SESSION_STORE
        shutil.rmtree(store, ignore_errors=True)
        os.environ.pop(SESSION_STORE, None)


def pytest_collection_modifyitems(config, items):
    """The costliest files first (a module's ``pytest.mark.cost(seconds)``; unmarked files after, as collected):
    pytest-xdist hands out whole files in this order (``--dist loadfile``, ``--no-loadscope-reorder``), so that
    the long files start while the other worker has short ones to run beside them, not at the end alone."""
    def cost(item):
        mark = item.get_closest_marker("cost")
        return -mark.args[0] if mark else 0
    items.sort(key=cost)                                  # stable: a file's tests keep their order


def pytest_report_header(config):
    return f"BACKPROP_PARITY_REQUIRE={os.environ.get('BACKPROP_PARITY_REQUIRE', '')!r}"


# --------------------------------------------------------------------------- a fake backend, for the honesty tests

FAKE_INFO = """
from backprop_parity.reference.registry import Backend, Style

BACKEND = Backend(name="fake", package={package!r}, title="A fake backend",
                  styles=(Style("first", "first", "the first style", "#117733", "s"),
                          Style("second", "second", "the second style", "#882255", "D")),
                  distributions=(), env={{"BACKPROP_PARITY_FAKE_ENV": "set"}},
                  sealed=False)   # a test double: it relabels the reference's numbers on purpose
"""

FAKE_BACKEND_HEAD = """
import os

from backprop_parity.reference import backend as RB
from backprop_parity.reference.contract import Trace


def functions(dtype=None):
    return RB.functions() if dtype is None else RB.functions(dtype)


def relabel(trace, style, values=None, missing=None):
    return Trace("fake", style, dict(trace.values) if values is None else values,
                 dict(trace.missing) if missing is None else missing, mapping={{"env": os.environ.get("BACKPROP_PARITY_FAKE_ENV", "")}})

"""


@pytest.fixture
def fake_backend(tmp_path, monkeypatch):
    """``install(backend_source)``: a backend named "fake" (styles first, second), registered for this test.

    ``backend_source`` is the body of its ``backend.py`` after a few helpers (``RB``: the reference's
    backend module, ``relabel(trace, style, values=None, missing=None)``); it must define ``STYLES``. The
    package lives in a temporary folder on sys.path, so worker processes import it too.
    """
    installed = []

    def install(backend_source: str):
        package = f"bp_fake_{uuid.uuid4().hex[:12]}"
        folder = tmp_path / package
        folder.mkdir()
        (folder / "__init__.py").write_text("", encoding="utf-8")
        (folder / "info.py").write_text(FAKE_INFO.format(package=package), encoding="utf-8")
        (folder / "backend.py").write_text(FAKE_BACKEND_HEAD.format() + textwrap.dedent(backend_source),
                                           encoding="utf-8")
        monkeypatch.syspath_prepend(str(tmp_path))
        monkeypatch.setattr(registry, "PACKAGES", registry.PACKAGES + (package,))
        installed.append(package)
        return registry.get("fake")

    yield install
    for package in installed:
        for name in [m for m in sys.modules if m == package or m.startswith(package + ".")]:
            del sys.modules[name]
        B._loaded.pop(package, None)
    for var, (value, owner) in list(B._env_owner.items()):
        if owner == "fake":
            del B._env_owner[var]
            os.environ.pop(var, None)


# --------------------------------------------------------------------------- tools (issue 5: the report)

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def require_tool(name: str, candidates, install_hint: str) -> str:
    """The path of an external program; skipped when absent, failed when BACKPROP_PARITY_REQUIRE names it."""
    import shutil
    for candidate in candidates:
        path = shutil.which(candidate)
        if path:
            return path
    if name in required():
        pytest.fail(f"{name} is not installed ({install_hint}) — and BACKPROP_PARITY_REQUIRE="
                    f"{os.environ['BACKPROP_PARITY_REQUIRE']} says this run must include it", pytrace=False)
    pytest.skip(f"{name} is not installed ({install_hint}); BACKPROP_PARITY_REQUIRE={name} makes this a failure")


@pytest.fixture(scope="session")
def chromium():
    """Headless Chromium for the report's render test (Debian: apt-get install chromium)."""
    return require_tool("chromium", CHROMIUM_NAMES, "Debian: apt-get install -y chromium")
