"""Resource/latency estimate without Vivado: :func:`estimate`, a fast, pure, documented cost model of an hls4ml
implementation of a QKeras model (``io_parallel`` or ``io_stream``, ``latency`` or ``resource`` strategy, any reuse
factor; no hls4ml conversion). The search's ``fpga`` cost is its :attr:`ResourceEstimate.lut_plus_dsp` (unit:
``FPGA_UNIT``); the export reports the same figure. Calibrated against every public hls4ml synthesis result gathered in
``benchmarks/data/hls4ml_synthesis.csv`` (``benchmarks/bench_calibration.py``; errors in
``benchmarks/results/calibration.md``). Tables of it: :mod:`autoq.present.tables`.

The cost model (per layer, then summed):

* Multipliers (Duarte et al., JINST 13 P07027 (2018), sec. 4): an ``io_parallel`` Dense layer has
  ``nonzero_weights / reuse`` multipliers; zero weights cost nothing. Conv kernels are shared over output pixels; a
  depthwise kernel is a ``(kh kw, channels)`` matrix (each output channel sums its own window).
* Constant weights (reuse 1, latency strategy): the HLS compiler sees each weight as a constant of its effective
  width (bits between its highest and lowest set bit; unquantized weights rounded to ap_fixed<16,6>). A power of two
  is a shift (no logic); a product goes to a DSP when both operands are >= ``DSP_MIN_BITS`` (4) and one is
  >= ``DSP_THRESHOLD_BITS`` (10) bits, with ``ceil(a/A) * ceil(b/B)`` slices, (A, B) = (27, 18) UltraScale DSP48E2,
  (25, 18) 7-series DSP48E1, (27, 24) Versal DSP58; otherwise a shift-and-add of ``(set bits - 1)`` adders of
  ``x_bits + width`` LUTs. With reuse > 1 or the resource strategy the weights are multiplexed or read from memory:
  general ``w x x`` multipliers by the declared widths (a LUT multiply: ``ceil(w * x / 2)`` LUTs).
* Adder trees: ``(terms - 1) * acc_bits`` LUTs per output divided by the reuse (acc: full precision for quantized
  layers, hls4ml's 16-bit default for unquantized ones). LUTs are scaled by ``LUT_SCALE`` (calibration).
* FFs: the adder trees' registered partial sums (a register after every ``adds_per_cycle`` levels: ``adders /
  (2 ** adds_per_cycle - 1)``) and the registered outputs, ``acc_bits`` each (times ``FF_SCALE``); DSP products
  keep their pipeline registers inside the DSP slices.
* Batch normalization after a quantized kernel (hls4ml cannot fold it): a 16-bit scale multiply and an add per
  value; after a float kernel it is folded (free).
* BRAM: resource strategy or reuse > 1: weights as ``reuse`` words of ``ceil(n_weights / reuse) * w_bits`` bits,
  ``ceil(width / 36) * ceil(reuse / 512)`` BRAM_18K when over ``BRAM_MIN_BITS``. Softmax: its exp and inverse tables.
* io_stream: activations/pooling hold one pixel's channels (not the whole tensor), a FIFO after every layer (depth =
  pixels, width = channels x bits; BRAM when over ``BRAM_MIN_BITS``, else SRL LUTs), a line buffer of ``(kernel_h -
  1) * width`` pixels per 2-D convolution, which reads one input pixel per cycle, ``STREAM_CYCLES`` more latency per
  layer, and a Dense layer's interval = its latency + 1 (hls4ml's stream Dense is not pipelined).
* Latency (cycles): Dense = ``reuse + 1 + ceil(ceil(log2 terms) / adds_per_cycle) + 1`` with ``adds_per_cycle =
  max(1, floor(clock_ns / 2.5))``; Conv = ``pixels * reuse + depth``; activation 1; softmax ``4 + ceil(log2 n /
  adds_per_cycle)``. Interval = the largest ``reuse`` (Dense) or ``pixels * reuse`` (Conv).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..graph import inbound_names
from .parts import PART_RESOURCES, dsp_shape, part_family, part_resources  # noqa: F401 (public here too)

DEFAULT_PART = "xcvu13p-flga2577-2-e"
MATMUL_LAYERS = ("QDense", "Dense", "QConv1D", "Conv1D", "QConv2D", "Conv2D", "QDepthwiseConv2D", "DepthwiseConv2D")
DSP_THRESHOLD_BITS = 10  # one operand at least this wide (and the other >= DSP_MIN_BITS): a DSP product
DSP_MIN_BITS = 4
BRAM_MIN_BITS = 1024  # smaller memories (weights, FIFOs) go to LUTs/registers
STREAM_CYCLES = 2  # io_stream: a stream read and write per layer
STREAM_FIFO_LUTS = 20  # io_stream: handshake logic of one FIFO
LUT_SCALE = 0.9  # calibration (benchmarks/bench_calibration.py): 1 / geometric mean of the first LUT ratios (1.13x)
FF_SCALE = 1.0  # the two reports of one design disagree 3.3x on FFs: no scale fits
DEFAULT_FLOAT_BITS = 16  # hls4ml's default ap_fixed<16,6> for unquantized tensors
FPGA_UNIT = "LUT + DSP (estimated LUTs plus DSP slices)"
COUNT_FIELDS = ("mult_dsp", "mult_lut", "luts", "ffs", "dsps", "bram18", "latency_cycles")


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
    io_type: str = "io_parallel"
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
        """The search's ``fpga`` cost and the export's figure: LUTs plus DSP slices (``FPGA_UNIT``)."""
        return self.luts + self.dsps

    def part_share(self) -> dict[str, float] | None:
        """Share of the part's LUT/FF/DSP/BRAM_18K the estimate uses (1.0 = all of it); None for an unknown part."""
        avail = part_resources(self.part)
        if avail is None:
            return None
        used = {"LUT": self.luts, "FF": self.ffs, "DSP": self.dsps, "BRAM_18K": self.bram18}
        return {k: used[k] / avail[k] for k in used}

    def overflows(self) -> list[str]:
        """The resources the estimate needs more of than the part has ('DSP 8832 > 220'); [] when it fits."""
        avail, share = part_resources(self.part), self.part_share() or {}
        used = {"LUT": self.luts, "FF": self.ffs, "DSP": self.dsps, "BRAM_18K": self.bram18}
        return [f"{k} {used[k]} > {avail[k]}" for k, v in share.items() if v > 1.0]

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["total"] = {k: self.total(k) for k in COUNT_FIELDS}
        d["total"].update(interval_cycles=self.interval_cycles, latency_ns=self.latency_ns)
        d["fpga"] = {"value": self.lut_plus_dsp, "unit": FPGA_UNIT}
        d["part_share"] = self.part_share()
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ResourceEstimate":
        names = {f.name for f in dataclasses.fields(cls)} - {"layers"}  # derived keys (total, fpga, ...) dropped
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


