"""QKeras model -> bit-exact hls4ml project, g++ C-simulation agreement check, optional HLS synthesis.

How bit-exactness is obtained (hls4ml 1.3.0, Keras-2 QKeras flow):

* ``hls4ml.utils.config_from_keras_model(granularity='name')`` gives every layer its own entry; hls4ml's QKeras
  converter turns each ``kernel_quantizer``/``bias_quantizer``/``QActivation`` quantizer into the exact
  ``ap_fixed``/``ap_ufixed`` type (``quantized_bits(b, i)`` -> ``fixed<b, i+1, RND_CONV, SAT>``, i.e. round half to
  even + saturation, which is what QKeras computes with ``tf.round`` and ``clip``).
* Accumulators and un-quantized results stay ``auto``: hls4ml's ``infer_precision`` pass sizes them from the input
  width, weight width and fan-in (``w + x + ceil(log2 n_in)`` + bias), so nothing can overflow or round.
* The input type is fixed explicitly: the ``input_quant`` quantizer's type (rounding + saturation) if the model has
  one, else ``fixed<16,6,RND_CONV,SAT>``; the test vectors are quantized to that type before both the QKeras model and
  the C simulation see them, so both start from the same numbers.
* hls4ml's own ``bit_exact=True`` propagation is *not* used: in 1.3.0 it targets HGQ ``FixedPointQuantizer`` models
  and fails on QKeras Sequential models ("Layer fc1_input (Input) unexpected input layer chain").
* A float ``softmax`` at the end is implemented by hls4ml with lookup tables, which can never be bit-exact. The
  check then compares the logits (the input of the softmax, read from hls4ml's per-layer trace); the final softmax's
  argmax agreement and max difference are recorded separately (``softmax_agreement``, ``softmax_max_abs_diff``).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from autoq.errors import AutoqError
from autoq.keras_env import hls4ml_keras2, require_keras2_model
from autoq.reports import DEFAULT_PART, ProjectReport, ResourceEstimate, estimate, format_estimate

DEFAULT_INPUT_PRECISION = "fixed<16,6,RND_CONV,SAT>"
RANDOM_SAMPLES = 200
MAX_CHECK_SAMPLES = 1000
SUPPORTED_LAYERS = (
    "InputLayer", "QDense", "QConv1D", "QConv2D", "QActivation", "Activation", "Softmax", "ReLU", "Flatten",
    "MaxPooling1D", "MaxPooling2D", "Dropout", "Reshape", "Dense", "Conv1D", "Conv2D",
)
SUPPORTED_WEIGHT_QUANTIZERS = ("quantized_bits", "ternary", "binary", "quantized_po2")
SUPPORTED_ACTIVATION_QUANTIZERS = ("quantized_relu", "quantized_bits", "binary", "ternary")
SUPPORTED_ACTIVATIONS = ("linear", "relu", "softmax")
PART_FAMILIES = ("xc7 (7-series)", "xcku/xcvu/xczu/xcau (UltraScale(+))", "xcu (Alveo)", "xcv (Versal)")
# device[-package]-speed grade[-temperature...]: the speed grade (-1, -2L, -2MP, -L1) is required
_PART_RE = re.compile(r"^x[acq](7[akvzs]|k[u7]|vu|zu|au|u\d|v[cempah]\d)[a-z0-9]*(-[a-z0-9]+)*"
                      r"-(\d[a-z]*|l\d)(-[a-z0-9]+){0,2}$", re.I)


class ExportError(AutoqError):
    """Base class of every error autoq export/report raises for bad input (the CLI prints it, exit code 2)."""


class ToolNotFoundError(ExportError):
    """The HLS tool needed for synthesis is not on PATH; ``result`` holds the (usable) exported project."""

    def __init__(self, message: str, result: "ExportResult | None" = None):
        super().__init__(message)
        self.result = result


class UnsupportedModelError(ExportError):
    """A layer, activation or quantizer hls4ml cannot implement bit-exactly."""


class InvalidOptionError(ExportError):
    """A bad export option (part, backend, io_type, ...)."""


class OutputExistsError(ExportError):
    """The output directory exists and is not empty (use force=True)."""


@dataclass
class ExportResult:
    """What :func:`export` produced and measured."""

    output_dir: str
    hls_config: dict
    agreement: float | None
    max_abs_diff: float | None
    first_mismatch_layer: str | None
    estimate: ResourceEstimate
    synth_report: ProjectReport | None
    seconds_convert: float
    seconds_compile: float
    compared_layer: str | None = None
    n_samples: int = 0
    x_source: str = ""
    input_precision: str = DEFAULT_INPUT_PRECISION
    softmax_agreement: float | None = None
    softmax_max_abs_diff: float | None = None
    layer_max_abs_diff: dict = field(default_factory=dict)
    layer_precisions: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)

    @property
    def bit_exact(self) -> bool:
        return self.max_abs_diff == 0.0 and self.agreement == 1.0

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["estimate"] = self.estimate.to_dict()
        d["synth_report"] = self.synth_report.to_dict() if self.synth_report else None
        d["bit_exact"] = self.bit_exact
        return json.loads(json.dumps(d, default=str))


# --------------------------------------------------------------------------------------------------- validation
def validate_part(part: str) -> str:
    """Return ``part`` if it looks like an AMD/Xilinx FPGA part name, else raise InvalidOptionError."""
    if not isinstance(part, str) or not _PART_RE.match(part.strip()):
        raise InvalidOptionError(
            f"unknown FPGA part {part!r}: expected an AMD/Xilinx part name '<device>-<package>-<speed>[-<temp>]' "
            f"such as 'xcvu13p-flga2577-2-e' or 'xc7z020clg400-1' (families: {', '.join(PART_FAMILIES)})"
        )
    return part.strip()


def _validate_options(backend: str, io_type: str, strategy: str, reuse_factor: int, clock_period: float) -> str:
    backends = {"vitis": "Vitis", "vivado": "Vivado"}
    if str(backend).lower() not in backends:
        raise InvalidOptionError(f"unknown backend {backend!r}: expected one of Vitis, Vivado")
    if io_type not in ("io_parallel", "io_stream"):
        raise InvalidOptionError(f"unknown io_type {io_type!r}: expected io_parallel or io_stream")
    if str(strategy).lower() not in ("latency", "resource"):
        raise InvalidOptionError(f"unknown strategy {strategy!r}: expected latency or resource")
    if not isinstance(reuse_factor, (int, np.integer)) or reuse_factor < 1:
        raise InvalidOptionError(f"reuse_factor must be an integer >= 1, got {reuse_factor!r}")
    if not clock_period or float(clock_period) <= 0:
        raise InvalidOptionError(f"clock_period must be > 0 ns, got {clock_period!r}")
    return backends[str(backend).lower()]


def _qname(q: Any) -> str:
    return q if isinstance(q, str) else type(q).__name__


def check_model(model: Any) -> None:
    """Raise UnsupportedModelError naming the first layer/quantizer hls4ml cannot export bit-exactly."""
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise UnsupportedModelError(
            f"model {model.name!r} has {len(model.inputs)} inputs and {len(model.outputs)} outputs: only "
            "single-input single-output models are supported"
        )
    for layer in model.layers:
        cls = type(layer).__name__
        if layer.name == "input":
            raise UnsupportedModelError(
                "a layer is named 'input', which hls4ml reserves; rename it (e.g. tf.keras.Input(..., name='x'))"
            )
        if cls not in SUPPORTED_LAYERS:
            raise UnsupportedModelError(
                f"layer {layer.name!r} of type {cls} is not supported for hls4ml export; supported layers: "
                f"{', '.join(SUPPORTED_LAYERS)}"
            )
        if cls in ("QDense", "QConv1D", "QConv2D"):
            for q in getattr(layer, "quantizers", []) or []:
                if q is None:
                    continue
                if _qname(q) not in SUPPORTED_WEIGHT_QUANTIZERS:
                    raise UnsupportedModelError(
                        f"layer {layer.name!r}: weight quantizer {_qname(q)} is not supported; supported: "
                        f"{', '.join(SUPPORTED_WEIGHT_QUANTIZERS)}"
                    )
                alpha = getattr(q, "alpha", None)
                if isinstance(alpha, str) or (alpha is not None and np.any(np.asarray(alpha, dtype=float) != 1.0)):
                    raise UnsupportedModelError(
                        f"layer {layer.name!r}: quantizer {q} has alpha={alpha!r}; only alpha=1 (or None) maps to a "
                        "fixed-point type bit-exactly"
                    )
        if cls == "QActivation" and _qname(layer.quantizer) not in SUPPORTED_ACTIVATION_QUANTIZERS:
            raise UnsupportedModelError(
                f"layer {layer.name!r}: activation quantizer {_qname(layer.quantizer)} is not supported; supported: "
                f"{', '.join(SUPPORTED_ACTIVATION_QUANTIZERS)}"
            )
        act = getattr(layer, "activation", None)
        if cls != "QActivation" and act is not None:
            act_name = act if isinstance(act, str) else getattr(act, "__name__", type(act).__name__)
            if act_name not in SUPPORTED_ACTIVATIONS:
                raise UnsupportedModelError(
                    f"layer {layer.name!r}: activation {act_name} is not supported; supported: "
                    f"{', '.join(SUPPORTED_ACTIVATIONS)} (or a QActivation)"
                )


# --------------------------------------------------------------------------------------------------- loading
def _custom_objects() -> dict:
    from qkeras.utils import _add_supported_quantized_objects

    co: dict = {}
    _add_supported_quantized_objects(co)
    return co


def load_source(src: Any, trust_model: bool = False) -> tuple[Any, str, dict | None]:
    """Return (model, name, data) for a tf.keras model, an .h5 path or a finished search directory."""
    if hasattr(src, "layers") and hasattr(src, "predict"):
        require_keras2_model(src)
        return src, src.name, None
    path = os.fspath(src)
    if os.path.isdir(path):
        h5 = os.path.join(path, "best_model.h5")
        if not (os.path.isfile(h5) and os.path.isfile(os.path.join(path, "summary.json"))):
            raise ExportError(
                f"{path} is not a finished search directory: it needs best_model.h5 and summary.json"
            )
        model = _load_h5(h5, trust_model)
        data = None
        npz = os.path.join(path, "data_sample.npz")
        if os.path.isfile(npz):
            with np.load(npz) as z:
                data = {k: z[k] for k in z.files}
        return model, os.path.basename(os.path.normpath(path)), data
    if os.path.isfile(path):
        return _load_h5(path, trust_model), _load_h5_name(path), None
    raise ExportError(f"cannot export {src!r}: not a tf.keras model, an .h5 file or a search directory")


def _load_h5(path: str, trust_model: bool = False) -> Any:
    from qkeras.utils import load_qmodel

    from autoq import model_io

    try:
        model_io.check_file(path, trust_model)
    except AutoqError as exc:
        raise ExportError(str(exc)) from None
    try:
        from autoq.quantizers import custom_objects  # QKeras objects and autoq's QIL

        return load_qmodel(path, custom_objects=custom_objects(), compile=False)
    except Exception as e:  # noqa: BLE001 -- any load failure is a user-facing error here
        raise ExportError(f"cannot load model from {path}: {e}") from e


def fold_qil_if_any(model: Any) -> Any:
    """The model with every QIL quantizer (autoq.qil) folded into the fixed-point quantizer it equals exactly
    (hls4ml knows only QKeras' own); the model itself when it has none."""
    from autoq.qil import QIL, fold_qil

    if any(isinstance(v, QIL) for lay in model.layers for v in vars(lay).values()):
        return fold_qil(model)
    return model


def _load_h5_name(path: str) -> str:
    return os.path.splitext(os.path.basename(path))[0]


# --------------------------------------------------------------------------------------------------- precisions
def input_quantizer(model: Any) -> Any | None:
    """The QActivation(quantized_bits) right after the input (named 'input_quant' by convention), if any."""
    layers = [lay for lay in model.layers if type(lay).__name__ != "InputLayer"]
    if layers and type(layers[0]).__name__ == "QActivation" and _qname(layers[0].quantizer) == "quantized_bits":
        return layers[0]
    return None


def quantizer_precision(q: Any) -> str:
    """hls4ml precision string of a QKeras quantized_bits/quantized_relu quantizer (round half even, saturate)."""
    name = _qname(q)
    if name == "quantized_bits":
        if q.keep_negative:
            return f"fixed<{int(q.bits)},{int(q.integer) + 1},RND_CONV,SAT>"
        return f"ufixed<{int(q.bits)},{int(q.integer)},RND_CONV,SAT>"
    if name == "quantized_relu":
        return f"ufixed<{int(q.bits)},{int(q.integer)},RND_CONV,SAT>"
    raise UnsupportedModelError(f"no fixed-point type for quantizer {name}")


def _quantize_np(x: np.ndarray, precision: str) -> np.ndarray:
    """Quantize ``x`` like ap_fixed<W,I,RND_CONV,SAT> (round half to even, saturate)."""
    m = re.match(r"(u?)fixed<(\d+),(-?\d+)", precision)
    unsigned, width, integer = m.group(1) == "u", int(m.group(2)), int(m.group(3))
    frac = width - integer
    lo, hi = (0, 2**width - 1) if unsigned else (-(2 ** (width - 1)), 2 ** (width - 1) - 1)
    return np.clip(np.round(np.asarray(x, dtype=np.float64) * 2.0**frac), lo, hi) / 2.0**frac


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
        if q is not None and _qname(q) in ("quantized_bits", "quantized_relu") and layer.name in cfg["LayerName"]:
            cfg["LayerName"][layer.name].setdefault("Precision", {})["result"] = quantizer_precision(q)
    for name in names:
        cfg["LayerName"][name]["Trace"] = True
    return cfg, in_prec


# --------------------------------------------------------------------------------------------------- check
def _keras_layer_outputs(model: Any, x: np.ndarray) -> dict[str, np.ndarray]:
    import tensorflow as tf

    layers = [lay for lay in model.layers if type(lay).__name__ != "InputLayer"]
    probe = tf.keras.Model(model.inputs, [lay.output for lay in layers])
    outs = probe.predict(x, verbose=0, batch_size=max(1, min(len(x), 1024)))
    outs = outs if isinstance(outs, list) else [outs]
    return {lay.name: np.asarray(o, dtype=np.float64) for lay, o in zip(layers, outs)}


def _is_softmax(layer: Any) -> bool:
    cls = type(layer).__name__
    act = getattr(layer, "activation", None)
    act_name = act if isinstance(act, str) else getattr(act, "__name__", "")
    return cls == "Softmax" or (cls == "Activation" and act_name == "softmax")


def _agreement(a: np.ndarray, b: np.ndarray) -> float:
    a2, b2 = a.reshape(len(a), -1), b.reshape(len(b), -1)
    if a2.shape[1] == 1:
        return float(np.mean(a2[:, 0] == b2[:, 0]))
    return float(np.mean(np.argmax(a2, axis=1) == np.argmax(b2, axis=1)))


# --------------------------------------------------------------------------------------------------- export
@hls4ml_keras2()  # hls4ml sees tf_keras as `keras` for this call (TF 2.21 stack; autoq/keras_env.py)
def export(
    model: Any,
    output_dir: str | None = None,
    *,
    x: np.ndarray | None = None,
    backend: str = "Vitis",
    part: str = DEFAULT_PART,
    clock_period: float = 5.0,
    io_type: str = "io_parallel",
    reuse_factor: int = 1,
    strategy: str = "latency",
    project_name: str = "myproject",
    force: bool = False,
    synth: bool = False,
    check: bool = True,
    trust_model: bool = False,
) -> ExportResult:
    """Write a bit-exact hls4ml project for ``model``, compile it with g++, check it against QKeras, report.

    ``model`` is a tf.keras model, an .h5 path or a finished search directory (``best_model.h5`` +
    ``summary.json``, optional ``data_sample.npz`` with ``x_val``). ``x`` are validation inputs used for the
    test vectors (``tb_data/``) and the agreement check; without them, 200 standard-normal samples are used.
    Raises :class:`ExportError` subclasses for bad input, :class:`ToolNotFoundError` when ``synth`` is asked but the
    HLS tool is missing (the project is then complete; the result is in ``err.result``). A model file that carries
    code (Lambda layers, unknown custom layers) is refused unless ``trust_model`` (see :mod:`autoq.model_io`).
    """
    backend = _validate_options(backend, io_type, strategy, reuse_factor, clock_period)
    part = validate_part(part)
    if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", project_name or ""):
        raise InvalidOptionError(f"project_name {project_name!r} must be a C identifier (letters, digits, _)")
    kmodel, name, data = load_source(model, trust_model)
    kmodel = fold_qil_if_any(kmodel)
    check_model(kmodel)
    x_source = "given"
    if x is None and data is not None and "x_val" in data:
        x, x_source = data["x_val"], "data_sample.npz"
    if x is None:
        shape = (RANDOM_SAMPLES,) + tuple(int(d) for d in kmodel.input_shape[1:])
        x, x_source = np.random.default_rng(0).standard_normal(shape), "random-normal (seed 0)"
    x = np.asarray(x)[:MAX_CHECK_SAMPLES]
    want = tuple(int(d) for d in kmodel.input_shape[1:])
    if x.ndim < 1 or tuple(x.shape[1:]) != want or len(x) == 0:
        raise ExportError(f"x has shape {x.shape}, the model expects (n_samples, {', '.join(map(str, want))})")
    out = os.path.abspath(output_dir or os.path.join("hls_projects", name))
    if os.path.isdir(out) and os.listdir(out) and not force:
        raise OutputExistsError(
            f"output directory {out} exists and is not empty; pass force=True (--force) to overwrite the hls4ml "
            "files in it (other files are left alone)"
        )
    if os.path.exists(out) and not os.path.isdir(out):
        raise OutputExistsError(f"output path {out} exists and is not a directory")

    import hls4ml

    notes: list[str] = [
        f"layer {lay.name!r} ({type(lay).__name__}) is not quantized: hls4ml uses fixed<16,6> weights, not bit-exact"
        for lay in kmodel.layers if type(lay).__name__ in ("Dense", "Conv1D", "Conv2D")
    ]
    cfg, in_prec = hls_config_for(kmodel, backend, reuse_factor, strategy)
    xq = np.ascontiguousarray(_quantize_np(x, in_prec).astype(np.float32))
    if np.any(xq != x):
        notes.append(f"test inputs quantized to the input type {in_prec} before the check and tb_data")
    keras_out = _keras_layer_outputs(kmodel, xq)
    last = [lay for lay in kmodel.layers if type(lay).__name__ != "InputLayer"][-1]
    y_keras = keras_out[last.name]

    tb_dir = os.path.join(out, "tb_data")
    tb_in, tb_out = os.path.join(tb_dir, "autoq_x.npy"), os.path.join(tb_dir, "autoq_y.npy")

    t0 = time.perf_counter()
    try:
        hls_model = hls4ml.converters.convert_from_keras_model(
            kmodel, hls_config=cfg, output_dir=out, project_name=project_name, backend=backend, part=part,
            clock_period=clock_period, io_type=io_type, input_data_tb=tb_in, output_data_tb=tb_out,
        )
    except Exception as e:  # noqa: BLE001 -- hls4ml raises bare Exceptions for unsupported models
        raise UnsupportedModelError(f"hls4ml could not convert model {kmodel.name!r}: {e}") from e
    seconds_convert = time.perf_counter() - t0
    os.makedirs(tb_dir, exist_ok=True)  # nothing is written before the conversion succeeded
    np.save(tb_in, xq)
    np.save(tb_out, y_keras.astype(np.float32))
    layer_precisions = {
        lay.name: {k: str(v.precision) for k, v in lay.types.items() if k.endswith("result_t") or k in (
            "accum_t", "weight_t", "bias_t")}
        for lay in hls_model.get_layers()
    }

    agreement = max_diff = first_bad = compared = sm_agree = sm_diff = None
    layer_diffs: dict[str, float] = {}
    seconds_compile = 0.0
    if check:
        t0 = time.perf_counter()
        try:
            y_hls, trace = hls_model.trace(xq)
        except Exception as e:  # noqa: BLE001 -- g++ failures surface as generic exceptions
            raise ExportError(f"g++ compilation / C simulation of {out} failed: {e}") from e
        seconds_compile = time.perf_counter() - t0
        y_hls = np.asarray(y_hls, dtype=np.float64).reshape(y_keras.shape)
        for lname, kout in keras_out.items():
            if lname in trace:
                layer_diffs[lname] = float(np.max(np.abs(np.asarray(trace[lname]).reshape(kout.shape) - kout)))
        compared_out = y_hls
        compared = last.name
        if _is_softmax(last):
            sm_agree, sm_diff = _agreement(y_hls, y_keras), float(np.max(np.abs(y_hls - y_keras)))
            inbound = last.inbound_nodes[0].inbound_layers
            compared = (inbound[0] if isinstance(inbound, (list, tuple)) else inbound).name
            if compared in trace:
                compared_out = np.asarray(trace[compared], dtype=np.float64).reshape(keras_out[compared].shape)
            else:
                notes.append(f"no trace for {compared}: compared the softmax output instead")
                compared = last.name
            notes.append(
                f"final softmax is a float lookup-table approximation in hls4ml: checked the logits ({compared}); "
                f"softmax argmax agreement {sm_agree:.4f}, max |diff| {sm_diff:.3g}"
            )
        y_ref = keras_out[compared]
        agreement = _agreement(compared_out, y_ref)
        max_diff = float(np.max(np.abs(compared_out - y_ref)))
        checked = list(keras_out)[: list(keras_out).index(compared) + 1]
        first_bad = next((n for n in checked if layer_diffs.get(n, 0.0) > 0.0), None)
        if first_bad is None and max_diff > 0:
            first_bad = compared
        hls_model.config.trace_output = False
        hls_model.write()  # leave a clean (trace-free) firmware in the project
        print(
            f"[autoq] C simulation vs QKeras ({compared}, {len(xq)} samples): argmax agreement {agreement:.2%}, "
            f"max |diff| {max_diff:.6g}"
        )
        if max_diff > 0 or agreement < 1.0:
            print(
                f"WARNING: hls4ml C simulation is NOT bit-exact with QKeras: agreement {agreement:.4f}, max |diff| "
                f"{max_diff:.6g}, first differing layer {first_bad!r} (per-layer max |diff|: {layer_diffs})",
                file=sys.stderr,
            )
    else:
        hls_model.write()

    est = estimate(kmodel, reuse_factor=reuse_factor, clock_period=clock_period, part=part, strategy=strategy)
    result = ExportResult(
        output_dir=out, hls_config=cfg, agreement=agreement, max_abs_diff=max_diff, first_mismatch_layer=first_bad,
        estimate=est, synth_report=None, seconds_convert=seconds_convert, seconds_compile=seconds_compile,
        compared_layer=compared, n_samples=int(len(xq)), x_source=x_source, input_precision=in_prec,
        softmax_agreement=sm_agree, softmax_max_abs_diff=sm_diff, layer_max_abs_diff=layer_diffs,
        layer_precisions=layer_precisions, notes=notes,
    )
    _write_result(result)
    from autoq import reports

    rep = reports.report(out)
    if synth:
        exe = "vitis_hls" if backend == "Vitis" else "vivado_hls"
        if shutil.which(exe) is None:
            raise ToolNotFoundError(
                f"synthesis needs `{exe}` ({backend} backend) on PATH, and it was not found. The project at {out} is "
                f"complete and usable (firmware/, build_prj.tcl, tb_data/); synthesize it later with: "
                f"cd {out} && {exe} -f build_prj.tcl   (then `autoq report {out}`)",
                result=result,
            )
        hls_model.build(csim=False, synth=True, vsynth=False)
        rep = reports.report(out)
        result.synth_report = rep
        _write_result(result)
    return result


def _write_result(result: ExportResult) -> None:
    with open(os.path.join(result.output_dir, "autoq_export.json"), "w") as f:
        json.dump(result.to_dict(), f, indent=2)


def format_result(result: ExportResult) -> str:
    """Human-readable summary of an export: project, check numbers, estimate table."""
    lines = [f"hls4ml project: {result.output_dir}"]
    if result.agreement is None:
        lines.append("C simulation check: skipped")
    else:
        status = "bit-exact" if result.bit_exact else "MISMATCH"
        lines.append(
            f"C simulation vs QKeras on {result.n_samples} samples ({result.x_source}), layer {result.compared_layer}: "
            f"{status}: argmax agreement {result.agreement:.2%}, max |diff| {result.max_abs_diff:.6g}"
        )
        if result.first_mismatch_layer:
            lines.append(f"first differing layer: {result.first_mismatch_layer}")
    lines.append(
        f"input type {result.input_precision}; convert {result.seconds_convert:.1f} s, "
        f"g++ compile + C-sim {result.seconds_compile:.1f} s"
    )
    for note in result.notes:
        lines.append(f"note: {note}")
    lines.append(format_estimate(result.estimate, result.synth_report.synth if result.synth_report else None))
    return "\n".join(lines)
