"""Results on disk: per-trial records, trials.csv, pareto.csv/png, summary.json. Every write is atomic.

Each trial writes ``trials/<id>/record.json`` (and its model) on its own, so concurrent workers and killed
processes never leave a half-written table: ``trials.csv`` is regenerated from the records and swapped in with
``os.replace``.
"""
from __future__ import annotations

import csv
import io
import json
import math
import os
import tempfile
from pathlib import Path

ROLE_SEP = "|"
CSV_FIXED = ["trial", "status", "val_metric", "val_accuracy", "score", "energy", "bits", "bops", "fpga", "seconds", "epochs",
             "tuner_id"]


def _umask() -> int:
    """The process umask, read without changing it where Linux allows (``os.umask`` alone must set it)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def fsync_dir(path) -> None:
    """Make a rename or a new file in ``path`` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _replace_durably(tmp, path: Path) -> None:
    """fsync ``tmp``, give it the umask's permissions (mkstemp makes 0600), rename it over ``path``, fsync the dir."""
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def atomic_write_text(path, text: str) -> None:
    """Write via a temporary file in the same folder, fsync, ``os.replace``, fsync the folder: a reader or a crash
    sees the old file or the new one, never half of one. The file follows the umask like any other output."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        _replace_durably(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_json(path, obj) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def _json_default(o):
    try:
        import numpy as np
        if isinstance(o, np.generic):
            return o.item()
        if isinstance(o, np.ndarray):
            return o.tolist()
    except ImportError:
        pass
    return str(o)


def atomic_save_model(model, path) -> None:
    """Save a Keras model as .h5 atomically and durably."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.h5")
    try:
        model.save(tmp, include_optimizer=False, save_format="h5")
        _replace_durably(tmp, path)
    except BaseException:
        if tmp.exists():
            tmp.unlink()
        raise


def atomic_copy(src, dst) -> None:
    """Copy a file atomically and durably."""
    import shutil
    dst = Path(dst)
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
    try:
        shutil.copyfile(src, tmp)
        _replace_durably(tmp, dst)
    except BaseException:
        if tmp.exists():
            tmp.unlink()
        raise


def pareto_front(points) -> list:
    """Indices of the non-dominated points of ``[(metric, cost), ...]`` (maximise metric, minimise cost)."""
    idx = sorted(range(len(points)), key=lambda i: (points[i][1], -points[i][0]))
    front, best = [], float("-inf")
    for i in idx:
        if points[i][0] > best:
            front.append(i)
            best = points[i][0]
    return sorted(front, key=lambda i: points[i][1])


def _up(metric, value: float) -> float:
    return value if metric is None or metric.maximise else -value


def front_points(records: list, baselines: dict, cost_key: str, metric=None) -> list:
    """The Pareto front of the finished trials and the uniform baselines together, cheapest first, on
    (``val_metric`` in the ``metric``'s direction, cost). The float model is left out (it is the cost reference,
    not a quantized model); a baseline point is its baseline dict with ``trial: "baseline <name>"`` and
    ``baseline: <name>``."""
    pts = [r for r in records if r.get("status") == "ok" and r.get(cost_key) is not None]
    pts += [dict(b, trial=f"baseline {name}", baseline=name) for name, b in sorted((baselines or {}).items())
            if name != "float" and b.get(cost_key) is not None and b.get("val_metric") is not None]
    return [pts[i] for i in pareto_front([(_up(metric, p["val_metric"]), p[cost_key]) for p in pts])]


