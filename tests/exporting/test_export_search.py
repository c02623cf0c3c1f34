"""Search and export agree: a CNN with batch norm and pooling on digits, searched (batch norms folded) and exported
bit-exactly end to end; any Pareto trial exports with the search's data or a given .npz; hls4ml settings merge;
a mismatch exits non-zero; config validation refuses what the export could not reproduce."""

import json
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pytest
import tensorflow as tf
import yaml

from autoq.cli import main as cli
from autoq.config import parse_config
from autoq.errors import ConfigError, SpaceError

# configs/digits-cnn.yaml, the README's example, at a tiny budget
CONFIG = yaml.safe_load((Path(__file__).resolve().parents[2] / "configs" / "digits-cnn.yaml").read_text())
CONFIG["train"].update(epochs=2, patience=0, float_epochs=6)
CONFIG["search"].update(max_trials=2, output_dir="out")
CONFIG["hls4ml"]["output_dir"] = "hls"


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    """`autoq search` of the batch-norm CNN with an hls4ml section: the winner is exported at the end."""
    d = tmp_path_factory.mktemp("bn_search")
    (d / "bn.yaml").write_text(yaml.safe_dump(CONFIG))
    cwd = os.getcwd()
    os.chdir(d)
    try:
        assert cli(["search", "bn.yaml", "--quiet"]) == 0
    finally:
        os.chdir(cwd)
    return d


def _export(*args, cwd):
    here = os.getcwd()
    os.chdir(cwd)
    try:
        return cli(["export", *map(str, args)])
    finally:
        os.chdir(here)


def test_bn_cnn_searched_and_exported_bit_exact(searched):
    saved = json.loads((searched / "hls" / "autoq_export.json").read_text())
    assert saved["bit_exact"] and saved["max_abs_diff"] == 0.0 and saved["n_samples"] == 360
    assert saved["compared_layer"] == "output" and saved["softmax_agreement"] is not None
    assert "bn1" not in saved["layer_max_abs_diff"] and "bn2" not in saved["layer_max_abs_diff"]  # folded
    assert saved["layer_max_abs_diff"]["conv1"] == 0.0 and saved["layer_max_abs_diff"]["gap"] == 0.0
    assert saved["hls_config"]["LayerName"]["conv2"]["ReuseFactor"] == 2  # the hls4ml: section's setting
    params = (searched / "hls" / "firmware" / "parameters.h").read_text()
    assert "reuse_factor = 2;" in params


def test_any_trial_exports_with_the_search_data_or_a_file(searched, capsys):
    trials = sorted(p.name for p in (searched / "out" / "trials").iterdir() if (p / "model.h5").is_file())
    assert len(trials) >= 2
    assert _export("out", "--trial", trials[0], "--output", "t0", "--io-type", "io_parallel", cwd=searched) == 0
    saved = json.loads((searched / "t0" / "autoq_export.json").read_text())
    assert saved["bit_exact"] and "search validation data" in saved["x_source"] and saved["n_samples"] == 360
    x = np.load(searched / "out" / "data_sample.npz")["x_val"][:40]
    np.savez(searched / "mine.npz", x_test=x)
    assert _export("out", "--trial", trials[1], "--data", "mine.npz", "--output", "t1", cwd=searched) == 0
    saved = json.loads((searched / "t1" / "autoq_export.json").read_text())
    assert saved["bit_exact"] and saved["n_samples"] == 40 and "mine.npz" in saved["x_source"]
    capsys.readouterr()
    assert _export("out", "--trial", "nope", "--output", "t2", cwd=searched) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "trial 'nope' has no saved model" and trials[0] in err


def test_bare_h5_uses_random_inputs_and_says_so(searched, capsys):
    assert _export("out/best_model.h5", "--output", "bare", cwd=searched) == 0
    captured = capsys.readouterr()
    assert "RANDOM" in captured.out and "random" in captured.err.lower()
    assert "RANDOM standard-normal inputs" in (searched / "bare" / "report.md").read_text()


