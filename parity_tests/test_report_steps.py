"""The step markers (`# [step:NAME]`) the report's backprop mapping is read from."""

from __future__ import annotations

from pathlib import Path

import pytest

from backprop_parity.reports import backends as B
from backprop_parity.reports import steps

from .conftest import require_backend

ROOT = Path(__file__).resolve().parent.parent


def test_reference_marks_every_step():
    marked = steps.extract("numpy")
    assert {m.step for m in marked} == set(steps.STEPS)


@pytest.mark.parametrize("backend", B.ORDER)
def test_marked_lines_are_the_source_lines(backend):
    """What the report prints is the file's own text at that line (no copy that could drift)."""
    if backend != "numpy":
        require_backend(backend)
    for m in steps.extract(backend):
        path = ROOT / m.path if not Path(m.path).is_absolute() else Path(m.path)
        lines = path.read_text(encoding="utf-8").splitlines()
        assert "[step:" + m.step + "]" in lines[m.line - 1]
        first = m.code.splitlines()[0]
        assert lines[m.start - 1].strip().startswith(first.strip()), (m.where, first)
        assert m.start <= m.line <= m.end


@pytest.mark.parametrize("backend,style", [(b, s) for b in ("torch", "tf") for s in B.STYLE_NAMES[b]])
def test_every_style_marks_every_step(backend, style):
    require_backend(backend)
    assert steps.unmarked(backend).get(style, []) == [], \
        f"{backend}/{style} marks no line for these steps: the report's mapping would miss them"


def test_multiline_statement_and_unknown_marker(tmp_path):
    f = tmp_path / "network.py"
    f.write_text("def forward(A, W):\n"
                 "    Z = matmul(A,\n"
                 "               W)          # [step:forward-affine] Z = A·W\n"
                 "    for l in range(3):     # [step:update]\n"
                 "        pass\n"
                 "    s = '# [step:cost] inside a string is not a marker'\n", encoding="utf-8")
    marked = steps.extract_file(f, "torch", ("autograd",))
    assert [(m.step, m.start, m.end, m.function) for m in marked] == [("forward-affine", 2, 3, "forward"),
                                                                    ("update", 4, 4, "forward")]
    assert marked[0].code == "Z = matmul(A,\n    W)" and marked[0].note == "Z = A·W"
    assert marked[1].code == "for l in range(3):"
    f.write_text("x = 1  # [step:forward-afine]\n", encoding="utf-8")
    with pytest.raises(steps.MarkerError, match="forward-afine"):
        steps.extract_file(f, "torch", ("autograd",))


def test_styles_follow_the_module_layout():
    assert steps.styles_for("torch", "network") == ("autograd",)
    assert steps.styles_for("torch", "idiomatic") == ("modules",)
    assert steps.styles_for("tf", "gradcheck") == ("tape", "keras")
    assert steps.styles_for("numpy", "network") == ("manual",)
