"""A searched input quantizer (``space.input_quantizer`` as a list, as HGQ learns its input bits): one hyperparameter,
the first listed the reference (baselines, gradient's candidates; hessian allocates it); the chosen one is trained,
priced, recorded and exported bit-exactly."""
from __future__ import annotations

import csv
import json

import pytest

import autoq
from autoq.config import parse_config
from autoq.errors import ConfigError

from test_strategies import config

INPUTS = ["quantized_bits(16,6,alpha=1)", "quantized_bits({4..8},4,alpha=1)"]


@pytest.mark.parametrize("text, message", [
    ("space: {input_quantizer: []}", "space.input_quantizer: empty list of quantizers; give one, or null for a float"),
    ("space: {input_quantizer: [\"quantized_bits(8,3)\", 8]}",
     "space.input_quantizer[1]: a quantizer must be a string like 'quantized_bits(4,0,alpha=1)', got 8"),
    ("space: {input_quantizer: [\"quantized_bits(8,3)\", \"quantized_bits(8,3)\"]}",
     "space.input_quantizer: repeated quantizers"),
    ("space: {input_quantizer: [\"quantized_relu(4)\", \"quantized_bits(8,3)\"]}", "space.input_quantizer[0]"),
    ("space: {input_quantizer: [\"quantized_bits(8,3)\", \"quantized_bits(6,3)\"]}\n"
     "search: {blocks: [{layers: fc1, max_trials: 2}]}", "a searched input (a list) runs without search.blocks"),
])
def test_bad_input_lists_are_refused(text, message):
    with pytest.raises(ConfigError) as exc:
        parse_config(text)
    assert message in str(exc.value) and "\n" not in str(exc.value), str(exc.value)


def test_a_list_of_one_is_the_fixed_input():
    assert parse_config("space: {input_quantizer: [\"quantized_bits(8,3,alpha=1)\"]}").space.input_quantizer == \
        "quantized_bits(8,3,alpha=1)"


def test_the_input_is_searched_priced_recorded_and_exported(tmp_path):
    cfg = config("pareto", 8)
    cfg["space"]["input_quantizer"] = INPUTS
    cfg["baselines"] = [{"name": "Q6", "kernel": "quantized_bits(6,0,alpha=1)", "bias": "quantized_bits(6,0,alpha=1)",
                         "activation": "quantized_relu(6)"}]
    out = tmp_path / "out"
    res = autoq.search(config=cfg, output_dir=out, log=lambda *a, **k: None)
    assert all(r["status"] == "ok" for r in res.trials)
    inputs = [r["choice"]["<input>"]["quantizer"] for r in res.trials]
    assert set(inputs) <= {"quantized_bits(16,6,alpha=1)"} | {f"quantized_bits({b},4,alpha=1)" for b in range(4, 9)}
    assert len(set(inputs)) >= 2, inputs  # searched, not fixed
    for r in res.trials:  # priced with the chosen input: the first layer's inputs have its bits
        bits = int(r["choice"]["<input>"]["quantizer"].split("(")[1].split(",")[0])
        assert r["layers"][0]["name"] == "input_quant" and r["layers"][0]["output_bits"] == bits
        assert r["layers"][1]["input_bits"] == bits, r["layers"][1]
    with open(out / "trials.csv") as f:
        rows = list(csv.DictReader(f))
    assert [row["<input>.quantizer"] for row in rows] == inputs
    summary = json.loads((out / "summary.json").read_text())
    assert summary["baselines"]["Q6"]["input_quantizer"] == INPUTS[0]  # the reference input

    best = res.best
    exported = autoq.export(out, str(tmp_path / "hls"), trial=best["trial"], force=True)
    assert exported.bit_exact and exported.max_abs_diff == 0
    bits, integer = (int(v) for v in best["choice"]["<input>"]["quantizer"].split("(")[1].split(",")[:2])
    saved = json.loads((tmp_path / "hls" / "autoq_export.json").read_text())
    assert saved["input_precision"].startswith(f"fixed<{bits},{integer + 1},")  # the chosen input, in firmware


@pytest.mark.parametrize("algorithm", ["hessian", "gradient"])
def test_strategy_candidates_and_the_input(algorithm, tmp_path):
    """gradient makes its candidates with the first input; hessian allocates the input's bits with the first
    layer's, so its candidates carry their own input quantizer, and the trials made from them use it."""
    cfg = config(algorithm, 4)
    cfg["space"]["input_quantizer"] = INPUTS
    res = autoq.search(config=cfg, output_dir=tmp_path / "out", log=lambda *a, **k: None)
    cands = json.loads((tmp_path / "out" / "strategy" / f"tuner-{algorithm}.json").read_text())
    got = [r["choice"]["<input>"]["quantizer"] for r in res.trials[:len(cands)]]
    if algorithm == "gradient":
        assert got == [INPUTS[0]] * len(got)
    else:
        assert got == [c["choice"]["<input>"]["quantizer"] for c in cands][:len(got)]
