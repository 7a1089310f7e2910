"""The report's plots, as inline SVG built from numbers and escaped names (no image library, no load: the page's
CSP allows inline markup). Every plot is drawn in milliseconds, so nothing is stored between runs.

* :func:`agreement_plot` — one row per printed quantity (or per trace key), one marker per backend style: how much
  of its tolerance the largest difference uses, on a log scale where the tolerance is one line for every row.
  Left of the line a comparison holds; an erratum is meant to sit right of it; bit-for-bit agreement has a
  column of its own.
* :func:`curves_plot` — a per-epoch curve (the cost, a classifier's accuracy) of every style, and, beside it,
  how far each framework's curve drifts from NumPy's, epoch by epoch.

Widths are in px of a ``viewBox``: the page scales a plot down on a phone, never crops it; the legend is laid out
in rows that fit the width, so it cannot be clipped.
"""

from __future__ import annotations

import hashlib
import html
import math

import numpy as np

from backprop_parity.reference import registry
from backprop_parity.reports.diagram import svg_frame

EXTRA_COLOURS = ["#009E73", "#CC79A7", "#F0E442", "#999999"]   # Okabe–Ito, for a style no info.py declares
WIDTH = 560                    # px of the viewBox: at 390 px a phone shows it at 0.65, text at 7 px or more
FONT = 11
ROW = 17                       # px per quantity row
LO, HI = -10.0, 3.0            # log10(|diff| ÷ tolerance): 1e-10 of the bound … 1000× past it
FLOOR = -18                    # where an exact 0 is drawn on a log axis of differences
MAX_POINTS = 240               # a curve longer than this is drawn through each bucket's lowest and highest value


def colour(backend: str, style: str, i: int = 0) -> str:
    """The style's colour as its backend's info.py declares it (colour-blind safe: Okabe–Ito)."""
    s = registry.style(backend, style)
    return s.colour if s is not None else EXTRA_COLOURS[i % len(EXTRA_COLOURS)]


def marker(backend: str, style: str) -> str:
    s = registry.style(backend, style)
    return s.marker if s is not None else "P"


def _is_reference(backend: str) -> bool:
    return backend == registry.reference().name


def _esc(text) -> str:
    return html.escape(str(text), quote=True)


def _shape(kind: str, x: float, y: float, r: float, fill: str, stroke: str) -> str:
    """A marker (the registry's letters: o s D ^ v < > h P X) centred on (x, y)."""
    paint = f'fill="{fill}" stroke="{stroke}" stroke-width="1.3"'
    if kind == "s":
        return f'<rect x="{x - r:.1f}" y="{y - r:.1f}" width="{2 * r:.1f}" height="{2 * r:.1f}" {paint}/>'
    pts = {"D": [(0, -1.25), (1.25, 0), (0, 1.25), (-1.25, 0)],
           "^": [(0, -1.2), (1.1, 0.9), (-1.1, 0.9)],
           "v": [(0, 1.2), (1.1, -0.9), (-1.1, -0.9)],
           "<": [(-1.2, 0), (0.9, -1.1), (0.9, 1.1)],
           ">": [(1.2, 0), (-0.9, -1.1), (-0.9, 1.1)],
           "h": [(0, -1.2), (1.04, -.6), (1.04, .6), (0, 1.2), (-1.04, .6), (-1.04, -.6)],
           "P": [(-.4, -1.1), (.4, -1.1), (.4, -.4), (1.1, -.4), (1.1, .4), (.4, .4), (.4, 1.1), (-.4, 1.1),
                 (-.4, .4), (-1.1, .4), (-1.1, -.4), (-.4, -.4)],
           "X": [(-1, -.6), (-.6, -1), (0, -.4), (.6, -1), (1, -.6), (.4, 0), (1, .6), (.6, 1), (0, .4), (-.6, 1),
                 (-1, .6), (-.4, 0)]}.get(kind)
    if pts is None:
        return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}" {paint}/>'
    return ('<polygon points="' + " ".join(f"{x + dx * r:.1f},{y + dy * r:.1f}" for dx, dy in pts)
            + f'" {paint}/>')


