"""One backend in its own process: the worker that computes a framework's traces, and its parent's side.

Frameworks do not share a process: torch never runs next to TensorFlow, and Keras 3 picks its
backend once, at import (``KERAS_BACKEND`` must be set before ``keras`` is imported). So
``check``, ``report`` and ``explain`` start one worker process per framework backend
(:func:`run_in_worker`, called by ``reports/run.py``), side by side, and compare in the
parent. The worker

1. starts with the backend's environment variables (``Backend.env``) already set, and the
   parent's ``sys.path``, so it imports exactly what the parent would;
2. imports ``<package>.backend`` (an ImportError: the backend is unavailable — NOT RUN rows);
3. for each case: runs every style (:func:`reports.backends.run_loaded`), evaluates every
   ``of`` / ``formula`` expression of the case on each trace with that trace's own functions
   (``trace.evaluated``: :func:`reports.compare.evaluate_quantities`), drops the functions
   (lambdas do not travel), asks the backend for its effective case
   (``effective_case(case)``, ``EFFECTIVE_NOTE``) and sends the lot back, pickled;
4. sends the environment facts of the framework as it loaded it (``reports/environment.py``).

The channel is the worker's standard output, one pickled record at a time; whatever the
backend itself prints goes to standard error, which the parent relays line by line. A worker
that dies keeps what it sent: the cases it did not finish become ERROR rows.
"""

from __future__ import annotations

import contextlib
import functools
import os
import pickle
import re
import subprocess
import sys
import threading
from collections import deque
from dataclasses import dataclass, field

# The worker starts with -c: sys.path is the parent's before anything of the project is imported.
BOOTSTRAP = ("import pickle, sys; sys.path[:] = pickle.load(sys.stdin.buffer); "
             "from backprop_parity.reports.worker import serve; serve()")
STDERR_TAIL = 12

# Each framework worker computes on one thread, unless the environment sets a thread count itself. The workers run
# side by side (three frameworks, and the reference in the parent) on a machine's few cores, and each framework
# sizes its own thread pools for the whole machine: on 2 cores a cold ``check`` then spent 202 s of CPU in 112 s,
# and with one thread each 118 s in 70 s, every number within its bound. The networks are small: one thread
# loses nothing a second would have gained. ``backprop-parity bench``'s step timings run outside these workers.
THREADS = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
           "TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1"}
XLA_ONE_THREAD = "--xla_cpu_multi_thread_eigen=false"      # XLA's CPU matrix kernels on the calling thread


def worker_environ(environ=None) -> dict:
    """The environment a framework worker starts from: ``environ`` (default ``os.environ``) with every thread count
    it leaves unset at 1 (``THREADS``; XLA_FLAGS gets ``XLA_ONE_THREAD`` unless it names that flag). The store keys
    each framework's results by it (``cache.backend_facts``)."""
    out = dict(os.environ if environ is None else environ)
    for name, value in THREADS.items():
        out.setdefault(name, value)
    flags = out.get("XLA_FLAGS", "")
    if XLA_ONE_THREAD.split("=")[0] not in flags:
        out["XLA_FLAGS"] = f"{flags} {XLA_ONE_THREAD}".strip()
    return out


# --------------------------------------------------------------------------- the parent's side

@dataclass
class WorkerResult:
    """What one worker sent back (and how it ended)."""

    cases: dict = field(default_factory=dict)       # case index -> (traces, effective)
    unavailable: str | None = None                   # why the backend cannot be imported (NOT RUN)
    environment: dict = field(default_factory=dict)  # environment.worker_facts: versions and facts
    failure: str | None = None                       # why the worker ended early (ERROR), else None


class Cancel:
    """Stops the worker processes it is given (``run_in_worker(cancel=…)``): those running are killed,
    those not started yet never start. Their results then say they were stopped."""

    def __init__(self):
        self._lock = threading.Lock()
        self._procs: list = []
        self.cancelled = False

    def adopt(self, proc) -> bool:
        """Track ``proc``; False (and ``proc`` killed) when cancelled already."""
        with self._lock:
            self._procs.append(proc)
            if self.cancelled:
                proc.kill()
            return not self.cancelled

    def __call__(self) -> None:
        with self._lock:
            self.cancelled = True
            for p in self._procs:
                with contextlib.suppress(OSError):
                    p.kill()


