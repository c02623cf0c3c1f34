"""End-to-end searches with real TensorFlow training on scikit-learn's digits."""
import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from helpers_search import HANG

import autoq
from autoq.config import load_config
from autoq.data.sources import load_dataset
from autoq.searching.result import load_model

ROOT = Path(__file__).resolve().parents[2]

TINY = {
    "name": "tiny",
    "seed": 3,
    "model": {"builder": "autoq.models:mlp", "kwargs": {"input_dim": 64, "hidden": [16], "n_classes": 10}},
    "data": {"source": "digits"},
    "train": {"epochs": 3, "patience": 0, "batch_size": 64, "float_epochs": 8, "learning_rate": 0.01},
    "space": {"input_quantizer": "quantized_bits(8,3,alpha=1)",
              "default": {"kernel": ["quantized_bits({2..6},0,alpha=1)", "ternary(alpha=1)"],
                          "bias": ["quantized_bits(8,3,alpha=1)"],
                          "activation": ["quantized_relu({3..6},2)"]}},
    "search": {"algorithm": "random", "max_trials": 3},
    "baselines": [{"name": "Q4", "kernel": "quantized_bits(4,0,alpha=1)", "activation": "quantized_relu(4,2)"}],
}


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    """A 3-trial search run through the real command line."""
    tmp = tmp_path_factory.mktemp("cli")
    cfg = tmp / "tiny.yaml"
    cfg.write_text(yaml.safe_dump(TINY))
    out = tmp / "out"
    proc = subprocess.run([sys.executable, "-m", "autoq.cli", "search", str(cfg), "--output", str(out)],
                          capture_output=True, text=True, timeout=HANG)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return cfg, out, proc.stdout


