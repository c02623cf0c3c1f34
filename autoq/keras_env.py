"""Which Keras autoq runs on: one rule, settled at ``import autoq`` before TensorFlow is imported.

Two stacks (setup.cfg). On Python 3.10-3.11, TensorFlow 2.14's ``tf.keras`` is Keras 2 and there is nothing to
do. On Python 3.12-3.13, TensorFlow 2.21 gets ``tf_keras`` (Keras 2.21) as ``tf.keras`` through
``TF_USE_LEGACY_KERAS=1``, set here, so QKeras, autoq's models and hls4ml's Keras 2 parser share one Keras.
``import keras`` stays Keras 3 for the user's own code. Two libraries choose their Keras by ``import keras``;
they see ``tf_keras`` only for the call that needs it, and everything is put back afterwards:

* :func:`hls4ml_keras2` wraps an hls4ml conversion (autoq.exporting.pipeline uses it). It also gives hls4ml the
  ``np.product`` that numpy 2 removed.
* :func:`keras_tuner` imports keras-tuner, which picks its Keras once, at import time.

A Keras 3 model handed to autoq is a clear error (:func:`require_keras2_model`).
"""
from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
import sys

from .errors import AutoqError

#: True on the TF 2.21 stack: tf_keras is installed and is (made) tf.keras.
LEGACY_KERAS = importlib.util.find_spec("tf_keras") is not None
_TRUE = ("true", "True", "1")  # what TensorFlow accepts for TF_USE_LEGACY_KERAS
_FIX = ("import autoq before tensorflow (and before qkeras, keras_tuner, hls4ml), or set TF_USE_LEGACY_KERAS=1 "
        "in the environment before TensorFlow is imported")


class KerasNamespaceError(AutoqError, ImportError):
    """TensorFlow or keras-tuner was imported bound to Keras 3 before autoq could settle the namespace."""


def settle() -> None:
    """Make ``tf.keras`` tf_keras on the TF 2.21 stack (no-op on TF 2.14); raise if it is too late for that."""
    if not LEGACY_KERAS:
        return
    value = os.environ.get("TF_USE_LEGACY_KERAS")
    if value is not None and value not in _TRUE:
        raise KerasNamespaceError(
            f"TF_USE_LEGACY_KERAS={value!r}: autoq needs tf.keras to be tf_keras (Keras 2) on TensorFlow "
            f"{_version('tensorflow')}; unset it or set it to 1")
    tf = sys.modules.get("tensorflow")
    if tf is not None and getattr(tf, "_tf_uses_legacy_keras", value in _TRUE) is False:
        raise KerasNamespaceError(
            f"TensorFlow {_version('tensorflow')} was imported before autoq with Keras 3 as tf.keras; QKeras and "
            f"hls4ml need Keras 2 (tf_keras). Fix: {_FIX}.")
    os.environ["TF_USE_LEGACY_KERAS"] = "1"


@contextlib.contextmanager
def _keras_is_tf_keras():
    """``import keras`` gives tf_keras inside; on exit ``keras`` is restored and any ``keras.*`` module imported
    meanwhile (it would be a tf_keras copy under Keras 3's name) is dropped."""
    if not LEGACY_KERAS:
        yield
        return
    import tf_keras  # imports TensorFlow, which loads Keras 3 as it needs, before the swap

    before = {k for k in sys.modules if k.startswith("keras.")}
    saved = sys.modules.get("keras")
    sys.modules["keras"] = tf_keras
    try:
        yield
    finally:
        for k in [k for k in sys.modules if k.startswith("keras.") and k not in before]:
            del sys.modules[k]
        if saved is None:
            sys.modules.pop("keras", None)
        else:
            sys.modules["keras"] = saved


class _NumpyWithProduct:
    """numpy as hls4ml 1.3.0 expects it: with ``product`` (removed in numpy 2; an alias of ``prod``)."""

    def __init__(self, np):
        self._np, self.product = np, np.prod

    def __getattr__(self, name):
        return getattr(self._np, name)


@contextlib.contextmanager
def hls4ml_keras2():
    """For the duration of an hls4ml conversion/compilation (also usable as a decorator): hls4ml takes its Keras 2
    path for tf_keras models, and its ``hls4ml.model.types`` module sees a numpy with ``product``. Meanwhile another
    thread's ``import keras`` would get tf_keras too."""
    types = importlib.import_module("hls4ml.model.types")
    np = types.np
    with _keras_is_tf_keras():
        if not hasattr(np, "product"):
            types.np = _NumpyWithProduct(np)
        try:
            yield
        finally:
            types.np = np


def keras_tuner():
    """keras-tuner, imported so that it drives tf.keras models (it picks Keras 2 or 3 once, at import time)."""
    kt = sys.modules.get("keras_tuner")
    if kt is None:
        with _keras_is_tf_keras():
            kt = importlib.import_module("keras_tuner")
    if LEGACY_KERAS and kt.src.backend.config.multi_backend():
        raise KerasNamespaceError(
            "keras_tuner was imported before autoq and is bound to Keras 3, so it cannot drive autoq's tf_keras "
            f"models. Fix: {_FIX}.")
    return kt


#: Keras's own UserWarnings on autoq's calls (every .h5 save/load, QKeras quantizers serialized as constraints)
KERAS_WARNINGS = r"(tf_)?keras(\..*)?$"


@contextlib.contextmanager
def quiet_keras():
    """Keras's UserWarnings on the calls inside (autoq's own saves, loads and conversions) are not shown."""
    import warnings
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning, module=KERAS_WARNINGS)
        yield


def import_tensorflow_quietly() -> None:
    """Import TensorFlow with its C++ start-up lines kept off the terminal: the CUDA-factory and driver lines of a
    CPU-only machine and absl's "before InitializeLog" block, which TensorFlow's two libraries each print (so twice)
    and TF_CPP_MIN_LOG_LEVEL does not always hold back, and TF 2.21's "failed call to cuInit" of a machine without a
    GPU, printed when the devices are first listed (so they are listed here). Only file descriptor 2 is redirected,
    only for the import; an import that fails still raises. A no-op once TensorFlow is imported."""
    if "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    saved, null = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 2)
        import tensorflow
        tensorflow.config.list_physical_devices()
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)


def require_keras2_model(model) -> None:
    """Raise a clear error for a Keras 3 model: autoq, QKeras and hls4ml's QKeras path work on tf.keras models."""
    mod, version = type(model).__module__, _version("keras")  # not keras.__version__: hls4ml_keras2 swaps it
    if (mod == "keras" or mod.startswith("keras.")) and version.startswith("3."):
        raise AutoqError(
            f"{getattr(model, 'name', 'the model')!r} is a Keras {version} model; autoq works on tf.keras models "
            "(Keras 2: tf_keras on Python 3.12+). Build or load it with tf.keras after `import autoq`.")


def stack() -> str:
    """The stack this process runs on, e.g. 'Python 3.12.1, tensorflow 2.21.0, tf.keras = tf_keras 2.21.0,
    numpy 2.5.5' (benchmarks and summaries record it)."""
    keras = f"tf_keras {_version('tf_keras')}" if LEGACY_KERAS else f"keras {_version('keras')}"
    return (f"Python {sys.version.split()[0]}, tensorflow {_version('tensorflow')}, tf.keras = {keras}, "
            f"numpy {_version('numpy')}")


def _version(dist: str) -> str:
    from importlib import metadata
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "?"
