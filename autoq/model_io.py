"""Loading Keras models from files without running code that the file carries.

A Keras ``Lambda`` layer stores Python bytecode, and ``TFOpLambda`` calls any TensorFlow function by name
(``tf.io.write_file`` included): loading and calling such a model runs what its author put there. autoq reads the
model's JSON config first and refuses those layers, and any layer class it does not know, unless the user says the
file is trusted (``--trust-model`` / ``trust_model=True``; the same idea as Keras 3's ``safe_mode``). A SavedModel
directory is a TensorFlow graph that cannot be inspected this way, so it needs the same permission.
"""
from __future__ import annotations

import json
import sys
import zipfile
from pathlib import Path

from .errors import AutoqError, ConfigError

CODE_LAYERS = ("Lambda", "TFOpLambda", "SlicingOpLambda")
TRUST_HINT = "pass --trust-model (trust_model=True in Python) only if you trust whoever wrote the file"


class UntrustedModelError(AutoqError):
    """A model file would run code it carries (or cannot be inspected), and it was not marked as trusted."""


def known_layer_classes() -> set:
    """Layer class names autoq can load without code from the file: Keras's own, QKeras's, autoq's."""
    import tensorflow as tf

    from . import quantizers
    names = {"Functional", "Sequential", "Model", "InputLayer"}
    for name in dir(tf.keras.layers):
        obj = getattr(tf.keras.layers, name)
        if isinstance(obj, type) and issubclass(obj, tf.keras.layers.Layer):
            names.add(name)
    for name, obj in quantizers.custom_objects().items():
        if isinstance(obj, type) and issubclass(obj, tf.keras.layers.Layer):
            names.add(name)
    return names - set(CODE_LAYERS)


def read_config(path: Path) -> dict | None:
    """The model config stored in an .h5 or .keras file (None for a SavedModel directory or no config)."""
    path = Path(path)
    if path.is_dir():
        return None
    if zipfile.is_zipfile(path):  # the .keras format
        try:
            with zipfile.ZipFile(path) as z:
                return json.loads(z.read("config.json"))
        except (KeyError, ValueError, OSError) as exc:
            raise AutoqError(f"{path} is not a readable .keras model: {exc}") from None
    import h5py
    try:
        with h5py.File(path, "r") as f:
            raw = f.attrs.get("model_config")
    except OSError as exc:
        raise AutoqError(f"cannot load Keras model {path}: {exc}") from None
    if raw is None:
        raise AutoqError(f"{path} holds no model config (weights only?); save the whole model with model.save()")
    try:
        return json.loads(raw.decode() if isinstance(raw, bytes) else raw)
    except ValueError as exc:
        raise AutoqError(f"{path}: its model config is not valid JSON ({exc})") from None


def code_in_config(config, known: set | None = None) -> list:
    """Descriptions of everything in a model config that would run code from the file, or that autoq cannot load
    without code it does not have (an unknown layer class)."""
    known = known_layer_classes() if known is None else known
    found: list = []

    def layer(node):
        cls = node.get("class_name")
        name = (node.get("config") or {}).get("name", "?") if isinstance(node.get("config"), dict) else "?"
        if cls in CODE_LAYERS:
            found.append(f"{cls} layer {name!r} (runs Python/TensorFlow code stored in the file)")
        elif cls not in known:
            found.append(f"unknown layer class {cls!r} ({name!r}: custom code autoq does not have)")

    def walk(node, is_layer=False):
        if isinstance(node, dict):
            if node.get("class_name") == "__lambda__":
                found.append("a serialized Python lambda")
            if is_layer and "class_name" in node:
                layer(node)
            for key, value in node.items():
                if key == "layers" and isinstance(value, list):
                    for item in value:
                        walk(item, True)
                else:
                    walk(value, key == "layer" and isinstance(value, dict))
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(config, isinstance(config, dict) and "class_name" in config)
    return list(dict.fromkeys(found))


def kind(path: Path) -> str | None:
    """What ``path`` is when it cannot be a model (checked before opening: reading a FIFO blocks), else None."""
    if path.is_dir():
        return None if (path / "saved_model.pb").is_file() else "a folder without saved_model.pb"
    if not path.is_file():
        return "not a regular file (a FIFO, socket or device)"
    return None


