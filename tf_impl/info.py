"""The TensorFlow / Keras mirror in the backend registry (``reference/registry.py``).

Read from its file without importing this package (whose ``__init__`` imports TensorFlow):
no framework import here, and only absolute imports.
"""

import os
import sys

from backprop_parity.reference.registry import Backend, Style

BACKEND = Backend(
    name="tf",
    package="backprop_parity.tf_impl",
    title="TensorFlow / Keras",
    styles=(Style("tape", "network", "tf.Variable, a persistent GradientTape, Keras SGD apply_gradients",
                  "#0072B2", "^", optimizer_forms=(("rmsprop", "eps-inside"), ("adam", "eps-before"), ("adamw", "eps-before"))),
            Style("keras", "idiomatic", "keras.Sequential of Dense, Keras losses, compile + fit",
                  "#56B4E9", "v", optimizer_forms=(("rmsprop", "eps-inside"), ("adam", "eps-before"), ("adamw", "eps-before"))),
            Style("mirrored", "mirrored", "data parallel: tf.distribute.MirroredStrategy over 2 logical CPUs",
                  "#8B5A00", ">", optimizer_forms=(("rmsprop", "eps-inside"), ("adam", "eps-before"), ("adamw", "eps-before")))),
    distributions=("tensorflow-cpu", "tensorflow", "keras"),   # the installed ones are reported
    env={"KERAS_BACKEND": "tensorflow"},    # Keras 3 picks its backend once, at import
    imports=("tensorflow",),
    switches=("TF_", "KERAS_"),             # TF_ENABLE_ONEDNN_OPTS, TF_DETERMINISTIC_OPS, thread counts …
    settings={"slope 0.3": "keras.layers.LeakyReLU() (negative_slope=0.3 by default, kept by TensorFlow as a float32 attribute)",
              "mean": "the default reduction of Keras losses (MeanSquaredError(), BinaryCrossentropy()): the average "
                      "over every element",
              "float32": "keras.config.floatx() is 'float32' by default"},
    # tf/mirrored's one gradient of a case's batch runs eagerly (its training under tf.function); tf.distribute
    # says so, about its speed, each time
    log_noise=("WARNING:tensorflow:Using MirroredStrategy eagerly has significant overhead",),
)

THREAD_VARIABLES = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")


def environment() -> list:
    """(name, value) facts about TensorFlow as the worker process that ran it loaded it (never imports it)."""
    out = []
    env = os.environ.get("TF_ENABLE_ONEDNN_OPTS")
    env_text = f"TF_ENABLE_ONEDNN_OPTS={env!r}" if env is not None else "TF_ENABLE_ONEDNN_OPTS unset"
    package = sys.modules.get(BACKEND.package)
    note = getattr(package, "onednn_note", None)
    if callable(note):
        out.append(("oneDNN", f"{note()} — now: {env_text}"))
    else:
        state = getattr(package, "ONEDNN_ENABLED", None)
        out.append(("oneDNN", f"{env_text}; TensorFlow reports oneDNN "
                              f"{'on' if state else 'off' if state is False else 'unknown'}"))
    tf = sys.modules.get("tensorflow")
    if tf is None or not hasattr(tf, "config"):
        out.append(("TensorFlow threads", "TensorFlow not loaded"))
    else:
        t = tf.config.threading
        intra, inter = t.get_intra_op_parallelism_threads(), t.get_inter_op_parallelism_threads()

        def show(n):
            return f"{n}" if n else "0 (TensorFlow's default: chosen by the runtime)"
        variables = ", ".join(f"{v}={os.environ[v]}" for v in THREAD_VARIABLES if v in os.environ)
        out.append(("TensorFlow threads", f"intra-op {show(intra)}, inter-op {show(inter)}"
                                          + (f" ({variables})" if variables else "")))
    return out
