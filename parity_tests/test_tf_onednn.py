"""oneDNN on and off: the TensorFlow backend in two fresh processes, TF_ENABLE_ONEDNN_OPTS = 0 and 1.

TensorFlow reads the variable once, when it is imported, so each setting needs its
own process. What we measure (and assert):

* float64: oneDNN has no float64 kernels (TF logs "Not handling type DT_DOUBLE"
  and falls back to its Eigen kernels), so every number is bit-for-bit the same
  with oneDNN on and off, and both match the reference at the float64 bounds;
* float32: oneDNN's float32 kernels (matmul, …) sum in another order, so numbers
  move by float32 rounding (measured up to ~2e-7 relative on forward values; the
  centered differences of gradient checking, divided by h, move far more). Both
  settings stay within the float32 bound of the reference.
* the trace's ``mapping["oneDNN"]`` reports the setting TensorFlow actually used.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from backprop_parity.reference.case import load
from backprop_parity.reports import backends as B
from backprop_parity.reports.compare import reference_comparisons

from . import helpers as H

pytestmark = pytest.mark.cost(22)     # its tests' seconds, summed (conftest: the costliest files start first)

ROOT = Path(__file__).resolve().parents[1]
FLOAT64_CASES = ["courtial-bias-trick", "courtial-l2", "dlai-two-layer", "zhou-feedforward", "robust-edges"]
FLOAT32_CASES = ["courtial-bias-trick", "dlai-two-layer"]

CHILD = """
import pickle, sys
import numpy as np
import backprop_parity.tf_impl as tf_impl
from backprop_parity.tf_impl import backend
from backprop_parity.reference.case import load
out = {"enabled": tf_impl.ONEDNN_ENABLED, "env": tf_impl.ONEDNN_ENV, "traces": {}, "mapping": {}}
for dtype, names in (("float64", sys.argv[2].split(",")), ("float32", sys.argv[3].split(","))):
    for name in names:
        case = load(name)
        case = case.cast(np.float32) if dtype == "float32" else case
        for style in backend.STYLES:
            t = backend.trace(case, style)
            out["traces"][(dtype, name, style)] = {k: np.asarray(v) for k, v in t.values.items()}
            out["mapping"][(dtype, name, style)] = t.mapping.get("oneDNN")
with open(sys.argv[1], "wb") as f:
    pickle.dump(out, f)
"""


@pytest.fixture(scope="module")
def runs(tf_backend, tmp_path_factory):
    cases = [c for c in FLOAT64_CASES + FLOAT32_CASES if c in H.CASES]
    assert cases, "none of the cases this test uses is built in any more"
    f64 = ",".join(c for c in FLOAT64_CASES if c in H.CASES)
    f32 = ",".join(c for c in FLOAT32_CASES if c in H.CASES)
    procs, paths = {}, {}
    for setting in ("0", "1"):
        paths[setting] = tmp_path_factory.mktemp("onednn") / f"onednn{setting}.pkl"
        env = {**os.environ, "TF_ENABLE_ONEDNN_OPTS": setting,
               "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
        procs[setting] = subprocess.Popen([sys.executable, "-c", CHILD, str(paths[setting]), f64, f32], cwd=ROOT,
                                          env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out = {}
    for setting, proc in procs.items():
        _, err = proc.communicate(timeout=900)
        assert proc.returncode == 0, err[-3000:]
        with open(paths[setting], "rb") as f:
            out[setting] = pickle.load(f)
        out[setting]["stderr"] = err
    return out


def test_onednn_setting_is_read_and_reported(runs):
    off, on = runs["0"], runs["1"]
    assert off["env"] == "0" and on["env"] == "1"
    assert off["enabled"] is False and on["enabled"] is True
    assert all("oneDNN custom ops off" in m for m in off["mapping"].values())
    assert all("oneDNN custom ops on" in m for m in on["mapping"].values())


def test_float64_is_bit_for_bit_the_same(runs):
    off, on = runs["0"]["traces"], runs["1"]["traces"]
    keys = [k for k in off if k[0] == "float64"]
    assert keys and set(off) == set(on)
    for k in keys:
        assert off[k].keys() == on[k].keys()
        for key, v in off[k].items():
            assert np.array_equal(v, on[k][key], equal_nan=True), (k, key)


@pytest.mark.parametrize("setting", ["0", "1"])
def test_both_settings_match_the_reference(runs, setting):
    """float64 at the float64 bounds; float32 (where oneDNN does change numbers) at the float32 bound."""
    for (dtype, name, style), values in runs[setting]["traces"].items():
        case = load(name).cast(np.float32) if dtype == "float32" else load(name)
        ref = B.run(case, "numpy")[0]
        trace = B.Trace("tf", style, values, {})
        for row in reference_comparisons(case, trace, ref):
            if row.status == "MISSING" or (dtype == "float32" and row.quantity.startswith("gradcheck.")):
                continue      # keys this style explains in `missing`; float32 gradient checking: see test_tf_parity
            H.assert_row(row)


def test_float32_differences_are_float32_rounding(runs):
    """What oneDNN changes in float32 (measured, bounded): forward values within a few float32 ulps."""
    off, on = runs["0"]["traces"], runs["1"]["traces"]
    eps32 = float(np.finfo(np.float32).eps)
    for k in (k for k in off if k[0] == "float32"):
        for key in [key for key in ("yhat", "J") if key in off[k]]:
            a, b = off[k][key].astype(float), on[k][key].astype(float)
            assert np.max(np.abs(a - b)) <= 64 * eps32 * max(float(np.max(np.abs(a))), 1.0), (k, key)
