"""The verified stack: Keras 2 line, no tf_keras, QKeras layers are tf.keras layers hls4ml can parse."""
import importlib.util
from importlib import metadata

import tensorflow as tf


def test_pinned_versions():
    assert tf.__version__ == "2.14.1"
    assert metadata.version("qkeras") == "0.9.0"
    assert metadata.version("hls4ml") == "1.3.0"
    assert metadata.version("keras").startswith("2.14")


def test_no_tf_keras_and_qkeras_uses_tf_keras():
    assert importlib.util.find_spec("tf_keras") is None
    from qkeras import QDense
    assert isinstance(QDense(2), tf.keras.layers.Layer)
    inp = tf.keras.Input((3,))
    model = tf.keras.Model(inp, QDense(2, kernel_quantizer="quantized_bits(4,0,alpha=1)", name="q")(inp))
    assert [type(l).__name__ for l in model.layers] == ["InputLayer", "QDense"]  # not TFOpLambda