STYLE = ("<style>.plot text{font:11px 'DejaVu Sans',sans-serif;fill:#1b1f24}.plot .m{fill:#57606a;font-size:10px}"
         ".plot .ax{stroke:#8c959f;stroke-width:1}.plot .grid{stroke:#e6e9ec;stroke-width:1}"
         ".plot .bound{stroke:#57606a;stroke-width:1.6;stroke-dasharray:5 3}.plot .ql text{text-decoration:underline dotted}.plot .past{fill:#cf222e;opacity:.07}"
         ".plot .exact{fill:#1a7f37;opacity:.08}.plot .stripe{fill:#f3f5f7}.plot .amber{fill:#9a6700;font-weight:bold}"
         "@media (prefers-color-scheme: dark){.plot text{fill:#e6edf3}.plot .m{fill:#9da7b3}"
         ".plot .grid{stroke:#30363d}.plot .stripe{fill:#161b22}.plot .amber{fill:#d29922}"
         ".plot .bound{stroke:#9da7b3}}"
         "</style>")


def _paint(c: str) -> tuple:
    """(fill, stroke) of a style colour: black (the reference) is the text's colour, so it follows the page
    into dark mode (``currentColor`` reaches a marker drawn with ``<use>`` too, where a class would not)."""
    if c.lower() in ("#000", "#000000", "black"):
        return "currentColor", "currentColor"
    return c, c


def _frame(width: float, height: float, title: str, parts: list) -> str:
    return svg_frame(width, height, title, "plot", STYLE, parts)


