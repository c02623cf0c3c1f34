"""QKeras model -> size in bits, BOPs, QTools energy (pJ). No training needed.

Definitions (one per objective, all per inference):
- bits: sum over weight layers of (#kernel values x kernel bits + #bias values x bias bits); an unquantized
  parameter counts 32 bits.
- BOPs: sum over weight layers of MACs x kernel bits x input bits (input bits = the bits of the quantizer that
  produced the layer's input; 32 where nothing quantized it).
- energy: QKeras QTools ``pe()`` with the 45 nm Horowitz model, weights and activations in fixed memory by default
  (``goal.process``, ``weights_on_memory``, ``activations_on_memory``, ``min_sram_size``, ``rd_wr_on_io`` as in
  AutoQKeras's energy goal), summed with QTools' default accounting (as AutoQKeras's forgiving energy metric does,
  but not truncated to an integer).
"""
from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass, field

import numpy as np

from ..graph import inbound_names, macs

FLOAT_BITS = 32


@dataclass
class LayerCost:
    """Cost of one layer under its quantizers."""

    name: str
    class_name: str
    kernel: str = ""
    bias: str = ""
    activation: str = ""
    params: int = 0
    macs: int = 0
    kernel_bits: int = 0
    bias_bits: int = 0
    input_bits: int = 0
    output_bits: int = 0
    bits: int = 0
    bops: int = 0
    energy: float = 0.0


@dataclass
class ModelCost:
    """Totals and per-layer rows."""

    bits: int
    bops: int
    energy: float
    layers: list = field(default_factory=list)

    def get(self, kind: str) -> float:
        return float(getattr(self, kind))

    def to_dict(self) -> dict:
        return asdict(self)


def _quantizer_bits(q) -> int:
    """Bits of one QKeras quantizer object (None/float -> 32)."""
    if q is None:
        return FLOAT_BITS
    name = q.__class__.__name__
    if name == "ternary":
        return 2
    if name == "binary":
        return 1
    bits = getattr(q, "bits", None)
    return int(bits) if bits is not None else FLOAT_BITS


def _qstr(q) -> str:
    if q is None:
        return ""
    try:
        return str(q)
    except Exception:  # some quantizers have no __str__
        return q.__class__.__name__


def _macs(layer) -> int:
    if layer.__class__.__name__ in TRANSPOSED:  # every input pixel scatters the whole kernel
        return int(np.prod(layer.input_shape[1:-1])) * int(np.prod(layer.kernel.shape))
    return macs(layer)


TRANSPOSED = ("Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose")
#: weightless layers that compute on every value (priced as one float multiply and add per output value when QTools
#: leaves them at 0 pJ); other weightless layers (reshape, pooling, padding, up-sampling) only move values
ELEMENTWISE = ("LeakyReLU", "ELU", "PReLU", "ThresholdedReLU", "ReLU", "Activation", "Softmax")


def layer_costs(model) -> list:
    """Per-layer bits and BOPs (energy filled by :func:`model_cost`)."""
    out_bits: dict = {}
    rows = []
    for layer in model.layers:
        cls = layer.__class__.__name__
        srcs = inbound_names(layer)
        in_bits = max((out_bits.get(s, FLOAT_BITS) for s in srcs), default=FLOAT_BITS)
        if cls == "InputLayer":
            out_bits[layer.name] = FLOAT_BITS
            continue
        if cls == "QActivation":
            q = layer.quantizer if hasattr(layer, "quantizer") else None
            b = _quantizer_bits(q if not isinstance(q, str) else None)
            out_bits[layer.name] = b
            rows.append(LayerCost(layer.name, cls, activation=_qstr(q), input_bits=in_bits, output_bits=b))
            continue
        if not layer.weights:
            out_bits[layer.name] = in_bits  # reshaping/pooling/float activations keep the width
            if cls in ELEMENTWISE:  # a float activation: listed, priced in model_cost
                rows.append(LayerCost(layer.name, cls, input_bits=in_bits, output_bits=in_bits))
            continue
        kq = getattr(layer, "kernel_quantizer_internal", None) or getattr(layer, "depthwise_quantizer_internal", None)
        bq = getattr(layer, "bias_quantizer_internal", None)
        kbits, bbits = _quantizer_bits(kq), _quantizer_bits(bq)
        kernel = getattr(layer, "kernel", None)
        if kernel is None:
            kernel = getattr(layer, "depthwise_kernel", None)
        nk = int(np.prod(kernel.shape)) if kernel is not None else 0
        bias = getattr(layer, "bias", None)
        nb = int(np.prod(bias.shape)) if bias is not None else 0
        macs = _macs(layer)
        fan_in = nk // max(1, int(kernel.shape[-1])) if kernel is not None else 1
        acc = kbits + in_bits + math.ceil(math.log2(max(2, fan_in)))
        out_bits[layer.name] = acc
        rows.append(LayerCost(layer.name, cls, kernel=_qstr(kq), bias=_qstr(bq), params=nk + nb, macs=macs,
                              kernel_bits=kbits, bias_bits=bbits if nb else 0, input_bits=in_bits, output_bits=acc,
                              bits=nk * kbits + nb * bbits, bops=macs * kbits * in_bits))
    return rows


