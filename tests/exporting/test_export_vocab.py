"""Bit-exact export across the QKeras vocabulary: three trained models that together hold every layer and quantizer
class autoq exports (hls4ml's QKeras tests use the same ones), each through real hls4ml conversion and g++ C
simulation in io_parallel and io_stream (Vivado), one also on Vitis. max |diff| == 0 on the compared tensor and on
every quantized layer's output."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest
import tensorflow as tf
from qkeras import (
    QActivation,
    QBatchNormalization,
    QConv1D,
    QConv2D,
    QConv2DBatchnorm,
    QDense,
    QDepthwiseConv2D,
    QSeparableConv1D,
    QSeparableConv2D,
    binary,
    quantized_bits,
    quantized_po2,
    quantized_relu,
    quantized_sigmoid,
    quantized_tanh,
    stochastic_binary,
    stochastic_ternary,
    ternary,
)
from tensorflow.keras import layers as L

from autoq import export  # the API: the project with its report.md


def dense_zoo():
    """Input named 'input'; po2 kernels + float batch norm + leaky quantized_relu; ternary() (QKeras' auto_po2
    alpha) fused with binary_tanh; binary kernels; quantized_tanh/sigmoid; alpha 'auto' with the activation as a layer
    argument; stochastic_ternary; alpha None; float softmax head."""
    qb = quantized_bits
    inp = tf.keras.Input((12,), name="input")
    h = QActivation(qb(8, 3, alpha=1), name="input_quant")(inp)
    h = QDense(16, kernel_quantizer=quantized_po2(4), bias_quantizer=qb(8, 3, alpha=1), name="po2")(h)
    h = L.BatchNormalization(name="bn")(h)
    h = QActivation(quantized_relu(4, 1, negative_slope=0.25), name="leaky")(h)
    h = QDense(12, kernel_quantizer=ternary(), bias_quantizer=qb(6, 2, alpha=1), name="tern")(h)
    h = QActivation("binary_tanh", name="btanh")(h)
    h = QDense(12, kernel_quantizer=binary(), bias_quantizer=qb(6, 2, alpha=1), name="bin")(h)
    h = QActivation(quantized_tanh(6), name="qtanh")(h)
    h = L.Dropout(0.1, name="drop")(h)
    h = QDense(10, kernel_quantizer=qb(4, 0, alpha="auto"), bias_quantizer=qb(6, 2, alpha=1),
               activation="quantized_relu(4,0)", name="auto")(h)
    h = QDense(10, kernel_quantizer=stochastic_ternary(), name="stern")(h)
    h = QActivation(quantized_sigmoid(5), name="qsig")(h)
    h = QDense(10, kernel_quantizer=qb(4, 0, alpha=1), bias_quantizer=qb(6, 2, alpha=None), name="b_none")(h)
    h = QActivation(quantized_relu(5, 2), name="r5")(h)
    h = QDense(4, kernel_quantizer=qb(5, 0, alpha=None), bias_quantizer=qb(6, 2, alpha=1), name="logits")(h)
    return tf.keras.Model(inp, L.Activation("softmax", name="softmax")(h), name="dense_zoo")


def cnn_zoo():
    """QConv2D with a float relu argument, max pooling, QDepthwiseConv2D, QConv2DBatchnorm, QSeparableConv2D,
    QBatchNormalization, average and global average pooling (powers of two), Reshape, an 'auto_po2' head."""
    qb = quantized_bits
    inp = tf.keras.Input((8, 8, 2), name="img")
    h = QActivation(qb(8, 2, alpha=1), name="input_quant")(inp)
    h = QConv2D(4, 3, padding="same", kernel_quantizer=qb(4, 0, alpha=1), bias_quantizer=qb(6, 2, alpha=1),
                activation="relu", name="conv")(h)
    h = L.MaxPooling2D(2, name="pool")(h)
    h = QDepthwiseConv2D(3, padding="same", depthwise_quantizer=qb(5, 0, alpha=1), bias_quantizer=qb(6, 2, alpha=1),
                         activation="quantized_relu(5,2)", name="dw")(h)
    h = QConv2DBatchnorm(4, 1, kernel_quantizer=qb(6, 1, alpha=1), bias_quantizer=qb(8, 3, alpha=1), name="convbn")(h)
    h = QActivation(quantized_relu(5, 2), name="convbn_relu")(h)
    h = QSeparableConv2D(6, 3, padding="same", depthwise_quantizer=qb(5, 1, alpha=1),
                         pointwise_quantizer=qb(5, 1, alpha=1), bias_quantizer=qb(6, 2, alpha=1), name="sep")(h)
    h = QBatchNormalization(name="qbn")(h)
    h = QActivation(quantized_relu(4, 2), name="sep_relu")(h)
    h = L.AveragePooling2D(2, name="avg")(h)
    h = L.GlobalAveragePooling2D(name="gap")(h)
    h = L.Reshape((6,), name="reshape")(h)
    out = QDense(3, kernel_quantizer=qb(4, 0, alpha="auto_po2"), bias_quantizer=qb(6, 2, alpha=1), name="logits")(h)
    return tf.keras.Model(inp, out, name="cnn_zoo")


def skip_zoo():
    """QConv1D, QSeparableConv1D, a ReLU layer, Add and Concatenate skip connections, 1D max/average/global
    pooling, and a stochastic_binary QDense with a float (unquantized) bias."""
    qb = quantized_bits
    inp = tf.keras.Input((16, 3), name="seq")
    h = QActivation(qb(8, 2, alpha=1), name="input_quant")(inp)
    a = QConv1D(4, 3, padding="same", kernel_quantizer=qb(4, 0, alpha=1), bias_quantizer=qb(6, 2, alpha=1),
                name="c1")(h)
    a = QActivation(quantized_relu(4, 2), name="c1_relu")(a)
    b = QSeparableConv1D(4, 3, padding="same", depthwise_quantizer=qb(5, 1, alpha=1),
                         pointwise_quantizer=qb(5, 1, alpha=1), bias_quantizer=qb(6, 2, alpha=1), name="sep1")(a)
    b = L.ReLU(name="relu")(b)
    c = L.Concatenate(name="cat")([L.Add(name="add")([a, b]), a])
    c = L.AveragePooling1D(2, name="avg")(L.MaxPooling1D(2, name="pool")(c))
    out = QDense(3, kernel_quantizer=stochastic_binary(), name="logits")(L.GlobalMaxPooling1D(name="gmp")(c))
    return tf.keras.Model(inp, out, name="skip_zoo")


def _trained(build, seed=0):
    """The model after 2 epochs on random labels (real, non-initial weights; batch-norm statistics moved)."""
    tf.keras.utils.set_random_seed(seed)
    model = build()
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(320,) + model.input_shape[1:]).astype(np.float32) * 1.5
    n = model.output_shape[-1]
    y = tf.keras.utils.to_categorical(rng.integers(0, n, len(x)), n)
    from_logits = model.layers[-1].name != "softmax"
    model.compile("adam", tf.keras.losses.CategoricalCrossentropy(from_logits=from_logits))
    model.fit(x[:256], y[:256], epochs=2, batch_size=32, verbose=0)
    return model, x[256:]


ZOOS = {"dense": dense_zoo, "cnn": cnn_zoo, "skip": skip_zoo}
EXACT_LAYERS = {  # outputs on a fixed-point grid in QKeras: each must equal the C simulation's
    "dense": ["po2", "leaky", "btanh", "bin", "qtanh", "auto", "qsig", "b_none", "r5", "logits"],
    "cnn": ["conv", "pool", "dw", "convbn", "convbn_relu", "sep", "sep_relu", "avg", "gap", "logits"],
    "skip": ["c1", "c1_relu", "sep1", "relu", "add", "cat", "pool", "avg", "gmp", "logits"],
}


@pytest.fixture(scope="module")
def trained():
    return {name: _trained(build) for name, build in ZOOS.items()}


@pytest.fixture(scope="module")
def exports(trained, tmp_path_factory):
    """Every zoo model exported once per io type (Vivado); the cnn model also on Vitis."""
    out = {}
    runs = [(z, io, "Vivado") for z in ZOOS for io in ("io_parallel", "io_stream")] + [("cnn", "io_stream", "Vitis")]
    for zoo, io, backend in runs:
        model, x = trained[zoo]
        path = tmp_path_factory.mktemp(f"{zoo}_{io}_{backend}")
        out[zoo, io, backend] = export(model, str(path), x=x, io_type=io, backend=backend, force=True)
    return out


@pytest.mark.parametrize("zoo", list(ZOOS))
@pytest.mark.parametrize("io_type", ["io_parallel", "io_stream"])
def test_vocabulary_bit_exact(exports, zoo, io_type):
    res = exports[zoo, io_type, "Vivado"]
    assert res.max_abs_diff == 0.0 and res.agreement == 1.0 and res.bit_exact, res.layer_max_abs_diff
    assert res.first_mismatch_layer is None and res.n_samples == 64
    for name in EXACT_LAYERS[zoo]:
        assert res.layer_max_abs_diff[name] == 0.0, (name, res.layer_max_abs_diff)


def test_vitis_backend_bit_exact(exports):
    res = exports["cnn", "io_stream", "Vitis"]
    assert res.bit_exact and all(res.layer_max_abs_diff[n] == 0.0 for n in EXACT_LAYERS["cnn"])
    assert "Vitis" in open(os.path.join(res.output_dir, "hls4ml_config.yml")).read()


def test_exact_types_where_hls4ml_defaults_are_inexact(exports):
    """The types autoq derives where hls4ml leaves its 16-bit default (po2 accumulator, float relu, averages)."""
    dense = exports["dense", "io_parallel", "Vivado"].layer_precisions
    assert dense["po2"]["accum_t"] != "fixed<16,6,TRN,WRAP>"
    assert dense["leaky"]["result_t"].startswith("fixed<4,2,RND_CONV,SAT")  # signed: negative slope
    cnn = exports["cnn", "io_parallel", "Vivado"].layer_precisions
    assert cnn["conv_relu"]["result_t"] == cnn["conv"]["result_t"]  # a float relu keeps every bit
    assert cnn["gap"]["result_t"] != cnn["avg"]["result_t"]  # each average adds fraction bits
    assert dense["bnbt_tern_alpha"]  # hls4ml fused the alpha scale with binary_tanh: thresholds recomputed
    names = [n for n in exports["dense", "io_parallel", "Vivado"].layer_precisions]
    assert "input" not in names  # renamed: hls4ml reserves the name


def test_softmax_is_labelled_as_table_approximation(exports):
    res = exports["dense", "io_parallel", "Vivado"]
    assert res.compared_layer == "logits" and res.softmax_agreement is not None
    report = open(os.path.join(res.output_dir, "report.md")).read()
    assert "lookup-table approximation" in report and "bit-exact on logits" in report
    assert "64 samples from given array" in report
