"""Quantized model construction per layer and the cost functions on hand-computed examples."""
import dataclasses
import math

import numpy as np
import pytest

from autoq.errors import ConfigError
import tensorflow as tf

from autoq import cost, models, space
from autoq.config import parse_config
from autoq.errors import SpaceError

SPACE = """
space:
  input_quantizer: "quantized_bits(8,3,alpha=1)"
  default:
    kernel: ["quantized_bits({2..8},0,alpha=1)", "ternary(alpha=1)"]
    bias: ["quantized_bits(8,3,alpha=1)"]
    activation: ["quantized_relu({3..8},2)"]
"""


def two_layer():
    inp = tf.keras.Input((4,), name="x")
    h = tf.keras.layers.Dense(3, activation="relu", name="fc1")(inp)
    out = tf.keras.layers.Dense(2, activation="softmax", name="out")(h)
    return tf.keras.Model(inp, out)


def test_analyse_finds_slots_and_groups():
    m = models.mlp(64, (16, 8), 10)
    cfg = parse_config(SPACE + "  groups:\n    hidden: \"fc[12]\"\n  layers:\n    output: {kernel: [\"ternary()\"]}\n")
    sp = space.analyse(m, cfg.space)
    assert [s.layer for s in sp.slots] == ["fc1", "fc2", "output"]
    assert set(sp.slots[2].roles) == {"kernel", "bias"}  # linear output: no activation quantizer
    assert sp.slots[2].roles["kernel"] == ["ternary()"]  # name regex overrides the default
    choices = sp.hp_choices()
    assert set(choices) == {"hidden/kernel", "hidden/bias", "hidden/activation", "output/kernel", "output/bias"}
    assert sp.size() == 8 * 1 * 6 * 1 * 1


def test_build_qmodel_per_layer_quantizers_and_weights():
    m = two_layer()
    sp = space.analyse(m, parse_config(SPACE).space)
    choice = {"fc1": {"kernel": "quantized_bits(4,0,alpha=1)", "bias": "quantized_bits(8,3,alpha=1)",
                      "activation": "quantized_relu(3,2)"},
              "out": {"kernel": "ternary(alpha=1)", "bias": "quantized_bits(8,3,alpha=1)"}}
    q = space.build_qmodel(m, choice, sp.input_quantizer)
    names = [l.name for l in q.layers]
    assert names == ["x", "input_quant", "fc1", "fc1_relu", "out", "out_softmax"]
    fc1 = q.get_layer("fc1")
    assert type(fc1).__name__ == "QDense" and str(fc1.kernel_quantizer_internal).startswith("quantized_bits(4,0")
    assert type(q.get_layer("out").kernel_quantizer_internal).__name__ == "ternary"
    np.testing.assert_array_equal(fc1.kernel.numpy(), m.get_layer("fc1").kernel.numpy())  # float start point
    # the quantized kernel takes only 4-bit values in [-1, 1)
    qk = fc1.kernel_quantizer_internal(fc1.kernel).numpy()
    assert np.allclose(qk * 8, np.round(qk * 8)) and qk.min() >= -1 and qk.max() < 1
    # the activation output is on the quantized_relu(3,2) grid: multiples of 0.5 in [0, 3.5]
    x = np.random.default_rng(0).normal(size=(32, 4)).astype("float32") * 3
    act = tf.keras.Model(q.input, q.get_layer("fc1_relu").output)(x).numpy()
    assert np.allclose(act * 2, np.round(act * 2)) and act.min() >= 0 and act.max() <= 3.5
    assert np.allclose(q(x).numpy().sum(1), 1, atol=1e-5)  # softmax head kept


def test_sequential_model_and_unsupported_layer():
    seq = tf.keras.Sequential([tf.keras.layers.Dense(8, activation="relu", input_shape=(4,), name="d1"),
                               tf.keras.layers.BatchNormalization(name="bn"),
                               tf.keras.layers.Dense(3, activation="softmax", name="d2")])
    cfg = parse_config(SPACE)
    with pytest.raises(SpaceError, match=r"cannot quantize these layers: bn \(BatchNormalization\)"):
        space.analyse(seq, cfg.space)
    with pytest.raises(SpaceError, match=r"'bn' \(BatchNormalization\) would stay float.*hls4ml: false"):
        space.analyse(seq, dataclasses.replace(cfg.space, allow_float=True))  # the export could not reproduce it
    cfg.space.allow_float = True
    sp = space.analyse(seq, cfg.space, exact=False)
    assert sp.float_layers == ["bn"]
    q = space.build_qmodel(seq, sp.uniform(), sp.input_quantizer)
    assert [l.name for l in q.layers][1:] == ["input_quant", "d1", "d1_relu", "bn", "d2", "d2_softmax"]


