"""rule4ml, a learned resource and latency predictor for hls4ml designs, on the public synthesis results of
benchmarks/data/hls4ml_synthesis.csv, beside autoq's estimate (benchmarks/results/calibration.json).

rule4ml 0.2.0 needs Keras 3, TensorFlow >= 2.15.1 and torch, which do not install beside autoq's Python 3.11 stack
(and its Keras 3 does not mix with autoq's tf_keras on 3.12+): run it in an environment of its own. It imports
neither autoq nor QKeras: the rebuildable designs are rebuilt as plain Keras 3 models (one precision per model, as
rule4ml takes it), on the board with the design's part (alveo-u200 for a VU9P: the same die).

    python -m venv /tmp/r4 && /tmp/r4/bin/pip install rule4ml==0.2.0 && /tmp/r4/bin/pip uninstall -y triton
    /tmp/r4/bin/python benchmarks/bench_rule4ml.py     # writes benchmarks/results/rule4ml.{md,json}

(triton, which torch pulls in, crashes on import on a machine without a GPU driver; rule4ml does not need it.)
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from calibration_data import DATA, ROOT, figure_table, read_rows, score, verdict  # noqa: E402

#: the rule4ml board of each part in the data file
BOARDS = {"xc7z020clg400-1": "pynq-z2", "xcvu9p-flga2577-2-e": "alveo-u200", "xcu250-figd2104-2L-e": "alveo-u250"}
#: the one precision rule4ml takes per model, per rebuildable design (its weights' and activations' width)
PRECISION = {"dense5": "ap_fixed<16, 6>", "jet_bf16": "ap_fixed<16, 6>", "jet_q6": "ap_fixed<6, 1>",
             "tutorial_cnn": "ap_fixed<16, 6>", "tutorial_qcnn": "ap_fixed<6, 1>"}
#: the tool versions asked for: the reports' Vivado (HLS) 2020.1 and the newest hls4ml rule4ml was trained on
VERSIONS = {"hls4ml_versions": "1.1.0", "vivado_versions": "2020.1"}
COLUMNS = {"lut": "LUT", "ff": "FF", "dsp": "DSP", "bram18": "BRAM", "latency_cycles": "CYCLES", "ii": "INTERVAL"}


def build(name: str):
    """The design as a Keras 3 model (the architecture is what rule4ml reads; weights only for sparsity)."""
    import keras
    import numpy as np
    L = keras.layers
    if name == "dense5":
        inp = keras.Input((16,))
        return _built(keras.Model(inp, L.Dense(5, activation="relu")(inp), name=name), (16,))
    if name in ("jet_q6", "jet_bf16"):  # 16-64-32-32-5, ReLU, softmax
        x = inp = keras.Input((16,))
        for n in (64, 32, 32):
            x = L.Dense(n, activation="relu")(x)
        return _built(keras.Model(inp, L.Dense(5, activation="softmax")(x), name=name), (16,))
    x = inp = keras.Input((32, 32, 3))  # hls4ml-tutorial part 6's SVHN CNN, 50 % sparse
    for f in (16, 16, 24):
        x = L.Conv2D(f, 3, use_bias=False)(x)
        if name == "tutorial_cnn":
            x = L.BatchNormalization()(x)
        x = L.MaxPooling2D(2)(L.Activation("relu")(x))
    x = L.Flatten()(x)
    for n in (42, 64):
        x = L.Activation("relu")(L.BatchNormalization()(L.Dense(n, use_bias=False)(x)))
    model = keras.Model(inp, L.Activation("softmax")(L.Dense(10)(x)), name=name)
    rng = np.random.default_rng(0)
    for layer in model.layers:
        if isinstance(layer, (L.Conv2D, L.Dense)):
            w = layer.get_weights()
            k = rng.normal(0, math.sqrt(1 / np.prod(w[0].shape[:-1])), w[0].shape)
            k[np.abs(k) < np.median(np.abs(k))] = 0
            layer.set_weights([k.astype("float32")] + w[1:])
    return _built(model, (32, 32, 3))


def _built(model, shape):
    """rule4ml reads each layer's input shape from what Keras 3 records when a layer builds (its README builds every
    model); a layer with nothing to build (pooling, activation) records none, so its input shape is written there."""
    model.build((None, *shape))
    for layer in model.layers[1:]:
        if getattr(layer, "_build_shapes_dict", None) is None:
            layer._build_shapes_dict = {"input_shape": tuple(layer.input.shape)}
    return model


def run(path: Path = DATA) -> dict:
    os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
    import rule4ml
    from rule4ml.models.wrappers import MultiModelWrapper
    est = MultiModelWrapper()
    est.load_default_models()
    rows, points, skipped, cache = read_rows(path), [], [], {}
    for r in rows:
        if not r["rebuild"] or r["part"] not in BOARDS:
            skipped.append({"design": r["design"], "why": r["note"] if not r["rebuild"] else "no rule4ml board"})
            continue
        key = (r["rebuild"], r["strategy"], int(r["reuse_factor"]))
        if key not in cache:
            cfg = {"board": BOARDS[r["part"]], "model": {"strategy": r["strategy"], "precision": PRECISION[r["rebuild"]],
                                                           "reuse_factor": int(r["reuse_factor"])}}
            df = est.predict(build(r["rebuild"]), hls_configs=cfg, **VERSIONS)
            cache[key] = {fig: float(df[col].iloc[0]) for fig, col in COLUMNS.items()}
        for fig in COLUMNS:
            if r[fig] is not None:
                points.append({"design": r["design"], "figure": fig, "reported": r[fig], "estimate": cache[key][fig]})
    figures, share = score(points)
    autoq = json.loads((ROOT / "benchmarks" / "results" / "calibration.json").read_text())
    return {"rule4ml": getattr(rule4ml, "__version__", "?"), "versions_asked": VERSIONS, "points": points,
            "figures": figures, "lut_ff_dsp_within_2x": share, "skipped": skipped,
            "autoq_lut_ff_dsp_within_2x": autoq["lut_ff_dsp_within_2x"],
            "autoq_spearman": {k: autoq["figures"][k]["spearman"] for k in ("lut", "ff", "dsp")}}


def markdown(res: dict) -> str:
    by = {(p["design"], p["figure"]): p for p in json.loads(
        (ROOT / "benchmarks" / "results" / "calibration.json").read_text())["points"]}
    out = [f"# rule4ml {res['rule4ml']} on the public hls4ml synthesis results, beside autoq's estimate", "",
           "Produced by `benchmarks/bench_rule4ml.py` in an environment of its own (rule4ml needs Keras 3, "
           "TensorFlow >= 2.15.1 and torch). Designs rebuilt as plain Keras 3 models with one precision each; tool "
           f"versions asked: hls4ml {res['versions_asked']['hls4ml_versions']}, Vivado "
           f"{res['versions_asked']['vivado_versions']}. Ratio = (prediction + 1) / (reported + 1).", ""]
    out += figure_table(res["figures"])
    out += ["", "| design | figure | reported | rule4ml | ratio | autoq's ratio |", "| --- | --- | --- | --- | --- | --- |"]
    out += [f"| {p['design']} | {p['figure']} | {p['reported']:g} | {p['estimate']:.4g} | {p['ratio']} | "
            f"{by.get((p['design'], p['figure']), {}).get('ratio', '-')} |" for p in res["points"]]
    out += [""] + verdict(res["figures"], res["lut_ff_dsp_within_2x"])
    out += ["", f"autoq's estimate on the same data: LUT, FF and DSP within 2x on "
            f"{100 * res['autoq_lut_ff_dsp_within_2x']:.0f} % of the points; Spearman "
            + ", ".join(f"{k} {v}" for k, v in res["autoq_spearman"].items()) + " (calibration.md)."]
    if res["skipped"]:
        out += ["", "Not rebuilt: " + "; ".join(f"{s['design']} ({s['why']})" for s in res["skipped"]) + "."]
    return "\n".join(out) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    a = p.parse_args(argv)
    try:
        import rule4ml  # noqa: F401
    except ImportError:
        p.error("rule4ml is not installed here; see this script's docstring for its environment")
    res = run()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "rule4ml.json").write_text(json.dumps(res, indent=1) + "\n")
    (out / "rule4ml.md").write_text(markdown(res))
    print(markdown(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
