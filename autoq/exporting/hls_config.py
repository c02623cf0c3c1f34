"""hls4ml side of the export: the per-layer config, the one conversion call, and the exact types hls4ml lacks.

hls4ml's own QKeras handling does most of the work (quantizer -> ``ap_fixed`` types, ``ApplyAlpha`` for
``alpha='auto_po2'``/``'auto'``, batch-norm/ternary/binary fusions, ``infer_precision`` for ``auto`` accumulators).
:func:`exact_types` then widens only the types hls4ml leaves at its 16-bit default or sizes too small to equal
QKeras: accumulators of power-of-two and binary (XNOR) weights, float ``relu`` outputs, average pooling (the
division by a power of two needs fraction bits), batch-norm/alpha scales, and ``quantized_relu`` with a
``negative_slope`` (signed). Every widened type is exact by construction (no rounding, no overflow).
"""
from __future__ import annotations

import math
import re
from typing import Any

import numpy as np

DEFAULT_INPUT_PRECISION = "fixed<16,6,RND_CONV,SAT>"
WIDE_CONST_BITS = 32  # fraction bits kept for float constants (batch-norm scale/bias, 'auto' alpha scales)


def _qname(q: Any) -> str:
    return q if isinstance(q, str) else type(q).__name__


def input_quantizer(model: Any) -> Any | None:
    """The QActivation(quantized_bits) right after the input (named 'input_quant' by convention), if any."""
    layers = [lay for lay in model.layers if type(lay).__name__ != "InputLayer"]
    if len(layers) == 1:  # a lone quantizer: giving the input its type would leave hls4ml no layer to implement
        return None
    if layers and type(layers[0]).__name__ == "QActivation" and _qname(layers[0].quantizer) == "quantized_bits":
        q = layers[0].quantizer
        if getattr(q, "alpha", 1) in (1, None, 1.0):
            return layers[0]
    return None


def quantizer_precision(q: Any) -> str | None:
    """hls4ml precision of a QKeras activation quantizer (round half to even, saturate), None if not fixed-point."""
    name = _qname(q)
    if name == "quantized_bits":
        if q.keep_negative:
            return f"fixed<{int(q.bits)},{int(q.integer) + 1},RND_CONV,SAT>"
        return f"ufixed<{int(q.bits)},{int(q.integer)},RND_CONV,SAT>"
    if name == "quantized_relu":
        if getattr(q, "negative_slope", 0):
            return f"fixed<{int(q.bits)},{int(q.integer) + 1},RND_CONV,SAT>"
        return f"ufixed<{int(q.bits)},{int(q.integer)},RND_CONV,SAT>"
    return None


def hls_config_for(model: Any, backend: str, reuse_factor: int, strategy: str) -> tuple[dict, str]:
    """Per-layer hls4ml config ('name' granularity) with the input type fixed; returns (config, input precision)."""
    import hls4ml

    cfg = hls4ml.utils.config_from_keras_model(
        model, granularity="name", backend=backend, default_reuse_factor=int(reuse_factor)
    )
    cfg["Model"]["Strategy"] = "Resource" if strategy.lower() == "resource" else "Latency"
    iq = input_quantizer(model)
    in_prec = quantizer_precision(iq.quantizer) if iq is not None else DEFAULT_INPUT_PRECISION
    in_name = model.layers[0].name if type(model.layers[0]).__name__ == "InputLayer" else None
    names = list(cfg["LayerName"])
    if in_name is None:  # Sequential models without an explicit InputLayer: hls4ml names it '<first>_input'
        in_name = names[0]
    cfg["LayerName"].setdefault(in_name, {}).setdefault("Precision", {})["result"] = in_prec
    # hls4ml derives integer types (uint<b>: truncate and wrap) for quantizers without fractional bits, e.g.
    # quantized_relu(2,2); QKeras rounds half to even and saturates. Pin every activation's type from its quantizer.
    for layer in model.layers:
        q = getattr(layer, "quantizer", None) if type(layer).__name__ == "QActivation" else None
        prec = quantizer_precision(q) if q is not None else None
        if prec and layer.name in cfg["LayerName"]:
            cfg["LayerName"][layer.name].setdefault("Precision", {})["result"] = prec
    for name in cfg["LayerName"]:
        cfg["LayerName"][name]["Trace"] = True
    return cfg, in_prec


