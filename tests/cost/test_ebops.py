"""Exact effective BOPs (autoq.cost.ebops): hand-computed cases, hgq's own count, and goal.cost: ebops in a search."""
from __future__ import annotations

import csv
import importlib.util
import json

import autoq  # noqa: F401  (settles tf.keras first)
import numpy as np
import pytest
import tensorflow as tf
from qkeras import QActivation, QConv2D, QDense, quantized_bits, quantized_relu

from autoq.cost.ebops import bit_span, ebops, layer_ebops
from helpers_search import run_cli, write_config


def test_bit_span_counts_highest_to_lowest_set_bit():
    # 0 -> 0; 0.75 = 0.11b -> 2; -0.5 -> 1 (sign not counted); 1.25 = 1.01b -> 3; 3 = 11b -> 2; 5.5 = 101.1b -> 4
    assert bit_span([0, 0.75, -0.5, 1.25, 3, 5.5, 2.0 ** -20]).tolist() == [0, 2, 1, 3, 2, 4, 1]


def _dense_2x2():
    inp = tf.keras.Input((2,))
    h = QActivation(quantized_bits(6, 2, 1, alpha=1), name="q_in")(inp)  # f = 6 - 2 - 1 = 3
    h = QDense(2, kernel_quantizer=quantized_bits(5, 2, 1, alpha=1), bias_quantizer=quantized_bits(5, 2, 1, alpha=1),
               activation=quantized_relu(4, 1), name="d1")(h)  # relu output: f = 4 - 1 = 3
    out = QDense(1, kernel_quantizer=quantized_bits(5, 2, 1, alpha=1), name="d2", use_bias=False)(h)
    model = tf.keras.Model(inp, out)
    model.get_layer("d1").set_weights([np.array([[0.75, 0.0], [-0.5, 1.25]]), np.zeros(2)])
    model.get_layer("d2").set_weights([np.array([[3.0], [0.25]])])
    return model


def test_hand_computed_2x2_dense():
    model = _dense_2x2()
    x = np.array([[0.0, -2.0], [1.5, 0.5], [0.25, 0.0]], np.float32)
    rows = {r.name: r for r in layer_ebops(model, x)}
    # d1's inputs: column 0 spans [0, 1.5] -> unsigned, ceil(log2(1.5 + 2^-3)) = 1 integer bit + 3 = 4 bits;
    # column 1 spans [-2, 0.5] -> sign + ceil(log2 2) = 1 + 3 = 5 bits. Weight spans [[2, 0], [1, 3]].
    assert rows["d1"].ebops == 4 * (2 + 0) + 5 * (1 + 3) == 28
    assert rows["d1"].zero_weights == 1
    # d1's outputs (relu, f = 3): unit 0 = relu(0.75 x0 - 0.5 x1) over x: 1.0, 0.875, 0.1875 -> max 1.0:
    # ceil(log2(1 + 1/8)) = 1 -> 4 bits; unit 1 = relu(1.25 x1): 0, 0.625, 0 -> 0 integer bits -> 3 bits.
    # d2's weight spans: 3 = 11b -> 2, 0.25 -> 1.
    assert rows["d2"].ebops == 4 * 2 + 3 * 1 == 11
    assert ebops(model, x) == 39


def test_conv_counts_one_kernel_instance_per_output_pixel():
    inp = tf.keras.Input((3, 3, 1))
    h = QActivation(quantized_relu(4, 2), name="q_in")(inp)  # f = 2
    out = QConv2D(1, (2, 2), kernel_quantizer=quantized_bits(4, 1, 1, alpha=1), use_bias=False, name="c")(h)
    model = tf.keras.Model(inp, out)
    model.get_layer("c").set_weights([np.array([0.5, 0.75, 0.0, 1.5]).reshape(2, 2, 1, 1)])  # spans 1, 2, 0, 2
    x = np.full((2, 3, 3, 1), 1.0, np.float32)  # every pixel 1.0: 1 integer bit + 2 = 3 bits
    # each of the 4 output pixels: 3 x (1 + 2 + 0 + 2) = 15; hgq divides the sum by the pixel count: 15
    assert ebops(model, x) == 15


@pytest.mark.skipif(importlib.util.find_spec("HGQ") is None,
                    reason="hgq is not installed on this stack (it is on the Python 3.11 / TF 2.14 one)")
def test_equals_hgq_own_count():
    from HGQ import trace_minmax
    from HGQ.layers import HConv2D, HDense, HQuantize, PFlatten, PMaxPooling2D

    tf.keras.utils.set_random_seed(0)
    x = (np.random.rand(256, 6, 6, 1) * 3 - 1).astype(np.float32)
    y = tf.keras.utils.to_categorical(np.random.randint(0, 3, 256), 3)
    model = tf.keras.Sequential([
        HQuantize(beta=1e-5, input_shape=(6, 6, 1)), HConv2D(3, (3, 3), activation="relu", beta=1e-5),
        PMaxPooling2D((2, 2)), PFlatten(), HDense(8, activation="relu", beta=1e-5), HDense(3, beta=1e-5)])
    model.compile("adam", tf.keras.losses.CategoricalCrossentropy(from_logits=True))
    model.fit(x, y, epochs=3, verbose=0)  # bits move off their start values
    theirs = trace_minmax(model, x, verbose=False)
    assert theirs > 0
    assert ebops(model, x) == pytest.approx(float(theirs), abs=1e-6)


def test_search_with_ebops_cost_writes_the_column(tmp_path):
    cfg = write_config(tmp_path, goal={"cost": "ebops"}, search={"algorithm": "random", "max_trials": 2,
                                                                "output_dir": "out"},
                       baselines=[{"name": "q4", "kernel": "quantized_bits(4,0,alpha=1)",
                                   "bias": "quantized_bits(8,2,alpha=1)", "activation": "quantized_relu(4,2)"}])
    code, out, err = run_cli("search", str(cfg), cwd=tmp_path)
    assert code == 0, err
    rows = list(csv.DictReader(l for l in (tmp_path / "out" / "trials.csv").open() if not l.startswith("#")))
    assert rows and all(float(r["ebops"]) > 0 for r in rows if r["status"] == "ok")
    front = list(csv.DictReader(l for l in (tmp_path / "out" / "pareto.csv").open() if not l.startswith("#")))
    assert front and all(r["front_cost"] == "ebops" and float(r["ebops"]) > 0 for r in front)
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["cost"] == "ebops" and summary["best"]["ebops"] > 0
    ref, q4 = summary["reference_cost"], summary["baselines"]["q4"]["ebops"]
    assert summary["baselines"]["float"]["ebops"] == ref and 0 < q4 < ref  # 4-bit weights use fewer bits than 16
    assert "EBOPs" in out