def _legend(styles: list, y: float, width: float, lines: bool = False) -> tuple:
    """(parts, height): one entry per style, as many to a row as fit ``width``."""
    per = max(1, int((width - 16) // 150))
    parts = []
    for k, key in enumerate(styles):
        x, yy = 10 + (k % per) * 150, y + (k // per) * 16
        fill, stroke = _paint(colour(*key, k))
        if lines:
            parts.append(f'<line x1="{x:.0f}" y1="{yy:.0f}" x2="{x + 18:.0f}" y2="{yy:.0f}" stroke="{stroke}"'
                         f' stroke-width="2" stroke-dasharray="{DASHES[k % len(DASHES)]}"/>')
            parts.append(_shape(marker(*key), x + 9, yy, 3.5, "none", stroke))
        else:
            parts.append(_shape(marker(*key), x + 9, yy, 4, fill, stroke))
        parts.append(f'<text x="{x + 24:.0f}" y="{yy + 4:.0f}">{_esc(key[0] + "/" + key[1])}</text>')
    return parts, 16 * math.ceil(len(styles) / per)


# --------------------------------------------------------------------------- agreement

def _tol_value(tol) -> float | None:
    if tol is None:
        return None
    if isinstance(tol, (list, np.ndarray)):
        flat = np.ravel(np.asarray(tol, dtype=float))
        return float(flat.min()) if flat.size else None
    return float(tol)


def used(r) -> float | None:
    """How much of its tolerance a comparison's largest difference uses (0: exact; None: nothing to place — a
    side-of-0.5 check, or no number)."""
    if r.max_abs_diff is None:
        return None
    if r.bound_ratio is not None:
        return r.bound_ratio
    if r.max_abs_diff == 0:
        return 0.0
    tol = _tol_value(r.tolerance)
    if tol is None:
        return None
    return math.inf if tol <= 0 or not math.isfinite(r.max_abs_diff) else r.max_abs_diff / tol


def agreement_plot(case_name: str, rows: list, source: str, title: str, anchors: dict | None = None) -> str | None:
    """One row per quantity of ``source`` ("article" or "reference"), one marker per style at
    log10(|diff| ÷ tolerance); None when no framework row has a number to place. ``anchors``: quantity -> the
    fragment its row label links to."""
    anchors = anchors or {}
    rows = [r for r in rows if r.source == source and r.quantity != "*"]
    names, flagged = [], set()
    for r in rows:
        if r.quantity not in names:
            names.append(r.quantity)
        if r.erratum or (source == "article" and "convention" in (r.status or "")):
            flagged.add(r.quantity)
    styles = []
    for r in rows:
        if (r.backend, r.style) not in styles:
            styles.append((r.backend, r.style))
    if source == "reference" and all(_is_reference(b) for b, _ in styles):
        return None
    points = [(names.index(r.quantity), styles.index((r.backend, r.style)), used(r), r.passed) for r in rows]
    points = [p for p in points if p[2] is not None]
    if not points:
        return None
    left = 16 + 6.9 * min(30, max(len(n) for n in names))        # the labels' column (bold amber ones too)
    x0, x1 = left + 52, WIDTH - 40                                # the log axis; "exact" and "∞" outside it
    top = 46

    def x_of(u: float) -> float:
        if u == 0:
            return left + 20
        if not math.isfinite(u):
            return WIDTH - 18
        return x0 + (min(HI, max(LO, math.log10(u))) - LO) / (HI - LO) * (x1 - x0)

    height_rows = ROW * len(names)
    # the markers' ids: unique on a page of many plots, short since every marker repeats one
    uid = "p" + hashlib.sha256(f"{case_name}\0{source}".encode()).hexdigest()[:8]
    defs = []                                 # one marker per style (and its failed form), placed with <use>
    for k, key in enumerate(styles):
        fill, stroke = _paint(colour(*key, k))
        defs.append(_shape(marker(*key), 0, 0, 3.6, fill, stroke).replace("/>", f' id="{uid}-{k}"/>', 1))
        defs.append(_shape(marker(*key), 0, 0, 3.6, "none", "#cf222e").replace("/>", f' id="{uid}-{k}x"/>', 1))
    parts = [f"<defs>{''.join(defs)}</defs>",
             f'<text x="10" y="16" style="font-weight:bold">{_esc(title)}</text>',
             '<text x="10" y="32" class="m">largest |difference| ÷ its tolerance, per quantity and style</text>',
             f'<rect x="{left + 6:.1f}" y="{top}" width="28" height="{height_rows}" class="exact"/>',
             f'<rect x="{x_of(1):.1f}" y="{top}" width="{WIDTH - 8 - x_of(1):.1f}" height="{height_rows}" '
             'class="past"/>']
    for i in range(1, len(names), 2):
        parts.append(f'<rect x="8" y="{top + i * ROW}" width="{left - 4:.0f}" height="{ROW}" class="stripe"/>')
    for e in range(int(LO), int(HI) + 1, 2):
        x = x_of(10.0 ** e)
        parts.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + height_rows}" class="grid"/>')
    parts.append(f'<line x1="{x_of(1):.1f}" y1="{top - 4}" x2="{x_of(1):.1f}" y2="{top + height_rows + 4}" '
                 'class="bound"/>')
    for i, n in enumerate(names):
        shown = n if len(n) <= 30 else n[:29] + "…"
        cls = ' class="amber"' if n in flagged else ""
        hover = (f"<title>{_esc(n)}{' — an erratum or convention: meant to sit right of the line' if cls else ''}"
                 "</title>") if (cls or shown != n) else ""
        label = (f'<text x="{left - 2:.0f}" y="{top + i * ROW + ROW / 2 + 4:.0f}" text-anchor="end"{cls}>'
                 f"{hover}{_esc(shown)}</text>")
        if n in anchors:                      # the row's label leads to the quantity's card on the page
            label = f'<a href="#{_esc(anchors[n])}" class="ql">{label}</a>'
        parts.append(label)
    placed = {i for i, _, _, _ in points}
    for i, n in enumerate(names):
        if i not in placed:
            side = any(r.quantity == n and r.passed is not None and r.tolerance is None for r in rows)
            parts.append(f'<text x="{x0:.1f}" y="{top + i * ROW + ROW / 2 + 4:.0f}" class="m">'
                         f'{"only its side of the threshold is checked" if side else "no number to compare"}</text>')
    spread = min(ROW - 6, 2.0 * (len(styles) - 1))
    for i, k, u, passed in points:
        dy = 0 if len(styles) == 1 else -spread / 2 + spread * k / (len(styles) - 1)
        parts.append(f'<use href="#{uid}-{k}{"x" if passed is False else ""}" x="{x_of(u):.1f}" '
                     f'y="{top + i * ROW + ROW / 2 + dy:.1f}"/>')
    axis_y = top + height_rows + 14
    parts.append(f'<text x="{left + 20:.1f}" y="{axis_y}" class="m" text-anchor="middle">exact</text>')
    for e in range(int(LO), int(HI) + 1, 2):
        parts.append(f'<text x="{x_of(10.0 ** e):.1f}" y="{axis_y}" class="m" text-anchor="middle">'
                     f'{"1" if e == 0 else f"1e{e}"}</text>')
    parts.append(f'<text x="{WIDTH - 18}" y="{axis_y}" class="m" text-anchor="middle">∞</text>')
    parts.append(f'<text x="{x_of(1) - 5:.1f}" y="{top - 6}" class="m" text-anchor="end">holds ←</text>'
                 f'<text x="{x_of(1) + 5:.1f}" y="{top - 6}" class="m">→ fails</text>')
    note_y = axis_y + 16
    parts.append(f'<text x="10" y="{note_y}" class="m">hollow red: failed · amber label: an erratum or '
                 'convention, meant to be right of the line</text>')
    legend, h = _legend(styles, note_y + 18, WIDTH)
    return _frame(WIDTH, note_y + 14 + h, title, parts + legend)


# --------------------------------------------------------------------------- curves per epoch

DASHES = ["none", "6 3", "2 3", "8 3 2 3", "4 2", "1 2"]


def cost_curves(traces: list, key: str = "costs") -> list:
    """[(backend, style, cost per epoch)] of the traces that trained (``key = "accuracy"``: a classifier's
    accuracy per epoch)."""
    return [(t.backend, t.style, np.asarray(t.values[key], dtype=float))
            for t in traces if hasattr(t, "values") and key in t.values]


def _thinned(y: np.ndarray) -> tuple:
    """(epochs, values) of a curve with at most ~MAX_POINTS points: each bucket's first, lowest and highest."""
    n = len(y)
    if n <= MAX_POINTS:
        return np.arange(n), y
    keep = set()
    for chunk in np.array_split(np.arange(n), MAX_POINTS // 3):
        seg = y[chunk]
        keep.update((int(chunk[0]), int(chunk[np.argmin(seg)]), int(chunk[np.argmax(seg)])))
    keep.add(n - 1)
    idx = np.array(sorted(keep))
    return idx, y[idx]


def _ticks(lo: float, hi: float, log: bool, whole: bool = False) -> tuple:
    """(ticks, decimals to print them with): powers of ten on a log axis; else 1, 2 or 5 × a power of ten,
    at most 6 of them, whole numbers only where the axis counts (epochs)."""
    if log:
        return [10.0 ** e for e in range(math.floor(lo), math.ceil(hi) + 1)], 0
    e = math.floor(math.log10((hi - lo) / 4 or 1))
    step = 10.0 ** e
    for m in (1, 2, 5, 10):
        if (hi - lo) / (m * step) <= 6:
            step *= m
            e += m == 10
            break
    if whole and step < 1:
        step, e = 1.0, 0
    return list(np.arange(math.ceil(lo / step) * step, hi + step / 2, step)), max(0, -e)


def _label(v: float, log: bool, decimals: int = 0) -> str:
    if log:
        e = round(math.log10(v))
        return "0 (exact)" if e <= FLOOR else ("1" if e == 0 else f"1e{e}")
    return f"{v:.{decimals}f}"


def _panel(title: str, xlabel: str, ylabel: str, series: list, log: bool, width: float = WIDTH) -> str:
    """A line chart: series = [(key, k, xs, ys, step)]; log: a log y axis (a 0 is drawn at its bottom)."""
    xs_all = np.concatenate([np.asarray(s[2], dtype=float) for s in series])
    ys_all = np.concatenate([np.asarray(s[3], dtype=float) for s in series])
    ys_all = ys_all[np.isfinite(ys_all)]
    if log:
        ys_all = ys_all[ys_all > 0]
        lo = math.log10(ys_all.min()) if ys_all.size else 0.0
        hi = math.log10(ys_all.max()) if ys_all.size else 1.0
        lo, hi = math.floor(lo), max(math.ceil(hi), math.floor(lo) + 1)
    else:
        lo, hi = (float(ys_all.min()), float(ys_all.max())) if ys_all.size else (0.0, 1.0)
        if hi - lo < 1e-12 * max(1.0, abs(hi)):
            lo, hi = lo - 0.5, hi + 0.5
        pad = (hi - lo) * 0.05
        lo, hi = lo - pad, hi + pad
    xmax = max(1.0, float(xs_all.max()))
    L, R, T, B = 62, width - 14, 44, 190

    def X(x):
        return L + float(x) / xmax * (R - L)

    def Y(y):
        v = (math.log10(y) if y > 0 else lo) if log else y
        return B - (min(hi, max(lo, v)) - lo) / (hi - lo) * (B - T)

    parts = [f'<text x="10" y="16" style="font-weight:bold">{_esc(title)}</text>',
             f'<text x="10" y="32" class="m">{_esc(ylabel)}</text>']
    ticks, decimals = _ticks(lo, hi, log)
    if log and len(ticks) > 8:
        ticks = ticks[::math.ceil(len(ticks) / 8)]
    for t in ticks:
        y = Y(t)
        parts.append(f'<line x1="{L}" y1="{y:.1f}" x2="{R}" y2="{y:.1f}" class="grid"/>'
                     f'<text x="{L - 4}" y="{y + 4:.1f}" class="m" text-anchor="end">{_label(t, log, decimals)}</text>')
    for t in _ticks(0, xmax, False, whole=True)[0]:
        if t > xmax:
            continue
        parts.append(f'<text x="{X(t):.1f}" y="{B + 14}" class="m" text-anchor="middle">{round(t)}</text>')
    parts.append(f'<line x1="{L}" y1="{B}" x2="{R}" y2="{B}" class="ax"/><line x1="{L}" y1="{T}" x2="{L}" '
                 f'y2="{B}" class="ax"/>')
    parts.append(f'<text x="{(L + R) / 2:.0f}" y="{B + 30}" class="m" text-anchor="middle">{_esc(xlabel)}</text>')
    for key, k, xs, ys, step in series:
        fill, stroke = _paint(colour(*key, k))
        pts = []
        for i, (x, y) in enumerate(zip(xs, ys)):
            if step and i:
                pts.append(f"{X(x):.1f},{Y(ys[i - 1]):.1f}")
            pts.append(f"{X(x):.1f},{Y(y if (not log or y > 0) else 10.0 ** lo):.1f}")
        dash = DASHES[k % len(DASHES)]
        parts.append(f'<polyline points="{" ".join(pts)}" fill="none" stroke="{stroke}" stroke-width="1.8"'
                     + (f' stroke-dasharray="{dash}"' if dash != "none" else "") + "/>")
        every = max(1, len(xs) // 8)
        for i in range(k * every // max(1, len(series)) % every, len(xs), every):
            y = ys[i] if (not log or ys[i] > 0) else 10.0 ** lo
            parts.append(_shape(marker(*key), X(xs[i]), Y(y), 3.5, "none", stroke))
    legend, h = _legend([s[0] for s in series], B + 48, width, lines=True)
    return _frame(width, B + 42 + h, title, parts + legend)


def curves_plot(case_name: str, curves: list, quantity: str = "cost J", symbol: str = "J") -> list:
    """[SVG] of :func:`cost_curves`: the curve of every style, and each framework's drift from NumPy's (the
    largest |difference| so far, epoch by epoch; exact is drawn at 1e-18). [] with fewer than 3 epochs."""
    if not curves or len(curves[0][2]) < 3:
        return []
    values = np.asarray([c for _, _, c in curves])
    log = bool(symbol == "J" and np.all(values > 0) and values[0].max() / max(values[0].min(), 1e-300) > 50)
    series = []
    for k, (b, s, c) in enumerate(curves):
        xs, ys = _thinned(c)
        series.append(((b, s), k, xs, ys, False))
    out = [_panel(f"{case_name}: {quantity.split()[0]} per epoch, every style", "epoch (0 = before any update)",
                  quantity + (" (log scale)" if log else ""), series, log)]
    ref = next((c for b, _, c in curves if _is_reference(b)), None)
    if ref is not None and len(curves) > 1:
        drift = []
        for k, (b, s, c) in enumerate(curves):
            if _is_reference(b):
                continue
            d = np.maximum.accumulate(np.where(np.isnan(c - ref), np.inf, np.abs(c - ref)))
            change = np.flatnonzero(np.r_[True, d[1:] != d[:-1], True][:len(d)])
            idx = np.unique(np.r_[change, len(d) - 1])
            drift.append(((b, s), k, idx, np.where(d[idx] == 0, 10.0 ** FLOOR, d[idx]), True))
        out.append(_panel(f"drift from NumPy's {symbol}", "epoch",
                          f"largest |{symbol} − {symbol}(NumPy)| so far (0: exact, drawn at 1e-18)", drift, True))
    return out
