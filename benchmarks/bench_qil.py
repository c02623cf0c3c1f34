"""QIL (learned quantization intervals) vs plain QKeras quantizers, uniform 2/3/4 bits.

For each dataset and seed a float model is trained once; from that same start point two quantization-aware
trainings run with the same optimizer, learning rate, batch size, epochs and shuffling seed:

* baseline: every kernel ``quantized_bits(b,0,alpha=1)``, every ReLU ``quantized_relu(b,2)``;
* QIL:      every kernel ``qil(b)``, every ReLU ``qil(b,2,kind='activation')`` (learned interval; it starts at
  the baseline's clipping point 2**2 = 4, so at step 0 both models compute exactly the same thing; only the
  learning of the interval differs; ``--qil-act-integer 0`` starts QIL's clip at 1 instead).

Biases are ``quantized_bits(8,3,alpha=1)`` and the input ``quantized_bits(8,3,alpha=1)`` in both. Models are built
with autoq's own ``space.build_qmodel``. The softmax head stays float (hls4ml implements it as a table).

Reported: test accuracy, mean and standard deviation over the seeds, per dataset and bit width, as a Markdown
table (``qil.md``), a bar plot (``qil.png``) and on stdout. With ``--budget ci`` the best QIL model is folded
(``autoq.quantizers.qil.fold_qil``) and exported with ``autoq.export``; the g++ C simulation must agree bit-exactly.

Datasets: scikit-learn's digits, and ``autoq.data.jets.make_synthetic_jets``, a SYNTHETIC stand-in for the LHC jet
data (its accuracies say nothing about real jet tagging).

    python benchmarks/bench_qil.py --budget tiny     # seconds; smoke test, writes to a temp dir
    python benchmarks/bench_qil.py --budget ci       # < ~6 min on 2 cores; writes benchmarks/results/qil.{md,png}
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import autoq  # noqa: E402 -- before TensorFlow: it settles tf.keras (autoq/keras_env.py)
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from autoq.config import DataConfig  # noqa: E402
from autoq.data.dataset import from_arrays  # noqa: E402
from autoq.data.sources import load_dataset
from autoq.data.jets import make_synthetic_jets  # noqa: E402
from autoq.models import mlp  # noqa: E402
from autoq.quantizers.qil import QIL, fold_qil  # noqa: E402
from autoq.space import build_qmodel  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BIAS = "quantized_bits(8,3,alpha=1)"
INPUT = "quantized_bits(8,3,alpha=1)"

BUDGETS = {
    # seeds, bit widths, per dataset: float epochs, QAT epochs, batch size; jets sample count; export check
    "tiny": dict(seeds=[0, 1], bits=[3], digits=(3, 2, 64), jets=(2, 1, 256), n_jets=2000, export=False),
    "ci": dict(seeds=[0, 1, 2], bits=[2, 3, 4], digits=(40, 30, 32), jets=(20, 12, 256), n_jets=10000,
               export=True),
}
LR = 3e-3


def datasets(budget):
    digits = load_dataset(DataConfig(source="digits"))
    x, y, names = make_synthetic_jets(n=budget["n_jets"], seed=0)
    jets = from_arrays(x, y, name="jets-synthetic", class_names=names, synthetic=True)
    return {"digits": (digits, (32, 32), budget["digits"]),
            "jets (SYNTHETIC)": (jets, (64, 32, 32), budget["jets"])}


def choice_for(float_model, bits, method, act_integer):
    """Uniform per-layer choice ({layer: {role: spec}}) for every quantizable Dense layer of the MLP."""
    if method == "qil":
        kernel, act = f"qil({bits})", f"qil({bits},{act_integer},kind='activation')"
    else:
        kernel, act = f"quantized_bits({bits},0,alpha=1)", f"quantized_relu({bits},2)"
    out = {}
    for layer in float_model.layers:
        if isinstance(layer, tf.keras.layers.Dense):
            roles = {"kernel": kernel, "bias": BIAS}
            if layer.get_config()["activation"] == "relu":
                roles["activation"] = act
            out[layer.name] = roles
    return out


def fit(model, data, epochs, batch, seed):
    tf.keras.utils.set_random_seed(seed)
    model.compile(optimizer=tf.keras.optimizers.Adam(LR), loss="categorical_crossentropy", metrics=["accuracy"])
    model.fit(data.x_train, data.y_train, epochs=epochs, batch_size=batch, verbose=0, shuffle=True)


def accuracy(model, x, y):
    return float(np.mean(model.predict(x, batch_size=1024, verbose=0).argmax(1) == y.argmax(1)))


def run(budget_name, act_integer, log=print):
    budget = BUDGETS[budget_name]
    rows = []  # dict(dataset, bits, method, seed, acc)
    floats = {}
    best_qil = {}  # dataset -> (acc, model, bits, seed)
    for dname, (data, hidden, (f_epochs, q_epochs, batch)) in datasets(budget).items():
        log(f"== {data.describe()}")
        for seed in budget["seeds"]:
            tf.keras.utils.set_random_seed(seed)
            fmodel = mlp(data.input_shape[0], hidden, data.n_classes, name=f"mlp_s{seed}")
            t0 = time.time()
            fit(fmodel, data, f_epochs, batch, seed)
            floats.setdefault(dname, []).append(accuracy(fmodel, data.x_test, data.y_test))
            log(f"   seed {seed}: float {floats[dname][-1]:.4f} ({time.time() - t0:.1f} s)")
            for bits in budget["bits"]:
                for method in ("baseline", "qil"):
                    t0 = time.time()
                    q = build_qmodel(fmodel, choice_for(fmodel, bits, method, act_integer), INPUT,
                                     name=f"{method}{bits}_s{seed}")
                    fit(q, data, q_epochs, batch, seed)
                    acc = accuracy(q, data.x_test, data.y_test)
                    rows.append(dict(dataset=dname, bits=bits, method=method, seed=seed, acc=acc))
                    log(f"   seed {seed}: {bits}-bit {method:8s} {acc:.4f} ({time.time() - t0:.1f} s)")
                    if method == "qil" and acc > best_qil.get(dname, (-1,))[0]:
                        best_qil[dname] = (acc, q, bits, seed, data)
    return rows, floats, best_qil


def summarize(rows, floats):
    """[(dataset, bits, float mean, base mean, base std, qil mean, qil std, delta)]"""
    out = []
    for dname in dict.fromkeys(r["dataset"] for r in rows):
        for bits in sorted({r["bits"] for r in rows if r["dataset"] == dname}):
            acc = {m: np.array([r["acc"] for r in rows if (r["dataset"], r["bits"], r["method"]) == (dname, bits, m)])
                   for m in ("baseline", "qil")}
            out.append(dict(dataset=dname, bits=bits, float=float(np.mean(floats[dname])),
                            base=float(acc["baseline"].mean()), base_std=float(acc["baseline"].std(ddof=0)),
                            qil=float(acc["qil"].mean()), qil_std=float(acc["qil"].std(ddof=0)),
                            delta=float(acc["qil"].mean() - acc["baseline"].mean()),
                            wins=int(np.sum(acc["qil"] > acc["baseline"])), n=len(acc["qil"])))
    return out


def verdict(s):
    spread = max(s["base_std"], s["qil_std"])
    if s["delta"] > spread:
        return "QIL better"
    if s["delta"] < -spread:
        return "QIL worse"
    return "no clear difference (within spread)"


def table(summary):
    head = ("| dataset | bits | float | baseline mean ± std | QIL mean ± std | QIL − baseline | QIL wins (paired seeds) "
            "| verdict |\n|---|---|---|---|---|---|---|---|")
    lines = [head]
    for s in summary:
        lines.append(f"| {s['dataset']} | {s['bits']} | {s['float']:.4f} | {s['base']:.4f} ± {s['base_std']:.4f} | "
                     f"{s['qil']:.4f} ± {s['qil_std']:.4f} | {s['delta']:+.4f} | {s['wins']}/{s['n']} | "
                     f"{verdict(s)} |")
    return "\n".join(lines)


def plot(summary, path, n_seeds):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dsets = list(dict.fromkeys(s["dataset"] for s in summary))
    fig, axes = plt.subplots(1, len(dsets), figsize=(5 * len(dsets), 3.8), squeeze=False)
    for ax, dname in zip(axes[0], dsets):
        ss = [s for s in summary if s["dataset"] == dname]
        xs = np.arange(len(ss))
        w = 0.38
        ax.bar(xs - w / 2, [s["base"] for s in ss], w, yerr=[s["base_std"] for s in ss], capsize=3,
               label="quantized_bits / quantized_relu", color="#999999")
        ax.bar(xs + w / 2, [s["qil"] for s in ss], w, yerr=[s["qil_std"] for s in ss], capsize=3,
               label="QIL (learned intervals)", color="#1f77b4")
        ax.axhline(ss[0]["float"], color="k", ls="--", lw=1, label="float")
        lo = min(min(s["base"] - s["base_std"], s["qil"] - s["qil_std"]) for s in ss)
        ax.set_ylim(max(0.0, lo - 0.05), 1.0 if dname == "digits" else min(1.0, ss[0]["float"] + 0.05))
        ax.set_xticks(xs, [f"{s['bits']} bits" for s in ss])
        ax.set_title(dname)
        ax.set_ylabel(f"test accuracy (mean ± std, {n_seeds} seeds)")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=9, frameon=False)
    fig.suptitle("Uniform quantization-aware training from the same float start point")
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def export_check(best_qil, out_dir, log=print):
    """Fold the best QIL model (digits) and export it: the hls4ml C simulation must match bit-exactly."""
    dname = "digits" if "digits" in best_qil else next(iter(best_qil))
    acc, model, bits, seed, data = best_qil[dname]
    folded = fold_qil(model)
    same = np.array_equal(model.predict(data.x_test, verbose=0), folded.predict(data.x_test, verbose=0))
    res = autoq.export(folded, os.path.join(out_dir, "qil_export"), x=data.x_test, force=True)
    from autoq.present.tables import format_result
    log(format_result(res))
    return dict(dataset=dname, bits=bits, seed=seed, acc=acc, fold_identical=bool(same), agreement=res.agreement,
                max_abs_diff=res.max_abs_diff, n=res.n_samples, layer=res.compared_layer,
                quantizers={lay.name: str(folded.get_layer(lay.name).quantizer) for lay in model.layers
                            if isinstance(getattr(lay, "quantizer", None), QIL)})


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", choices=sorted(BUDGETS), default="tiny")
    ap.add_argument("--out", help="directory for qil.md / qil.png (default: benchmarks/results[/tf2.21] for ci, a temp dir "
                                  "for tiny)")
    ap.add_argument("--qil-act-integer", type=int, default=2,
                    help="initial clipping point 2**N of QIL activations (default 2: the baseline's)")
    args = ap.parse_args(argv)
    t_start = time.time()
    tf.config.threading.set_inter_op_parallelism_threads(2)
    tf.config.threading.set_intra_op_parallelism_threads(2)
    results = ROOT / "benchmarks" / "results" / ("tf2.21" if autoq.keras_env.LEGACY_KERAS else "")
    out = Path(args.out or (results if args.budget == "ci" else tempfile.mkdtemp()))
    out.mkdir(parents=True, exist_ok=True)
    budget = BUDGETS[args.budget]
    rows, floats, best_qil = run(args.budget, args.qil_act_integer)
    summary = summarize(rows, floats)
    exp = None
    if budget["export"]:
        with tempfile.TemporaryDirectory() as tmp:
            exp = export_check(best_qil, tmp)
    seconds = time.time() - t_start
    text = table(summary)
    print("\n" + text)
    plot(summary, out / "qil.png", len(budget["seeds"]))
    write_md(out / "qil.md", args, budget, summary, text, rows, exp, seconds)
    print(f"\nwrote {out / 'qil.md'} and {out / 'qil.png'} ({seconds:.0f} s)")
    return 0


def write_md(path, args, budget, summary, text, rows, exp, seconds):
    f_d, q_d, b_d = budget["digits"]
    f_j, q_j, b_j = budget["jets"]
    better = [f"{s['dataset']} {s['bits']}-bit" for s in summary if verdict(s) == "QIL better"]
    worse = [f"{s['dataset']} {s['bits']}-bit" for s in summary if verdict(s) == "QIL worse"]
    even = [f"{s['dataset']} {s['bits']}-bit" for s in summary if verdict(s).startswith("no clear")]
    lines = [
        "# QIL (learned quantization intervals) vs plain QKeras quantizers",
        "",
        f"`python benchmarks/bench_qil.py --budget {args.budget}` ({seconds / 60:.1f} min on "
        f"{os.cpu_count()} shared CPU cores; {autoq.keras_env.stack()}).",
        "",
        "Uniform quantization-aware training of a Dense ReLU MLP, every layer the same bit width `b`, from the same "
        "trained float model per seed, same optimizer (Adam, lr 3e-3), batch size, epochs and shuffling seed:",
        "",
        "- **baseline**: kernels `quantized_bits(b,0,alpha=1)`, ReLUs `quantized_relu(b,2)`;",
        f"- **QIL**: kernels `qil(b)`, ReLUs `qil(b,{args.qil_act_integer},kind='activation')` (interval and weight "
        "transform learned by the task loss"
        + ("; the activation clip starts at 4, the baseline's, so both models are identical at step 0)"
           if args.qil_act_integer == 2 else ")") + ";",
        "- both: biases `quantized_bits(8,3,alpha=1)`, input `quantized_bits(8,3,alpha=1)`, float softmax head. "
        "Built with `autoq.space.build_qmodel`.",
        "",
        f"Data: scikit-learn digits (MLP 64-32-32-10; {f_d} float epochs, {q_d} QAT epochs, batch {b_d}) and "
        f"`autoq.data.jets.make_synthetic_jets(n={budget['n_jets']})`, a **SYNTHETIC** stand-in for the LHC jet data "
        f"(MLP 16-64-32-32-5; {f_j} float epochs, {q_j} QAT epochs, batch {b_j}); its accuracies say nothing about "
        "real jet tagging. Test accuracy, mean ± standard deviation over seeds "
        f"{', '.join(map(str, budget['seeds']))}; \"QIL wins\" counts seeds where QIL beat the baseline trained "
        "from the same float model. The verdict calls a difference only when it exceeds the larger std.",
        "",
        text,
        "",
        "![QIL vs baseline](qil.png)",
        "",
        "## Verdict",
        "",
        f"- QIL better: {', '.join(better) or 'none'}",
        f"- QIL worse: {', '.join(worse) or 'none'}",
        f"- no clear difference (within seed spread): {', '.join(even) or 'none'}",
        "",
        "Caveats: three seeds is little; the digits test set has 360 samples (one sample = 0.28 %), so differences "
        "below ~1 % on digits are noise. Every layer uses the same bit width here; in a search, QIL is one more "
        "choice per layer and is kept only where it scores better.",
        "",
    ]
    if exp:
        ok = exp["agreement"] == 1.0 and exp["max_abs_diff"] == 0.0
        lines += [
            "## Folded QIL model → hls4ml, bit-exact",
            "",
            f"The best QIL model ({exp['dataset']}, {exp['bits']} bits, seed {exp['seed']}, test accuracy "
            f"{exp['acc']:.4f}) folded with `autoq.quantizers.qil.fold_qil` "
            f"({'outputs identical to the QIL model' if exp['fold_identical'] else 'outputs DIFFER from the QIL model'}"
            f"; its learned QIL activations became the fixed-point {', '.join(f'{k}: `{v}`' for k, v in exp['quantizers'].items())}) and "
            f"exported with `autoq.export` (Vitis, io_parallel): g++ C simulation vs QKeras on {exp['n']} test "
            f"samples, layer `{exp['layer']}` (logits): argmax agreement {exp['agreement']:.2%}, max |diff| "
            f"{exp['max_abs_diff']:g} -> **{'bit-exact' if ok else 'NOT bit-exact'}**.",
            "",
        ]
    lines += ["## Per-run test accuracy", "", "| dataset | bits | seed | baseline | QIL |", "|---|---|---|---|---|"]
    for r in rows:
        if r["method"] == "baseline":
            qil = next(x["acc"] for x in rows if (x["dataset"], x["bits"], x["seed"], x["method"]) ==
                       (r["dataset"], r["bits"], r["seed"], "qil"))
            lines.append(f"| {r['dataset']} | {r['bits']} | {r['seed']} | {r['acc']:.4f} | {qil:.4f} |")
    path.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())
