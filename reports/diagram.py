"""The network of a case as an inline SVG: units and weights, forward (A on the units, W on the edges) and
backward (δ on the units, ∂J/∂W on the edges), with the first example's numbers from the reference's trace.

Up to ``MAX_UNITS`` units a layer every unit is drawn, and every edge is labelled while a layer has at most
``MAX_LABELLED`` edges; a wider network is drawn as one box per layer with its shape. The markup is built
from numbers and escaped names only (the page's CSP allows inline SVG: it is markup, not a load).
"""

from __future__ import annotations

import html
import math

import numpy as np

MAX_UNITS = 8
MAX_LABELLED = 8
COL, ROW, R = 150, 46, 15           # layer spacing, unit spacing, unit radius (px)


def _n(x: float) -> str:
    return f"{x:.4g}"


def _first(a, layout: str) -> np.ndarray:
    """The first example's values of a layer array (rows: a row; columns: a column)."""
    a = np.asarray(a, dtype=float)
    if a.ndim < 2:
        return a.ravel()
    return a[0] if layout == "rows" else a[:, 0]


def _weight(W, i: int, j: int, layout: str) -> float:
    """The weight from unit i of one layer to unit j of the next (bias trick: i = n_in is the bias unit)."""
    W = np.asarray(W, dtype=float)
    return float(W[i, j] if layout == "rows" else W[j, i])


def svg(case, values: dict, view: str = "forward") -> str | None:
    """The diagram of ``case`` from a trace's ``values``; ``view``: "forward" or "backward". None without a network
    or without the numbers the view needs."""
    net = case.net
    if net is None:
        return None
    sizes = list(net.sizes)
    first_A = net.first_layer - 1
    if view == "backward" and f"delta[{net.first_layer}]" not in values:
        return None
    if max(sizes) > MAX_UNITS:
        return _boxes(case, view)
    trick = net.trick
    height = (max(sizes) + (1 if trick or net.has_b else 0)) * ROW + 70
    width = (len(sizes) - 1) * COL + 140
    parts = []

    def y_of(k: int, count: int) -> float:
        return 50 + (height - 70 - count * ROW) / 2 + k * ROW + ROW / 2

    def x_of(layer: int) -> float:
        return 60 + layer * COL

    # edges first, so that units sit on top of them
    for l in range(net.depth):
        W_key = f"W[{net.first_weight + l}]" if view == "forward" else f"grad.W[{net.first_weight + l}]"
        W = values.get(W_key)
        n_in, n_out = sizes[l], sizes[l + 1]
        sources = n_in + (1 if trick else 0) + (1 if net.has_b else 0)
        label = W is not None and sources * n_out <= MAX_LABELLED
        shape = net.param_shapes()[net.W_name(l)]
        name = net.W_name(l) if view == "forward" else f"∂J/∂{net.W_name(l)}"
        parts.append(f'<text x="{x_of(l) + COL / 2:.1f}" y="22" class="w">{html.escape(name)} {shape[0]}×{shape[1]}'
                     "</text>")
        for i in range(sources):
            is_bias = i >= n_in
            x1, y1 = x_of(l), y_of(i, n_in + (1 if (trick or net.has_b) else 0))
            for j in range(n_out):
                x2, y2 = x_of(l + 1), y_of(j, sizes[l + 1] + (1 if (trick or net.has_b) and l + 1 < net.depth else 0))
                dash = ' stroke-dasharray="4 3"' if is_bias else ""
                parts.append(f'<line x1="{x1 + R:.1f}" y1="{y1:.1f}" x2="{x2 - R:.1f}" y2="{y2:.1f}" '
                             f'class="edge"{dash}/>')
                if label:
                    if is_bias and net.has_b:
                        b = values.get((f"b[{net.first_weight + l}]" if view == "forward"
                                        else f"grad.b[{net.first_weight + l}]"))
                        b = None if b is None else np.ravel(np.asarray(b, dtype=float))
                        w = None if b is None else float(b[j if b.size > 1 else 0])   # a shared b: one number
                    else:
                        w = _weight(W, i, j, net.layout)
                    if w is not None:
                        t = 0.22 + 0.3 * j / max(1, n_out - 1)        # labels of one unit's edges apart
                        lx, ly = x1 + R + t * (x2 - x1 - 2 * R), y1 + t * (y2 - y1)
                        parts.append(f'<text x="{lx:.1f}" y="{ly - 3:.1f}" class="w">{_n(w)}</text>')
    # units
    for layer, size in enumerate(sizes):
        number = first_A + layer
        extra = 1 if (trick or net.has_b) and layer < net.depth else 0
        if view == "forward":
            key, sym = f"A[{number}]", "a"
        else:
            key, sym = (f"delta[{number}]", "δ") if layer > 0 else (None, "x")
        vals = _first(values[key], net.layout) if key in values else None
        for k in range(size):
            x, y = x_of(layer), y_of(k, size + extra)
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{R}" class="unit"/>')
            if vals is not None and k < vals.size:
                parts.append(f'<text x="{x:.1f}" y="{y + R + 11:.1f}" class="v">{_n(vals[k])}</text>')
        if extra:
            x, y = x_of(layer), y_of(size, size + extra)
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{R - 3}" class="unit bias"/>'
                         f'<text x="{x:.1f}" y="{y + 4:.1f}" class="b">1</text>')
        head = f"{sym}({number})" if view == "forward" or layer > 0 else "X"
        parts.append(f'<text x="{x_of(layer):.1f}" y="38" class="h">{html.escape(head)}</text>')
    title = ("forward: a on the units (first example), W on the edges" if view == "forward" else
             "backward: δ on the units (first example), ∂J/∂W on the edges")
    return _frame(width, height, title, parts)


