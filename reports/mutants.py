"""``backprop-parity mutants``: do the parity tests catch real backprop bugs?

    backprop-parity mutants [--family reference|<framework>] [--only NAME ...] [--sample K] [--seed S]
                            [--jobs N] [--first-kill] [--json FILE] [--catalogue FILE] [--timeout SECONDS] [--list]

Each mutant of ``parity_tests/mutants.toml`` is a classic manual-backprop bug written as a
textual patch of the NumPy reference; ``--family torch`` (any framework backend of the registry)
takes ``parity_tests/mutants_torch.toml`` instead: bugs of that framework's mirror, judged by its
parity tests. For each one this command

1. copies the project (``reference/``, ``reports/``, ``parity_tests/``, every backend's package,
   ``pyproject.toml``) to a temporary folder — the working tree is never modified;
2. applies the patch there; an ``old`` text that is not found exactly ``count`` times, a patch
   that changes nothing, or a patched file that no longer compiles stops the command with exit
   code 2 before any test runs (a stale catalogue is an error, never a verdict);
3. runs the catalogue's test selection with pytest in that copy, the copy first on PYTHONPATH;
4. reports KILLED (some test failed; which ones) or SURVIVED (every test passed).

Before any mutant, the unpatched copy runs the same selection: it must pass and it must import
the copy (not the installed project), or no verdict would mean anything.

Exit code: 0 every mutant killed; 1 a mutant survived, errored, or the baseline failed;
2 bad input (catalogue, --only name, options).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE = ROOT / "parity_tests" / "mutants.toml"


def families() -> tuple:
    """Whose code a catalogue patches: "reference", or a framework backend of the registry (its mirror)."""
    from backprop_parity.reference import registry
    return ("reference",) + tuple(b.name for b in registry.entries() if not b.reference)


def catalogue_of(family: str) -> Path:
    """The reference's catalogue (mutants.toml), or a mirror family's (mutants_<family>.toml)."""
    return CATALOGUE if family == "reference" else ROOT / "parity_tests" / f"mutants_{family}.toml"


def _copied() -> tuple:
    """What a mutant's copy holds: the project's folders (every backend's package too) and pyproject.toml."""
    from backprop_parity.reference import registry
    folders = [b.package.rsplit(".", 1)[-1] for b in registry.entries()]
    return tuple(dict.fromkeys(["reference", "reports", "parity_tests", *folders, "pyproject.toml"]))


COPIED = _copied()
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".hypothesis", ".pytest_cache", "out", "artifacts",
                                 "*.egg-info")
MUTANT_FIELDS = {"name", "description", "breaks", "patch"}
PATCH_FIELDS = {"file", "old", "new", "count"}
# One BLAS thread per pytest process: the jobs run side by side, and the numbers do not depend on it.
THREAD_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


class CatalogueError(ValueError):
    pass


@dataclass
class Patch:
    file: str
    old: str
    new: str
    count: int = 1


@dataclass
class Mutant:
    name: str
    description: str
    breaks: str
    patches: list


@dataclass
class Result:
    name: str
    description: str
    breaks: str
    status: str                        # KILLED | SURVIVED | ERROR
    killed_by: list = field(default_factory=list)     # every failed test id, in run order
    headline: str = ""                                 # the killer shown: first failed assertion, else first failure
    why: str = ""                                      # its message (AssertionError … or the exception a crash raised)
    n_failed: int = 0
    n_tests: int = 0
    seconds: float = 0.0
    returncode: int | None = None
    detail: str = ""


# --------------------------------------------------------------------------- catalogue

