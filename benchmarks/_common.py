"""Shared plumbing of the benchmark scripts: budgets, the jet configs, environment lines, Markdown output."""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's autoq, even when another is installed
import autoq  # noqa: E402 -- before TensorFlow: it settles tf.keras (autoq/keras_env.py)
from autoq.keras_env import LEGACY_KERAS, stack  # noqa: E402

#: Where a stack's results go by default: benchmarks/results (Python 3.10-3.11, TF 2.14), or its subfolder
#: tf2.21 (Python 3.12-3.13, TF 2.21 + tf_keras). ``python benchmarks/stacks.py`` sets the two side by side.
STACK_DIR = "tf2.21" if LEGACY_KERAS else ""
BUDGETS = ("tiny", "ci", "full")

#: Per budget: synthetic sample count, epochs per trial, float epochs, trials per search.
#: tiny = a smoke test (seconds), ci = all benchmarks < 10 min on 2 cores, full = the real data (hours).
JET_BUDGET = {
    "tiny": {"n_samples": 1500, "epochs": 1, "float_epochs": 2, "trials": 3, "batch_size": 256},
    "ci": {"n_samples": 20000, "epochs": 5, "float_epochs": 15, "trials": 12, "batch_size": 256},
    "full": {"n_samples": None, "epochs": 10, "float_epochs": 30, "trials": 50, "batch_size": 1024},
}


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--budget", choices=BUDGETS, default="ci",
                   help="tiny: smoke test (seconds); ci: < 10 min on 2 cores; full: real data, hours")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / STACK_DIR),
                   help="folder for <name>.md, <name>.png, <name>.json (default: benchmarks/results[/tf2.21])")
    p.add_argument("--data", default=None, help="the real jet dataset (else the SYNTHETIC stand-in is used)")
    p.add_argument("--seed", type=int, default=42)
    return p


def jet_config(budget: str, data_path: str | None, *, algorithm="bayesian", trials=None, baselines=True,
               keep="all", seed=42, patience=None) -> dict:
    """The jets config (real data with ``data_path``, else jets-synthetic) scaled to ``budget``, as a dict."""
    import yaml
    real = data_path is not None
    if budget == "full" and not real:
        raise SystemExit("--budget full needs the real jet data: pass --data PATH")
    cfg = yaml.safe_load((ROOT / "configs" / ("jets.yaml" if real else "jets-synthetic.yaml")).read_text())
    b = JET_BUDGET[budget]
    if real:
        cfg["data"]["path"] = str(Path(data_path).resolve())
    elif b["n_samples"]:
        cfg["data"]["n_samples"] = b["n_samples"]
    if budget != "full":
        cfg["train"].update(epochs=b["epochs"], float_epochs=b["float_epochs"])
        if not real:
            cfg["train"]["batch_size"] = b["batch_size"]
    if patience is not None:
        cfg["train"]["patience"] = patience
    cfg["search"].update(algorithm=algorithm, max_trials=trials or b["trials"], keep=keep)
    cfg["seed"] = seed
    if baselines:
        cfg["baselines"] = cfg.get("baselines", []) + [
            {"name": "Q4", "kernel": "quantized_bits(4,0,alpha=1)", "bias": "quantized_bits(4,0,alpha=1)",
             "activation": "quantized_relu(4)"}]
    else:
        cfg["baselines"] = []
    return cfg


def data_label(data_path: str | None) -> str:
    return ("real LHC jet data (" + str(data_path) + ")") if data_path else \
        "SYNTHETIC jets-like data (autoq.data.jets.make_synthetic_jets) -- accuracies are NOT jet accuracies"


def environment() -> list[str]:
    import numpy as np  # noqa: F401
    from importlib import metadata
    vers = []
    for pkg in ("tensorflow", "qkeras", "keras-tuner", "hls4ml"):
        try:
            vers.append(f"{pkg} {metadata.version(pkg)}")
        except metadata.PackageNotFoundError:
            pass
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:
        cpus = os.cpu_count()
    return [f"- date: {time.strftime('%Y-%m-%d %H:%M')}", f"- stack: {stack()}",
            f"- python {platform.python_version()}, " + ", ".join(vers),
            f"- machine: {platform.machine()}, {cpus} CPU(s) available (shared with other jobs: timings are noisy)",
            f"- command: `python {' '.join([Path(sys.argv[0]).name] + sys.argv[1:])}`"]


def md_table(head: list, rows: list) -> str:
    def cell(v):
        if v is None:
            return "-"
        if isinstance(v, float):
            return f"{v:.4g}"
        return str(v)
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in r) + " |" for r in rows]
    return "\n".join(lines)


def write_md(out_dir, name: str, title: str, sections: list, figures: dict | None = None) -> Path:
    """``sections``: [(heading, text)]; writes ``<out>/<name>.md`` and prints it. ``figures`` (headline numbers)
    go to ``<out>/<name>.json`` with the stack they were measured on, for ``benchmarks/stacks.py``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if figures is not None:
        import json
        (out / f"{name}.json").write_text(json.dumps({"stack": stack(), "date": time.strftime("%Y-%m-%d %H:%M"),
                                                      "command": " ".join([Path(sys.argv[0]).name] + sys.argv[1:]),
                                                      "figures": figures}, indent=1) + "\n")
    parts = [f"# {title}", ""]
    for heading, text in sections:
        parts += [f"## {heading}", "", text.rstrip(), ""]
    path = out / f"{name}.md"
    path.write_text("\n".join(parts))
    print("\n".join(parts), flush=True)
    print(f"[bench] wrote {path}", flush=True)
    return path


def ratio(a, b):
    try:
        return a / b if a is not None and b not in (None, 0) else None
    except TypeError:
        return None


def front_panel(ax, runs: dict, baselines: dict, key: str, acc_key: str):
    """One plot panel: each run's points and its (accuracy, ``key``) Pareto front as a step line, then the
    baselines as stars. ``runs``: {label: (rows, color)}; rows and baselines are dicts with ``acc_key`` and ``key``."""
    from autoq.searching.fronts import pareto_points
    for label, (rows, color) in runs.items():
        rows = [r for r in rows if r.get(key) is not None]
        ax.scatter([r[key] for r in rows], [r[acc_key] for r in rows], s=14, alpha=0.45, color=color)
        fr = pareto_points([(r[acc_key], r[key]) for r in rows]) if rows else []
        if fr:
            ax.step([c for _, c in fr], [a for a, _ in fr], where="post", color=color, label=label)
    for name, b in baselines.items():
        if b.get(key) is not None:
            ax.scatter([b[key]], [b[acc_key]], marker="*", s=150, color="black" if name == "float" else "0.4", zorder=5)
            ax.annotate(name, (b[key], b[acc_key]), textcoords="offset points", xytext=(4, 4), fontsize=8)