def _boxes(case, view: str) -> str:
    net = case.net
    width, height = (len(net.sizes) - 1) * COL + 160, 150
    parts = []
    for layer, size in enumerate(net.sizes):
        x = 30 + layer * COL
        parts.append(f'<rect x="{x}" y="40" width="100" height="70" rx="8" class="box"/>'
                     f'<text x="{x + 50}" y="72" class="h">{size} units</text>'
                     f'<text x="{x + 50}" y="92" class="w">{html.escape("X" if layer == 0 else f"layer {net.first_layer + layer - 1}")}</text>')
        if layer < net.depth:
            shape = net.param_shapes()[net.W_name(layer)]
            parts.append(f'<line x1="{x + 100}" y1="75" x2="{x + COL}" y2="75" class="edge"/>'
                         f'<text x="{x + 100 + (COL - 100) / 2}" y="68" class="w">{net.W_name(layer)} {shape[0]}×{shape[1]}</text>')
    return _frame(width, height, f"{view}: one box per layer (wider than {MAX_UNITS} units)", parts)


MIN_SCALE = 0.6     # a picture never shrinks below this share of its size: its 10–11 px text stays ≥ 6 px;
                    # on a narrower screen its own box scrolls sideways instead (reports/render.py: .pic)


def svg_frame(width: float, height: float, title: str, kind: str, style: str, parts: list) -> str:
    """The root <svg> of every picture (network diagrams here, plots in reports/plots.py): its size, its
    accessible title, and the smallest width a page may shrink it to (MIN_SCALE)."""
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:.0f} {height:.0f}" width="{width:.0f}" '
            f'height="{height:.0f}" style="min-width:{math.ceil(width * MIN_SCALE)}px" role="img" '
            f'aria-label="{html.escape(title)}" class="{kind}">{style}<title>{html.escape(title)}</title>'
            + "".join(parts) + "</svg>")


def _frame(width: float, height: float, title: str, parts: list) -> str:
    style = ("<style>.edge{stroke:#8c959f;stroke-width:1.2}.unit{fill:#ddf4ff;stroke:#0969da;stroke-width:1.5}"
             ".unit.bias{fill:#fff8c5;stroke:#9a6700}.box{fill:#ddf4ff;stroke:#0969da}"
             "text{font:11px 'DejaVu Sans',sans-serif;text-anchor:middle;fill:#1b1f24}.w{fill:#57606a;font-size:10px}"
             ".v{font-size:10px;fill:#0550ae}.h{font-weight:bold}.b{font-size:10px}"
             "@media (prefers-color-scheme: dark){text{fill:#e6edf3}.w{fill:#9da7b3}.v{fill:#79c0ff}"
             ".unit{fill:#0c2d6b}.unit.bias{fill:#3a2e0f}.box{fill:#0c2d6b}}</style>")
    return svg_frame(width, height, title, "diagram", style, parts)
