"""Keras side of the export: load the model to export (tf.keras object, .h5, search directory + trial), check it
against :mod:`autoq.exporting.vocabulary`, and rebuild what hls4ml cannot take as is (QIL folded to fixed point,
QKeras batch norm as a plain one, a layer named ``input`` renamed)."""
from __future__ import annotations

import os
from typing import Any

import numpy as np

from ..errors import ExportError
from ..searching.layout import BEST_MODEL, DATA_SAMPLE, RECORD, SUMMARY, TRIAL_MODEL, TRIALS

def load_source(src: Any, trial: str | None = None, trust_model: bool = False) -> tuple[Any, str, dict | None]:
    """(model, name, data) for a tf.keras model, an .h5 path or a finished search directory.

    A search directory gives its winner (``best_model.h5``) or, with ``trial``, that trial's saved model; its
    ``data_sample.npz`` (the search's validation data) comes with it. A model file that carries code (Lambda
    layers, unknown custom layers) is refused unless ``trust_model`` (see :mod:`autoq.model_io`).
    """
    if hasattr(src, "layers") and hasattr(src, "predict"):
        from ..keras_env import require_keras2_model
        require_keras2_model(src)
        if trial is not None:
            raise ExportError("--trial needs a search directory, not a model")
        return src, src.name, None
    path = os.fspath(src)
    if os.path.isdir(path):
        h5 = os.path.join(path, BEST_MODEL)
        if not ((os.path.isfile(h5) or trial is not None) and os.path.isfile(os.path.join(path, SUMMARY))):
            raise ExportError(f"{path} is not a finished search directory: it needs best_model.h5 and summary.json")
        name = os.path.basename(os.path.normpath(path))
        if trial is not None:
            h5, name = _trial_model(path, str(trial)), f"{name}_trial{trial}"
        data = None
        npz = os.path.join(path, DATA_SAMPLE)
        if os.path.isfile(npz):
            data = read_npz(npz)
        return load_h5(h5, trust_model), name, data
    if trial is not None:
        raise ExportError(f"--trial needs a search directory; {path} is not one")
    if os.path.isfile(path):
        return load_h5(path, trust_model), os.path.splitext(os.path.basename(path))[0], None
    if not os.path.exists(path):
        raise ExportError(f"cannot export {src!r}: no such file or directory")
    raise ExportError(f"cannot export {src!r}: not a tf.keras model, an .h5 file or a search directory")


def _summary(path: str) -> dict:
    import json
    try:
        with open(os.path.join(path, SUMMARY)) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        raise ExportError(f"{path} is not a finished search directory: its summary.json is unreadable ({e})") from None


def search_provenance(src: Any, trial: str | None = None) -> dict:
    """Where an export of a search directory comes from: the folder, the trial (the winner's when ``trial`` is
    None), its choice and the config digest; {} for anything that is not a search directory. A search whose
    trials all break its constraints has no winner: exporting it without ``trial`` is an error that says so."""
    import json
    if hasattr(src, "layers") or not os.path.isdir(os.fspath(src)) or \
            not os.path.isfile(os.path.join(os.fspath(src), SUMMARY)):
        return {}
    path = os.path.abspath(os.fspath(src))
    summary = _summary(path)
    if trial is None and summary.get("best") is None:
        why = (summary.get("constraints") or {}).get("message", "no winner")
        raise ExportError(f"{path} has no winner ({why}); export a trial with --trial ID, or the Pareto front with "
                          "--front")
    tid = str(trial) if trial is not None else str(summary["best"]["trial"])
    try:
        with open(os.path.join(path, TRIALS, tid, RECORD)) as f:
            record = json.load(f)
    except (OSError, ValueError):
        record = summary["best"] if trial is None else {}
    return {"search": path, "name": summary.get("name"), "trial": tid, "winner": trial is None or (
                summary.get("best") or {}).get("trial") == tid,
            "choice": record.get("choice"), "config_digest": summary.get("config_digest"),
            "val_metric": record.get("val_metric"), "metric": summary.get("metric"),
            "feasible": record.get("feasible")}


def front_trials(search_dir: str) -> list:
    """The trial ids on a finished search's Pareto front, each with its saved model (else an error naming it)."""
    if not os.path.isfile(os.path.join(search_dir, SUMMARY)):
        raise ExportError(f"--front needs a finished search directory; {search_dir} has no summary.json")
    trials = [str(t) for t in _summary(search_dir).get("pareto", [])]
    if not trials:
        raise ExportError(f"{search_dir} has no trial on its Pareto front")
    for t in trials:
        _trial_model(search_dir, t)
    return trials


