"""The search refuses before training what the export cannot build (issue 21): the layers users bring, each either
searched and exported bit-exactly (UpSampling1D/2D in io_parallel and io_stream, a float sigmoid head checked on its
logits) or refused with its reason before the float model trains (Conv2DTranspose, LeakyReLU, po2 with max_value,
a float tanh inside the model, a Dense left float); ``hls4ml: false`` searches the whole QKeras vocabulary and every output says the
result is not exportable; an approximated head that disagrees with Keras warns. Real CLI, tiny models and budgets."""
from __future__ import annotations

import json

import numpy as np
import pytest
import tensorflow as tf
import yaml

from helpers_search import run_cli

L = tf.keras.layers
QUANT = {"input_quantizer": "quantized_bits(8,3,alpha=1)",
         "default": {"kernel": ["quantized_bits(4,0,alpha=1)", "quantized_bits(6,0,alpha=1)"],
                     "bias": ["quantized_bits(8,3,alpha=1)"], "activation": ["quantized_relu(4,2)"]}}
BASE = {"name": "p", "seed": 1, "model": {"path": "m.h5", "train": True}, "data": {"source": "digits"},
        "train": {"epochs": 1, "patience": 0, "float_epochs": 1, "batch_size": 64},
        "space": QUANT, "search": {"algorithm": "random", "max_trials": 1, "output_dir": "out"}}
TRAINING = ("training the float model", "float model:", "[autoq] trial", "starts:")


def _model(shape, *layers):
    inp = tf.keras.Input(shape, name="x")
    h = inp
    for lay in layers:
        h = lay(h)
    return tf.keras.Model(inp, h)


def _search(folder, model, **over):
    model.save(folder / "m.h5")
    cfg = {**BASE, **over}
    (folder / "c.yaml").write_text(yaml.safe_dump(cfg))
    return run_cli("search", "c.yaml", cwd=folder)


def _refused(code, out, err, *words):
    assert code == 2, err[-2000:]
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for w in words:
        assert w in lines[0], lines[0]
    assert not any(t in out for t in TRAINING), out  # refused before anything trained
    return lines[0]


def _conv2d(n, act=None, name=None):
    return L.Conv2D(n, 3, padding="same", activation=act, name=name)


REFUSED = {
    "conv2d_transpose_left_float": (
        lambda: _model((64,), L.Reshape((8, 8, 1)), _conv2d(2, "relu", "c1"),
                       L.Conv2DTranspose(1, 3, strides=2, padding="same", name="tconv"), L.Flatten(),
                       L.Dense(10, activation="softmax", name="out")),
        {"space": {**QUANT, "allow_float": True}}, ("'tconv'", "Conv2DTranspose", "no Conv2DTranspose handler")),
    "leaky_relu_left_float": (
        lambda: _model((64,), L.Dense(8, name="fc1"), L.LeakyReLU(name="leaky"),
                       L.Dense(10, activation="softmax", name="out")),
        {"space": {**QUANT, "allow_float": True}}, ("'leaky'", "LeakyReLU", "negative_slope")),
    "float_tanh_inside": (
        lambda: _model((64,), L.Dense(8, activation="tanh", name="fc1"), L.Dense(10, activation="softmax",
                                                                               name="out")),
        {}, ("'fc1'", "float tanh", "lookup table")),
    "skipped_float_dense": (
        lambda: _model((64,), L.Dense(8, activation="relu", name="fc1"), L.Dense(10, activation="softmax",
                                                                               name="out")),
        {"space": {**QUANT, "skip": ["fc1"]}}, ("'fc1' (Dense) would stay float", "hls4ml: false")),
    "po2_with_max_value": (
        lambda: _model((64,), L.Dense(8, activation="relu", name="fc1"), L.Dense(10, activation="softmax",
                                                                               name="out")),
        {"space": {**QUANT, "default": {**QUANT["default"], "kernel": ["quantized_po2(4,1)"]}}},
        ("c.yaml:", "space.default.kernel[0]", "quantized_po2(4,1)", "max_value=1", "hls4ml: false")),
}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_what_the_export_cannot_build_is_refused_before_training(name, tmp_path):
    build, over, words = REFUSED[name]
    code, out, err = _search(tmp_path, build(), **over)
    _refused(code, out, err, *words)
    assert not (tmp_path / "out" / "float_model.h5").exists()


def test_upsampling2d_autoencoder_searched_and_exported_bit_exactly_in_both_io_types(tmp_path):
    model = _model((64,), L.Reshape((8, 8, 1), name="img"), _conv2d(4, "relu", "enc"), L.MaxPooling2D(2, name="pool"),
                   L.UpSampling2D(2, name="up"), _conv2d(1, None, "dec"), L.Flatten(name="flat"))
    code, out, err = _search(tmp_path, model, data={"source": "digits", "task": "autoencoder"},
                             hls4ml={"output_dir": "hls", "io_type": "io_parallel"})
    assert code == 0, err[-3000:]
    saved = json.loads((tmp_path / "hls" / "autoq_export.json").read_text())
    assert saved["bit_exact"] and saved["max_abs_diff"] == 0.0 and saved["n_samples"] > 100
    code, out, err = run_cli("export", "out", "--output", "hls_stream", "--io-type", "io_stream", cwd=tmp_path)
    assert code == 0, err[-3000:]
    saved = json.loads((tmp_path / "hls_stream" / "autoq_export.json").read_text())
    assert saved["bit_exact"] and saved["max_abs_diff"] == 0.0 and "up" in saved["layer_precisions"]