def load_catalogue(path: Path = CATALOGUE, root: Path = ROOT) -> tuple[list[str], list[Mutant]]:
    """(test selection, mutants); every patch checked against the unpatched files."""
    where = str(path)
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise CatalogueError(f"{where}: cannot read ({exc.strerror})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise CatalogueError(f"{where}: {exc}") from None
    selection = raw.get("selection", {}).get("tests")
    if not isinstance(selection, list) or not selection or not all(isinstance(t, str) for t in selection):
        raise CatalogueError(f"{where}: selection.tests: expected a list of test paths")
    for t in selection:
        if not (root / t.split("::")[0]).exists():
            raise CatalogueError(f"{where}: selection.tests: {t} does not exist")
    mutants, seen = [], set()
    entries = raw.get("mutant")
    if not isinstance(entries, list) or not entries:
        raise CatalogueError(f"{where}: expected [[mutant]] tables")
    for i, m in enumerate(entries):
        at = f"{where}: mutant[{i}]"
        if not isinstance(m, dict):
            raise CatalogueError(f"{at}: expected a table")
        unknown = set(m) - MUTANT_FIELDS
        if unknown:
            raise CatalogueError(f"{at}: unknown field {sorted(unknown)[0]!r}")
        for k in ("name", "description", "breaks"):
            if not isinstance(m.get(k), str) or not m[k].strip():
                raise CatalogueError(f"{at}.{k}: missing or not text")
        name = m["name"]
        at = f"{where}: mutant[{i}] ({name})"
        if name in seen:
            raise CatalogueError(f"{at}.name: duplicate name")
        seen.add(name)
        patches = m.get("patch")
        if not isinstance(patches, list) or not patches:
            raise CatalogueError(f"{at}.patch: expected at least one [[mutant.patch]]")
        parsed = []
        for j, p in enumerate(patches):
            pat = f"{at}.patch[{j}]"
            if not isinstance(p, dict) or set(p) - PATCH_FIELDS or not {"file", "old", "new"} <= set(p):
                raise CatalogueError(f"{pat}: expected a table with file, old, new (and optional count)")
            if not all(isinstance(p[k], str) for k in ("file", "old", "new")):
                raise CatalogueError(f"{pat}: file, old and new must be text")
            count = p.get("count", 1)
            if isinstance(count, bool) or not isinstance(count, int) or count < 1:
                raise CatalogueError(f"{pat}.count: expected a whole number ≥ 1")
            if p["old"] == p["new"] or not p["old"]:
                raise CatalogueError(f"{pat}: old and new must differ and old must not be empty")
            parsed.append(Patch(p["file"], p["old"], p["new"], count))
        mutant = Mutant(name, m["description"].strip(), m["breaks"].strip(), parsed)
        patched_texts(mutant, root, at)        # every patch must apply to the current tree
        mutants.append(mutant)
    return selection, mutants


def patched_texts(mutant: Mutant, root: Path, at: str = "") -> dict[str, str]:
    """{relative file: patched text}; raises CatalogueError when a patch does not apply."""
    at = at or mutant.name
    texts: dict[str, str] = {}
    for j, p in enumerate(mutant.patches):
        rel = Path(p.file)
        if rel.is_absolute() or ".." in rel.parts or not rel.parts or rel.parts[0] not in COPIED:
            raise CatalogueError(f"{at}.patch[{j}].file: {p.file} is not a project file under "
                                 f"{', '.join(COPIED)}")
        if p.file not in texts:
            try:
                texts[p.file] = (root / rel).read_text(encoding="utf-8")
            except OSError as exc:
                raise CatalogueError(f"{at}.patch[{j}].file: cannot read {p.file} ({exc.strerror})") from None
        found = texts[p.file].count(p.old)
        if found != p.count:
            what = "not found" if found == 0 else f"found {found} times, expected {p.count}"
            raise CatalogueError(f"{at}.patch[{j}].old: text {what} in {p.file}: {p.old[:60]!r}")
        texts[p.file] = texts[p.file].replace(p.old, p.new)
    for file, text in texts.items():
        if file.endswith(".py"):
            try:
                compile(text, file, "exec")
            except SyntaxError as exc:
                raise CatalogueError(f"{at}: the patched {file} does not compile "
                                     f"(line {exc.lineno}: {exc.msg})") from None
    return texts


# --------------------------------------------------------------------------- running

def copy_project(dest: Path, root: Path = ROOT) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for name in COPIED:
        src = root / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=IGNORED)
        elif src.exists():
            shutil.copy2(src, dest / name)
    # The installed import names are backprop_parity.<folder>: a package in the copy whose __path__ is the
    # copy itself makes backprop_parity.reference (…) resolve to the copied, patched folders.
    shim = dest / "backprop_parity"
    shim.mkdir(exist_ok=True)
    (shim / "__init__.py").write_text("import os\n__path__ = [os.path.dirname(os.path.dirname(os.path.abspath(__file__)))]\n",
                                      encoding="utf-8")
    return dest


