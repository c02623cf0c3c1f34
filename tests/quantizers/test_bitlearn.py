"""Learned-bit quantization (autoq.bitlearn): the quantizer on hand-computed points, exact folding into QKeras,
and a short run on digits."""
import math

import numpy as np
import pytest
import tensorflow as tf

from helpers_models import bn_mlp, conv_net

from autoq import cost, space
from autoq.quantizers import learned as bitlearn
from autoq.config import parse_config

LN2 = math.log(2.0)
SPACE = """
space:
  input_quantizer: "quantized_bits(8,3,alpha=1)"
  default:
    kernel: ["quantized_bits({2..8},0,alpha=1)"]
    bias: ["quantized_bits({2..8},0,alpha=1)"]
    activation: ["quantized_relu({2..8},2)"]
"""


def grads(q, x):
    x = tf.Variable(x, dtype=tf.float32)
    with tf.GradientTape() as tape:
        y = q(x)
        s = tf.reduce_sum(y)
    gx, gf = tape.gradient(s, [x, q.f])
    return y.numpy(), gx.numpy(), float(gf)


def test_signed_quantizer_forward_backward_by_hand():
    import qkeras
    q = bitlearn.LearnedBits(True, f_init=2.3, integer=0)  # F = 2, b = 3: step 1/4, range [-1, 3/4]
    x = np.array([0.125, 0.375, 0.3, -2.0, 0.9], np.float32)
    y, gx, gf = grads(q, x)
    np.testing.assert_array_equal(y, [0.0, 0.5, 0.25, -1.0, 0.75])  # 0.5 and 1.5 round half to even
    np.testing.assert_array_equal(y, qkeras.quantized_bits(3, 0, alpha=1)(x).numpy())
    np.testing.assert_array_equal(gx, np.ones(5))  # straight through, as QKeras
    # HGQ surrogate dxq/df = -ln2 (xq - x) on the unclipped points: -ln2 (0.125 - 0.125 - 0.05)
    assert gf == pytest.approx(0.05 * LN2, rel=1e-5)
    assert float(q.bits()) == 3.0 and q.spec() == "quantized_bits(3,0,alpha=1)"


def test_relu_quantizer_forward_backward_by_hand():
    import qkeras
    q = bitlearn.LearnedBits(False, f_init=2.0, integer=1)  # quantized_relu(3,1): step 1/4, max 7/4
    x = np.array([-0.5, 0.125, 0.375, 1.3, 5.0], np.float32)
    y, gx, gf = grads(q, x)
    np.testing.assert_array_equal(y, [0.0, 0.0, 0.5, 1.25, 1.75])
    np.testing.assert_array_equal(y, qkeras.quantized_relu(3, 1)(x).numpy())
    np.testing.assert_array_equal(gx, [0, 1, 1, 1, 0])  # QKeras's: 1 on (0, max]
    assert gf == pytest.approx(-LN2 * (-0.125 + 0.125 - 0.05), rel=1e-5)
    assert q.spec() == "quantized_relu(3,1)"


def test_bits_clamped_and_integer_from_range():
    q = bitlearn.LearnedBits(True, f_init=30.0, bits_range=(2, 6))
    q.project(np.array([-2.5, 1.0]))  # max |x| 2.5 -> 2 integer bits; f into [2-1-2, 6-1-2]
    assert float(q.i) == 2.0 and float(q.f) == 3.0 and float(q.bits()) == 6.0
    q.f.assign(-7.0)
    assert float(q.bits()) == 2.0  # the forward pass clamps too


def mlp():
    return bn_mlp(3)


def test_fold_is_exact_after_training():
    m = mlp()
    m.get_layer("bn").set_weights([np.full(8, 1.5), np.full(8, 0.1), np.full(8, 0.2), np.full(8, 2.0)])
    sp = space.analyse(m, parse_config(SPACE).space)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 8)).astype("float32") * 2
    y = tf.keras.utils.to_categorical(rng.integers(0, 3, 256), 3)
    res = bitlearn.learn(m, sp, x, y, betas=[3.0], epochs=3, batch_size=32, learning_rate=1e-2,
                         bits_learning_rate=0.2)
    r = res[0]
    assert any(b < 8 for roles in r.bits.values() for b, _ in roles.values())  # bits moved
    learned = bitlearn.restore(m, sp, r)
    folded = bitlearn.fold(m, r, sp.input_quantizer)
    xt = rng.normal(size=(512, 8)).astype("float32") * 3
    np.testing.assert_array_equal(learned(xt).numpy(), folded(xt).numpy())
    # and the quantized hidden activations equal: the folded model is what QTools prices and hls4ml exports
    probe = lambda mod: tf.keras.Model(mod.inputs, mod.get_layer("act2").output)(xt).numpy()
    np.testing.assert_array_equal(probe(learned), probe(folded))
    assert cost.layer_costs(folded)[1].kernel_bits == r.bits["fc1"]["kernel"][0]


def test_fold_exact_for_convolutions():
    m = conv_net(5)
    sp = space.analyse(m, parse_config(SPACE).space)
    learned = bitlearn.learned_model(m, sp)
    x = np.random.default_rng(1).normal(size=(64, 6, 6, 2)).astype("float32")
    bitlearn.calibrate(learned, x)
    for k, layer in enumerate(l for l in learned.layers if isinstance(l, (bitlearn.LearnedBits,
                                                                              bitlearn.LearnedQLayer))):
        q = layer.kq if isinstance(layer, bitlearn.LearnedQLayer) else layer
        q.f.assign(2.0 + k)
    r = bitlearn.read(learned)
    np.testing.assert_array_equal(learned(x).numpy(), bitlearn.fold(m, r, sp.input_quantizer)(x).numpy())


def test_learn_digits_two_betas_two_costs():
    from sklearn.datasets import load_digits
    from autoq import models
    d = load_digits()
    x = (d.data / 16.0).astype("float32")
    y = tf.keras.utils.to_categorical(d.target, 10)
    tf.keras.utils.set_random_seed(0)
    m = models.mlp(64, (32,), 10)
    m.compile("adam", "categorical_crossentropy")
    m.fit(x, y, epochs=3, batch_size=64, verbose=0)
    sp = space.analyse(m, parse_config(SPACE).space)
    res = bitlearn.learn(m, sp, x, y, betas=[0.0, 1.0], epochs=2, batch_size=64, bits_learning_rate=0.1)
    qm = [bitlearn.fold(m, r, sp.input_quantizer) for r in res]
    bops = [cost.model_cost(q).bops for q in qm]
    assert bops[1] < bops[0]
    for r, q in zip(res, qm):  # the learned cost surrogate is the cost module's BOPs
        assert r.cost == pytest.approx(cost.model_cost(q).bops)
        acc = float(np.mean(np.argmax(q.predict(x, verbose=0), 1) == d.target))
        assert acc > 0.5