def is_float_model(model: Any) -> bool:
    """True when no layer of ``model`` is a QKeras layer (nothing quantized)."""
    return not any(type(layer).__name__.startswith("Q") for layer in model.layers)


def default_float_types(cfg: dict) -> None:
    """hls4ml's usual default (``Model.Precision.default``, ap_fixed<16,6>) instead of ``auto`` for every type of a
    float model: hls4ml's ``auto`` would derive exact 36- to 100-bit sums from 16-bit weights and inputs."""
    default = cfg["Model"]["Precision"]["default"]
    for entry in cfg["LayerName"].values():
        prec = entry.get("Precision")
        if isinstance(prec, dict):
            entry["Precision"] = {k: default if v == "auto" else v for k, v in prec.items()}


def convert(kmodel: Any, hls_config: dict, keep: tuple = (), **kwargs) -> Any:
    """The one hls4ml conversion call: convert, then give every layer an exact type (:func:`exact_types`)."""
    import hls4ml

    hls_model = hls4ml.converters.convert_from_keras_model(kmodel, hls_config=hls_config, **kwargs)
    hls_model.autoq_type_notes = exact_types(hls_model, keep) + binary_thresholds(hls_model, kmodel)
    return hls_model


# ----------------------------------------------------------------------------------------------- exact types
def _fixed(width: int, integer: int, signed: bool = True, rnd: str | None = None, sat: str | None = None):
    from hls4ml.backends.fpga.fpga_types import APTypeConverter  # Vivado/Vitis ap_fixed definitions
    from hls4ml.model.types import FixedPrecisionType

    return APTypeConverter().convert(FixedPrecisionType(int(width), int(integer), bool(signed), rnd, sat))


def _is_fixed(p: Any) -> bool:
    from hls4ml.model.types import FixedPrecisionType, IntegerPrecisionType, XnorPrecisionType

    return isinstance(p, (FixedPrecisionType, IntegerPrecisionType)) and not isinstance(p, XnorPrecisionType)


def _range(p: Any) -> tuple[float, float, int]:
    """(min, max, fraction bits) of an ap_fixed/ap_int precision."""
    from hls4ml.model.types import XnorPrecisionType

    if isinstance(p, XnorPrecisionType):
        return -1.0, 1.0, 0
    frac = p.width - p.integer
    lsb = 2.0**-frac
    if p.signed:
        return -(2.0 ** (p.integer - 1)), 2.0 ** (p.integer - 1) - lsb, frac
    return 0.0, 2.0**p.integer - lsb, frac


def _type_for(lo: float, hi: float, frac: int, rnd=None, sat=None):
    """Smallest fixed type holding every multiple of 2**-frac in [lo, hi]."""
    signed = lo < 0
    mag = max(abs(lo), abs(hi), 2.0**-frac)
    integer = max(math.floor(math.log2(mag)) + 1, 1 - frac) + (1 if signed else 0)
    return _fixed(integer + frac, integer, signed, rnd, sat)


def _frac_bits(values: np.ndarray) -> int:
    """Fraction bits needed to hold every value exactly (float32 values have at most 24 significant bits)."""
    v = np.abs(np.asarray(values, dtype=np.float64)).ravel()
    v = v[v != 0]
    frac = 0
    while v.size and frac < 64 and np.any(v * 2.0**frac != np.round(v * 2.0**frac)):
        frac += 1
    return frac


def _set(node: Any, tname: str, precision: Any) -> None:
    t = node.types.get(tname) if hasattr(node, "types") else None
    if t is None:
        t = node.get_attr(tname)
    if t is None:
        return
    t.precision = precision
    if tname == "result_t":
        node.get_output_variable().type.precision = precision
    wname = tname[:-2]
    if wname in getattr(node, "weights", {}):
        node.weights[wname].update_precision(precision)


def _set_const(node: Any, wname: str) -> Any:
    """Give constant weights ``wname`` (float scale/bias) a type that holds them exactly; return it."""
    data = np.asarray(node.weights[wname].data, dtype=np.float64)
    frac = min(_frac_bits(data), WIDE_CONST_BITS)
    lo, hi = float(min(data.min(), 0)), float(max(data.max(), 0))
    p = _type_for(lo, hi, frac, "RND_CONV")
    _set(node, f"{wname}_t", p)
    return p