def _env(copy: Path, mutant: str) -> dict:
    # kept: which frameworks the run must include (a mirror's tests must not skip), and the compiled-programs
    # folder (keyed by each compiled program: a mutated mirror compiles its own)
    kept = ("BACKPROP_PARITY_REQUIRE", "BACKPROP_PARITY_XLA_CACHE", "BACKPROP_PARITY_COMPILE_CACHE")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BACKPROP_PARITY_", "PYTEST_")) or k in kept}
    env.update(THREAD_ENV)
    env["PYTHONPATH"] = os.pathsep.join([str(copy), *filter(None, [os.environ.get("PYTHONPATH")])])
    # Bytecode is written (even where PYTHONDONTWRITEBYTECODE is set): the unpatched copy's compiled modules are
    # copied with it to every mutant (a patched file's own are deleted: run_mutant), and pytest's assertion-
    # rewritten modules of its plugins (hypothesis, xdist, benchmark: 85 modules, 0.5 s a process) are
    # compiled once instead of in every mutant's pytest process.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONHASHSEED"] = "0"
    env["BACKPROP_PARITY_MUTANT"] = mutant    # test_mutants.py refuses to recurse
    env["BACKPROP_PARITY_CACHE"] = "off"      # a mutant never reads (nor writes) reused results
    return env


def _failures(xml_path: Path) -> tuple[list[tuple[str, str]], int]:
    """([(failed or errored test id, first line of its message)], number of test cases) from JUnit XML."""
    try:
        tree = ET.parse(xml_path)
    except (OSError, ET.ParseError):
        return [], 0
    failed, n = [], 0
    for case in tree.iter("testcase"):
        n += 1
        bad = case.find("failure")
        bad = bad if bad is not None else case.find("error")
        if bad is not None:
            cls = case.get("classname", "")
            module = cls.rsplit(".", 1)[-1] if cls else ""
            test = f"{module}::{case.get('name', '?')}" if module else case.get("name", "?")
            failed.append((test, " ".join((bad.get("message") or "").split())[:160]))
    return failed, n


def _headline(failed: list[tuple[str, str]]) -> tuple[str, str]:
    """The killer to show: the first failed assertion if any (a value caught), else the first failure (a crash)."""
    for test, why in failed:
        if why.startswith("AssertionError"):
            return test, why
    return failed[0] if failed else ("", "")


def run_tests(copy: Path, selection: list[str], name: str, first_kill: bool, timeout: float) -> Result:
    xml = copy / "junit.xml"
    cmd = [sys.executable, "-m", "pytest", *selection, "-q", "-p", "no:cacheprovider", "-o", "addopts=",
           "--no-header", "--tb=no", "-W", "ignore", f"--junitxml={xml}"]
    if first_kill:
        cmd.append("-x")
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=copy, env=_env(copy, name), capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return Result(name, "", "", "KILLED", killed_by=[f"timeout after {timeout:g} s"],
                      headline=f"timeout after {timeout:g} s", why="the tests did not finish",
                      seconds=time.perf_counter() - start)
    seconds = time.perf_counter() - start
    failed, n = _failures(xml)
    tail = (proc.stdout.strip().splitlines() or [""])[-1][:200]
    if proc.returncode == 0 and not failed and n > 0:
        return Result(name, "", "", "SURVIVED", n_tests=n, seconds=seconds, returncode=0, detail=tail)
    if proc.returncode in (1, 2) and failed:
        headline, why = _headline(failed)
        return Result(name, "", "", "KILLED", killed_by=[t for t, _ in failed], headline=headline, why=why,
                      n_failed=len(failed), n_tests=n, seconds=seconds, returncode=proc.returncode, detail=tail)
    detail = (proc.stderr.strip() or proc.stdout.strip()).splitlines()[-1:] or [""]
    return Result(name, "", "", "ERROR", n_tests=n, seconds=seconds, returncode=proc.returncode,
                  detail=f"pytest exit code {proc.returncode}: {detail[0][:200]}")


