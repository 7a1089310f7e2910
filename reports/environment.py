"""What the numbers were computed with: versions, dtype, threads, time per backend.

Each framework runs in its own worker process (``reports/worker.py``); the worker reports
the facts of the framework as it loaded it (:func:`worker_facts`): the versions of the
distributions its registry entry lists (``Backend.distributions``), read from the modules it
loaded, and whatever the backend itself adds through an optional ``environment()`` function
(in ``<package>.backend``, else in ``<package>.info``): threads, oneDNN … A backend that did
not run is reported from the installed package metadata ("installed, not loaded by this
run") or as "not installed". Nothing here imports a framework (importing one just to print
its version would take seconds and could change the thread settings being reported).
"""

from __future__ import annotations

import os
import platform
import re
import sys
from importlib import metadata

import numpy as np

from backprop_parity.reference import registry

THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def _dist_version(*names) -> str | None:
    for n in names:
        try:
            return metadata.version(n)
        except metadata.PackageNotFoundError:
            continue
    return None


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def _import_names(dist: str) -> list[str]:
    """The top-level modules a distribution installs, the one named like it first."""
    try:
        text = metadata.distribution(dist).read_text("top_level.txt")
    except metadata.PackageNotFoundError:
        return []
    if text:
        names = text.split()
    else:
        names = [m for m, dists in metadata.packages_distributions().items()
                 if _normal(dist) in {_normal(d) for d in dists}]
    return sorted(names, key=lambda m: (not _normal(dist).startswith(_normal(m)), m))


def versions(backend, loaded: bool) -> list[tuple[str, str]]:
    """(name, version) of each installed distribution of a backend; (title, "not installed") when none is.

    ``loaded``: called in the process that ran the backend, so a loaded module's own version wins."""
    out = []
    for dist in backend.distributions:
        v = _dist_version(dist)
        if v is None:
            continue
        text = f"{v} (installed, not loaded by this run)"
        if loaded:
            text = f"{v} (installed; no module of it loaded)"
            for name in _import_names(dist):
                module = sys.modules.get(name)
                if module is not None:
                    text = f"{getattr(module, '__version__', None) or v} (loaded)"
                    break
        out.append((f"{backend.title}: {dist}", text))
    if backend.distributions and not out:
        out.append((backend.title, f"not installed ({', '.join(backend.distributions)})"))
    return out


def worker_facts(backend, module) -> dict:
    """{"versions": [(name, value)], "facts": [(name, value)]} of a backend, in the process that ran it."""
    facts = []
    hook = getattr(module, "environment", None)
    if not callable(hook):
        hook = getattr(registry.info_module(backend.package), "environment", None)
    if callable(hook):
        try:
            facts = [(str(k), str(v)) for k, v in hook()]
        except Exception as exc:        # a fact we cannot read is said, never fatal
            facts = [(backend.title, f"environment() failed: {type(exc).__name__}: {exc}")]
    return {"versions": versions(backend, loaded=True), "facts": facts}


def _blas() -> str:
    try:
        cfg = np.show_config(mode="dicts")
        blas = cfg.get("Build Dependencies", {}).get("blas", {})
        return f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
    except Exception:   # numpy's config format is not an API
        return "unknown"


def _numpy_threads() -> str:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "threadpoolctl not installed: BLAS threads unknown (see the environment variables)"
    pools = []
    for p in threadpool_info():
        text = f"{p.get('prefix') or p.get('internal_api')} ({p.get('internal_api')}): {p.get('num_threads')}"
        if text not in pools:
            pools.append(text)
    return "; ".join(pools) or "no thread pool"


def collect(dtype: str, backend_facts: dict | None = None) -> list[tuple[str, str]]:
    """(name, value) pairs, in display order. ``backend_facts``: {backend: worker_facts(...)} of the
    backends this run started in worker processes."""
    backend_facts = backend_facts or {}
    try:
        cpus = f"{os.cpu_count()} (usable by this process: {len(os.sched_getaffinity(0))})"
    except AttributeError:
        cpus = str(os.cpu_count())
    thread_env = ", ".join(f"{v}={os.environ[v]}" for v in THREAD_VARIABLES if v in os.environ) or "none set"
    from .worker import worker_environ
    workers = worker_environ()
    thread_env += ("; in each framework's worker: "
                   + ", ".join(f"{v}={workers[v]}" for v in THREAD_VARIABLES if v in workers))
    entries = registry.entries()
    out = [
        ("Python", f"{platform.python_version()} ({platform.python_implementation()}, {platform.system()} "
                   f"{platform.machine()})"),
        ("NumPy", f"{np.__version__} (BLAS: {_blas()})"),
    ]
    for b in entries:
        found = backend_facts.get(b.name)
        out += found["versions"] if found else versions(b, loaded=False)
    out += [
        ("pandas", _dist_version("pandas") or "?"),
        ("dtype", dtype),
        ("CPUs", cpus),
        ("BLAS / OpenMP threads", _numpy_threads()),
        ("thread variables", thread_env),
    ]
    for b in entries:
        found = backend_facts.get(b.name)
        out += found["facts"] if found else []
    return out


def times(results) -> dict:
    """{(backend, style): seconds} summed over the cases (as measured by reports.backends.run)."""
    out: dict = {}
    for _, traces, _ in results:
        for t in traces:
            if hasattr(t, "values"):
                out[(t.backend, t.style)] = out.get((t.backend, t.style), 0.0) + float(t.seconds)
    return out
