"""The NumPy reference network, mirrored in TensorFlow / Keras.

Modules mirror ``reference/`` name for name (activations, losses, layout,
network, calculus, backend); two styles keep the contract of
``reference/contract.py`` (gradient checking and the trace are the reference's,
``reference/gradcheck.py`` and ``reference/trace.py``): ``network`` is the
low-level style (``tf.Variable`` weights, a ``tf.GradientTape``, a Keras SGD
optimizer) and ``idiomatic`` the Keras style (``keras.Sequential`` of ``Dense``
layers, Keras loss objects, ``model.compile`` + ``model.fit``).
``backend.py`` exposes them as ``STYLES`` and the small functions as ``functions()``.

``check`` runs every framework in its own worker process (``reports/worker.py``);
a process that imports torch as well must import it *before* this package.

Two facts about the TensorFlow runtime are read once, here, at import time, and
reported in every trace's ``mapping``:

* oneDNN: whether TensorFlow's oneDNN (MKL) custom CPU kernels are on. It is
  decided by the environment variable ``TF_ENABLE_ONEDNN_OPTS`` when set, and
  otherwise by TensorFlow's own default for this CPU; TensorFlow answers with
  ``IsMklEnabled()``.
* float64: Keras 3 creates layers, losses, optimizers and the loss that
  ``compile`` wraps around the user's loss in ``keras.config.floatx()``
  (float32 by default). :func:`floatx` sets it for the duration of a run and
  restores it afterwards.
"""

from __future__ import annotations

import contextlib
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "1")     # TF's INFO banners off; warnings stay (user's value wins)

ONEDNN_ENV = os.environ.get("TF_ENABLE_ONEDNN_OPTS")   # as the process saw it when TF was imported

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402


def _logical_cpus(count: int = 2) -> None:
    """The process's CPU as two logical devices, for the mirrored style (``mirrored.py``): TensorFlow takes the
    split only before it initialises its devices, so it is asked here, at import. If TensorFlow already ran
    something, the one device stays and the mirrored style says so."""
    cpus = tf.config.list_physical_devices("CPU")
    try:
        if cpus and len(tf.config.get_logical_device_configuration(cpus[0]) or ()) < count:
            tf.config.set_logical_device_configuration(cpus[0], [tf.config.LogicalDeviceConfiguration()
                                                                 for _ in range(count)])
    except RuntimeError:                 # "Virtual devices cannot be modified after being initialized"
        pass


_logical_cpus()

import keras  # noqa: E402

try:  # TensorFlow's own answer; a private module, so tolerate its absence
    from tensorflow.python.util import _pywrap_util_port as _port
    ONEDNN_ENABLED: bool | None = bool(_port.IsMklEnabled())
except Exception:  # pragma: no cover - depends on the TF build
    ONEDNN_ENABLED = None



class _NoRetracingNotice:
    """Every case builds its own model and tf.function, so TF's "triggered tf.function retracing"
    performance notice fires on every run of several cases; it says nothing about the numbers.
    Only that notice is dropped — every other TensorFlow warning still shows."""

    def filter(self, record) -> bool:
        return "triggered tf.function retracing" not in record.getMessage()


tf.get_logger().addFilter(_NoRetracingNotice())

TF_VERSION = tf.__version__
KERAS_VERSION = keras.__version__
# tf.config.experimental.enable_op_determinism() is NOT called: see onednn_note()


def onednn_note() -> str:
    state = {True: "on", False: "off", None: "unknown"}[ONEDNN_ENABLED]
    env = "unset" if ONEDNN_ENV is None else repr(ONEDNN_ENV)
    return (f"oneDNN custom ops {state} (IsMklEnabled() = {ONEDNN_ENABLED}; TF_ENABLE_ONEDNN_OPTS {env} at import; "
            f"TensorFlow {TF_VERSION}, Keras {KERAS_VERSION}); op determinism not enabled (runs repeat bit for bit "
            f"on CPU, tested)")


def tf_dtype(dtype) -> tf.DType:
    return tf.as_dtype(np.dtype(dtype))


@contextlib.contextmanager
def floatx(dtype):
    """Keras' default float type set to ``dtype`` inside the block, restored after it."""
    before = keras.config.floatx()
    keras.config.set_floatx(np.dtype(dtype).name)
    try:
        yield
    finally:
        keras.config.set_floatx(before)
