"""QKeras model -> bit-exact hls4ml project, g++ C-simulation agreement check, optional HLS synthesis.

How bit-exactness is obtained (hls4ml 1.3.0, Keras-2 QKeras flow; details in the modules named):

* :mod:`autoq.exporting.vocabulary` checks every layer and quantizer against what hls4ml implements exactly (one clear
  error naming the layer otherwise) and renames what hls4ml cannot take (a layer named ``input``).
* :mod:`autoq.exporting.hls_config` builds hls4ml's own per-layer config (``granularity='name'``: quantizer types, ApplyAlpha
  for auto scales, batch-norm fusion, ``auto`` accumulators), pins the input type and every activation quantizer's
  type (round half to even, saturate: QKeras' ``tf.round`` + ``clip``), and after conversion re-derives the types
  hls4ml leaves at its default or too narrow (po2/binary accumulators, float relu, average pooling, batch norm).
* The test vectors are quantized to the input type before both QKeras and the C simulation see them.
* :mod:`autoq.exporting.check` compares every layer. A float ``softmax`` at the end is hls4ml's lookup-table
  approximation: the logits are compared instead and the softmax figures are reported as that approximation.
* A mismatch of the compared tensor is an error (:class:`MismatchError`) unless ``allow_mismatch=True``.
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

from .hls_config import DEFAULT_INPUT_PRECISION, default_float_types, hls_config_for, is_float_model
from .. import export_options
from ..errors import ExportError, UnsupportedModelError  # noqa: F401
from .source import load_source, search_provenance
from .vocabulary import check_model
from ..keras_env import hls4ml_keras2
from ..cost.estimate import DEFAULT_PART, ResourceEstimate, estimate
from .project_report import ProjectReport
from .synth import ToolNotFoundError, require_tool, synthesize  # noqa: F401 - raised by export()
from ..searching.layout import DATA_SAMPLE, SUMMARY

RANDOM_SAMPLES = 200
MAX_CHECK_SAMPLES = 1000
PART_FAMILIES = ("xc7 (7-series)", "xcku/xcvu/xczu/xcau (UltraScale(+))", "xcu (Alveo)", "xcv (Versal)")
# device[-package]-speed grade[-temperature...]: the speed grade (-1, -2L, -2MP, -L1) is required
_PART_RE = re.compile(r"^x[acq](7[akvzs]|k[u7]|vu|zu|au|u\d|v[cempah]\d)[a-z0-9]*(-[a-z0-9]+)*"
                      r"-(\d[a-z]*|l\d)(-[a-z0-9]+){0,2}$", re.I)


class InvalidOptionError(ExportError):
    """A bad export option (part, backend, io_type, ...)."""


class OutputExistsError(ExportError):
    """The output directory exists and is not empty (use force=True)."""


class MismatchError(ExportError):
    """The C simulation differs from QKeras on the compared tensor; ``result`` holds the measurements."""

    def __init__(self, message: str, result: "ExportResult | None" = None):
        super().__init__(message)
        self.result = result


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
    softmax_agreement: float | None = None  # the table-approximated head's (softmax or sigmoid: head_activation)
    softmax_max_abs_diff: float | None = None
    head_activation: str | None = None
    warnings: list = field(default_factory=list)  # WARNING lines (an approximated head below HEAD_AGREEMENT)
    layer_max_abs_diff: dict = field(default_factory=dict)
    layer_precisions: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)
    provenance: dict = field(default_factory=dict)  # the search folder, trial, choice and config digest it came from

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
    """The options' one check (:mod:`autoq.export_options`); -> the backend as hls4ml spells it."""
    for key, message in export_options.problems(backend, io_type, strategy, reuse_factor, clock_period):
        raise InvalidOptionError(f"{key}: {message}")
    return export_options.backend_name(backend)