class ResultStore:
    """The output directory of one search."""

    def __init__(self, output_dir):
        self.dir = Path(output_dir)

    # paths
    def trial_dir(self, trial_id) -> Path:
        return self.dir / "trials" / str(trial_id)

    @property
    def summary_path(self) -> Path:
        return self.dir / "summary.json"

    # records
    def write_record(self, record: dict) -> None:
        atomic_write_json(self.trial_dir(record["trial"]) / "record.json", record)

    def records(self) -> list:
        """All finished or failed trial records, in trial order."""
        out = []
        root = self.dir / "trials"
        if not root.is_dir():
            return out
        for p in root.glob("*/record.json"):
            try:
                rec = json.loads(p.read_text())
                rec["trial"]  # noqa: B018 - a record without its id is as unusable as a torn one
            except (OSError, ValueError, KeyError, TypeError) as exc:
                # records are written atomically, so this is damage, not a write in progress: say so, lose nothing
                from .errors import ResultsError
                raise ResultsError(f"{p} is unreadable ({type(exc).__name__}: {exc}); restore it, or delete that "
                                   "trial's folder to drop the trial") from None
            out.append(rec)
        return sorted(out, key=lambda r: (r.get("number", 0), str(r["trial"])))

    # tables
    def write_trials_csv(self, records: list, dataset: str = "") -> Path:
        """One row per trial; one column per layer and parameter type (``fc1.kernel``...); ``dataset`` names the data
        in every row (``... (SYNTHETIC)`` for a stand-in)."""
        cols = []
        for r in records:
            for layer, roles in r.get("choice", {}).items():
                for role in roles:
                    if f"{layer}.{role}" not in cols:
                        cols.append(f"{layer}.{role}")
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(CSV_FIXED + cols + ["error", "dataset"])
        for r in records:
            choice = r.get("choice", {})
            row = [_fmt(r.get(c)) for c in CSV_FIXED]
            row += [choice.get(c.rsplit(".", 1)[0], {}).get(c.rsplit(".", 1)[1], "") for c in cols]
            w.writerow(row + [r.get("error", ""), dataset])
        path = self.dir / "trials.csv"
        atomic_write_text(path, buf.getvalue())
        return path

    def write_pareto_csv(self, front: list, cost_key: str, dataset: str = "") -> Path:
        """The front of :func:`front_points`: trials and the baselines that are not dominated."""
        buf = io.StringIO()
        w = csv.writer(buf)
        cols = ["val_metric", "val_accuracy", "energy", "bits", "bops", "fpga", "score"]
        w.writerow(["trial"] + cols + ["front_cost", "model", "dataset"])
        for r in front:
            w.writerow([r["trial"]] + [_fmt(r.get(c)) for c in cols] + [cost_key, r.get("model", ""), dataset])
        path = self.dir / "pareto.csv"
        atomic_write_text(path, buf.getvalue())
        return path


def _fmt(v):
    if isinstance(v, float):
        return f"{v:.6g}"
    return "" if v is None else v


def plain_log_x(ax) -> None:
    """A log x axis labelled with plain numbers (matplotlib writes 2x10^2 within a decade), minor labels at 2 and 5
    only, so that labels never run into each other."""
    from matplotlib import ticker

    def minor(v, _):
        return f"{v:g}" if v > 0 and round(v / 10 ** math.floor(math.log10(v)), 6) in (2, 5) else ""

    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.xaxis.set_minor_formatter(ticker.FuncFormatter(minor))
    ax.tick_params(axis="x", which="minor", labelsize=7)


def plot_pareto(records: list, baselines: dict, cost_key: str = "energy", path=None, title: str = "", ax=None,
                metric=None):
    """The goal metric (accuracy by default) vs cost: every trial, the Pareto front, float and uniform baselines.
    Returns the figure."""
    import matplotlib.pyplot as plt

    ok = [r for r in records if r.get("status") == "ok" and r.get(cost_key) is not None]
    own_figure = ax is None
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.4, 4.4), dpi=120)
    else:
        fig = ax.figure
    if ok:
        ax.scatter([r[cost_key] for r in ok], [r["val_metric"] for r in ok], s=18, c="#9aa7b8", label="trials")
        front = front_points(ok, baselines, cost_key, metric)
        ax.step([r[cost_key] for r in front], [r["val_metric"] for r in front], where="post", c="#1f5fa8",
                lw=1.6, label="Pareto front")
        ax.scatter([r[cost_key] for r in front], [r["val_metric"] for r in front], s=30, c="#1f5fa8", zorder=3)
        best = max(ok, key=lambda r: r["score"])
        ax.scatter([best[cost_key]], [best["val_metric"]], s=140, marker="*", c="#e8a200", zorder=4,
                   edgecolors="k", linewidths=0.5, label=f"best score (trial {best['trial']})")
    # one marker per baseline, by name, so every plot of the same search looks the same (float always a square)
    markers = iter(["D", "^", "v", "P", "X", "o"])
    for name in sorted(baselines or {}, key=lambda n: (n != "float", n)):
        b = baselines[name]
        if b.get(cost_key) is None or b.get("val_metric") is None:
            continue
        ax.scatter([b[cost_key]], [b["val_metric"]], s=60, marker="s" if name == "float" else next(markers, "o"),
                   zorder=4, edgecolors="k", linewidths=0.5,
                   label="float (priced as 16-bit)" if name == "float" else f"{name} baseline")
    plain_log_x(ax)
    unit = {"energy": "energy per inference [pJ, QTools 45 nm]", "bits": "model size [bits]",
            "bops": "bit operations [BOPs]", "fpga": "estimated LUT + DSP"}.get(cost_key, cost_key)
    ax.set_xlabel(unit)
    name = metric.name if metric is not None else "accuracy"
    ax.set_ylabel(f"validation {name}" + ("" if metric is None or metric.maximise else " (lower is better)"))
    ax.set_title(title or "accuracy vs cost")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="best", framealpha=0.85)
    fig.tight_layout()
    if path is not None:
        path = Path(path)
        tmp = path.with_name(f".{path.stem}.tmp.png")
        fig.savefig(tmp)
        os.replace(tmp, path)
        if own_figure:
            plt.close(fig)  # written to disk; don't leave it for a notebook to show again
    return fig
