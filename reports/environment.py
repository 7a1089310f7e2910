"""What the numbers were computed with: versions, dtype, oneDNN, threads, time per backend.

Versions are read from the modules that actually ran when they are loaded (so the
report names what computed the numbers), otherwise from the installed package
metadata, otherwise "not installed". Nothing here imports a framework that the
run did not load (importing TensorFlow just to print its version would take
seconds and could change the thread settings being reported).
"""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata

import numpy as np

THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "TF_NUM_INTRAOP_THREADS",
                    "TF_NUM_INTEROP_THREADS")


def _dist_version(*names) -> str | None:
    for n in names:
        try:
            return metadata.version(n)
        except metadata.PackageNotFoundError:
            continue
    return None


def _version(module_name: str, *dists) -> str:
    module = sys.modules.get(module_name)
    if module is not None and getattr(module, "__version__", None):
        return f"{module.__version__} (loaded)"
    v = _dist_version(*dists)
    return f"{v} (installed, not loaded by this run)" if v else "not installed"


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


def _onednn() -> str:
    env = os.environ.get("TF_ENABLE_ONEDNN_OPTS")
    env_text = f"TF_ENABLE_ONEDNN_OPTS={env!r}" if env is not None else "TF_ENABLE_ONEDNN_OPTS unset"
    tf_impl = sys.modules.get("tf_impl")
    if tf_impl is None:
        return f"{env_text} (TensorFlow not loaded by this run)"
    note = getattr(tf_impl, "onednn_note", None)
    if callable(note):
        return f"{note()} — now: {env_text}"
    state = getattr(tf_impl, "ONEDNN_ENABLED", None)
    return f"{env_text}; TensorFlow reports oneDNN {'on' if state else 'off' if state is False else 'unknown'}"


def _torch_threads() -> str:
    torch = sys.modules.get("torch")
    if torch is None:
        return "torch not loaded"
    return f"intra-op {torch.get_num_threads()}, inter-op {torch.get_num_interop_threads()}"


def _tf_threads() -> str:
    tf = sys.modules.get("tensorflow")
    if tf is None or not hasattr(tf, "config"):
        return "TensorFlow not loaded"
    t = tf.config.threading
    intra, inter = t.get_intra_op_parallelism_threads(), t.get_inter_op_parallelism_threads()
    show = lambda n: f"{n}" if n else "0 (TensorFlow's default: chosen by the runtime)"  # noqa: E731
    return f"intra-op {show(intra)}, inter-op {show(inter)}"


def collect(dtype: str) -> list[tuple[str, str]]:
    """(name, value) pairs, in display order."""
    try:
        cpus = f"{os.cpu_count()} (usable by this process: {len(os.sched_getaffinity(0))})"
    except AttributeError:
        cpus = str(os.cpu_count())
    thread_env = ", ".join(f"{v}={os.environ[v]}" for v in THREAD_VARIABLES if v in os.environ) or "none set"
    return [
        ("Python", f"{platform.python_version()} ({platform.python_implementation()}, {platform.system()} "
                   f"{platform.machine()})"),
        ("NumPy", f"{np.__version__} (BLAS: {_blas()})"),
        ("PyTorch", _version("torch", "torch")),
        ("TensorFlow", _version("tensorflow", "tensorflow-cpu", "tensorflow")),
        ("Keras", _version("keras", "keras")),
        ("pandas / matplotlib", f"{_dist_version('pandas') or '?'} / {_dist_version('matplotlib') or '?'}"),
        ("dtype", dtype),
        ("oneDNN", _onednn()),
        ("CPUs", cpus),
        ("BLAS / OpenMP threads", _numpy_threads()),
        ("torch threads", _torch_threads()),
        ("TensorFlow threads", _tf_threads()),
        ("thread variables", thread_env),
    ]


def times(results) -> dict:
    """{(backend, style): seconds} summed over the cases (as measured by reports.backends.run)."""
    out: dict = {}
    for _, traces, _ in results:
        for t in traces:
            if hasattr(t, "values"):
                out[(t.backend, t.style)] = out.get((t.backend, t.style), 0.0) + float(t.seconds)
    return out