def test_conv1d_upsampling1d_searched_and_exported_bit_exactly_io_stream(tmp_path):
    model = _model((64,), L.Reshape((64, 1), name="seq"), L.Conv1D(2, 3, padding="same", activation="relu",
                                                                   name="c1"),
                   L.MaxPooling1D(4, name="pool"), L.UpSampling1D(2, name="up"), L.Flatten(name="flat"),
                   L.Dense(10, activation="softmax", name="out"))
    code, out, err = _search(tmp_path, model, hls4ml={"output_dir": "hls", "io_type": "io_stream"})
    assert code == 0, err[-3000:]
    saved = json.loads((tmp_path / "hls" / "autoq_export.json").read_text())
    assert saved["bit_exact"] and saved["max_abs_diff"] == 0.0 and "up" in saved["layer_precisions"]


def test_sigmoid_binary_classifier_checked_on_its_logits(tmp_path):
    from sklearn.datasets import load_breast_cancer
    x, y = load_breast_cancer(return_X_y=True)
    np.savez(tmp_path / "bc.npz", x=x.astype("float32"), y=y.reshape(-1, 1).astype("float32"))
    model = _model((30,), L.Dense(8, activation="relu", name="fc1"), L.Dense(1, activation="sigmoid", name="out"))
    code, out, err = _search(tmp_path, model, data={"source": "npz", "path": "bc.npz", "task": "regression"},
                             train={**BASE["train"], "loss": "binary_crossentropy"},
                             goal={"metric": "binary_accuracy"}, hls4ml={"output_dir": "hls"})
    assert code == 0, err[-3000:]
    saved = json.loads((tmp_path / "hls" / "autoq_export.json").read_text())
    assert saved["bit_exact"] and saved["max_abs_diff"] == 0.0
    assert saved["head_activation"] == "sigmoid" and saved["compared_layer"] == "out"
    assert 0.9 <= saved["softmax_agreement"] <= 1.0  # the decision at 0.5 through hls4ml's sigmoid table
    assert "final sigmoid (hls4ml's lookup-table approximation" in (tmp_path / "hls" / "report.md").read_text()


def test_hls4ml_false_searches_the_whole_vocabulary_and_says_not_exportable(tmp_path):
    model = _model((64,), L.Dense(8, name="fc1"), L.LeakyReLU(name="leaky"),
                   L.Dense(10, activation="softmax", name="out"))
    space = {**QUANT, "allow_float": True, "default": {**QUANT["default"], "bias": ["quantized_po2(4,8)"],
                                                       "kernel": ["quantized_po2(4,1)"]}}
    code, out, err = _search(tmp_path, model, space=space, hls4ml=False)
    assert code == 0, err[-3000:]
    assert "NOT exportable" in out and "layers left float: leaky" in out
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["exportable"] is False and summary["config"]["hls4ml"] is False
    rec = json.loads((tmp_path / "out" / "trials" / "0" / "record.json").read_text())
    leaky = [r for r in rec["layers"] if r["name"] == "leaky"]
    assert leaky and leaky[0]["energy"] > 0  # a float layer is listed and priced, not 0 pJ
    code, shown, err = run_cli("show", "out", cwd=tmp_path)
    assert code == 0 and "NOT exportable" in shown
    code, _, err = run_cli("export", "out", "--output", "hls", cwd=tmp_path)
    assert code == 2 and "hls4ml: false" in err and "--allow-mismatch" in err
    assert not (tmp_path / "hls").exists()


def test_an_approximated_head_below_99_percent_warns_with_the_remedy(tmp_path):
    """Logits of exactly 1/128: Keras' sigmoid says > 0.5, hls4ml's 1024-entry table (steps of 1/64) says 0.5, so half
    the decisions differ while the logits stay bit-exact."""
    from qkeras import QActivation, QDense, quantized_bits
    inp = tf.keras.Input((1,), name="x")
    h = QActivation(quantized_bits(2, 1, alpha=1), name="iq")(inp)
    h = QDense(1, kernel_quantizer=quantized_bits(8, 0, alpha=1), bias_quantizer=quantized_bits(8, 0, alpha=1),
               name="logit")(h)
    out = L.Activation("sigmoid", name="prob")(h)
    model = tf.keras.Model(inp, out)
    model.get_layer("logit").set_weights([np.full((1, 1), 1 / 128, "float32"), np.zeros(1, "float32")])
    model.save(tmp_path / "q.h5")
    np.savez(tmp_path / "x.npz", x=np.repeat([[0.0], [1.0]], 50, axis=0).astype("float32"))
    code, out, err = run_cli("export", "q.h5", "--data", "x.npz", "--output", "hls", cwd=tmp_path)
    assert code == 0, err[-3000:]
    warning = [ln for ln in err.splitlines() if ln.startswith("WARNING: the final sigmoid")]
    assert warning and "50.0%" in warning[0] and "--hls-config" in warning[0] and "logits" in warning[0]
    saved = json.loads((tmp_path / "hls" / "autoq_export.json").read_text())
    assert saved["bit_exact"] and saved["softmax_agreement"] == 0.5 and saved["warnings"]
    assert "WARNING: the final sigmoid" in (tmp_path / "hls" / "report.md").read_text()
    assert json.loads((tmp_path / "hls" / "report.json").read_text())["check"]["warnings"] == saved["warnings"]
