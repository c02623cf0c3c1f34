"""Layer-width search (AutoQKeras's tune_filters: layer): ``space.widths`` factors per layer, the float model rebuilt
at the chosen widths with its strongest units' weights, quantized as usual; the winner exports bit-exactly at its
searched widths (real training, real hls4ml conversion and C simulation, tiny budget)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

from helpers_search import run_cli

from autoq import models
from autoq.config import parse_config
from autoq.errors import ConfigError
from autoq.widths import rebuild, searchable


def _trained(model, x_shape):
    rng = np.random.default_rng(0)
    for w in model.weights:  # distinct unit strengths, deterministic
        w.assign(rng.normal(size=w.shape).astype("float32") * (0.5 if "variance" not in w.name else 0.1) +
                 (1.0 if "variance" in w.name else 0.0))
    return rng.normal(size=(16, *x_shape)).astype("float32")


def test_which_layers_can_change_width():
    assert searchable(models.mlp(64, (16, 8), 10), ["fc1", "fc2", "output"]) == ["fc1", "fc2"]
    assert searchable(models.mlp(64, (16, 8), 10), ["fc1", "fc2"], ["fc2"]) == ["fc1"]
    assert searchable(models.bn_cnn(), ["conv1", "conv2", "output"]) == ["conv1", "conv2"]
    assert searchable(models.small_cnn(), ["conv1", "output"]) == ["conv1"]  # through pooling and a Flatten
    assert searchable(models.two_heads(), ["fc1", "digit_logits", "ink"]) == ["fc1"]


def test_narrower_keeps_the_strongest_units_and_the_next_layers_rows():
    m = models.mlp(64, (16,), 10)
    x = _trained(m, (64,))
    n = rebuild(m, {"fc1": 0.5})
    k = m.get_layer("fc1").kernel.numpy()
    keep = np.sort(np.argsort(-np.abs(k).sum(0))[:8])
    assert n.get_layer("fc1").units == 8 and n.get_layer("output").units == 10
    np.testing.assert_array_equal(n.get_layer("fc1").kernel.numpy(), k[:, keep])
    np.testing.assert_array_equal(n.get_layer("fc1").bias.numpy(), m.get_layer("fc1").bias.numpy()[keep])
    np.testing.assert_array_equal(n.get_layer("output").kernel.numpy(), m.get_layer("output").kernel.numpy()[keep])
    assert n.predict(x, verbose=0).shape == (16, 10)


@pytest.mark.parametrize("builder,layer,consumer", [(models.small_cnn, "conv1", "output"),
                                                     (models.bn_cnn, "conv1", "conv2"),
                                                     (models.bn_cnn, "conv2", "output")])
def test_wider_is_the_same_function_when_the_new_units_are_silenced(builder, layer, consumer):
    """x1.5: every old filter keeps its weights (through pooling, a Flatten, a batch norm); zeroing the rows the
    next layer reads from the new filters gives back the float model's outputs exactly."""
    m = builder()
    x = _trained(m, m.input_shape[1:])
    n = rebuild(m, {layer: 1.5})
    old_f = m.get_layer(layer).filters
    new_f = n.get_layer(layer).filters
    assert new_f == int(old_f * 1.5)
    k = n.get_layer(consumer).kernel.numpy()
    rows = np.arange(k.shape[-2])
    k[..., (rows % new_f) >= old_f, :] = 0.0  # channels last: position-major after a Flatten
    n.get_layer(consumer).kernel.assign(k)
    np.testing.assert_allclose(n.predict(x, verbose=0), m.predict(x, verbose=0), rtol=1e-5, atol=1e-5)


CFG = {
    "name": "widths", "seed": 5,
    "model": {"builder": "autoq.models:mlp", "kwargs": {"input_dim": 64, "hidden": [16, 16], "n_classes": 10}},
    "data": {"source": "digits"},
    "train": {"epochs": 2, "patience": 0, "float_epochs": 5},
    "space": {"input_quantizer": "quantized_bits(8,3,alpha=1)",
              "default": {"kernel": ["quantized_bits({4..8},0,alpha=1)"], "bias": ["quantized_bits(8,3,alpha=1)"],
                          "activation": ["quantized_relu({4..8},2)"]},
              "widths": [0.5, 0.75, 1.5], "widths_exceptions": ["fc2"]},
    "goal": {"cost": "bits"},
    "search": {"algorithm": "random", "max_trials": 3, "output_dir": "out"},
    "hls4ml": {"output_dir": "hls"},
}


def test_width_search_winner_has_its_widths_and_exports_bit_exactly(tmp_path):
    (tmp_path / "w.yaml").write_text(yaml.safe_dump(CFG))
    code, out, err = run_cli("search", "w.yaml", cwd=tmp_path)
    assert code == 0, err[-3000:]
    s = json.loads((tmp_path / "out" / "summary.json").read_text())
    best = s["best"]
    factor = best["hp"]["fc1/width"]
    assert factor in (0.5, 0.75, 1.5) and "fc2/width" not in best["hp"] and "output/width" not in best["hp"]
    assert best["choice"]["fc1"]["width"] == factor
    from autoq.searching.result import load_model
    winner = load_model(tmp_path / "out" / "best_model.h5")
    assert winner.get_layer("fc1").units == int(16 * factor) != 16  # not the float model's width
    assert winner.get_layer("fc2").units == 16 and winner.get_layer("output").units == 10
    recs = [json.loads(p.read_text()) for p in (tmp_path / "out" / "trials").glob("*/record.json")]
    fc1_params = {r["hp"]["fc1/width"]: next(l["params"] for l in r["layers"] if l["name"] == "fc1") for r in recs}
    assert all(p == 64 * int(16 * f) + int(16 * f) for f, p in fc1_params.items())  # the cost follows the width
    import re
    assert re.search(rf"starts: fc1 k\d+ b\d+ a\d+ w{factor:g}, fc2 k", out)  # the trial line: width
    saved = json.loads((tmp_path / "hls" / "autoq_export.json").read_text())
    assert saved["bit_exact"] and saved["max_abs_diff"] == 0.0
    assert f"n_out = {int(16 * factor)}" in (tmp_path / "hls" / "firmware" / "parameters.h").read_text()


@pytest.mark.parametrize("text,message", [
    ("space: {widths: [0.5, 0]}", "space.widths[1]: a width factor is a number above 0 and at most 8, got 0"),
    ("space: {widths: [0.5, wide]}", "space.widths[1]: a width factor is a number above 0 and at most 8, got 'wide'"),
    ("space: {widths: [0.5, 0.5]}", "space.widths: repeated width factors in [0.5, 0.5]"),
    ("space: {widths_exceptions: ['fc[']}", "space.widths_exceptions[0]: invalid regular expression 'fc['"),
    ("space: {widths: [0.5]}\nsearch: {blocks: [{layers: fc1, max_trials: 2}]}",
     "space.widths: the width search runs without search.blocks; drop one of them"),
    ("space: {widths: [0.5, 0.75]}\nsearch: {algorithm: hessian}",
     "space.widths: search.algorithm 'hessian' proposes its first trials at the float model's width: list 1.0"),
])
def test_bad_widths_are_refused(text, message):
    with pytest.raises(ConfigError) as exc:
        parse_config(text)
    assert message in str(exc.value) and "\n" not in str(exc.value)
