"""Searches beyond argmax classification: regression (MSE), autoencoders (reconstruction error), any Keras metric or
a metric function of the user's, on data that ships with scikit-learn (real training, tiny budgets)."""
from __future__ import annotations

import contextlib
import csv
import io
import json
from pathlib import Path

import pytest
import yaml

from helpers_search import HANG

from autoq.cli import main
from autoq.config import parse_config
from autoq.errors import ConfigError

CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def run(cfg: Path, out: Path, *extra) -> str:
    buf, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(err):
        code = main(["search", str(cfg), "--output", str(out), *map(str, extra)])
    assert code == 0, err.getvalue()[-3000:]
    return buf.getvalue()


def tiny(src: Path, folder: Path, **over) -> Path:
    cfg = yaml.safe_load(src.read_text())
    cfg["train"].update(epochs=3, patience=0, float_epochs=over.pop("float_epochs", 30))
    cfg["search"]["max_trials"] = 2
    for section, values in over.items():
        cfg.setdefault(section, {}).update(values)
    p = folder / src.name
    p.write_text(yaml.safe_dump(cfg))
    return p


@pytest.mark.parametrize("name,float_epochs", [("diabetes-regression", 100), ("digits-autoencoder", 30)])
def test_regression_and_autoencoder_minimise_their_error(tmp_path, name, float_epochs):
    out = tmp_path / "out"
    stdout = run(tiny(CONFIGS / f"{name}.yaml", tmp_path, float_epochs=float_epochs), out)
    s = json.loads((out / "summary.json").read_text())
    assert s["metric"] == "mse" and s["direction"] == "min"
    assert s["float_val_metric"] > 0 and s["best_test_metric"] > 0 and "val_accuracy" not in s["best"]
    rows = list(csv.DictReader((out / "trials.csv").open()))
    mses = [float(r["val_metric"]) for r in rows]
    scores = [float(r["score"]) for r in rows]
    assert all(m > 0 for m in mses) and all(sc < 0 for sc in scores)
    # the lower error at equal or lower cost wins; the score forgives the error by the cost gain, never rewards it
    best = max(rows, key=lambda r: float(r["score"]))
    assert best["trial"] == s["best"]["trial"]
    front = list(csv.DictReader((out / "pareto.csv").open()))
    costs = [float(r["energy"]) for r in front]
    errs = [float(r["val_metric"]) for r in front]
    assert costs == sorted(costs) and errs == sorted(errs, reverse=True)  # cheaper points on the front err more
    assert f"val mse {s['best']['val_metric']:.4g}" in stdout and "test mse" in stdout
    if name == "digits-autoencoder":  # the target is the input
        assert "autoencoder (the target is the input)" in s["dataset"]


def test_any_keras_metric_and_a_function_of_the_users(tmp_path):
    (tmp_path / "mymetrics.py").write_text(
        "import numpy as np\n\ndef top2(y, p):\n    return float(np.mean((np.argsort(-p, 1)[:, :2] == "
        "y.argmax(1)[:, None]).any(1)))\n")
    base = yaml.safe_load((CONFIGS / "digits.yaml").read_text())
    base.update(train={"epochs": 2, "patience": 0, "float_epochs": 5}, search={"algorithm": "random", "max_trials": 2},
                baselines=[])
    for metric in ("auc", "mymetrics:top2"):
        base["goal"] = {"metric": metric, "cost": "energy", **({"direction": "max"} if ":" in metric else {})}
        cfg = tmp_path / f"{metric.replace(':', '_')}.yaml"
        cfg.write_text(yaml.safe_dump(base))
        out = tmp_path / metric.replace(":", "_")
        run(cfg, out)
        s = json.loads((out / "summary.json").read_text())
        assert s["metric"] == metric and s["direction"] == "max"
        assert 0.5 < s["best"]["val_metric"] <= 1.0 and s["best"]["score"] > 0


@pytest.mark.parametrize("text,message", [
    ("train: {metric: mse}", "train.metric: the search scores goal.metric ('accuracy'); train.metric 'mse' would be "
                             "ignored: move it to goal.metric"),
    ("data: {task: regression}\ngoal: {metric: accuracy}", "goal.metric: accuracy needs classes"),
    ("goal: {metric: 'mine:f'}", "goal.direction: cannot tell whether a higher or lower 'mine:f' is better"),
    ("data: {task: clustering}", "data.task: expected one of classification, regression, autoencoder"),
])
def test_metric_and_task_mistakes_are_refused(text, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_config(text)


def test_two_block_search_resumes_after_a_kill_in_its_second_block(tmp_path):
    import signal
    import subprocess

    from helpers_search import autoq as autoq_cmd, env, records, start, stop, wait_until, write_config
    cfg = write_config(tmp_path, search={"output_dir": "out", "algorithm": "random",
                                         "blocks": [{"layers": "fc1", "max_trials": 2},
                                                    {"layers": "output", "max_trials": 3}]})
    out = tmp_path / "out"
    p = start(["search", cfg], tmp_path, tmp_path / "run1.log")
    try:
        assert wait_until(lambda: "b1-0" in records(out), [p]), (tmp_path / "run1.log").read_text()[-3000:]
        p.send_signal(signal.SIGKILL)
        p.wait(10)
    finally:
        stop(p)
    assert p.returncode == -signal.SIGKILL and not (out / "summary.json").exists()
    before = records(out)
    run2 = subprocess.run(autoq_cmd("search", cfg), cwd=tmp_path, capture_output=True, text=True, timeout=HANG,
                          env=env())
    assert run2.returncode == 0, run2.stdout[-3000:] + run2.stderr[-3000:]
    recs = records(out)
    assert sorted(recs) == ["b0-0", "b0-1", "b1-0", "b1-1", "b1-2"]  # nothing lost, nothing run twice
    assert all(recs[t] == r for t, r in before.items())
    # block 1 searched the output layer with fc1 fixed at block 0's best choice; block 0 left the output float
    b0 = max((recs[t] for t in ("b0-0", "b0-1")), key=lambda r: r["score"])
    assert all(recs[t]["choice"]["fc1"] == b0["choice"]["fc1"] for t in ("b1-0", "b1-1", "b1-2"))
    assert all(recs[t]["partial"] and set(recs[t]["choice"]) == {"fc1"} for t in ("b0-0", "b0-1"))
    summary = json.loads((out / "summary.json").read_text())
    assert summary["best"]["trial"].startswith("b1-") and all(t.startswith("b1-") for t in summary["pareto"])
    assert "[autoq] block 2/2: output (3 trials)" in run2.stdout
