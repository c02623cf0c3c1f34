"""Throughput: trials per minute, autoq vs plain keras-tuner on the same QKeras models (and on the float model).

autoq: a random search over the jet tagger's per-layer quantizers (QKeras model built from the float model, QTools
costing, FPGA estimate, trial model + record saving, trials.csv). keras-tuner (QKeras): a plain ``kt.RandomSearch``
whose ``HyperModel.build(hp)`` builds the *same* QKeras model for the same per-layer hyperparameters (autoq's space
declared on ``hp``, ``build_qmodel`` from autoq's trained float model, compiled as autoq compiles), same seed, so
the same choices. keras-tuner (float): a plain ``kt.RandomSearch`` over the float model's own hyperparameters (L1,
learning rate), no quantization. All train every trial for the same number of epochs (early stopping off), same
batch size, same data, in the same process, the engines taking turns (``rounds``).

The per-trial time is the time from one trial's start to the next's (``on_trial_begin``; the last to the search's
end): everything a trial costs, the tuner's bookkeeping included, measured the same way for every engine. autoq /
keras-tuner (QKeras) is the machinery ratio (same models, same arithmetic); autoq / keras-tuner (float) adds
QKeras's slower fake-quantized arithmetic.

    python benchmarks/bench_throughput.py --budget ci [--data jets.npz]
"""
from __future__ import annotations

import contextlib
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import data_label, environment, jet_config, md_table, parser, ratio, write_md  # noqa: E402

TRIALS = {"tiny": 2, "ci": 8, "full": 20}  # per engine and round
ROUNDS = {"tiny": 1, "ci": 2, "full": 2}  # the engines take turns, round by round


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


@contextlib.contextmanager
def trial_clock():
    """Timestamps of every trial start and of the search's end, for any keras-tuner tuner (autoq's included): the
    per-trial times are the gaps, so they hold everything a trial costs, the tuner's bookkeeping included."""
    from autoq.keras_env import keras_tuner
    keras_tuner()  # first: on the TF 2.21 stack keras-tuner must bind to tf_keras when it is imported
    from keras_tuner.src.engine import base_tuner
    stamps: list = []
    begin, end = base_tuner.BaseTuner.on_trial_begin, base_tuner.BaseTuner.on_search_end

    def on_trial_begin(self, trial):
        stamps.append(time.perf_counter())
        return begin(self, trial)

    def on_search_end(self):
        stamps.append(time.perf_counter())
        return end(self)

    base_tuner.BaseTuner.on_trial_begin, base_tuner.BaseTuner.on_search_end = on_trial_begin, on_search_end
    try:
        yield stamps
    finally:
        base_tuner.BaseTuner.on_trial_begin, base_tuner.BaseTuner.on_search_end = begin, end


def gaps(stamps: list) -> list:
    return [b - a for a, b in zip(stamps, stamps[1:])]


def kt_search(tuner, data, cfg, timer):
    t = cfg["train"]
    with trial_clock() as stamps:
        t0 = time.perf_counter()
        tuner.search(data.x_train, data.y_train, validation_data=(data.x_val, data.y_val), epochs=t["epochs"],
                     batch_size=t["batch_size"], verbose=0, callbacks=[timer])
        total = time.perf_counter() - t0
    values = [dict(tr.hyperparameters.values) for tr in sorted(tuner.oracle.trials.values(),
                                                                key=lambda tr: int(tr.trial_id))]
    return {"total": total, "trial_seconds": gaps(stamps), "epoch_seconds": timer.times, "trials": len(values),
            "values": values}


def run_keras_tuner_float(data, cfg, trials, workdir):
    """A plain kt.RandomSearch over the float jet tagger (L1, learning rate), same epochs and batch size."""
    import tensorflow as tf

    from autoq.keras_env import keras_tuner
    from autoq.models import jet_tagger
    kt = keras_tuner()

    def build(hp):
        model = jet_tagger(l1=hp.Choice("l1", [0.0, 1e-4, 1e-3]))
        model.compile(optimizer=tf.keras.optimizers.Adam(hp.Choice("learning_rate", [1e-3, 3e-3, 1e-2])),
                      loss="categorical_crossentropy", metrics=["accuracy"])
        return model

    tuner = kt.RandomSearch(build, objective="val_accuracy", max_trials=trials, seed=cfg["seed"],
                            directory=str(workdir), project_name="kt_float", overwrite=True)
    return kt_search(tuner, data, cfg, epoch_timer())