def check_isolation(copy: Path) -> str | None:
    """None when a process started like the mutant runs imports the copy; else what it imports."""
    code = ("import backprop_parity.reference as reference, backprop_parity.reports as reports, parity_tests, pathlib;"
            "print('\\n'.join(str(pathlib.Path(m.__file__).resolve()) for m in (reference, reports, parity_tests)))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=copy, env=_env(copy, "isolation"),
                          capture_output=True, text=True, timeout=120)
    if proc.returncode:
        return proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else "import failed"
    for line in proc.stdout.split():
        if not Path(line).is_relative_to(copy.resolve()):
            return line
    return None


def run_mutant(mutant: Mutant, base: Path, workdir: Path, selection, first_kill, timeout) -> Result:
    copy = workdir / mutant.name.replace("/", "_")
    shutil.copytree(base, copy)
    for file, text in patched_texts(mutant, base).items():
        (copy / file).write_text(text, encoding="utf-8")
        forget_bytecode(copy / file)
    result = run_tests(copy, selection, mutant.name, first_kill, timeout)
    result.description, result.breaks = mutant.description, mutant.breaks
    shutil.rmtree(copy, ignore_errors=True)
    return result


def forget_bytecode(source: Path) -> None:
    """Delete what Python and pytest compiled from ``source`` (copied from the unpatched copy): a compiled
    module is checked against its source's size and whole-second mtime only, which a patch could leave equal."""
    for pyc in (source.parent / "__pycache__").glob(f"{source.stem}.*.pyc"):
        pyc.unlink(missing_ok=True)


def choose(mutants: list[Mutant], only: list[str] | None, sample: int | None, seed: int) -> list[Mutant]:
    if only:
        names = {m.name for m in mutants}
        unknown = [o for o in only if o not in names]
        if unknown:
            raise CatalogueError(f"--only: no mutant named {unknown[0]!r} (known: {', '.join(sorted(names))})")
        mutants = [m for m in mutants if m.name in only]
    if sample is not None:
        if sample < 1:
            raise CatalogueError("--sample: expected a whole number ≥ 1")
        if sample < len(mutants):
            picked = set(random.Random(seed).sample(range(len(mutants)), sample))
            mutants = [m for i, m in enumerate(mutants) if i in picked]
    return mutants


def run_all(mutants: list[Mutant], selection: list[str], jobs: int = 2, first_kill: bool = False,
            timeout: float = 900.0, root: Path = ROOT, progress=None, baseline: bool = True) -> tuple[Result, list[Result]]:
    """(baseline, one Result per mutant, in catalogue order). ``baseline=False`` skips running the unpatched
    copy's tests (a caller that has just run the same selection on the same tree): the baseline is then
    SURVIVED with no tests, and only the copy's isolation is checked."""
    with tempfile.TemporaryDirectory(prefix="backprop-mutants-") as tmp:
        work = Path(tmp)
        base = copy_project(work / "_base", root)
        leak = check_isolation(base)
        if leak is not None:
            baseline = Result("(baseline)", "unpatched copy", "", "ERROR",
                              detail=f"the copy is not what the tests import: {leak}")
            return baseline, []
        if baseline:
            baseline = run_tests(base, selection, "(baseline)", False, timeout)
        else:
            baseline = Result("(baseline)", "", "", "SURVIVED", detail="not run: the caller ran the same selection")
        baseline.description = "the unpatched copy"
        if baseline.status != "SURVIVED":
            return baseline, []
        # The baseline ran in the base copy: clear what pytest left there before copying it again.
        for junk in ("junit.xml",):
            (base / junk).unlink(missing_ok=True)
        results: dict[str, Result] = {}
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            futures = {pool.submit(run_mutant, m, base, work, selection, first_kill, timeout): m for m in mutants}
            for fut, m in futures.items():
                try:
                    r = fut.result()
                except CatalogueError:
                    raise
                except Exception as exc:   # the harness itself failed on this mutant: say so, never a verdict
                    r = Result(m.name, m.description, m.breaks, "ERROR", detail=f"{type(exc).__name__}: {exc}")
                results[m.name] = r
                if progress:
                    progress(r)
        return baseline, [results[m.name] for m in mutants]


# --------------------------------------------------------------------------- command

