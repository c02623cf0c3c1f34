"""Throughput: trials per minute and seconds per epoch, autoq vs a plain keras-tuner RandomSearch, same data, same run.

autoq: a random search over the jet tagger's per-layer quantizers (QKeras model build from the float model, QTools
costing, FPGA estimate, trial model + record saving). keras-tuner: a plain ``kt.RandomSearch`` over the same float
model's own hyperparameters (L1 strength, learning rate), no quantization. Both train every trial for the same
number of epochs (early stopping off), same batch size, same data. The ratio is the overhead of our machinery.

    python benchmarks/bench_throughput.py --budget ci [--data jets.npz]
"""
from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import data_label, environment, jet_config, md_table, parser, ratio, write_md  # noqa: E402

TRIALS = {"tiny": 2, "ci": 8, "full": 20}


def epoch_timer():
    """A callback recording epoch durations (into a list shared by copies: keras-tuner deep-copies callbacks)."""
    import tensorflow as tf
    times: list = []

    class EpochTimer(tf.keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.times = times

        def __deepcopy__(self, memo):
            return EpochTimer()

        def on_epoch_begin(self, epoch, logs=None):
            self._t = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.times.append(time.perf_counter() - self._t)

    return EpochTimer()


def run_keras_tuner(data, cfg, trials, workdir):
    """A plain kt.RandomSearch over the float jet tagger (L1, learning rate), same epochs and batch size."""
    import tensorflow as tf

    from autoq.keras_env import keras_tuner
    from autoq.models import jet_tagger
    kt = keras_tuner()
    t = cfg["train"]

    def build(hp):
        model = jet_tagger(l1=hp.Choice("l1", [0.0, 1e-4, 1e-3]))
        model.compile(optimizer=tf.keras.optimizers.Adam(hp.Choice("learning_rate", [1e-3, 3e-3, 1e-2])),
                      loss="categorical_crossentropy", metrics=["accuracy"])
        return model

    class Timed(kt.RandomSearch):
        trial_seconds: list = []

        def run_trial(self, trial, *a, **k):
            t0 = time.perf_counter()
            out = super().run_trial(trial, *a, **k)
            self.trial_seconds.append(time.perf_counter() - t0)
            return out

    timer = epoch_timer()
    tuner = Timed(build, objective="val_accuracy", max_trials=trials, seed=cfg["seed"], directory=str(workdir),
                  project_name="kt", overwrite=True)
    t0 = time.perf_counter()
    tuner.search(data.x_train, data.y_train, validation_data=(data.x_val, data.y_val), epochs=t["epochs"],
                 batch_size=t["batch_size"], verbose=0, callbacks=[timer])
    total = time.perf_counter() - t0
    return {"total": total, "trial_seconds": list(tuner.trial_seconds), "epoch_seconds": timer.times,
            "trials": len(tuner.trial_seconds)}


def run_autoq(cfg, workdir):
    from autoq.searching.run import run_search
    t0 = time.perf_counter()
    res = run_search(config=cfg, output_dir=Path(workdir) / "autoq", verbose=False, overwrite=True)
    total = time.perf_counter() - t0
    ok = [r for r in res.trials if r["status"] == "ok"]
    return {"total": total, "trial_seconds": [r["seconds"] for r in res.trials], "trials": len(res.trials),
            "epochs": [r.get("epochs") for r in ok], "result": res}


def breakdown(res, data, cfg, workdir):
    """Seconds of each step of one autoq trial, measured step by step on a real trial choice."""
    import tensorflow as tf
    from autoq import cost as costs
    from autoq.config import config_from_dict
    from autoq.searching.store import atomic_save_model
    from autoq.searching.trial import Searcher
    from autoq.searching.result import load_model
    c = config_from_dict(cfg)
    float_model = load_model(res.output_dir / "float_model.h5")
    s = Searcher(c, float_model, data, Path(workdir) / "breakdown", log=lambda *a, **k: None)
    choice = res.trials[-1]["choice"]
    steps = {}
    t0 = time.perf_counter()
    qmodel, pricing = s.build(choice)
    steps["build QKeras model"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    costs.model_cost(qmodel, pricing)
    steps["QTools energy + bits/BOPs"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    s._fpga(qmodel)
    steps["FPGA estimate"] = time.perf_counter() - t0
    t = cfg["train"]
    timer = epoch_timer()
    qmodel.compile(optimizer=tf.keras.optimizers.Adam(t["learning_rate"]), loss="categorical_crossentropy",
                   metrics=["accuracy"])
    t0 = time.perf_counter()
    qmodel.fit(data.x_train, data.y_train, validation_data=(data.x_val, data.y_val), epochs=t["epochs"],
               batch_size=t["batch_size"], verbose=0, callbacks=[timer])
    steps["train (fit)"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    qmodel.evaluate(data.x_val, data.y_val, batch_size=1024, verbose=0)
    steps["evaluate"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    atomic_save_model(qmodel, Path(workdir) / "breakdown" / "m.h5")
    steps["save model (.h5)"] = time.perf_counter() - t0
    # the same float model, same epochs: the cost of QKeras's fake quantization per epoch
    fm = tf.keras.models.clone_model(float_model)
    fm.compile(optimizer=tf.keras.optimizers.Adam(t["learning_rate"]), loss="categorical_crossentropy",
               metrics=["accuracy"])
    ftimer = epoch_timer()
    fm.fit(data.x_train, data.y_train, validation_data=(data.x_val, data.y_val), epochs=t["epochs"],
           batch_size=t["batch_size"], verbose=0, callbacks=[ftimer])
    return steps, timer.times, ftimer.times


def plot(path, steps, autoq_trial, kt_trial, title):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(10, 4.2))
    other = max(0.0, autoq_trial - sum(steps.values()))
    bottom = 0.0
    colors = plt.cm.tab10.colors
    for i, (k, v) in enumerate(list(steps.items()) + [("other (keras-tuner, records, ...)", other)]):
        ax.bar(["autoq trial"], [v], bottom=bottom, color=colors[i % 10], label=k)
        bottom += v
    ax.bar(["keras-tuner trial\n(float, no quantization)"], [kt_trial], color="0.6", label="plain keras-tuner trial")
    ax.set_ylabel("seconds per trial (median)")
    ax.set_title(title)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)  # beside, not on, the bars
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    args = parser(__doc__.split("\n")[0]).parse_args(argv)
    from autoq.config import config_from_dict
    from autoq.data.sources import load_dataset
    trials = TRIALS[args.budget]
    cfg = jet_config(args.budget, args.data, algorithm="random", trials=trials, baselines=False, keep="pareto",
                     seed=args.seed, patience=0)  # patience 0: every trial trains the full epochs, like kt
    data = load_dataset(config_from_dict(cfg).data)
    print(f"[bench] throughput: {trials} trials x {cfg['train']['epochs']} epochs each, {data.describe()}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        k = run_keras_tuner(data, cfg, trials, Path(tmp))
        a = run_autoq(cfg, tmp)
        steps, q_epochs, f_epochs = breakdown(a["result"], data, cfg, tmp)
    med = statistics.median
    a_trial, k_trial = med(a["trial_seconds"]), med(k["trial_seconds"])
    a_epoch, k_epoch, f_epoch = med(q_epochs), med(k["epoch_seconds"]), med(f_epochs)
    a_tpm, k_tpm = 60.0 / a_trial, 60.0 / k_trial
    rows = [
        ["trials", a["trials"], k["trials"], None],
        ["epochs per trial", cfg["train"]["epochs"], cfg["train"]["epochs"], None],
        ["median seconds per trial", a_trial, k_trial, ratio(a_trial, k_trial)],
        ["trials per minute (per-trial time)", a_tpm, k_tpm, ratio(a_tpm, k_tpm)],
        ["median seconds per epoch (QKeras vs float model)", a_epoch, k_epoch, ratio(a_epoch, k_epoch)],
        ["same float model, same fit, seconds per epoch", None, f_epoch, ratio(a_epoch, f_epoch)],
        ["end-to-end wall seconds (autoq incl. float training)", a["total"], k["total"], ratio(a["total"], k["total"])],
    ]
    trial_total = a_trial
    step_rows = [[k_, v, 100 * v / trial_total] for k_, v in steps.items()]
    step_rows.append(["other (clear_session, seeding, keras-tuner bookkeeping, record; in-search tracing)",
                      max(0.0, trial_total - sum(steps.values())), 100 * max(0.0, trial_total - sum(steps.values()))
                      / trial_total])
    overhead = trial_total - (a_epoch * cfg["train"]["epochs"])
    headline = (f"autoq runs **{a_tpm:.2f} trials/min** vs plain keras-tuner **{k_tpm:.2f} trials/min** "
                f"(per-trial time ratio **{ratio(a_trial, k_trial):.2f}x**); an epoch of the QKeras model takes "
                f"**{ratio(a_epoch, k_epoch):.2f}x** a float epoch; the machinery outside training costs "
                f"~{overhead:.2f} s per trial.")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    plot(out / "bench_throughput.png", steps, a_trial, k_trial, f"per-trial time, {args.budget} budget")
    write_md(out, "bench_throughput", "Throughput: autoq vs plain keras-tuner", [
        ("Headline", headline),
        ("Setup", f"- data: {data_label(args.data)}; {data.describe()}\n- budget `{args.budget}`: {trials} trials per "
                  f"engine, {cfg['train']['epochs']} epochs per trial, batch {cfg['train']['batch_size']}, early "
                  "stopping off\n- autoq: random search over per-layer quantizers of the jet tagger (11 choices); "
                  "keras-tuner: plain RandomSearch over the float jet tagger's L1 and learning rate\n"
                  + "\n".join(environment())),
        ("Results", md_table(["metric", "autoq", "keras-tuner", "ratio autoq/kt"], rows)),
        ("Where an autoq trial's time goes", md_table(["step", "seconds", "% of median trial"], step_rows)),
        ("Plot", "![per-trial time](bench_throughput.png)"),
    ], figures={"autoq trials per minute": a_tpm, "keras-tuner trials per minute": k_tpm,
                "per-trial time ratio autoq/kt": ratio(a_trial, k_trial),
                "QKeras epoch / float epoch": ratio(a_epoch, k_epoch), "machinery outside training, s/trial": overhead,
                "trials x epochs": f"{trials} x {cfg['train']['epochs']}"})


if __name__ == "__main__":
    main()
