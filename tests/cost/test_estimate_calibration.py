"""The calibrated FPGA estimate: the public synthesis data file parses and the committed error table is what
benchmarks/bench_calibration.py computes; io_stream and io_parallel differ where hls4ml's implementations do; a
float model exports at hls4ml's default precision (or exact types when asked) and a design too large for its part
is reported with a WARNING."""

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tensorflow as tf
from qkeras import QActivation, QConv2D, QDense, quantized_bits, quantized_relu

from autoq.cost.estimate import _fifo, estimate, part_resources
from autoq import export  # the API: the project with its report.md

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "benchmarks" / "data" / "hls4ml_synthesis.csv"
REQUIRED = ("design", "source", "model", "part", "clock_ns", "io_type", "strategy", "reuse_factor", "report")


def test_calibration_data_parses_and_the_committed_table_is_reproduced(tmp_path):
    rows = list(csv.DictReader(open(DATA, newline="")))
    assert len(rows) >= 5 and len({r["design"] for r in rows}) == len(rows)
    for r in rows:
        assert None not in r and all(r[k].strip() for k in REQUIRED), r["design"]
        assert r["io_type"] in ("io_parallel", "io_stream") and r["strategy"] in ("latency", "resource")
        assert part_resources(r["part"]) is not None and float(r["clock_ns"]) > 0 and int(r["reuse_factor"]) >= 1
        assert any(r[k] for k in ("lut", "ff", "dsp", "bram18", "latency_cycles", "ii")), r["design"]
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "bench_calibration.py"), "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = json.loads((tmp_path / "calibration.json").read_text())
    committed = json.loads((REPO / "benchmarks" / "results" / "calibration.json").read_text())
    assert got == committed
    assert (tmp_path / "calibration.md").read_text() == (REPO / "benchmarks" / "results" / "calibration.md").read_text()
    assert got["figures"]["dsp"]["points"] >= 4 and "lut_ff_dsp_within_2x" in got


def _cnn():
    inp = tf.keras.Input((16, 16, 1), name="x")
    h = QActivation(quantized_bits(8, 0, alpha=1), name="q_in")(inp)
    h = QConv2D(8, 3, kernel_quantizer=quantized_bits(6, 0, alpha=1), bias_quantizer=quantized_bits(6, 0, alpha=1),
                name="conv")(h)
    h = QActivation(quantized_relu(6), name="relu")(h)
    h = tf.keras.layers.MaxPooling2D(2, name="pool")(h)
    h = tf.keras.layers.Flatten(name="flat")(h)
    out = QDense(10, kernel_quantizer=quantized_bits(6, 0, alpha=1), bias_quantizer=quantized_bits(6, 0, alpha=1),
                 name="fc")(h)
    model = tf.keras.Model(inp, out)
    rng = np.random.default_rng(0)
    model.set_weights([rng.uniform(-1, 1, w.shape).astype("float32") for w in model.get_weights()])
    return model


def test_io_stream_and_io_parallel_differ_for_a_cnn():
    model = _cnn()
    par = estimate(model, io_type="io_parallel", part="xc7z020clg400-1")
    stream = estimate(model, io_type="io_stream", part="xc7z020clg400-1")
    lp, ls = ({layer.name: layer for layer in e.layers} for e in (par, stream))
    # the same multipliers (the conv kernel is shared over pixels either way) ...
    assert (lp["conv"].dsps, lp["conv"].mult_lut) == (ls["conv"].dsps, ls["conv"].mult_lut)
    # ... but io_parallel's ReLU and pooling span the whole 14x14x8 tensor, io_stream's one pixel's 8 channels
    assert lp["relu"].luts == 14 * 14 * 8 * 6 and ls["relu"].luts == 8 * 6
    assert lp["pool"].luts == 7 * 7 * 8 * 3 * 6 and ls["pool"].luts == 8 * 3 * 6
    # io_stream adds FIFOs after every layer and a line buffer of (3 - 1) rows of 16 pixels x 8 bits for the conv
    fifos = [layer for layer in stream.layers if layer.kind == "FIFO"]
    assert fifos and not any(layer.kind == "FIFO" for layer in par.layers)
    assert any(layer.name == "conv_linebuffer" for layer in fifos)
    assert stream.luts < par.luts and stream.latency_cycles > par.latency_cycles
    assert stream.interval_cycles >= 14 * 14 and par.interval_cycles == 14 * 14