def quantize_inputs(x: np.ndarray, precision: str) -> np.ndarray:
    """Quantize ``x`` like ap_fixed<W,I,RND_CONV,SAT> (round half to even, saturate)."""
    m = re.match(r"(u?)fixed<(\d+),(-?\d+)", precision)
    unsigned, width, integer = m.group(1) == "u", int(m.group(2)), int(m.group(3))
    frac = width - integer
    lo, hi = (0, 2**width - 1) if unsigned else (-(2 ** (width - 1)), 2 ** (width - 1) - 1)
    return np.clip(np.round(np.asarray(x, dtype=np.float64) * 2.0**frac), lo, hi) / 2.0**frac


def _inputs(x: Any, data: dict | None, npz: str, kmodel: Any) -> tuple[np.ndarray, str, list[str]]:
    """(test inputs, where they come from, notes): given array or .npz, the search's validation data, or random."""
    from .source import check_inputs, load_npz_inputs

    notes: list[str] = []
    if isinstance(x, (str, os.PathLike)):
        x, source = load_npz_inputs(os.fspath(x)), f"file {os.fspath(x)}"
    elif x is not None:
        source = "given array"
    elif data is not None and "x_val" in data:
        x, source = data["x_val"], f"search validation data ({npz})"
    else:
        shape = (RANDOM_SAMPLES,) + tuple(int(d) for d in kmodel.input_shape[1:])
        x, source = np.random.default_rng(0).standard_normal(shape), "RANDOM standard-normal inputs (seed 0)"
        notes.append("no validation data: the check used random standard-normal inputs, which may not exercise the "
                     "model's real range; pass x= (--data FILE.npz) for a meaningful check")
        print(f"WARNING: {notes[-1]}", file=sys.stderr)
    x = np.asarray(x)[:MAX_CHECK_SAMPLES]
    check_inputs(x, source)
    want = tuple(int(d) for d in kmodel.input_shape[1:])
    if x.ndim < 1 or tuple(x.shape[1:]) != want or len(x) == 0:
        raise ExportError(f"x has shape {x.shape}, the model expects (n_samples, {', '.join(map(str, want))})")
    return x, source, notes


def _output_dir(output_dir: str | None, name: str, force: bool) -> str:
    out = os.path.abspath(output_dir or os.path.join("hls_projects", name))
    if os.path.isdir(out) and os.listdir(out) and not force:
        raise OutputExistsError(
            f"output directory {out} exists and is not empty; pass force=True (--force) to overwrite the hls4ml "
            "files in it (other files are left alone)"
        )
    if os.path.exists(out) and not os.path.isdir(out):
        raise OutputExistsError(f"output path {out} exists and is not a directory")
    return out


