"""Turn traces into comparisons: the rows of every table, CSV and JSON file.

Three sources of expectations:

* ``article``   — a quantity of the case file: the article's printed numbers (held
  at their printed precision) or the article's printed formula (evaluated on the
  backend's own numbers). Errata must still mismatch; ``differs`` conventions too.
* ``reference`` — every number in the NumPy reference's trace, against the same
  key in a framework's trace (float64 bound from ``tolerances``).
* ``gradcheck`` — backprop against centered differences, per backend.

Nothing passes by default: zero elements compared, a backend that is not
installed, a key a framework forgot — each is a failed row, not a quiet skip.
"""

from __future__ import annotations

import ast
import math
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from backprop_parity.reference import expr
from backprop_parity.reference.case import Case, CaseError, printed_array
from backprop_parity.reference.functions import COLUMNWISE

from . import tolerances

GRADCHECK_BOUND = {np.dtype(np.float64): 1e-7, np.dtype(np.float32): 1e-2}


@dataclass
class Comparison:
    case: str
    quantity: str
    label: str
    backend: str
    style: str
    source: str                  # "article" | "reference" | "gradcheck"
    section: str = ""
    expected: Any = None         # a number, nested lists, or (a reference row's large array) a read-only array: held()
    actual: Any = None
    max_abs_diff: float | None = None
    max_rel_diff: float | None = None
    tolerance: Any = None
    tolerance_reason: str = ""
    passed: bool | None = None   # None: nothing to compare (no counterpart), reported, not counted
    status: str = ""
    erratum: str | None = None
    reason: str | None = None
    n_elements: int = 0
    printed: Any = None          # the article's text, where there is one
    expression: str = ""
    float32_floor: float | None = None
    bound_ratio: float | None = None     # largest |diff| / bound over the elements (1 = at the bound)
    diagnosis: str | None = None         # printed numbers the reference does not reproduce: what does (diagnose)

    def as_dict(self) -> dict:
        return {name: getattr(self, name) for name in _FIELDS}     # no copies: every field is written out


_FIELDS = tuple(f.name for f in fields(Comparison))


def to_list(x):
    a = np.asarray(x, dtype=float)
    return a.tolist()


def held(x):
    """A trace's array as a row holds it: nested lists, as ``to_list`` — or, above ``cli.WRITTEN_NUMBERS``
    numbers, a read-only float array (a view, not a copy): the written rows hold only its shape and extremes
    (``cli.written``) and every display only its corners (``formatting.matrix_lines``), so the lists would be
    built for nothing — 26 million numbers of the digits case, 2.9 s of every check and report."""
    a = np.asarray(x, dtype=float)
    if a.size <= _written_numbers():
        return a.tolist()
    view = a.view()
    view.flags.writeable = False
    return view


def _written_numbers() -> int:
    from .cli import WRITTEN_NUMBERS
    return WRITTEN_NUMBERS


def _texts(printed):
    return [_texts(p) for p in printed] if isinstance(printed, list) else printed.text


# the optimizer's hyper-parameters an expression may name (those of the case's optimizer: the others do not apply)
OPTIMIZER_CONSTANTS = {"sgd": (), "momentum": ("momentum",), "nesterov": ("momentum",), "rmsprop": ("rho", "eps"),
                       "adam": ("beta1", "beta2", "eps"), "adamw": ("beta1", "beta2", "eps", "weight_decay")}


def namespace(case: Case, trace) -> expr.Namespace:
    values = dict(trace.values)
    values.update(case.arrays)
    for name, x in case.inputs.items():
        values[f"inputs.{name}"] = x
    h = case.hyper
    values.update({"l2": h.l2, "learning_rate": h.learning_rate, "h": h.h})
    values.update({name: getattr(h, name) for name in OPTIMIZER_CONSTANTS[h.optimizer]})
    if case.X is not None and case.net is not None:
        values["n"] = float(case.X.shape[case.net.example_axis])
    return expr.Namespace(values, trace.missing, trace.functions)


def _diffs(actual: np.ndarray, expected: np.ndarray):
    diff = np.abs(actual - expected)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(expected != 0, diff / np.abs(expected), np.where(diff == 0, 0.0, np.inf))
    return diff, rel


