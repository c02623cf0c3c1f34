"""Leftovers of the adversarial suite (issue 21), each through the real CLI: ``--hls-config`` files that used to end
in a traceback or a MemoryError, or were silently ignored (a Model ReuseFactor); ``export --data`` files that are
corrupt or hold NaN/complex inputs; ``autoq report`` on a damaged or unwritable project; a damaged strategy cache;
a finished trial's folder deleted before a resume."""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest

from helpers_search import records, run_cli, write_config

ALIASES = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{c}: &{c} [{', '.join(['*' + p] * 10)}]\n" for p, c in zip("abcdefgh", "bcdefghi"))


def _errors(code, stdout, stderr):
    assert code == 2, stdout[-2000:] + stderr[-2000:]
    assert "Traceback" not in stdout + stderr
    lines = [line for line in stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, stderr
    return lines[0]


@pytest.fixture(scope="module")
def qmodel(tmp_path_factory):
    """A small QKeras model (untrained: the checks here are about the files around it) and valid inputs."""
    from helpers_models import tiny_qmodel

    d = tmp_path_factory.mktemp("hostile")
    tiny_qmodel(0).save(d / "tiny.h5")
    x = np.random.default_rng(0).normal(size=(40, 16)).astype("float32")
    np.savez(d / "x.npz", x=x)
    return d, x


HLS_CONFIGS = {  # file text -> the error after "error: {file}:"
    "model_list": ("Model: [1, 2]\n", "1: Model: expected a mapping (as in hls4ml's config), got [1, 2]"),
    "layer_name_list": ("LayerName: [fc1]\n", "1: LayerName: expected a mapping (as in hls4ml's config), got ['fc1']"),
    "layer_type_list": ("LayerType: [1, 2]\n", "1: LayerType: expected a mapping (as in hls4ml's config), got [1, 2]"),
    "layer_not_mapping": ("LayerName:\n  fc1: 4\n", "2: LayerName.fc1: expected a mapping of settings for this layer "
                                                  "name (ReuseFactor, Precision, ...), got 4"),
    "negative_reuse": ("Model:\n  ReuseFactor: -4\n", "2: Model.ReuseFactor: must be a whole number from 1 to "
                                                      "1000000, got -4"),
    "bad_strategy": ("LayerName:\n  fc1:\n    Strategy: fastest\n",
                     "3: LayerName.fc1.Strategy: expected Latency or Resource, got 'fastest'"),
    "duplicate_key": ("Model:\n  ReuseFactor: 4\n  ReuseFactor: 2\n",
                      "3: duplicate key 'ReuseFactor' (first given on line 2); YAML would keep only the last: give "
                      "each key once"),
    "alias_bomb": (ALIASES, " the YAML expands to more than 20000 values (aliases repeated inside aliases?); write the "
                            "hls4ml settings out plainly"),
    "fifo": (None, "=--hls-config {file}: not a file"),  # refused by the CLI before TensorFlow is imported
}


@pytest.mark.parametrize("name", list(HLS_CONFIGS))
def test_bad_hls_config_is_one_error_and_writes_nothing(name, qmodel, tmp_path):
    d, _ = qmodel
    text, expected = HLS_CONFIGS[name]
    cfg = tmp_path / "hls.yml"
    if text is None:
        os.mkfifo(cfg)  # reading it would block forever
    else:
        cfg.write_text(text)
    line = _errors(*run_cli("export", d / "tiny.h5", "--output", tmp_path / "prj", "--data", d / "x.npz",
                            "--hls-config", cfg))
    if expected.startswith("="):  # the message names the file itself
        assert line == "error: " + expected[1:].format(file=cfg), line
    elif expected.startswith(" "):  # no line number
        assert line == f"error: {cfg}:" + expected, line
    else:
        assert line == f"error: {cfg}:{expected}", line
    assert not (tmp_path / "prj").exists()


def _bad_npz(path: Path, x: np.ndarray, kind: str) -> None:
    if kind == "corrupt":
        np.savez(path, x=x)
        path.write_bytes(path.read_bytes()[:300])  # cut short
    elif kind == "nan":
        x = x.copy()
        x[3, 2] = np.nan
        np.savez(path, x=x)
    else:
        np.savez(path, x=x + 1j)


@pytest.mark.parametrize("kind, expected", [
    ("corrupt", "cannot read {f} as an .npz file: File is not a zip file"),
    ("nan", "inputs from file {f}: 1 of 40 samples hold NaN or infinite values (the first is sample 3); remove them, "
            "they are bad data"),
    ("complex", "inputs from file {f} are complex (complex64); the model takes real numbers"),
])
def test_bad_export_data_is_bad_data_not_a_mismatch(kind, expected, qmodel, tmp_path):
    d, x = qmodel
    f = tmp_path / f"{kind}.npz"
    _bad_npz(f, x, kind)
    line = _errors(*run_cli("export", d / "tiny.h5", "--output", tmp_path / "prj", "--data", f))
    assert line == "error: " + expected.format(f=f)
    assert not (tmp_path / "prj").exists()


def test_model_reuse_factor_applies_and_report_survives_a_damaged_project(qmodel, tmp_path):
    """A Model ReuseFactor from --hls-config reaches every layer (autoq's per-layer 1 used to win, silently); then
    ``autoq report`` on that project: unwritable report files, a corrupt and a list-valued autoq_export.json."""
    import yaml

    d, _ = qmodel
    (tmp_path / "hls.yml").write_text("Model:\n  ReuseFactor: 4\n")
    prj = tmp_path / "prj"
    code, out, err = run_cli("export", d / "tiny.h5", "--output", prj, "--data", d / "x.npz", "--hls-config",
                             tmp_path / "hls.yml")
    assert code == 0, out[-2000:] + err[-2000:]
    class Loader(yaml.SafeLoader):  # hls4ml's file tags its Keras model (!keras_model): not needed here
        pass
    Loader.add_multi_constructor("!", lambda loader, suffix, node: None)
    cfg = yaml.load((prj / "hls4ml_config.yml").read_text(), Loader=Loader)["HLSConfig"]
    reuse = {name: layer["ReuseFactor"] for name, layer in cfg["LayerName"].items() if "ReuseFactor" in layer}
    assert cfg["Model"]["ReuseFactor"] == 4 and {"fc1", "fc2"} <= set(reuse) and set(reuse.values()) == {4}, reuse
    params = (prj / "firmware" / "parameters.h").read_text()
    assert re.findall(r"reuse_factor = (\d+);", params) and set(re.findall(r"reuse_factor = (\d+);", params)) == {"4"}
    assert json.loads((prj / "autoq_export.json").read_text())["estimate"]["reuse_factor"] == 4

    (prj / "report.json").unlink()
    (prj / "report.json").mkdir()  # cannot be written (a read-only project reads the same way)
    code, out, err = run_cli("report", prj)
    assert code == 0 and "Traceback" not in out + err, out + err
    assert "report.json and report.md not written (Is a directory): the report above is the only copy" in out + err
    meta = prj / "autoq_export.json"
    meta.write_text('{"estimate": {"luts"')
    assert _errors(*run_cli("report", prj)).startswith(f"error: cannot read {meta}: ")
    meta.write_text("[1, 2]")
    assert _errors(*run_cli("report", prj)) == (f"error: {meta} holds a list, not autoq's export record; export the "
                                                "model again (autoq export ... --force) to rewrite it")


def test_a_damaged_strategy_cache_is_computed_again(tmp_path):
    """hessian keeps its candidates in strategy/tuner-hessian.json; cut short or of the wrong shape, the rerun says
    so and computes them again (it used to fail with a traceback until --overwrite)."""
    cfg = write_config(tmp_path, train={"epochs": 1, "patience": 0, "batch_size": 64, "float_epochs": 1},
                       search={"algorithm": "hessian", "max_trials": 2, "output_dir": "out"})
    code, out, err = run_cli("search", cfg, "--quiet", cwd=tmp_path)
    assert code == 0, out[-2000:] + err[-2000:]
    cache = tmp_path / "out" / "strategy" / "tuner-hessian.json"
    good = json.loads(cache.read_text())
    for damaged in (cache.read_text()[: len(cache.read_text()) // 2], '{"choice": 1}', '[{"choice": {}, "cost": "x"}]'):
        cache.write_text(damaged)
        code, out, err = run_cli("search", cfg, cwd=tmp_path)
        assert code == 0 and "Traceback" not in out + err, out[-2000:] + err[-2000:]
        assert f"[autoq] hessian: the saved candidates {cache} are damaged" in out + err
        assert json.loads(cache.read_text()) == good  # the same candidates, computed again


def test_a_deleted_trial_folder_runs_again_on_resume(tmp_path):
    """Deleting trials/1 of a finished search and resuming runs trial 1 again (it used to end with 2 of 3 trials,
    silently); deleting keras-tuner's own tuner/trial_1 is one error with the remedy (was a KeyError traceback)."""
    import shutil

    cfg = write_config(tmp_path, train={"epochs": 1, "patience": 0, "batch_size": 64, "float_epochs": 1},
                       search={"algorithm": "random", "max_trials": 3, "output_dir": "out"})
    out = tmp_path / "out"
    assert run_cli("search", cfg, "--quiet", cwd=tmp_path)[0] == 0
    before = records(out)
    shutil.copytree(out, tmp_path / "copy")
    shutil.rmtree(out / "trials" / "1")
    code, stdout, stderr = run_cli("search", cfg, cwd=tmp_path)
    assert code == 0, stdout[-2000:] + stderr[-2000:]
    assert f"[autoq] trial 1 had finished, but {out / 'trials' / '1' / 'record.json'} is gone: running it again" \
        in stdout + stderr
    after = records(out)
    assert sorted(after) == ["0", "1", "2"] and after["1"]["hp"] == before["1"]["hp"]
    assert json.loads((out / "summary.json").read_text())["trials"] == 3

    shutil.rmtree(tmp_path / "copy" / "tuner" / "trial_1")
    line = _errors(*run_cli("search", cfg, "--output", tmp_path / "copy", cwd=tmp_path))
    assert line.startswith(f"error: keras-tuner's record of trial(s) 1 is missing from {tmp_path / 'copy' / 'tuner'} "
                           "(folder trial_<id> deleted?): the search cannot be resumed; start fresh with --overwrite")
