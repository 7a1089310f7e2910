"""Numbers as the report and ``explain`` print them: values, differences, matrices."""

from __future__ import annotations

import math
import sys

import numpy as np

VALUE_DIGITS = 12          # significant digits of a computed value (float64 agreement is shown by the diff)
MAX_ROWS, MAX_COLS = 8, 8  # larger matrices are shown by their corners


def value(x, digits: int = VALUE_DIGITS) -> str:
    """One number: 12 significant digits, integers without a decimal point, no '-0'."""
    if x is None:
        return "—"
    if isinstance(x, str):
        return x
    x = float(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x == 0:
        return "0"
    if x == int(x) and abs(x) < 1e15:
        return str(int(x))
    return f"{x:.{digits}g}"


def diff(x) -> str:
    """A difference: 'exact' for 0, otherwise two significant digits."""
    if x is None:
        return "—"
    if isinstance(x, (list, np.ndarray)):            # per element: nested lists, or a row's large array (held)
        flat = np.ravel(np.asarray(x, dtype=float))
        if not flat.size:
            return "—"
        lo, hi = float(np.min(flat)), float(np.max(flat))
        return diff(lo) if lo == hi else f"{diff(lo)} … {diff(hi)}"
    if isinstance(x, str):
        return x
    x = float(x)
    if x == 0:
        return "0 (exact)"
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf"
    return f"{x:.2g}" if 1e-3 <= abs(x) < 1e4 else f"{x:.1e}"


def tolerance(x, per_element: str = " (per element)") -> str:
    """A bound as text; a per-element one as its range followed by ``per_element`` (a narrow table says " each")."""
    if x is None:
        return "—"
    if isinstance(x, (list, np.ndarray)):
        flat = np.ravel(np.asarray(x, dtype=float))
        return diff(x) + per_element if np.unique(flat).size > 1 else diff(float(flat[0]))
    return "0 (exact)" if x == 0 else diff(x)


def _grid(a) -> list[list[str]] | None:
    """A 0-, 1- or 2-D nested list as rows of cells (a vector is one row); None for >2-D."""
    if isinstance(a, np.ndarray):
        a = a.tolist()
    if not isinstance(a, list):
        return [[a]]
    if not a:
        return [[]]
    if not isinstance(a[0], list):
        return [list(a)]
    if a and isinstance(a[0], list) and a[0] and isinstance(a[0][0], list):
        return None
    return [list(r) for r in a]


def matrix_lines(a, texts: bool = False, digits: int = VALUE_DIGITS,
                 max_rows: int = MAX_ROWS, max_cols: int = MAX_COLS) -> list[str]:
    """A matrix as aligned text lines (numbers right-aligned per column); big ones by their corners."""
    grid = _grid(a)
    if grid is None:
        arr = np.asarray(a, dtype=float)
        return [f"array of shape {arr.shape}: " + ", ".join(value(v, digits) for v in arr.ravel()[:8]) + " …"]
    n_rows, n_cols = len(grid), max((len(r) for r in grid), default=0)
    shown = grid if n_rows <= max_rows else grid[:max_rows // 2] + [None] + grid[-(max_rows // 2):]
    cut = n_cols > max_cols

    def cell(v):
        return str(v) if texts else value(v, digits)
    cells = []                                # only the corners are formatted (a 1 797-row matrix shows 8 rows)
    for r in shown:
        if r is None:
            cells.append(["⋮"] * n_cols if not cut else ["⋮"] * (max_cols // 2) + ["…"] + ["⋮"] * (max_cols // 2))
        elif cut:
            keep = max_cols // 2
            cells.append([cell(v) for v in r[:keep]] + ["…"] + [cell(v) for v in r[-keep:]])
        else:
            cells.append([cell(v) for v in r])
    widths = [max(len(r[j]) for r in cells if j < len(r)) for j in range(max((len(r) for r in cells), default=0))]
    lines = ["  ".join(c.rjust(widths[j]) for j, c in enumerate(r)) for r in cells]
    if n_rows > max_rows or n_cols > max_cols:
        lines.append(f"({n_rows}×{n_cols}, corners shown)")
    return lines


def shape_of(a) -> tuple:
    try:
        return np.shape(np.asarray(a, dtype=float))
    except (ValueError, TypeError):
        return ()


def printed_texts(printed) -> list[str]:
    """The article's printed numbers (nested text) as aligned lines."""
    if isinstance(printed, str):
        return [printed]
    return matrix_lines(printed, texts=True)


def usage_error(message: str) -> int:
    """A usage mistake: one line on stderr (as the cli prints it) and exit code 2."""
    print(f"backprop-parity: error: {message}", file=sys.stderr)
    return 2