def _within(diff, tol):
    # one unit of the last printed digit, with a hair of slack for binary rounding of the text itself
    return diff <= tol * (1 + 1e-9) + 1e-300


# --------------------------------------------------------------------------- expressions, here or in a worker
#
# An expression may call the backend's own functions (``act.sigmoid_prime(2)``, ``loss.mse(y, yhat)``),
# which exist only in the process that ran the backend. There, every ``of`` and ``formula`` of the
# case is evaluated on each trace and its outcome kept in ``trace.evaluated[text]`` (a value, or the
# exception it raised, described); here, :func:`_value` replays that outcome, so every row comes out
# exactly as if the expression had been evaluated in this process.

class _BackendError(Exception):
    """An exception an expression raised in the backend's process, replayed: ``str`` is its message,
    ``described`` is "Type: message" as that process would have written it."""

    def __init__(self, message: str, described: str):
        super().__init__(message)
        self.described = described


class _BackendValueError(_BackendError, ValueError):
    """Replayed ValueError or TypeError (what a formula that does not fit the shapes raises)."""


@dataclass(frozen=True)
class Outcome:
    """What evaluating one expression on one trace gave: a float array, or the exception it raised."""

    kind: str                      # "value" | "no counterpart" | "expr error" | "error"
    value: Any = None              # the float array ("value")
    key: str = ""                  # NoCounterpart's key
    message: str = ""              # NoCounterpart's reason, or str(exception)
    described: str = ""            # "Type: message" ("error")
    value_or_type_error: bool = False
    evaluated: bool = True         # the expression itself evaluated (only the float conversion failed)

    def result(self):
        if self.kind == "value":
            return self.value
        if self.kind == "no counterpart":
            raise expr.NoCounterpart(self.key, self.message)
        if self.kind == "expr error":
            raise expr.ExprError(self.message)
        cls = _BackendValueError if self.value_or_type_error else _BackendError
        raise cls(self.message, self.described)


def outcome(ns: expr.Namespace, text: str) -> Outcome:
    """Evaluate ``text`` as a float array, keeping whatever it raised (in the backend's process)."""
    evaluated = False
    try:
        with np.errstate(all="ignore"):
            value = ns.evaluate(text)
            evaluated = True
            return Outcome("value", np.asarray(value, dtype=float))
    except expr.NoCounterpart as exc:
        return Outcome("no counterpart", key=exc.key, message=exc.reason)
    except expr.ExprError as exc:
        return Outcome("expr error", message=str(exc), evaluated=evaluated)
    except Exception as exc:
        return Outcome("error", message=str(exc), described=_described(exc),
                       value_or_type_error=isinstance(exc, (ValueError, TypeError)), evaluated=evaluated)


def evaluate_quantities(case: Case, trace) -> dict:
    """{text: Outcome} for every ``of`` and ``formula`` of the case on this trace (run where the
    trace's functions live; the trace then travels without them)."""
    ns = namespace(case, trace)
    out = {}
    for q in case.quantities:
        for text in (q.of, q.formula, *q.differs_value.values()):
            if text is not None and text not in out:
                out[text] = outcome(ns, text)
    return out


def _value(ns: expr.Namespace, trace, text: str):
    """``text`` evaluated as a float array: the outcome the backend's process recorded, else here."""
    recorded = (getattr(trace, "evaluated", None) or {}).get(text)
    if recorded is not None:
        return recorded.result()
    with np.errstate(all="ignore"):
        return np.asarray(ns.evaluate(text), dtype=float)


def _described(exc: BaseException) -> str:
    return getattr(exc, "described", None) or f"{type(exc).__name__}: {exc}"


def _evaluate(ns: expr.Namespace, trace, text: str, case: Case, where: str):
    """Evaluate as a float array, turning a case-file mistake into a CaseError; NoCounterpart passes through."""
    try:
        return _value(ns, trace, text)
    except expr.NoCounterpart:
        raise
    except expr.ExprError as exc:
        raise CaseError(case.path, where, str(exc)) from None


def _ordinal(k: int) -> str:
    return f"{k}{'th' if 10 <= k % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(k % 10, 'th')}"