def _sum_of_products(node: Any, x: Any, n_terms: int) -> Any | None:
    """Exact accumulator type of ``sum(x * w) + b`` over the node's real weights (po2 and XNOR included)."""
    w = np.asarray(node.weights["weight"].data, dtype=np.float64)
    from hls4ml.model.types import XnorPrecisionType

    if isinstance(node.types["weight_t"].precision, XnorPrecisionType):
        w = np.where(w == 0, -1.0, 1.0)
    x_lo, x_hi, x_frac = _range(x)
    bound = max(abs(x_lo), abs(x_hi)) * float(np.max(np.abs(w))) * n_terms
    frac = x_frac + _frac_bits(w)
    if "bias" in node.weights and np.any(np.asarray(node.weights["bias"].data) != 0):
        b = np.asarray(node.weights["bias"].data, dtype=np.float64)
        bound += float(np.max(np.abs(b)))
        bp = node.types["bias_t"].precision
        frac = max(frac, _range(bp)[2] if _is_fixed(bp) else _frac_bits(b))
    return _type_for(-bound, bound, frac)


def _n_terms(node: Any) -> int:
    cls = node.class_name
    if cls == "Dense":
        return int(node.get_attr("n_in"))
    if cls.startswith("Depthwise"):
        return int(node.get_attr("filt_height", 1) * node.get_attr("filt_width"))
    return int(node.get_attr("n_chan") * node.get_attr("filt_height", 1) * node.get_attr("filt_width", 1))


def exact_types(hls_model: Any, keep: tuple = ()) -> list[str]:
    """Propagate exact types forward through every layer whose output is not a quantizer's (module docstring).

    hls4ml's ``infer_precision`` ran once at conversion with the types known then; after a widened type, the layers
    below it must be re-derived, so every computed layer is re-derived here in graph order. ``keep``: layer names
    whose types the user set explicitly (left alone). Returns one note per changed layer.
    """
    changed = []
    for node in hls_model.get_layers():
        fix = _FIXES.get(node.class_name)
        if fix is None or node.name in keep or not node.inputs:
            continue
        xs = [node.get_input_variable(i).type.precision for i in node.inputs]
        if not all(_is_fixed(x) or type(x).__name__ == "XnorPrecisionType" for x in xs):
            continue
        before = {k: str(v.precision) for k, v in node.types.items()}
        fix(node, xs[0]) if len(xs) == 1 else fix(node, *xs)
        after = {k: str(v.precision) for k, v in node.types.items()}
        diff = {k: after[k] for k in after if after[k] != before.get(k)}
        if diff:
            changed.append(f"{node.name}: " + ", ".join(f"{k} {precision_name(v)}" for k, v in diff.items()))
    return changed


def _fix_weighted(node: Any, x: Any) -> None:
    if node.get_attr("weight_quantizer") is None and node.get_attr("depthwise_quantizer") is None:
        return  # a float layer: not exact whatever the types (export notes it); keep hls4ml's
    if node.get_attr("bias_quantizer") is None and "bias" in node.weights:
        _set_const(node, "bias")  # a float bias (no quantizer): hls4ml would round it to its default type
    t = _sum_of_products(node, x, _n_terms(node))
    _set(node, "accum_t", t)
    _set(node, "result_t", t)


def _fix_activation(node: Any, x: Any) -> None:
    act = str(node.get_attr("activation", "")).lower()
    if node.get_attr("activation_quantizer") is not None or act not in ("relu", "linear"):
        return
    _set(node, "result_t", _fixed(x.width, x.integer, x.signed))  # relu/linear zero or copy values: exact


def _fix_copy(node: Any, x: Any) -> None:
    if node.class_name.endswith("Pooling1D") or node.class_name.endswith("Pooling2D"):
        if str(node.get_attr("pool_op", "")).lower() == "average":
            return _fix_average(node, x)
        _set(node, "accum_t", _fixed(x.width, x.integer, x.signed))
    # the input's rounding and saturation too: in io_parallel a Reshape/Flatten shares its input's variable, so a
    # TRN/WRAP copy type would make the quantized activation before it wrap instead of saturating
    _set(node, "result_t", _fixed(x.width, x.integer, x.signed, getattr(x, "rounding_mode", None),
                                  getattr(x, "saturation_mode", None)))