def _activation_name(layer: Any) -> str:
    act = getattr(layer, "activation", None)
    if isinstance(act, str):
        return act
    return getattr(act, "__name__", type(act).__name__ if act is not None else "linear")


# --------------------------------------------------------------------------------------------------- multipliers
def constant_widths(kernel: np.ndarray, float_weights: bool) -> tuple[np.ndarray, np.ndarray]:
    """(effective width, set bits) of every weight as the HLS compiler sees a constant: the bits between the highest
    and the lowest set bit of its magnitude (0 for a zero, 1 for a power of two: a shift). Unquantized weights are
    first rounded to hls4ml's default ap_fixed<16,6> (10 fraction bits)."""
    frac = 10 if float_weights else 24
    m = np.round(np.abs(np.asarray(kernel, dtype=np.float64)) * 2.0**frac).astype(np.int64).ravel()
    m = np.where(m > 0, m // np.maximum(m & -m, 1), 0)  # strip trailing zeros
    width = np.where(m > 0, np.floor(np.log2(np.maximum(m, 1))).astype(np.int64) + 1, 0)
    ones = np.array([bin(int(v)).count("1") for v in m], dtype=np.int64) if m.size else m
    return width.reshape(kernel.shape), ones.reshape(kernel.shape)


def _uses_dsp(a: np.ndarray | int, b: int) -> np.ndarray:
    """A product of an ``a``-bit and a ``b``-bit operand goes to a DSP when both are at least DSP_MIN_BITS wide and
    one is at least DSP_THRESHOLD_BITS wide; narrower products are built from LUTs."""
    a = np.asarray(a)
    return (np.minimum(a, b) >= DSP_MIN_BITS) & (np.maximum(a, b) >= DSP_THRESHOLD_BITS)


def _dense_like(
    name: str, kind: str, kernel: np.ndarray, q: Any, x_bits: int, n_in: int, pixels: int, reuse: int,
    clock: float, family: str, strategy: str, io_type: str, float_out: bool,
) -> tuple[LayerEstimate, int]:
    wkind, w_bits = quantizer_info(q)
    nnz = int(np.count_nonzero(kernel))
    n_out = kernel.shape[-1]
    acc_bits = DEFAULT_FLOAT_BITS if float_out else w_bits + x_bits + max(1, math.ceil(math.log2(max(n_in, 2))))
    est = LayerEstimate(
        name=name, kind=kind, n_weights=int(kernel.size), n_nonzero=nnz, weight_bits=w_bits, input_bits=x_bits,
        weight_type=wkind,
    )
    a, b = dsp_shape(family)
    nz = kernel != 0
    if reuse == 1 and strategy == "latency":  # every weight a constant in its own multiplier
        width, ones = constant_widths(kernel, q is None)
        dsp = _uses_dsp(width, x_bits) & nz
        lut = nz & ~dsp  # a power of two (width 1, one set bit) is a shift: no adder
        hi, lo = np.maximum(width, x_bits), np.minimum(width, x_bits)
        est.mult_dsp = int(dsp.sum())
        est.dsps = int(np.sum(np.where(dsp, np.ceil(hi / a) * np.ceil(lo / b), 0)))
        est.mult_lut = int(lut.sum())
        mult_luts = int(np.sum(np.where(lut, (ones - 1) * (x_bits + width), 0)))  # shift-and-add of the set bits
    else:  # weights multiplexed (latency, reuse > 1) or read from memory (resource): general multipliers
        n_mult = math.ceil(nnz / reuse)
        shift = wkind in ("ternary", "binary", "po2")
        if not shift and bool(_uses_dsp(w_bits, x_bits)):
            est.mult_dsp = n_mult
            est.dsps = n_mult * math.ceil(max(w_bits, x_bits) / a) * math.ceil(min(w_bits, x_bits) / b)
            mult_luts = 0
        else:
            est.mult_lut = n_mult
            mult_luts = 0 if shift else n_mult * math.ceil(w_bits * x_bits / 2)
    terms = np.count_nonzero(kernel.reshape(-1, n_out), axis=0)
    adders = math.ceil(int(np.sum(np.maximum(terms - 1, 0))) / reuse)
    est.luts = round(LUT_SCALE * (mult_luts + adders * acc_bits))
    adds_per_cycle = max(1, int(clock // 2.5))
    registered = math.ceil(adders / (2 ** adds_per_cycle - 1))  # a register after every adds_per_cycle tree levels
    est.ffs = round(FF_SCALE * (registered + n_out) * acc_bits)
    if strategy == "resource" or reuse > 1:  # hls4ml's resource strategy: weights in memory, reuse words deep
        width_bits = math.ceil(kernel.size / reuse) * w_bits
        if width_bits * reuse > BRAM_MIN_BITS:
            est.bram18 = math.ceil(width_bits / 36) * math.ceil(reuse / 512)
    depth = 1 + math.ceil(math.ceil(math.log2(max(int(terms.max(initial=1)), 2))) / adds_per_cycle) + 1
    if io_type == "io_stream":
        depth += STREAM_CYCLES
    est.latency_cycles = pixels * reuse + depth
    est.interval_cycles = pixels * reuse
    if io_type == "io_stream" and pixels == 1:  # hls4ml's stream Dense is an unpipelined dataflow process
        est.interval_cycles = est.latency_cycles + 1
    return est, acc_bits


def _fifo(name: str, depth: int, width: int) -> LayerEstimate:
    """An io_stream FIFO between layers: BRAM when larger than BRAM_MIN_BITS, else shift-register LUTs (SRL32)."""
    if depth * width > BRAM_MIN_BITS:
        return LayerEstimate(name=name, kind="FIFO", bram18=math.ceil(width / 36) * math.ceil(depth / 512),
                             luts=STREAM_FIFO_LUTS, ffs=STREAM_FIFO_LUTS)
    return LayerEstimate(name=name, kind="FIFO", luts=STREAM_FIFO_LUTS + math.ceil(depth / 32) * width,
                         ffs=STREAM_FIFO_LUTS)


def estimate(
    model: Any, reuse_factor: int = 1, clock_period: float = 5.0, part: str = DEFAULT_PART,
    strategy: str = "latency", io_type: str = "io_parallel",
) -> ResourceEstimate:
    """Estimate multipliers (DSP/LUT), LUTs, FFs, DSPs, BRAM and latency of ``model`` on ``part``.

    Pure and fast (reads weights and quantizers only, no hls4ml). The model is documented in the module docstring.
    """
    reuse = max(1, int(reuse_factor))
    strategy = str(strategy).lower()
    stream = io_type == "io_stream"
    family = part_family(part)
    est = ResourceEstimate(
        part=part, family=family, clock_period=float(clock_period), reuse_factor=reuse, strategy=strategy,
        dsp_threshold_bits=DSP_THRESHOLD_BITS, da4ml=DA4ML_NOTE, io_type=io_type,
    )
    bits, kinds, prev = {}, {}, None  # layer name -> its output's bits, its class
    adds_per_cycle = max(1, int(clock_period // 2.5))
    for layer in model.layers:
        cls = type(layer).__name__
        inbound = inbound_names(layer) or ([prev] if prev else ["<input>"])
        if prev is None:
            kinds.setdefault(inbound[0], "InputLayer")
        x_bits = max([bits.get(n, DEFAULT_FLOAT_BITS) for n in inbound] or [DEFAULT_FLOAT_BITS])
        out_bits = x_bits
        out_shape = layer.output_shape if not isinstance(layer.output_shape, list) else layer.output_shape[0]
        dims = [d for d in out_shape[1:] if d is not None] if out_shape else []
        n_out_total = int(np.prod(dims)) if dims else 0
        pixels_out = int(np.prod(dims[:-1])) if len(dims) > 1 else 1
        # io_parallel: a layer's logic spans the whole tensor; io_stream: one pixel (its channels) per cycle
        n_logic = (n_out_total // pixels_out) if stream else n_out_total
        n_before = len(est.layers)
        if cls == "InputLayer":
            out_bits = DEFAULT_FLOAT_BITS
        elif cls in MATMUL_LAYERS:
            kernel, q = _quantized_weights(layer)
            q = q if cls.startswith("Q") else None
            if "Depthwise" in cls:  # an output channel sums its own window: a (kh kw, channels) matrix
                kernel = kernel.reshape(-1, int(np.prod(kernel.shape[2:])))
            n_in = int(np.prod(kernel.shape[:-1]))
            pixels = pixels_out if "Conv" in cls else 1
            le, out_bits = _dense_like(
                layer.name, cls, kernel, q, x_bits, n_in, pixels, reuse, clock_period, family, strategy, io_type,
                float_out=q is None,
            )
            est.layers.append(le)
            if stream and "Conv" in cls:  # one input pixel read per cycle (and per reuse)
                in_shape = layer.input_shape if not isinstance(layer.input_shape, list) else layer.input_shape[0]
                in_pixels = int(np.prod(in_shape[1:-1]))
                le.latency_cycles += (in_pixels - pixels) * reuse
                le.interval_cycles = in_pixels * reuse
            if stream and "Conv" in cls and len(layer.kernel_size) == 2 and layer.kernel_size[0] > 1:
                rows, width_px, chans = layer.kernel_size[0] - 1, int(in_shape[2]), int(in_shape[3])
                est.layers.append(_fifo(f"{layer.name}_linebuffer", rows * width_px, chans * x_bits))
            act = _activation_name(layer)
            if act not in ("linear", "None"):
                est.layers.append(LayerEstimate(
                    name=f"{layer.name}_{act}", kind="Activation", luts=n_logic * out_bits,
                    ffs=n_logic * out_bits, latency_cycles=1, input_bits=out_bits,
                ))
        elif cls == "QActivation" and all(kinds.get(n) == "InputLayer" for n in inbound):
            _, out_bits = quantizer_info(layer.quantizer)  # the input type itself in hls4ml: no logic
            est.layers.append(LayerEstimate(name=layer.name, kind="InputQuant", input_bits=out_bits))
        elif cls == "QActivation":
            _, out_bits = quantizer_info(layer.quantizer)
            est.layers.append(LayerEstimate(
                name=layer.name, kind=cls, input_bits=x_bits, luts=n_logic * out_bits,
                ffs=n_logic * out_bits, latency_cycles=1,
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
                    name=layer.name, kind="Activation", input_bits=x_bits, luts=n_logic * x_bits,
                    ffs=n_logic * x_bits, latency_cycles=1,
                ))
        elif cls in ("BatchNormalization", "QBatchNormalization") and any(
                kinds.get(n, "").startswith("Q") and kinds.get(n) != "QActivation" for n in inbound):
            # after a quantized kernel hls4ml cannot fold it: a 16-bit scale multiply and a bias add per value
            dsp = bool(_uses_dsp(DEFAULT_FLOAT_BITS, x_bits))
            est.layers.append(LayerEstimate(
                name=layer.name, kind="BatchNorm", input_bits=x_bits, mult_dsp=n_logic * dsp,
                mult_lut=n_logic * (not dsp), dsps=n_logic * dsp,
                luts=round(LUT_SCALE * n_logic * (DEFAULT_FLOAT_BITS + (0 if dsp else x_bits * 8))),
                ffs=round(FF_SCALE * n_logic * DEFAULT_FLOAT_BITS), latency_cycles=1,
            ))
            out_bits = DEFAULT_FLOAT_BITS
        elif cls in ("MaxPooling1D", "MaxPooling2D"):
            pool = int(np.prod(layer.pool_size))
            est.layers.append(LayerEstimate(
                name=layer.name, kind=cls, input_bits=x_bits, luts=n_logic * (pool - 1) * x_bits,
                ffs=n_logic * x_bits, latency_cycles=1 + math.ceil(math.log2(max(pool, 2)) / adds_per_cycle),
            ))
        if stream and len(est.layers) > n_before and est.layers[-1].kind not in ("InputQuant",):
            for le in est.layers[n_before:]:
                if le.kind not in ("FIFO",) and le.kind not in MATMUL_LAYERS:
                    le.latency_cycles += STREAM_CYCLES
                    le.interval_cycles = max(le.interval_cycles, pixels_out)
            est.layers.append(_fifo(f"{layer.name}_fifo", pixels_out, (n_out_total // pixels_out) * out_bits))
        bits[layer.name] = out_bits
        kinds[layer.name] = cls
        prev = layer.name
    return est