def test_cli_search_writes_every_output(cli_run):
    cfg, out, stdout = cli_run
    for name in ("best_model.h5", "trials.csv", "pareto.csv", "pareto.png", "summary.json", "state.json"):
        assert (out / name).is_file(), name
    rows = list(csv.DictReader((out / "trials.csv").open()))
    assert [r["trial"] for r in rows] == ["0", "1", "2"]
    for r in rows:
        assert r["status"] == "ok"
        assert 0.3 < float(r["val_accuracy"]) <= 1
        assert float(r["energy"]) > 0 and int(r["bits"]) > 0 and int(r["bops"]) > 0 and float(r["seconds"]) > 0
        assert r["fc1.kernel"] and r["fc1.activation"] and r["output.bias"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["trials"] == 3 and summary["best"]["trial"] in summary["pareto"]
    assert set(summary["baselines"]) == {"float", "Q4"}
    assert 0.3 < summary["float_test_accuracy"] <= 1 and 0.3 < summary["best_test_accuracy"] <= 1
    from importlib import metadata  # the pins themselves: test_install.py
    assert summary["versions"]["tensorflow"] == metadata.version("tensorflow") and \
        summary["versions"]["qkeras"] == "0.9.0"
    assert (out / "pareto.png").read_bytes()[:4] == b"\x89PNG"
    # a line when each trial starts (its choice in short) and one when it ends, one numbering everywhere
    starts = [l for l in stdout.splitlines() if " starts: " in l]
    ends = [l for l in stdout.splitlines() if l.startswith("[autoq] trial ") and " | acc " in l]
    assert [l.split()[2] for l in starts] == [l.split()[2] for l in ends] == [r["trial"] for r in rows]
    assert all("fc1 k" in l and " a" in l for l in starts), starts
    assert "3/3 done" in ends[-1] and "elapsed" in ends[-1] and "left" in ends[-1]
    best = summary["best"]["trial"]
    assert f"(trial {best})" in ends[-1] and f"[autoq] best: trial {best}," in stdout
    assert "layer" in stdout and "energy pJ" in stdout and "fc1" in stdout
    # the front is computed against the baselines too: no trial on it is dominated by one
    front = list(csv.DictReader((out / "pareto.csv").open()))
    q4 = summary["baselines"]["Q4"]
    for r in front:
        assert not (q4["val_accuracy"] >= float(r["val_accuracy"]) and q4["energy"] <= float(r["energy"])
                    and r["trial"] != "baseline Q4"), (r, q4)
    assert [r["trial"] for r in front if not r["trial"].startswith("baseline")] == summary["pareto"]
    assert ("baseline Q4" in [r["trial"] for r in front]) == ("Q4" in summary["pareto_baselines"])
    assert {r["dataset"] for r in rows} == {r["dataset"] for r in front} == {"digits"}


def test_best_weights_kept_without_retraining(cli_run):
    cfg, out, _ = cli_run
    summary = json.loads((out / "summary.json").read_text())
    best = summary["best"]
    data = load_dataset(load_config(cfg).data)
    model = load_model(out / "best_model.h5")
    assert type(model.get_layer("fc1")).__name__ == "QDense"
    acc = float(np.mean(model.predict(data.x_val, verbose=0).argmax(1) == data.y_val.argmax(1)))
    assert acc == pytest.approx(best["val_accuracy"], abs=1e-6)
    # the kernel the winner was saved with is the trial's own file, byte for byte in weights
    trial_model = load_model(out / best["model"])
    for a, b in zip(model.get_weights(), trial_model.get_weights()):
        np.testing.assert_array_equal(a, b)
    # also loadable with plain QKeras, as users will
    from qkeras.utils import load_qmodel
    assert load_qmodel(str(out / "best_model.h5"), compile=False).count_params() == model.count_params()


def test_front_carries_its_test_metric(cli_run):
    """Every model on the front (trials and baselines) is scored once on the test split at the end: pareto.csv and
    summary.json carry it, equal to the saved model's test accuracy; the sample counts behind the error bars too."""
    cfg, out, _ = cli_run
    summary = json.loads((out / "summary.json").read_text())
    data = load_dataset(load_config(cfg).data)
    assert (summary["val_samples"], summary["test_samples"]) == (len(data.x_val), len(data.x_test)) == (360, 360)
    front = list(csv.DictReader((out / "pareto.csv").open()))
    assert front and set(summary["test_metric"]) == {r["trial"] for r in front}
    for r in front:
        model = load_model(out / r["model"])
        acc = float(np.mean(model.predict(data.x_test, verbose=0).argmax(1) == data.y_test.argmax(1)))
        assert float(r["test_metric"]) == pytest.approx(acc, abs=1e-5)
        assert summary["test_metric"][r["trial"]] == pytest.approx(acc, abs=1e-9)
    assert summary["test_metric"][summary["best"]["trial"]] == summary["best_test_accuracy"]


def test_show_prints_summary(cli_run):
    _, out, _ = cli_run
    proc = subprocess.run([sys.executable, "-m", "autoq.cli", "show", str(out)], capture_output=True, text=True,
                          timeout=HANG)
    assert proc.returncode == 0, proc.stderr
    assert "best: trial" in proc.stdout and "Pareto front" in proc.stdout and "baseline Q4" in proc.stdout


def test_python_api_with_arrays(tmp_path):
    """autoq.search(model, (x, y), config) -> SearchResult, as in a notebook."""
    from sklearn.datasets import load_iris
    import tensorflow as tf
    x, y = load_iris(return_X_y=True)
    from autoq.models import mlp
    model = mlp(4, (8,), 3)
    model.compile("adam", "categorical_crossentropy")
    model.fit(x, tf.keras.utils.to_categorical(y), epochs=20, verbose=0)
    cfg = dict(TINY, data={"source": "arrays"}, baselines=[])
    cfg["search"] = {"algorithm": "bayesian", "max_trials": 2}
    lines = []
    res = autoq.search(model, (x, y), cfg, output_dir=tmp_path / "api", log=lambda *a, **k: lines.append(a[0]))
    assert len(res.trials) == 2 and res.pareto and res.best["status"] == "ok"
    assert res.best_model.count_params() > 0
    fig = res.plot()
    assert fig.axes[0].get_xlabel().startswith("energy")
    assert "fc1" in res.table()
    again = autoq.load_result(tmp_path / "api")
    assert again.best["trial"] == res.best["trial"] and len(again.trials) == 2
    assert any("2/2 done" in line for line in lines) and any(" starts: fc1 k" in line for line in lines)


def test_default_digits_config_meets_its_promise(tmp_path):
    """The README's main job: configs/digits.yaml unchanged (10 trials) -> a Pareto front that offers a model
    within 3 accuracy points of the float model at <= 25% of its energy (the float model priced as 16-bit fixed
    point), and a winner on that front at <= 25% of the energy.

    The promise is on the front, not on the winner's accuracy: which front point the score picks flips with the
    last digit of an accuracy, and TensorFlow 2.14 and 2.21 train to slightly different numbers (on 2.21 the
    winner is the 9%-energy point at 4.4 points below float, a 22%-energy point 0.3 points below float is on the
    front beside it)."""
    res = autoq.search(config=ROOT / "configs" / "digits.yaml", output_dir=tmp_path / "digits", verbose=False)
    s = res.summary
    assert s["trials"] == 10
    front = {r["trial"]: r for r in res.pareto}
    assert any(r["val_accuracy"] >= s["float_val_accuracy"] - 0.03 and r["energy"] <= 0.25 * s["reference_cost"]
               for r in front.values()), (s["float_val_accuracy"], s["reference_cost"], front)
    assert res.best["trial"] in front and res.best["energy"] <= 0.25 * s["reference_cost"]


def test_search_with_hls4ml_section_exports_the_winner(tmp_path):
    """An `hls4ml:` section makes `autoq search` end with a bit-exact export of the winner."""
    cfg = dict(TINY, baselines=[], hls4ml={"backend": "Vitis", "output_dir": str(tmp_path / "proj"),
                                          "clock_period": 5.0})
    cfg["search"] = {"algorithm": "random", "max_trials": 2}
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(cfg))
    proc = subprocess.run([sys.executable, "-m", "autoq.cli", "search", str(path), "--output", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=HANG)
    assert proc.returncode == 0, proc.stderr[-3000:]
    proj = tmp_path / "proj"
    assert (proj / "firmware").is_dir() and (proj / "build_prj.tcl").is_file() and (proj / "tb_data").is_dir()
    exp = json.loads((proj / "autoq_export.json").read_text())
    assert exp["agreement"] == 1.0 and exp["max_abs_diff"] == 0.0
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["export"] == str(proj)


def test_hyperband_promotes_and_continues_trials(tmp_path):
    """Hyperband: later rounds continue an earlier trial's trained weights for more epochs."""
    cfg = dict(TINY, baselines=[], train={**TINY["train"], "epochs": 4})
    cfg["search"] = {"algorithm": "hyperband", "max_trials": 5}
    lines = []
    res = autoq.search(config=cfg, output_dir=tmp_path / "hb", log=lambda *a, **k: lines.append(a[0]))
    warm = [r for r in res.trials if r.get("warm_start")]
    assert warm, "no trial was promoted"
    ids = {r["trial"] for r in res.trials}
    for r in warm:
        assert r["warm_start"].split("/")[1] in ids and r["epochs"] >= 1
    assert (tmp_path / "hb" / "summary.json").is_file()
    assert not any("/5 |" in line for line in lines if "] trial " in line)  # hyperband sizes its own brackets


def test_front_counts_baselines_and_the_float_model_is_no_front_point():
    from autoq.searching.fronts import front_points
    trials = [{"trial": "0", "status": "ok", "val_metric": 0.90, "energy": 100.0},
              {"trial": "1", "status": "ok", "val_metric": 0.95, "energy": 300.0},
              {"trial": "2", "status": "ok", "val_metric": 0.93, "energy": 250.0}]
    baselines = {"float": {"val_metric": 0.99, "energy": 1000.0}, "Q4": {"val_metric": 0.94, "energy": 200.0}}
    front = front_points(trials, baselines, "energy")
    assert [p["trial"] for p in front] == ["0", "baseline Q4", "1"]  # Q4 dominates trial 2; float is the reference


def test_synthetic_data_is_named_in_every_output(tmp_path):
    cfg = tmp_path / "synth.yaml"
    cfg.write_text(yaml.safe_dump({**TINY, "data": {"source": "jets-synthetic", "n_samples": 1500},
                                   "model": {"builder": "autoq.models:mlp",
                                             "kwargs": {"input_dim": 16, "hidden": [8], "n_classes": 5}},
                                   "search": {"algorithm": "random", "max_trials": 2}, "baselines": []}))
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "autoq.cli", "search", str(cfg), "--output", str(out)],
                          capture_output=True, text=True, timeout=HANG)
    assert proc.returncode == 0, proc.stderr[-3000:]
    best = [l for l in proc.stdout.splitlines() if l.startswith("[autoq] best:")]
    assert len(best) == 1 and "SYNTHETIC" in best[0]
    for name in ("trials.csv", "pareto.csv", "summary.json", "state.json"):
        assert "SYNTHETIC" in (out / name).read_text(), name
    summary = json.loads((out / "summary.json").read_text())
    from autoq.present.plots import plot_title
    assert plot_title(summary) == "tiny: 2 trials (random) on jets-synthetic - SYNTHETIC data"