def _fix_average(node: Any, x: Any) -> None:
    if node.class_name.startswith("Global"):
        n = int(node.get_attr("in_height", 1) * node.get_attr("in_width", 1))
    else:
        n = int(node.get_attr("pool_height", 1) * node.get_attr("pool_width", 1))
    extra = int(math.ceil(math.log2(max(n, 1))))
    lo, hi, frac = _range(x)
    _set(node, "accum_t", _type_for(lo * n, hi * n, frac + 2 * extra))  # the sum, then a division by n in place
    _set(node, "result_t", _type_for(lo, hi, frac + extra, "RND_CONV"))  # exact when n is a power of two


def _fix_merge(node: Any, a: Any, b: Any) -> None:
    (alo, ahi, af), (blo, bhi, bf) = _range(a), _range(b)
    op = str(node.get_attr("op", "add")).lower()
    if op in ("add", "subtract", "average"):
        lo, hi = (alo - bhi, ahi - blo) if op == "subtract" else (alo + blo, ahi + bhi)
        _set(node, "result_t", _type_for(lo, hi, max(af, bf) + (1 if op == "average" else 0)))
    elif op in ("maximum", "minimum"):
        _set(node, "result_t", _type_for(min(alo, blo), max(ahi, bhi), max(af, bf)))
    elif op == "multiply":
        ends = [alo * blo, alo * bhi, ahi * blo, ahi * bhi]
        _set(node, "result_t", _type_for(min(ends), max(ends), af + bf))


def _fix_concat(node: Any, a: Any, b: Any) -> None:
    (alo, ahi, af), (blo, bhi, bf) = _range(a), _range(b)
    _set(node, "result_t", _type_for(min(alo, blo), max(ahi, bhi), max(af, bf)))


def _fix_scale(node: Any, x: Any) -> None:
    """Batch norm / ApplyAlpha: constants held exactly, result = x * scale + bias without rounding."""
    from hls4ml.model.types import ExponentPrecisionType

    if not isinstance(node.types["scale_t"].precision, ExponentPrecisionType):
        _set_const(node, "scale")
    has_bias = "bias" in node.weights and np.any(np.asarray(node.weights["bias"].data) != 0)
    if "bias" in node.weights:
        _set_const(node, "bias")
    s = np.asarray(node.weights["scale"].data, dtype=np.float64).ravel()
    b = np.asarray(node.weights["bias"].data, dtype=np.float64).ravel() if has_bias else np.zeros(1)
    x_lo, x_hi, x_frac = _range(x)
    ends = np.concatenate([s * x_lo, s * x_hi])
    frac = max(x_frac + _frac_bits(s), _frac_bits(b))
    _set(node, "result_t", _type_for(float(ends.min() + min(b.min(), 0)), float(ends.max() + max(b.max(), 0)), frac))


def _fix_threshold(node: Any, x: Any) -> None:
    """Binary/ternary thresholds compare against the input: they must have the input's type."""
    for w in [k for k in node.weights if k.startswith("threshold")]:
        node.weights[w].update_precision(x)


def _fix_leaky(node: Any, x: Any) -> None:
    """quantized_relu(b, i, negative_slope=s) clips negative outputs at -s*2**i; hls4ml's LeakyReLU does not. The
    same clip results from saturating the input at -2**i: the producer's result saturates at +-2**i (its sole use)."""
    q = node.get_attr("activation_quantizer")
    if not isinstance(q, dict) or str(node.get_attr("activation", "")).lower() != "leaky_relu":
        return
    integer = int(q.get("config", {}).get("integer", 0) or 0)
    prod = node.get_input_node()
    if prod is None or len(prod.get_output_nodes()) != 1 or "result_t" not in prod.types:
        return
    _, _, frac = _range(x)
    _set(prod, "result_t", _fixed(integer + 1 + frac, integer + 1, True, "TRN", "SAT"))
    prod.set_attr("autoq_clipped", True)


