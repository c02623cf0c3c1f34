"""Smoke runs of every benchmark script at --budget tiny: each writes <name>.md and <name>.png with its headings."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers_search import HANG

from autoq.keras_env import stack

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
HEADINGS = {
    "bench_throughput": ["# Throughput: autoq vs plain keras-tuner", "## Headline", "## Results",
                         "## Where an autoq trial's time goes", "trials per minute", "ratio autoq/kt",
                         "machinery ratio autoq/kt QKeras", "keras-tuner (QKeras)"],
    "bench_quality": ["# SYNTHETIC Quality", "## Headline", "## Algorithms", "## Baselines",
                      "## Reduction at equal accuracy loss", "## Pareto fronts", "## Energy vs the paper",
                      "hypervolume", "**pareto**", "| Q6 |", "| Q4 |", "| float |", "NOT jet accuracies"],
    "bench_export": ["# Export: hls4ml conversion", "## Headline", "## Results", "Q6 (published)", "autoq winner",
                     "compile s", "## Coverage: hls4ml's QKeras test models", "| jet tagger (published Q6) |"],
    "bench_memory": ["# Memory: peak RSS of a search", "## Headline", "## Milestones", "import tensorflow",
                     "search done"],
    "bench_peers": ["Peers: autoq vs AutoQKeras, HGQ and uniform quantization at equal process CPU-seconds",
                    "## Headline", "## Setup", "## Results: ", "## Results: digits", "| autoq random |",
                    "| autoq hessian |", "| AutoQKeras protocol |", "| Q4 |", "| Q6 |", "| Q8 |",
                    "| float |", "HV (acc, EBOPs), linear", "HV (acc, EBOPs), log", "HV (acc, LUT+DSP)",
                    "cheapest within 1 pt of float (val)", "exact effective BOPs", "CPU-s used", "load at start",
                    "QKeras's own `AutoQKeras` class", "hypervolume ratio", "uniform Q6's", "validation front"],
}


#: bench_peers's methods in the suite: every kind of method (a plain strategy, the strategies' own CPU accounting,
#: per-weight widths, AutoQKeras's re-training, HGQ), one of each kind (bayesian and pareto run as random does)
PEERS_METHODS = "random,hessian,gradient-weight,aqk,hgq"


@pytest.mark.parametrize("name", sorted(HEADINGS))
def test_benchmark_tiny(name, tmp_path):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}
    extra = ["--methods", PEERS_METHODS] if name == "bench_peers" else []
    proc = subprocess.run([sys.executable, str(BENCH / f"{name}.py"), "--budget", "tiny", "--out", str(tmp_path),
                           *extra], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=HANG)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    md, png = tmp_path / f"{name}.md", tmp_path / f"{name}.png"
    assert md.is_file() and png.is_file() and png.stat().st_size > 5000
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = md.read_text()
    for h in HEADINGS[name]:
        assert h in text, (h, text[:2000])
    assert f"- stack: {stack()}" in text  # the stack it ran on (this interpreter's)
    if name == "bench_peers":  # HGQ runs where hgq==0.2.6 installs (the [test] extra: Python < 3.12), else it says so
        import importlib.util
        if importlib.util.find_spec("pythia8mc") and importlib.util.find_spec("fastjet"):  # the [jets] generator
            assert "## Results: GENERATED jets" in text and "not the OpenML set" in text
        else:
            assert "## Results: SYNTHETIC jets" in text and "NOT jet accuracies" in text
        if sys.version_info < (3, 12):
            assert "| HGQ |" in text and "HGQ 0.2.6." in text, text[:3000]
        else:
            assert "HGQ is not available on this stack" in text and "| HGQ |" not in text, text[:3000]
        rec = json.loads((tmp_path / f"{name}.json").read_text())
        for ds in ("jets", "digits"):
            fig = rec["figures"][ds]
            assert set(fig) >= {"hv_lin_ratio_vs_hgq", "hv_log_ratio_vs_hgq", "hv_log_ratio_ci90",
                                "hv_ratio_lut_dsp_vs_hgq", "cheapest_within_1pt_ebops", "cpu_seconds", "loads"}
            budget = rec["figures"]["detail"][ds]["budgets"][f"{fig['cpu_seconds']:g}"]
            assert all(m["cpu"] > 0 for name_, m in budget.items() if m["models"]), budget.keys()
            models = [x for m in budget.values() for x in m["models"]]
            assert models and all(x["ebops"] >= 0 and 0 <= x["val_acc"] <= 1 for x in models)
            if sys.version_info < (3, 12):  # HGQ's models: our exact EBOPs are hgq's own count
                hgq = budget["HGQ"]["models"]
                assert hgq and all(x["ebops"] == pytest.approx(x["hgq_own_ebops"]) for x in hgq)
                lo, hi = fig["top_diff_ci90"]  # the top end against HGQ's, on the same resampled test samples
                d = fig["top_diff_vs_hgq"]
                assert lo - 1e-9 <= d <= hi + 1e-9 and d == pytest.approx(fig["top_acc"] - fig["hgq_top_acc"])
                assert fig["top_end"] == ("ahead" if lo > 0 else "behind" if hi < 0 else "tied")
        assert "| autoq gradient, weight granularity |" in text  # per-weight widths (space.granularity: weight)
        assert "no children (`--children 0`, `search.children: 0`)" in text and "top - HGQ's (90 % CI)" in text
        assert "not run: bayesian, pareto, hyperband, gradient, hessian-input" in text and "| autoq hyperband |" not in text
    if name in ("bench_throughput", "bench_memory"):  # headline figures for benchmarks/stacks.py
        rec = json.loads((tmp_path / f"{name}.json").read_text())
        assert rec["stack"] == stack() and rec["figures"]
        assert all(v is not None for v in rec["figures"].values())


def test_bench_peers_bad_arguments_stop_before_any_work(tmp_path):
    """A bad --children or --methods is an argparse error (exit 2) before any data or training, not a traceback."""
    for args, words in ((["--children", "x"], "--children: expected an integer >= 0 or 'auto', got 'x'"),
                        (["--children", "-1"], "--children: expected an integer >= 0 or 'auto', got '-1'"),
                        (["--methods", "hgq"], "--methods needs at least one autoq strategy")):
        proc = subprocess.run([sys.executable, str(BENCH / "bench_peers.py"), "--budget", "tiny", "--out",
                               str(tmp_path), *args], cwd=tmp_path, capture_output=True, text=True, timeout=HANG)
        assert proc.returncode == 2 and f"error: {words}" in proc.stderr, proc.stderr[-2000:]
        assert "Traceback" not in proc.stderr and not list(tmp_path.iterdir())


def test_stacks_side_by_side(tmp_path):
    """benchmarks/stacks.py puts each stack's figures in its own column, row by row, and says what is missing."""
    for sub, py, tpm in (("", "Python 3.11.7, tensorflow 2.14.1", 9.5), ("tf2.21", "Python 3.13.0, tensorflow 2.21.0",
                                                                          7.25)):
        (tmp_path / sub).mkdir(exist_ok=True)
        (tmp_path / sub / "bench_throughput.json").write_text(json.dumps(
            {"stack": py, "date": "d", "command": "c", "figures": {"autoq trials per minute": tpm}}))
    proc = subprocess.run([sys.executable, str(BENCH / "stacks.py"), str(tmp_path)], capture_output=True, text=True,
                          timeout=HANG)
    assert proc.returncode == 0, proc.stderr
    text = (tmp_path / "stacks.md").read_text()
    assert "| stack | Python 3.11.7, tensorflow 2.14.1 | Python 3.13.0, tensorflow 2.21.0 |" in text
    assert "| autoq trials per minute | 9.5 | 7.25 |" in text
    assert "## bench_memory" in text and "| stack | - | - |" in text


def test_bench_qil_tiny(tmp_path):
    """QIL vs plain quantizers: the table, the verdict and the bit-exact export of a folded QIL model."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.run([sys.executable, str(BENCH / "bench_qil.py"), "--budget", "tiny", "--out", str(tmp_path)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=HANG)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    text = (tmp_path / "qil.md").read_text()
    for h in ("# QIL (learned quantization intervals) vs plain QKeras quantizers", "## Verdict",
              "| dataset | bits | float | baseline mean ± std | QIL mean ± std", "jets (SYNTHETIC)"):
        assert h in text, h
    assert (tmp_path / "qil.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
