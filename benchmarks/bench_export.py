"""Export: hls4ml conversion + g++ compile time and C-simulation agreement per model (autoq.export).

Models: the published float jet tagger (ci/full only), the published uniform 6-bit QKeras jet tagger (Q6), and the
winner of a small autoq search on the jet tagger. For each: seconds to convert (hls4ml), seconds to compile (g++,
the C simulation library), argmax agreement and max |difference| between the C simulation and the Keras/QKeras model
on validation inputs, and the resource estimate (autoq.cost.estimate.estimate).

Coverage: every QKeras model of hls4ml's own tests (benchmarks/hls4ml_test_models.py, each citing its test), in each
io type its test runs (Vivado backend), exported by autoq and by plain hls4ml configured as the test configures it;
both compared on the same tensor (the logits before a float softmax) with autoq.exporting.check.

    python benchmarks/bench_export.py --budget ci [--data jets.npz]
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import data_label, environment, jet_config, md_table, parser, ratio, write_md  # noqa: E402

PUBLISHED = Path(__file__).resolve().parents[1] / "tests" / "data" / "jet-tagger"
SEARCH_TRIALS = {"tiny": 1, "ci": 4, "full": 20}
CHECK_SAMPLES = {"tiny": 100, "ci": 1000, "full": 1000}


def published(kind):
    import tensorflow as tf
    from autoq import quantizers
    stem = "KERAS_3layer" if kind == "float" else "qkeras_3layer"
    m = tf.keras.models.model_from_json((PUBLISHED / f"{stem}.json").read_text(),
                                        custom_objects=quantizers.custom_objects())
    m.load_weights(str(PUBLISHED / f"{stem}_weights.h5"))
    return m


def winner(args, workdir):
    from autoq import search as run_search
    cfg = jet_config(args.budget, args.data, algorithm="pareto", trials=SEARCH_TRIALS[args.budget], baselines=False,
                     keep="pareto", seed=args.seed)
    t0 = time.perf_counter()
    res = run_search(config=cfg, output_dir=Path(workdir) / "search", verbose=False, overwrite=True)
    from autoq.config import config_from_dict
    from autoq.data.sources import load_dataset
    data = load_dataset(config_from_dict(cfg).data)
    return res, data, time.perf_counter() - t0


COVERAGE_CASES = {"tiny": 1, "ci": None, "full": None}


def _plain_hls4ml(case, model, x, io, out):
    """Plain hls4ml as the hls4ml test configures it, checked like autoq's export: (status, max |diff|)."""
    import hls4ml

    from autoq.exporting import check as export_check
    from autoq.exporting import vocabulary
    kw = {"default_precision": case.default_precision} if case.default_precision else {}
    cfg = hls4ml.utils.config_from_keras_model(model, granularity="name", backend="Vivado", **kw)
    case.tweak(cfg)
    for entry in cfg["LayerName"].values():
        entry["Trace"] = True
    hls = hls4ml.converters.convert_from_keras_model(model, hls_config=cfg, output_dir=out, backend="Vivado",
                                                     io_type=io)
    y, trace = hls.trace(np.ascontiguousarray(x))
    chk = export_check.compare(model, hls, export_check.keras_layer_outputs(model, x), y, trace,
                               vocabulary.float_layers(model))
    return ("exact" if chk.max_abs_diff == 0 else "MISMATCH"), chk.max_abs_diff


def _autoq(model, x, io, out):
    from autoq.errors import ExportError
    from autoq.exporting.pipeline import export
    try:
        r = export(model, out, x=x, io_type=io, backend="Vivado", force=True, allow_mismatch=True)
    except ExportError as e:
        return f"refused: {str(e).splitlines()[0][:110]}", None
    return ("exact" if r.bit_exact else "MISMATCH"), r.max_abs_diff


def coverage(budget, workdir):
    """One row per (hls4ml test model, io type): autoq's and plain hls4ml's result."""
    import tensorflow as tf
    from hls4ml_test_models import cases

    from autoq.exporting.pipeline import quantize_inputs
    rows = []
    for case in cases()[:COVERAGE_CASES[budget]]:
        for io in case.io_types[:1] if budget == "tiny" else case.io_types:
            tf.keras.utils.set_random_seed(0)
            model, x = case.build(), case.x(np.random.default_rng(0))
            base = Path(workdir) / "cov" / f"{len(rows)}"
            print(f"[bench] coverage: {case.name} ({io}) ...", flush=True)
            x = quantize_inputs(x, "fixed<16,6,RND_CONV,SAT>")  # hls4ml's default input type: same numbers for both
            a, a_diff = _autoq(model, x, io, str(base / "autoq"))
            try:
                p, p_diff = _plain_hls4ml(case, model, x, io, str(base / "plain"))
            except Exception as e:  # noqa: BLE001 -- plain hls4ml fails with bare exceptions
                p, p_diff = f"failed: {str(e).splitlines()[0][:90]}", None
            rows.append({"model": case.name, "source": case.source, "io": io, "autoq": a, "autoq_diff": a_diff,
                         "plain": p, "plain_diff": p_diff})
    return rows


def _fmt_diff(v):
    return "-" if v is None else f"{v:.3g}"


