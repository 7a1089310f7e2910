"""The report's plots (matplotlib, Agg backend, PNG bytes).

* :func:`difference_plot` — log10 |difference| per quantity per backend/style, against
  the article's printed numbers and against the NumPy reference, with each
  comparison's tolerance as a grey tick: float64 agreement at 1e-16 and an
  erratum at 1e-6 sit far apart at a glance.
* :func:`cost_plot` — the cost per epoch of every backend overlaid, and how far
  each framework's cost drifts from NumPy's over the epochs.
"""

from __future__ import annotations

import io
import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from backprop_parity.reference import registry  # noqa: E402

FLOOR = -18.0                 # where an exact 0 is drawn
DPI = 100
EXTRA_COLOURS = ["#009E73", "#CC79A7", "#F0E442", "#999999"]   # Okabe–Ito, for a style no info.py declares


def colour(backend: str, style: str, i: int = 0) -> str:
    """The style's colour as its backend's info.py declares it (colour-blind safe: Okabe–Ito)."""
    s = registry.style(backend, style)
    return s.colour if s is not None else EXTRA_COLOURS[i % len(EXTRA_COLOURS)]


def marker(backend: str, style: str) -> str:
    s = registry.style(backend, style)
    return s.marker if s is not None else "P"


def _is_reference(backend: str) -> bool:
    return backend == registry.reference().name


def _png(fig, tight: bool = False) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight" if tight else None, metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


def _log(x) -> float | None:
    if x is None:
        return None
    x = float(x)
    if math.isnan(x) or math.isinf(x):
        return math.inf
    return FLOOR if x == 0 else max(FLOOR + 0.5, math.log10(x))


def _tol_value(tol) -> float | None:
    if tol is None:
        return None
    if isinstance(tol, list):
        flat = np.ravel(np.asarray(tol, dtype=float))
        return float(flat.min()) if flat.size else None
    return float(tol)


def _panel(ax, labels, points, tols, flagged, title, styles):
    """points: {(backend, style): [(row index, log10 diff, passed)]}"""
    n = len(labels)
    offsets = np.linspace(-0.28, 0.28, max(1, len(styles))) if len(styles) > 1 else [0.0]
    finite = [x for pts in points.values() for _, x, _ in pts if x is not None and math.isfinite(x)]
    finite += [t for t in tols.values() if t is not None]
    right = max([0.0] + [math.ceil(x) + 0.5 for x in finite])
    has_inf = any(x == math.inf for pts in points.values() for _, x, _ in pts)
    inf_at = right + 1.0
    for k, (key, off) in enumerate(zip(styles, offsets)):
        pts = points.get(key, [])
        if not pts:
            continue
        ys = [i + off for i, _, _ in pts]
        xs = [inf_at if x == math.inf else x for _, x, _ in pts]
        c = colour(*key, k)
        face = [c if ok is not False else "none" for _, _, ok in pts]
        edge = [c if ok is not False else "#CF222E" for _, _, ok in pts]
        ax.scatter(xs, ys, s=26, marker=marker(*key), facecolors=face, edgecolors=edge,
                   linewidths=1.2, label=f"{key[0]}/{key[1]}", zorder=3)
    tol_rows = [(i, t) for i, t in tols.items() if t is not None]
    if tol_rows:
        ax.vlines([t for _, t in tol_rows], [i - 0.42 for i, _ in tol_rows], [i + 0.42 for i, _ in tol_rows],
                  color="#8C959F", lw=2.2, zorder=2)
    ax.set_yticks(range(n))
    ax.set_yticklabels(labels, fontsize=8)
    for i, tick in enumerate(ax.get_yticklabels()):
        if i in flagged:
            tick.set_color("#9A6700")
            tick.set_fontweight("bold")
    ax.set_ylim(n - 0.5, -0.5)
    left = FLOOR - 0.7
    ax.set_xlim(left, (inf_at + 0.7) if has_inf else right)
    ticks = list(range(int(FLOOR), int(math.floor(right)) + 1, 2))
    tick_labels = ["0\n(exact)" if t == FLOOR else f"1e{t}" for t in ticks]
    if has_inf:
        ticks.append(inf_at)
        tick_labels.append("inf")
    ax.set_xticks(ticks)
    ax.set_xticklabels(tick_labels, fontsize=8)
    ax.axvspan(left, FLOOR + 0.5, color="#F6F8FA", zorder=0)
    ax.grid(axis="x", color="#E6E9EC", lw=0.8, zorder=0)
    stripes = list(range(1, n, 2))
    if stripes:
        ax.barh(stripes, [ax.get_xlim()[1] - left] * len(stripes), left=left, height=1.0, color="#F3F5F7",
                zorder=0, linewidth=0)
    ax.set_title(title, fontsize=10, loc="left")
    ax.set_xlabel("max |difference| (log scale); grey bar: tolerance; hollow red: failed", fontsize=8)


