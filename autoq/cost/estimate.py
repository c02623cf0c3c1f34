"""Resource/latency estimate without Vivado: :func:`estimate`, a fast, pure, documented cost model of an hls4ml
``io_parallel`` implementation of a QKeras model (no hls4ml conversion; the search calls it for an "estimated
LUT + DSP" cost, the export puts it beside the synthesis report). Tables of it: :mod:`autoq.present.tables`.

The cost model (all numbers per layer, then summed; cite/calibrate before trusting absolute values):

* Multipliers (Duarte et al., "Fast inference of deep neural networks in FPGAs for particle physics",
  JINST 13 P07027 (2018), sec. 4: an ``io_parallel`` Dense layer instantiates ``n_in * n_out / reuse_factor``
  multipliers; zero weights are constants the HLS compiler removes). Here: ``ceil(nonzero_weights / reuse)``.
  For Conv layers in ``io_parallel`` the kernel multipliers are shared over the output pixels.
* DSP vs LUT mapping: a multiply whose two operands are both narrower than ``DSP_THRESHOLD_BITS`` (10) bits is
  mapped to fabric LUTs by Vivado/Vitis HLS (hls4ml paper, fig. 9: DSP usage drops to ~0 below 10-bit weights); a
  multiply by a ternary, binary or power-of-two (``quantized_po2``) weight is a sign flip or a shift and never uses a
  DSP. Wider multiplies use ``ceil(a/A) * ceil(b/B)`` DSP slices, with (A, B) = (27, 18) for the UltraScale DSP48E2,
  (25, 18) for the 7-series DSP48E1 and (27, 24) for the Versal DSP58 (UG579, UG479, AM004).
* A fixed-point weight is a constant: its multiply builds only the bits the constant uses, so ``a`` below is the
  weight's bit span (highest to lowest set bit of ``|w|``, :func:`autoq.cost.ebops.bit_span`), decided per weight
  (DSP when the span or the input is 10 bits or more); a zero weight costs nothing, a one-bit constant is a shift.
* LUT cost of a LUT-mapped ``a x b`` multiply: ``ceil(a * b / 2)`` (array multiplier on 6-input LUTs with carry
  chains, ~2 partial-product bits per LUT); 0 for ternary/binary/po2 weights (the sign/shift folds into the adder).
  Adder tree of LUT-mapped products: ``(terms - 1) * acc_bits`` LUTs per output (one LUT per bit on a carry chain),
  divided by the reuse factor; DSP-mapped products accumulate in the DSP post-adder cascade (0 LUT).
  Activations (ReLU / quantizers): one LUT per output bit; max pooling: one comparator bit per LUT.
* FFs: one register per LUT output (fully pipelined at the target clock) plus the registered layer outputs.
* BRAM: only when ``reuse_factor > 1`` (the hls4ml resource strategy reshapes a weight array to ``reuse`` words of
  ``ceil(n_weights / reuse) * w_bits`` bits): ``ceil(width / 36) * ceil(reuse / 512)`` BRAM_18K (512 x 36 mode).
  Softmax: one exp-table ROM per input plus one inverse table (hls4ml's ``latency`` softmax).
* Latency (cycles): Dense = ``reuse + 1 (multiply) + ceil(ceil(log2 terms) / adds_per_cycle) + 1 (output)``, with
  ``adds_per_cycle = max(1, floor(clock_ns / 2.5))`` (two carry-chain adders fit in 5 ns on UltraScale);
  Conv = ``n_output_pixels * reuse + depth``; activation = 1; softmax = ``4 + ceil(log2 n / adds_per_cycle)``;
  flatten/dropout = 0. Initiation interval = the largest ``reuse`` (Dense) or ``pixels * reuse`` (Conv).
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

DEFAULT_PART = "xcvu13p-flga2577-2-e"
DSP_THRESHOLD_BITS = 10
DEFAULT_FLOAT_BITS = 16  # hls4ml's default ap_fixed<16,6> for unquantized tensors
COUNT_FIELDS = ("mult_dsp", "mult_lut", "luts", "ffs", "dsps", "bram18", "latency_cycles")


# --------------------------------------------------------------------------------------------------- FPGA families
def part_family(part: str) -> str:
    """Return the FPGA family of an AMD/Xilinx part name ('7series', 'ultrascale', 'ultrascale+', 'versal')."""
    p = part.lower()
    if p.startswith(("xcv", "xqv")) and re.match(r"^x[cq]v[a-z]\d", p) and not p.startswith(("xcvu", "xqvu")):
        return "versal"
    if p.startswith(("xc7", "xa7", "xq7")):
        return "7series"
    if re.match(r"^x[cq](vu|ku|zu|au)\d+p", p) or re.match(r"^xcu\d", p) or re.match(r"^x[acq](zu|au)", p):
        return "ultrascale+"
    if re.match(r"^x[cq](vu|ku)\d", p):
        return "ultrascale"
    return "unknown"


def dsp_shape(family: str) -> tuple[int, int]:
    """Multiplier input widths of one DSP slice of ``family``."""
    return {"7series": (25, 18), "versal": (27, 24)}.get(family, (27, 18))


# --------------------------------------------------------------------------------------------------- dataclasses
@dataclass
class LayerEstimate:
    """Estimated cost of one layer."""

    name: str
    kind: str
    n_weights: int = 0
    n_nonzero: int = 0
    weight_bits: int = 0
    input_bits: int = 0
    weight_type: str = ""
    mult_dsp: int = 0
    mult_lut: int = 0
    luts: int = 0
    ffs: int = 0
    dsps: int = 0
    bram18: int = 0
    latency_cycles: int = 0
    interval_cycles: int = 1


@dataclass
class ResourceEstimate:
    """Per-layer and total estimate of an hls4ml io_parallel implementation (see module docstring)."""

    part: str
    family: str
    clock_period: float
    reuse_factor: int
    strategy: str
    dsp_threshold_bits: int
    layers: list[LayerEstimate] = field(default_factory=list)
    da4ml: str = "unavailable: see autoq.cost.estimate.DA4ML_NOTE"

    def total(self, key: str) -> int:
        """Sum of ``key`` over layers."""
        return int(sum(getattr(layer, key) for layer in self.layers))

    @property
    def mult_dsp(self) -> int:
        return self.total("mult_dsp")

    @property
    def mult_lut(self) -> int:
        return self.total("mult_lut")

    @property
    def luts(self) -> int:
        return self.total("luts")

    @property
    def ffs(self) -> int:
        return self.total("ffs")

    @property
    def dsps(self) -> int:
        return self.total("dsps")

    @property
    def bram18(self) -> int:
        return self.total("bram18")

    @property
    def latency_cycles(self) -> int:
        return self.total("latency_cycles")

    @property
    def interval_cycles(self) -> int:
        return max([layer.interval_cycles for layer in self.layers] or [1])

    @property
    def latency_ns(self) -> float:
        return self.latency_cycles * self.clock_period

    @property
    def lut_plus_dsp(self) -> int:
        """Single scalar cost for the search: LUTs plus DSPs."""
        return self.luts + self.dsps

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["total"] = {k: self.total(k) for k in COUNT_FIELDS}
        d["total"].update(interval_cycles=self.interval_cycles, latency_ns=self.latency_ns)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ResourceEstimate":
        names = {f.name for f in dataclasses.fields(cls)} - {"layers"}
        est = cls(**{k: v for k, v in d.items() if k in names})
        est.layers = [LayerEstimate(**layer) for layer in d.get("layers", [])]
        return est


DA4ML_NOTE = (
    "hls4ml 1.3.0's distributed-arithmetic strategy needs da4ml and only runs on layers marked bit_exact_transformed "
    "(HGQ / Keras-3 flow); hls4ml's bit_exact pass fails on QKeras Keras-2 models ('unexpected input layer chain'), "
    "and da4ml 0.6 requires numpy>=2 (incompatible with the tensorflow 2.14 pin). Not offered."
)


# --------------------------------------------------------------------------------------------------- quantizers
def quantizer_info(q: Any) -> tuple[str, int]:
    """(kind, bits) of a QKeras quantizer: kind in fixed|ternary|binary|po2|relu|float."""
    if q is None:
        return "float", DEFAULT_FLOAT_BITS
    name = type(q).__name__ if not isinstance(q, str) else q
    if name in ("ternary", "stochastic_ternary"):
        return "ternary", 2
    if name in ("binary", "stochastic_binary"):
        return "binary", 1
    if name in ("quantized_po2", "quantized_relu_po2"):
        return "po2", int(getattr(q, "bits", 8))
    if name == "quantized_relu":
        return "relu", int(q.bits)
    if name == "quantized_bits":
        return "fixed", int(q.bits)
    return "float", DEFAULT_FLOAT_BITS


def _quantized_weights(layer: Any) -> tuple[np.ndarray, Any]:
    """Kernel after its quantizer (what the FPGA stores) and the quantizer object."""
    kernel = np.asarray(layer.get_weights()[0])
    quantizers = getattr(layer, "quantizers", None) or []
    q = quantizers[0] if quantizers else None
    if q is not None:
        kernel = np.asarray(q(kernel.astype(np.float32)))
    return kernel, q


def inbound_names(layer: Any) -> list[str]:
    """Names of the layers feeding ``layer`` (its first call), [] for an input."""
    try:
        node = layer.inbound_nodes[0]
        inbound = node.inbound_layers
        inbound = inbound if isinstance(inbound, (list, tuple)) else [inbound]
        return [lay.name for lay in inbound]
    except (AttributeError, IndexError):
        return []


def _activation_name(layer: Any) -> str:
    act = getattr(layer, "activation", None)
    if isinstance(act, str):
        return act
    return getattr(act, "__name__", type(act).__name__ if act is not None else "linear")


# --------------------------------------------------------------------------------------------------- estimate
def _dense_like(
    name: str, kind: str, kernel: np.ndarray, q: Any, x_bits: int, n_in: int, pixels: int, reuse: int,
    clock: float, family: str,
) -> tuple[LayerEstimate, int]:
    wkind, w_bits = quantizer_info(q)
    nnz = int(np.count_nonzero(kernel))
    n_out = kernel.shape[-1]
    acc_bits = w_bits + x_bits + max(1, math.ceil(math.log2(max(n_in, 2))))
    n_mult = math.ceil(nnz / reuse)
    lut_mapped = wkind in ("ternary", "binary", "po2") or (w_bits < DSP_THRESHOLD_BITS and x_bits < DSP_THRESHOLD_BITS)
    est = LayerEstimate(
        name=name, kind=kind, n_weights=int(kernel.size), n_nonzero=nnz, weight_bits=w_bits, input_bits=x_bits,
        weight_type=wkind,
    )
    cols = kernel.reshape(-1, n_out)
    terms = np.count_nonzero(cols, axis=0)
    if wkind == "fixed":  # a constant multiply builds only the bits the weight uses (its bit span; 1 bit: a shift)
        from .ebops import bit_span
        span = bit_span(cols)
        on_dsp = (span >= DSP_THRESHOLD_BITS) | (x_bits >= DSP_THRESHOLD_BITS)
        lut = (span > 0) & ~on_dsp
        lut_cost = np.where(span > 1, np.ceil(span * x_bits / 2), 0)
        est.mult_lut = math.ceil(int(lut.sum()) / reuse)
        est.mult_dsp = math.ceil(int((on_dsp & (span > 0)).sum()) / reuse)
        a, b = dsp_shape(family)
        hi, lo = np.maximum(span, x_bits), np.minimum(span, x_bits)
        dsp_cost = np.ceil(hi / a) * np.ceil(lo / b)
        adders = int(np.sum(np.maximum(np.count_nonzero(lut, axis=0) - 1, 0)))
        est.luts = math.ceil(float(lut_cost[lut].sum()) / reuse) + math.ceil(adders / reuse) * acc_bits
        est.dsps = math.ceil(float(dsp_cost[on_dsp & (span > 0)].sum()) / reuse)
    elif lut_mapped:
        est.mult_lut = n_mult
        mult_cost = 0 if wkind in ("ternary", "binary", "po2") else math.ceil(w_bits * x_bits / 2)
        adders = int(np.sum(np.maximum(terms - 1, 0)))
        est.luts = n_mult * mult_cost + math.ceil(adders / reuse) * acc_bits
    else:
        a, b = dsp_shape(family)
        hi, lo = max(w_bits, x_bits), min(w_bits, x_bits)
        est.mult_dsp = n_mult
        est.dsps = n_mult * math.ceil(hi / a) * math.ceil(lo / b)
    est.ffs = est.luts + n_out * acc_bits
    if reuse > 1:
        width = math.ceil(kernel.size / reuse) * w_bits
        est.bram18 = math.ceil(width / 36) * math.ceil(reuse / 512)
    adds_per_cycle = max(1, int(clock // 2.5))
    depth = 1 + math.ceil(math.ceil(math.log2(max(int(terms.max(initial=1)), 2))) / adds_per_cycle) + 1
    est.latency_cycles = pixels * reuse + depth
    est.interval_cycles = pixels * reuse
    return est, acc_bits


def estimate(
    model: Any, reuse_factor: int = 1, clock_period: float = 5.0, part: str = DEFAULT_PART,
    strategy: str = "latency",
) -> ResourceEstimate:
    """Estimate multipliers (DSP/LUT), LUTs, FFs, DSPs, BRAM and latency of ``model`` on ``part``.

    Pure and fast (reads weights and quantizers only, no hls4ml). The model is documented in the module docstring.
    """
    reuse = max(1, int(reuse_factor))
    family = part_family(part)
    est = ResourceEstimate(
        part=part, family=family, clock_period=float(clock_period), reuse_factor=reuse, strategy=strategy,
        dsp_threshold_bits=DSP_THRESHOLD_BITS, da4ml=DA4ML_NOTE,
    )
    bits: dict[str, int] = {}
    kinds: dict[str, str] = {}
    prev = None
    adds_per_cycle = max(1, int(clock_period // 2.5))
    for layer in model.layers:
        cls = type(layer).__name__
        inbound = inbound_names(layer) or ([prev] if prev else ["<input>"])
        if prev is None:
            kinds.setdefault(inbound[0], "InputLayer")
        x_bits = max([bits.get(n, DEFAULT_FLOAT_BITS) for n in inbound] or [DEFAULT_FLOAT_BITS])
        out_bits = x_bits
        out_shape = layer.output_shape if not isinstance(layer.output_shape, list) else layer.output_shape[0]
        n_out_total = int(np.prod([d for d in out_shape[1:] if d is not None])) if out_shape else 0
        if cls == "InputLayer":
            out_bits = DEFAULT_FLOAT_BITS
        elif cls in ("QDense", "Dense", "QConv1D", "Conv1D", "QConv2D", "Conv2D"):
            kernel, q = _quantized_weights(layer)
            if cls.startswith("Q") is False:
                q = None
            n_in = int(np.prod(kernel.shape[:-1]))
            pixels = int(np.prod(out_shape[1:-1])) if "Conv" in cls else 1
            le, out_bits = _dense_like(
                layer.name, cls, kernel, q, x_bits, n_in, pixels, reuse, clock_period, family
            )
            est.layers.append(le)
            act = _activation_name(layer)
            if act not in ("linear", "None"):
                est.layers.append(LayerEstimate(
                    name=f"{layer.name}_{act}", kind="Activation", luts=n_out_total * out_bits,
                    ffs=n_out_total * out_bits, latency_cycles=1, input_bits=out_bits,
                ))
        elif cls == "QActivation" and all(kinds.get(n) == "InputLayer" for n in inbound):
            _, out_bits = quantizer_info(layer.quantizer)  # the input type itself in hls4ml: no logic
            est.layers.append(LayerEstimate(name=layer.name, kind="InputQuant", input_bits=out_bits))
        elif cls == "QActivation":
            _, out_bits = quantizer_info(layer.quantizer)
            est.layers.append(LayerEstimate(
                name=layer.name, kind=cls, input_bits=x_bits, luts=n_out_total * out_bits,
                ffs=n_out_total * out_bits, latency_cycles=1,
            ))
        elif cls in ("Activation", "Softmax", "ReLU"):
            act = "softmax" if cls == "Softmax" else ("relu" if cls == "ReLU" else _activation_name(layer))
            if act == "softmax":
                n = n_out_total
                est.layers.append(LayerEstimate(
                    name=layer.name, kind="Softmax", input_bits=x_bits, dsps=n, mult_dsp=n, bram18=n + 1,
                    luts=n * 18, ffs=2 * n * 18,
                    latency_cycles=4 + math.ceil(math.ceil(math.log2(max(n, 2))) / adds_per_cycle),
                ))
                out_bits = DEFAULT_FLOAT_BITS
            elif act != "linear":
                est.layers.append(LayerEstimate(
                    name=layer.name, kind="Activation", input_bits=x_bits, luts=n_out_total * x_bits,
                    ffs=n_out_total * x_bits, latency_cycles=1,
                ))
        elif cls in ("MaxPooling1D", "MaxPooling2D"):
            pool = int(np.prod(layer.pool_size))
            est.layers.append(LayerEstimate(
                name=layer.name, kind=cls, input_bits=x_bits, luts=n_out_total * (pool - 1) * x_bits,
                ffs=n_out_total * x_bits, latency_cycles=1 + math.ceil(math.log2(max(pool, 2)) / adds_per_cycle),
            ))
        bits[layer.name] = out_bits
        kinds[layer.name] = cls
        prev = layer.name
    return est