def run_in_worker(backend, cases: list, on_case=None, stderr=None, env: dict | None = None,
                  cancel: Cancel | None = None) -> WorkerResult:
    """Run every case on ``backend`` (a registry Backend) in a new process; ``on_case(i)`` after each case;
    ``env``: variables added to the worker's environment (``worker_environ``; the backend's own ``env`` wins); ``cancel``: a
    :class:`Cancel` that may stop the process early.

    Never raises for what happens in the worker: a crash is a ``failure`` with the exit status and the
    last lines of its standard error (which is relayed to ``stderr``, default sys.stderr, as it comes).
    """
    env = {**worker_environ(), **(env or {}), **backend.env}
    result = WorkerResult()
    tail: deque = deque(maxlen=STDERR_TAIL)
    try:
        proc = subprocess.Popen([sys.executable, "-c", BOOTSTRAP], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    except OSError as exc:
        result.failure = f"the worker process could not start: {exc}"
        return result
    if cancel is not None:
        cancel.adopt(proc)
    relay = threading.Thread(target=_relay, args=(proc.stderr, stderr, tail), daemon=True)
    relay.start()
    feeder = threading.Thread(target=_feed, args=(proc.stdin, backend, cases), daemon=True)
    feeder.start()
    ended = False
    try:
        while True:
            try:
                record = pickle.load(proc.stdout)
            except EOFError:
                break
            except Exception as exc:        # a torn or foreign record: the worker is not talking sense
                result.failure = f"unreadable message from the worker: {type(exc).__name__}: {exc}"
                break
            kind = record[0]
            if kind == "case":
                _, i, traces, effective = record
                result.cases[i] = (traces, effective)
                if on_case is not None:
                    on_case(i)
            elif kind == "unavailable":
                result.unavailable = record[1]
            elif kind == "environment":
                result.environment = dict(record[1])
            elif kind == "end":
                ended = True
    finally:
        proc.stdout.close()
        code = proc.wait()
        feeder.join()
        relay.join()
    if result.failure is None and not ended:     # after "end", an exit status says nothing about the numbers
        result.failure = _died(code, tail)
    return result


def _feed(pipe, backend, cases) -> None:
    try:
        pickle.dump(list(sys.path), pipe, protocol=pickle.HIGHEST_PROTOCOL)
        pickle.dump((backend, list(cases)), pipe, protocol=pickle.HIGHEST_PROTOCOL)
    except (BrokenPipeError, OSError):
        pass                                 # the worker died before reading: its exit status says why
    finally:
        try:
            pipe.close()
        except OSError:
            pass


# A framework's own C++ log lines at INFO and WARNING level (absl/glog: "I0000 00:00:17… 2050 port.cc:153] …"),
# and absl's notice that logging is not initialised: TensorFlow writes hundreds per run ("Not handling type
# DT_DOUBLE" from its oneDNN graph rewrite, for every float64 graph) and no TF_CPP_MIN_LOG_LEVEL silences
# them in TF 2.21. Also each backend's ``log_noise`` (the registry): its Python log lines that speak of speed,
# not numbers. They are kept for a dying worker's message (``tail``) but not relayed, unless
# BACKPROP_PARITY_FRAMEWORK_LOG=all; errors (E, F) and everything else are relayed as they come.
FRAMEWORK_LOG = (r"[IW]\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ [\w./-]+:\d+\] ",
                 r"WARNING: All log messages before absl::InitializeLog\(\) is called")


@functools.lru_cache(maxsize=1)
def _noise() -> re.Pattern:
    from backprop_parity.reference import registry
    noise = [re.escape(p) for e in registry.entries() for p in e.log_noise]
    return re.compile("^(?:" + "|".join([*FRAMEWORK_LOG, *noise]) + ")")


def relayed(line: str) -> bool:
    """Whether a line of a worker's standard error reaches the user (see FRAMEWORK_LOG)."""
    return os.environ.get("BACKPROP_PARITY_FRAMEWORK_LOG") == "all" or not _noise().match(line)


def _relay(pipe, stream, tail) -> None:
    for raw in iter(pipe.readline, b""):
        line = raw.decode("utf-8", errors="replace")
        tail.append(line.rstrip("\n"))
        if not relayed(line):
            continue
        out = stream if stream is not None else sys.stderr
        try:
            out.write(line)
            out.flush()
        except (OSError, ValueError):       # the parent's stderr is gone: keep draining the pipe
            pass
    pipe.close()


def _died(code: int, tail) -> str:
    if code < 0:
        import signal
        try:
            how = f"killed by {signal.Signals(-code).name}"
        except ValueError:
            how = f"killed by signal {-code}"
    else:
        how = f"exit code {code}"
    last = [line for line in tail if line.strip()]
    return f"the worker process ended before finishing ({how})" + (f": {last[-1].strip()}" if last else "")


# --------------------------------------------------------------------------- the worker's side

def serve() -> None:
    """The worker's main (started by BOOTSTRAP, with sys.path already the parent's)."""
    channel = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)                           # what the backend prints goes to stderr, not into the channel
    backend, cases = pickle.load(sys.stdin.buffer)

    def send(*record):
        channel.write(pickle.dumps(record, protocol=pickle.HIGHEST_PROTOCOL))
        channel.flush()

    from . import backends as B
    from .environment import worker_facts
    try:
        module = B.load_backend(backend)
    except B.BackendUnavailable as exc:
        send("unavailable", str(exc))
        send("end")
        return
    if not backend.reference and backend.sealed:   # a framework computes its own numbers: the reference's are sealed
        from backprop_parity.reference.provenance import seal
        seal()
    for i, case in enumerate(cases):
        channel.write(_travelling(_case_record(i, case, backend, module), case, backend))
        channel.flush()
    send("environment", worker_facts(backend, module))
    send("end")