def test_regex_matching_no_layer_is_an_error():
    cfg = parse_config(SPACE + "  layers:\n    conv9: {kernel: [\"ternary()\"]}\n")
    with pytest.raises(SpaceError, match="regex 'conv9' matches no layer; layers: x, fc1, out"):
        space.analyse(two_layer(), cfg.space)


def test_bits_and_bops_match_the_formula():
    """bits = sum(#w * w_bits + #b * b_bits); BOPs = sum(MACs * w_bits * input_bits), computed by hand."""
    m = two_layer()
    choice = {"fc1": {"kernel": "quantized_bits(4,0,alpha=1)", "bias": "quantized_bits(6,2,alpha=1)",
                      "activation": "quantized_relu(3,2)"},
              "out": {"kernel": "ternary(alpha=1)", "bias": "quantized_bits(8,3,alpha=1)"}}
    q = space.build_qmodel(m, choice, "quantized_bits(8,3,alpha=1)")
    c = cost.model_cost(q)
    # fc1: 4x3 kernel at 4 bits + 3 biases at 6 bits; out: 3x2 ternary (2 bits) + 2 biases at 8 bits
    assert c.bits == 12 * 4 + 3 * 6 + 6 * 2 + 2 * 8 == 94
    # fc1: 12 MACs x 4-bit weights x 8-bit inputs; out: 6 MACs x 2-bit weights x 3-bit activations
    assert c.bops == 12 * 4 * 8 + 6 * 2 * 3 == 420
    rows = {r.name: r for r in c.layers}
    assert rows["fc1"].input_bits == 8 and rows["out"].input_bits == 3
    assert c.energy > 0 and sum(r.energy for r in c.layers) == pytest.approx(c.energy, rel=1e-9)
    assert rows["out_softmax"].energy > 0  # the float head is priced too


def test_energy_falls_with_bits():
    m = models.jet_tagger()
    sp = space.analyse(m, parse_config(SPACE).space)
    e = [cost.model_cost(space.build_qmodel(m, sp.uniform(f"quantized_bits({b},0,alpha=1)", None,
                                                             f"quantized_relu({b},2)"), sp.input_quantizer,
                                           copy_weights=False)).energy for b in (8, 6, 4, 2)]
    assert e == sorted(e, reverse=True) and e[0] > 2 * e[-1]


def test_energy_follows_the_goal_parameters():
    """AutoQKeras's energy goal parameters reach QTools: weights and activations read from DRAM cost more than
    from fixed memory (registers), and the score of a loss turns so that lower is better."""
    m = models.jet_tagger()
    sp = space.analyse(m, parse_config(SPACE).space)
    q = space.build_qmodel(m, sp.uniform("quantized_bits(6,0,alpha=1)", None, "quantized_relu(6,2)"),
                           sp.input_quantizer, copy_weights=False)
    fixed = cost.model_cost(q).energy
    dram = cost.model_cost(q, energy=cost.EnergySettings(weights_on_memory="dram", activations_on_memory="dram",
                                                         min_sram_size=0, rd_wr_on_io=True)).energy
    assert dram > 2 * fixed
    g = parse_config("goal: {weights_on_memory: sram, stress: 0.5}").goal
    assert cost.EnergySettings.of(g).weights_on_memory == "sram" and g.stress == 0.5
    for text, key in (("goal: {weights_on_memory: disk}", "goal.weights_on_memory"),
                      ("goal: {process: tsmc7}", "goal.process"), ("goal: {stress: 0}", "goal.stress")):
        with pytest.raises(ConfigError, match=key):
            parse_config(text)
    # errors: a cheaper model with the same error scores higher, and scores stay comparable
    assert cost.score(0.2, 100, 400, maximise=False) > cost.score(0.2, 400, 400, maximise=False) == -0.2


def test_forgiving_factor_score():
    # twice cheaper than the reference at rate 2 earns delta_p percent per halving
    assert cost.score(0.9, 100, 400, delta_p=8, delta_n=8, rate=2) == pytest.approx(0.9 * 1.16)
    assert cost.score(0.9, 400, 400) == pytest.approx(0.9)
    # costlier than the reference uses delta_n
    assert cost.score(0.9, 800, 400, delta_p=8, delta_n=5, rate=2) == pytest.approx(0.9 * 0.95)
    assert cost.forgiving_factor(10, 1000, 8, 8, rate=10) == pytest.approx(1 + 0.08 * math.log(100) / math.log(10))
    with pytest.raises(ValueError):
        cost.forgiving_factor(0, 10)


def test_bare_qil_spec_is_read_in_its_slot():
    """`qil(3)` means a weight quantizer on a kernel and an activation quantizer on an activation."""
    q = space.build_qmodel(two_layer(), {"fc1": {"kernel": "qil(3)", "bias": "quantized_bits(8,3,alpha=1)",
                                                 "activation": "qil(3)"}}, None)
    assert q.get_layer("fc1").kernel_quantizer_internal.kind == "weight"
    assert q.get_layer("fc1_relu").quantizer.kind == "activation"
