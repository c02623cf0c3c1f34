"""Exact effective BOPs (EBOPs) of a trained quantized model, as HGQ (hgq 0.2.6, ``trace_minmax`` /
``compute_exact_bops``) defines them.

For every multiplication of a Dense / Conv layer: the bit span of the quantized weight (bits from the highest to the
lowest set bit of ``|w|``; a zero weight is 0; the sign is not counted) times the traced width of the input element
it multiplies. An input element's width is ``k + i + f``: ``f`` the fractional bits of the quantizer that produced
it, ``i`` the integer bits its values use over the tracing data (HGQ's ``get_bits_exact``: ``max(ceil(log2|min|),
ceil(log2(max + 2^-f)))``, clipped to ``[-f - k, 32]``), ``k`` 1 when a traced value is negative. The model input is
traced like every activation (HGQ's ``HQuantize``); a tensor no quantizer produced (float) counts
``DEFAULT_FLOAT_BITS`` (hls4ml's default ``ap_fixed<16,6>``); a po2 / ternary / binary activation its nominal bits.
Dense: ``sum(input_widths @ kernel_spans)``. Conv: as HGQ, ``sum(conv(input_widths, kernel_spans))`` divided by the
number of output pixels (one kernel instance, reused over the pixels; hls4ml's parallelization factor 1).

Works on QKeras models and on HGQ models (``fused_qkernel`` / ``paq``), so one function prices every model.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..graph import inbound_names
from .estimate import DEFAULT_FLOAT_BITS

#: layers whose output stays on their input's grid (the width is traced at their output); not graph.PASS_THROUGH
#: (what a search passes over: that includes averaging)
SAME_GRID = ("Flatten", "Reshape", "Dropout", "MaxPooling1D", "MaxPooling2D", "ZeroPadding1D", "ZeroPadding2D",
             "Permute", "UpSampling1D", "UpSampling2D", "Cropping1D", "Cropping2D", "Concatenate", "ReLU",
             "PFlatten", "PReshape", "PDropout", "PMaxPooling1D", "PMaxPooling2D", "PConcatenate")
DENSE = ("QDense", "Dense", "HDense")
CONV = ("QConv1D", "Conv1D", "QConv2D", "Conv2D", "HConv1D", "HConv2D")
DEPTHWISE = ("QDepthwiseConv2D", "DepthwiseConv2D")


@dataclass
class LayerEbops:
    """One Dense/Conv layer's EBOPs and what they were counted from."""

    name: str
    class_name: str
    ebops: float
    mean_weight_bits: float  # mean bit span over the kernel (zeros count 0)
    zero_weights: int
    mean_input_bits: float  # mean traced width over the input elements


def bit_span(values) -> np.ndarray:
    """Bits between the highest and the lowest set bit of ``|v|`` (0 for 0), exact for binary floats."""
    a = np.abs(np.asarray(values, dtype=np.float64))
    mant, _ = np.frexp(a)  # a = mant * 2^e, mant in [0.5, 1)
    m = np.round(mant * 2.0 ** 53).astype(np.int64)  # exact: a float64 mantissa has 53 bits
    tz = np.zeros(m.shape, dtype=np.int64)
    rest = m.copy()
    nz = rest != 0
    while np.any(nz & (rest % 2 == 0)):
        even = nz & (rest % 2 == 0)
        tz[even] += 1
        rest[even] //= 2
    return np.where(m != 0, 53 - tz, 0)


def _activation_grid(q):
    """('frac', f) for a fixed-point quantizer, ('fixed', bits) for a po2/ternary/binary one, None for float."""
    name = type(q).__name__
    if name == "quantized_bits":
        return "frac", int(q.bits) - int(q.integer) - int(bool(q.keep_negative))
    if name == "quantized_relu":
        return "frac", int(q.bits) - int(q.integer)
    if name in ("ternary", "stochastic_ternary"):
        return "fixed", 2
    if name in ("binary", "stochastic_binary"):
        return "fixed", 1
    if name in ("quantized_po2", "quantized_relu_po2"):
        return "fixed", int(getattr(q, "bits", 8))
    return None


def _output_grid(layer):
    """The grid of a quantizing layer's output: ('frac', f or per-element f), ('fixed', bits); None: not one."""
    cls = type(layer).__name__
    if hasattr(layer, "paq"):  # HGQ: per-element fractional bits of its (pre-)activation quantizer
        return "frac", np.round(np.asarray(layer.paq.fbw)[0]).astype(np.int64)  # its shape: (1,) + element shape
    if cls == "QActivation":
        q = getattr(layer, "quantizer", None)
        return _activation_grid(q) if q is not None and hasattr(q, "bits") else None
    if cls in DENSE + CONV + DEPTHWISE:
        act = getattr(layer, "activation", None)
        return _activation_grid(act) if act is not None and hasattr(act, "bits") else None
    return None


def _passes_through(layer) -> bool:
    """Does ``layer`` move, copy or max-pool its input elements (HGQ's passive layers: widths follow them)?"""
    cls = type(layer).__name__
    if cls in SAME_GRID:
        return True
    if cls in ("Activation", "QActivation"):  # a float relu / linear keeps the width
        act = getattr(layer, "quantizer", None) if cls == "QActivation" else layer.activation
        return getattr(act, "__name__", "") in ("relu", "linear")
    return False


