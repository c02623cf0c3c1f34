"""Tests for autoq.quantizers.qil: QIL forward maths, gradients, training, folding,
serialization and (if g++ is present) bit-exact hls4ml conversion."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


import numpy as np
import pytest
import tensorflow as tf
from qkeras import QActivation, QDense, quantized_bits, quantized_relu
from qkeras.safe_eval import safe_eval
from qkeras.utils import load_qmodel

from autoq.quantizers.qil import QIL, equivalent_quantizer, fold_qil


def _weight_qil(bits, c, d, gamma, fixed_point=True):
    return QIL(bits, c_init=c, d_init=d, gamma_init=gamma,
               fixed_point=fixed_point)


def _run(q, xs):
    return q(np.array(xs, np.float32)).numpy().tolist()


# --- forward pass vs. the paper's equations, hand-computed -----------------

def test_weight_forward_gamma1_bits3():
    # c=0.6, d=0.4: interval [0.2, 1.0], a=1.25, b=-0.25, q_w=3.
    # w=0.1 pruned -> 0; w=-1.5 clipped -> -1 -> k=-3;
    # w=0.5: t=0.375, 1.125 -> k=1; w=-0.8: t=0.75, 2.25 -> k=-2;
    # w=0.9: t=0.875, 2.625 -> k=3.
    xs = [0.1, -1.5, 0.5, -0.8, 0.9]
    ks = [0, -3, 1, -2, 3]
    paper = _run(_weight_qil(3, 0.6, 0.4, 1.0, fixed_point=False), xs)
    assert paper == pytest.approx([k / 3 for k in ks], abs=1e-7)
    fixed = _run(_weight_qil(3, 0.6, 0.4, 1.0), xs)
    assert fixed == [k / 4 for k in ks]  # k * 2**(0 - 3 + 1), exact


def test_weight_forward_gamma2_bits3():
    # Same interval, gamma=2: w=0.5: 0.375^2*3=0.42 -> 0;
    # w=-0.8: 0.5625*3=1.69 -> -2; w=0.9: 0.765625*3=2.30 -> 2;
    # w=0.7: 0.625^2*3=1.17 -> 1.
    xs = [0.5, -0.8, 0.9, 0.7]
    ks = [0, -2, 2, 1]
    paper = _run(_weight_qil(3, 0.6, 0.4, 2.0, fixed_point=False), xs)
    assert paper == pytest.approx([k / 3 for k in ks], abs=1e-7)
    assert _run(_weight_qil(3, 0.6, 0.4, 2.0), xs) == [k / 4 for k in ks]


def test_weight_forward_gamma_half_bits4_integer1():
    # c=1, d=0.5: [0.5, 1.5], a=1, b=-0.5, gamma=0.5, q_w=7.
    # w=1.0: sqrt(.5)*7=4.95 -> 5; w=0.6: sqrt(.1)*7=2.21 -> 2;
    # w=-2: -7; w=0.4: pruned.  integer=1 -> step 2**(1-3) = 0.25.
    q = QIL(4, 1, c_init=1.0, d_init=0.5, gamma_init=0.5)
    assert _run(q, [1.0, 0.6, -2.0, 0.4]) == [1.25, 0.5, -1.75, 0.0]
    assert q.integer == 1 and q.keep_negative and q.max() == 1.75


def test_activation_forward_paper():
    # bits=2 (q_a=3), c=1, d=0.5: x=0.3 -> 0; 0.9: 0.4*3=1.2 -> 1;
    # 1.3: 0.8*3=2.4 -> 2; 2 -> 3; -1 -> 0.
    q = QIL(2, kind="activation", c_init=1.0, d_init=0.5, fixed_point=False)
    got = _run(q, [0.3, 0.9, 1.3, 2.0, -1.0])
    assert got == pytest.approx([0, 1 / 3, 2 / 3, 1, 0], abs=1e-7)


def test_activation_forward_fixed_point():
    # bits=3, c+d=2.5 -> U=2**round(log2 2.5)=2, lsb=0.25, max 7*lsb=1.75.
    q = QIL(3, kind="activation", c_init=1.5, d_init=1.0)
    assert _run(q, [-0.5, 0.1, 0.3, 1.1, 5.0]) == [0, 0, 0.25, 1.0, 1.75]
    assert q.integer == 1 and not q.keep_negative
    # c+d=0.3 -> U clamped to 1 (quantized_relu needs integer >= 0).
    q = QIL(3, kind="activation", c_init=0.2, d_init=0.1)
    assert _run(q, [0.3, 2.0]) == [0.25, 0.875] and q.integer == 0


def test_fixed_point_matches_qkeras_quantizers():
    rng = np.random.default_rng(0)
    x = rng.normal(0, 2, 2000).astype(np.float32)
    for c, d in [(0.5, 0.5), (3.0, 2.5), (0.3, 0.2)]:
        qa = QIL(4, kind="activation", c_init=c, d_init=d)
        assert np.array_equal(qa(x).numpy(), equivalent_quantizer(qa)(x).numpy())
        qw = QIL(4, c_init=c, d_init=d, gamma_init=0.7)
        y = qw(x).numpy()
        assert np.array_equal(y, equivalent_quantizer(qw)(y).numpy())
        assert np.abs(y).max() <= 7 / 8


# --- gradients ---------------------------------------------------------------

@pytest.mark.parametrize("kind", ["weight", "activation"])
def test_gradients_reach_interval(kind):
    q = QIL(4, kind=kind, c_init=0.6, d_init=0.5, gamma_init=1.3)
    x = tf.constant(np.linspace(-1.5, 1.5, 41), tf.float32)
    r = tf.constant(np.random.default_rng(1).normal(size=41), tf.float32)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(q(x) * r)
    grads = tape.gradient(loss, q.trainable_variables)
    assert len(grads) == (3 if kind == "weight" else 2)
    for g in grads:
        assert g is not None and np.isfinite(g.numpy()) and g.numpy() != 0


# --- Keras integration -------------------------------------------------------

def _model():
    inp = tf.keras.Input((6,))
    x = QDense(8, kernel_quantizer=QIL(4),
               bias_quantizer=quantized_bits(8, 3, alpha=1), name="d1")(inp)
    x = QActivation(QIL(4, kind="activation", integer=1), name="a1")(x)
    out = QDense(3, kernel_quantizer=QIL(4),
                 bias_quantizer=quantized_bits(8, 3, alpha=1), name="d2")(x)
    return tf.keras.Model(inp, out)


def _data(n=128):
    rng = np.random.default_rng(0)
    x = np.round(rng.uniform(0, 2, (n, 6)) * 256).astype(np.float32) / 256
    y = (x[:, 0] + x[:, 1] > 2).astype(int) + (x[:, 2] > 1.5)
    return x, y


@pytest.fixture(scope="module")
def trained():
    tf.keras.utils.set_random_seed(0)
    model = _model()
    qils = [q for layer in model.layers for q in vars(layer).values()
            if isinstance(q, QIL)]
    before = [v.numpy() for q in set(qils) for v in (q.c, q.d)]
    x, y = _data()
    model.compile(tf.keras.optimizers.Adam(0.05),
                  tf.keras.losses.SparseCategoricalCrossentropy(
                      from_logits=True))
    model.fit(x, y, epochs=3, batch_size=16, verbose=0)
    after = [v.numpy() for q in set(qils) for v in (q.c, q.d)]
    return model, before, after, x


def test_variables_tracked_and_trained(trained):
    model, before, after, _ = trained
    names = [w.name for w in model.get_layer("d1").trainable_weights]
    assert len(names) == 5 and any(n.endswith("/gamma:0") for n in names)
    assert len(model.get_layer("a1").trainable_weights) == 2
    assert all(b != a for b, a in zip(before, after))


def test_fold_is_exact(trained):
    model, _, _, x = trained
    folded = fold_qil(model)
    assert not [w for w in folded.weights if "qil" in w.name]
    d1, a1 = folded.get_layer("d1"), folded.get_layer("a1")
    assert isinstance(d1.kernel_quantizer_internal, quantized_bits)
    assert isinstance(a1.quantizer, quantized_relu)
    assert a1.quantizer.integer == model.get_layer("a1").quantizer.integer
    assert np.array_equal(model.predict(x, verbose=0),
                          folded.predict(x, verbose=0))


def test_paper_mode_refuses_to_fold():
    inp = tf.keras.Input((2,))
    out = QDense(2, kernel_quantizer=QIL(3, fixed_point=False))(inp)
    with pytest.raises(ValueError):
        fold_qil(tf.keras.Model(inp, out))


def test_config_and_string_roundtrip():
    q = QIL(4)
    assert q.bits == 4 and q.integer == 0 and str(q) == "qil(4)"
    qa = QIL(5, kind="activation", c_init=2.0, d_init=1.0)
    for src in (q, qa):
        back = QIL.from_config(src.get_config())
        assert back.get_config() == src.get_config()
        parsed = safe_eval(str(src), {"qil": QIL})
        assert str(parsed) == str(src)
    assert str(qa) == "qil(5,kind='activation')"


def test_save_load_h5(trained, tmp_path):
    model, _, _, x = trained
    path = str(tmp_path / "qil.h5")
    model.save(path)
    loaded = load_qmodel(path, custom_objects={"QIL": QIL})
    for name in ("d1", "a1", "d2"):  # kernel, bias and the learned c, d, gamma
        old, new = model.get_layer(name).weights, loaded.get_layer(name).weights
        assert len(old) == len(new)
        assert all(np.array_equal(a.numpy(), b.numpy()) for a, b in zip(old, new))
    q_old, q_new = model.get_layer("a1").quantizer, loaded.get_layer("a1").quantizer
    assert isinstance(q_new, QIL) and q_new.c.numpy() == q_old.c.numpy()
    assert q_new.c.numpy() != 1.0  # trained, not the initial value
    assert np.array_equal(model.predict(x, verbose=0),
                          loaded.predict(x, verbose=0))


def test_folded_model_hls4ml_bit_exact(trained, tmp_path):
    import hls4ml

    from autoq.keras_env import hls4ml_keras2
    model, _, _, x = trained
    folded = fold_qil(model)
    with hls4ml_keras2():  # hls4ml's Keras 2 path for this tf.keras model on either stack (autoq/keras_env.py)
        cfg = hls4ml.utils.config_from_keras_model(folded, granularity="name",
                                                   backend="Vitis")
        hls = hls4ml.converters.convert_from_keras_model(
            folded, hls_config=cfg, output_dir=str(tmp_path / "prj"),
            backend="Vitis", io_type="io_parallel")
        hls.compile()
        y_hls = hls.predict(x)
    y_ref = folded.predict(x, verbose=0)
    assert np.abs(y_hls - y_ref).max() == 0
    assert (y_hls.argmax(1) == y_ref.argmax(1)).all()
