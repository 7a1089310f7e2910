"""Reused results: a backend's traces of a case, kept on disk and keyed by everything that made them.

``check`` computes every backend on every case; ``explain`` and ``report`` afterwards want the same
numbers. :class:`Store` keeps each (backend, case) result — the traces of every style, the effective
case the backend asked for, the framework's environment facts — in one file named by its key, a
SHA-256 of

* the case: its file's bytes and the loaded case itself (every array with its dtype and shape, the
  network, the hyper-parameters, the quantities) — so ``--dtype float32`` is another key;
* the project's source: every file of the reference, the reports and every registered backend
  package (any edit, a mutant, another checkout: another key);
* the versions of Python, NumPy and the backend's distributions (``Backend.distributions``, read
  from the installed metadata, never by importing a framework) and the machine;
* the switches that change what a framework computes: the backend's own ``env``, and every
  environment variable whose name starts with one of the backend's ``switches`` prefixes (TF_ —
  oneDNN's ``TF_ENABLE_ONEDNN_OPTS`` among them —, JAX_, XLA_, KERAS_ …) or with a thread-pool
  prefix (OMP_, MKL_, OPENBLAS_), set or unset.

Beside each case's results, the store keeps its comparison rows (``rows/``), keyed by the keys of every
backend's result they were made from and by the backends asked for, in order; they are read only when
every one of those results was read too (a result computed again gives rows computed again). A row's
array of more than ``cli.WRITTEN_NUMBERS`` numbers is a view of a trace's array (``compare.held``): it is
kept as the place it views (a trace, a key, an index), and viewed again in the traces read beside it.

Beside the rows, what the report writes of the case (its section of every page and file, ``files/``), under the
rows' key: ``check`` makes it, so that a report afterwards only writes it out.

What only the project's source decides (the marked lines ``reports/steps.py`` reads) is kept too, under
``derived/``, keyed by the source digest.

A key that differs is a miss: the result is recomputed and stored. A result is stored only when every
style produced a trace (never a NOT RUN, ERROR or failed style: those are retried). An entry that
cannot be read is a miss. ``--fresh`` (``Store(fresh=True)``) reads nothing and writes what it computed.

Beside the results, the folder ``compiled/`` is offered to the workers (``BACKPROP_PARITY_COMPILE_CACHE``)
for a framework's own compiled programs: JAX keeps its persistent compilation cache there (keyed by
XLA itself by the program, jax/jaxlib and flags), so a case whose results changed still loads the
programs it compiled before. A ``BACKPROP_PARITY_COMPILE_CACHE`` already in the environment is used instead
(the tests name theirs). ``--fresh`` offers none.

Where: ``$BACKPROP_PARITY_CACHE`` (a folder; ``off`` for no reuse at all), else
``$XDG_CACHE_HOME/backprop-parity``, else ``~/.cache/backprop-parity``. Only the command line uses a
store: the tests and the mutants call ``run.compute`` without one, so they never read it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import pickle
import platform
import sys
import tempfile
from functools import lru_cache
from importlib import metadata
from pathlib import Path

import numpy as np

from backprop_parity.reference import registry

ENV = "BACKPROP_PARITY_CACHE"
COMPILE_ENV = "BACKPROP_PARITY_COMPILE_CACHE"
FORMAT = "1"                                   # bump when what an entry holds changes
COMMON_SWITCHES = ("OMP_", "MKL_", "OPENBLAS_", "NPY_")
SOURCE_SUFFIXES = (".py", ".toml")
MAX_BYTES = 512 * 2 ** 20                      # the folder is trimmed (oldest read first) past this


def default_root() -> Path | None:
    """The cache folder, or None when ``BACKPROP_PARITY_CACHE=off``."""
    chosen = os.environ.get(ENV, "").strip()
    if chosen.lower() in ("off", "0", "none", "no"):
        return None
    if chosen:
        return Path(chosen).expanduser()
    base = os.environ.get("XDG_CACHE_HOME", "").strip() or str(Path.home() / ".cache")
    return Path(base) / "backprop-parity"


# --------------------------------------------------------------------------- the key

def _numbers(x: list) -> np.ndarray | None:
    """A (nested) list of plain numbers as one float64 array, or None (anything else, or ragged): a comparison
    row's 1 797 × 10 values hash in one call instead of 18 000 (a 3-minute report of the digits case)."""
    first = x[0]
    while isinstance(first, list) and first:
        first = first[0]
    if not isinstance(first, (float, int)) or isinstance(first, bool):
        return None
    try:
        a = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return a if a.ndim >= 1 else None


