"""The QKeras models of hls4ml's own tests, rebuilt on autoq's stack for the export coverage table.

Sources (fastmachinelearning/hls4ml, test/pytest/): ``test_qkeras.py`` (test_accuracy, test_single_dense_activation_exact,
test_btnn, test_quantizer_special, test_quantizer, test_qactivation_kwarg, test_qconv2dbn, test_qdepthwiseconv2d,
test_quantised_po2_bit_width, test_qseparableconv1d/2d) and ``test_binary_cnn.py`` (test_model2). Each entry gives
the model, its inputs (as the test draws them: uniform [0, 1), rounded to fixed<16,6> where the test does), the
io types the test runs, and how the test configures plain hls4ml (``tweak(config)``). Shapes are the tests' except
test_binary_cnn (28x28 -> 12x12 input, to keep g++ time within the benchmark budget; same layers).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

PUBLISHED = Path(__file__).resolve().parents[1] / "tests" / "data" / "jet-tagger"
BOTH = ("io_parallel", "io_stream")


@dataclass
class Case:
    name: str
    source: str  # the hls4ml test function it is rebuilt from
    build: Callable[[], Any]
    x: Callable[[np.random.Generator], np.ndarray]
    io_types: tuple = BOTH
    tweak: Callable[[dict], None] = field(default=lambda cfg: None)
    default_precision: str | None = None


def _round10(x):
    return np.round(x * 2**10) * 2**-10


def _seq(*layers, name):
    import tensorflow as tf

    return tf.keras.Sequential(list(layers), name=name)


def _jet():
    import tensorflow as tf

    from autoq.quantizers import custom_objects

    m = tf.keras.models.model_from_json((PUBLISHED / "qkeras_3layer.json").read_text(), custom_objects=custom_objects())
    m.load_weights(str(PUBLISHED / "qkeras_3layer_weights.h5"))
    return m


def _dense_act(alpha):
    from qkeras import QActivation, QDense, quantized_bits, quantized_relu

    return lambda: _seq(QDense(16, input_shape=(16,), name="fc1", kernel_quantizer=quantized_bits(4, 0, alpha=alpha),
                               bias_quantizer=quantized_bits(4, 0, alpha=1), kernel_initializer="lecun_uniform"),
                        QActivation(activation=quantized_relu(4, 0), name="relu1"), name=f"dense_act_{alpha}")


def _btnn(kq, bq, aq, bn):
    import tensorflow as tf
    from qkeras import QActivation, QDense

    def build():
        layers = [QDense(10, input_shape=(10,), kernel_quantizer=kq(), bias_quantizer=bq(), name="dense")]
        if bn:
            layers.append(tf.keras.layers.BatchNormalization(name="bn"))
        layers.append(QActivation(activation=aq() if callable(aq) else aq, name="act"))
        return _seq(*layers, name="btnn")
    return build


def _lone(q):
    from qkeras import QActivation

    return lambda: _seq(QActivation(input_shape=(1,), activation=q(), name="quantizer"), name="quantizer")


def _kwarg(wq, aq):
    import tensorflow as tf
    from qkeras import QDense

    def build():
        inp = tf.keras.Input(shape=(10,))
        out = QDense(10, activation=aq, name="qdense", kernel_quantizer=wq, bias_quantizer=wq,
                     kernel_initializer="lecun_uniform")(inp)
        return tf.keras.Model(inp, out, name="kwarg")
    return build


def _qconv2dbn():
    from qkeras import QConv2DBatchnorm

    return _seq(QConv2DBatchnorm(4, kernel_size=(3, 3), input_shape=(8, 8, 1),
                                 kernel_quantizer="quantized_bits(8, 0, alpha=1)", kernel_initializer="ones",
                                 bias_quantizer="quantized_bits(8, 0, alpha=1)", bias_initializer="zeros",
                                 activation="quantized_relu(8, 0)"), name="qconv2dbn")


def _qdepthwise():
    from qkeras import QDepthwiseConv2D

    return _seq(QDepthwiseConv2D(kernel_size=(3, 3), input_shape=(32, 32, 3),
                                 depthwise_quantizer="quantized_bits(6, 0, alpha=1)",
                                 bias_quantizer="quantized_bits(4, 0, alpha=1)", bias_initializer="he_normal",
                                 activation="quantized_relu(3, 0)"), name="qdepthwise")


def _po2_wide():
    from qkeras import QDense, quantized_po2

    m = _seq(QDense(6, input_shape=(26,), name="dense", kernel_quantizer=quantized_po2(18, max_value=2**20)),
             name="po2_wide")
    w = m.layers[0].get_weights()
    w[0] = (2**18) * np.random.default_rng(0).random((26, 6))
    m.layers[0].set_weights(w)
    return m


def _sepconv(dim):
    import tensorflow as tf
    from qkeras import QSeparableConv1D, QSeparableConv2D, quantized_bits

    def build():
        shape, cls = ((13, 20), QSeparableConv1D) if dim == 1 else ((13, 21, 20), QSeparableConv2D)
        x_in = tf.keras.Input(shape, name="input_layer")
        x = cls(5, 3, depthwise_quantizer=quantized_bits(8, 3, alpha=1), pointwise_quantizer=quantized_bits(8, 3, alpha=1),
                bias_quantizer=quantized_bits(8, 3, alpha=1), name="qsepconv_1")(x_in)
        return tf.keras.Model(x_in, x, name=f"sepconv{dim}d")
    return build


def _sep_tweak(cfg):
    cfg["LayerName"]["input_layer"]["Precision"]["result"] = "fixed<8,1>"
    cfg["LayerName"]["qsepconv_1"]["Precision"]["dw_output"] = "fixed<15,4>"


def _binary_cnn():
    import tensorflow as tf
    from qkeras import QActivation, QBatchNormalization, QConv2D, QDense

    x_in = tf.keras.Input(shape=(12, 12, 1))
    x = QConv2D(4, (3, 3), kernel_quantizer="binary", name="conv2d_1", use_bias=False)(x_in)
    x = QBatchNormalization()(x)
    x = QActivation("binary", name="act1")(x)
    x = QConv2D(8, (3, 3), kernel_quantizer="binary", name="conv2d_2", use_bias=False)(x)
    x = QBatchNormalization()(x)
    x = QActivation("binary", name="act2")(x)
    x = tf.keras.layers.MaxPooling2D(pool_size=(2, 2))(x)
    x = tf.keras.layers.Flatten()(x)
    x = QDense(10, kernel_quantizer="binary", name="q_dense_6", use_bias=False)(x)
    x = QBatchNormalization()(x)
    x = QActivation("binary_tanh", name="act4")(x)
    x = QDense(10, kernel_quantizer="binary", activation="softmax", name="q_dense_7", use_bias=False)(x)
    return tf.keras.Model(x_in, x, name="binary_cnn")


def cases() -> list[Case]:
    """Every rebuilt test model (the order of the coverage table)."""
    from qkeras import binary, quantized_bits, quantized_relu, quantized_sigmoid, quantized_tanh, ternary

    def rand(*shape):
        return lambda rng: rng.random((100,) + shape)

    def rand_r(*shape, n=100):
        return lambda rng: _round10(rng.random((n,) + shape))

    out = [Case("jet tagger (published Q6)", "test_qkeras.py::test_accuracy", _jet, lambda rng: rng.normal(size=(300, 16)),
                tweak=lambda c: c["LayerName"]["softmax"].update(exp_table_t="ap_fixed<18,8>",
                                                                 inv_table_t="ap_fixed<18,4>")),
           Case("dense+relu 4b alpha=1", "test_qkeras.py::test_single_dense_activation_exact", _dense_act(1), rand(16)),
           Case("dense+relu 4b auto_po2", "test_qkeras.py::test_single_dense_activation_exact", _dense_act("auto_po2"),
                rand(16))]
    btnn = [(ternary(alpha=1), "binary_tanh", False), (binary(), "binary_tanh", False),
            (ternary(alpha="auto"), binary(), True), (ternary(alpha="auto"), "ternary", True),
            (ternary(alpha="auto"), ternary(threshold=0.2), True), (ternary(alpha="auto"), ternary(threshold=0.8), True),
            (binary(), binary(), False)]
    for i, (kq, aq, bn) in enumerate(btnn, 1):
        out.append(Case(f"btnn {i}: {type(kq).__name__} + {aq if isinstance(aq, str) else type(aq).__name__}"
                        + (" + BN" if bn else ""), "test_qkeras.py::test_btnn",
                        _btnn(lambda kq=kq: kq.__class__.from_config(kq.get_config()), lambda: quantized_bits(5, 2),
                              aq if isinstance(aq, str) else (lambda aq=aq: aq.__class__.from_config(aq.get_config())),
                              bn), rand(10)))
    for q in (lambda: quantized_tanh(8), lambda: quantized_sigmoid(5),
              lambda: quantized_sigmoid(7, use_real_sigmoid=True)):
        out.append(Case(f"QActivation {q().__class__.__name__}({q().bits}"
                        + (", real" if getattr(q(), "use_real_sigmoid", False) else "") + ")",
                        "test_qkeras.py::test_quantizer_special", _lone(q), rand_r(1, n=1000)))
    for args in ((8, 0), (8, 4), (4, 2), (4, 0), (10, 0)):
        out.append(Case(f"QActivation quantized_bits{args}", "test_qkeras.py::test_quantizer",
                        _lone(lambda a=args: quantized_bits(*a)), rand_r(1, n=1000)))
    for args in ((4,), (4, 2), (8,), (8, 4), (10,), (10, 5)):
        out.append(Case(f"QActivation quantized_relu{args}".replace(",)", ")"), "test_qkeras.py::test_quantizer",
                        _lone(lambda a=args: quantized_relu(*a)), rand_r(1, n=1000)))
    for wq, aq in (("binary", "binary"), ("ternary", "ternary"), ("quantized_bits(4, 0, alpha=1)", "quantized_relu(2, 0)"),
                   ("quantized_bits(4, 0, alpha=1)", "quantized_relu(4, 0)"),
                   ("quantized_bits(4, 0, alpha=1)", "quantized_relu(8, 0)")):
        out.append(Case(f"QDense {wq.split('(')[0]}, activation='{aq}'", "test_qkeras.py::test_qactivation_kwarg",
                        _kwarg(wq, aq), rand_r(10)))
    out += [
        Case("QConv2DBatchnorm", "test_qkeras.py::test_qconv2dbn", _qconv2dbn, rand_r(8, 8, 1),
             default_precision="fixed<24,8>"),
        Case("QDepthwiseConv2D 32x32x3", "test_qkeras.py::test_qdepthwiseconv2d", _qdepthwise,
             lambda rng: _round10(rng.random((10, 32, 32, 3))), io_types=("io_stream",),
             default_precision="fixed<24,8>"),
        Case("quantized_po2(18, max 2**20) dense", "test_qkeras.py::test_quantised_po2_bit_width", _po2_wide, rand(26),
             default_precision="ap_fixed<64, 32>"),
        Case("QSeparableConv1D", "test_qkeras.py::test_qseparableconv1d", _sepconv(1),
             lambda rng: quantized_bits_np(rng.random((100, 13, 20))), io_types=("io_stream",), tweak=_sep_tweak,
             default_precision="fixed<23,7>"),
        Case("QSeparableConv2D", "test_qkeras.py::test_qseparableconv2d", _sepconv(2),
             lambda rng: quantized_bits_np(rng.random((100, 13, 21, 20))), io_types=("io_stream",), tweak=_sep_tweak,
             default_precision="fixed<23,7>"),
        Case("binary CNN + QBatchNormalization (12x12)", "test_binary_cnn.py::test_model2", _binary_cnn,
             lambda rng: rng.random((20, 12, 12, 1))),
    ]
    return out


def quantized_bits_np(x):
    """quantized_bits(8, 0, alpha=1) as the separable-conv tests apply it to their inputs."""
    return np.clip(np.round(x * 2**7), -(2**7), 2**7 - 1) / 2**7
