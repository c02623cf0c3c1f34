"""What hls4ml 1.3 implements bit-exactly: the layers, quantizers and activations autoq lets through to an export,
and the check of a model against them (one clear error naming the layer otherwise). The search space uses the same
check, so a model it cannot export is refused before any training."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import UnsupportedModelError
from ..graph import Q_CLASS

LAYERS = (
    "InputLayer", "QDense", "QConv1D", "QConv2D", "QDepthwiseConv2D", "QSeparableConv1D", "QSeparableConv2D",
    "QConv2DBatchnorm", "QActivation", "QBatchNormalization", "BatchNormalization", "Activation", "ReLU", "Softmax",
    "Flatten", "Reshape", "Dropout", "MaxPooling1D", "MaxPooling2D", "AveragePooling1D", "AveragePooling2D",
    "GlobalMaxPooling1D", "GlobalMaxPooling2D", "GlobalAveragePooling1D", "GlobalAveragePooling2D", "Add",
    "Concatenate", "Dense", "Conv1D", "Conv2D", "ZeroPadding1D", "ZeroPadding2D", "UpSampling1D", "UpSampling2D",
)
#: layers hls4ml 1.3's Keras 2 converter has no handler for (or none autoq can check), with the reason
NOT_EXPORTED = {
    "Conv2DTranspose": "hls4ml 1.3's Keras converter has no Conv2DTranspose handler; use UpSampling2D + Conv2D",
    "Conv1DTranspose": "hls4ml 1.3's Keras converter has no Conv1DTranspose handler; use UpSampling1D + Conv1D",
    "LeakyReLU": "hls4ml computes a float LeakyReLU's slope in fixed point, not as Keras does; use "
                 "quantized_relu(bits, integer, negative_slope=...) (a searched ReLU) or ReLU",
}
WEIGHT_QUANTIZERS = ("quantized_bits", "ternary", "binary", "stochastic_ternary", "stochastic_binary", "quantized_po2")
ACTIVATION_QUANTIZERS = ("quantized_relu", "quantized_bits", "binary", "ternary", "quantized_tanh",
                         "quantized_sigmoid", "binary_tanh")
FLOAT_ACTIVATIONS = ("linear", "relu", "softmax", "sigmoid")
#: float activations hls4ml computes with lookup tables: only as a model's output head, checked on its logits
HEAD_ACTIVATIONS = ("softmax", "sigmoid")
#: the quantizable classes (:data:`autoq.graph.Q_CLASS`) left float that the export lets through: exported with
#: hls4ml's default fixed<16,6> weights, never exact (a float DepthwiseConv2D is not in :data:`LAYERS`, so not here)
FLOAT_LAYERS = tuple(c for c in Q_CLASS if c in LAYERS)


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
    if len(model.inputs) != 1:  # several outputs export (io_parallel), each checked (exporting.check.compare_outputs)
        raise UnsupportedModelError(
            f"model {model.name!r} has {len(model.inputs)} inputs: only single-input models are supported"
        )
    outputs = {t.name.split("/")[0] for t in model.outputs} | {lay.name for lay in getattr(model, "_output_layers", [])}
    for layer in model.layers:
        check_layer(layer)
        act = "softmax" if type(layer).__name__ == "Softmax" else activation_name(layer)
        if act in HEAD_ACTIVATIONS and type(layer).__name__ != "QActivation" and layer.name not in outputs:
            raise UnsupportedModelError(
                f"layer {layer.name!r}: a float {act} inside the model is computed by hls4ml with a lookup table (an "
                "approximation); only an output head is checked on its logits"
            )


def check_layer(layer: Any) -> None:
    """Raise UnsupportedModelError if ``layer`` (its type, quantizers, activation, pool) cannot be exported exactly."""
    cls = type(layer).__name__
    if cls in NOT_EXPORTED:
        raise UnsupportedModelError(f"layer {layer.name!r} ({cls}) cannot be exported to hls4ml: {NOT_EXPORTED[cls]}")
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
    why = quantizer_problem(q, attr.replace("_quantizer", "").replace("depthwise", "kernel").replace("pointwise",
                                                                                                      "kernel"))
    if why:
        raise UnsupportedModelError(f"layer {layer.name!r}: {attr} {qname(q)}: {why}")


def quantizer_problem(q: Any, role: str) -> str | None:
    """Why hls4ml cannot reproduce the quantizer object ``q`` bit for bit in ``role`` (kernel, bias, activation,
    input); None when it can. The one table of quantizer rules: config validation and the search space use it."""
    name = qname(q)
    alpha = getattr(q, "alpha", None)
    if role in ("kernel", "bias"):
        if role == "bias" and name == "quantized_po2":
            return ("hls4ml stores po2 biases as (sign, exponent) pairs its dense/conv code cannot add (g++ fails); "
                    "use quantized_bits for biases")
        if name not in WEIGHT_QUANTIZERS:
            return f"no exact hls4ml type; use one of {', '.join(WEIGHT_QUANTIZERS)}"
        if name == "quantized_po2" and getattr(q, "max_value", None) is not None and q.max_value <= 1:
            return (f"max_value={q.max_value} (at most 1) drops the exponent's sign bit, so QKeras' exponents run "
                    "below what hls4ml's signed exponent type of the same width holds (not bit-exact); drop max_value "
                    "or give one above 1")
        if alpha is not None and not isinstance(alpha, str) and np.any(np.asarray(alpha, dtype=float) != 1.0):
            return (f"a fixed alpha={alpha!r} scales by a constant hls4ml does not apply; use alpha 1, None, 'auto' or "
                    "'auto_po2'")
    elif name in ACTIVATION_QUANTIZERS and name == "quantized_bits" and isinstance(alpha, str):
        return (f"alpha={alpha!r} on an activation scales by a data-dependent factor hls4ml cannot reproduce; use "
                "alpha=1")
    elif name not in ACTIVATION_QUANTIZERS:
        return f"not supported by hls4ml's QKeras converter; use one of {', '.join(ACTIVATION_QUANTIZERS)}"
    if name == "quantized_bits" and getattr(q, "use_stochastic_rounding", False):
        return "stochastic rounding has no fixed-point equivalent; drop use_stochastic_rounding"
    return None


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
