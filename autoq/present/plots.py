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


#: x-axis labels of the goal costs (the unit in brackets, as in :data:`autoq.cost.UNITS`)
COST_LABELS = {"energy": "energy per inference [pJ, QTools 45 nm]", "bits": "model size [bits]",
               "bops": "bit operations per inference [BOPs]", "fpga": "FPGA resources, estimated [LUT + DSP]",
               "ebops": "effective bit operations [EBOPs, HGQ's exact count]"}
#: units of loss-like goal metrics (targets are not rescaled; an autoencoder's target is its, maybe standardized, input)
_METRIC_UNITS = {"mse": "target units²", "mean_squared_error": "target units²", "mae": "target units",
                 "mean_absolute_error": "target units", "rmse": "target units",
                 "root_mean_squared_error": "target units",
                 "mape": "%", "mean_absolute_percentage_error": "%"}


#: the test points sit this factor to the right of their validation points (same model, same cost), so that both
#: error bars show
TEST_NUDGE = 1.025


def is_fraction(metric_name: str) -> bool:
    """An accuracy-like metric: the fraction of samples right, binomially uncertain on a finite set."""
    return ":" not in metric_name and metric_name.endswith("accuracy")


def binomial_sigma(p, n):
    """One standard deviation of a fraction ``p`` measured on ``n`` samples: sqrt(p (1 - p) / n)."""
    import numpy as np
    p = np.clip(np.asarray(p, dtype=float), 0.0, 1.0)
    return np.sqrt(p * (1 - p) / n)


def metric_label(metric, split: str = "validation") -> str:
    """``validation accuracy (fraction correct)``, ``validation mse [target units²] (lower is better)``."""
    name = metric.name if metric is not None else "accuracy"
    unit = "(fraction correct)" if is_fraction(name) else f"[{_METRIC_UNITS[name]}]" if name in _METRIC_UNITS else ""
    lower = "" if metric is None or metric.maximise else "(lower is better)"
    return " ".join(x for x in (split, name, unit, lower) if x)


def plot_pareto(records: list, baselines: dict, cost_key: str = "energy", path=None, title: str = "", ax=None,
                metric=None, n_val: int | None = None, test: dict | None = None, n_test: int | None = None):
    """The goal metric (accuracy by default) vs cost: every trial, the Pareto front, float and uniform baselines.

    n_val: validation samples; for an accuracy-like metric the front and baselines get binomial error bars (+-1
    sigma) and the front a band. test: the front's test metric by trial id (``summary["test_metric"]``), drawn
    beside it (n_test samples; nudged right by TEST_NUDGE). Returns the figure."""
    import matplotlib.pyplot as plt

    ok = [r for r in records if r.get("status") == "ok" and r.get(cost_key) is not None]
    own_figure = ax is None
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.4, 4.6), dpi=120)
    else:
        fig = ax.figure
    name = metric.name if metric is not None else "accuracy"
    binomial = is_fraction(name)
    sig = (lambda vals: binomial_sigma(vals, n_val)) if binomial and n_val else None
    shown = []
    if ok:
        ax.scatter([r[cost_key] for r in ok], [r["val_metric"] for r in ok], s=18, c="#9aa7b8", label="trials")
        front = front_points(ok, baselines, cost_key, metric)
        xs, ys = [r[cost_key] for r in front], [r["val_metric"] for r in front]
        ax.step(xs, ys, where="post", c="#1f5fa8", lw=1.6,
                label="Pareto front" + (f" (validation, n={n_val}, ±1σ binomial)" if sig else ""))
        if sig:
            e = sig(ys)
            ax.fill_between(xs, [y - d for y, d in zip(ys, e)], [y + d for y, d in zip(ys, e)], step="post",
                            color="#1f5fa8", alpha=0.15, lw=0)
            ax.errorbar(xs, ys, yerr=e, fmt="o", ms=4.5, c="#1f5fa8", capsize=2, lw=1, zorder=3)
        else:
            ax.scatter(xs, ys, s=30, c="#1f5fa8", zorder=3)
        shown = [(r[cost_key] * TEST_NUDGE, test[r["trial"]]) for r in front
                 if test and test.get(r["trial"]) is not None]
        if shown:
            tx, ty = zip(*shown)
            ax.step(tx, ty, where="post", c="#c0392b", lw=1, ls="--")
            ax.errorbar(tx, ty, yerr=binomial_sigma(ty, n_test) if binomial and n_test else None, fmt="D", ms=4.5,
                        mfc="white", mec="#c0392b", ecolor="#c0392b", capsize=2, lw=1, zorder=3,
                        label="front on the test set" + (f" (n={n_test})" if n_test else ""))
        best = max(ok, key=lambda r: r["score"])
        ax.scatter([best[cost_key]], [best["val_metric"]], s=140, marker="*", c="#e8a200", zorder=4,
                   edgecolors="k", linewidths=0.5, label=f"best score (trial {best['trial']})")
    # one marker per baseline, by name, so every plot of the same search looks the same (float always a square)
    markers = iter(["D", "^", "v", "P", "X", "o"])
    for bname in sorted(baselines or {}, key=lambda n: (n != "float", n)):
        b = baselines[bname]
        if b.get(cost_key) is None or b.get("val_metric") is None:
            continue
        ax.errorbar([b[cost_key]], [b["val_metric"]], yerr=sig([b["val_metric"]]) if sig else None,
                    fmt="s" if bname == "float" else next(markers, "o"), ms=7, mec="k", mew=0.5, capsize=2, lw=1,
                    zorder=4, label="float (priced as 16-bit)" if bname == "float" else f"{bname} baseline")
    plain_log_x(ax)
    ax.set_xlabel(COST_LABELS.get(cost_key, cost_key))
    ax.set_ylabel(metric_label(metric, "validation and test" if ok and shown else "validation"))
    ax.set_title(title or f"{name} vs {cost_key}")
    ax.grid(True, which="both", alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7.5, loc="best", framealpha=0.85)
    fig.tight_layout()
    if path is not None:
        path = Path(path)
        tmp = path.with_name(f".{path.stem}.tmp.png")
        fig.savefig(tmp)
        os.replace(tmp, path)
        if own_figure:
            plt.close(fig)  # written to disk; don't leave it for a notebook to show again
    return fig