def printed_precision_words(unit) -> str:
    """The tolerance of printed numbers in words, from each element's unit of its last printed digit: '½ unit of
    the 9th decimal (5e-10)' when they share one, else the range."""
    units = sorted({float(u) for u in np.ravel(unit) if u > 0})
    if not units:
        return "printed precision: exact (every number printed is an integer)"
    if len(units) == 1:
        k = -math.log10(units[0])
        digit = (f"the {_ordinal(round(k))} decimal" if units[0] < 1 and abs(k - round(k)) < 1e-9
                 else "the last printed digit")
        where = f"½ unit of {digit} ({units[0] / 2:g})"
    else:
        where = f"½ unit of each number's last printed digit ({units[0] / 2:g} … {units[-1] / 2:g})"
    return (f"printed precision: {where}, what a correctly rounded print allows (within one unit but not ½: "
            f"'not correctly rounded'; exact for integers)")


def article_comparison(case: Case, q, trace, ref=None) -> Comparison:
    row = Comparison(case.name, q.id, q.label, trace.backend, trace.style, "article", q.section,
                     erratum=q.erratum, expression=q.of)
    ns = namespace(case, trace)
    try:
        actual = _evaluate(ns, trace, q.of, case, f"{q.where}.of")
    except expr.NoCounterpart as exc:
        row.status, row.reason = "no counterpart", exc.reason
        return row
    except CaseError as exc:
        if ref is None or trace is ref or not _evaluates(case, q.of, ref):
            raise                              # the case file names something that does not exist
        row.status, row.passed = "MISSING", False   # the reference has it: this backend forgot it
        row.reason = f"{trace.backend}/{trace.style} cannot evaluate {q.of}: {exc.message}"
        return row
    except Exception as exc:  # the backend itself failed on this quantity
        row.status, row.passed, row.reason = "error", False, _described(exc)
        return row
    row.actual = to_list(actual)

    half = None                                  # ½ unit per printed element: a correctly rounded print
    if q.printed is not None:
        expected, tol = printed_array(q.printed)
        row.printed = _texts(q.printed)
        if q.tolerance is not None:
            tol = np.full(expected.shape, q.tolerance)
            row.tolerance_reason = q.tolerance_reason
        else:
            half = tol / 2
            row.tolerance_reason = printed_precision_words(tol)
        if np.dtype(case_dtype(case)) == np.float32 and expected.size:
            # float32 carries ~7 significant digits: printed digits beyond that cannot be held.
            largest = float(np.max(np.abs(expected)))
            scale = max(largest, _rounding_scale(case, trace, q.of))
            floor = tolerances.REL_FLOAT32 * scale
            if np.any(tol < floor):
                tol = np.maximum(tol, floor)
                half = None if half is None else np.maximum(half, floor)
                row.tolerance_reason += (f"; float32 run: at least {tolerances.REL_FLOAT32:g} × " + (
                    f"the largest |value| ({floor:.1e}), since float32 holds ~7 significant digits" if scale == largest
                    else f"the rounding scale of {q.of} ({scale:.1e}: the magnitudes it is computed from, "
                         f"larger than the value) = {floor:.1e}"))
                row.float32_floor = floor
    else:
        try:
            expected = _value(ns, trace, q.formula)
        except expr.NoCounterpart as exc:
            row.status, row.reason = "no counterpart", exc.reason
            return row
        except expr.ExprError as exc:
            raise CaseError(case.path, f"{q.where}.formula", str(exc)) from None
        except (ValueError, TypeError) as exc:   # the printed formula does not even fit the shapes
            row.n_elements = int(actual.size)   # the quantity was computed; the formula cannot be
            return _formula_unusable(row, q, exc)
        by_column = columnwise(q.of, expected)
        bound = q.tolerance if q.tolerance is not None else tolerances.rel_bound(case_dtype(case)) * _scale(expected, by_column)
        tol = np.broadcast_to(bound, expected.shape).copy()
        row.tolerance_reason = q.tolerance_reason or (
            f"the article's formula on this backend's own numbers: {tolerances.rel_bound(case_dtype(case)):g} "
            f"relative to the largest |value|" + (" of each column (a column-wise function: each column is computed "
                                                  "from its own numbers)" if by_column else ""))
        row.printed = q.formula
    row.expected = to_list(expected)

    if actual.size != expected.size or np.squeeze(actual).shape != np.squeeze(expected).shape:
        field = "printed" if q.printed is not None else "formula"
        raise CaseError(case.path, f"{q.where}.{field}",
                        f"{expected.size} numbers {'printed' if field == 'printed' else 'from the formula'} "
                        f"(shape {expected.shape}) but {q.of} has {actual.size} (shape {actual.shape})")
    if actual.size == 0:
        row.status, row.passed, row.reason = "empty", False, "comparison over zero elements"
        return row
    actual = actual.reshape(expected.shape)
    diff, rel = _diffs(actual, expected)
    row.n_elements = int(actual.size)
    row.max_abs_diff = float(np.max(diff)) if np.all(np.isfinite(diff)) else math.inf
    row.max_rel_diff = float(np.max(rel))
    shown = tol if half is None else half
    row.tolerance = float(shown.flat[0]) if np.all(shown == shown.flat[0]) else to_list(shown)
    if np.dtype(case_dtype(case)) == np.float32 and "gradcheck." in (q.of + (q.formula or "")):
        noise = 64 * tolerances.EPS32 * max(abs(float(trace.values.get("J", 1.0))), 1.0) / case.hyper.h
        row.passed, row.status = None, "undecidable in float32"
        row.reason = (f"centered differences in float32 carry rounding noise up to 64·eps32·max(|J|,1)/h = "
                      f"{noise:.1e}: not comparable with numbers computed in float64; run in float64")
        return row

    if q.check == "side":
        same = np.sign(actual - q.threshold) == np.sign(expected - q.threshold)
        holds = bool(np.all(same))
        row.tolerance_reason = (f"only the side of {q.threshold:g} is checked: "
                                + (q.tolerance_reason or "the printed values come from an unseeded run"))
        row.tolerance = None
    else:
        holds = bool(np.all(_within(diff, tol)))            # within one unit (the tolerance given, if any)
    differs = q.differs_for(trace.backend, trace.style)
    expect_mismatch = q.erratum is not None or differs is not None
    if half is not None and holds and not expect_mismatch and q.check != "side":
        return _rounding_verdict(row, q, expected, actual, diff, half)
    if differs is not None:
        row.reason = differs
    resolution = row.float32_floor or (tolerances.REL_FLOAT32 * float(np.max(np.abs(expected)))
                                       if np.dtype(case_dtype(case)) == np.float32 else None)
    if expect_mismatch and resolution and float(np.max(diff)) <= 10 * resolution:
        row.passed, row.status = None, "undecidable in float32"
        row.reason = (f"the mismatch ({float(np.max(diff)):.1e}) is within float32 rounding; run in float64 "
                      f"to decide. " + (row.reason or ""))
        return row
    if expect_mismatch:
        row.passed = not holds
        label = "erratum" if q.erratum is not None else "convention"
        row.status = f"{label} confirmed" if not holds else f"{label} NOT reproduced (now matches)"
        declared = _declared_value(case, q, trace, ns, actual)
        if row.passed and declared is not None:
            row.passed, row.status, row.reason = declared
    elif q.check == "side":                   # the verdict says what was checked: not the digits, the side
        row.passed = holds
        row.status = f"same side of {q.threshold:g}" if holds else f"OTHER SIDE of {q.threshold:g}"
    else:
        row.passed = holds
        row.status = "match" if holds else "MISMATCH"
    return row


