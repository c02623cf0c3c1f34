"""Keras side of the export: load a model (tf.keras object, .h5, search directory + trial), check that every layer
and quantizer is one hls4ml can implement bit-exactly, and rename what hls4ml cannot take as is."""
from __future__ import annotations

import os
from typing import Any

import numpy as np

from autoq.errors import AutoqError

LAYERS = (
    "InputLayer", "QDense", "QConv1D", "QConv2D", "QDepthwiseConv2D", "QSeparableConv1D", "QSeparableConv2D",
    "QConv2DBatchnorm", "QActivation", "QBatchNormalization", "BatchNormalization", "Activation", "ReLU", "Softmax",
    "Flatten", "Reshape", "Dropout", "MaxPooling1D", "MaxPooling2D", "AveragePooling1D", "AveragePooling2D",
    "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalAveragePooling1D", "GlobalAveragePooling2D", "Add",
    "Concatenate", "Dense", "Conv1D", "Conv2D", "ZeroPadding1D", "ZeroPadding2D",
)
WEIGHT_QUANTIZERS = ("quantized_bits", "ternary", "binary", "stochastic_ternary", "stochastic_binary", "quantized_po2")
ACTIVATION_QUANTIZERS = ("quantized_relu", "quantized_bits", "binary", "ternary", "quantized_tanh",
                         "quantized_sigmoid", "binary_tanh")
FLOAT_ACTIVATIONS = ("linear", "relu", "softmax")
FLOAT_LAYERS = ("Dense", "Conv1D", "Conv2D")  # exported with hls4ml's default fixed<16,6> weights: never exact


class ExportError(AutoqError):
    """Base class of every error autoq export/report raises for bad input (the CLI prints it, exit code 2)."""


class UnsupportedModelError(ExportError):
    """A layer, activation or quantizer hls4ml cannot implement bit-exactly."""


def qname(q: Any) -> str:
    """Class name of a quantizer object, or the string itself."""
    if isinstance(q, dict):
        return q.get("class_name", "")
    if isinstance(q, str):
        return q.split("(")[0].strip()
    return getattr(q, "__name__", None) or type(q).__name__


def activation_name(layer: Any) -> str | None:
    act = getattr(layer, "activation", None)
    return None if act is None else qname(act)


# --------------------------------------------------------------------------------------------------- checks
def check_model(model: Any) -> None:
    """Raise UnsupportedModelError naming the first layer or quantizer hls4ml cannot export bit-exactly."""
    if len(model.inputs) != 1:  # several outputs export (io_parallel), each checked (autoq.heads)
        raise UnsupportedModelError(
            f"model {model.name!r} has {len(model.inputs)} inputs: only single-input models are supported"
        )
    for layer in model.layers:
        check_layer(layer)


def check_layer(layer: Any) -> None:
    """Raise UnsupportedModelError if ``layer`` (its type, quantizers, activation, pool) cannot be exported exactly."""
    cls = type(layer).__name__
    if cls not in LAYERS:
        raise UnsupportedModelError(
            f"layer {layer.name!r} of type {cls} is not supported for hls4ml export; supported layers: "
            f"{', '.join(LAYERS)}"
        )
    for attr in ("kernel_quantizer", "depthwise_quantizer", "pointwise_quantizer", "bias_quantizer"):
        q = getattr(layer, f"{attr}_internal", None) or getattr(layer, attr, None)
        if q is not None:
            _check_weight_quantizer(layer, attr, q)
    if cls == "QActivation":
        _check_activation(layer, layer.quantizer)
    elif activation_name(layer) is not None:
        _check_activation(layer, layer.activation)
    _check_pooling(layer)


def _check_weight_quantizer(layer: Any, attr: str, q: Any) -> None:
    name = qname(q)
    if attr == "bias_quantizer" and name == "quantized_po2":
        raise UnsupportedModelError(
            f"layer {layer.name!r}: bias_quantizer quantized_po2: hls4ml stores po2 biases as (sign, exponent) pairs "
            "its dense/conv code cannot add (g++ fails); use quantized_bits for biases"
        )
    if name not in WEIGHT_QUANTIZERS:
        raise UnsupportedModelError(
            f"layer {layer.name!r}: {attr} {name} has no exact hls4ml type; use one of {', '.join(WEIGHT_QUANTIZERS)}"
        )
    alpha = getattr(q, "alpha", None)
    if alpha is not None and not isinstance(alpha, str) and np.any(np.asarray(alpha, dtype=float) != 1.0):
        raise UnsupportedModelError(
            f"layer {layer.name!r}: {attr} {name} has a fixed alpha={alpha!r}; hls4ml takes alpha 1, None, 'auto' or "
            "'auto_po2'"
        )


