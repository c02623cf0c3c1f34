"""The public hls4ml synthesis results (benchmarks/data/hls4ml_synthesis.csv) and how an estimator is scored on them:
shared by bench_calibration.py (autoq's estimate) and bench_rule4ml.py (rule4ml, in its own environment). Imports
neither autoq nor TensorFlow."""
from __future__ import annotations

import csv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "benchmarks" / "data" / "hls4ml_synthesis.csv"
FIGURES = ("lut", "ff", "dsp", "bram18", "latency_cycles", "ii")
TARGET = {"within_2x": 0.8, "spearman": 0.9}  # issue 24: LUT, FF, DSP within 2x on >= 80 % of points, rho >= 0.9


def read_rows(path: Path = DATA) -> list[dict]:
    """The data file's rows, numbers as int/float and blanks as None."""
    rows = []
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            for k in ("lut", "ff", "dsp", "bram18", "latency_cycles", "latency_ns", "ii", "reuse_factor"):
                r[k] = float(r[k]) if r[k] not in ("", None) else None
            r["clock_ns"] = float(r["clock_ns"])
            rows.append(r)
    return rows


def spearman(a: list[float], b: list[float]) -> float | None:
    """Spearman's rank correlation (average ranks for ties); None under 3 points or a constant side."""
    import numpy as np

    if len(a) < 3:
        return None

    def ranks(v):
        v = np.asarray(v, dtype=float)
        order = np.argsort(v, kind="stable")
        r = np.empty(len(v))
        r[order] = np.arange(len(v), dtype=float)
        for x in np.unique(v):
            r[v == x] = r[v == x].mean()
        return r

    ra, rb = ranks(a), ranks(b)
    if ra.std() == 0 or rb.std() == 0:
        return None
    return float(np.corrcoef(ra, rb)[0, 1])


def score(points: list[dict]) -> tuple[dict, float]:
    """Per figure: points, share within 2x, Spearman, misses (each point gets its ``ratio`` = (estimate + 1) /
    (reported + 1), so a reported 0 stays comparable); and the share of LUT, FF and DSP points within 2x."""
    figures = {}
    for fig in FIGURES:
        pts = [p for p in points if p["figure"] == fig]
        ratios = [(p["estimate"] + 1) / (p["reported"] + 1) for p in pts]
        for p, q in zip(pts, ratios):
            p["ratio"] = round(q, 3)
        within = [0.5 <= q <= 2.0 for q in ratios]
        rho = spearman([p["estimate"] for p in pts], [p["reported"] for p in pts])
        figures[fig] = {"points": len(pts), "within_2x": round(sum(within) / len(pts), 3) if pts else None,
                        "spearman": None if rho is None else round(rho, 3),
                        "misses": [f"{p['design']} ({p['ratio']}x)" for p, w in zip(pts, within) if not w]}
    main = [p for p in points if p["figure"] in ("lut", "ff", "dsp")]
    share = sum(0.5 <= p["ratio"] <= 2.0 for p in main) / len(main) if main else 0.0
    return figures, round(share, 3)


def figure_table(figures: dict) -> list[str]:
    """The per-figure table, markdown lines."""
    out = ["| figure | points | within 2x | Spearman | outside 2x |", "| --- | --- | --- | --- | --- |"]
    for fig, f in figures.items():
        rho = "n/a (< 3 points)" if f["spearman"] is None else f["spearman"]
        within = "-" if f["within_2x"] is None else f"{100 * f['within_2x']:.0f} %"
        out.append(f"| {fig} | {f['points']} | {within} | {rho} | {', '.join(f['misses']) or '-'} |")
    return out


def verdict(figures: dict, share: float) -> list[str]:
    """The two target lines of issue 24."""
    rhos = {k: figures[k]["spearman"] for k in ("lut", "ff", "dsp")}
    return [f"LUT, FF and DSP within 2x: {100 * share:.0f} % of the points (target >= 80 %: "
            f"{'met' if share >= TARGET['within_2x'] else 'NOT met'}).",
            "Spearman >= 0.9 across designs: " + ", ".join(
                f"{k} {'n/a' if v is None else v} ({'n/a' if v is None else 'met' if v >= TARGET['spearman'] else 'NOT met'})"
                for k, v in rhos.items()) + "."]