def plot(path, rows, title):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(8, 4))
    names = [r["model"] for r in rows]
    conv = [r["convert"] for r in rows]
    comp = [r["compile"] for r in rows]
    ax.barh(names, conv, color="tab:blue", label="hls4ml convert")
    ax.barh(names, comp, left=conv, color="tab:orange", label="g++ compile (C simulation)")
    for i, r in enumerate(rows):
        ax.annotate(f"agreement {100 * r['agreement']:.1f}%" if r["agreement"] is not None else "no check",
                    (conv[i] + comp[i], i), xytext=(4, 0), textcoords="offset points", va="center", fontsize=8)
    ax.set_xlabel("seconds")
    ax.set_title(title)
    ax.legend(fontsize=8, loc="lower right")
    ax.set_xlim(0, max(c + k for c, k in zip(conv, comp)) * 1.45)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    args = parser(__doc__.split("\n")[0]).parse_args(argv)
    try:
        from autoq.exporting.pipeline import export
    except ImportError:
        raise SystemExit("autoq.export is not available in this checkout") from None
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        res, data, search_s = winner(args, tmp)
        x = data.x_val[:CHECK_SAMPLES[args.budget]]
        models = []
        if args.budget != "tiny":
            models.append(("float (published)", published("float")))
        models.append(("Q6 (published)", published("q6")))
        b = res.best
        models.append((f"autoq winner (trial {b['trial']})", res.best_model))
        for name, model in models:
            print(f"[bench] exporting {name} ...", flush=True)
            t0 = time.perf_counter()
            r = export(model, str(Path(tmp) / "hls" / name.split()[0].replace("(", "")), x=x, force=True,
                       allow_mismatch=True)  # the float model is not exact by design
            wall = time.perf_counter() - t0
            e = r.estimate
            rows.append({"model": name, "convert": r.seconds_convert, "compile": r.seconds_compile, "wall": wall,
                         "agreement": r.agreement, "max_abs_diff": r.max_abs_diff, "compared": r.compared_layer,
                         "bit_exact": r.bit_exact, "luts": e.luts, "dsps": e.dsps, "lut_dsp": e.lut_plus_dsp,
                         "latency": e.latency_cycles, "n": r.n_samples, "notes": r.notes})
        cov = coverage(args.budget, tmp)
    q6 = next(r for r in rows if r["model"].startswith("Q6"))
    win = rows[-1]
    table = [[r["model"], r["convert"], r["compile"], r["wall"], r["n"], r["agreement"], r["max_abs_diff"],
              r["compared"], "yes" if r["bit_exact"] else "no", r["luts"], r["dsps"], r["latency"]] for r in rows]
    headline = (f"Q6: convert {q6['convert']:.2f} s + compile {q6['compile']:.1f} s, C-sim agreement "
                f"{100 * q6['agreement']:.1f}% (max |diff| {q6['max_abs_diff']:.3g}); autoq winner: convert "
                f"{win['convert']:.2f} s + compile {win['compile']:.1f} s, agreement {100 * win['agreement']:.1f}% "
                f"(max |diff| {win['max_abs_diff']:.3g}); estimated LUT {win['luts']} / DSP {win['dsps']} vs Q6 "
                f"LUT {q6['luts']} / DSP {q6['dsps']} (LUT+DSP ratio Q6/winner "
                f"{ratio(q6['lut_dsp'], win['lut_dsp']):.2f}x). Conversion is "
                f"{100 * q6['convert'] / (q6['convert'] + q6['compile']):.0f}% of the export time; g++ dominates.")
    notes = "\n".join(f"- {r['model']}: " + "; ".join(r["notes"]) for r in rows if r["notes"])
    n_a = sum(r["autoq"] == "exact" for r in cov)
    n_p = sum(r["plain"] == "exact" for r in cov)
    both = sum(r["autoq"] == "exact" and r["plain"] == "exact" for r in cov)
    cov_head = (f"{len(cov)} (model, io type) cases from hls4ml's QKeras tests: autoq bit-exact on {n_a}, plain hls4ml "
                f"(configured as its test) on {n_p}; every case plain hls4ml gets exact, autoq gets exact too: "
                f"{'yes' if both == n_p else f'NO ({n_p - both} not)'}.")
    cov_table = md_table(["model", "hls4ml test", "io type", "autoq", "autoq max abs diff", "plain hls4ml",
                          "plain max abs diff"],
                         [[r["model"], r["source"], r["io"], r["autoq"], _fmt_diff(r["autoq_diff"]), r["plain"],
                           _fmt_diff(r["plain_diff"])] for r in cov])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    plot(out / "bench_export.png", rows, f"hls4ml export per model ({args.budget} budget)")
    write_md(out, "bench_export", "Export: hls4ml conversion, g++ compile, C-simulation agreement", [
        ("Headline", headline),
        ("Setup", f"- check inputs: {len(x)} validation samples of {data_label(args.data)}\n- published models: "
                  f"{PUBLISHED} (hls4ml example-models); winner: {SEARCH_TRIALS[args.budget]}-trial pareto search "
                  f"({search_s:.0f} s), val accuracy {res.best['val_accuracy']:.4f}, energy "
                  f"{res.best['energy']:.1f} pJ\n- autoq.export defaults: Vitis backend, io_parallel, latency "
                  "strategy, reuse 1, xcvu13p; agreement = argmax agreement of the compared layer (the logits "
                  "before a float softmax)\n" + "\n".join(environment())),
        ("Results", md_table(["model", "convert s", "compile s", "export wall s", "samples", "agreement",
                              "max abs diff", "compared layer", "bit-exact", "est. LUT", "est. DSP",
                              "est. latency cycles"], table)),
        ("Coverage: hls4ml's QKeras test models", cov_head + "\n\nRebuilt from fastmachinelearning/hls4ml "
         "test/pytest (see benchmarks/hls4ml_test_models.py); Vivado backend, g++ C simulation; the compared tensor "
         "is the model output or the logits before a float softmax (the same for both); 'refused' is autoq's "
         "one-line error.\n\n" + cov_table),
        ("Notes from autoq.export", notes or "none"),
        ("Plot", "![export](bench_export.png)"),
    ])


if __name__ == "__main__":
    main()