# --------------------------------------------------------------------------------------------------- export
@hls4ml_keras2()  # hls4ml sees tf_keras as `keras` for this call (TF 2.21 stack; autoq/keras_env.py)
def export(
    model: Any,
    output_dir: str | None = None,
    *,
    x: Any = None,
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
    trial: str | None = None,
    hls_config: Any = None,
    allow_mismatch: bool = False,
    exact_float: bool = False,
) -> ExportResult:
    """Write a bit-exact hls4ml project for ``model``, compile it with g++, check it against QKeras, report.

    ``model`` is a tf.keras model, an .h5 path or a finished search directory (its winner, or ``trial``'s model;
    its ``data_sample.npz`` gives the test vectors). ``x`` are inputs (array or .npz path) for the test vectors
    (``tb_data/``) and the check; random inputs only when there is nothing else (the result says so).
    ``hls_config``: hls4ml settings (dict or YAML path, ``Model``/``LayerName`` as in hls4ml) merged over autoq's.
    Raises :class:`MismatchError` when the C simulation differs from QKeras (unless ``allow_mismatch``; the
    project of a failed check is removed if this call created its directory), :class:`ToolNotFoundError` when
    ``synth`` is asked but the HLS tool is missing (the project is then complete; the result is in ``err.result``).
    A model file that carries code (Lambda layers, unknown custom layers) is refused unless ``trust_model``.
    A float model (no QKeras layer) gets hls4ml's usual default precision ap_fixed<16,6> everywhere, or with
    ``exact_float`` the exact (wide) sums hls4ml's ``auto`` types derive; the result's notes say which.
    """
    from . import check as export_check, hls_config as export_hls, source, vocabulary
    from .settings import merge_settings

    backend = _validate_options(backend, io_type, strategy, reuse_factor, clock_period)
    part = validate_part(part)
    if synth:
        require_tool(backend)  # before any work: a missing tool is known now
    if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", project_name or ""):
        raise InvalidOptionError(f"project_name {project_name!r} must be a C identifier (letters, digits, _)")
    _refuse_unexportable_search(model, allow_mismatch)
    provenance = search_provenance(model, trial)  # {} for a model that is not a search's
    kmodel, name, data = load_source(model, trial, trust_model)
    npz = os.path.join(os.fspath(model), DATA_SAMPLE) if data is not None else ""
    kmodel = source.prepare(kmodel)
    check_model(kmodel)
    x, x_source, notes = _inputs(x, data, npz, kmodel)
    out = _output_dir(output_dir, name, force)
    created = not os.path.exists(out)

    notes += [f"layer {lay.name!r} ({type(lay).__name__}) is not quantized: hls4ml uses fixed<16,6> weights, not "
              "bit-exact" for lay in kmodel.layers if type(lay).__name__ in vocabulary.FLOAT_LAYERS]
    cfg, in_prec = hls_config_for(kmodel, backend, reuse_factor, strategy)
    if is_float_model(kmodel):
        if exact_float:
            notes.append("float model: exact types (hls4ml's 'auto': full-width sums), as asked (exact_float)")
        else:
            default_float_types(cfg)
            notes.append(f"float model: hls4ml's default precision {cfg['Model']['Precision']['default']} for every "
                         "type (exact_float=True / --exact-float for exact full-width types)")
    cfg, keep, warnings = merge_settings(cfg, hls_config)
    for w in warnings:
        print(f"WARNING: {w}", file=sys.stderr)
    notes += warnings
    xq = np.ascontiguousarray(quantize_inputs(x, in_prec).astype(np.float32))
    if np.any(xq != x):
        notes.append(f"test inputs quantized to the input type {in_prec} before the check and tb_data")
    keras_out = export_check.keras_layer_outputs(kmodel, xq)
    multi = len(kmodel.outputs) > 1  # every output, concatenated for the testbench (export_check.keras_output)
    y_keras = export_check.keras_output(kmodel, keras_out) if multi else list(keras_out.values())[-1]
    tb_dir = os.path.join(out, "tb_data")
    tb_in, tb_out = os.path.join(tb_dir, "autoq_x.npy"), os.path.join(tb_dir, "autoq_y.npy")

    t0 = time.perf_counter()
    try:
        hls_model = export_hls.convert(
            kmodel, cfg, keep=keep, output_dir=out, project_name=project_name, backend=backend, part=part,
            clock_period=clock_period, io_type=io_type, input_data_tb=tb_in, output_data_tb=tb_out,
        )
    except Exception as e:  # noqa: BLE001 -- hls4ml raises bare Exceptions for unsupported models
        raise UnsupportedModelError(f"hls4ml could not convert model {kmodel.name!r}: {e}") from e
    seconds_convert = time.perf_counter() - t0
    os.makedirs(tb_dir, exist_ok=True)  # nothing is written before the conversion succeeded
    np.save(tb_in, xq)
    np.save(tb_out, y_keras.astype(np.float32))
    layer_precisions = {
        lay.name: {k: export_hls.precision_name(v.precision) for k, v in lay.types.items()
                   if k.endswith("result_t") or k in ("accum_t", "weight_t", "bias_t")}
        for lay in hls_model.get_layers()
    }

    chk, seconds_compile, head_warnings = None, 0.0, []
    if check:
        t0 = time.perf_counter()
        try:
            import contextlib
            import io
            with contextlib.redirect_stdout(io.StringIO()):  # hls4ml prints "Recompiling ... with tracing"
                y_hls, trace = hls_model.trace(xq)
        except Exception as e:  # noqa: BLE001 -- g++ failures surface as generic exceptions
            raise ExportError(f"g++ compilation / C simulation of {out} failed: {e}") from e
        seconds_compile = time.perf_counter() - t0
        chk = (export_check.compare_outputs if multi else export_check.compare)(
            kmodel, hls_model, keras_out, y_hls, trace, vocabulary.float_layers(kmodel))
        if chk.softmax_agreement is not None:
            decision = "decision (at 0.5)" if chk.head == "sigmoid" else "argmax"
            notes.append(
                f"final {chk.head}: hls4ml's lookup-table approximation, not exact by design; checked the logits "
                f"({chk.compared_layer}); table-approximation {decision} agreement {chk.softmax_agreement:.4f}, max "
                f"|diff| {chk.softmax_max_abs_diff:.3g}"
            )
            if chk.softmax_agreement < HEAD_AGREEMENT:
                warn = head_warning(chk.head, chk.softmax_agreement, kmodel)
                print(f"WARNING: {warn}", file=sys.stderr)
                head_warnings.append(warn)
        hls_model.config.trace_output = False
    hls_model.write()  # leave a clean (trace-free) firmware in the project
    _portable_config(out)

    est = estimate(kmodel, reuse_factor=int(cfg["Model"].get("ReuseFactor", reuse_factor)), clock_period=clock_period,
                   part=part, strategy=strategy, io_type=io_type)
    if est.overflows():
        notes.append(f"the estimate does not fit {part}: {', '.join(est.overflows())}")
        print(f"WARNING: {notes[-1]}", file=sys.stderr)
    result = ExportResult(
        output_dir=out, hls_config=cfg, agreement=chk and chk.agreement, max_abs_diff=chk and chk.max_abs_diff,
        first_mismatch_layer=chk and chk.first_mismatch_layer, estimate=est, synth_report=None,
        seconds_convert=seconds_convert, seconds_compile=seconds_compile, compared_layer=chk and chk.compared_layer,
        n_samples=int(len(xq)), x_source=x_source, input_precision=in_prec,
        softmax_agreement=chk and chk.softmax_agreement, softmax_max_abs_diff=chk and chk.softmax_max_abs_diff,
        head_activation=chk and chk.head, warnings=head_warnings,
        layer_max_abs_diff=chk.layer_max_abs_diff if chk else {}, layer_precisions=layer_precisions, notes=notes,
        provenance=provenance,
    )
    _write_result(result)
    if chk is not None and not result.bit_exact:  # the check's numbers are in the result (format_result prints them)
        _mismatch(result, created, allow_mismatch)
    if synth:
        synthesize(result, hls_model, backend, _write_result)
    return result


