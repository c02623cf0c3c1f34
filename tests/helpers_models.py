"""Keras models several test files build: a tiny QKeras classifier, a float MLP with batch norm and a small float
convolutional net."""
from __future__ import annotations


def tiny_qmodel(seed: int = 0):
    """16 inputs -> input_quant(8,3) -> QDense 8 (4-bit) -> relu(4,2) -> QDense 3 (4-bit) logits; untrained."""
    import tensorflow as tf
    from qkeras import QActivation, QDense, quantized_bits, quantized_relu

    tf.keras.utils.set_random_seed(seed)
    inp = tf.keras.Input((16,), name="x")
    h = QActivation(quantized_bits(8, 3, alpha=1), name="input_quant")(inp)
    h = QDense(8, kernel_quantizer=quantized_bits(4, 0, alpha=1), bias_quantizer=quantized_bits(4, 0, alpha=1),
               name="fc1")(h)
    h = QActivation(quantized_relu(4, 2), name="fc1_relu")(h)
    out = QDense(3, kernel_quantizer=quantized_bits(4, 0, alpha=1), bias_quantizer=quantized_bits(4, 0, alpha=1),
                 name="fc2")(h)
    return tf.keras.Model(inp, out, name="tiny")


def bn_mlp(seed: int = 3):
    """A float 8 -> 16 -> 8 (+ batch norm, relu) -> 3 softmax MLP."""
    import tensorflow as tf

    tf.keras.utils.set_random_seed(seed)
    inp = tf.keras.Input((8,), name="x")
    h = tf.keras.layers.Dense(16, activation="relu", name="fc1")(inp)
    h = tf.keras.layers.Dense(8, name="fc2")(h)
    h = tf.keras.layers.BatchNormalization(name="bn")(h)
    h = tf.keras.layers.Activation("relu", name="act2")(h)
    return tf.keras.Model(inp, tf.keras.layers.Dense(3, activation="softmax", name="out")(h))


def conv_net(seed: int = 5):
    """A float (6, 6, 2) -> Conv2D 3x3 (3, relu) -> DepthwiseConv2D 2x2 (relu) -> Flatten -> Dense 2 net."""
    import tensorflow as tf

    tf.keras.utils.set_random_seed(seed)
    inp = tf.keras.Input((6, 6, 2), name="x")
    h = tf.keras.layers.Conv2D(3, 3, activation="relu", name="c1")(inp)
    h = tf.keras.layers.DepthwiseConv2D(2, name="dw", activation="relu")(h)
    out = tf.keras.layers.Dense(2, name="out")(tf.keras.layers.Flatten(name="fl")(h))
    return tf.keras.Model(inp, out)
