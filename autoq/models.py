"""Small float model builders referenced from YAML as ``autoq.models:<function>``."""
from __future__ import annotations

from .keras_env import import_tensorflow_quietly

import_tensorflow_quietly()  # a notebook's first TensorFlow import is often this module's
import tensorflow as tf  # noqa: E402


def mlp(input_dim: int = 64, hidden=(32, 32), n_classes: int = 10, l1: float = 0.0, name: str = "mlp"):
    """Dense ReLU stack with a softmax head; layers named fc1.., output (hls4ml-style names)."""
    reg = tf.keras.regularizers.L1(l1) if l1 else None
    inp = tf.keras.Input(shape=(input_dim,), name="x")  # not "input": hls4ml reserves it
    x = inp
    for i, units in enumerate(hidden, 1):
        x = tf.keras.layers.Dense(units, activation="relu", kernel_regularizer=reg, name=f"fc{i}")(x)
    x = tf.keras.layers.Dense(n_classes, kernel_regularizer=reg, name="output")(x)
    out = tf.keras.layers.Activation("softmax", name="softmax")(x)
    return tf.keras.Model(inp, out, name=name)


def jet_tagger(l1: float = 1e-4):
    """The jet tagger of Coelho et al. 2021 / Duarte et al. 2018: 16 inputs, Dense 64-32-32-5, ReLU, softmax, L1."""
    return mlp(16, (64, 32, 32), 5, l1=l1, name="jet_tagger")


def small_cnn(input_shape=(8, 8, 1), n_classes: int = 10, name: str = "small_cnn"):
    """A tiny Conv2D net for 8x8 images (digits reshaped)."""
    inp = tf.keras.Input(shape=input_shape, name="x")  # not "input": hls4ml reserves it
    x = tf.keras.layers.Conv2D(8, 3, activation="relu", name="conv1")(inp)
    x = tf.keras.layers.MaxPooling2D(2, name="pool1")(x)
    x = tf.keras.layers.Flatten(name="flatten")(x)
    x = tf.keras.layers.Dense(n_classes, name="output")(x)
    out = tf.keras.layers.Activation("softmax", name="softmax")(x)
    return tf.keras.Model(inp, out, name=name)


def regressor(input_dim: int = 10, hidden=(32, 16), n_outputs: int = 1, name: str = "regressor"):
    """Dense ReLU stack with a linear head (regression)."""
    inp = tf.keras.Input(shape=(input_dim,), name="x")
    x = inp
    for i, units in enumerate(hidden, 1):
        x = tf.keras.layers.Dense(units, activation="relu", name=f"fc{i}")(x)
    return tf.keras.Model(inp, tf.keras.layers.Dense(n_outputs, name="output")(x), name=name)


def autoencoder(input_dim: int = 64, hidden=(32, 8, 32), name: str = "autoencoder"):
    """Dense ReLU encoder-decoder with a linear reconstruction of the input (anomaly detection by its error)."""
    return regressor(input_dim, hidden, input_dim, name=name)


def bn_cnn(n_classes: int = 10, name: str = "bn_cnn"):
    """Digits (64 inputs) as 8x8 images: Conv2D + BatchNormalization + ReLU, max pooling, Conv2D + BN + ReLU,
    global average pooling (over 2x2), softmax head. The batch norms fold into the convolutions when quantized."""
    inp = tf.keras.Input(shape=(64,), name="x")
    x = tf.keras.layers.Reshape((8, 8, 1), name="image")(inp)
    x = tf.keras.layers.Conv2D(8, 3, padding="same", use_bias=False, name="conv1")(x)
    x = tf.keras.layers.BatchNormalization(name="bn1")(x)
    x = tf.keras.layers.ReLU(name="relu1")(x)
    x = tf.keras.layers.MaxPooling2D(2, name="pool1")(x)
    x = tf.keras.layers.Conv2D(16, 3, padding="same", name="conv2")(x)
    x = tf.keras.layers.BatchNormalization(name="bn2")(x)
    x = tf.keras.layers.Activation("relu", name="relu2")(x)
    x = tf.keras.layers.MaxPooling2D(2, name="pool2")(x)
    x = tf.keras.layers.GlobalAveragePooling2D(name="gap")(x)
    x = tf.keras.layers.Dense(n_classes, name="output")(x)
    out = tf.keras.layers.Activation("softmax", name="softmax")(x)
    return tf.keras.Model(inp, out, name=name)


def two_heads(input_dim: int = 64, hidden=(32,), n_classes: int = 10, name: str = "two_heads"):
    """Two outputs on a shared Dense ReLU trunk: ``digit`` (softmax classes) and ``ink`` (a linear regression), as
    the data source ``digits-heads`` gives them."""
    inp = tf.keras.Input(shape=(input_dim,), name="x")
    x = inp
    for i, units in enumerate(hidden, 1):
        x = tf.keras.layers.Dense(units, activation="relu", name=f"fc{i}")(x)
    logits = tf.keras.layers.Dense(n_classes, name="digit_logits")(x)
    digit = tf.keras.layers.Activation("softmax", name="digit")(logits)
    ink = tf.keras.layers.Dense(1, name="ink")(x)
    return tf.keras.Model(inp, [digit, ink], name=name)


def conv_block_network(input_shape=(28, 28, 1), n_classes: int = 10, kernel_size: int = 3,
                       filters=(16, 32, 48, 64, 128), dropout_rate: float = 0.2, name: str = "conv_block_network"):
    """AutoQKeras's notebook model for MNIST (its ``ConvBlockNetwork`` with ``with_maxpooling=False``,
    ``with_batchnorm=True``, he_uniform): per block a stride-2 'same' Conv2D without bias, BatchNormalization, ReLU
    and Dropout; then Flatten, Dense and softmax. Layer names as there (the input is ``x``: hls4ml reserves
    ``input``)."""
    init = "he_uniform"
    inp = tf.keras.Input(shape=tuple(input_shape), name="x")
    x = inp
    for i, f in enumerate(filters):
        s = str(i) if len(filters) > 1 else ""
        x = tf.keras.layers.Conv2D(f, kernel_size, strides=2, padding="same", use_bias=False, kernel_initializer=init,
                                   name=f"conv2d_{s}")(x)
        x = tf.keras.layers.BatchNormalization(name=f"bn_{s}")(x)
        x = tf.keras.layers.Activation("relu", name=f"act_{s}")(x)
        if dropout_rate > 0:
            x = tf.keras.layers.Dropout(dropout_rate, name=f"drop_{s}")(x)
    x = tf.keras.layers.Flatten(name="flatten")(x)
    x = tf.keras.layers.Dense(n_classes, kernel_initializer=init, name="dense")(x)
    out = tf.keras.layers.Activation("softmax", name="softmax")(x)
    return tf.keras.Model(inp, out, name=name)