def _check_activation(layer: Any, act: Any) -> None:
    name = qname(act)
    if getattr(act, "use_real_sigmoid", False) or getattr(act, "use_real_tanh", False):
        raise UnsupportedModelError(
            f"layer {layer.name!r}: {name} with use_real_sigmoid/use_real_tanh quantizes a float sigmoid/tanh, which "
            "hls4ml computes with a lookup table (an approximation); use the default (hard) version"
        )
    if name in FLOAT_ACTIVATIONS or name in ACTIVATION_QUANTIZERS:
        if name == "quantized_bits" and isinstance(getattr(act, "alpha", None), str):
            raise UnsupportedModelError(
                f"layer {layer.name!r}: activation quantizer {name} with alpha={act.alpha!r} scales by a data-"
                "dependent factor hls4ml cannot reproduce; use alpha=1"
            )
        return
    raise UnsupportedModelError(
        f"layer {layer.name!r}: activation {name} is not supported by hls4ml's QKeras converter; use one of "
        f"{', '.join(FLOAT_ACTIVATIONS + ACTIVATION_QUANTIZERS)}"
    )


def _check_pooling(layer: Any) -> None:
    cls = type(layer).__name__
    if "AveragePooling" not in cls:
        return
    if cls.startswith("Global"):
        n = int(np.prod(layer.input_shape[1:-1]))
    else:
        n = int(np.prod(layer.pool_size))
    if n & (n - 1):
        raise UnsupportedModelError(
            f"layer {layer.name!r} ({cls}) averages {n} values: Keras divides by {n} in float32, which no "
            "fixed-point type reproduces; use a pool of 2, 4, 8... values (or max pooling)"
        )


def float_layers(model: Any) -> set[str]:
    """Layers whose Keras output is float arithmetic (not on a fixed-point grid): no per-layer exactness expected."""
    out = set()
    for layer in model.layers:
        cls = type(layer).__name__
        act = activation_name(layer)
        if cls in FLOAT_LAYERS or cls in ("BatchNormalization", "QBatchNormalization") or act in (
            "softmax", "sigmoid", "tanh"
        ) or cls == "Softmax":
            out.add(layer.name)
        for attr in ("kernel_quantizer_internal", "depthwise_quantizer_internal"):
            if getattr(getattr(layer, attr, None), "alpha", None) == "auto":
                out.add(layer.name)
    return out


# --------------------------------------------------------------------------------------------------- loading
def load_source(src: Any, trial: str | None = None, trust_model: bool = False) -> tuple[Any, str, dict | None]:
    """(model, name, data) for a tf.keras model, an .h5 path or a finished search directory.

    A search directory gives its winner (``best_model.h5``) or, with ``trial``, that trial's saved model; its
    ``data_sample.npz`` (the search's validation data) comes with it. A model file that carries code (Lambda
    layers, unknown custom layers) is refused unless ``trust_model`` (see :mod:`autoq.model_io`).
    """
    if hasattr(src, "layers") and hasattr(src, "predict"):
        from autoq.keras_env import require_keras2_model
        require_keras2_model(src)
        if trial is not None:
            raise ExportError("--trial needs a search directory, not a model")
        return src, src.name, None
    path = os.fspath(src)
    if os.path.isdir(path):
        h5 = os.path.join(path, "best_model.h5")
        if not (os.path.isfile(h5) and os.path.isfile(os.path.join(path, "summary.json"))):
            raise ExportError(f"{path} is not a finished search directory: it needs best_model.h5 and summary.json")
        name = os.path.basename(os.path.normpath(path))
        if trial is not None:
            h5, name = _trial_model(path, str(trial)), f"{name}_trial{trial}"
        data = None
        npz = os.path.join(path, "data_sample.npz")
        if os.path.isfile(npz):
            with np.load(npz) as z:
                data = {k: z[k] for k in z.files}
        return load_h5(h5, trust_model), name, data
    if trial is not None:
        raise ExportError(f"--trial needs a search directory; {path} is not one")
    if os.path.isfile(path):
        return load_h5(path, trust_model), os.path.splitext(os.path.basename(path))[0], None
    if not os.path.exists(path):
        raise ExportError(f"cannot export {src!r}: no such file or directory")
    raise ExportError(f"cannot export {src!r}: not a tf.keras model, an .h5 file or a search directory")


