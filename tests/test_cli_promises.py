"""The command line keeps its promises up front (issue 21): every registered strategy runs from it, paths on it are
relative to the current directory, its own mistakes are caught before TensorFlow is imported, and Ctrl-C names only
what exists. Real CLI runs (in this process, or as subprocesses where the imported modules matter)."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from helpers_search import env, run_cli, write_config

from autoq.searching import strategies

REPO = Path(__file__).resolve().parents[1]

# runs the CLI in a fresh interpreter, then says whether TensorFlow got imported on the way
PROBE = ("import sys\nfrom autoq.cli import main\ncode = main(sys.argv[1:])\n"
         "print('TENSORFLOW', 'tensorflow' in sys.modules, file=sys.stderr)\nsys.exit(code)\n")


def probe(args, cwd):
    r = subprocess.run([sys.executable, "-c", PROBE, *map(str, args)], cwd=cwd, capture_output=True, text=True,
                       env=env(), timeout=600)
    return r.returncode, r.stderr


@pytest.mark.parametrize("name", strategies.names())
def test_every_registered_strategy_runs_from_the_cli(name, tmp_path):
    cfg = write_config(tmp_path, train={"epochs": 1, "float_epochs": 2}, search={"max_trials": 2})
    code, stdout, stderr = run_cli("search", cfg, "--algorithm", name, "--output", tmp_path / "out", "--quiet")
    assert code == 0, stdout[-2000:] + stderr[-2000:]
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["algorithm"] == name and summary["trials"] >= 1  # the config says random: the flag won


def test_algorithm_choices_are_the_registry():
    from autoq.cli import _parser
    search = next(a for a in _parser()._actions if a.dest == "command").choices["search"]
    assert tuple(next(a for a in search._actions if a.dest == "algorithm").choices) == strategies.names()


def _jets_config(folder: Path) -> Path:
    (folder / "configs").mkdir()
    return Path(shutil.copy(REPO / "configs" / "jets-generated.yaml", folder / "configs"))


def test_command_line_mistakes_are_one_error_line_before_tensorflow(tmp_path):
    cfg = _jets_config(tmp_path)
    (tmp_path / "proj").mkdir()
    cases = {
        ("search", "nosuch.yaml"): "error: config file not found: nosuch.yaml",
        ("search", cfg, "--data", "jets_generated.npz"):
            f"error: --data jets_generated.npz: no such file (looked in {tmp_path})",
        ("search", cfg, "--max-trials", "0"): "error: search.max_trials (--max-trials): must be at least 1, got 0",
        ("export", "proj", "--part", "xcvu13p"): "error: unknown FPGA part 'xcvu13p'",
        ("export", "proj", "--data", "x.npz"): f"error: --data x.npz: no such file (looked in {tmp_path})",
        ("export", "proj", "--synth"): "error: synthesis needs `vitis_hls` (Vitis backend) on PATH, and it was not "
                                       "found; nothing was exported",
    }
    if shutil.which("vitis_hls"):
        del cases[("export", "proj", "--synth")]
    for args, expected in cases.items():
        code, stderr = probe(args, tmp_path)
        errors = [line for line in stderr.splitlines() if line.startswith("error:")]
        assert code == 2 and len(errors) == 1 and "Traceback" not in stderr, (args, stderr)
        assert errors[0].startswith(expected), (args, errors[0])
        assert "TENSORFLOW False" in stderr, f"{args}: TensorFlow was imported before the error"
    assert not (tmp_path / "hls_projects").exists()


def test_data_path_on_the_command_line_is_relative_to_the_current_directory(tmp_path):
    (tmp_path / "configs").mkdir()
    cfg = write_config(tmp_path / "configs", data={"source": "npz", "path": "in_the_yaml_folder.npz"})
    np.savez(tmp_path / "mine.npz", x=np.zeros((50, 10), "float32"), y=np.arange(50) % 10)
    code, _, stderr = run_cli("search", Path("configs") / cfg.name, "--data", "mine.npz", cwd=tmp_path)
    assert code == 2 and stderr.strip() == ("error: the model expects inputs of shape (64,) but the dataset 'mine' "
                                            "has (10,)"), stderr  # found here, not in configs/
    (tmp_path / "j").mkdir()
    jets = _jets_config(tmp_path / "j")
    jets.write_text(jets.read_text().replace("path: null", "path: jets_generated.npz"))
    code, _, stderr = run_cli("search", jets, cwd=tmp_path)
    assert code == 2 and stderr.strip() == (
        f"error: {jets.parent / 'jets_generated.npz'}: no such file (data.path 'jets_generated.npz' is relative to "
        "the YAML file's folder; --data to the current directory)"), stderr


BUILDER = "def interrupted(**kwargs):\n    raise KeyboardInterrupt\n"


def test_ctrl_c_before_the_output_folder_exists_names_no_folder(tmp_path):
    (tmp_path / "ctrlc.py").write_text(BUILDER)
    cfg = write_config(tmp_path, model={"builder": "ctrlc:interrupted", "kwargs": {}}, search={"output_dir": "out"})
    r = subprocess.run([sys.executable, "-m", "autoq.cli", "search", cfg], cwd=tmp_path, capture_output=True,
                       text=True, env=env(), timeout=600)  # the builder lives beside the config
    assert r.returncode == 130, r.stderr[-2000:]
    assert "Traceback" not in r.stderr and not (tmp_path / "out").exists()
    assert (f"[autoq] interrupted before the search wrote anything. Start it with the same command:\n"
            f"  autoq search {cfg}\n") in r.stderr
    assert "kept in" not in r.stderr


def test_tensorflow_start_up_lines_are_kept_off_the_terminal(tmp_path):
    """Even with TensorFlow's C++ logging fully on, a command's stderr holds autoq's line and nothing of TF's
    start-up (CUDA-factory and driver lines, absl's block: each printed once per TensorFlow library)."""
    cfg = write_config(tmp_path, train={"loss": "nosuchloss"})  # refused after the model is built (TF imported)
    r = subprocess.run([sys.executable, "-m", "autoq.cli", "search", cfg], cwd=tmp_path, capture_output=True,
                       text=True, env=env(TF_CPP_MIN_LOG_LEVEL="0"), timeout=600)
    assert r.returncode == 2 and r.stderr.splitlines() == [
        f"error: {cfg}: train.loss: unknown loss 'nosuchloss'; use a Keras loss name such as "
        "categorical_crossentropy"], r.stderr
