"""Backends by name (from the registry, ``reference/registry.py``): select them, load one, run one here.

``check``, ``report`` and ``explain`` do not run a framework in their own process: each
framework runs in its own worker process (``reports/worker.py``, driven by
``reports/run.py``), which calls :func:`run` there. The reference runs in the parent. In
this process, :func:`load` and :func:`run` are what a worker — or a test about one
framework — uses.

A framework that is not installed gives a "NOT RUN" row (a failure) with the import error as
the reason — never a silent skip.
"""

from __future__ import annotations

import importlib
import os
import time
from collections.abc import Mapping

from backprop_parity.reference import registry
from backprop_parity.reference.contract import Trace
from backprop_parity.reference.trace import trace_case

from .compare import Comparison, not_run


class BackendUnavailable(RuntimeError):
    pass


class _StyleNames(Mapping):
    """{backend: [style, …]} read from the registry on every access (kept for the framework tests)."""

    def __getitem__(self, name):
        try:
            return list(registry.get(name).style_names)
        except registry.UnknownBackend:
            raise KeyError(name) from None

    def __iter__(self):
        return iter(registry.names())

    def __len__(self):
        return len(registry.names())


STYLE_NAMES = _StyleNames()

_loaded: dict = {}        # package -> its backend module, in this process
_env_owner: dict = {}     # environment variable -> (value, backend) applied in this process by load()


def selected(spec: str) -> list[str]:
    """Backend names from ``--backend`` (``all`` or a comma list), in the registry's order."""
    order = list(registry.names())
    if spec == "all":
        return order
    names = [s.strip() for s in spec.split(",") if s.strip()]
    for n in names:
        if n not in order:
            raise ValueError(f"unknown backend {n!r} (known: {', '.join(order)}, all)")
    if not names:
        raise ValueError(f"no backend named (known: {', '.join(order)}, all)")
    return sorted(set(names), key=order.index)


def selected_with_reference(spec: str) -> list[str]:
    """``selected(spec)``, with the reference always first: every comparison needs it."""
    names = selected(spec)
    ref = registry.reference().name
    return names if ref in names else [ref] + names


def _apply_env(backend) -> None:
    """Set the backend's environment variables before its package is imported here.

    Two backends that need different values of one variable (Keras 3 reads KERAS_BACKEND once,
    at import) cannot share a process: the second is unavailable here, said plainly.
    """
    for var, value in backend.env.items():
        owner = _env_owner.get(var)
        if owner is not None and owner[0] != value:
            raise BackendUnavailable(
                f"the {backend.name} backend needs {var}={value} before its framework is imported, but this "
                f"process already loaded the {owner[1]} backend with {var}={owner[0]}: they cannot share a "
                f"process (check, report and explain run each backend in its own worker process)")
    for var, value in backend.env.items():
        os.environ[var] = value
        _env_owner[var] = (value, backend.name)


def load_backend(backend):
    """The ``backend`` module of a registered :class:`~reference.registry.Backend`, imported here."""
    if backend.package not in _loaded:
        _apply_env(backend)
        try:
            _loaded[backend.package] = importlib.import_module(f"{backend.package}.backend")
        except ImportError as exc:
            raise BackendUnavailable(f"the {backend.name} backend cannot be imported here: {exc}. "
                                     f"{install_hint(backend)}") from None
    return _loaded[backend.package]


def install_hint(backend) -> str:
    """How to install a backend's framework: the project's extra of the same name, else its distributions."""
    from importlib import metadata
    try:
        extras = metadata.metadata("backprop-parity").get_all("Provides-Extra") or []
    except metadata.PackageNotFoundError:
        extras = []
    if backend.name in extras:
        return f"Install it with: pip install 'backprop-parity[{backend.name}]' (or pip install -e '.[{backend.name}]' in a clone)"
    if backend.distributions:
        return f"Install it with: pip install {' '.join(backend.distributions)}"
    return "Install its framework"


def load(name: str):
    """The backend module of the backend called ``name``, imported in this process."""
    try:
        backend = registry.get(name)
    except registry.UnknownBackend as exc:
        raise ValueError(str(exc)) from None
    return load_backend(backend)


def failed_row(case, backend: str, style: str, reason: str) -> Comparison:
    return Comparison(case.name, "*", "backend failed", backend, style, "reference",
                      passed=False, status="ERROR", reason=reason)


def run_loaded(case, backend, module) -> list:
    """One Trace per style of an imported backend module on ``case`` (an ERROR row for a style that raised)."""
    out = []
    dtype = case.net.dtype if case.net is not None else None
    styles = dict(module.STYLES)
    for style, fn in styles.items():
        start = time.perf_counter()
        try:
            trace = fn(case) if callable(fn) else trace_case(backend.name, style, fn, case,
                                                              getattr(module, "NOTES", None))
        except Exception as exc:  # a backend bug must show up as a failed row, with its message
            out.append(failed_row(case, backend.name, style, f"{type(exc).__name__}: {exc}"))
            continue
        trace.seconds = time.perf_counter() - start
        trace.functions = module.functions(dtype) if dtype is not None else module.functions()
        out.append(trace)
    for style in backend.style_names:          # declared in info.py, absent from backend.STYLES
        if style not in styles:
            out.append(failed_row(case, backend.name, style,
                                  f"{backend.package}.info declares the style {style!r}, but "
                                  f"{backend.package}.backend.STYLES has no such style"))
    return out


def run(case, name: str) -> list:
    """One Trace per style of the backend ``name`` on ``case``, computed in this process
    (or one NOT RUN row per declared style when it cannot be imported here)."""
    backend = registry.get(name)
    try:
        module = load_backend(backend)
    except BackendUnavailable as exc:
        return [not_run(case, name, s, str(exc)) for s in backend.style_names]
    return run_loaded(case, backend, module)


__all__ = ["Trace", "run", "run_loaded", "load", "load_backend", "selected", "selected_with_reference",
           "BackendUnavailable", "STYLE_NAMES"]
