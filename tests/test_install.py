"""The verified stacks: each Python has the exact pin set setup.cfg gives it, and QKeras layers are tf.keras layers
(Keras 2) that hls4ml can parse: TF 2.14's own Keras on Python 3.10-3.11, tf_keras 2.21 on Python 3.12-3.13."""
import configparser
import importlib.util
import sys
from importlib import metadata
from pathlib import Path

import tensorflow as tf
from packaging.requirements import Requirement

SETUP_CFG = Path(__file__).resolve().parents[1] / "setup.cfg"


def pins_for_this_python() -> dict:
    cfg = configparser.ConfigParser()
    cfg.read(SETUP_CFG)
    reqs = [Requirement(line) for line in cfg["options"]["install_requires"].strip().splitlines()
            if line.strip() and not line.lstrip().startswith("#")]
    return {r.name: str(r.specifier)[2:] for r in reqs
            if (r.marker is None or r.marker.evaluate()) and str(r.specifier).startswith("==")}


def test_pinned_versions():
    pins = pins_for_this_python()
    legacy = sys.version_info >= (3, 12)
    assert pins["tensorflow"] == ("2.21.0" if legacy else "2.14.1") and pins["qkeras"] == "0.9.0"
    assert pins["hls4ml"] == "1.3.0" and pins["keras-tuner"] == "1.4.8"
    assert ("tf_keras" in pins) == legacy and ("tensorboard" in pins) == legacy
    assert pins["numpy"].startswith("2." if legacy else "1.26")
    for name, version in pins.items():
        assert metadata.version(name) == version, name
    assert tf.__version__ == pins["tensorflow"]


def test_qkeras_layers_are_keras2_tf_keras_layers():
    from qkeras import QDense
    if sys.version_info >= (3, 12):  # tf_keras, made tf.keras by `import autoq` (autoq/keras_env.py)
        import tf_keras
        assert tf.keras.layers.Layer is tf_keras.layers.Layer
    else:  # tf_keras would split tf.keras from QKeras' keras on TF 2.14: it must be absent
        assert importlib.util.find_spec("tf_keras") is None
        assert metadata.version("keras").startswith("2.14")
    assert isinstance(QDense(2), tf.keras.layers.Layer)
    inp = tf.keras.Input((3,))
    model = tf.keras.Model(inp, QDense(2, kernel_quantizer="quantized_bits(4,0,alpha=1)", name="q")(inp))
    assert [type(l).__name__ for l in model.layers] == ["InputLayer", "QDense"]  # not TFOpLambda
