"""The Python API takes the user's data as given (issue 21): the README's API snippet runs as written after the quick
start, a model the user trained is scored on exactly what it was trained on, and a scaler the search used travels
with the result into the export. Real searches, real hls4ml export and g++ C simulation."""
from __future__ import annotations

import os
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
import yaml

from helpers_search import run_cli

import autoq
from autoq.errors import ConfigError, ResultsError

ROOT = Path(__file__).resolve().parents[2]


def readme_api_snippet() -> str:
    text = (ROOT / "README.md").read_text()
    section = text.split("## Python API (notebooks)", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def quick_start_folder(tmp_path: Path) -> Path:
    """configs/digits.yaml with the quick start's settings, cut to a small budget (1 epoch, 1 trial)."""
    cfg = yaml.safe_load((ROOT / "configs" / "digits.yaml").read_text())
    cfg["train"].update(epochs=1, float_epochs=2)
    cfg["search"]["max_trials"] = 1
    cfg["baselines"] = []
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "digits.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    return tmp_path


def test_readme_api_snippet_runs_after_the_quick_start(tmp_path):
    here = quick_start_folder(tmp_path)
    code, stdout, stderr = run_cli("search", "configs/digits.yaml", "--quiet", cwd=here)
    assert code == 0, stdout[-2000:] + stderr[-2000:]
    snippet = readme_api_snippet()
    cwd = os.getcwd()
    os.chdir(here)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            scope = {}
            exec(compile(snippet, "README.md", "exec"), scope)
        result, model = scope["result"], scope["model"]
        # used as given: no scaler, and the float reference is the user's model on the user's validation split
        assert result.scaler is None and "input_scaler" not in result.summary
        x_val, y_val = scope["x_val"], scope["y_val"]
        accuracy = float((model.predict(x_val, verbose=0).argmax(1) == y_val).mean())
        assert result.summary["float_val_metric"] == pytest.approx(accuracy, abs=1e-6)
        assert (here / "hls_projects" / "digits-mine" / "tb_data").is_dir()
        keras_warnings = [w for w in caught if issubclass(w.category, UserWarning) and "keras" in w.filename]
        assert not keras_warnings, [(w.filename, w.lineno, str(w.message)[:60]) for w in keras_warnings[:3]]
        # the quick start's folder holds another search: refused before any training, saying so
        with pytest.raises(ResultsError, match="holds another search"):
            autoq.search(model, scope["data"], "configs/digits.yaml", verbose=False)
    finally:
        os.chdir(cwd)


def _digits():
    from sklearn.datasets import load_digits
    x, y = load_digits(return_X_y=True)
    return x.astype("float32"), y


TINY_API = {"model": {"builder": "autoq.models:mlp", "kwargs": {"input_dim": 64, "hidden": [16], "n_classes": 10}},
            "train": {"epochs": 1, "float_epochs": 2}, "search": {"algorithm": "random", "max_trials": 1},
            "space": {"input_quantizer": "quantized_bits(8,3,alpha=1)",
                      "default": {"kernel": ["quantized_bits(6,0,alpha=1)"], "bias": ["quantized_bits(8,2,alpha=1)"],
                                  "activation": ["quantized_relu(6,2)"]}}}


def test_standardizing_a_pretrained_models_data_is_refused_before_training(tmp_path):
    from autoq.models import mlp
    x, y = _digits()
    cfg = {**TINY_API, "model": {}, "data": {"source": "arrays", "standardize": True}}
    with pytest.raises(ConfigError, match=r"data.standardize: standardizing the arrays given to autoq.search would "
                                          r"score the model given"):
        autoq.search(mlp(64, (16,), 10), (x, y), cfg, output_dir=tmp_path / "out", verbose=False)
    assert not (tmp_path / "out").exists()


def test_a_scaler_the_search_used_is_on_the_result_and_applied_by_the_export(tmp_path):
    from autoq.exporting.pipeline import quantize_inputs
    x, y = _digits()
    cfg = {**TINY_API, "data": {"source": "arrays", "standardize": True}}
    result = autoq.search(None, (x, y), cfg, output_dir=tmp_path / "out", verbose=False)
    mean, scale = result.scaler
    assert mean.shape == (64,) and np.allclose(mean, x.mean(0), atol=0.5)  # the training split's statistics
    again = autoq.load_result(tmp_path / "out")
    assert np.array_equal(again.scaler[0], mean) and np.array_equal(again.scaler[1], scale)
    raw = x[:20]
    exported = autoq.export(again, tmp_path / "hls", x=raw, check=False)
    fed = np.load(tmp_path / "hls" / "tb_data" / "autoq_x.npy")
    assert np.array_equal(fed, quantize_inputs((raw - mean) / scale, exported.input_precision).astype("float32"))
    assert not np.array_equal(fed, quantize_inputs(raw, exported.input_precision).astype("float32"))