def _declared_value(case: Case, q, trace, ns, actual):
    """When the case gives the convention's own formula (``differs_value``), the differing backend must match
    it, not merely mismatch the article: (passed, status, reason), or None without such a formula."""
    key = next((k for k in (f"{trace.backend}/{trace.style}", trace.backend) if k in q.differs_value), None)
    if key is None:
        return None
    try:
        value = np.asarray(_value(ns, trace, q.differs_value[key]), dtype=float)
    except Exception as exc:
        return False, "error", f"the convention's formula {q.differs_value[key]} cannot be evaluated: {_described(exc)}"
    why = q.differs_for(trace.backend, trace.style)
    if value.size != actual.size:
        return False, "convention NOT as declared", f"{why}; its formula gives {value.size} numbers, not {actual.size}"
    value = value.reshape(actual.shape)
    bound = tolerances.rel_bound(case_dtype(case)) * _scale(value, columnwise(q.of, value))
    worst = float(np.max(np.abs(actual - value))) if value.size else 0.0
    if not np.all(np.abs(actual - value) <= bound):
        return False, "convention NOT as declared", (f"{why}; but this backend is {worst:.1e} from that convention's own "
                                                     f"number ({q.differs_value[key]}): another difference")
    return True, "convention confirmed", why


def columnwise(of: str, value) -> bool:
    """Whether a matrix quantity is a column-wise function's result (``prep.standardize(cars)``): each column
    computed from its own column only, so each keeps its own rounding scale (km next to years)."""
    return np.ndim(value) == 2 and of.strip().startswith(COLUMNWISE)