def _feed(h, x, fields: dict | None = None) -> None:
    """A canonical byte stream of ``x`` into the hash: the same value gives the same bytes in every
    process (sets sorted, dicts in order, arrays by dtype, shape and bytes). ``fields``: values fed in place of
    those of a dataclass ``x``'s fields of those names."""
    if isinstance(x, np.ndarray):
        a = np.ascontiguousarray(x)
        h.update(f"nd{a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes() if a.dtype != object else repr(a.tolist()).encode())
    elif isinstance(x, np.generic):
        h.update(f"np{x.dtype.str}".encode() + x.tobytes())
    elif dataclasses.is_dataclass(x) and not isinstance(x, type):
        h.update(f"dc{type(x).__module__}.{type(x).__qualname__}(".encode())
        for f in dataclasses.fields(x):
            h.update(f.name.encode() + b"=")
            _feed(h, fields[f.name] if fields and f.name in fields else getattr(x, f.name))
        h.update(b")")
    elif isinstance(x, dict):
        h.update(b"{")
        for k, v in x.items():
            _feed(h, k)
            h.update(b":")
            _feed(h, v)
        h.update(b"}")
    elif isinstance(x, list) and len(x) > 16 and _numbers(x) is not None:   # a matrix as lists: its bytes at once
        a = _numbers(x)
        h.update(f"ln{a.shape}".encode())
        h.update(a.tobytes())
    elif isinstance(x, (list, tuple)):
        h.update(b"[" if isinstance(x, list) else b"(")
        for v in x:
            _feed(h, v)
            h.update(b",")
        h.update(b"]")
    elif isinstance(x, (set, frozenset)):
        h.update(b"set")
        _feed(h, sorted(x, key=repr))
    elif callable(x) and not hasattr(x, "__dataclass_fields__"):   # a function: by name, never by address
        h.update(f"fn{getattr(x, '__module__', '')}.{getattr(x, '__qualname__', type(x).__qualname__)};".encode())
    elif isinstance(x, (str, bytes, int, float, bool, type(None), Path)):
        h.update(f"{type(x).__name__}:{x!r};".encode())
    elif hasattr(x, "__dict__"):               # an activation or loss record: by its class and fields
        h.update(f"obj{type(x).__module__}.{type(x).__qualname__}".encode())
        _feed(h, {k: v for k, v in vars(x).items() if not callable(v)})
    else:
        h.update(f"{type(x).__qualname__}:{x!r};".encode())


def case_digest(case) -> str:
    """The case file's bytes and the case as loaded (every array it read). Of its path only the file's name: the
    same file in another folder or another clone of the project is the same case."""
    h = hashlib.sha256(b"case")
    path = getattr(case, "path", None)
    try:
        h.update(Path(path).read_bytes() if path is not None else b"(no file)")
    except OSError:
        h.update(b"(file unreadable)")
    _feed(h, case, {"path": Path(path).name} if path is not None else None)
    return h.hexdigest()


def _package_folders() -> list[Path]:
    folders = {Path(__file__).resolve().parent}                       # reports
    for b in registry.entries():
        d = registry.package_dir(b.package)
        if d is not None:
            folders.add(d.resolve())
    return sorted(folders)


@lru_cache(maxsize=1)
def source_digest() -> str:
    """SHA-256 of every source and data file of the project's packages (names and bytes)."""
    h = hashlib.sha256(b"source")
    for folder in _package_folders():
        for p in sorted(folder.rglob("*")):
            if p.suffix in SOURCE_SUFFIXES and p.is_file() and "__pycache__" not in p.parts:
                h.update(f"{folder.name}/{p.relative_to(folder).as_posix()}\0".encode())
                h.update(p.read_bytes())
    return h.hexdigest()


@lru_cache(maxsize=None)
def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "-"


def backend_facts(backend) -> dict:
    """What besides the case and the source makes ``backend``'s numbers: versions, machine, switches."""
    from .worker import worker_environ
    prefixes = tuple(backend.switches) + COMMON_SWITCHES
    # a framework computes in a worker, whose environment holds thread counts the parent's may not
    environ = os.environ if backend.name == registry.reference().name else worker_environ()
    # the folder of compiled programs (COMPILE_ENV) is no switch: XLA keys what it keeps there by the program itself
    switches = {k: v for k, v in environ.items() if k.startswith(prefixes) and k != COMPILE_ENV}
    switches.update(backend.env)
    return {"python": sys.version, "ndarray": np.__version__, "machine": platform.machine(),
            "platform": platform.platform(), "versions": {d: _version(d) for d in backend.distributions},
            "switches": dict(sorted(switches.items())), "backend": backend.name, "package": backend.package}


def key(backend, case, digest: str | None = None) -> str:
    """``digest``: ``case_digest(case)`` when already known (a case is hashed once for every backend)."""
    h = hashlib.sha256(f"backprop-parity cache {FORMAT}".encode())
    _feed(h, backend_facts(backend))
    h.update(source_digest().encode())
    h.update((digest or case_digest(case)).encode())
    return h.hexdigest()


# --------------------------------------------------------------------------- the store

def _write(path: Path, data: bytes) -> None:
    """``data`` into ``path``, whole or not at all (a temporary file renamed); a store that cannot be
    written only costs time, so nothing is raised."""
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except OSError:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


@dataclasses.dataclass
class Entry:
    """One backend's result on one case, as ``run.compute`` uses it."""

    traces: list                      # [Trace] per style
    effective: tuple | None           # (effective case, note) the backend asked for, or None
    environment: dict | None          # the framework's worker facts (None: computed in the parent)


class Store:
    """Results on disk under ``root``; ``fresh``: read nothing (still write)."""

    def __init__(self, root: Path | str | None = None, fresh: bool = False):
        self.root = Path(root) if root is not None else default_root()
        self.fresh = fresh
        self.reused: dict = {}        # backend -> number of cases read from the store in this run
        self.computed: dict = {}      # backend -> number of cases computed (and offered to the store)
        self.rows_reused = 0          # cases whose comparison rows were read
        self._keys: dict = {}         # (backend, id(case)) -> (case, key); ("", id(case)) -> (case, its digest)

    @property
    def enabled(self) -> bool:
        return self.root is not None

    def key(self, backend, case) -> str:
        found = self._keys.get((backend.name, id(case)))
        if found is None or found[0] is not case:
            digest = self._keys.get(("", id(case)))
            if digest is None or digest[0] is not case:
                digest = self._keys["", id(case)] = (case, case_digest(case))
            found = self._keys[backend.name, id(case)] = (case, key(backend, case, digest[1]))
        return found[1]

    def _file(self, backend, case) -> Path:
        return self.root / backend.name / f"{self.key(backend, case)}.pickle"

    def get(self, backend, case) -> Entry | None:
        if not self.enabled or self.fresh:
            return None
        path = self._file(backend, case)
        try:
            with open(path, "rb") as f:
                entry = pickle.load(f)
            os.utime(path)            # read recently: trimmed last
        except Exception:             # absent, torn, from another format: a miss, never an error
            return None
        if not isinstance(entry, Entry):
            return None
        self.reused[backend.name] = self.reused.get(backend.name, 0) + 1
        return entry

    def put(self, backend, case, entry: Entry) -> None:
        from backprop_parity.reference.contract import Trace
        self.computed[backend.name] = self.computed.get(backend.name, 0) + 1
        if not self.enabled or not entry.traces or not all(isinstance(t, Trace) for t in entry.traces):
            return
        try:
            data = pickle.dumps(entry, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:             # what cannot be pickled is not kept (it is still used in this run)
            return
        _write(self._file(backend, case), data)

    def _rows_file(self, backends: list, case, part: str = "rows") -> Path:
        h = hashlib.sha256(f"backprop-parity rows {FORMAT}".encode())
        _feed(h, list(backends))
        for name in dict.fromkeys([registry.reference().name, *backends]):
            h.update(self.key(registry.get(name), case).encode())
        return self.root / part / f"{h.hexdigest()}.pickle"

    def get_rows(self, backends: list, case, traces: list) -> list | None:
        """The comparison rows of ``case`` made from ``traces`` (those of ``backends``, in order, every one read
        from this store), or None."""
        if not self.enabled or self.fresh:
            return None
        path = self._rows_file(backends, case)
        try:
            with open(path, "rb") as f:
                rows = _unshared(pickle.load(f), traces)
            os.utime(path)
        except Exception:             # absent, torn, another format, a place not in these traces: a miss
            return None
        self.rows_reused += 1
        return rows

    def put_rows(self, backends: list, case, traces: list, rows: list) -> None:
        """Keep the rows made from ``traces``; only when every trace is a result (as ``put``)."""
        from backprop_parity.reference.contract import Trace
        if not self.enabled or not traces or not all(isinstance(t, Trace) for t in traces):
            return
        try:
            data = pickle.dumps(_shared(rows, traces), protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:
            return
        if len(data) <= ROWS_MAX_BYTES:
            _write(self._rows_file(backends, case), data)

    def get_files(self, backends: list, case):
        """What the report writes of ``case`` (``report.CaseFiles``), made from the rows under the same key; None when
        absent. Read only by a run that read those rows (``Results.kept``)."""
        if not self.enabled or self.fresh:
            return None
        path = self._rows_file(backends, case, "files")
        try:
            with open(path, "rb") as f:
                found = pickle.load(f)
            os.utime(path)
        except Exception:
            return None
        return found

    def has_files(self, backends: list, case) -> bool:
        return self.enabled and not self.fresh and self._rows_file(backends, case, "files").is_file()

    def put_files(self, backends: list, case, traces: list, files) -> None:
        from backprop_parity.reference.contract import Trace
        if not self.enabled or not traces or not all(isinstance(t, Trace) for t in traces):
            return
        try:
            data = pickle.dumps(files, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:
            return
        _write(self._rows_file(backends, case, "files"), data)

    def worker_env(self) -> dict:
        """What a worker is told about the store: ``BACKPROP_PARITY_COMPILE_CACHE``, a folder where a
        framework may keep its own compiled programs (JAX's persistent compilation cache; a framework
        keys them itself). Not part of any result's key: it changes how fast, never what is computed.
        A folder the environment names already (the tests' one for the whole session, conftest) is kept:
        the store's own is for the command line. ``--fresh`` gives an empty value: no folder at all."""
        if self.fresh:
            return {COMPILE_ENV: ""}  # --fresh: nothing made earlier is used, compiled programs included
        if not self.enabled:
            return {}
        return {COMPILE_ENV: os.environ.get(COMPILE_ENV, "").strip() or str(self.root / "compiled")}

    def trim(self, limit: int = MAX_BYTES) -> None:
        """Delete the least recently used entries while the folder holds more than ``limit`` bytes."""
        if not self.enabled or not self.root.is_dir():
            return
        try:
            files = [(p.stat().st_mtime, p.stat().st_size, p) for p in self.root.rglob("*") if p.is_file()]
        except OSError:
            return
        total = sum(s for _, s, _ in files)
        for _, size, p in sorted(files):
            if total <= limit:
                break
            try:
                p.unlink()
                total -= size
            except OSError:
                pass

    def summary(self) -> str:
        """One line: what was reused and what was computed, per backend."""
        if not self.enabled:
            return f"results not reused ({ENV}=off)"
        names = [b for b in registry.names() if b in self.reused or b in self.computed]
        parts = [f"{b} {self.reused.get(b, 0)} reused, {self.computed.get(b, 0)} computed" for b in names]
        if self.rows_reused:
            parts.append(f"the comparisons of {self.rows_reused} case(s) reused")
        how = " (--fresh: nothing read)" if self.fresh else ""
        return f"results{how}: " + "; ".join(parts) + f" — kept in {self.root}"


# --------------------------------------------------------------------------- what only the source makes

def derived(what: tuple, make):
    """``make()``, a value that only the project's source and ``what`` decide (the marked lines of a backend's
    files: tokenizing and parsing them is half a second of every report), kept in the store under a key of
    both; computed when reuse is off (the tests: nothing written either), after ``--fresh`` (then written) or when
    the entry cannot be read."""
    root = default_root()
    if root is None:
        return make()
    return _kept(root, what, make, read=root not in _NOT_READ)


_NOT_READ: set = set()            # store folders a --fresh run reads nothing from (derived values included)


def _kept(root: Path, what: tuple, make, read: bool):
    h = hashlib.sha256(f"backprop-parity derived {FORMAT}".encode())
    h.update(source_digest().encode())
    _feed(h, what)
    path = root / "derived" / f"{h.hexdigest()}.pickle"
    if read:
        try:
            with open(path, "rb") as f:
                return pickle.load(f)
        except Exception:
            pass
    value = make()
    with contextlib.suppress(Exception):
        _write(path, pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))
    return value


# --------------------------------------------------------------------------- rows whose arrays are a trace's

ROWS_MAX_BYTES = 64 * 2 ** 20     # rows holding more of their own (float32 digits: arrays made, not viewed) are not kept


@dataclasses.dataclass(frozen=True)
class _Place:
    """Where a row's large array lives: traces[trace], its ``part`` ("values" or "evaluated"), then keys and indexes."""

    trace: int
    part: str
    path: tuple


def _signature(a: np.ndarray) -> tuple:
    return a.__array_interface__["data"][0], a.shape, a.strides, a.dtype.str


def _places(traces: list) -> dict:
    """{array signature: _Place} of every array in the traces' values and evaluated outcomes."""
    found: dict = {}
    for i, t in enumerate(traces):
        for part in ("values", "evaluated"):
            todo = [((k,), v) for k, v in getattr(t, part).items()]
            while todo:
                path, v = todo.pop()
                if isinstance(v, np.ndarray):
                    found.setdefault(_signature(v), _Place(i, part, path))
                elif isinstance(v, (list, tuple)):
                    todo += [(path + (j,), x) for j, x in enumerate(v)]
                elif isinstance(v, dict):
                    todo += [(path + (k,), x) for k, x in v.items()]
    return found


ARRAY_FIELDS = ("expected", "actual", "tolerance")


def _shared(rows: list, traces: list) -> list:
    """The rows with each array that views a trace's array replaced by its _Place (copies; the rows are untouched)."""
    places = None
    out = []
    for r in rows:
        swap = {}
        for name in ARRAY_FIELDS:
            v = getattr(r, name, None)
            if isinstance(v, np.ndarray):
                places = _places(traces) if places is None else places
                if _signature(v) in places:
                    swap[name] = places[_signature(v)]
        out.append(dataclasses.replace(r, **swap) if swap else r)
    return out


def _unshared(rows: list, traces: list) -> list:
    """The rows as made: each _Place viewed again (read-only) in ``traces``."""
    for r in rows:
        for name in ARRAY_FIELDS:
            v = getattr(r, name, None)
            if isinstance(v, _Place):
                x = getattr(traces[v.trace], v.part)
                for k in v.path:
                    x = x[k]
                view = np.asarray(x).view()
                view.flags.writeable = False
                setattr(r, name, view)
    return rows


# --------------------------------------------------------------------------- the command line's side

def add_arguments(p) -> None:
    """``--fresh`` for check, report and explain."""
    p.add_argument("--fresh", action="store_true",
                   help=f"compute everything again: read no reused result (still store what is computed; "
                        f"{ENV}=off turns reuse off)")


def from_args(args) -> Store:
    store = Store(fresh=bool(getattr(args, "fresh", False)))
    if store.fresh and store.enabled:
        _NOT_READ.add(store.root)
    return store


def finish(store: Store, quiet: bool) -> None:
    """After a run: keep the folder within its size, and say on stderr what was reused."""
    store.trim()
    if not quiet:
        from backprop_parity.reports.text import wrapped
        print(wrapped(store.summary(), file=sys.stderr), file=sys.stderr, flush=True)