def _trial_model(search_dir: str, trial: str) -> str:
    """Path of the saved model of ``trial`` in a search directory (``trials/<id>/model.h5``)."""
    path = os.path.join(search_dir, TRIALS, trial, TRIAL_MODEL)
    if os.path.isfile(path):
        return path
    tdir = os.path.join(search_dir, TRIALS)
    saved = sorted(t for t in (os.listdir(tdir) if os.path.isdir(tdir) else [])
                   if os.path.isfile(os.path.join(tdir, t, TRIAL_MODEL)))
    raise ExportError(
        f"trial {trial!r} has no saved model in {search_dir}; trials with a saved model: {', '.join(saved) or 'none'}"
        " (search.keep: pareto keeps the Pareto front and the winner, all keeps every trial)"
    )


def load_h5(path: str, trust_model: bool = False) -> Any:
    """A model file to export (see :func:`autoq.model_io.load`), errors as :class:`ExportError`."""
    from .. import model_io
    return model_io.load(path, trust_model, error=ExportError)


def read_npz(path: str) -> dict:
    """Every array of an .npz file (no pickles); a file that is not one (cut short, not a zip, a FIFO) refused."""
    import zipfile

    if not os.path.isfile(path):
        raise ExportError(f"{path}: " + ("no such file" if not os.path.exists(path) else "not a regular file"))
    try:
        with np.load(path) as z:
            return {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, AttributeError) as e:
        raise ExportError(f"cannot read {path} as an .npz file: {str(e)[:200] or type(e).__name__}") from None


def load_npz_inputs(path: str) -> np.ndarray:
    """Input samples from an .npz: the array ``x_val``, ``x_test``, ``x`` or ``X`` (first found)."""
    arrays = read_npz(path)
    for key in ("x_val", "x_test", "x", "X", "x_train"):
        if key in arrays:
            return np.asarray(arrays[key])
    raise ExportError(f"{path} has no input array: expected one of x_val, x_test, x, X (found {', '.join(arrays)})")


def check_inputs(x: np.ndarray, source: str) -> None:
    """Test inputs are real finite numbers: a NaN would read as a firmware mismatch, a complex part be dropped."""
    if x.dtype.kind == "c":
        raise ExportError(f"inputs from {source} are complex ({x.dtype}); the model takes real numbers")
    if x.dtype.kind not in "biuf":
        raise ExportError(f"inputs from {source} must be numbers, got {x.dtype} values")
    bad = ~np.isfinite(x.reshape(len(x), -1)).all(axis=1) if x.ndim and len(x) else np.zeros(0, bool)
    if bad.any():
        raise ExportError(f"inputs from {source}: {int(bad.sum())} of {len(x)} samples hold NaN or infinite values "
                          f"(the first is sample {int(np.argmax(bad))}); remove them, they are bad data")


# --------------------------------------------------------------------------------------------------- preparing
def prepare(model: Any) -> Any:
    """The model hls4ml gets, equal to ``model`` on every input: QIL quantizers folded, a layer named 'input'
    (reserved by hls4ml) renamed, QBatchNormalization given as the BatchNormalization of its quantized parameters
    (hls4ml ignores its po2 quantizers); the model itself when nothing applies."""
    from ..quantizers.qil import QIL, fold_qil

    if any(isinstance(v, QIL) for lay in model.layers for v in vars(lay).values()):
        model = fold_qil(model)
    if any(lay.name == "input" or type(lay).__name__ == "QBatchNormalization" for lay in model.layers):
        model = _rebuild(model)
    return model


def _rebuild(model: Any) -> Any:
    """A functional copy of ``model`` (same weights) with 'input' renamed and QBatchNormalization replaced."""
    from ..graph import rebuild

    def hook(layer, x, walk):
        if type(layer).__name__ != "QBatchNormalization":
            return None  # recreated unchanged, its weights copied
        new = _plain_bn(layer)
        y = new(x)
        new.set_weights(_quantized_bn_weights(layer))
        return y

    return rebuild(model, hook, input_names={"input": "input_1_"})[0]


def _plain_bn(layer: Any) -> Any:
    import tensorflow as tf

    keep = ("axis", "momentum", "epsilon", "center", "scale", "name")
    return tf.keras.layers.BatchNormalization(**{k: v for k, v in layer.get_config().items() if k in keep})


def _quantized_bn_weights(layer: Any) -> list:
    """gamma, beta, mean, variance as QBatchNormalization uses them at inference (each through its quantizer)."""
    out = []
    for wname in ("gamma", "beta", "moving_mean", "moving_variance"):
        w = getattr(layer, wname, None)
        if w is None:
            continue
        qname_ = {"moving_mean": "mean", "moving_variance": "variance"}.get(wname, wname)
        q = getattr(layer, f"{qname_}_quantizer_internal", None)
        out.append(np.asarray(q(w) if q is not None else w, dtype=np.float32))
    return out