def _scale(value, by_column: bool):
    """The magnitude a relative bound multiplies: the largest |value|, of each column when ``by_column``."""
    value = np.abs(np.asarray(value, dtype=float))
    if not value.size:
        return 1e-300
    return np.maximum(value.max(axis=0, keepdims=True), 1e-300) if by_column else max(float(value.max()), 1e-300)


def _rounding_verdict(row: Comparison, q, expected, actual, diff, half) -> Comparison:
    """Every printed element is within one unit of its last digit: ``match`` when each is within ½ unit
    (a correctly rounded print), else ``not correctly rounded`` — a pass only where the case says why."""
    loose = ~_within(diff, half)
    if not np.any(loose):
        if q.rounding is not None and row.float32_floor is not None:
            row.passed, row.status = None, "undecidable in float32"
            row.reason = (f"the case says the print is not correctly rounded ({q.rounding}); float32 resolution "
                          f"({row.float32_floor:.1e}) is coarser than ½ unit of those digits: run in float64 to decide")
        elif q.rounding is not None:
            row.passed, row.status = False, "rounding NOT reproduced (now correctly rounded)"
            row.reason = f"the case says the print is not correctly rounded ({q.rounding}), but every element is now within ½ unit"
        else:
            row.passed, row.status = True, "match"
        return row
    texts = [p for p in np.ravel(np.asarray(row.printed, dtype=object))] if isinstance(row.printed, list) else [row.printed]
    k = int(np.argmax(np.where(loose, diff / np.where(half > 0, half, 1.0), -1.0)))
    example = (f"printed {texts[k]}, computed {float(np.ravel(actual)[k]):.{_digits(float(np.ravel(half)[k]))}f}: "
               f"{float(np.ravel(diff)[k]) / (2 * float(np.ravel(half)[k])):.2f} units of its last digit")
    count = f"{int(np.sum(loose))} of {loose.size} printed numbers" if loose.size > 1 else "the printed number"
    row.status = "not correctly rounded"
    if q.rounding is not None:
        row.passed = True
        row.reason = f"{q.rounding} ({count} within one unit of the last digit, not ½; {example})"
    else:
        row.passed = False
        row.reason = (f"{count} within one unit of the last digit but not within ½ ({example}): not the correctly "
                      f"rounded value; if the text rounds this way, say why in the case with rounding = \"…\"")
    return row


def _digits(half: float) -> int:
    """Decimals that show two digits past the printed last digit (½ unit = ``half``)."""
    if half <= 0:
        return 0
    return max(0, min(20, int(math.ceil(-math.log10(2 * half))) + 2))


def _evaluates(case: Case, text: str, trace) -> bool:
    recorded = (getattr(trace, "evaluated", None) or {}).get(text)
    if recorded is not None:
        return recorded.evaluated and recorded.kind in ("value", "error")
    try:
        with np.errstate(all="ignore"):
            namespace(case, trace).evaluate(text)
        return True
    except Exception:
        return False