@dataclass(frozen=True)
class EnergySettings:
    """QTools' knobs as AutoQKeras's energy goal names them (defaults: 45 nm Horowitz, everything in fixed memory)."""

    process: str = "horowitz"
    weights_on_memory: str = "fixed"
    activations_on_memory: str = "fixed"
    min_sram_size: int = 8 * 16 * 1024 * 1024
    rd_wr_on_io: bool = False
    # the bits goal's input/output sizes (AutoQKeras's input_bits/output_bits); None: bits counts parameters only
    input_bits: int | None = None
    output_bits: int | None = None

    @classmethod
    def of(cls, goal) -> "EnergySettings":
        """The settings of a :class:`autoq.config.GoalConfig`."""
        return cls(goal.process, goal.weights_on_memory, goal.activations_on_memory, goal.min_sram_size,
                   goal.rd_wr_on_io, getattr(goal, "input_bits", None), getattr(goal, "output_bits", None))


def qtools_energy(model, settings: EnergySettings = EnergySettings()) -> tuple:
    """(total pJ, {layer: pJ}) from QKeras QTools with AutoQKeras's accounting."""
    from qkeras.qtools import run_qtools
    from qkeras.qtools import settings as qsettings

    logging.getLogger().setLevel(max(logging.getLogger().level, logging.ERROR))  # QTools warns via root logger
    q = run_qtools.QTools(model, process=settings.process, source_quantizers=None, is_inference=True,
                          weights_path=None, keras_quantizer="fp32", keras_accumulator="fp32", for_reference=False)
    energy = q.pe(weights_on_memory=settings.weights_on_memory, activations_on_memory=settings.activations_on_memory,
                  min_sram_size=settings.min_sram_size, rd_wr_on_io=settings.rd_wr_on_io)
    per_layer = {name: float(v["total"]) for name, v in
                 q.extract_energy_profile(qsettings.cfg.include_energy, energy).items()}
    # the same accounting as QTools' extract_energy_sum, without its truncation to an integer
    return float(sum(per_layer.values())), per_layer


def _float_energy(layer, row: LayerCost) -> float:
    """pJ of a float layer QTools leaves at 0 (LeakyReLU, Conv2DTranspose...): its float32 multiplies and adds
    at QTools' own fp32 prices (one of each per MAC, or per output value of an element-wise activation)."""
    from qkeras.qtools.qenergy.qenergy import OP
    per_op = float(OP["fp32"]["mul"](FLOAT_BITS) + OP["fp32"]["add"](FLOAT_BITS))
    if row.macs:
        return row.macs * per_op
    if layer.__class__.__name__ in ELEMENTWISE:
        return int(np.prod(layer.output_shape[1:])) * per_op
    return 0.0


def model_cost(model, pricing_model=None, energy: EnergySettings = EnergySettings()) -> ModelCost:
    """Bits, BOPs and energy of a QKeras model.

    ``pricing_model``: the same architecture with the quantizers QTools understands (for QIL, its fixed-point
    equivalent); defaults to ``model``. ``energy``: QTools' process and memory placement.
    """
    rows = layer_costs(model)
    total, per_layer = qtools_energy(pricing_model if pricing_model is not None else model, energy)
    by_layer = {layer.name: layer for layer in model.layers}
    for r in rows:
        r.energy = per_layer.get(r.name, 0.0)
        if not r.energy and r.name in by_layer:  # a float layer QTools does not know (0 pJ): priced as float ops
            r.energy = _float_energy(by_layer[r.name], r)
            total += r.energy
    named = {r.name for r in rows}
    for layer in model.layers:  # e.g. a float softmax head: QTools prices its 32-bit outputs
        if layer.name not in named and per_layer.get(layer.name):
            rows.append(LayerCost(layer.name, layer.__class__.__name__, energy=per_layer[layer.name]))
    if energy.input_bits is not None or energy.output_bits is not None:  # AutoQKeras's bits: + activations
        from .bits_goal import model_size
        size = model_size(pricing_model if pricing_model is not None else model, energy.input_bits,
                          energy.output_bits, FLOAT_BITS)
        by_name = {r.name: r for r in rows}
        for layer in model.layers:
            p, a = size.layers.get(layer.name, (0, 0))
            if layer.name in by_name:
                by_name[layer.name].bits = p + a
            elif p + a:
                rows.append(LayerCost(layer.name, layer.__class__.__name__, bits=p + a))
    return ModelCost(bits=int(sum(r.bits for r in rows)), bops=int(sum(r.bops for r in rows)), energy=total,
                     layers=rows)
