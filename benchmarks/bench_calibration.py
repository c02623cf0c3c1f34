"""The FPGA estimate against every public hls4ml synthesis result gathered in benchmarks/data/hls4ml_synthesis.csv.

Rebuilds each design that can be rebuilt (its model, part, clock, io_type, strategy, reuse), runs
:func:`autoq.cost.estimate.estimate` on it (pure arithmetic, no training, no hls4ml) and writes
``calibration.md`` and ``calibration.json``: per figure (LUT, FF, DSP, BRAM, latency, II) the ratio estimate /
reported, the share within 2x, Spearman's rank correlation across designs, and the points outside 2x by name.

    python benchmarks/bench_calibration.py [--out benchmarks/results]
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's autoq
import autoq  # noqa: E402,F401 -- before TensorFlow (autoq/keras_env.py)

DATA = ROOT / "benchmarks" / "data" / "hls4ml_synthesis.csv"
JET = ROOT / "tests" / "data" / "jet-tagger"
FIGURES = {"lut": "luts", "ff": "ffs", "dsp": "dsps", "bram18": "bram18", "latency_cycles": "latency_cycles",
           "ii": "interval_cycles"}
TARGET = {"within_2x": 0.8, "spearman": 0.9}  # issue 24: LUT, FF, DSP within 2x on >= 80 % of points, rho >= 0.9
RULE4ML = ("rule4ml 0.2.0 (a learned LUT/FF/DSP/BRAM/latency predictor; `pip download --no-deps rule4ml==0.2.0`: a "
           "10.7 MB pure-Python wheel with its weights inside) not evaluated: it requires tensorflow>=2.15.1, keras, "
           "torch, torch-geometric, optuna, pandas and scikit-learn, which do not install beside this stack's "
           "TensorFlow 2.14, and it takes one precision per model.")


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


def build(name: str):
    """The Keras model of a rebuildable design (deterministic weights: no training)."""
    import numpy as np
    import tensorflow as tf

    if name == "dense5":  # hls4ml's report test model; glorot-uniform weights from a fixed seed
        m = tf.keras.Sequential([tf.keras.layers.Dense(5, input_shape=(16,), name="fc1", activation="relu")])
        lim = math.sqrt(6 / (16 + 5))
        m.set_weights([np.random.default_rng(0).uniform(-lim, lim, (16, 5)).astype("float32"),
                       np.zeros(5, "float32")])
        return m
    from qkeras.utils import _add_supported_quantized_objects
    objs: dict = {}
    _add_supported_quantized_objects(objs)
    stem = {"jet_q6": "qkeras_3layer", "jet_bf16": "KERAS_3layer"}[name]
    m = tf.keras.models.model_from_json((JET / f"{stem}.json").read_text(), custom_objects=objs)
    m.load_weights(str(JET / f"{stem}_weights.h5"))
    return m


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


def run(path: Path = DATA) -> dict:
    """Estimate every rebuildable row; the per-figure error table."""
    from autoq.cost.estimate import estimate

    rows, points, skipped, cache = read_rows(path), [], [], {}
    for r in rows:
        if not r["rebuild"]:
            skipped.append({"design": r["design"], "why": r["note"]})
            continue
        if r["rebuild"] not in cache:
            cache[r["rebuild"]] = build(r["rebuild"])
        e = estimate(cache[r["rebuild"]], reuse_factor=int(r["reuse_factor"]), clock_period=r["clock_ns"],
                     part=r["part"], strategy=r["strategy"], io_type=r["io_type"])
        for fig, attr in FIGURES.items():
            if r[fig] is not None:
                points.append({"design": r["design"], "figure": fig, "reported": r[fig],
                               "estimate": float(getattr(e, attr))})
    figures = {}
    for fig in FIGURES:
        pts = [p for p in points if p["figure"] == fig]
        ratios = [(p["estimate"] + 1) / (p["reported"] + 1) for p in pts]  # +1: a reported 0 stays comparable
        for p, q in zip(pts, ratios):
            p["ratio"] = round(q, 3)
        within = [0.5 <= q <= 2.0 for q in ratios]
        rho = spearman([p["estimate"] for p in pts], [p["reported"] for p in pts])
        figures[fig] = {"points": len(pts), "within_2x": round(sum(within) / len(pts), 3) if pts else None,
                        "spearman": None if rho is None else round(rho, 3),
                        "misses": [f"{p['design']} ({p['ratio']}x)" for p, w in zip(pts, within) if not w]}
    main = [p for p in points if p["figure"] in ("lut", "ff", "dsp")]
    share = sum(0.5 <= p["ratio"] <= 2.0 for p in main) / len(main)
    return {"data": str(path.relative_to(ROOT)), "points": points, "figures": figures, "skipped": skipped,
            "lut_ff_dsp_within_2x": round(share, 3), "target": TARGET, "rule4ml": RULE4ML}


def markdown(res: dict) -> str:
    out = ["# Calibration of autoq's FPGA estimate against public hls4ml synthesis results", "",
           f"Data: `{res['data']}` (one row per design and report; sources in the file). Ratio = "
           "(estimate + 1) / (reported + 1). Produced by `python benchmarks/bench_calibration.py`.", "",
           "| figure | points | within 2x | Spearman | outside 2x |", "| --- | --- | --- | --- | --- |"]
    for fig, f in res["figures"].items():
        rho = "n/a (< 3 points)" if f["spearman"] is None else f["spearman"]
        within = "-" if f["within_2x"] is None else f"{100 * f['within_2x']:.0f} %"
        out.append(f"| {fig} | {f['points']} | {within} | {rho} | {', '.join(f['misses']) or '-'} |")
    out += ["", "| design | figure | reported | estimate | ratio |", "| --- | --- | --- | --- | --- |"]
    out += [f"| {p['design']} | {p['figure']} | {p['reported']:g} | {p['estimate']:g} | {p['ratio']} |"
            for p in res["points"]]
    share = res["lut_ff_dsp_within_2x"]
    out += ["", f"LUT, FF and DSP within 2x: {100 * share:.0f} % of the points (target >= 80 %: "
            f"{'met' if share >= TARGET['within_2x'] else 'NOT met'})."]
    rhos = {k: res["figures"][k]["spearman"] for k in ("lut", "ff", "dsp")}
    out.append("Spearman >= 0.9 across designs: " + ", ".join(
        f"{k} {'n/a' if v is None else v} ({'n/a' if v is None else 'met' if v >= TARGET['spearman'] else 'NOT met'})"
        for k, v in rhos.items()) + ".")
    if res["skipped"]:
        out += ["", "Not rebuilt: " + "; ".join(f"{s['design']} ({s['why']})" for s in res["skipped"]) + "."]
    out += ["", res["rule4ml"], ""]
    return "\n".join(out)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=str(DATA))
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    a = p.parse_args(argv)
    res = run(Path(a.data).resolve())
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "calibration.json").write_text(json.dumps(res, indent=1) + "\n")
    (out / "calibration.md").write_text(markdown(res))
    print(markdown(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