def _formula_unusable(row: Comparison, q, exc: Exception) -> Comparison:
    row.printed = q.formula
    row.reason = f"the printed formula cannot be evaluated: {exc}"
    if q.erratum is not None:
        row.passed, row.status = True, "erratum confirmed"
    else:
        row.passed, row.status = False, "error"
    return row


def case_dtype(case: Case):
    return case.net.dtype if case.net is not None else np.float64


def reference_comparisons(case: Case, trace, ref) -> list[Comparison]:
    """Every number of the reference's trace against this backend's, each element at its own bound (a
    mismatch the case declares as this backend's convention is confirmed as such: ``_declared_difference``)."""
    scales = _scales(case, ref)
    rows = []
    for key in ref.values:
        row = reference_row(case, trace, ref, key, scales)
        rows.append(_declared_difference(case, key, trace, row))
    return rows


def form_rows(case: Case, trace, ref, note: str) -> list[Comparison]:
    """How far a style's optimizer, written in its framework's form, ends from the case's form: its costs and
    final parameters against the reference run in the case's form. Its own form is held at the float64 bound
    by the effective-case rows; these rows measure the difference the form makes (``convention confirmed``
    when it shows, ``match`` when the forms agree on this case, as momentum's do while lr is constant)."""
    scales = _scales(case, ref)
    rows = []
    for key in ref.values:
        if key == "costs" or key.startswith(("W_final[", "b_final[")):
            row = reference_row(case, trace, ref, key, scales)
            row.quantity = row.label = f"{key} vs the case's form"
            row.source = "form"
            if row.status == "MISMATCH":
                row.passed, row.status = True, "convention confirmed"
                row.reason = f"{trace.backend}/{trace.style}: " + note.split(": ", 1)[-1].replace(
                    "; the reference is run in that form", "") + f" — {key} differs by up to {row.max_abs_diff:.3g}"
            elif row.passed:
                row.reason = "the two forms give the same numbers on this case"
            rows.append(row)
    return rows


def _declared_difference(case: Case, key: str, trace, row: Comparison) -> Comparison:
    """A MISMATCH of ``key`` that the case declares: a quantity reading ``key`` says this backend/style
    differs (a framework's convention at an edge) — the row is that convention, confirmed, with its reason.
    (The quantity's own row asserts the difference; a key that still matches within rounding stays a match.)"""
    if row.status != "MISMATCH":
        return row
    why = next((w for q in case.quantities if key in expr.names_used(q.of)
                for w in [q.differs_for(trace.backend, trace.style)] if w is not None), None)
    if why is not None:
        row.passed, row.status, row.reason = True, "convention confirmed", why
    return row


def reference_row(case: Case, trace, ref, key: str, scales: dict | None = None) -> Comparison:
    """One key of the reference's trace against this backend's (``scales``: the reference's element scales)."""
    scales = _scales(case, ref) if scales is None else scales
    row = Comparison(case.name, key, key, trace.backend, trace.style, "reference", expression=key)
    if key in trace.missing:
        row.status, row.reason = "no counterpart", trace.missing[key]
        return row
    if key not in trace.values:
        row.status, row.passed = "MISSING", False
        row.reason = f"{trace.backend}/{trace.style} produced no {key} and gave no reason"
        return row
    ref_value = ref.values[key]
    expected = np.asarray(ref_value, dtype=float)
    actual = np.asarray(trace.values[key], dtype=float)
    row.expected, row.actual = held(expected), held(actual)
    if actual.shape != expected.shape:
        row.status, row.passed = "SHAPE", False
        row.reason = f"shape {actual.shape}, reference {expected.shape}"
        return row
    if actual.size == 0:
        row.status, row.passed, row.reason = "empty", False, "comparison over zero elements"
        return row
    tol, why, tol_array, shared = _reference_bound(case, ref, key, scales)
    diff, rel = _diffs(actual, expected)
    row.n_elements = int(actual.size)
    finite = np.isfinite(expected) & np.isfinite(actual)
    same_nonfinite = np.all((finite) | (np.isnan(expected) & np.isnan(actual)) | (expected == actual))
    row.max_abs_diff = float(np.max(np.where(finite, diff, 0.0))) if same_nonfinite else math.inf
    row.max_rel_diff = float(np.max(np.where(finite, rel, 0.0))) if same_nonfinite else math.inf
    row.tolerance = float(tol) if np.ndim(tol) == 0 else shared if shared is not None else held(tol_array)
    row.tolerance_reason = why
    row.bound_ratio = _bound_ratio(np.where(finite, diff, 0.0), tol_array) if same_nonfinite else math.inf
    row.passed = bool(same_nonfinite and np.all(np.where(finite, diff <= tol_array, True)))
    row.status = "match" if row.passed else "MISMATCH"
    return row


