"""The NumPy reference in the backend registry (``reference/registry.py``): what every other backend
is compared with. Light on purpose: read without importing anything heavy."""

from backprop_parity.reference.registry import Backend, Style

BACKEND = Backend(
    name="numpy",
    package="backprop_parity.reference",
    title="NumPy (by hand)",
    styles=(Style("manual", "network", "written by hand, step by step beside the articles", "#000000", "o"),),
    distributions=(),          # NumPy itself: every report states its version (the project runs on it)
    env={},
    reference=True,
)