def _trial_model(search_dir: str, trial: str) -> str:
    """Path of the saved model of ``trial`` in a search directory (``trials/<id>/model.h5``)."""
    path = os.path.join(search_dir, "trials", trial, "model.h5")
    if os.path.isfile(path):
        return path
    tdir = os.path.join(search_dir, "trials")
    saved = sorted(t for t in (os.listdir(tdir) if os.path.isdir(tdir) else [])
                   if os.path.isfile(os.path.join(tdir, t, "model.h5")))
    raise ExportError(
        f"trial {trial!r} has no saved model in {search_dir}; trials with a saved model: {', '.join(saved) or 'none'}"
        " (search.keep: pareto keeps the Pareto front and the winner, all keeps every trial)"
    )


def load_h5(path: str, trust_model: bool = False) -> Any:
    from qkeras.utils import load_qmodel

    from autoq import model_io
    from autoq.quantizers import custom_objects  # QKeras objects and autoq's QIL

    try:
        model_io.check_file(path, trust_model)
    except AutoqError as exc:
        raise ExportError(str(exc)) from None
    try:
        return load_qmodel(path, custom_objects=custom_objects(), compile=False)
    except Exception as e:  # noqa: BLE001 -- any load failure is a user-facing error here
        raise ExportError(f"cannot load model from {path}: {e}") from e


def load_npz_inputs(path: str) -> np.ndarray:
    """Input samples from an .npz: the array ``x_val``, ``x_test``, ``x`` or ``X`` (first found)."""
    try:
        with np.load(path) as z:
            for key in ("x_val", "x_test", "x", "X", "x_train"):
                if key in z.files:
                    return np.asarray(z[key])
            keys = list(z.files)
    except (OSError, ValueError) as e:
        raise ExportError(f"cannot read {path}: {e}") from e
    raise ExportError(f"{path} has no input array: expected one of x_val, x_test, x, X (found {', '.join(keys)})")


# --------------------------------------------------------------------------------------------------- preparing
def prepare(model: Any) -> Any:
    """The model hls4ml gets, equal to ``model`` on every input: QIL quantizers folded, a layer named 'input'
    (reserved by hls4ml) renamed, QBatchNormalization given as the BatchNormalization of its quantized parameters
    (hls4ml ignores its po2 quantizers); the model itself when nothing applies."""
    from autoq.qil import QIL, fold_qil

    if any(isinstance(v, QIL) for lay in model.layers for v in vars(lay).values()):
        model = fold_qil(model)
    if any(lay.name == "input" or type(lay).__name__ == "QBatchNormalization" for lay in model.layers):
        model = _rebuild(model)
    return model


def _rebuild(model: Any) -> Any:
    """A functional copy of ``model`` (same weights) with 'input' renamed and QBatchNormalization replaced."""
    import tensorflow as tf

    first = model.layers[0]
    name = first.name if type(first).__name__ == "InputLayer" else f"{model.name}_input"
    inp = tf.keras.Input(model.input_shape[1:], name="input_1_" if name == "input" else name)
    tensors = {id(model.inputs[0]): inp}
    copies = []
    for layer in model.layers:
        if type(layer).__name__ == "InputLayer":
            continue
        node = layer.inbound_nodes[0]
        args = [tensors[id(t)] for t in tf.nest.flatten(node.input_tensors)]
        qbn = type(layer).__name__ == "QBatchNormalization"
        new = _plain_bn(layer) if qbn else layer.__class__.from_config(layer.get_config())
        y = new(args[0] if len(args) == 1 else args)
        copies.append((new, _quantized_bn_weights(layer) if qbn else layer.get_weights()))
        tensors[id(layer.output)] = y
    out = tf.keras.Model(inp, tensors[id(model.outputs[0])], name=model.name)
    for new, weights in copies:
        new.set_weights(weights)
    return out


def _plain_bn(layer: Any) -> Any:
    import tensorflow as tf

    keep = ("axis", "momentum", "epsilon", "center", "scale", "name")
    return tf.keras.layers.BatchNormalization(**{k: v for k, v in layer.get_config().items() if k in keep})


def _quantized_bn_weights(layer: Any) -> list:
    """gamma, beta, mean, variance as QBatchNormalization uses them at inference (each through its quantizer)."""
    out = []
    for wname in ("gamma", "beta", "moving_mean", "moving_variance"):
        w = getattr(layer, wname, None)
        if w is None:
            continue
        qname_ = {"moving_mean": "mean", "moving_variance": "variance"}.get(wname, wname)
        q = getattr(layer, f"{qname_}_quantizer_internal", None)
        out.append(np.asarray(q(w) if q is not None else w, dtype=np.float32))
    return out
