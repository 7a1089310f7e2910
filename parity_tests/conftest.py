"""Shared fixtures for the parity tests.

Optional frameworks: a test that needs torch or TensorFlow calls
``require_backend("torch")`` (or uses the ``torch_backend`` / ``tf_backend``
fixtures). Without the framework the test is skipped with the import error as
the reason — unless the environment variable BACKPROP_PARITY_REQUIRE names the
backend (CI sets ``BACKPROP_PARITY_REQUIRE=torch,tf``), in which case the
missing framework is a failure: a CI run in which the torch or TF tests were
skipped must not pass.
"""

from __future__ import annotations

import os

import pytest

from backprop_parity.reports import backends as B


def required() -> set[str]:
    return {s.strip() for s in os.environ.get("BACKPROP_PARITY_REQUIRE", "").split(",") if s.strip()}


def require_backend(name: str):
    try:
        return B.load(name)
    except B.BackendUnavailable as exc:
        if name in required():
            pytest.fail(f"{exc} — and BACKPROP_PARITY_REQUIRE={os.environ['BACKPROP_PARITY_REQUIRE']} "
                        f"says this run must include it", pytrace=False)
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def torch_backend():
    return require_backend("torch")


@pytest.fixture(scope="session")
def tf_backend():
    require_backend("torch")    # import order: torch before tensorflow, when both exist
    return require_backend("tf")


def pytest_report_header(config):
    return f"BACKPROP_PARITY_REQUIRE={os.environ.get('BACKPROP_PARITY_REQUIRE', '')!r}"


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