def difference_plot(case_name: str, rows: list, source: str, title: str) -> bytes | None:
    """One panel: rows of ``source`` ("article" or "reference"), one line per quantity."""
    rows = [r for r in rows if r.source == source and r.quantity != "*"]
    labels, index = [], {}
    for r in rows:
        if r.quantity not in index:
            index[r.quantity] = len(labels)
            labels.append(r.quantity)
    if not labels:
        return None
    styles = []
    for r in rows:
        if (r.backend, r.style) not in styles:
            styles.append((r.backend, r.style))
    points: dict = {}
    tols: dict = {}
    flagged = set()
    for r in rows:
        i = index[r.quantity]
        if r.erratum or (source == "article" and "convention" in (r.status or "")):
            flagged.add(i)
        x = _log(r.max_abs_diff)
        if x is None:
            continue
        points.setdefault((r.backend, r.style), []).append((i, x, r.passed))
        t = _tol_value(r.tolerance)
        if t is not None and i not in tols:
            tols[i] = _log(t) if t > 0 else FLOOR
    if not points:
        return None
    labels = [f"{l}  (erratum)" if i in flagged else l for i, l in enumerate(labels)]
    # fixed margins (inches) instead of bbox_inches="tight", which lays every label out twice
    width, top, bottom = 6.4, 0.45, 0.95
    left = min(3.2, 0.25 + 0.062 * max(len(l) for l in labels))
    height = top + bottom + 0.2 * len(labels)
    fig, ax = plt.subplots(figsize=(width, height))
    fig.subplots_adjust(left=left / width, right=1 - 0.15 / width, top=1 - top / height, bottom=bottom / height)
    _panel(ax, labels, points, tols, flagged, title, styles)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.55 / (height - top - bottom)), ncol=min(5, len(styles)),
              fontsize=8, frameon=False, handletextpad=0.3, columnspacing=1.0)
    return _png(fig)


def cost_curves(traces: list, key: str = "costs") -> list:
    """[(backend, style, cost per epoch)] of the traces that trained (``key = "accuracy"``: a classifier's
    accuracy per epoch)."""
    return [(t.backend, t.style, np.asarray(t.values[key], dtype=float))
            for t in traces if hasattr(t, "values") and key in t.values]


def cost_plot(case_name: str, traces: list) -> bytes | None:
    """Cost per epoch for every backend/style, and |cost − NumPy's cost| per epoch."""
    return curves_plot(case_name, cost_curves(traces))


def curves_plot(case_name: str, curves: list, quantity: str = "cost J", symbol: str = "J") -> bytes | None:
    """:func:`cost_plot` of ``cost_curves(traces)`` (or of another per-epoch curve: ``quantity`` names it on the
    axis and in the title, ``symbol`` in the drift panel)."""
    if not curves or len(curves[0][2]) < 3:
        return None
    ref = next((c for b, s, c in curves if _is_reference(b)), None)
    fig, axes = plt.subplots(1, 2 if ref is not None and len(curves) > 1 else 1, figsize=(9.6, 3.3),
                             squeeze=False)
    fig.subplots_adjust(left=0.08, right=0.98, top=0.9, bottom=0.15, wspace=0.28)
    ax = axes[0][0]
    epochs = np.arange(len(curves[0][2]))
    every = max(1, len(epochs) // 12)
    styles = ["-", "--", "-.", ":", (0, (5, 1))]
    for k, (b, s, c) in enumerate(curves):
        ax.plot(epochs, c, linestyle=styles[k % len(styles)], color=colour(b, s, k), marker=marker(b, s),
                markevery=(k * every // max(1, len(curves)), every), ms=5, lw=1.6, label=f"{b}/{s}",
                fillstyle="none")
    ax.set_xlabel("epoch (0 = before any update)", fontsize=8)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel(quantity, fontsize=8)
    if (symbol == "J" and np.all(np.asarray([c for _, _, c in curves]) > 0)
            and curves[0][2].max() / max(curves[0][2].min(), 1e-300) > 50):
        ax.set_yscale("log")
    ax.set_title(f"{case_name}: {quantity.split()[0]} per epoch, every backend", fontsize=10, loc="left")
    ax.legend(fontsize=8, frameon=False)
    ax.tick_params(labelsize=8)
    ax.grid(color="#E6E9EC", lw=0.8)
    if axes.shape[1] == 2:
        ax2 = axes[0][1]
        for k, (b, s, c) in enumerate(curves):
            if _is_reference(b):
                continue
            d = np.abs(c - ref)
            y = np.where(d == 0, 10.0 ** FLOOR, d)
            col = colour(b, s, k)
            nonzero = d > 0
            ax2.plot(epochs[nonzero], d[nonzero], linestyle="none", marker=".", ms=2.5, color=col, alpha=0.35)
            ax2.step(epochs, np.maximum.accumulate(y), where="post", color=col, lw=1.6,
                     linestyle=styles[k % len(styles)], label=f"{b}/{s}")
        ax2.set_yscale("log")
        ax2.set_ylim(10.0 ** (FLOOR - 0.5), None)
        ax2.set_xlabel("epoch", fontsize=8)
        ax2.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax2.set_ylabel(f"|{symbol} − {symbol}(NumPy)|   (1e-18: exact)", fontsize=8)
        ax2.set_title("drift from NumPy (dots: each epoch; line: largest so far)", fontsize=9.5, loc="left")
        ax2.tick_params(labelsize=8)
        ax2.grid(color="#E6E9EC", lw=0.8)
        ax2.legend(fontsize=8, frameon=False)
    return _png(fig)