def test_precision_override_warns_and_a_mismatch_fails(searched, capsys):
    (searched / "bad.yml").write_text(yaml.safe_dump({"LayerName": {"conv1": {"Precision": {"result": "fixed<6,3>"}},
                                                                    "output": {"ReuseFactor": 4}}}))
    assert _export("out", "--hls-config", "bad.yml", "--output", "bad", cwd=searched) == 2
    err = capsys.readouterr().err
    assert "LayerName.conv1.Precision.result = fixed<6,3> overrides autoq's exact type" in err
    assert "error: C simulation is NOT bit-exact" in err and "first differing layer 'conv1'" in err
    assert not (searched / "bad").exists()
    assert _export("out", "--hls-config", "bad.yml", "--output", "bad", "--allow-mismatch", cwd=searched) == 0
    assert "NOT bit-exact" in (searched / "bad" / "report.md").read_text()
    capsys.readouterr()
    assert cli(["report", str(searched / "bad")]) == 0
    assert "first differing layer: conv1" in capsys.readouterr().out


def test_config_refuses_unexportable_quantizers_before_training():
    text = yaml.safe_dump({"space": {"default": {"kernel": ["quantized_bits(4,0,alpha=1)",
                                                            "quantized_bits(4,0,alpha=0.5)"]}}})
    with pytest.raises(ConfigError, match=r"c.yaml:5: space.default.kernel\[1\]: .*alpha=0.5.*bit-exactly"):
        parse_config(text, source="c.yaml")
    text = yaml.safe_dump({"space": {"layers": {"fc.*": {"bias": "quantized_po2(4)"}}}})
    with pytest.raises(ConfigError, match=r"c.yaml:4: space.layers.fc.\*.bias: quantized_po2.*use quantized_bits"):
        parse_config(text, source="c.yaml")


def test_space_refuses_an_average_the_export_cannot_reproduce():
    from autoq.space import analyse

    inp = tf.keras.Input((6, 6, 1), name="x")
    h = tf.keras.layers.Conv2D(2, 1, name="conv")(inp)
    out = tf.keras.layers.GlobalAveragePooling2D(name="gap")(h)
    cfg = parse_config(yaml.safe_dump({"space": CONFIG["space"]})).space
    with pytest.raises(SpaceError, match="'gap'.*averages 36 values.*could not be exported"):
        analyse(tf.keras.Model(inp, out), cfg)


def test_batchnorm_folded_into_the_kernel():
    """The quantized model has no batch norm left and, with fine quantizers, computes what the float model does."""
    from autoq.models import bn_cnn
    from autoq.space import analyse, build_qmodel

    tf.keras.utils.set_random_seed(0)
    model = bn_cnn()
    rng = np.random.default_rng(0)
    for name in ("bn1", "bn2"):
        bn = model.get_layer(name)
        n = bn.gamma.shape[0]
        bn.set_weights([rng.uniform(0.5, 2, n), rng.normal(0, 0.5, n), rng.normal(0, 0.5, n), rng.uniform(0.2, 3, n)])
    fine = {"default": {"kernel": "quantized_bits(24,8,alpha=1)", "bias": "quantized_bits(24,8,alpha=1)",
                        "activation": "quantized_relu(24,8)"}, "input_quantizer": None}
    space = analyse(model, parse_config(yaml.safe_dump({"space": fine})).space)
    assert {s.layer for s in space.slots} >= {"conv1", "conv2"} and "bias" in space.slots[0].roles  # conv1: no bias
    qmodel = build_qmodel(model, space.uniform())
    assert not [lay for lay in qmodel.layers if "BatchNormalization" in type(lay).__name__]
    x = rng.normal(size=(32, 64)).astype(np.float32)
    np.testing.assert_allclose(qmodel.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-3)


def test_fpga_cost_is_the_exports_figure(searched):
    """One number: the winner's `fpga` in trials.csv (priced under the config's hls4ml settings, io_stream here) is
    the LUT + DSP the export reports, with its unit and the part's share in report.md."""
    import csv
    summary = json.loads((searched / "out" / "summary.json").read_text())
    best = summary["best"]["trial"]
    rows = {r["trial"]: r for r in csv.DictReader(open(searched / "out" / "trials.csv"))}
    saved = json.loads((searched / "hls" / "autoq_export.json").read_text())
    est = saved["estimate"]
    assert est["io_type"] == "io_stream" and est["fpga"]["unit"].startswith("LUT + DSP")
    assert float(rows[best]["fpga"]) == est["fpga"]["value"] == est["total"]["luts"] + est["total"]["dsps"]
    report_md = (searched / "hls" / "report.md").read_text()
    assert f"fpga cost (the search's `fpga`): {est['fpga']['value']} LUT + DSP" in report_md
    assert "share of xcvu13p-flga2577-2-e: LUT " in report_md