def _case_record(i, case, backend, module) -> tuple:
    from . import backends as B
    traces = portable(case, backend.name, B.run_loaded(case, backend, module))
    effective = None
    find = getattr(module, "effective_case", None)
    if find is not None:
        try:
            eff = find(case)
        except Exception as exc:
            traces = [B.failed_row(case, backend.name, s, f"effective_case: {type(exc).__name__}: {exc}")
                      for s in backend.style_names] + traces
        else:
            if isinstance(eff, tuple):          # (the effective case, why)
                effective = eff
            elif eff is not case:
                effective = (eff, getattr(module, "EFFECTIVE_NOTE", "the backend's effective parameters"))
    return ("case", i, traces, effective)


def portable(case, backend: str, traces: list) -> list:
    """The traces with every ``of`` / ``formula`` expression of the case evaluated on each (its own
    functions, ``trace.evaluated``) and the functions dropped: what can leave the process that made them
    (to the parent, or to the store of reused results). Each trace is a copy; ``traces`` is left as it is."""
    import copy
    from . import backends as B
    from .compare import evaluate_quantities
    out = []
    for t in traces:
        if isinstance(t, B.Trace):
            try:
                evaluated = evaluate_quantities(case, t)
            except Exception as exc:   # never expected: evaluate_quantities keeps every exception it meets
                out.append(B.failed_row(case, backend, t.style, f"evaluating the case's expressions: "
                                                                f"{type(exc).__name__}: {exc}"))
                continue
            t = copy.copy(t)
            t.evaluated, t.functions = evaluated, {}
        out.append(t)
    return out


def _travelling(record: tuple, case, backend) -> bytes:
    """The pickled record; a trace (or effective case) that cannot be pickled becomes an ERROR row."""
    try:
        return pickle.dumps(record, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:
        pass
    from . import backends as B
    kind, i, traces, effective = record
    traces = list(traces)
    for k, t in enumerate(traces):             # what cannot travel is said, not lost
        try:
            pickle.dumps(t, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:
            traces[k] = B.failed_row(case, backend.name, t.style,
                                     f"the trace cannot be sent back from the worker: {type(exc).__name__}: {exc}")
    try:
        pickle.dumps(effective, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as exc:
        traces = [B.failed_row(case, backend.name, s, f"the effective case cannot be sent back: "
                                                      f"{type(exc).__name__}: {exc}") for s in backend.style_names]
        effective = None
    return pickle.dumps((kind, i, traces, effective), protocol=pickle.HIGHEST_PROTOCOL)
