"""The goal metric: which number scores a trial, whether higher or lower is better, and how it is computed.

``goal.metric`` is ``accuracy`` (argmax agreement, the default for classifiers), any Keras metric by name (``auc``,
``top_k_categorical_accuracy``, ...), a Keras loss to minimise (``mse``, ``mae``, ...; the default for regression
and autoencoders) or ``module:function`` computing ``f(y_true, y_pred) -> float`` (user code, like a builder).
The direction is inferred from the name and can be given as ``goal.direction``.
"""
from __future__ import annotations

import importlib
import re
from dataclasses import dataclass

import numpy as np

from .errors import ConfigError

TASKS = ("classification", "regression", "autoencoder")
DEFAULT_METRIC = {"classification": "accuracy", "regression": "mse", "autoencoder": "mse"}
DEFAULT_LOSS = {"classification": "categorical_crossentropy", "regression": "mse", "autoencoder": "mse"}
_MAXIMISED = re.compile(r"(accuracy|auc|precision|recall|iou|r2|cosine_similarity|f1|score)", re.I)
_MINIMISED = re.compile(r"(error|loss|crossentropy|mse|mae|mape|msle|huber|log_?cosh|kld|kullback|poisson|hinge)",
                        re.I)


def infer_direction(name: str) -> str | None:
    """'max' for accuracy-like names, 'min' for losses and errors, None when the name does not say."""
    short = name.split(":")[-1]
    if _MINIMISED.search(short):
        return "min"
    if _MAXIMISED.search(short):
        return "max"
    return None


@dataclass(frozen=True)
class Metric:
    """A resolved goal metric."""

    name: str
    direction: str  # "max" or "min"

    @property
    def maximise(self) -> bool:
        return self.direction == "max"

    def up(self, value: float) -> float:
        """The value turned so that higher is better (what fronts and oracles compare)."""
        return value if self.maximise else -value

    def __call__(self, y_true: np.ndarray, y_pred: np.ndarray) -> float:
        return float(compute(self.name, y_true, y_pred))


def resolve(name: str | None, direction: str | None, task: str, where=None) -> Metric:
    """The Metric for ``goal.metric`` / ``goal.direction`` of a task (``where(key, message)`` makes the error)."""
    err = where or (lambda key, msg: ConfigError(msg, key=key))
    name = name or DEFAULT_METRIC[task]
    if name == "accuracy" and task != "classification":
        raise err("goal.metric", f"accuracy needs classes; a {task} search scores e.g. mse or mae")
    if ":" in name and not re.fullmatch(r"[\w.]+:\w+", name):
        raise err("goal.metric", f"expected a metric name or 'module:function', got {name!r}")
    inferred = infer_direction(name)
    if direction is None and inferred is None:
        raise err("goal.direction", f"cannot tell whether a higher or lower {name!r} is better: set goal.direction "
                                    "to max or min")
    if direction not in (None, "max", "min"):
        raise err("goal.direction", f"expected max or min, got {direction!r}")
    return Metric(name, direction or inferred)


def _function(name: str):
    mod, fn = name.split(":")
    try:
        return getattr(importlib.import_module(mod), fn)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"cannot import metric {name!r}: {exc}", key="goal.metric") from None


def _keras(name: str):
    """A Keras metric (function, class or instance) or loss for ``name``, matching class names loosely
    (``auc`` -> ``AUC``); None when Keras has none."""
    import tensorflow as tf
    for getter in (tf.keras.metrics.get, tf.keras.losses.get):
        try:
            obj = getter(name)
        except (ValueError, TypeError):
            continue
        if callable(obj):
            return obj
    want = name.replace("_", "").lower()
    for module in (tf.keras.metrics, tf.keras.losses):
        for attr in dir(module):
            obj = getattr(module, attr)
            if attr.replace("_", "").lower() == want and callable(obj):
                return obj
    return None


def check_known(name: str) -> None:
    """Raise ConfigError unless ``name`` is accuracy, a Keras metric or loss, or an importable function."""
    if name == "accuracy":
        return
    if ":" in name:
        _function(name)
        return
    if _keras(name) is None:
        raise ConfigError(f"unknown metric {name!r}: use accuracy, a Keras metric or loss name (auc, mse, mae, ...) "
                          "or 'module:function'", key="goal.metric")


def compute(name: str, y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """The metric over a whole split (mean of per-sample values, or a stateful Keras metric's result)."""
    if name == "accuracy":
        return float(np.mean(y_pred.argmax(-1) == y_true.argmax(-1)))
    if ":" in name:
        return float(_function(name)(y_true, y_pred))
    import tensorflow as tf
    y_true, y_pred = np.asarray(y_true, "float32"), np.asarray(y_pred, "float32")
    m = _keras(name)
    if isinstance(m, type):
        m = m()
    if isinstance(m, tf.keras.metrics.Metric):
        m.reset_state()
        m.update_state(y_true, y_pred)
        return float(m.result())
    return float(tf.reduce_mean(m(y_true, y_pred)))