def export_front(search_dir: Any, output_dir: str | None = None, *, log=None, **options) -> list[ExportResult]:
    """:func:`export` every trial on a search's Pareto front, each into ``<output_dir>/trial-<id>/`` (default
    ``hls_projects/<search>_front``) with its report and provenance; ``options`` are :func:`export`'s. Every
    trial's model and every project folder is checked before the first export. ``log(result)`` after each."""
    from .source import front_trials
    path = os.fspath(search_dir)
    trials = front_trials(path)
    base = output_dir or os.path.join("hls_projects", os.path.basename(os.path.normpath(path)) + "_front")
    outs = [_output_dir(os.path.join(base, f"trial-{t}"), "", options.get("force", False)) for t in trials]
    results = []
    for t, out in zip(trials, outs):
        results.append(export(path, out, trial=t, **options))
        if log is not None:
            log(results[-1])
    return results
def _refuse_unexportable_search(model: Any, allow: bool) -> None:
    """A search run with ``hls4ml: false`` searched quantizers hls4ml may not reproduce: refused unless ``allow``."""
    if not isinstance(model, (str, os.PathLike)):
        return
    path = os.path.join(os.fspath(model), SUMMARY)
    if not os.path.isfile(path):
        return
    try:
        with open(path) as f:
            exportable = json.load(f).get("exportable", True)
    except (OSError, ValueError, AttributeError):
        return  # load_source says what is wrong with the folder
    if exportable is False and not allow:
        raise ExportError(f"{os.fspath(model)} was searched with hls4ml: false: its quantizers were not checked "
                          "against what hls4ml reproduces, so its models are not exportable bit-exactly; search "
                          "again without hls4ml: false, or pass --allow-mismatch (allow_mismatch=True) to try anyway")
    if exportable is False:
        print("WARNING: exporting a search run with hls4ml: false (--allow-mismatch): the check below says whether "
              "this model is bit-exact", file=sys.stderr)


