"""No code runs from a model file: Lambda layers (also nested, also in the .keras format), TFOpLambda ops, unknown
custom layers and SavedModels are refused unless trusted; plain Keras and QKeras files load."""
from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from qkeras import QActivation, QDense, quantized_bits, quantized_relu

from autoq import model_io
from autoq.errors import AutoqError


def _marker_cmd(path):
    return f"touch {path}"


def lambda_model(marker, nested=False):
    cmd = _marker_cmd(marker)
    inner_in = tf.keras.Input((4,))
    inner = tf.keras.Model(inner_in, tf.keras.layers.Lambda(lambda t: t + 0 * __import__("os").system(cmd),
                                                            name="evil")(inner_in), name="inner")
    inp = tf.keras.Input((4,), name="x")
    x = inner(inp) if nested else tf.keras.layers.Lambda(lambda t: t + 0 * __import__("os").system(cmd),
                                                         name="evil")(inp)
    return tf.keras.Model(inp, tf.keras.layers.Dense(2, name="out")(x))


@pytest.mark.parametrize("fmt,nested", [("h5", False), ("h5", True), ("keras", False), ("keras", True)])
def test_lambda_is_refused_and_never_runs(tmp_path, fmt, nested):
    marker = tmp_path / "ran"
    path = tmp_path / f"m.{fmt}"
    lambda_model(marker, nested).save(path)
    marker.unlink()  # building the model above ran it once, on purpose
    with pytest.raises(model_io.UntrustedModelError, match="Lambda layer 'evil'.*--trust-model"):
        model_io.load(path)
    assert not marker.exists()
    loaded = model_io.load(path, trust=True)  # the user's explicit choice
    assert marker.exists() and loaded.count_params() == 10


def test_tf_op_lambda_and_unknown_layers_are_refused(tmp_path):
    inp = tf.keras.Input((4,), name="x")
    model = tf.keras.Model(inp, tf.keras.layers.Dense(2, name="out")(tf.math.sin(inp)))
    model.save(tmp_path / "op.h5")
    with pytest.raises(model_io.UntrustedModelError, match="TFOpLambda layer"):
        model_io.load(tmp_path / "op.h5")

    class Mine(tf.keras.layers.Layer):
        def call(self, x):
            return x

    inp = tf.keras.Input((4,), name="x")
    tf.keras.Model(inp, Mine(name="mine")(inp)).save(tmp_path / "custom.h5")
    with pytest.raises(model_io.UntrustedModelError, match="unknown layer class 'Mine'"):
        model_io.load(tmp_path / "custom.h5")


def test_saved_model_directory_needs_trust(tmp_path):
    inp = tf.keras.Input((4,), name="x")
    tf.keras.Model(inp, tf.keras.layers.Dense(2)(inp)).save(tmp_path / "sm", save_format="tf")
    with pytest.raises(model_io.UntrustedModelError, match="SavedModel, whose graph autoq cannot inspect"):
        model_io.load(tmp_path / "sm")
    assert model_io.load(tmp_path / "sm", trust=True).count_params() == 10


def test_plain_keras_and_qkeras_files_load(tmp_path):
    inp = tf.keras.Input((4,), name="x")
    h = QActivation(quantized_bits(8, 3, alpha=1), name="q_in")(inp)
    h = QDense(3, kernel_quantizer=quantized_bits(4, 0, alpha=1), bias_quantizer=quantized_bits(4, 0, alpha=1),
               name="fc")(h)
    h = QActivation(quantized_relu(4, 2), name="relu")(h)
    h = tf.keras.layers.BatchNormalization(name="bn")(h)
    model = tf.keras.Model(inp, tf.keras.layers.Activation("softmax", name="sm")(h))
    model.save(tmp_path / "q.h5")
    x = np.random.default_rng(0).normal(size=(5, 4)).astype("float32")
    np.testing.assert_array_equal(model_io.load(tmp_path / "q.h5").predict(x, verbose=0), model.predict(x, verbose=0))


def test_not_a_model_is_one_clear_error(tmp_path):
    (tmp_path / "x.h5").write_text("hello")
    with pytest.raises(AutoqError, match="cannot load Keras model"):
        model_io.load(tmp_path / "x.h5")
    with pytest.raises(AutoqError, match="model file not found"):
        model_io.load(tmp_path / "missing.h5")
