"""AutoQKeras's bits goal: the model's size in bits, parameters plus activations (``goal.input_bits/output_bits``).

The same accounting as QKeras's ``ForgivingFactorBits.compute_model_size`` with its default per-layer config
``{"default": ["parameters", "activations"]}`` (qkeras/autoqkeras/forgiving_metrics/forgiving_bits.py):

- parameters: every weight of a Dense/Conv1D/Conv2D/DepthwiseConv2D at its quantizer's bits (``ref_bits`` when
  unquantized); a float BatchNormalization counts its scale and centre at ``ref_bits``.
- activations (values per sample x bits): the input layer at ``input_bits``; a softmax/sigmoid output at
  ``output_bits``; a quantized activation at its quantizer's bits; a float non-linear activation at ``ref_bits``;
  linear outputs count nothing.

autoq prices unquantized values at 32 bits (``ref_bits``; AutoQKeras's default is 8), and prices its reference (the
float model as 16-bit fixed point) with the same function, as AutoQKeras prices its reference model with the trial's
formula. Written out rather than called: QKeras's own function reads ``QActivation.activation.__name__``, which its
quantizer objects do not have.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..graph import Q_CLASS

AUTOQKERAS_DEFAULT_BITS = 8  # AutoQKeras's input_bits / output_bits when its goal does not give them
FLOAT_LAYERS = tuple(Q_CLASS)
Q_LAYERS = tuple(Q_CLASS.values())


@dataclass
class BitsSize:
    """Total, parameter and activation bits, and per layer name ``(parameters, activations)``."""

    total: int
    parameters: int
    activations: int
    layers: dict = field(default_factory=dict)


def _bits_of(q, ref_bits: int) -> int:
    if q is None:
        return ref_bits
    bits = getattr(q, "bits", None)
    return int(bits) if bits is not None else ref_bits


def _act_name(act) -> str | None:
    """'linear', 'softmax', ... for a function or a name; None for a quantizer object."""
    if act is None:
        return None
    if isinstance(act, str):
        return act
    return getattr(act, "__name__", None)


def param_bits(layer, ref_bits: int) -> int:
    cls = layer.__class__.__name__
    if cls in FLOAT_LAYERS:
        return int(sum(ref_bits * np.prod(w.shape) for w in layer.get_weights()))
    if cls in Q_LAYERS:
        qs = layer.get_quantizers()
        return int(sum(_bits_of(qs[i] if i < len(qs) else None, ref_bits) * np.prod(w.shape)
                       for i, w in enumerate(layer.get_weights())))
    if cls == "BatchNormalization":
        w = layer.get_weights()
        n = ref_bits * np.prod(w[-1].shape)  # scale
        if layer.center:
            n += ref_bits * np.prod(w[int(bool(layer.scale))].shape)
        return int(n)
    return 0


def act_bits(layer, input_bits: int, output_bits: int, ref_bits: int) -> int:
    cls = layer.__class__.__name__
    shape = layer.output_shape
    shape = shape[0] if isinstance(shape, list) else shape
    size = int(np.prod(shape[1:]))
    if cls == "InputLayer":
        return input_bits * size
    if cls in FLOAT_LAYERS:
        return ref_bits * size if _act_name(layer.activation) not in (None, "linear") else 0
    if cls in Q_LAYERS or cls in ("QActivation", "Activation"):
        act = layer.activation
        name = _act_name(act)
        if name == "linear":
            return 0
        if name == "softmax" or (name == "sigmoid" and cls not in Q_LAYERS):
            return output_bits * size
        if isinstance(act, str):
            from qkeras import get_quantizer
            act = get_quantizer(act)
        return _bits_of(act, ref_bits) * size
    return 0


def model_size(model, input_bits: int | None = None, output_bits: int | None = None,
               ref_bits: int = 32) -> BitsSize:
    """AutoQKeras's size of ``model`` in bits (``None``: AutoQKeras's default of 8 bits)."""
    ib = AUTOQKERAS_DEFAULT_BITS if input_bits is None else int(input_bits)
    ob = AUTOQKERAS_DEFAULT_BITS if output_bits is None else int(output_bits)
    layers, p_total, a_total = {}, 0, 0
    for layer in model.layers:
        p, a = param_bits(layer, ref_bits), act_bits(layer, ib, ob, ref_bits)
        layers[layer.name] = (p, a)
        p_total += p
        a_total += a
    return BitsSize(p_total + a_total, p_total, a_total, layers)