#: below this agreement of an approximated head (softmax argmax, sigmoid decision) with Keras, the export warns
HEAD_AGREEMENT = 0.99


def head_warning(head: str, agree: float, kmodel: Any) -> str:
    """The warning for a float head whose hls4ml table approximation disagrees with Keras, with the remedies."""
    last = [lay.name for lay in kmodel.layers][-1]
    if head == "softmax":
        remedy = (f"if only the class matters, --hls-config (or the hls4ml: section) LayerName: {{{last}: "
                  "{Implementation: argmax}} (one-hot outputs, the logits' argmax exactly); for probabilities a "
                  f"finer table, e.g. {{{last}: {{TableSize: 4096, Precision: {{exp_table: 'fixed<18,8,RND,SAT>', "
                  "inv_table: 'fixed<24,8,RND,SAT>', result: 'fixed<18,8>'}}}}; or export the logits (drop the "
                  "float softmax, apply it off-chip)")
        what = "argmax"
    else:
        remedy = (f"a finer table through --hls-config (or the hls4ml: section), e.g. LayerName: {{{last}: "
                  "{TableSize: 4096, Precision: {table: 'fixed<18,8>'}}}; or export the logits (a threshold at 0 on "
                  "them is the same decision, exactly)")
        what = "decision (at 0.5)"
    return (f"the final {head} as hls4ml computes it (a lookup table) agrees with Keras on only {100 * agree:.1f}% "
            f"of the {what} decisions (the logits are bit-exact); remedy: {remedy}")


def _portable_config(out: str) -> None:
    """hls4ml_config.yml as a user keeps it: no per-layer ``Trace: true`` left from the check, and paths relative to
    the project (it moves to the synthesis machine), not this machine's absolute ones."""
    path = os.path.join(out, "hls4ml_config.yml")
    if not os.path.isfile(path):
        return
    root = os.path.abspath(out)
    with open(path) as f:
        text = f.read()
    text = re.sub(r"(?m)^(\s*)Trace: true$", r"\1Trace: false", text)
    text = re.sub(rf"(?m)^OutputDir: {re.escape(root)}$", "OutputDir: .", text).replace(root + os.sep, "")
    with open(path, "w") as f:
        f.write(text)


def _mismatch(result: ExportResult, created: bool, allow: bool) -> None:
    """A failed check: a warning with --allow-mismatch, else an error (and the project it created removed)."""
    diffs = {k: v for k, v in result.layer_max_abs_diff.items() if v}
    msg = (f"C simulation is NOT bit-exact with QKeras on {result.compared_layer}: max |diff| "
           f"{result.max_abs_diff:.6g}, argmax agreement {result.agreement:.4f} on {result.n_samples} samples; first "
           f"differing layer {result.first_mismatch_layer!r} (type "
           f"{result.layer_precisions.get(result.first_mismatch_layer, {})}; per-layer max |diff| {diffs})")
    if allow:
        print(f"WARNING: {msg} -- project written anyway (--allow-mismatch)", file=sys.stderr)
        return
    if created:
        shutil.rmtree(result.output_dir, ignore_errors=True)
    raise MismatchError(f"{msg}; no project written (pass --allow-mismatch / allow_mismatch=True to write it "
                        "anyway)", result=result)


def _write_result(result: ExportResult) -> None:
    with open(os.path.join(result.output_dir, "autoq_export.json"), "w") as f:
        json.dump(result.to_dict(), f, indent=2)