_WEIGHTED = ("Dense", "Conv1D", "Conv2D", "PointwiseConv1D", "PointwiseConv2D", "DepthwiseConv1D", "DepthwiseConv2D",
             "Conv2DBatchnorm")
_COPY = ("Reshape", "Transpose", "ZeroPadding1D", "ZeroPadding2D", "Clone", "Pooling1D", "Pooling2D",
         "GlobalPooling1D", "GlobalPooling2D")
_FIXES = {**{c: _fix_weighted for c in _WEIGHTED}, **{c: _fix_copy for c in _COPY},
          "Activation": _fix_activation, "ParametrizedActivation": _fix_leaky, "Merge": _fix_merge, "Concatenate": _fix_concat,
          "BatchNormalization": _fix_scale, "ApplyAlpha": _fix_scale,
          "BatchNormalizationQuantizedTanh": _fix_threshold}


def binary_thresholds(hls_model: Any, kmodel: Any) -> list[str]:
    """Exact thresholds of hls4ml's fused scale + binary activation (``bnbt_*``).

    hls4ml stores ``floor(t)`` on the input grid and outputs +1 when ``x >= floor(t)``; QKeras gives +1 when
    ``x*scale + bias >= 0`` (``binary``) or ``> 0`` (``binary_tanh``, whose round(0.5) is 0). On a grid of step
    ``2**-F`` that is ``x >= ceil(t)`` or ``x >= floor(t) + 2**-F``; recomputed here from the Keras layer."""
    notes = []
    by_name = {lay.name: lay for lay in kmodel.layers}
    names = [lay.name for lay in kmodel.layers]
    for node in hls_model.get_layers():
        if node.class_name != "BatchNormalizationQuantizedTanh" or node.get_attr("quantize") != 2:
            continue
        src = node.name.removeprefix("bnbt_")
        scale_bias = _alpha_scale_bias(by_name.get(src.removesuffix("_alpha"))) if src.endswith("_alpha") else \
            _bn_scale_bias(by_name.get(src))
        if scale_bias is None:
            continue
        scale, bias = scale_bias
        owner = src.removesuffix("_alpha") if src.endswith("_alpha") else src
        act = next((lay for lay in kmodel.layers[names.index(owner) + 1:] if type(lay).__name__ == "QActivation"),
                   None)
        strict = act is not None and "binary_tanh" in str(getattr(act.quantizer, "__name__", act.quantizer))
        frac = _range(node.get_input_variable().type.precision)[2]
        t = -np.asarray(bias, dtype=np.float64) / np.asarray(scale, dtype=np.float64) * 2.0**frac
        thr = (np.floor(t) + 1 if strict else np.ceil(t)) / 2.0**frac
        node.weights["threshold"].data = np.broadcast_to(thr, node.weights["threshold"].data.shape).copy()
        notes.append(f"{node.name}: thresholds on the input grid ({'>' if strict else '>='} as QKeras)")
    return notes


def _alpha_scale_bias(layer: Any) -> tuple | None:
    if layer is None or getattr(layer, "kernel_quantizer_internal", None) is None:
        return None
    q = layer.kernel_quantizer_internal
    q(layer.kernel)
    scale = np.asarray(getattr(q, "scale", 1.0), dtype=np.float64).ravel()
    bias = np.zeros(int(layer.kernel.shape[-1]))
    if getattr(layer, "use_bias", False):
        bq = getattr(layer, "bias_quantizer_internal", None)
        bias = np.asarray(bq(layer.bias) if bq is not None else layer.bias, dtype=np.float64)
    return scale, bias


def _bn_scale_bias(layer: Any) -> tuple | None:
    if layer is None or "BatchNormalization" not in type(layer).__name__:
        return None
    cfg = layer.get_config()
    gamma = np.asarray(layer.gamma, dtype=np.float64) if cfg.get("scale", True) else 1.0
    beta = np.asarray(layer.beta, dtype=np.float64) if cfg.get("center", True) else 0.0
    scale = gamma / np.sqrt(np.asarray(layer.moving_variance, dtype=np.float64) + cfg.get("epsilon", 1e-3))
    return scale, beta - np.asarray(layer.moving_mean, dtype=np.float64) * scale


def precision_name(p: Any) -> str:
    return re.sub(r",0>$", ">", str(p))
