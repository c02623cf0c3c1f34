"""The data card of a generated jet file: markdown + per-class feature histograms (PNG) + float tagger accuracy."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from .jets import JET_FEATURES

_NAMES = {"g": "gluon", "q": "light quark", "t": "top", "w": "W", "z": "Z"}
#: float tagger training for the card: the paper's model and preprocessing, a fixed simple recipe
TAGGER = dict(epochs=50, batch_size=256, learning_rate=1e-3, patience=5, l1=1e-4)


def mass_peaks(X, y, class_names) -> dict[str, dict]:
    """Per class: the groomed-mass peak (mode of a 1 GeV histogram smoothed over 9 GeV, 0-300 GeV) and the
    medians of mass and multiplicity."""
    m = X[:, JET_FEATURES.index("mass_mmdt")]
    mult = X[:, JET_FEATURES.index("multiplicity")]
    out = {}
    for i, c in enumerate(class_names):
        mc = m[y == i]
        h, _ = np.histogram(mc, bins=300, range=(0, 300))
        smooth = np.convolve(h, np.ones(9), mode="same")
        out[c] = {"n": int(len(mc)), "mass_peak": float(np.argmax(smooth) + 0.5), "mass_median": float(np.median(mc)),
                  "multiplicity_median": float(np.median(mult[y == i]))}
    return out


def float_tagger_accuracy(X, y, class_names, seed: int = 0, **kw) -> dict:
    """Test accuracy of the float 64-32-32-5 tagger (autoq.models.jet_tagger) with the paper's split/standardisation."""
    import tensorflow as tf

    from .jets import jets_splits
    from ..models import jet_tagger
    p = {**TAGGER, **kw}
    d = jets_splits(X, y, class_names=class_names)
    tf.keras.utils.set_random_seed(seed)
    model = jet_tagger(l1=p["l1"])
    model.compile(optimizer=tf.keras.optimizers.Adam(p["learning_rate"]), loss="categorical_crossentropy",
                  metrics=["accuracy"])
    stop = tf.keras.callbacks.EarlyStopping(patience=p["patience"], restore_best_weights=True)
    hist = model.fit(d.x_train, d.y_train, validation_data=(d.x_val, d.y_val), epochs=p["epochs"],
                     batch_size=p["batch_size"], callbacks=[stop], verbose=0)
    _, acc = model.evaluate(d.x_test, d.y_test, verbose=0)
    return {"test_accuracy": float(acc), "epochs_run": len(hist.history["loss"]), "n_train": len(d.x_train),
            "n_test": len(d.x_test), **p}


def feature_label(name: str) -> str:
    """A jet feature's axis label with its unit: ``mass_mmdt: groomed (mMDT) mass [GeV]``, ``multiplicity:
    constituents [count]``, ``d2_a1_b2_mmdt: D2 (α=1, β=2), groomed [dimensionless]``."""
    if name == "mass_mmdt":
        return f"{name}: groomed (mMDT) mass [GeV]"
    if name == "multiplicity":
        return f"{name}: constituents [count]"
    if name == "zlogz":
        return f"{name}: Σ z ln z, ungroomed [dimensionless]"
    ratio, *params = name[:-len("_mmdt")].split("_")
    greek = {"a": "α", "b": "β"}
    return f"{name}: {ratio.upper()} ({', '.join(f'{greek[p[0]]}={p[1:]}' for p in params)}), groomed [dimensionless]"