def add_arguments(parser) -> None:
    parser.add_argument("--only", action="append", metavar="NAME", help="run only this mutant (repeatable)")
    parser.add_argument("--sample", type=int, metavar="K", help="run K mutants drawn at random (see --seed)")
    parser.add_argument("--seed", type=int, default=0, help="seed of --sample (default 0)")
    parser.add_argument("--jobs", type=int, default=min(4, os.cpu_count() or 1),
                        help="mutants run side by side (default: CPUs, at most 4)")
    parser.add_argument("--first-kill", action="store_true",
                        help="stop each mutant's tests at the first failure (faster; names one killer)")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per mutant (default 900)")
    parser.add_argument("--json", metavar="FILE", help="write the results as JSON")
    parser.add_argument("--family", choices=families(), default="reference",
                        help="whose bugs: the NumPy reference's (default) or a framework mirror's "
                             "(parity_tests/mutants_<family>.toml)")
    parser.add_argument("--catalogue", metavar="FILE", help="a mutation catalogue file (instead of --family's)")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")


def _line(r: Result) -> str:
    if r.status == "KILLED":
        more = f" (+{len(r.killed_by) - 1} more)" if len(r.killed_by) > 1 else ""
        why = r.why if len(r.why) <= 90 else r.why[:89] + "…"
        return f"KILLED    {r.name:32s} by {r.headline}{more}   [{r.seconds:.1f} s]\n          {'':32s} {why}"
    if r.status == "SURVIVED":
        return f"SURVIVED  {r.name:32s} all {r.n_tests} tests passed — {r.description}"
    return f"ERROR     {r.name:32s} {r.detail}"


def main(args) -> int:
    from .cli import UsageError
    try:
        selection, mutants = load_catalogue(Path(args.catalogue) if args.catalogue else catalogue_of(args.family))
        chosen = choose(mutants, args.only, args.sample, args.seed)
    except CatalogueError as exc:
        raise UsageError(str(exc)) from None
    if args.jobs < 1 or args.timeout <= 0:
        raise UsageError("--jobs and --timeout must be positive")
    from .cli import writable
    writable(args.json, "--json")
    if args.list:
        for m in mutants:
            print(f"{m.name:32s} {m.description}")
        return 0
    print(f"{len(chosen)} of {len(mutants)} mutants; tests: {' '.join(selection)}; {args.jobs} jobs", flush=True)
    start, cpu0 = time.perf_counter(), _children_cpu()
    try:
        baseline, results = run_all(chosen, selection, args.jobs, args.first_kill, args.timeout,
                                    progress=lambda r: print(_line(r), flush=True))
    except CatalogueError as exc:
        raise UsageError(str(exc)) from None
    total = time.perf_counter() - start
    cpu = _children_cpu() - cpu0
    if baseline.status != "SURVIVED":
        print(f"backprop-parity: baseline failed — the unpatched copy must pass its tests before a mutant "
              f"means anything: {baseline.detail or ', '.join(baseline.killed_by[:5])}", file=sys.stderr)
        _write_json(args.json, selection, baseline, results, total, cpu, args)
        return 1
    killed = [r for r in results if r.status == "KILLED"]
    survived = [r for r in results if r.status == "SURVIVED"]
    errors = [r for r in results if r.status == "ERROR"]
    print(f"{len(results)} mutants: {len(killed)} killed, {len(survived)} survived, {len(errors)} errors "
          f"({100 * len(killed) / max(1, len(results)):.0f}% killed) in {total:.0f} s wall, {cpu:.0f} s CPU "
          f"(baseline: {baseline.n_tests} tests, {baseline.seconds:.0f} s)")
    for r in survived:
        print(f"  survived: {r.name} — {r.breaks}: a hole in the tests; close it with an assertion")
    _write_json(args.json, selection, baseline, results, total, cpu, args)
    return 0 if not survived and not errors else 1


def _children_cpu() -> float:
    """CPU seconds of every finished child process (the pytest runs), user + system."""
    try:
        import resource
    except ImportError:        # not on this platform
        return 0.0
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def _write_json(path, selection, baseline, results, total, cpu, args) -> None:
    if not path:
        return
    from .cli import write_text
    doc = {"selection": selection, "jobs": args.jobs, "first_kill": args.first_kill, "seconds": total,
           "cpu_seconds": cpu,
           "baseline": asdict(baseline), "mutants": [asdict(r) for r in results]}
    write_text(path, json.dumps(doc, indent=1, ensure_ascii=False) + "\n", "--json")