def run_keras_tuner_qkeras(data, cfg, trials, workdir, float_model_path):
    """A plain kt.RandomSearch building autoq's QKeras model of each choice: autoq's space declared on ``hp``, the
    model built from autoq's trained float model by ``build_qmodel`` and compiled as autoq compiles it."""
    import tensorflow as tf

    from autoq.config import config_from_dict
    from autoq.keras_env import keras_tuner
    from autoq.searching.result import load_model
    from autoq.space import analyse, build_qmodel
    kt = keras_tuner()
    c = config_from_dict(cfg)
    float_model = load_model(float_model_path)
    space = analyse(float_model, c.space)

    class QKerasModel(kt.HyperModel):
        def build(self, hp):
            model = build_qmodel(float_model, space.choice(space.declare(hp)), space.input_quantizer)
            model.compile(optimizer=tf.keras.optimizers.Adam(c.train.learning_rate), loss=c.train.loss,
                          metrics=["accuracy"])
            return model

    tuner = kt.RandomSearch(QKerasModel(), objective="val_accuracy", max_trials=trials, seed=c.seed,
                            directory=str(workdir), project_name="kt_qkeras", overwrite=True)
    return kt_search(tuner, data, cfg, epoch_timer())


def run_autoq(cfg, workdir):
    from autoq import search as run_search
    with trial_clock() as stamps:
        t0 = time.perf_counter()
        res = run_search(config=cfg, output_dir=Path(workdir), verbose=False, overwrite=True)
        total = time.perf_counter() - t0
    trial_seconds = gaps(stamps)
    ok = [r for r in res.trials if r["status"] == "ok"]
    return {"total": total, "trial_seconds": trial_seconds, "trials": len(res.trials),
            "record_seconds": [r["seconds"] for r in res.trials], "epochs": [r.get("epochs") for r in ok],
            "values": [r["hp"] for r in sorted(res.trials, key=lambda r: r["number"])], "result": res}