_SCALES: dict = {}
_BOUNDS: dict = {}


def _reference_bound(case: Case, ref, key: str, scales: dict):
    """(tolerance, reason, per-element array, the array as rows share it or None) of ``key`` against the reference:
    once per reference trace and case for every backend and style compared with it. Above ``cli.WRITTEN_NUMBERS``
    numbers the rows share one read-only array (``held``): nine styles of the digits case held nine copies of each
    180 000-element bound; smaller ones become each row's own lists."""
    found = _BOUNDS.get(id(ref.values))
    if found is None or found[0] is not ref.values or found[1] is not case:
        if len(_BOUNDS) > 16:
            _BOUNDS.clear()
        found = _BOUNDS[id(ref.values)] = (ref.values, case, {})
    bounds = found[2]
    if key not in bounds:
        ref_value = ref.values[key]
        tol, why = tolerances.reference_tolerance(key, ref_value, ref.values, case, scales)
        tol_array = np.broadcast_to(np.asarray(tol, dtype=float), np.shape(ref_value))
        big = np.ndim(tol) and tol_array.size > _written_numbers()
        bounds[key] = (tol, why, tol_array, held(tol_array) if big else None)
    return bounds[key]


def _scales(case: Case, ref) -> dict:
    """``tolerances.element_scales`` of the reference's trace, once per trace (every backend reuses it)."""
    key = id(ref.values)
    found = _SCALES.get(key)
    if found is None or found[0] is not ref.values:
        if len(_SCALES) > 64:
            _SCALES.clear()
        found = _SCALES[key] = (ref.values, tolerances.element_scales(ref.values, case.net, case.hyper))
    return found[1]


_SELECTION = (ast.Expression, ast.Name, ast.Load, ast.Attribute, ast.Subscript, ast.Slice, ast.Constant, ast.Tuple,
              ast.UnaryOp, ast.USub)


def _rounding_scale(case: Case, trace, text: str) -> float:
    """The largest rounding scale (``tolerances.element_scales``) of the elements ``text`` selects from the trace
    — when it only selects (a key, an index, a slice); 0 when it computes something else or the key has none."""
    if case.net is None or not hasattr(trace, "values"):
        return 0.0
    try:
        if not all(isinstance(n, _SELECTION) for n in ast.walk(ast.parse(text, mode="eval"))):
            return 0.0
        scales = dict(_scales(case, trace))
        if "J" in scales and "costs" in trace.values:      # every cost carries the rounding of J
            scales["costs"] = np.full(np.shape(trace.values["costs"]), float(scales["J"]))
        names = expr.names_used(text)
        value = expr.Namespace({k: v for k, v in scales.items() if k in names}).evaluate(text)
        value = np.abs(np.asarray(value, dtype=float))
        return float(np.max(value)) if value.size and np.all(np.isfinite(value)) else 0.0
    except Exception:                 # not a selection of scaled keys: the value's own size rules
        return 0.0


def _bound_ratio(diff: np.ndarray, tol: np.ndarray) -> float:
    """The largest diff / bound over the elements: how much of its tolerance the worst element uses."""
    if not diff.size or not np.any(diff > 0):
        return 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(diff > 0, np.where(tol > 0, diff / tol, np.inf), 0.0)
    return float(np.max(r))


