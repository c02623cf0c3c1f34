"""Plots: a search's goal metric vs cost with its Pareto front and baselines, and the log axis they share with the
benchmarks. Drawing only: the front comes from :mod:`autoq.searching.fronts`."""
from __future__ import annotations

import math
import os
from pathlib import Path

from ..searching.fronts import front_points


def plot_title(summary: dict) -> str:
    """``name: N trials (algorithm)``, and the data's name, marked SYNTHETIC for a stand-in."""
    data = (summary.get("dataset") or "").split(":")[0].split(" (")[0]
    return (f"{summary.get('name', '')}: {summary.get('trials', '?')} trials ({summary.get('algorithm', '')})"
            + (f" on {data}" if data else "") + (" - SYNTHETIC data" if summary.get("synthetic_data") else ""))


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
            "bops": "bit operations [BOPs]",
            "ebops": "effective bit operations [EBOPs, HGQ's exact count]", "fpga": "estimated LUT + DSP"}.get(cost_key, cost_key)
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
