"""``backprop-parity diagnose``: which convention or slip reproduces a printed number the reference does not.

For every printed quantity of a case that fails, is an erratum, or is not correctly rounded on the
reference, each variant of the catalogue (``reference/variants.py``: update rule, which parameters, loss,
L2, activations, layout, arithmetic) is run on the NumPy reference and the quantity evaluated on its
trace. A variant *reproduces* the print when every printed element is within ½ unit of its last digit —
the same rule as ``match``. Reproducing variants are listed simplest first (catalogue order, single
variants before pairs); pairs are tried only when no single variant reproduces, among the nearest ones.
When nothing reproduces it, the nearest variants are named with their values. Last, a print whose digits
differ from the correctly rounded value in exactly one digit is named a probable typo.

    backprop-parity diagnose CASE|FILE [--quantity ID] [--json FILE]

Exit codes: 0 the diagnosis ran (whatever it found); 2 bad input.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np

from backprop_parity.reference import expr, variants
from backprop_parity.reference.case import Case, CaseError, normalize_printed, printed_array
from backprop_parity.reference.contract import Trace

from .compare import article_comparison, namespace

from .run import DIAGNOSED as NEEDS     # the reference's verdicts a diagnosis explains
NEAREST = 3            # variants named when nothing reproduces
PAIR_POOL = 8          # pairs are formed among this many nearest single variants
TYPO_DIGITS = 3        # a one-digit difference is called a typo only in a print of at least this many digits


@dataclass
class Tried:
    """One (quantity, variant) tried: its value, how far from the print, and whether it reproduces it."""
    quantity: str
    variant: str
    family: str
    description: str
    value: list | None
    max_abs_diff: float
    units: float                 # max |diff| in units of the last printed digit
    reproduces: bool
    setting: str = ""
    error: str = ""
    no_effect: bool = False      # the variant gives this quantity exactly the reference's value

    def as_dict(self) -> dict:
        return {"quantity": self.quantity, "variant": self.variant, "family": self.family,
                "description": self.description, "value": self.value,
                "max_abs_diff": None if not math.isfinite(self.max_abs_diff) else self.max_abs_diff,
                "units_of_last_digit": None if not math.isfinite(self.units) else self.units,
                "reproduces": self.reproduces, "setting": self.setting, "error": self.error,
                "no_effect": self.no_effect}


@dataclass
class Diagnosis:
    case: str
    quantity: str
    label: str
    verdict: str                 # the reference's verdict on the quantity as written
    printed: list
    reference: list
    tried: list = field(default_factory=list)

    @property
    def reproducing(self) -> list:
        return [t for t in self.tried if t.reproduces and t.variant != "as written" and not t.no_effect]

    @property
    def as_written(self) -> bool:
        """The reference as written already reproduces the print (asked for with --quantity)."""
        return bool(self.tried) and self.tried[0].variant == "as written" and self.tried[0].reproduces

    @property
    def nearest(self) -> list:
        cands = [t for t in self.tried if not t.reproduces and not t.error and not t.no_effect
                 and t.variant not in ("as written", "typo") and math.isfinite(t.units)]
        return sorted(cands, key=lambda t: t.units)[:NEAREST]

    def summary(self) -> str:
        """One line: what reproduces the print, or the nearest variants."""
        if self.reproducing:
            shown = self.reproducing[:3]
            items = [_named(t) for t in shown]
            return "reproduced by: " + (items[0] if len(items) == 1 else
                                        " ".join(f"({k}) {text}" for k, text in enumerate(items, 1))) + (
                f" (+{len(self.reproducing) - 3} more: backprop-parity diagnose)" if len(self.reproducing) > 3 else "")
        if len(self.tried) == 1:
            return ("no variant of the catalogue applies (no network to vary, no data preparation); how the text "
                    "printed it: nothing found")
        near = ", ".join(f"{t.variant} {_short(t.value)} ({t.units:.3g} units off)" for t in self.nearest)
        return "no variant in the catalogue reproduces it" + (f"; nearest: {near}" if near else "")


def settings_of(variant: str) -> str:
    """The frameworks' own settings that this variant is (each backend's registry ``settings``), in words;
    a pair names those of its parts."""
    from backprop_parity.reference import registry
    parts = variant.split(" + ")
    return ", ".join(f"{b.name}: {b.settings[p]}" for p in parts for b in registry.entries() if p in b.settings)


def _named(t: Tried) -> str:
    return f"{t.description} → {_short(t.value)}" + (f" [as {t.setting}]" if t.setting else "")


def _short(value) -> str:
    a = np.ravel(np.asarray(value, dtype=float)) if value is not None else np.array([])
    if a.size == 0:
        return "—"
    first = f"{a[0]:.10g}"
    return first if a.size == 1 else f"{first} … ({a.size} numbers)"


# --------------------------------------------------------------------------- digits of a print

def digits_of(printed) -> variants.Digits:
    """Decimals and significant digits of the longest printed element."""
    texts = [p.text for p in _flat(printed)]
    decimals = significant = 0
    for t in texts:
        s = normalize_printed(t).lstrip("+-")
        mant, _, exp = s.lower().partition("e")
        whole, _, frac = mant.partition(".")
        decimals = max(decimals, len(frac) - (int(exp) if exp else 0))
        significant = max(significant, len((whole + frac).lstrip("0")) or 1)
    return variants.Digits(decimals, significant)


def _flat(printed) -> list:
    return [x for p in printed for x in _flat(p)] if isinstance(printed, list) else [printed]


def typo(q, value: np.ndarray) -> str | None:
    """The one printed element whose digits differ from the correctly rounded value in exactly one digit
    (every other element within ½ unit), named as a probable typo; else None."""
    prints = _flat(q.printed)
    vals = np.ravel(value)
    if len(prints) != vals.size:
        return None
    off = [i for i, p in enumerate(prints) if not abs(vals[i] - p.value) <= p.half * (1 + 1e-9) + 1e-300]
    if len(off) != 1:
        return None
    p = prints[off[0]]
    if abs(vals[off[0]] - p.value) <= p.tolerance * (1 + 1e-9):
        return None              # within one unit: a rounding question, not a wrong digit
    text = normalize_printed(p.text)
    m = re.fullmatch(r"([+-]?)(\d*)\.?(\d*)", text)
    if not m or p.tolerance <= 0 or not math.isfinite(vals[off[0]]):
        return None
    decimals = len(m.group(3))
    right = f"{vals[off[0]]:.{decimals}f}"
    a, b = text.lstrip("+"), right
    if len(a) != len(b) or len(re.sub(r"\D", "", a).lstrip("0")) < TYPO_DIGITS:
        return None
    diffs = [i for i, (x, y) in enumerate(zip(a, b)) if x != y]
    if len(diffs) == 1 and a[diffs[0]].isdigit() and b[diffs[0]].isdigit():
        where = f"element {off[0]} " if len(prints) > 1 else ""
        return (f"one digit different — a probable typo: {where}printed {p.text}, the correctly rounded value is "
                f"{right} (digit {diffs[0] + 1} of the text)")
    return None


def truncated(q, value: np.ndarray) -> str | None:
    """Every printed element is the value either correctly rounded or with its digits cut (not rounded) after
    the last printed one — and at least one is cut."""
    prints = _flat(q.printed)
    vals = np.ravel(value)
    if len(prints) != vals.size or any(p.tolerance <= 0 for p in prints):
        return None
    rounded = [abs(v - p.value) <= p.half * (1 + 1e-9) for p, v in zip(prints, vals)]
    cut = [math.isfinite(v) and (v == 0 or p.value == 0 or np.sign(v) == np.sign(p.value))
           and -p.tolerance * 1e-9 <= abs(v) - abs(p.value) < p.tolerance * (1 + 1e-9) for p, v in zip(prints, vals)]
    n_cut = sum(1 for r, c in zip(rounded, cut) if c and not r)
    if n_cut and all(r or c for r, c in zip(rounded, cut)):
        some = "every printed number" if n_cut == len(prints) else f"{n_cut} of the {len(prints)} printed numbers"
        return (f"{some} with the digits after the last one cut, not rounded (a truncated print)"
                + ("" if n_cut == len(prints) else "; the others correctly rounded"))
    return None


# (name, check): how the text may have printed the reference's own value; tried after every variant
PRINT_CHECKS = (("truncated", truncated), ("typo", typo))


# --------------------------------------------------------------------------- trying variants

def _try(case: Case, q, v, got: Trace | None, error: str, expected, unit) -> Tried:
    name = "as written" if v is None else v.name
    base = dict(quantity=q.id, variant=name, family="" if v is None else v.family,
                description="the case as written" if v is None else v.description,
                setting="" if v is None else settings_of(v.name))
    if got is None:
        return Tried(value=None, max_abs_diff=math.inf, units=math.inf, reproduces=False, error=error, **base)
    c = case if v is None else v.change(case)
    try:
        with np.errstate(all="ignore"):
            actual = np.asarray(namespace(c, got).evaluate(q.of), dtype=float)
    except (expr.NoCounterpart, expr.ExprError, ValueError, TypeError, KeyError, IndexError) as exc:
        return Tried(value=None, max_abs_diff=math.inf, units=math.inf, reproduces=False,
                     error=f"{type(exc).__name__}: {exc}", **base)
    if actual.size != expected.size:
        return Tried(value=None, max_abs_diff=math.inf, units=math.inf, reproduces=False,
                     error=f"{actual.size} numbers, {expected.size} printed", **base)
    actual = actual.reshape(expected.shape)
    diff = np.abs(actual - expected)
    finite = bool(np.all(np.isfinite(diff)))
    worst = float(np.max(diff)) if finite and diff.size else math.inf
    with np.errstate(divide="ignore", invalid="ignore"):
        units = float(np.max(np.where(unit > 0, diff / np.where(unit > 0, unit, 1), np.where(diff == 0, 0, np.inf))))
    reproduces = finite and bool(np.all(diff <= unit / 2 * (1 + 1e-9) + 1e-300))
    return Tried(value=actual.tolist(), max_abs_diff=worst, units=units if finite else math.inf,
                 reproduces=reproduces, **base)


class _Runs:
    """Variant traces of one case, computed once and shared by its quantities."""

    def __init__(self, case: Case, base: Trace | None = None):
        self.case, self.done = case, {}
        if base is not None:                # the reference's trace of the case as written, already computed
            self.done[None] = (base, "")

    def get(self, v, epochs: int | None = None) -> tuple[Trace | None, str]:
        """The trace under variant ``v`` (None: as written); ``epochs``: train only that long (a quantity that
        reads nothing after the first epoch need not wait for the last)."""
        if v is None:
            key = None                      # as written: every number, every epoch
        else:
            key = (v.name, epochs)
        if key not in self.done and v is None:
            from . import backends as B
            from backprop_parity.reference import registry
            traces = B.run(self.case, registry.reference().name)
            found = next((t for t in traces if isinstance(t, Trace)), None)
            self.done[key] = (found, "" if found is not None else "; ".join(t.reason or "" for t in traces))
        if key not in self.done:
            case = self.case
            if epochs is not None and case.hyper.epochs != epochs:
                case = variants.with_hyper(case, epochs=epochs)
            try:
                base, _ = self.get(None)
                functions = base.functions if base is not None else {}
                if v.functions is not None:
                    functions = v.functions(functions)
                self.done[key] = (Trace("reference", v.name, variants.values(case, v), functions=functions), "")
            except CaseError as exc:
                self.done[key] = (None, exc.message)
            except Exception as exc:      # a variant the case cannot be run under (shapes, overflow …)
                self.done[key] = (None, f"{type(exc).__name__}: {exc}")
        return self.done[key]


AFTER_THE_FIRST_EPOCH = ("W_final", "b_final", "costs", "predict.")   # trace keys that need every epoch


def epochs_needed(case: Case, q) -> int:
    """Epochs a variant must train for ``q``: all when it reads what only the last epoch gives, else at most one."""
    if any(name.startswith(AFTER_THE_FIRST_EPOCH) for name in expr.names_used(q.of)):
        return case.hyper.epochs
    return min(case.hyper.epochs, 1)


def diagnose_quantity(case: Case, q, runs: _Runs | None = None, verdict: str = "") -> Diagnosis:
    runs = runs or _Runs(case)
    expected, unit = printed_array(q.printed)
    ref_values, err = runs.get(None)
    base = _try(case, q, None, ref_values, err, expected, unit)
    d = Diagnosis(case.name, q.id, q.label, verdict, [p.text for p in _flat(q.printed)],
                  base.value or [], [base])
    singles = []
    epochs = epochs_needed(case, q)
    for v in variants.catalogue(case, digits_of(q.printed)):
        got, err = runs.get(v, epochs)
        t = _try(case, q, v, got, err, expected, unit)
        if t.value is not None and base.value is not None and np.array_equal(t.value, base.value):
            t.no_effect = True
        d.tried.append(t)
        singles.append((v, t))
    if not d.reproducing:
        pool = [v for v, t in sorted(singles, key=lambda vt: vt[1].units)
                if t.value is not None and t.value != base.value][:PAIR_POOL]
        for i, a in enumerate(pool):
            for b in pool[i + 1:]:
                both = a.then(b)
                if both is None:
                    continue
                got, err = runs.get(both, epochs)
                d.tried.append(_try(case, q, both, got, err, expected, unit))
    if base.value is not None:
        for name, check in PRINT_CHECKS:
            text = check(q, np.asarray(base.value))
            if text is not None:
                d.tried.append(Tried(q.id, name, "print", text, base.value, base.max_abs_diff, base.units, True))
    return d


def targets(case: Case, only: str | None = None, runs: "_Runs | None" = None) -> list[tuple]:
    """[(quantity, the reference's verdict)] to diagnose: printed quantities the reference does not reproduce
    (or ``only``, whatever its verdict)."""
    if only is not None and only not in {q.id for q in case.quantities}:
        raise CaseError(case.path, "--quantity", f"no quantity {only!r} in this case "
                                                 f"(it has: {', '.join(q.id for q in case.quantities)})")
    out = []
    ref, err = (runs or _Runs(case)).get(None)
    if ref is None:
        raise CaseError(case.path, "network", f"the reference cannot run this case: {err}")
    for q in case.quantities:
        if only is not None and q.id == only and (q.printed is None or q.check != "value"):
            why = "a formula, not a printed number" if q.printed is None else f"checked by its side of {q.threshold:g}"
            raise CaseError(case.path, "--quantity", f"{only} is {why}: no printed digits to reproduce")
        if q.printed is None or q.check != "value" or (only is not None and q.id != only):
            continue
        try:
            row = article_comparison(case, q, ref)
            verdict = row.status
        except Exception as exc:
            verdict = f"error: {exc}"
        if only is not None or verdict in NEEDS:
            out.append((q, verdict))
    return out


def diagnose_case(case: Case, only: str | None = None, runs: "_Runs | None" = None) -> list[Diagnosis]:
    runs = runs or _Runs(case)
    return [diagnose_quantity(case, q, runs, verdict) for q, verdict in targets(case, only, runs)]


def summaries(case: Case, ref: Trace | None = None) -> dict:
    """{quantity id: one-line diagnosis} for the printed quantities of ``case`` the reference does not
    reproduce (what check, report and explain show next to an erratum or a mismatch). ``ref``: the
    reference's trace of ``case`` when the caller has it — unless it came from a store or another process
    without its functions (``act.*``, ``calc.*``: the case's expressions and every variant evaluate with them),
    when the reference runs again here: a reused result gets the diagnosis a fresh one gets. A float32 run is
    diagnosed on the case as written (float64): the question is how the article got its digits."""
    if not any(q.printed is not None for q in case.quantities):
        return {}
    if ref is not None and ref.evaluated and not ref.functions:
        ref = None                                  # portable (worker.portable): its functions stayed behind
    try:
        if case.net is not None and case.net.dtype != np.float64:
            from backprop_parity.reference.case import load
            case, ref = load(case.path), None       # as written: casting back would keep float32's rounding
        return {d.quantity: d.summary() for d in diagnose_case(case, runs=_Runs(case, ref))}
    except (CaseError, OSError):        # the comparison rows already report a case the reference cannot run
        return {}


# --------------------------------------------------------------------------- the command

def add_arguments(parser) -> None:
    parser.add_argument("case", help="a built-in case name or a path to a case file")
    parser.add_argument("--quantity", metavar="ID", help="diagnose this quantity (whatever its verdict)")
    parser.add_argument("--json", metavar="FILE",
                        help="write one JSON object per (quantity, variant) tried")
    parser.add_argument("--large", action="store_true", help="run a case beyond the memory and time budgets")


def render(diagnoses: list[Diagnosis], case: Case, width: int) -> list[str]:
    import textwrap
    wrap = lambda text, indent: textwrap.fill(text, width=max(40, width), initial_indent=indent,  # noqa: E731
                                              subsequent_indent=indent + "  ", break_long_words=True)
    lines = [f"{case.name} — {case.title}"]
    if not diagnoses:
        lines.append("  every printed number is reproduced by the reference as written: nothing to diagnose")
        return lines
    for d in diagnoses:
        lines.append("")
        lines.append(wrap(f"{d.quantity} — {d.label}", "  "))
        lines.append(wrap(f"printed {_texts(d.printed)}; reference {_short(d.reference)}; verdict: {d.verdict}", "    "))
        singles = [t for t in d.tried if t.family not in ("", "print") and " + " not in t.variant]
        pairs = [t for t in d.tried if " + " in t.variant]
        lines.append(f"    {len(singles)} variants tried" + (f", and {len(pairs)} pairs of them" if pairs else "")
                     + "; then how the text printed the reference's own value")
        if d.as_written:
            lines.append(wrap("the case as written reproduces it" + (
                "; these variants change the number and still reproduce the print (its digits cannot tell them "
                "apart):" if d.reproducing else "; no variant that changes the number also reproduces it"), "    "))
            for t in d.reproducing:
                lines.append(wrap(f"· {t.variant}: {t.description} → {_short(t.value)}"
                                  + (f" [{t.setting}]" if t.setting else ""), "      "))
        elif d.reproducing:
            lines.append("    reproduced by (simplest first):")
            for t in d.reproducing:
                lines.append(wrap(f"✓ {t.variant}: {t.description} → {_short(t.value)}"
                                  + (f" [{t.setting}]" if t.setting else ""), "      "))
        else:
            lines.append("    no variant in the catalogue reproduces it" + ("; nearest:" if d.nearest else ""))
            for t in d.nearest:
                lines.append(wrap(f"· {t.variant}: {t.description} → {_short(t.value)} ({t.units:.3g} units of the "
                                  f"last digit off)", "      "))
    return lines


def _texts(printed: list) -> str:
    return printed[0] if len(printed) == 1 else f"{printed[0]} … ({len(printed)} numbers)"


def main(args) -> int:
    import json
    import os
    import shutil
    import sys

    from backprop_parity.reference.case import load, resolve

    from .cli import _jsonable, writable, write_text
    writable(args.json, "--json")
    case = load(resolve(args.case))
    diagnoses = diagnose_case(case, args.quantity)
    width = int(os.environ.get("COLUMNS") or shutil.get_terminal_size((100, 24)).columns) - 1
    lines = render(diagnoses, case, width)
    if case.net is None:
        lines.insert(1, "  (no network in this case: of its functions the catalogue varies only the data preparation's "
                        "σ (prep.*); otherwise only how the text printed them is checked)")
    sys.stdout.write("\n".join(lines) + "\n")
    if args.json:
        rows = [t.as_dict() for d in diagnoses for t in d.tried]
        write_text(args.json, json.dumps([_jsonable(r) for r in rows], indent=1, ensure_ascii=False) + "\n", "--json")
    return 0