def traced_widths(lo: np.ndarray, hi: np.ndarray, grid) -> np.ndarray:
    """Per-element width ``k + i + f`` of a tensor whose values span ``[lo, hi]`` on ``grid`` (HGQ's
    ``get_bits_exact``)."""
    if grid is None:
        return np.full(lo.shape, float(DEFAULT_FLOAT_BITS))
    if grid[0] == "fixed":
        return np.full(lo.shape, float(grid[1]))
    f = np.broadcast_to(np.asarray(grid[1], dtype=np.float64), lo.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        i_neg = np.ceil(np.log2(np.abs(lo)))
        i_pos = np.ceil(np.log2(np.abs(hi + 2.0 ** -f)))
    i = np.maximum(i_neg, i_pos)
    k = (lo < 0).astype(np.float64)
    i = np.clip(i, -f - k, 32)
    return np.maximum(k + i + f, 0.0)


def _quantized_kernel(layer) -> np.ndarray:
    if hasattr(layer, "fused_qkernel"):  # HGQ
        return np.asarray(layer.fused_qkernel)
    kernel = layer.depthwise_kernel if type(layer).__name__ in DEPTHWISE else layer.kernel
    q = getattr(layer, "kernel_quantizer_internal", None) or getattr(layer, "depthwise_quantizer_internal", None)
    k = np.asarray(kernel)
    return np.asarray(q(k.astype(np.float32))) if q is not None else k


def _trace(model, layers: list, x, batch_size: int = 4096) -> list:
    """Per-element (min, max) over ``x`` of each layer's output (one inference pass)."""
    if not layers:
        return []
    import tensorflow as tf
    probe = tf.keras.Model(model.inputs, [layer.output for layer in layers])
    lo = hi = None
    for s in range(0, len(x), batch_size):
        outs = probe(x[s:s + batch_size], training=False)
        outs = [np.asarray(o) for o in (outs if isinstance(outs, (list, tuple)) else [outs])]
        mins, maxs = [o.min(axis=0) for o in outs], [o.max(axis=0) for o in outs]
        lo = mins if lo is None else [np.minimum(a, b) for a, b in zip(lo, mins)]
        hi = maxs if hi is None else [np.maximum(a, b) for a, b in zip(hi, maxs)]
    return list(zip(lo, hi))


def _layer_ebops(layer, in_bw: np.ndarray, k_bw: np.ndarray) -> float:
    import tensorflow as tf
    cls = type(layer).__name__
    x = tf.constant(in_bw[None, ...], tf.float32)
    if cls in DENSE:
        return float(np.sum(np.matmul(in_bw[None, ...], k_bw)))
    if cls in DEPTHWISE:
        out = tf.keras.backend.depthwise_conv2d(x, tf.constant(k_bw, tf.float32), strides=layer.strides,
                                                padding=layer.padding, data_format=layer.data_format,
                                                dilation_rate=layer.dilation_rate)
    else:
        out = layer.convolution_op(x, tf.constant(k_bw, tf.float32))
    pixels = int(np.prod(out.shape[1:-1]))
    parallel = float(np.asarray(getattr(layer, "parallel_factor", 1) or 1))
    return float(np.sum(out.numpy(), dtype=np.float64)) * parallel / pixels


def _float_widths(layer) -> np.ndarray:
    shape = layer.output_shape[0] if isinstance(layer.output_shape, list) else layer.output_shape
    return np.full(tuple(shape[1:]), float(DEFAULT_FLOAT_BITS))


def input_widths(model, x_trace) -> dict:
    """{layer name: per-element width of its output}: traced at every quantizer, carried through passive layers
    (reshape, flatten, max pooling, ...) as HGQ carries them, ``DEFAULT_FLOAT_BITS`` where nothing quantized."""
    import tensorflow as tf
    quantizing = [layer for layer in model.layers if _output_grid(layer) is not None]
    ranges = dict(zip([layer.name for layer in quantizing], _trace(model, quantizing, np.asarray(x_trace))))
    widths: dict = {}
    for layer in model.layers:
        srcs = [widths[s] for s in inbound_names(layer) if s in widths]
        if layer.name in ranges:
            lo, hi = ranges[layer.name]
            widths[layer.name] = traced_widths(lo.astype(np.float64), hi.astype(np.float64), _output_grid(layer))
        elif _passes_through(layer) and srcs:
            ins = [tf.constant(w[None, ...], tf.float32) for w in srcs]
            out = layer(ins if len(ins) > 1 else ins[0], training=False)
            widths[layer.name] = np.asarray(out)[0].astype(np.float64)
        else:
            widths[layer.name] = _float_widths(layer)
    return widths


def layer_ebops(model, x_trace) -> list:
    """:class:`LayerEbops` of every Dense/Conv layer of ``model``, input widths traced on ``x_trace``."""
    widths = input_widths(model, x_trace)
    rows = []
    for layer in model.layers:
        if type(layer).__name__ not in DENSE + CONV + DEPTHWISE:
            continue
        srcs = inbound_names(layer)
        in_bw = widths.get(srcs[0]) if srcs else None
        if in_bw is None:  # fed by the model's (float) input
            in_bw = np.full(tuple(layer.input_shape[1:]), float(DEFAULT_FLOAT_BITS))
        kernel = _quantized_kernel(layer)
        k_bw = bit_span(kernel).astype(np.float64)
        rows.append(LayerEbops(layer.name, type(layer).__name__, _layer_ebops(layer, in_bw, k_bw),
                               float(k_bw.mean()), int(np.sum(kernel == 0)), float(in_bw.mean())))
    return rows


def ebops(model, x_trace) -> float:
    """Exact effective BOPs of ``model`` (QKeras or HGQ), activation widths traced on ``x_trace`` (the training
    data)."""
    return float(sum(r.ebops for r in layer_ebops(model, x_trace)))
