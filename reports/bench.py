"""``backprop-parity bench``: how fast every command is, as ratios to the import floor of the same run.

Wall-clock seconds depend on the machine and on what else it is doing; a ratio to a figure measured
in the same run, on the same machine, carries over. The floor is one Python process importing every
framework the registry knows (``Backend.imports``: ``python -c "import torch, tensorflow, jax"``).

Measured, each in a fresh process, in this order:

* ``check`` (every built-in case, every backend): **cold** — an empty store, nothing reused, nothing
  compiled before; **compiled programs kept** — the results deleted, the frameworks' compiled programs
  of the cold run kept (JAX's persistent compilation cache); **reused** — right after, every result
  read from the store (``reports/cache.py``);
* ``diagnose CASE`` (reference only: every variant of the catalogue on the printed numbers not reproduced);
* ``explain CASE --step S`` and ``report`` after that check (results reused; the report draws its
  plots as SVG from the numbers each time), ``report`` again, and ``report --fresh`` (cold);
* with ``--tests``: the README's test command, twice: cold (an empty folder of compiled programs), then with
  the JAX programs the first run compiled kept (as a second run on a machine goes: by default the tests keep
  them in the command line's cache folder);
* the training step of every backend (``<package>/bench.py``: one forward + backward + update of
  784-256-128-10 on a batch, each framework in its own process, compiled the way its users compile
  it), float64 and float32, at batch 64 … 4096 and with the hidden layers twice as wide: seconds per
  step and the reference's ratio to the fastest framework. The workers stay up and take turns, round by
  round (``measure_steps``), so that every ratio compares times taken within the same minute.

``--json FILE`` writes every figure.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from backprop_parity.reference import registry

ROOT = Path(__file__).resolve().parent.parent
BATCHES = (64, 256, 1024, 4096)
WIDE = (784, 512, 256, 10)          # twice the hidden widths: the weights' dimension of the cost
EXPLAIN = (("courtial-bias-trick", "output-delta"), ("zhou-gender", "output-delta"))
DIAGNOSE = ("courtial-bias-trick", "courtial-five-cars", "zhou-gender")   # errata; a forward-only case; 4000 steps
MIN_SECONDS, MIN_REPEATS, MAX_REPEATS = 0.2, 5, 100   # per round: 0.2 s of repeats, at least 5
ROUNDS, WARMUP, PAUSE = 5, 3, 0.1   # rounds per configuration; untimed runs before each; seconds between turns
                                    # (an idle worker's BLAS and OpenMP threads stop spinning before the next)


def add_arguments(p) -> None:
    p.add_argument("--tests", action="store_true", help="also time the README's test command (minutes)")
    p.add_argument("--steps-only", action="store_true", help="only the training-step benchmark")
    p.add_argument("--json", metavar="FILE", help="write every figure to FILE")


# --------------------------------------------------------------------------- timing whole commands

def timed(argv: list[str], env: dict | None = None) -> tuple[float, int, str]:
    """(wall seconds, exit code, last stderr line) of one command in a fresh process."""
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=ROOT, env={**os.environ, **(env or {})}, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    tail = [line for line in (proc.stderr or "").splitlines() if line.strip()]
    return seconds, proc.returncode, tail[-1] if tail else ""


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "backprop_parity.reports.cli", *args]


def floor_imports() -> list[str]:
    return [m for b in registry.entries() for m in b.imports]


def measure_commands(tests: bool, say) -> dict:
    out = {}
    modules = floor_imports()
    out["floor"] = timed([sys.executable, "-c", "import " + ", ".join(modules)])[0]
    say(f"import floor (import {', '.join(modules)}): {out['floor']:.1f} s")
    store = Path(tempfile.mkdtemp(prefix="backprop-parity-bench-"))
    env = {"BACKPROP_PARITY_CACHE": str(store)}
    try:
        runs = [("check, cold (an empty store: nothing reused, nothing compiled before)", command("check", "--quiet")),
                ("check, results deleted, compiled programs kept", None),
                ("check, results reused", command("check", "--quiet"))]
        for label, argv in runs:
            if argv is None:                     # the results gone, the compiled programs left
                for d in store.iterdir():
                    if d.name != "compiled":
                        shutil.rmtree(d)
                argv = command("check", "--quiet")
            out[label] = record(timed(argv, env), label, say, out["floor"])
        for case, step in EXPLAIN:
            label = f"explain {case} --step {step}, reused"
            out[label] = record(timed(command("explain", case, "--step", step, "--quiet"), env), label, say,
                                out["floor"])
        for case in DIAGNOSE:
            label = f"diagnose {case} (target ≤ 5 s)"
            out[label] = record(timed(command("diagnose", case), env), label, say, out["floor"])
        report_dir = store / "report-out"
        for label in ("report after check (results reused)", "report again (results reused)"):
            out[label] = record(timed(command("report", "--quiet", "--out", str(report_dir)), env), label, say,
                                out["floor"])
        label = "report, cold (--fresh)"
        out[label] = record(timed(command("report", "--quiet", "--fresh", "--out", str(report_dir)), env), label,
                            say, out["floor"])
        if tests:                # twice, with one folder of compiled programs: empty, then as the first run left it
            required = ",".join([b.name for b in registry.entries() if not b.reference] + ["chromium"])
            test_env = {"BACKPROP_PARITY_REQUIRE": required,
                        "BACKPROP_PARITY_XLA_CACHE": str(store / "tests-compiled")}
            for label in ("the README's test command, cold (no compiled program kept)",
                          "the README's test command again (JAX's compiled programs of the first run kept)"):
                out[label] = record(timed([sys.executable, "-m", "pytest", "parity_tests", "-n", "auto", "--dist",
                                           "loadfile", "-q", "-p", "no:cacheprovider"], test_env), label, say,
                                    out["floor"])
    finally:
        shutil.rmtree(store, ignore_errors=True)
    return out


def record(result, label, say, floor) -> dict:
    seconds, code, last = result
    say(f"{label}: {seconds:.1f} s = {seconds / floor:.2f}× the floor" + ("" if code in (0, 1) else
                                                                            f" (exit {code}: {last})"))
    return {"seconds": seconds, "ratio": seconds / floor, "exit": code}


# --------------------------------------------------------------------------- the training step

STEP_WORKER = ("import sys; from backprop_parity.reports.bench import serve_steps; "
               "serve_steps(sys.argv[1], sys.stdin, sys.stdout)")


def serve_steps(package: str, requests, replies) -> None:
    """In a backend's own process: for each request line (a configuration), time ``<package>.bench.step``
    for a while and reply with the seconds of every repeat. A configuration's step is built (and compiled)
    on its first request and kept; every request first runs it WARMUP times, untimed."""
    import importlib
    import numpy as np
    module = importlib.import_module(f"{package}.bench")
    built = {}
    print(json.dumps({"ready": True}), file=replies, flush=True)
    for line in requests:
        sizes, batch, dtype = json.loads(line)
        key = (tuple(sizes), batch, dtype)
        if key not in built:
            built[key] = module.step(tuple(sizes), batch, np.dtype(dtype).type)
        run, code = built[key]
        for _ in range(WARMUP):
            run()                                # compile (first request), warm the caches and the thread pools
        times = []
        start = time.perf_counter()
        while len(times) < MAX_REPEATS and (len(times) < MIN_REPEATS or time.perf_counter() - start < MIN_SECONDS):
            t = time.perf_counter()
            run()
            times.append(time.perf_counter() - t)
        print(json.dumps({"times": times, "code": code}), file=replies, flush=True)


def configs() -> list:
    from backprop_parity.reference import bench
    out = []
    for dtype in ("float64", "float32"):
        out += [(list(bench.SIZES), b, dtype) for b in BATCHES]
        out.append((list(WIDE), 256, dtype))
    return out


def measure_steps(say) -> dict:
    """Every backend's worker started once and kept; then, for each configuration, ROUNDS rounds in which each
    backend in turn (a different one first each round) times its step while the others wait idle. A figure is
    the median over rounds of each round's median, and the reference's ratio to the fastest framework is taken
    within each round (the same minute of the machine's life) before its median: a slow spell of a shared
    machine then moves every backend of that round, not one backend's whole column."""
    workers, errors = {}, {}
    for b in registry.entries():
        argv = [sys.executable, "-c", STEP_WORKER, b.package]
        # the framework's compiler at its defaults: one large step, compiled once and run hundreds of times (a
        # backend that tunes its compiler for the cases' small programs reads BACKPROP_PARITY_COMPILE)
        env = {**os.environ, **b.env, "BACKPROP_PARITY_COMPILE": "default"}
        errors[b.name] = tempfile.TemporaryFile(mode="w+")    # a file, not a pipe: a chatty framework never blocks
        workers[b.name] = subprocess.Popen(argv, cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                           stderr=errors[b.name], text=True)
    results = {}
    try:
        for name, proc in list(workers.items()):
            if reply(name, proc, errors[name], say) is None:
                workers.pop(name)
        for config in configs():
            if not workers:
                break
            key = f"{'-'.join(map(str, config[0]))}/{config[1]}/{config[2]}"
            for r in range(ROUNDS):
                order = list(workers)[r % len(workers):] + list(workers)[:r % len(workers)]
                for name in order:
                    time.sleep(PAUSE)
                    proc = workers[name]
                    proc.stdin.write(json.dumps(config) + "\n")
                    proc.stdin.flush()
                    answer = reply(name, proc, errors[name], say)
                    if answer is None:
                        workers.pop(name)
                        continue
                    entry = results.setdefault(name, {}).setdefault(key, {"rounds": [], "repeats": 0})
                    entry["rounds"].append(statistics.median(answer["times"]))
                    entry["repeats"] += len(answer["times"])
                    entry["code"] = answer["code"]
    finally:
        for proc in workers.values():
            proc.stdin.close()
            proc.wait()
        for err in errors.values():
            err.close()
    for name, per in results.items():
        for entry in per.values():
            entry["seconds"] = statistics.median(entry["rounds"])
        say(f"{name}: {next(iter(per.values()))['code']}")
    ref = registry.reference().name
    frameworks = [b.name for b in registry.entries() if not b.reference]
    for key in results.get(ref, {}):
        found = ratio(results, key, ref, frameworks)
        if found:
            results[ref][key]["ratio"], results[ref][key]["fastest"] = found
    return results


def reply(name: str, proc, err, say) -> dict | None:
    """The worker's next answer, or None (said, with the last line of its stderr ``err``) when it died."""
    line = proc.stdout.readline()
    if line:
        return json.loads(line)
    proc.wait()
    err.seek(0)
    tail = [t for t in err.read().splitlines() if t.strip()]
    say(f"{name}: the step benchmark failed: {tail[-1] if tail else proc.returncode}")
    return None


def ratio(results: dict, key: str, ref: str, frameworks: list) -> tuple[float, str] | None:
    """The reference's time over the fastest framework's, round by round (same round, same machine state),
    as the median over rounds; and which framework was fastest most often."""
    if ref not in results or key not in results[ref]:
        return None
    rounds = [{n: results[n][key]["rounds"][r] for n in frameworks if n in results and key in results[n]
               and r < len(results[n][key]["rounds"])} for r in range(len(results[ref][key]["rounds"]))]
    ratios, fastest = [], []
    for r, times in enumerate(rounds):
        if times:
            who = min(times, key=times.get)
            ratios.append(results[ref][key]["rounds"][r] / times[who])
            fastest.append(who)
    if not ratios:
        return None
    return statistics.median(ratios), max(set(fastest), key=fastest.count)


def step_table(results: dict) -> list[str]:
    ref = registry.reference().name
    frameworks = [b.name for b in registry.entries() if not b.reference and b.name in results]
    keys = list(dict.fromkeys(k for per in results.values() for k in per))
    head = (f"{'network/batch/dtype':<26}" + "".join(f"{n:>11}" for n in [ref] + frameworks)
            + "   ref ÷ fastest  µs/example (ref)")
    lines = [head, "-" * len(head)]
    for k in keys:
        row = f"{k:<26}"
        for n in [ref] + frameworks:
            row += f"{results[n][k]['seconds'] * 1e3:>9.2f}ms" if k in results.get(n, {}) else f"{'—':>11}"
        mine = results.get(ref, {}).get(k, {})
        if "ratio" in mine:
            batch = int(k.split("/")[1])
            row += f"   {mine['ratio']:5.2f}× ({mine['fastest']})  {mine['seconds'] / batch * 1e6:8.2f}"
        lines.append(row)
    lines.append(f"(each figure: the median of {ROUNDS} rounds' medians; ref ÷ fastest: the median of the rounds' "
                 "ratios, each within one round)")
    return lines


def main(args) -> int:
    from .cli import writable, write_text
    writable(args.json, "--json")

    def say(text):
        print(text, flush=True)
    figures = {}
    if not args.steps_only:
        figures["commands"] = measure_commands(args.tests, say)
    say("")
    say("one training step (forward + backward + update), seconds; each backend in its own process, taking turns "
        f"(OPENBLAS_CORETYPE {os.environ.get('OPENBLAS_CORETYPE', 'unset: OpenBLAS picks the CPU’s kernels')}):")
    figures["steps"] = measure_steps(say)
    for line in step_table(figures["steps"]):
        say(line)
    if args.json:
        write_text(args.json, json.dumps(figures, indent=1) + "\n", "--json")
    return 0
