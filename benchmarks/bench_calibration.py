"""The FPGA estimate against every public hls4ml synthesis result gathered in benchmarks/data/hls4ml_synthesis.csv.

Rebuilds each design that can be rebuilt (its model, part, clock, io_type, strategy, reuse), runs
:func:`autoq.cost.estimate.estimate` on it (pure arithmetic, no training, no hls4ml) and writes
``calibration.md`` and ``calibration.json``: per figure (LUT, FF, DSP, BRAM, latency, II) the ratio estimate /
reported, the share within 2x, Spearman's rank correlation across designs, and the points outside 2x by name.

    python benchmarks/bench_calibration.py [--out benchmarks/results]
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's autoq
import autoq  # noqa: E402,F401 -- before TensorFlow (autoq/keras_env.py)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from calibration_data import DATA, TARGET, figure_table, read_rows, score, verdict  # noqa: E402

JET = ROOT / "tests" / "data" / "jet-tagger"
#: the estimate's attribute of each figure
FIGURES = {"lut": "luts", "ff": "ffs", "dsp": "dsps", "bram18": "bram18", "latency_cycles": "latency_cycles",
           "ii": "interval_cycles"}
def rule4ml_line() -> str:
    """How rule4ml did on the same data (benchmarks/results/rule4ml.json, written by bench_rule4ml.py in rule4ml's
    own environment), or why it is not there."""
    path = ROOT / "benchmarks" / "results" / "rule4ml.json"
    if not path.is_file():
        return ("rule4ml (a learned LUT/FF/DSP/BRAM/latency predictor) not evaluated: run benchmarks/bench_rule4ml.py "
                "in an environment where it installs (Keras 3, TensorFlow >= 2.15.1, torch).")
    r = json.loads(path.read_text())
    f = r["figures"]
    return (f"rule4ml {r['rule4ml']} on the same designs (rule4ml.md, from benchmarks/bench_rule4ml.py in its own "
            f"environment): LUT, FF and DSP within 2x on {100 * r['lut_ff_dsp_within_2x']:.0f} % of the points, "
            f"Spearman lut {f['lut']['spearman']}, ff {f['ff']['spearman']}, dsp {f['dsp']['spearman']}: it does not "
            "hold up here, so autoq does not show it beside its estimate.")


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
    if name in ("tutorial_cnn", "tutorial_qcnn"):
        return tutorial_cnn(name == "tutorial_qcnn")
    from qkeras.utils import _add_supported_quantized_objects
    objs: dict = {}
    _add_supported_quantized_objects(objs)
    stem = {"jet_q6": "qkeras_3layer", "jet_bf16": "KERAS_3layer"}[name]
    m = tf.keras.models.model_from_json((JET / f"{stem}.json").read_text(), custom_objects=objs)
    m.load_weights(str(JET / f"{stem}_weights.h5"))
    return m


def tutorial_cnn(quantized: bool):
    """hls4ml-tutorial part 6's SVHN CNN (32x32x3; 3x3 convs of 16, 16, 24 filters, each + batch norm + ReLU + 2x2
    max pooling; Dense 42, 64 + batch norm + ReLU; Dense 10 + softmax; no biases), pruned to 50 % sparsity. Its
    trained weights are not public: lecun-normal weights from a fixed seed, the smaller half of each layer zeroed.
    ``quantized``: QKeras 6-bit weights (quantized_bits(6,0,alpha=1)) and quantized_relu(6), the conv batch norms
    folded into the kernels, the dense ones kept (the report's layer list shows them as 'normalize')."""
    import numpy as np
    import tensorflow as tf
    from qkeras import QActivation, QConv2D, QDense, quantized_bits, quantized_relu

    L = tf.keras.layers
    q = {"kernel_quantizer": quantized_bits(6, 0, alpha=1)} if quantized else {}
    x = inp = tf.keras.Input((32, 32, 3))
    for i, f in enumerate((16, 16, 24)):
        x = (QConv2D(f, 3, use_bias=False, name=f"conv_{i}", **q) if quantized
             else L.Conv2D(f, 3, use_bias=False, name=f"conv_{i}"))(x)
        if not quantized:  # the quantized tutorial folds these into the kernels (QConv2DBatchnorm)
            x = L.BatchNormalization(name=f"bn_conv_{i}")(x)
        x = QActivation(quantized_relu(6), name=f"conv_act_{i}")(x) if quantized else L.Activation("relu")(x)
        x = L.MaxPooling2D(2, name=f"pool_{i}")(x)
    x = L.Flatten()(x)
    for i, n in enumerate((42, 64)):
        x = (QDense(n, use_bias=False, name=f"dense_{i}", **q) if quantized
             else L.Dense(n, use_bias=False, name=f"dense_{i}"))(x)
        x = L.BatchNormalization(name=f"bn_dense_{i}")(x)
        x = QActivation(quantized_relu(6), name=f"dense_act_{i}")(x) if quantized else L.Activation("relu")(x)
    x = (QDense(10, name="output_dense", **q) if quantized else L.Dense(10, name="output_dense"))(x)
    model = tf.keras.Model(inp, L.Activation("softmax")(x))
    rng = np.random.default_rng(0)
    for layer in model.layers:
        if isinstance(layer, (L.Conv2D, L.Dense)):
            w = layer.get_weights()
            k = rng.normal(0, math.sqrt(1 / np.prod(w[0].shape[:-1])), w[0].shape)
            k[np.abs(k) < np.median(np.abs(k))] = 0
            layer.set_weights([k.astype("float32")] + [np.zeros_like(b) for b in w[1:]])
    return model


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
    figures, share = score(points)
    return {"data": str(path.relative_to(ROOT)), "points": points, "figures": figures, "skipped": skipped,
            "lut_ff_dsp_within_2x": round(share, 3), "target": TARGET, "rule4ml": rule4ml_line()}


def markdown(res: dict) -> str:
    out = ["# Calibration of autoq's FPGA estimate against public hls4ml synthesis results", "",
           f"Data: `{res['data']}` (one row per design and report; sources in the file). Ratio = "
           "(estimate + 1) / (reported + 1). Produced by `python benchmarks/bench_calibration.py`.", ""]
    out += figure_table(res["figures"])
    out += ["", "| design | figure | reported | estimate | ratio |", "| --- | --- | --- | --- | --- |"]
    out += [f"| {p['design']} | {p['figure']} | {p['reported']:g} | {p['estimate']:g} | {p['ratio']} |"
            for p in res["points"]]
    out += [""] + verdict(res["figures"], res["lut_ff_dsp_within_2x"])
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