def gradcheck_comparison(case: Case, trace) -> Comparison | None:
    if "gradcheck.rel_error" not in trace.values and "gradcheck.rel_error" not in trace.missing:
        return None
    bound = GRADCHECK_BOUND[np.dtype(case_dtype(case))]
    row = Comparison(case.name, "gradcheck.rel_error", "backprop vs centered differences", trace.backend,
                     trace.style, "gradcheck", expression="gradcheck.rel_error", tolerance=bound,
                     tolerance_reason=(f"relative error ‖V1 − V2‖/‖V1 + V2‖ below {bound:g} "
                                       f"(h = {case.hyper.h:g}; truncation error O(h²))"))
    if "gradcheck.rel_error" in trace.missing:
        row.status, row.reason = "no counterpart", trace.missing["gradcheck.rel_error"]
        return row
    value = float(trace.values["gradcheck.rel_error"])
    row.actual, row.expected, row.n_elements = value, 0.0, 1
    row.max_abs_diff = value
    noise = _gradcheck_noise(case, trace)
    if noise is not None and noise >= bound and not value < bound:
        row.passed, row.status = None, "undecidable: rounding"
        row.reason = (f"the centered differences' own rounding, 64·eps·S(J)/h·√P / ‖V1 + V2‖ = {noise:.1e}, is above "
                      f"the bound {bound:g}: J (rounding scale S(J) from its inputs) is too coarse for h = "
                      f"{case.hyper.h:g} to check a gradient this small")
        return row
    row.passed = bool(value < bound)
    row.status = "match" if row.passed else "MISMATCH"
    return _declared_difference(case, "gradcheck.rel_error", trace, row)


def _gradcheck_noise(case: Case, trace) -> float | None:
    """What rounding alone can give the relative error of gradient checking on this trace (None: unknown)."""
    if case.net is None:
        return None
    tol, _ = tolerances.reference_tolerance("gradcheck.rel_error", 0.0, trace.values, case,
                                            tolerances.element_scales(trace.values, case.net, case.hyper))
    return float(tol) if np.ndim(tol) == 0 and np.isfinite(tol) else None


def not_run(case: Case, backend: str, style: str, reason: str) -> Comparison:
    return Comparison(case.name, "*", "backend not run", backend, style, "reference", passed=False,
                      status="NOT RUN", reason=reason)


def compare_case(case: Case, traces: list, ref=None, effective: dict | None = None) -> list[Comparison]:
    """All rows of one case: article quantities on every trace, reference parity, gradient checks.

    ``effective`` maps a backend to {style: (reference trace, note)} when a style computes a slightly
    different case than the one given (a leaky slope kept as float32, an optimizer written in another
    form): its reference rows are then held to the reference run on that effective case, and say so.
    """
    rows: list[Comparison] = []
    for trace in traces:
        if isinstance(trace, Comparison):      # a backend that could not run
            rows.append(trace)
            continue
        start = len(rows)
        for q in case.quantities:
            rows.append(article_comparison(case, q, trace, ref))
        found = (effective or {}).get(trace.backend) or {}
        if trace.style in found:
            eff_ref, note, eff_case = (*found[trace.style], case)[:3]
            if eff_ref is None:         # the reference could not run the case this backend computes
                rows.append(Comparison(case.name, "*", "effective case", trace.backend, trace.style, "reference",
                                       passed=False, status="ERROR", reason=note))
            # the effective case's own hyper-parameters give its element scales (a momentum buffer is g, not lr·g)
            for row in (reference_comparisons(eff_case, trace, eff_ref) if eff_ref is not None else []):
                row.tolerance_reason = (f"against the reference run on {trace.backend}/{trace.style}'s effective case "
                                        f"({note}); " + row.tolerance_reason)
                rows.append(row)
            # the style's optimizer is written in another form than the case's: how far apart the forms end
            if (eff_ref is not None and ref is not None and "costs" in eff_ref.values
                    and eff_case.hyper.form != case.hyper.form):
                rows.extend(form_rows(case, trace, ref, note))
        elif ref is not None and trace is not ref:
            rows.extend(reference_comparisons(case, trace, ref))
        g = gradcheck_comparison(case, trace)
        if g is not None:
            rows.append(g)
        if not any(r.passed is not None for r in rows[start:]):
            rows.append(Comparison(case.name, "*", "nothing compared", trace.backend, trace.style, "reference",
                                   passed=False, status="NOTHING COMPARED",
                                   reason=f"{trace.backend}/{trace.style} produced no number that could be compared"))
    return rows