def check_file(path, trust: bool = False) -> None:
    """Refuse a model file that carries code, unless trusted."""
    if trust:
        return
    path = Path(path)
    config = read_config(path)
    if config is None:
        raise UntrustedModelError(f"{path} is a TensorFlow SavedModel, whose graph autoq cannot inspect for code; "
                                  f"save it as .h5 or .keras (model.save('model.h5')), or {TRUST_HINT}")
    found = code_in_config(config)
    if found:
        raise UntrustedModelError(f"refusing to load {path}: it contains {'; '.join(found[:3])}"
                                  + (f" and {len(found) - 3} more" if len(found) > 3 else "") + f"; {TRUST_HINT}")


def check_model(model, what: str = "the model") -> None:
    """A model object (from a builder or the API) must be a tf.keras Model; builders are code the user runs, like a
    script, so nothing more is checked here."""
    import tensorflow as tf

    from .keras_env import require_keras2_model
    if model is not None:
        require_keras2_model(model)  # a Keras 3 model: say so and how to fix it, not just "not a tf.keras Model"
    if not isinstance(model, tf.keras.Model):
        raise AutoqError(f"{what} must be a tf.keras Model, got {type(model).__name__}"
                         + (" (did the builder forget to return it?)" if model is None else ""))


def load(path, trust: bool = False, custom_objects: dict | None = None, error=AutoqError):
    """Load a Keras/QKeras model (.h5, .keras, or with ``trust`` a SavedModel) after :func:`check_file`; the one
    loader of autoq (search folders, ``model.path``, export sources). A missing or unreadable file raises ``error``
    (the caller's error class), a file that carries code :class:`UntrustedModelError` (as ``error`` when given)."""
    import tensorflow as tf

    from . import quantizers
    path = Path(path)
    if not path.exists():
        raise error(f"model file not found: {path}")
    what = kind(path)
    if what is not None:
        raise error(f"{path} is {what}, not a saved Keras model (.h5, .keras or a SavedModel folder)")
    try:
        check_file(path, trust)
    except UntrustedModelError as exc:
        if error is AutoqError:
            raise
        raise error(str(exc)) from None
    objs = quantizers.custom_objects()
    objs.update(custom_objects or {})
    try:
        extra = {"safe_mode": False} if trust and zipfile.is_zipfile(path) else {}  # the .keras format's own guard
        return tf.keras.models.load_model(path, compile=False, custom_objects=objs, **extra)
    except Exception as exc:  # noqa: BLE001 - any loader failure is a bad file, said in one line
        msg = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        raise error(f"cannot load Keras model {path}: {msg}") from None


def from_config(cfg, trust: bool = False):
    """The float model named by the config, and whether it must be trained first.

    A ``builder`` is Python code the user runs, like a script; a ``path`` is a data file, which must not carry code
    (Lambda layers and the like) unless ``trust`` is set."""
    import importlib

    m = cfg.model
    if m.builder:
        mod_name, fn_name = m.builder.split(":")
        if cfg.base_dir not in sys.path:  # builders may live beside the config file
            sys.path.insert(0, cfg.base_dir)
        try:
            fn = getattr(importlib.import_module(mod_name), fn_name)
        except Exception as exc:  # noqa: BLE001 - ImportError, AttributeError, or the module's own error
            what = "" if isinstance(exc, (ImportError, AttributeError)) else f"{type(exc).__name__}: "
            raise ConfigError(f"cannot import model builder {m.builder!r}: {what}{exc}",
                              key="model.builder", source=cfg.source) from None
        try:
            model = fn(**m.kwargs)
        except TypeError as exc:
            raise ConfigError(f"model builder {m.builder!r} rejected kwargs {m.kwargs}: {exc}",
                              key="model.kwargs", source=cfg.source) from None
        except Exception as exc:  # noqa: BLE001 - the builder is user code: say what it raised, in one line
            msg = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
            raise ConfigError(f"model builder {m.builder!r} raised {type(exc).__name__}: {msg}",
                              key="model.builder", source=cfg.source) from None
        try:
            check_model(model, f"what model builder {m.builder!r} returned")
        except AutoqError as exc:
            raise ConfigError(str(exc), key="model.builder", source=cfg.source) from None
        return model, m.train in ("auto", True)
    if m.path:
        path = cfg.resolve(m.path)
        if not path.exists():
            raise ConfigError(f"model file not found: {path}", key="model.path", source=cfg.source)
        try:
            model = load(path, trust)
        except AutoqError as exc:
            raise ConfigError(str(exc), key="model.path", source=cfg.source) from None
        return model, m.train is True
    raise ConfigError("the config names no model: set model.path (a saved Keras model) or model.builder "
                      "(module:function), or pass a model to autoq.search()", key="model", source=cfg.source)
