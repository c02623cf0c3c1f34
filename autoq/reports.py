"""Resource/latency estimate without Vivado, and parsing of real Vivado/Vitis HLS reports.

Two entry points:

* :func:`estimate` -- a fast, pure, documented cost model of an hls4ml ``io_parallel`` implementation of a QKeras
  model (no hls4ml conversion; the search calls it for an "estimated LUT + DSP" cost).
* :func:`report` -- reads a project written by :func:`autoq.export.export`, parses the synthesis reports with
  hls4ml's own parser (``hls4ml.report.parse_vivado_report``, which reads both ``vivado_hls.app`` (Vivado HLS) and
  ``hls.app`` (Vitis HLS) project layouts) and puts them side by side with the estimate; writes ``report.json`` and
  ``report.md`` into the project.

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
import json
import math
import os
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
    da4ml: str = "unavailable: see autoq.reports.DA4ML_NOTE"

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


def _inbound_names(layer: Any) -> list[str]:
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
    if lut_mapped:
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
        inbound = _inbound_names(layer) or ([prev] if prev else ["<input>"])
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


def format_estimate(est: ResourceEstimate, synth: "SynthReport | None" = None) -> str:
    """Table of the estimate (and, if given, the synthesized totals side by side)."""
    head = f"{'layer':<20} {'kind':<13} {'w/x bits':>8} {'nnz':>6} {'mDSP':>5} {'mLUT':>6} {'LUT':>7} {'FF':>7} " \
           f"{'DSP':>5} {'BRAM':>5} {'cyc':>5}"
    lines = [
        f"Estimate for {est.part} ({est.family}), clock {est.clock_period:g} ns, reuse {est.reuse_factor}, "
        f"strategy {est.strategy} (DSP threshold {est.dsp_threshold_bits} bits)",
        head, "-" * len(head),
    ]
    for layer in est.layers:
        wb = f"{layer.weight_bits}/{layer.input_bits}" if layer.weight_bits else f"-/{layer.input_bits}"
        lines.append(
            f"{layer.name[:20]:<20} {layer.kind[:13]:<13} {wb:>8} {layer.n_nonzero:>6} {layer.mult_dsp:>5} "
            f"{layer.mult_lut:>6} {layer.luts:>7} {layer.ffs:>7} {layer.dsps:>5} {layer.bram18:>5} "
            f"{layer.latency_cycles:>5}"
        )
    lines.append("-" * len(head))
    lines.append(
        f"{'total (estimate)':<20} {'':<13} {'':>8} {est.total('n_nonzero'):>6} {est.mult_dsp:>5} {est.mult_lut:>6} "
        f"{est.luts:>7} {est.ffs:>7} {est.dsps:>5} {est.bram18:>5} {est.latency_cycles:>5}"
    )
    if synth is not None:
        s = synth
        lines.append(
            f"{'total (' + s.source + ')':<20} {'':<13} {'':>8} {'':>6} {'':>5} {'':>6} {_fmt(s.luts):>7} "
            f"{_fmt(s.ffs):>7} {_fmt(s.dsps):>5} {_fmt(s.bram18):>5} {_fmt(s.latency_max):>5}"
        )
    lines.append(
        f"latency {est.latency_cycles} cycles = {est.latency_ns:g} ns, interval {est.interval_cycles} cycles"
        + (f" | synthesized: {s.latency_max} cycles, interval {s.interval_max}" if synth is not None else "")
    )
    lines.append(ESTIMATE_COLUMNS)
    return "\n".join(lines)


#: what the estimate table's columns mean (printed under the table, and in report.md)
ESTIMATE_COLUMNS = (
    "columns: w/x bits = weight / input bit widths; nnz = non-zero weights (each one multiplication); "
    "mDSP / mLUT = multiplications mapped to DSPs / to LUTs (products wider than the DSP threshold go to DSPs); "
    "LUT, FF, DSP, BRAM = estimated resources (BRAM in 18 kb blocks); cyc = latency in clock cycles. "
    "An estimate before synthesis, not a synthesis result."
)


def _fmt(v: Any) -> str:
    return "-" if v is None else str(v)


# --------------------------------------------------------------------------------------------------- synthesis reports
@dataclass
class SynthReport:
    """Totals from an HLS C-synthesis report (and Vivado logic synthesis, if run)."""

    source: str  # "csynth" or "vsynth"
    part: str | None = None
    target_clock_ns: float | None = None
    estimated_clock_ns: float | None = None
    latency_min: int | None = None
    latency_max: int | None = None
    interval_min: int | None = None
    interval_max: int | None = None
    luts: int | None = None
    ffs: int | None = None
    dsps: int | None = None
    bram18: int | None = None
    urams: int | None = None
    available: dict[str, int] = field(default_factory=dict)
    vsynth: dict[str, int] = field(default_factory=dict)

    @property
    def latency_ns(self) -> float | None:
        if self.latency_max is None or self.target_clock_ns is None:
            return None
        return self.latency_max * self.target_clock_ns


@dataclass
class ProjectReport:
    """Estimate and synthesized numbers of one exported project."""

    project_dir: str
    estimate: ResourceEstimate | None
    synth: SynthReport | None
    stale: bool = False
    notes: list[str] = field(default_factory=list)
    check: dict | None = None  # C simulation vs QKeras, from autoq_export.json (CHECK_KEYS)

    def to_dict(self) -> dict[str, Any]:
        return {
            "project_dir": self.project_dir,
            "estimate": self.estimate.to_dict() if self.estimate else None,
            "synth": dataclasses.asdict(self.synth) if self.synth else None,
            "stale": self.stale,
            "notes": list(self.notes),
            "check": self.check,
        }


CHECK_KEYS = ("bit_exact", "agreement", "max_abs_diff", "compared_layer", "first_mismatch_layer", "n_samples",
              "x_source", "softmax_agreement", "softmax_max_abs_diff")


def format_check(check: dict | None) -> list[str]:
    """The C-simulation agreement lines of a report (the softmax figure labelled as hls4ml's table approximation)."""
    if not check or check.get("agreement") is None:
        return ["C simulation vs QKeras: not checked"]
    status = "bit-exact" if check.get("bit_exact") else "NOT bit-exact"
    lines = [f"C simulation vs QKeras: {status} on {check.get('compared_layer')}: argmax agreement "
             f"{100 * check['agreement']:.2f}%, max |diff| {check.get('max_abs_diff'):.6g}, "
             f"{check.get('n_samples')} samples from {check.get('x_source')}"]
    if check.get("first_mismatch_layer"):
        lines.append(f"first differing layer: {check['first_mismatch_layer']}")
    if check.get("softmax_agreement") is not None:
        lines.append(f"final softmax (hls4ml's lookup-table approximation, not exact by design): argmax agreement "
                     f"{100 * check['softmax_agreement']:.2f}%, max |diff| {check.get('softmax_max_abs_diff'):.3g}")
    return lines


def _int(v: Any) -> int | None:
    try:
        return int(float(str(v).strip()))
    except (TypeError, ValueError):
        return None


def _float(v: Any) -> float | None:
    try:
        return float(str(v).strip())
    except (TypeError, ValueError):
        return None


def parse_synth_report(project_dir: str) -> SynthReport | None:
    """Parse ``<prj>/<project>_prj/solution*/syn/report/<project>_csynth.xml`` (+ ``vivado_synth.rpt``).

    Uses ``hls4ml.report.parse_vivado_report``, which locates the solution through ``project.tcl`` and the
    ``vivado_hls.app`` (Vivado HLS) or ``hls.app`` (Vitis HLS) file. Returns None if no report exists.
    """
    import contextlib
    import io

    from hls4ml.report import parse_vivado_report

    if not os.path.isfile(os.path.join(project_dir, "project.tcl")):
        return None
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            raw = parse_vivado_report(str(project_dir)) or {}
        except (OSError, IndexError, KeyError, UnboundLocalError):
            raw = {}
    cs = raw.get("CSynthesisReport")
    vs = raw.get("VivadoSynthReport")
    if not cs and not vs:
        return None
    rep = SynthReport(source="csynth" if cs else "vsynth")
    if cs:
        rep.target_clock_ns = _float(cs.get("TargetClockPeriod"))
        rep.estimated_clock_ns = _float(cs.get("EstimatedClockPeriod"))
        rep.latency_min, rep.latency_max = _int(cs.get("BestLatency")), _int(cs.get("WorstLatency"))
        rep.interval_min, rep.interval_max = _int(cs.get("IntervalMin")), _int(cs.get("IntervalMax"))
        rep.luts, rep.ffs, rep.dsps = _int(cs.get("LUT")), _int(cs.get("FF")), _int(cs.get("DSP"))
        rep.bram18, rep.urams = _int(cs.get("BRAM_18K")), _int(cs.get("URAM"))
        rep.available = {
            k[len("Available"):]: _int(v) for k, v in cs.items() if k.startswith("Available") and _int(v) is not None
        }
        rep.part = _csynth_part(project_dir)
    if vs:
        rep.vsynth = {k: _int(v) for k, v in vs.items() if _int(v) is not None}
        if "DSP48E" in rep.vsynth:
            rep.vsynth["DSP"] = rep.vsynth.pop("DSP48E")
    return rep


def _csynth_part(project_dir: str) -> str | None:
    import glob
    import xml.etree.ElementTree as ET

    for path in sorted(glob.glob(os.path.join(project_dir, "*_prj", "*", "syn", "report", "*_csynth.xml"))):
        node = ET.parse(path).getroot().find("./UserAssignments/Part")
        if node is not None:
            return node.text
    return None


def report(project_dir: str) -> ProjectReport:
    """Collect the estimate (from ``autoq_export.json``) and the synthesis reports of ``project_dir``.

    Writes ``report.json`` and ``report.md`` into a project autoq exported, and returns the
    :class:`ProjectReport`; another hls4ml project is read but not written to, and any other folder is refused.
    """
    import glob

    from autoq.export import ExportError

    project_dir = str(project_dir)
    if not os.path.isdir(project_dir):
        raise ExportError(f"project directory {project_dir} does not exist")
    ours = os.path.isfile(os.path.join(project_dir, "autoq_export.json"))
    if not ours and not (os.path.isfile(os.path.join(project_dir, "hls4ml_config.yml"))
                         or glob.glob(os.path.join(project_dir, "*_prj"))):
        raise ExportError(f"{project_dir} is not an hls4ml project (no hls4ml_config.yml, no <project>_prj/); "
                          "give the folder autoq export wrote")
    notes: list[str] = []
    est = check = None
    meta_path = os.path.join(project_dir, "autoq_export.json")
    if os.path.isfile(meta_path):
        with open(meta_path) as f:
            meta = json.load(f)
        if meta.get("estimate"):
            est = ResourceEstimate.from_dict(meta["estimate"])
        check = {k: meta.get(k) for k in CHECK_KEYS}
    else:
        notes.append("no autoq_export.json: project not written by autoq export, no estimate")
    synth = parse_synth_report(project_dir)
    stale = False
    if synth is None:
        notes.append(
            "no synthesis report found (<project>_prj/solution1/syn/report/<project>_csynth.xml); run "
            f"`cd {project_dir} && vitis_hls -f build_prj.tcl` (or vivado_hls) to synthesize"
        )
    elif os.path.isfile(meta_path):
        xmls = glob.glob(os.path.join(project_dir, "*_prj", "*", "syn", "report", "*_csynth.xml"))
        if xmls and max(os.path.getmtime(p) for p in xmls) < os.path.getmtime(meta_path):
            stale = True
            notes.append("synthesis report is older than the last export: it may describe a previous model")
    if not ours:
        notes.append("not an autoq export: report.md and report.json were not written")
    rep = ProjectReport(project_dir=project_dir, estimate=est, synth=synth, stale=stale, notes=notes, check=check)
    if ours:
        write_report_files(rep, project_dir)
    return rep


def format_report(rep: ProjectReport) -> str:
    """Human-readable table: estimate per layer, totals, and synthesized totals side by side."""
    lines = [f"Project {rep.project_dir}"]
    if rep.check is not None:
        lines += format_check(rep.check)
    if rep.estimate is not None:
        lines.append(format_estimate(rep.estimate, rep.synth))
    if rep.synth is not None:
        s = rep.synth
        lines.append("")
        lines.append(f"{'':<12} {'estimate':>10} {'synthesized':>12}" + (f" {'available':>10}" if s.available else ""))
        e = rep.estimate
        rows = [
            ("LUT", e.luts if e else None, s.luts, s.available.get("LUT")),
            ("FF", e.ffs if e else None, s.ffs, s.available.get("FF")),
            ("DSP", e.dsps if e else None, s.dsps, s.available.get("DSP")),
            ("BRAM_18K", e.bram18 if e else None, s.bram18, s.available.get("BRAM_18K")),
            ("latency", e.latency_cycles if e else None, s.latency_max, None),
            ("interval", e.interval_cycles if e else None, s.interval_max, None),
        ]
        for name, a, b, c in rows:
            lines.append(f"{name:<12} {_fmt(a):>10} {_fmt(b):>12}" + (f" {_fmt(c):>10}" if s.available else ""))
        lines.append(
            f"clock: target {_fmt(s.target_clock_ns)} ns, estimated {_fmt(s.estimated_clock_ns)} ns; "
            f"part {_fmt(s.part)}"
        )
        if s.vsynth:
            lines.append("Vivado logic synthesis: " + ", ".join(f"{k} {v}" for k, v in sorted(s.vsynth.items())))
    for note in rep.notes:
        lines.append(f"note: {note}")
    return "\n".join(lines)


def write_report_files(rep: ProjectReport, project_dir: str) -> None:
    """Write ``report.json`` and ``report.md`` (the formatted table in a code block)."""
    with open(os.path.join(project_dir, "report.json"), "w") as f:
        json.dump(rep.to_dict(), f, indent=2)
    with open(os.path.join(project_dir, "report.md"), "w") as f:
        f.write(f"# autoq report: {os.path.basename(os.path.abspath(project_dir))}\n\n```\n{format_report(rep)}\n```\n")
