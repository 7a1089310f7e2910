"""The step markers (`# [step:NAME]`) the report's backprop mapping is read from."""

from __future__ import annotations

from pathlib import Path

import pytest

from backprop_parity.reference import registry
from backprop_parity.reports import steps

ROOT = Path(__file__).resolve().parent.parent
REF = registry.reference().name
FRAMEWORK_STYLES = [(b.name, s.name) for b in registry.entries() for s in b.styles if not b.reference]


def test_reference_marks_every_step():
    marked = steps.extract(REF)
    assert {m.step for m in marked} == set(steps.STEPS)


@pytest.mark.parametrize("backend", registry.names())
def test_marked_lines_are_the_source_lines(backend):
    """What the report prints is the file's own text at that line (no copy that could drift)."""
    marked = steps.extract(backend)
    assert marked is not None, f"{registry.get(backend).package} is not installed"
    for m in marked:
        path = ROOT / m.path if not Path(m.path).is_absolute() else Path(m.path)
        lines = path.read_text(encoding="utf-8").splitlines()
        tag = "[step:" + m.step + (":" + ",".join(m.only) if m.only else "") + "]"
        assert tag in lines[m.line - 1]
        first = m.code.splitlines()[0]
        assert lines[m.start - 1].strip().startswith(first.strip()), (m.where, first)
        assert m.start <= m.line <= m.end


@pytest.mark.parametrize("backend,style", FRAMEWORK_STYLES, ids=[f"{b}/{s}" for b, s in FRAMEWORK_STYLES])
def test_every_style_marks_every_step(backend, style):
    """Read from the files (no framework import needed): a style the report maps step by step."""
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
    marked = steps.extract_file(f, "some_backend", ("some_style",))
    assert [(m.step, m.start, m.end, m.function) for m in marked] == [("forward-affine", 2, 3, "forward"),
                                                                    ("update", 4, 4, "forward")]
    assert marked[0].code == "Z = matmul(A,\n    W)" and marked[0].note == "Z = A·W"
    assert marked[1].code == "for l in range(3):"
    f.write_text("x = 1  # [step:forward-afine]\n", encoding="utf-8")
    with pytest.raises(steps.MarkerError, match="forward-afine"):
        steps.extract_file(f, "some_backend", ("some_style",))


@pytest.mark.parametrize("backend", registry.names())
def test_styles_follow_the_registry(backend):
    """A style's own module serves that style; every other module of the package serves all of them."""
    b = registry.get(backend)
    for s in b.styles:
        own = tuple(x.name for x in b.styles if x.module == s.module)
        assert steps.styles_for(backend, s.module) == own
    assert steps.styles_for(backend, "a_module_no_style_declares") == b.style_names


def test_shared_modules_serve_every_framework_style():
    """The reference's framework-free modules every style runs (trace assembly, gradient checking)."""
    ref = registry.reference()
    shared = [m for m in steps.extract(ref.name) if Path(m.path).stem in steps.SHARED_MODULES]
    assert shared, "no marked line in the shared modules"
    for b in registry.entries():
        if b.reference:
            continue
        mine = [(m.path, m.line, m.styles) for m in steps.extract(b.name) if Path(m.path).stem in steps.SHARED_MODULES
                and Path(m.path).parent == Path(shared[0].path).parent]
        assert sorted((p, l) for p, l, _ in mine) == sorted((m.path, m.line) for m in shared), b.name
        assert all(styles == b.style_names for _, _, styles in mine)