def plot_features(X, y, class_names, path: Path, title: str):
    """4x4 grid of per-class normalised histograms of the 16 features, each labelled with its unit."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(4, 4, figsize=(16, 13))
    for k, (ax, f) in enumerate(zip(axes.ravel(), JET_FEATURES)):
        lo, hi = np.quantile(X[:, k], [0.005, 0.995])
        if f == "multiplicity":  # whole numbers: bins of whole widths centred on them (no comb)
            step = max(1, int(np.ceil((hi - lo) / 60)))
            bins = np.arange(np.floor(lo) - 0.5, hi + step, step)
        else:
            bins = np.linspace(lo, hi if hi > lo else lo + 1, 60)
        for i, c in enumerate(class_names):
            with np.errstate(invalid="ignore", divide="ignore"):  # a class with no jets in range draws nothing
                ax.hist(X[y == i, k], bins=bins, histtype="step", density=True, label=_NAMES.get(c, c), lw=1.3)
        ax.set_xlabel(feature_label(f), fontsize=9)
        per = {"mass_mmdt": "GeV", "multiplicity": "constituent"}.get(f, "unit")
        ax.set_ylabel(f"fraction of the class's jets per {per}", fontsize=8)
        ax.tick_params(labelsize=8)
    axes[0, 0].legend(fontsize=9)
    fig.suptitle(title, fontsize=13)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    fig.savefig(path, dpi=80)
    plt.close(fig)


def _class_times(info: dict) -> str:
    """'g 12,345 ev / 300 s CPU (320 s wall), ...' (files from before CPU time was recorded: wall only)."""
    out = []
    for c, v in info["per_class"].items():
        wall = v.get("worker_seconds", v.get("cpu_seconds", float("nan")))
        cpu = f"{v['cpu_seconds']:.0f} s CPU, " if "worker_seconds" in v else ""
        out.append(f"{c} {v['events']:,} ev / {cpu}{wall:.0f} s wall")
    return ", ".join(out)


def qcd_median(X, y, class_names) -> float | None:
    """Median groomed mass of the quark and gluon jets together (None without them)."""
    sel = np.isin(y, [class_names.index(c) for c in ("q", "g") if c in class_names])
    return float(np.median(X[sel, JET_FEATURES.index("mass_mmdt")])) if sel.any() else None


def card_markdown(name: str, png: str, info: dict, peaks: dict, tagger: dict | None, qcd: float | None = None) -> str:
    """The card text."""
    s = info["settings"]
    n, wall = info["n"], info["wall_seconds"]
    counts = ", ".join(f"{c} {v['n']:,}" for c, v in peaks.items())
    lines = [
        f"# Data card: `{name}` -- GENERATED jets (Pythia 8 + FastJet), not the OpenML set",
        "",
        "A **generated** stand-in for the hls4ml LHC jet-tagging set (OpenML 42468 `hls4ml_lhc_jets_hlf`): the same "
        "16 high-level features under the same column names and the same five classes, simulated here with "
        "`autoq data make-jets`. Accuracies on it are accuracies on *this generated set*, not on the OpenML set.",
        "",
        f"- jets: {n:,}, class-balanced ({counts}), shuffled",
        f"- command: `autoq data make-jets --n {n} --seed {info['seed']} --output {name} --workers {info['workers']}`",
        f"- format: `.npz` with `X` [n,16] float32 (column order `autoq.data.jets.JET_FEATURES`), `y` int64 indexing "
        f"`class_names` {list(peaks)}; read with `autoq.data.jets.load_jets`",
        f"- versions: {', '.join(f'{k} {v}' for k, v in info['versions'].items())}",
        f"- generation time: {wall:.0f} s wall on {info['workers']} worker processes ({n / wall:.0f} jets/s)",
        "",
        "## Generator settings",
        "",
        f"- pp at sqrt(s) = {s['ecm'] / 1000:g} TeV, Pythia 8 default tune (Monash), hard-process pT in "
        f"[{s['pthat_min']:g}, {s['pthat_max']:g}] GeV; ISR, FSR, multi-parton interactions and hadronisation on; "
        "no pile-up",
        "- processes: g: gg -> gg; q: qq -> qq, qqbar -> q'qbar' (u, d, s matched); w: qqbar -> W g, qg -> W q; "
        "z: qqbar -> Z g, qg -> Z q (pure Z); t: gg, qqbar -> t tbar; W and Z decay to quarks only",
        "- particle level: visible final-state particles (no neutrinos), hadrons with c*tau > 10 mm stable",
        f"- jets: anti-kT R = {s['jet_r']:g} (FastJet); per event the hardest jet within Delta R < {s['match_dr']:g} "
        f"of the class's truth object (hard-process parton, W, Z or top) with pT in [{s['jet_pt_min']:g}, "
        f"{s['jet_pt_max']:g}] GeV and |eta| < {s['jet_abs_eta_max']:g}; one jet per event",
        "- features: `autoq/data/jetfeatures.py` (mMDT = soft drop beta 0, z_cut 0.1, R0 0.8; normalised generalised "
        "energy correlators of fastjet-contrib on the groomed jet; zlogz and multiplicity on the ungroomed jet; "
        "definitions and references in its docstring)",
        "- settings: " + "; ".join(f"`{x}`" for x in s["pythia"]),
        "",
        "Events generated per class (all, before jet selection) and time in the workers: " + _class_times(info) + ".",
        "",
        "## What differs from the OpenML set",
        "",
        "- **no detector simulation** (the OpenML jets went through Delphes): features are computed on stable "
        "particles, so masses are sharper and multiplicities higher than with a detector",
        "- hard processes from Pythia 8 itself (not MadGraph), a single pT window, no pile-up",
        f"- {n:,} jets instead of ~830,000",
        "",
        "## Physics sanity (groomed mass)",
        "",
        "| class | jets | mMDT mass peak [GeV] | median mass [GeV] | median multiplicity |",
        "|---|---|---|---|---|",
    ]
    lines += [f"| {c} ({_NAMES.get(c, c)}) | {v['n']:,} | {v['mass_peak']:.0f} | {v['mass_median']:.1f} | "
              f"{v['multiplicity_median']:.0f} |" for c, v in peaks.items()]
    if qcd is not None and "g" in peaks:
        g = peaks["g"]["mass_median"]
        lines += ["", f"Quark and gluon jets together: median mMDT mass {qcd:.1f} GeV; gluon jets alone: {g:.1f} GeV"
                  + (". That is above 50 GeV, the bound the generator's specification set for quark and gluon jets. "
                     "The grooming is the dataset's (soft drop beta 0, z_cut 0.1, mu 1, as in its authors' "
                     "substructure code); nothing was tuned to move this median." if g > 50 else ".")]
    lines += ["", f"![per-class feature histograms]({png})", "", "## Float tagger", ""]
    if tagger:
        lines.append(
            f"The float 64-32-32-5 tagger (`autoq.models.jet_tagger`, L1 {tagger['l1']:g}) with the paper's "
            "preprocessing (`autoq.data.jets.jets_splits`: 80/20 split, 25% of the rest for validation, "
            "standardised): "
            f"Adam lr {tagger['learning_rate']:g}, batch {tagger['batch_size']}, up to {tagger['epochs']} epochs, "
            f"early stopping (patience {tagger['patience']}, best weights; ran {tagger['epochs_run']}). "
            f"**Test accuracy {100 * tagger['test_accuracy']:.1f}%** on {tagger['n_test']:,} generated test jets "
            f"({tagger['n_train']:,} for training). For comparison, the same model reaches ~75% on the OpenML set "
            "(with a detector simulation, which smears the features).")
    else:
        lines.append("Not trained for this card.")
    return "\n".join(lines) + "\n"


def write_card(npz: Path, X, y, class_names, info: dict, tagger: bool = True, stream=None) -> Path:
    """Write ``<npz stem>.md`` and ``.png`` beside ``npz``; returns the markdown path."""
    npz = Path(npz)
    md, png = npz.with_suffix(".md"), npz.with_suffix(".png")
    plot_features(X, y, class_names, png, f"{npz.name}: GENERATED jets (Pythia 8 + FastJet, particle level), "
                                          f"{len(y):,} jets, per class")
    acc = None
    if tagger:
        print("[autoq] training the float tagger for the data card ...", file=stream or sys.stderr, flush=True)
        acc = float_tagger_accuracy(X, y, class_names)
        info = {**info, "float_tagger": acc}
    md.write_text(card_markdown(npz.name, png.name, info, mass_peaks(X, y, class_names), acc,
                                qcd_median(X, y, class_names)))
    return md