def breakdown(res, data, cfg, workdir):
    """Seconds of each step of one autoq trial (searching.trial.run_trial's steps, one by one, on a real trial
    choice)."""
    import tensorflow as tf
    from autoq import cost as costs
    from autoq.config import config_from_dict
    from autoq.searching.result import load_model
    from autoq.searching.store import atomic_save_model
    from autoq.searching.pricing import fpga
    from autoq.searching.session import open_session
    from autoq.searching.training import evaluate
    from autoq.searching.trial import build
    c = config_from_dict(cfg)
    float_model = load_model(res.output_dir / "float_model.h5")
    s = open_session(c, float_model, data, Path(workdir) / "breakdown", log=lambda *a, **k: None)
    choice = res.trials[-1]["choice"]
    steps = {}
    t0 = time.perf_counter()
    tf.keras.backend.clear_session()
    tf.keras.utils.set_random_seed(c.seed)
    steps["clear_session + seeding"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    qmodel, pricing = build(s, choice)
    steps["build QKeras model"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    costs.model_cost(qmodel, pricing)
    steps["QTools energy + bits/BOPs"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    fpga(s, qmodel)
    steps["FPGA estimate"] = time.perf_counter() - t0
    timer = epoch_timer()
    t = cfg["train"]
    qmodel.compile(optimizer=tf.keras.optimizers.Adam(t["learning_rate"]), loss=c.train.loss, metrics=["accuracy"])
    t0 = time.perf_counter()
    qmodel.fit(data.x_train, data.y_train, validation_data=(data.x_val, data.y_val), epochs=t["epochs"],
               batch_size=t["batch_size"], verbose=0, callbacks=[timer])
    steps["train (compile + fit)"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    evaluate(s, qmodel)
    steps["evaluate (validation predictions)"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    atomic_save_model(qmodel, Path(workdir) / "breakdown" / "m.h5")
    steps["save model (.h5)"] = time.perf_counter() - t0
    # the same float model, same epochs: the cost of QKeras's fake quantization per epoch
    fm = tf.keras.models.clone_model(float_model)
    fm.compile(optimizer=tf.keras.optimizers.Adam(t["learning_rate"]), loss=c.train.loss, metrics=["accuracy"])
    ftimer = epoch_timer()
    fm.fit(data.x_train, data.y_train, validation_data=(data.x_val, data.y_val), epochs=t["epochs"],
           batch_size=t["batch_size"], verbose=0, callbacks=[ftimer])
    return steps, timer.times, ftimer.times


def plot(path, steps, autoq_trial, ktq_trial, ktf_trial, title):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(10, 4.2))
    other = max(0.0, autoq_trial - sum(steps.values()))
    bottom = 0.0
    colors = plt.cm.tab10.colors
    for i, (k, v) in enumerate(list(steps.items()) + [("other (keras-tuner, records, trials.csv, ...)", other)]):
        ax.bar(["autoq trial"], [v], bottom=bottom, color=colors[i % 10], label=k)
        bottom += v
    ax.bar(["keras-tuner trial\n(same QKeras models)"], [ktq_trial], color="0.4", label="plain keras-tuner trial")
    ax.bar(["keras-tuner trial\n(float, no quantization)"], [ktf_trial], color="0.7")
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
    trials, rounds = TRIALS[args.budget], ROUNDS[args.budget]
    cfg = jet_config(args.budget, args.data, algorithm="random", trials=trials, baselines=False, keep="pareto",
                     seed=args.seed, patience=0)  # patience 0: every trial trains the full epochs, like kt
    data = load_dataset(config_from_dict(cfg).data)
    print(f"[bench] throughput: {rounds} round(s) x {trials} trials x {cfg['train']['epochs']} epochs per engine, "
          f"{data.describe()}", flush=True)
    runs: dict = {"autoq": [], "ktq": [], "ktf": []}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(rounds):  # the engines take turns, so a load change on the shared machine hits them all
            a = run_autoq(cfg, Path(tmp) / f"autoq{r}")
            runs["autoq"].append(a)
            runs["ktq"].append(run_keras_tuner_qkeras(data, cfg, trials, Path(tmp) / f"q{r}",
                                                      a["result"].output_dir / "float_model.h5"))
            runs["ktf"].append(run_keras_tuner_float(data, cfg, trials, Path(tmp) / f"f{r}"))
            print(f"[bench] round {r + 1}/{rounds}: median s/trial autoq "
                  f"{statistics.median(a['trial_seconds']):.3f}, kt QKeras "
                  f"{statistics.median(runs['ktq'][-1]['trial_seconds']):.3f}, kt float "
                  f"{statistics.median(runs['ktf'][-1]['trial_seconds']):.3f}", flush=True)
        steps, q_epochs, f_epochs = breakdown(runs["autoq"][-1]["result"], data, cfg, tmp)
    med = statistics.median

    def pooled(engine, key):
        return [v for run in runs[engine] for v in run[key]]

    a_trial, q_trial, k_trial = (med(pooled(e, "trial_seconds")) for e in ("autoq", "ktq", "ktf"))
    q_epoch, k_epoch = med(pooled("ktq", "epoch_seconds")), med(pooled("ktf", "epoch_seconds"))
    a_tpm, q_tpm, k_tpm = 60.0 / a_trial, 60.0 / q_trial, 60.0 / k_trial
    same = all(a["values"] == q["values"] for a, q in zip(runs["autoq"], runs["ktq"]))
    n = {e: sum(run["trials"] for run in runs[e]) for e in runs}
    a_total, q_total, k_total = (sum(run["total"] for run in runs[e]) for e in ("autoq", "ktq", "ktf"))
    machinery, vs_float = ratio(a_trial, q_trial), ratio(a_trial, k_trial)
    rows = [
        ["trials (all rounds)", n["autoq"], n["ktq"], n["ktf"], None, None],
        ["epochs per trial", cfg["train"]["epochs"], cfg["train"]["epochs"], cfg["train"]["epochs"], None, None],
        ["median seconds per trial", a_trial, q_trial, k_trial, machinery, vs_float],
        ["trials per minute (per-trial time)", a_tpm, q_tpm, k_tpm, ratio(a_tpm, q_tpm), ratio(a_tpm, k_tpm)],
        ["median seconds per epoch (keras-tuner's fits)", None, q_epoch, k_epoch, None, None],
        ["end-to-end wall seconds (autoq incl. float training)", a_total, q_total, k_total,
         ratio(a_total, q_total), ratio(a_total, k_total)],
    ]
    step_rows = [[k_, v, 100 * v / a_trial] for k_, v in steps.items()]
    rest = max(0.0, a_trial - sum(steps.values()))
    step_rows.append(["other (keras-tuner's oracle and state files, record.json, trials.csv; in-search tracing)",
                      rest, 100 * rest / a_trial])
    step_rows.append(["median autoq trial (start to next start)", a_trial, 100.0])
    step_rows.append(["inside run_trial (record 'seconds', median)", med(pooled("autoq", "record_seconds")),
                      100 * med(pooled("autoq", "record_seconds")) / a_trial])
    overhead = a_trial - q_trial
    headline = (f"machinery ratio: an autoq trial takes **{machinery:.2f}x** a plain keras-tuner trial training the "
                f"same QKeras models ({a_tpm:.2f} vs {q_tpm:.2f} trials/min, {overhead:+.2f} s per trial); "
                f"against plain keras-tuner on the float model it is **{vs_float:.2f}x** ({k_tpm:.2f} trials/min), "
                f"as an epoch of the QKeras model takes **{ratio(q_epoch, k_epoch):.2f}x** a float epoch.")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    plot(out / "bench_throughput.png", steps, a_trial, q_trial, k_trial, f"per-trial time, {args.budget} budget")
    write_md(out, "bench_throughput", "Throughput: autoq vs plain keras-tuner", [
        ("Headline", headline),
        ("Setup", f"- data: {data_label(args.data)}; {data.describe()}\n- budget `{args.budget}`: {rounds} round(s) "
                  f"of {trials} trials per engine (autoq, keras-tuner on QKeras, keras-tuner on float, taking turns), "
                  f"{cfg['train']['epochs']} epochs per trial, batch {cfg['train']['batch_size']}, early stopping "
                  "off\n- autoq: random search over per-layer quantizers of the jet tagger (11 choices)\n"
                  "- keras-tuner (QKeras): plain `kt.RandomSearch`, a HyperModel building autoq's QKeras model for "
                  "the same per-layer hyperparameters (autoq's space, `build_qmodel` from autoq's trained float "
                  f"model, same optimizer and loss), same seed: same choices as autoq: **{'yes' if same else 'no'}**\n"
                  "- keras-tuner (float): plain `kt.RandomSearch` over the float jet tagger's L1 and learning rate\n"
                  "- per-trial time: from a trial's start to the next's (the last's to the search's end), the "
                  "tuner's bookkeeping included, the same way for every engine\n"
                  + "\n".join(environment())),
        ("Results", md_table(["metric", "autoq", "keras-tuner (QKeras)", "keras-tuner (float)",
                              "machinery ratio autoq/kt QKeras", "ratio autoq/kt float"], rows)),
        ("Where an autoq trial's time goes", md_table(["step", "seconds", "% of median trial"], step_rows)),
        ("Plot", "![per-trial time](bench_throughput.png)"),
    ], figures={"autoq trials per minute": a_tpm, "keras-tuner (QKeras) trials per minute": q_tpm,
                "keras-tuner (float) trials per minute": k_tpm, "machinery ratio autoq/kt QKeras": machinery,
                "per-trial time ratio autoq/kt float": vs_float, "QKeras epoch / float epoch": ratio(q_epoch, k_epoch),
                "machinery beyond keras-tuner, s/trial": overhead,
                "rounds x trials x epochs": f"{rounds} x {trials} x {cfg['train']['epochs']}"})


if __name__ == "__main__":
    main()