def test_a_depthwise_convolution_has_its_multipliers_adders_and_latency():
    """A depthwise kernel (3x3 per channel, 3 channels): one constant multiplier per nonzero weight, each output
    channel an adder tree of its own 9 products (not one of all 27), a zeroed channel free, output pixels x reuse +
    the tree's depth in cycles; io_stream adds its line buffer. It used to be priced as nothing at all."""
    from qkeras import QDepthwiseConv2D
    inp = tf.keras.Input((6, 6, 3), name="x")
    h = QActivation(quantized_bits(8, 0, alpha=1), name="q_in")(inp)
    h = QDepthwiseConv2D(3, depthwise_quantizer=quantized_bits(6, 0, alpha=1),
                         bias_quantizer=quantized_bits(6, 0, alpha=1), name="dw")(h)
    out = QDense(2, kernel_quantizer=quantized_bits(6, 0, alpha=1), name="fc")(tf.keras.layers.Flatten()(h))
    model = tf.keras.Model(inp, out)
    rng = np.random.default_rng(0)
    model.set_weights([rng.uniform(-1, 1, w.shape).astype("float32") for w in model.get_weights()])
    k = model.get_layer("dw").get_weights()
    k[0][:, :, 2, 0] = 0  # the third channel pruned
    model.get_layer("dw").set_weights(k)
    dw = {le.name: le for le in estimate(model, clock_period=5.0).layers}["dw"]
    nonzero = int(np.count_nonzero(model.get_layer("dw").quantizers[0](k[0]).numpy()))
    assert dw.n_weights == 27 and dw.n_nonzero == nonzero <= 18
    assert dw.mult_dsp + dw.mult_lut == nonzero and dw.input_bits == 8
    assert dw.luts > 0 and dw.ffs > 0
    assert dw.latency_cycles == 4 * 4 + 1 + 2 + 1  # 16 pixels; ceil(log2 9) = 4 tree levels, 2 per 5 ns cycle
    stream = estimate(model, io_type="io_stream")
    line = {le.name: le for le in stream.layers}["dw_linebuffer"]  # (3 - 1) rows of 6 pixels x 3 channels x 8 bits
    assert line == _fifo("dw_linebuffer", 2 * 6, 3 * 8)


def test_resource_strategy_and_reuse_divide_multipliers_and_use_bram():
    model = _cnn()
    one = estimate(model, part="xcvu9p-flga2577-2-e")
    res = estimate(model, reuse_factor=4, strategy="resource", part="xcvu9p-flga2577-2-e")
    fc1, fc4 = ({layer.name: layer for layer in e.layers}["fc"] for e in (one, res))
    assert fc4.mult_lut == -(-fc4.n_nonzero // 4) and fc4.interval_cycles == 4
    assert fc4.bram18 > 0 and fc1.bram18 == 0  # 392 x 10 weights of 6 bits in 4 words: over 1 kb


def test_float_model_exports_at_hls4ml_default_precision_and_warns_when_it_does_not_fit(tmp_path, capsys):
    tf.keras.utils.set_random_seed(0)
    model = tf.keras.Sequential([tf.keras.layers.Dense(64, input_shape=(32,), activation="relu", name="fc1"),
                                 tf.keras.layers.Dense(10, name="fc2")])
    x = np.random.default_rng(0).normal(size=(20, 32)).astype("float32")
    res = export(model, str(tmp_path / "d"), x=x, part="xc7z020clg400-1", check=False)
    types = [res.layer_precisions[n][t] for n in ("fc1", "fc2") for t in ("result_t", "accum_t")]
    assert all(t.startswith("fixed<16,6,") for t in types), types
    assert any("float model: hls4ml's default precision fixed<16,6>" in n for n in res.notes)
    # 2,688 16 x 16-bit products on a 220-DSP part: the estimate says it does not fit, and the export warns
    assert res.estimate.dsps > 220 and res.estimate.overflows()
    err = capsys.readouterr().err
    assert "WARNING: the estimate does not fit xc7z020clg400-1:" in err and f"DSP {res.estimate.dsps} > 220" in err
    assert "WARNING: the estimate does not fit" in (tmp_path / "d" / "report.md").read_text()
    exact = export(model, str(tmp_path / "e"), x=x, part="xc7z020clg400-1", check=False, exact_float=True)
    assert not exact.layer_precisions["fc1"]["accum_t"].startswith("fixed<16,6,")
    assert any("exact types" in n for n in exact.notes)
