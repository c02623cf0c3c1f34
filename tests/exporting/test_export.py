"""hls4ml export: real conversion, real g++ compile, bit-exact C simulation vs QKeras, bad-input errors."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from qkeras import QActivation, QDense, quantized_bits, quantized_relu

from helpers_models import tiny_qmodel
from helpers_search import HANG

from autoq.errors import ExportError, UnsupportedModelError
from autoq import export  # the API: the project with its report (report.json, report.md)
from autoq.exporting.pipeline import InvalidOptionError, MismatchError, OutputExistsError, load_source
from autoq.exporting.synth import ToolNotFoundError
from autoq.present.tables import format_result

REPO = Path(__file__).resolve().parents[2]
JET = Path(__file__).resolve().parents[1] / "data" / "jet-tagger"


def _tiny_model(seed=0):
    """16 inputs -> input_quant(8,3) -> QDense 8 (4-bit) -> relu(4,2) -> QDense 3 (4-bit), trained 3 epochs."""
    model = tiny_qmodel(seed)
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(256, 16)).astype(np.float32)
    y = tf.keras.utils.to_categorical((x[:, 0] + x[:, 1] > 0).astype(int) + (x[:, 2] > 1), 3)
    model.compile("adam", tf.keras.losses.CategoricalCrossentropy(from_logits=True))
    model.fit(x, y, epochs=3, batch_size=32, verbose=0)
    return model, x[:200], x[200:]


@pytest.fixture(scope="module")
def tiny():
    return _tiny_model()


@pytest.fixture(scope="module")
def exported(tiny, tmp_path_factory):
    """One compiled export shared by the tests below."""
    model, _, x_val = tiny
    out = tmp_path_factory.mktemp("exp") / "tiny"
    return export(model, str(out), x=x_val)


def test_project_is_complete(exported):
    out = Path(exported.output_dir)
    for name in ("firmware/myproject.cpp", "firmware/parameters.h", "firmware/weights", "build_prj.tcl",
                 "hls4ml_config.yml", "myproject_test.cpp", "project.tcl", "autoq_export.json", "report.json",
                 "report.md"):
        assert (out / name).exists(), name
    # real test vectors from x: one line per sample, values on the input type's grid (8 bits, 4 fractional)
    rows = (out / "tb_data" / "tb_input_features.dat").read_text().strip().splitlines()
    assert len(rows) == exported.n_samples == 56
    first = np.array(rows[0].split(), dtype=float)
    assert np.all(first * 16 == np.round(first * 16))
    assert len((out / "tb_data" / "tb_output_predictions.dat").read_text().strip().splitlines()) == 56
    # g++ really ran and the firmware left behind has no trace instrumentation
    assert list((out / "firmware").glob("myproject-*.so"))
    assert "trace_outputs->insert" not in (out / "firmware" / "myproject.cpp").read_text()
    # the hls4ml config travels to the synthesis machine: no tracing left on, no path of this machine in it
    cfg_text = (out / "hls4ml_config.yml").read_text()
    assert "Trace: true" not in cfg_text and str(out) not in cfg_text and "OutputDir: ." in cfg_text


def test_bit_exact_agreement(exported):
    assert exported.agreement == 1.0
    assert exported.max_abs_diff == 0.0
    assert exported.first_mismatch_layer is None and exported.bit_exact
    assert exported.compared_layer == "fc2"
    assert set(exported.layer_max_abs_diff) >= {"fc1", "fc1_relu", "fc2"}
    assert all(v == 0.0 for v in exported.layer_max_abs_diff.values())
    assert exported.input_precision == "fixed<8,4,RND_CONV,SAT>"
    assert exported.seconds_compile > 0 and exported.seconds_convert >= 0


def test_result_json_and_format(exported):
    saved = json.loads((Path(exported.output_dir) / "autoq_export.json").read_text())
    assert saved["agreement"] == 1.0 and saved["max_abs_diff"] == 0.0 and saved["bit_exact"] is True
    assert saved["estimate"]["total"]["mult_lut"] == exported.estimate.mult_lut > 0
    assert saved["hls_config"]["LayerName"]["fc1"]["Precision"]["weight"].startswith("fixed<4,1")
    text = format_result(exported)
    assert "bit-exact" in text and "100.00%" in text and "fc1" in text
    assert exported.to_dict()["output_dir"] == exported.output_dir


def test_jet_tagger_bit_exact(tmp_path):
    """The published 6-bit jet tagger: logits bit-exact on random standardized inputs; softmax is approximate."""
    model = tf.keras.models.model_from_json((JET / "qkeras_3layer.json").read_text(),
                                            custom_objects=_custom_objects())
    model.load_weights(str(JET / "qkeras_3layer_weights.h5"))
    x = np.random.default_rng(1).standard_normal((300, 16)).astype(np.float32)
    res = export(model, str(tmp_path / "jet"), x=x)
    assert res.compared_layer == "output"  # the logits feeding the float softmax
    assert res.agreement == 1.0 and res.max_abs_diff == 0.0 and res.first_mismatch_layer is None
    assert res.softmax_agreement is not None and res.softmax_agreement > 0.9
    assert any("softmax" in n for n in res.notes)
    # the estimate counts weights that are nonzero after the 6-bit quantizer (2706 of 4256)
    nnz = sum(int(np.count_nonzero(lay.quantizers[0](lay.get_weights()[0]))) for lay in model.layers
              if lay.get_weights())
    assert res.estimate.total("n_nonzero") == nnz < sum(lay.get_weights()[0].size for lay in model.layers
                                                        if lay.get_weights())


def _custom_objects():
    from qkeras.utils import _add_supported_quantized_objects

    co = {}
    _add_supported_quantized_objects(co)
    return co


def test_synth_without_tools_is_a_clear_error(tiny, tmp_path, monkeypatch):
    model, _, x_val = tiny
    monkeypatch.setenv("PATH", str(tmp_path))  # no vitis_hls here (check=False: no g++ needed)
    with pytest.raises(ToolNotFoundError) as err:
        export(model, str(tmp_path / "p"), x=x_val, synth=True, check=False)
    msg = str(err.value)
    assert "vitis_hls" in msg and "nothing was exported" in msg and "build_prj.tcl" in msg
    assert isinstance(err.value, ExportError)
    assert not (tmp_path / "p").exists()  # refused before any work, not after a conversion
    with pytest.raises(ToolNotFoundError, match="vivado_hls"):
        export(model, str(tmp_path / "q"), backend="Vivado", synth=True, check=False)
    assert not (tmp_path / "q").exists()


def test_existing_output_dir_refused_without_force(tiny, tmp_path):
    model, _, _ = tiny
    out = tmp_path / "prj"
    out.mkdir()
    (out / "my_notes.txt").write_text("keep me")
    with pytest.raises(OutputExistsError, match="force"):
        export(model, str(out), check=False)
    assert sorted(p.name for p in out.iterdir()) == ["my_notes.txt"]
    res = export(model, str(out), check=False, force=True)
    assert (out / "my_notes.txt").read_text() == "keep me"
    assert (out / "build_prj.tcl").exists() and res.agreement is None


def test_unsupported_layer_is_named(tmp_path):
    inp = tf.keras.Input((8,), name="x")
    h = QDense(4, kernel_quantizer=quantized_bits(4, 0, alpha=1), name="fc1")(inp)
    out = tf.keras.layers.LayerNormalization(name="my_norm")(h)
    with pytest.raises(UnsupportedModelError, match="my_norm.*LayerNormalization.*supported layers: .*QDense"):
        export(tf.keras.Model(inp, out), str(tmp_path / "u"))
    from qkeras import quantized_relu_po2

    inp = tf.keras.Input((8,), name="x")
    h = QDense(4, kernel_quantizer=quantized_bits(4, 0, alpha=1), name="fc")(inp)
    out = QActivation(quantized_relu_po2(4), name="po2_act")(h)
    with pytest.raises(UnsupportedModelError, match="po2_act.*quantized_relu_po2.*use one of"):
        export(tf.keras.Model(inp, out), str(tmp_path / "u2"))
    from qkeras import quantized_sigmoid

    out = QActivation(quantized_sigmoid(6, use_real_sigmoid=True), name="sig")(h)
    with pytest.raises(UnsupportedModelError, match="'sig'.*lookup table.*use the default"):
        export(tf.keras.Model(inp, out), str(tmp_path / "u3"))
    assert not any((tmp_path / d).exists() for d in ("u", "u2", "u3"))


def test_bad_options(tiny, tmp_path):
    model, _, _ = tiny
    with pytest.raises(InvalidOptionError, match="xcvu13p-flga2577-2-e"):
        export(model, str(tmp_path / "a"), part="virtex-big")
    with pytest.raises(InvalidOptionError, match="backend: expected Vitis or Vivado, got 'Quartus'"):
        export(model, str(tmp_path / "a"), backend="Quartus")
    with pytest.raises(InvalidOptionError, match="reuse_factor: must be a whole number from 1 to"):
        export(model, str(tmp_path / "a"), reuse_factor=0)
    with pytest.raises(ExportError, match="best_model.h5"):
        export(str(tmp_path), str(tmp_path / "a"))
    assert not (tmp_path / "a").exists()


def test_export_options_one_rule_wherever_they_come_from(tiny, tmp_path):
    """The API, the config's hls4ml section and the CLI's export parser refuse a bad option with the same words."""
    import subprocess
    import sys
    from autoq import export_options
    from autoq.config import parse_config
    from autoq.errors import ConfigError
    model, _, _ = tiny
    for key, value, flag in (("backend", "Quartus", "--backend"), ("io_type", "io_serial", "--io-type"),
                             ("strategy", "fastest", "--strategy"), ("clock_period", 0.0, None),
                             ("reuse_factor", 0, None)):
        with pytest.raises(InvalidOptionError) as api:
            export(model, str(tmp_path / "a"), **{key: value})
        words = str(api.value).split(": ", 1)[1]
        with pytest.raises(ConfigError) as cfg:
            parse_config(f"hls4ml: {{{key}: {value!r}}}")
        assert f"hls4ml.{key}: {words}" in str(cfg.value), (str(api.value), str(cfg.value))
        if flag:  # --backend with the same words; argparse words its refusal of a choice, listing the same table
            proc = subprocess.run([sys.executable, "-m", "autoq.cli", "export", str(tmp_path), flag, str(value)],
                                  capture_output=True, text=True, timeout=600)
            assert proc.returncode == 2, proc.stderr
            if key == "backend":
                assert words in proc.stderr, proc.stderr
            else:
                table = export_options.IO_TYPES if key == "io_type" else export_options.STRATEGIES
                assert "invalid choice" in proc.stderr and all(v in proc.stderr for v in table), proc.stderr


@pytest.fixture
def search_dir(tiny, tmp_path):
    """A finished-search directory: best_model.h5, summary.json, data_sample.npz."""
    model, _, x_val = tiny
    d = tmp_path / "jets_search"
    d.mkdir()
    model.save(str(d / "best_model.h5"))
    (d / "summary.json").write_text(json.dumps({"name": "jets_search", "best": {"trial": "0"}, "pareto": ["0"]}))
    np.savez(d / "data_sample.npz", x_val=x_val[:20], y_val=np.zeros(20))
    return d


def test_load_search_dir(search_dir, tiny):
    model, name, data = load_source(str(search_dir))
    assert name == "jets_search" and data["x_val"].shape == (20, 16)
    np.testing.assert_array_equal(model.predict(tiny[2], verbose=0), tiny[0].predict(tiny[2], verbose=0))


def test_cli_export_search_dir(search_dir, tmp_path):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    cmd = [sys.executable, "-m", "autoq.cli", "export", str(search_dir), "--part", "xcvu9p-flga2104-2L-e"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=HANG)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = tmp_path / "hls_projects" / "jets_search"  # default output dir, named after the search dir
    assert "bit-exact" in proc.stdout and (out / "build_prj.tcl").exists()
    # clean output: the check once (no second [autoq] line), no hls4ml chatter, the estimate's columns explained
    assert proc.stdout.count("C simulation vs QKeras") == 1 and "Recompiling" not in proc.stdout
    assert "columns: w/x bits = weight / input bit widths" in proc.stdout
    saved = json.loads((out / "autoq_export.json").read_text())
    assert saved["x_source"].startswith("search validation data") and "data_sample.npz" in saved["x_source"]
    assert saved["n_samples"] == 20 and saved["max_abs_diff"] == 0.0
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=HANG)
    assert proc.returncode == 2 and "--force" in proc.stderr
    assert any(line.startswith("error:") for line in proc.stderr.splitlines())
    shutil.rmtree(out)


def test_conv_ternary_po2_model_bit_exact(tmp_path):
    """QConv2D + max pooling + flatten + ternary and po2 QDense + float softmax: logits bit-exact."""
    from qkeras import QConv2D, quantized_po2, ternary

    tf.keras.utils.set_random_seed(0)
    inp = tf.keras.Input((8, 8, 1), name="img")
    h = QActivation(quantized_bits(6, 2, alpha=1), name="input_quant")(inp)
    h = QConv2D(4, 3, kernel_quantizer=quantized_bits(5, 0, alpha=1), bias_quantizer=quantized_bits(5, 0, alpha=1),
                name="conv")(h)
    h = QActivation(quantized_relu(5, 2), name="conv_relu")(h)
    h = tf.keras.layers.MaxPooling2D(2, name="pool")(h)
    h = tf.keras.layers.Flatten(name="flat")(h)
    h = QDense(5, kernel_quantizer=ternary(alpha=1), bias_quantizer=quantized_bits(8, 3, alpha=1), name="fc")(h)
    h = QActivation(quantized_relu(6, 3), name="fc_relu")(h)
    h = QDense(3, kernel_quantizer=quantized_po2(4), bias_quantizer=quantized_bits(8, 3, alpha=1), name="logits")(h)
    out = tf.keras.layers.Activation("softmax", name="softmax")(h)
    x = np.random.default_rng(0).normal(size=(50, 8, 8, 1)).astype(np.float32)
    res = export(tf.keras.Model(inp, out, name="conv"), str(tmp_path / "conv"), x=x)
    assert res.compared_layer == "logits" and res.bit_exact and res.first_mismatch_layer is None
    assert all(res.layer_max_abs_diff[n] == 0.0 for n in ("conv", "conv_relu", "pool", "fc", "fc_relu", "logits"))
    layers = {lay.name: lay for lay in res.estimate.layers}
    assert layers["fc"].weight_type == "ternary" and layers["fc"].mult_dsp == 0


def test_mismatch_is_an_error_naming_the_first_layer(tmp_path, capsys):
    """A float Dense layer is not bit-exact: the export fails naming it; --allow-mismatch writes it anyway."""
    tf.keras.utils.set_random_seed(0)
    inp = tf.keras.Input((16,), name="x")
    h = QActivation(quantized_bits(8, 3, alpha=1), name="input_quant")(inp)
    h = QDense(8, kernel_quantizer=quantized_bits(4, 0, alpha=1), bias_quantizer=quantized_bits(4, 0, alpha=1),
               name="fc1")(h)
    h = QActivation(quantized_relu(4, 2), name="fc1_relu")(h)
    out = tf.keras.layers.Dense(3, name="float_fc")(h)
    x = np.random.default_rng(0).normal(size=(50, 16)).astype(np.float32)
    model = tf.keras.Model(inp, out)
    with pytest.raises(MismatchError, match="first differing layer 'float_fc'.*allow-mismatch") as err:
        export(model, str(tmp_path / "m"), x=x)
    assert not (tmp_path / "m").exists()  # no project from a failed check
    assert err.value.result.max_abs_diff > 0 and err.value.result.layer_max_abs_diff["fc1_relu"] == 0.0
    res = export(model, str(tmp_path / "m"), x=x, allow_mismatch=True)
    assert res.max_abs_diff > 0 and not res.bit_exact and res.first_mismatch_layer == "float_fc"
    assert "NOT bit-exact" in capsys.readouterr().err
    assert "NOT bit-exact" in format_result(res) and any("float_fc" in n for n in res.notes)
    assert (tmp_path / "m" / "build_prj.tcl").exists()
    report = (tmp_path / "m" / "report.md").read_text()
    assert "NOT bit-exact" in report and "first differing layer: float_fc" in report


def test_wrong_x_shape(tiny, tmp_path):
    with pytest.raises(ExportError, match=r"model expects \(n_samples, 16\)"):
        export(tiny[0], str(tmp_path / "w"), x=np.zeros((4, 5)))


@pytest.mark.parametrize("relu", [(2, 2), (3, 3), (4, 4)])
def test_activation_without_fraction_bits_bit_exact(tmp_path, relu):
    """quantized_relu(b, b) has no fractional bits: hls4ml alone would give it uint<b> (truncate, wrap)."""
    tf.keras.utils.set_random_seed(1)
    inp = tf.keras.Input((16,), name="x")
    h = QActivation(quantized_bits(8, 3, alpha=1), name="input_quant")(inp)
    h = QDense(12, kernel_quantizer=quantized_bits(3, 0, alpha=1), bias_quantizer=quantized_bits(8, 3, alpha=1),
               name="fc1")(h)
    h = QActivation(quantized_relu(*relu), name="fc1_relu")(h)
    out = QDense(4, kernel_quantizer=quantized_bits(4, 0, alpha=1), bias_quantizer=quantized_bits(8, 3, alpha=1),
                 name="fc2")(h)
    x = np.random.default_rng(1).normal(size=(200, 16)).astype(np.float32) * 3
    res = export(tf.keras.Model(inp, out, name=f"relu{relu[0]}{relu[1]}"), str(tmp_path / "p"), x=x)
    assert res.layer_max_abs_diff["fc1_relu"] == 0.0, res.layer_max_abs_diff
    assert res.agreement == 1.0 and res.max_abs_diff == 0.0 and res.bit_exact
