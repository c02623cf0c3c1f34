"""Multi-output models: digits with two heads (softmax digit class + linear mean-ink regression), a loss per output,
``goal.head`` naming the output that scores (AutoQKeras's head_name), the winner exported with every output checked
bit-exactly in the C simulation (real training and hls4ml conversion at a tiny budget)."""
from __future__ import annotations

import csv
import json

import pytest
import yaml

from helpers_search import run_cli

from autoq.config import parse_config
from autoq.errors import ConfigError

CFG = {
    "name": "heads", "seed": 3,
    "model": {"builder": "autoq.models:two_heads", "kwargs": {"hidden": [16]}},
    "data": {"source": "digits-heads"},
    "train": {"epochs": 2, "patience": 0, "float_epochs": 8,
              "loss": {"digit": "categorical_crossentropy", "ink": "mse"}},
    "space": {"input_quantizer": "quantized_bits(8,3,alpha=1)",
              "default": {"kernel": ["quantized_bits({4..8},0,alpha=1)"], "bias": ["quantized_bits(8,3,alpha=1)"],
                          "activation": ["quantized_relu({4..8},2)"]}},
    "search": {"algorithm": "random", "max_trials": 2, "output_dir": "out"},
}


def _search(folder, cfg) -> tuple:
    (folder / "c.yaml").write_text(yaml.safe_dump(cfg))
    return run_cli("search", "c.yaml", cwd=folder)


def test_two_head_search_scores_the_head_and_exports_both_outputs_bit_exactly(tmp_path):
    cfg = dict(CFG, goal={"head": "digit", "cost": "bits"}, hls4ml={"output_dir": "hls"})
    code, out, err = _search(tmp_path, cfg)
    assert code == 0, err[-3000:]
    s = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert s["head"] == "digit" and s["metric"] == "accuracy" and s["goal"]["head"] == "digit"
    assert 0.5 < s["best"]["val_metric"] <= 1 and s["float_val_metric"] > 0.7
    losses = s["best"]["val_output_losses"]
    assert set(losses) == {"digit", "ink"} and abs(sum(losses.values()) - s["best"]["val_loss"]) < 1e-9
    rows = list(csv.DictReader((tmp_path / "out" / "trials.csv").open()))
    assert len(rows) == 2 and all("[scored on output digit]" in r["dataset"] for r in rows)
    assert {"fc1.kernel", "digit_logits.kernel", "ink.kernel"} <= set(rows[0])  # both heads quantized
    assert "outputs digit (10 classes), ink (regression)" in out
    saved = json.loads((tmp_path / "hls" / "autoq_export.json").read_text())
    assert saved["bit_exact"] and saved["max_abs_diff"] == 0.0
    assert saved["compared_layer"] == "digit_logits+ink" and saved["softmax_agreement"] is not None
    assert saved["layer_max_abs_diff"]["ink"] == 0.0 and saved["layer_max_abs_diff"]["digit_logits"] == 0.0


def test_the_regression_head_can_score(tmp_path):
    cfg = dict(CFG, goal={"head": "ink"}, data={"source": "digits-heads", "task": "regression"},
               train=dict(CFG["train"], float_epochs=3, epochs=1))
    code, out, err = _search(tmp_path, cfg)
    assert code == 0, err[-3000:]
    s = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert s["head"] == "ink" and s["metric"] == "mse" and s["direction"] == "min"
    assert s["best"]["val_metric"] > 0 and s["best"]["score"] < 0


@pytest.mark.parametrize("over,message", [
    ({"goal": {"head": "nose"}}, "goal.head: 'nose' is not an output of the model; its outputs: digit, ink"),
    ({"train": dict(CFG["train"], loss={"digit": "categorical_crossentropy"})},
     "train.loss: has no loss for output 'ink'; the model's outputs: digit, ink"),
    ({"data": {"source": "digits"}}, "the model 'two_heads' has 2 outputs (digit, ink) but the dataset "
                                     "'digits' gives one target"),
    ({"search": dict(CFG["search"], algorithm="gradient")},
     "search.algorithm: search.algorithm 'gradient' learns its first trials from one target; the model 'two_heads' "
     "has several outputs"),
])
def test_multi_output_mistakes_are_one_error_line(tmp_path, over, message):
    code, out, err = _search(tmp_path, {**CFG, **over})
    assert code == 2 and err.strip().splitlines() == [err.strip().splitlines()[0]]
    assert err.startswith("error: ") and message in err, err


def test_bad_loss_mapping_is_refused():
    with pytest.raises(ConfigError, match=r"train.loss: expected a Keras loss name, or a mapping output name -> loss "
                                          r"name, got \{'digit': 3\}"):
        parse_config("train: {loss: {digit: 3}}")
