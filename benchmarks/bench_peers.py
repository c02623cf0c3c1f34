"""Peers: autoq's search algorithms vs the AutoQKeras protocol, HGQ and uniform Q4/Q6/Q8 at equal process CPU-seconds.

On the GENERATED jets (Pythia 8 + FastJet, `autoq data make-jets`; NOT the OpenML set hls4ml_lhc_jets_hlf) with the
paper's jet tagger and quantizer space, and on scikit-learn's digits (configs/digits.yaml), each method gets the same
process CPU-seconds (one run per --cpu-seconds value). HGQ runs as its authors run it (one training, a log beta ramp,
Pareto-front checkpoints). Every model is priced by one function, exact effective BOPs (autoq.cost.ebops, HGQ's
definition), beside autoq's LUT/DSP estimate and QTools energy. Fronts are selected on validation and scored on test;
hypervolumes on linear and log cost axes with a paired bootstrap interval of the ratio to HGQ; the cheapest model
within 1 point of float is picked on validation.

    python benchmarks/bench_peers.py --budget ci --cpu-seconds 120 600 --data jets_generated.npz
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, environment, front_panel, md_table, parser, ratio, write_md  # noqa: E402

# ---- autoq internals: the package layout is being reorganised (sub-packages); adjust only this block at merge
from autoq.cost import model_cost  # noqa: E402
from autoq.cost.ebops import ebops  # noqa: E402
from autoq.cost.estimate import estimate  # noqa: E402
from autoq.data import from_arrays  # noqa: E402
from autoq.data.jets import is_generated, jets_splits, load_jets, make_synthetic_jets  # noqa: E402
from autoq.searching import strategies  # noqa: E402
from autoq.searching.fronts import hypervolume, pareto_front  # noqa: E402
from autoq.searching.result import load_model  # noqa: E402
from autoq import search as run_search  # noqa: E402 - the API: plot, closing lines, export
from autoq.searching.tuner import Interrupted  # noqa: E402
from autoq.space import build_qmodel  # noqa: E402
# ----

#: autoq's strategies: one list, every one registered in autoq.searching.strategies.
STRATEGY_WORK = ("[autoq] gradient:", "[autoq] hessian:")
AUTOQ_ALGORITHMS = list(dict.fromkeys(["random", "bayesian", "pareto"] + list(strategies.names())))
UNIFORM = (4, 6, 8)
#: one more autoq method: hessian with the input quantizer searched too (as HGQ learns its input bits); the first
#: listed is the paper's fixed input (configs/jets-generated.yaml, configs/digits.yaml)
SEARCHED_INPUT = {"jets": ["quantized_bits(16,6,alpha=1)", "quantized_bits({4..10},3,alpha=1)"],
                  "digits": ["quantized_bits(8,3,alpha=1)", "quantized_bits({3..7},3,alpha=1)"]}
INPUT_METHOD = "autoq hessian, input searched"
HV_ACC_WINDOW = 0.10  # hypervolume: accuracy from (float test accuracy - 0.10) up; cost up to uniform Q8's

#: per budget: jets to generate when no --data is given, epochs per autoq trial, float epochs, the process
#: CPU-seconds every method gets on each dataset (one run per value), paired bootstrap resamples
PEERS_BUDGET = {
    "tiny": {"n_jets": 400, "epochs": 1, "float_epochs": 3, "cpu_seconds": {"jets": [4], "digits": [3]},
             "hls_check": False, "bootstrap": 50, "max_trials": 4},
    "ci": {"n_jets": 4000, "epochs": 3, "float_epochs": 15, "cpu_seconds": {"jets": [120], "digits": [60]},
           "hls_check": True, "bootstrap": 1000},
    "full": {"n_jets": 20000, "epochs": 10, "float_epochs": 30, "cpu_seconds": {"jets": [120, 600],
                                                                                 "digits": [120, 600]},
             "hls_check": True, "bootstrap": 1000},
}
HGQ_BETA = (1e-6, 1e-3)  # HGQ's log beta ramp over its one training (first and last beta)
LOG_DECADES = 3  # the log cost axis spans this many decades below uniform Q8's cost
#: autoq's gradient strategy with a width per weight (space.granularity: weight)
GRANULARITY_METHOD = "autoq gradient, weight granularity"
#: autoq's hessian strategy with a width per output channel, pruning-aware (space.granularity: channel)
CHANNEL_METHOD = "autoq hessian, channel granularity"
#: what --methods selects from: autoq's strategies, the three variants above, the AutoQKeras protocol, HGQ
METHODS = AUTOQ_ALGORITHMS + ["hessian-input", "gradient-weight", "hessian-channel", "aqk", "hgq"]


# =============================================================================================== data
def jets_data(args, budget, workdir):
    """(Dataset, label, generated?) of the jets: --data, else a small generated set, else SYNTHETIC (said so)."""
    if args.data:
        X, y, names = load_jets(args.data)
        gen = is_generated(args.data)
        label = (f"GENERATED jets (Pythia 8 + FastJet, `autoq data make-jets`; not the OpenML set) from "
                 f"`{Path(args.data).name}`, {len(y)} jets" if gen else f"jets from `{args.data}`, {len(y)} jets")
        return jets_splits(X, y, names, seed=args.seed), label, gen
    n = budget["n_jets"]
    try:
        from autoq.data.jetgen import generate_jets
        t0 = time.perf_counter()
        X, y, names, _ = generate_jets(n, seed=1, workers=2)
        label = (f"GENERATED jets (Pythia 8 + FastJet, generated for this run with autoq.data.jetgen.generate_jets, "
                 f"n={n}, seed 1, {time.perf_counter() - t0:.0f} s; not the OpenML set)")
        return jets_splits(X, y, names, seed=args.seed), label, True
    except Exception as exc:  # noqa: BLE001 - no Pythia/FastJet here: the synthetic stand-in, clearly labelled
        X, y, names = make_synthetic_jets(max(n, 1500), seed=args.seed)
        label = (f"SYNTHETIC jets-like data (autoq.data.jets.make_synthetic_jets; jet generation unavailable: "
                 f"{type(exc).__name__}: {exc}) -- accuracies are NOT jet accuracies")
        return jets_splits(X, y, names, seed=args.seed), label, False


def digits_data(seed):
    from sklearn.datasets import load_digits
    d = load_digits()
    return from_arrays(d.data.astype("float32"), d.target, val_fraction=0.2, test_fraction=0.2, seed=0,
                       standardize=True, name="digits")


def dataset_config(name, budget, algorithm, seed, baselines):
    """The paper's jet config (configs/jets-generated.yaml) or configs/digits.yaml, scaled to the budget."""
    import yaml
    cfg = yaml.safe_load((ROOT / "configs" / ("jets-generated.yaml" if name == "jets" else "digits.yaml"))
                         .read_text())
    cfg["data"] = {"source": "digits"} if name == "digits" else {"source": "jets-generated", "path": None}
    cfg["train"].update(epochs=budget["epochs"], float_epochs=budget["float_epochs"])
    trials = budget.get("max_trials") or (100000 if algorithm != "hyperband" else 400)
    cfg["search"].update(algorithm=algorithm, max_trials=trials, keep="all")
    cfg["search"].pop("output_dir", None)
    cfg["seed"] = seed
    cfg["baselines"] = [uniform_baseline(name, b) for b in UNIFORM] if baselines else []
    return cfg


def uniform_baseline(name, b):
    if name == "jets":  # the paper's Q6 pattern (configs/jets.yaml)
        return {"name": f"Q{b}", "kernel": f"quantized_bits({b},0,alpha=1)", "bias": f"quantized_bits({b},0,alpha=1)",
                "activation": f"quantized_relu({b})"}
    return {"name": f"Q{b}", "kernel": f"quantized_bits({b},0,alpha=1)", "bias": f"quantized_bits({b},2,alpha=1)",
            "activation": f"quantized_relu({b},2)"}  # configs/digits.yaml's Q4/Q8 pattern


# =============================================================================================== yardsticks
EBOPS_DEFINITION = (
    "exact effective BOPs (`autoq.cost.ebops.ebops`, the same function for every model, QKeras or HGQ, and equal to "
    "hgq 0.2.6's own `trace_minmax` count on HGQ models): per multiplication of a Dense layer the bit span of the "
    "quantized weight (highest to lowest set bit of |w|; zero weights 0; sign not counted) times the width the input "
    "element uses over the training data (sign + integer bits traced + the quantizer's fractional bits; 16 where "
    "nothing quantizes, i.e. the float model's input). Biases, accumulators and activations are not counted.")


def cpu_seconds() -> float:
    """CPU seconds of this process (every thread: TensorFlow's pools too) and of its finished children."""
    import resource
    ch = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + ch.ru_utime + ch.ru_stime


def load() -> str:
    """The machine's 1/5/15-minute load averages."""
    try:
        return "/".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "n/a"


def resources(model) -> dict:
    """autoq's resource estimate (autoq.cost.estimate.estimate, the same one the search and `autoq report` use)."""
    try:
        e = estimate(model)
    except Exception:  # noqa: BLE001 - a model the estimate cannot price is left out of the LUT+DSP panels
        return {}
    return {"luts": float(e.luts), "dsps": float(e.dsps), "lut_dsp": float(e.lut_plus_dsp)}


def accuracies(model, data) -> dict:
    """Validation and test accuracy, and which test samples are right (for the paired bootstrap; not saved)."""
    import numpy as np
    out = {}
    for split, x, y in (("val", data.x_val, data.y_val), ("test", data.x_test, data.y_test)):
        right = np.argmax(model.predict(x, batch_size=2048, verbose=0), -1) == np.argmax(y, -1)
        out[f"{split}_acc"] = float(np.mean(right))
        if split == "test":
            out["_right"] = right
    return out


def measure_qkeras(model, data, energy=None) -> dict:
    if energy is None:
        try:
            energy = model_cost(model).energy
        except Exception:  # noqa: BLE001
            energy = None
    return {**accuracies(model, data), "ebops": ebops(model, data.x_train), "energy": energy, **resources(model)}


# =============================================================================================== autoq runs
FINE_SHARE = 0.7  # of gradient-weight's CPU budget for its one training, its candidates' tuning and its children


def fine_epochs(name, data, float_model, budget, cpu, seed, children=None):
    """(``search.learn_epochs``, CPU-s per epoch) for gradient-weight: the one training's epochs that fill
    :data:`FINE_SHARE` of ``cpu``, as a user sizes a training to the time they have. The per-epoch CPU is measured
    before the method's clock starts (not charged, like the float model): epochs 3 to 8 of an 8-epoch run of the same
    training (after building and tracing the model; two runs' difference was not: the second reuses traces). The
    share also pays the epochs that tune the candidates and the children (``train.epochs`` each, at most
    :func:`reserved` of them); the trials that evaluate them take the rest."""
    import numpy as np
    from autoq.quantizers import learned_fine
    from autoq.searching.run import resolve_config
    from autoq.space import analyse
    cfg = dataset_config(name, budget, "gradient", seed, False)
    cfg["space"].update(granularity="weight", input_quantizer=SEARCHED_INPUT[name])
    c = resolve_config(cfg)
    sp = analyse(float_model, c.space)
    t = c.train
    ends = []  # CPU seconds at each epoch's end: epochs 2..8, after the model is built and its steps traced
    learned_fine.learn(float_model, sp, data.x_train, data.y_train, data.x_val, data.y_val,
                       lambda y, p: float(np.mean(np.argmax(y, -1) == np.argmax(p, -1))), epochs=8,
                       batch_size=t.batch_size, learning_rate=t.learning_rate, input_quantizer=sp.input_quantizer,
                       seed=seed, on_epoch=lambda *_: ends.append(cpu_seconds()))
    per_epoch = max(1e-3, (ends[-1] - ends[1]) / (len(ends) - 2))
    epochs = max(8, int(FINE_SHARE * cpu / per_epoch) - reserved(t.epochs, children))
    print(f"[bench] {name}: gradient-weight's one training: {per_epoch:.3f} CPU-s per epoch -> {epochs} epochs "
          f"({reserved(t.epochs, children)} more kept for tuning the candidates and their children)", flush=True)
    return epochs, per_epoch


def reserved(epochs: int, children: int | None = None) -> int:
    """Epochs of tuning in gradient-weight's candidates phase at most: its candidates and ``children``
    (``search.children``; at the bench's unlimited trial count, 24 candidates and by default 24 children) x
    ``train.epochs``."""
    from autoq.searching.strategies import fine_evolution, gradient_fine
    n = gradient_fine.n_candidates(10 ** 6)
    return (n + fine_evolution.n_children(10 ** 6, n, children)) * int(epochs)


class _Deadline:
    """autoq's log callback: the CPU clock (:func:`cpu_seconds`) starts when the strategy's own work or the first
    trial starts; once ``seconds`` of CPU are spent no new trial starts (the one running finishes), by interrupting
    the search at the next trial's start."""

    def __init__(self, seconds):
        self.seconds, self.start, self.stopped = seconds, None, False

    def __call__(self, msg="", *a, **k):
        msg = str(msg)
        if (msg.startswith("[autoq] trial ") and " starts" in msg) or msg.startswith(STRATEGY_WORK):
            now = cpu_seconds()
            if self.start is None:
                self.start = now
            elif now - self.start >= self.seconds and not msg.startswith(STRATEGY_WORK):
                self.stopped = True
                raise KeyboardInterrupt


def run_autoq(name, data, float_model, algorithm, seconds, budget, seed, out, baselines=False, input_quantizer=None,
              space=None, search=None):
    """One autoq search under the CPU budget; returns (records, baselines, CPU seconds spent)."""
    cfg = dataset_config(name, budget, algorithm, seed, baselines)
    if input_quantizer is not None:
        cfg["space"]["input_quantizer"] = input_quantizer
    cfg["space"].update(space or {})
    cfg["search"].update(search or {})
    dl = _Deadline(seconds)
    try:
        run_search(model=float_model, data=data, config=cfg, output_dir=out, verbose=False, log=dl, overwrite=True)
    except Interrupted:
        pass
    spent = cpu_seconds() - dl.start if dl.start else 0.0
    recs = []
    for p in sorted(Path(out, "trials").glob("*/record.json")):
        r = json.loads(p.read_text())
        if r.get("status") == "ok" and r.get("model") and (Path(out) / r["model"]).is_file():
            recs.append(r)
    base = {}
    summary = Path(out) / "summary.json"
    if baselines:
        base = json.loads(summary.read_text()).get("baselines", {}) if summary.is_file() else {}
        if not base:  # interrupted before the summary: the baselines' models are on disk all the same
            base = {p.stem: {"model": f"baselines/{p.name}"} for p in (Path(out) / "baselines").glob("*.h5")}
    return recs, base, spent


def measure_records(recs, out, data):
    rows = []
    for r in recs:
        m = load_model(Path(out) / r["model"])
        rows.append({"trial": r["trial"], **measure_qkeras(m, data, r.get("energy")), "choice": r.get("choice")})
    return rows


def retrain_from_scratch(name, data, float_model, choice, budget, seed):
    """AutoQKeras's last step: the best quantization re-trained from scratch (fresh initial weights)."""
    import tensorflow as tf
    import yaml
    cfg = yaml.safe_load((ROOT / "configs" / ("jets-generated.yaml" if name == "jets" else "digits.yaml")).read_text())
    tf.keras.utils.set_random_seed(seed)
    q = build_qmodel(float_model, choice, cfg["space"]["input_quantizer"], copy_weights=False)
    t = cfg["train"]
    q.compile(optimizer=tf.keras.optimizers.Adam(t["learning_rate"]), loss="categorical_crossentropy",
              metrics=["accuracy"])
    q.fit(data.x_train, data.y_train, validation_data=(data.x_val, data.y_val), epochs=budget["float_epochs"],
          batch_size=t["batch_size"], verbose=0, callbacks=[tf.keras.callbacks.EarlyStopping(
              monitor="val_accuracy", mode="max", patience=t["patience"], restore_best_weights=True)])
    return q


def try_autoqkeras_class(float_model, data, workdir) -> str:
    """Start QKeras's own AutoQKeras (random mode, 1 trial, 1 epoch); the outcome as one line."""
    try:
        from qkeras.autoqkeras import AutoQKeras
        from qkeras.utils import _add_supported_quantized_objects
        co = {}
        _add_supported_quantized_objects(co)
        goal = {"type": "energy", "params": {
            "delta_p": 8.0, "delta_n": 8.0, "rate": 2.0, "stress": 1.0, "process": "horowitz",
            "parameters_on_memory": ["sram", "sram"], "activations_on_memory": ["sram", "sram"],
            "rd_wr_on_io": [False, False], "min_sram_size": [0, 0], "source_quantizers": ["int8"],
            "reference_internal": "int8", "reference_accumulator": "int32"}}
        qc = {"kernel": {f"quantized_bits({b},0,1,alpha=1.0)": b for b in range(2, 9)},
              "bias": {f"quantized_bits({b},0,1)": b for b in range(2, 9)},
              "activation": {f"quantized_relu({b})": b for b in range(3, 9)},
              "linear": {"quantized_bits(16,6,1)": 16}}
        m = float_model
        m.compile("adam", "categorical_crossentropy", metrics=["acc"])
        aqk = AutoQKeras(m, metrics=["acc"], custom_objects=co, goal=goal, output_dir=str(Path(workdir) / "aqk"),
                         mode="random", quantization_config=qc, limit={"Dense": [8, 8, 8]}, tune_filters="none",
                         tune_filters_exceptions="^$", max_trials=1, overwrite=True)
        aqk.fit(data.x_train, data.y_train, validation_data=(data.x_val, data.y_val), epochs=1, batch_size=256,
                verbose=0)
        aqk.get_best_model()
        return "started and ran 1 trial (not used for the figures: the protocol row below is autoq's)"
    except Exception as exc:  # noqa: BLE001 - recorded verbatim
        tb = traceback.extract_tb(exc.__traceback__)
        qk = [f for f in tb if "qkeras" in f.filename] or tb
        where = " -> ".join(f"{Path(f.filename).parent.name}/{Path(f.filename).name}:{f.lineno} {f.name}"
                            for f in qk[-4:]) + f" -> ... {Path(tb[-1].filename).name}:{tb[-1].lineno}"
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        if len(msg) > 220:
            msg = msg[:220] + " ..."
        return f"fails to start: `{type(exc).__name__}: {msg}` (at {where})"


# =============================================================================================== HGQ
def hgq_status() -> tuple:
    """(module or None, one line saying which HGQ there is, or why none)."""
    try:
        from importlib import metadata
        import HGQ
        return HGQ, f"HGQ {metadata.version('hgq')}"
    except Exception as exc:  # noqa: BLE001
        return None, (f"HGQ is not available on this stack ({type(exc).__name__}: {exc}); hgq==0.2.6 needs "
                      "keras<3 and TensorFlow <= 2.15-era tf.keras (pip: 'hgq 0.2.6 depends on keras<3', which "
                      "tensorflow >= 2.16 contradicts), so its rows are missing here")


def hgq_model(HGQ, float_model, beta):
    """The float model's Dense stack as HGQ layers (HQuantize input, HDense per Dense; float softmax head), the float
    weights copied in."""
    import tensorflow as tf
    inp = tf.keras.Input(float_model.input_shape[1:])
    x = HGQ.layers.HQuantize(beta=beta, name="inq")(inp)
    dense = [l for l in float_model.layers if type(l).__name__ == "Dense"]
    for l in dense:
        act = l.get_config()["activation"]
        x = HGQ.layers.HDense(l.units, activation="relu" if act == "relu" else None, beta=beta, name=l.name)(x)
        if act not in ("relu", "linear"):
            x = tf.keras.layers.Activation(act)(x)
    if type(float_model.layers[-1]).__name__ == "Activation":
        x = tf.keras.layers.Activation(float_model.layers[-1].get_config()["activation"], name="softmax")(x)
    m = tf.keras.Model(inp, x)
    for l in dense:
        k, b = l.get_weights()
        m.get_layer(l.name).kernel.assign(k)
        m.get_layer(l.name).bias.assign(b)
    return m


class _Quant:
    def __init__(self, bits):
        self.bits = int(bits)

    def __call__(self, x):
        return x


class quantized_bits(_Quant):  # noqa: N801 - autoq.cost.estimate.quantizer_info reads the class name
    pass


class quantized_relu(_Quant):  # noqa: N801
    pass


class _Layer:
    def __init__(self, kind, name, out_shape, **kw):
        self.__class__ = type(kind, (_Layer,), {})
        self.name, self.output_shape = name, out_shape
        self.__dict__.update(kw)

    def get_weights(self):
        return [self.kernel_values]


def hgq_resource_standin(model):
    """An object autoq.cost.estimate.estimate prices like a QKeras model, from HGQ's own layer precisions: per Dense its
    quantized kernel (zeros where HGQ pruned), the widest weight as the layer's weight width and the widest input as
    the input width (hls4ml gives a layer one weight type and one input type), then its activation quantizer's
    widest output."""
    import numpy as np
    layers = []
    for l in model.layers:
        cls = type(l).__name__
        if cls == "HQuantize":
            bits = int(np.max(l.act_bw_exact))
            layers.append(_Layer("QActivation", l.name, l.output_shape, quantizer=quantized_bits(bits)))
        elif cls == "HDense":
            k = np.asarray(l.fused_qkernel)
            kbw = np.asarray(l.kernel_bw_exact)
            wbits = int(np.max(kbw[k != 0])) if np.any(k != 0) else 1
            layers.append(_Layer("QDense", l.name, l.output_shape, kernel_values=k, quantizers=[quantized_bits(wbits)],
                                 activation="linear"))
            layers.append(_Layer("QActivation", l.name + "_q", l.output_shape,
                                 quantizer=quantized_relu(int(np.max(l.act_bw_exact)))))
        elif cls == "Activation":
            layers.append(_Layer("Activation", l.name, l.output_shape, kernel_values=None, activation=l.activation))
    return type("HGQStandIn", (), {"layers": layers})()


def run_hgq(HGQ, name, data, float_model, seconds, budget, seed):
    """HGQ as its authors run it: one training from the float weights with beta ramped on a log scale from
    HGQ_BETA[0] to HGQ_BETA[1] over the CPU budget (the ramp follows the CPU seconds spent, so it spans any budget),
    every epoch's model kept while it is on the validation front of (val accuracy, HGQ's BOPs) (as the authors'
    Pareto-front checkpoints); then each kept model traced on the training set (`trace_minmax`) and measured through
    its proxy model. Returns (rows, CPU seconds of the training)."""
    import numpy as np
    import tensorflow as tf
    import yaml
    t = yaml.safe_load((ROOT / "configs" / ("jets-generated.yaml" if name == "jets" else "digits.yaml"))
                       .read_text())["train"]
    tf.keras.backend.clear_session()
    tf.keras.utils.set_random_seed(seed)
    lo, hi = HGQ_BETA
    m = hgq_model(HGQ, float_model, lo)
    m.compile(optimizer=tf.keras.optimizers.Adam(t["learning_rate"]), loss="categorical_crossentropy",
              metrics=["accuracy"])
    hlayers = [layer for layer in m.layers if hasattr(layer, "beta")]
    kept = []  # (val accuracy, bops, epoch, beta, weights): the running validation front

    class Ramp(tf.keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.t0, self.beta = cpu_seconds(), lo

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            acc, bops = float(logs.get("val_accuracy", 0.0)), float(logs.get("bops", 0.0))
            if not any(a >= acc and b <= bops for a, b, *_ in kept):
                kept[:] = [k for k in kept if not (acc >= k[0] and bops <= k[1])]
                kept.append((acc, bops, epoch + 1, self.beta, [np.array(w) for w in m.get_weights()]))
            frac = (cpu_seconds() - self.t0) / seconds
            if frac >= 1:
                self.model.stop_training = True
            self.beta = float(lo * (hi / lo) ** min(frac, 1.0))
            for layer in hlayers:
                layer.beta.assign(self.beta)

    ramp = Ramp()
    m.fit(data.x_train, data.y_train, validation_data=(data.x_val, data.y_val), epochs=10 ** 6,
          batch_size=t["batch_size"], verbose=0, callbacks=[HGQ.ResetMinMax(), HGQ.FreeBOPs(), ramp])
    spent = cpu_seconds() - ramp.t0
    rows = []
    for _, _, epoch, beta, weights in sorted(kept, key=lambda k: k[2]):
        m.set_weights(weights)
        own = float(HGQ.trace_minmax(m, data.x_train, bsz=4096, verbose=False))
        proxy = HGQ.to_proxy_model(m, aggressive=False)  # what hls4ml converts: its accuracy is the firmware's
        rows.append({"trial": f"epoch {epoch}", "epoch": epoch, "beta": beta, **accuracies(proxy, data),
                     "hgq_model_test_acc": accuracies(m, data)["test_acc"], "ebops": ebops(m, data.x_train),
                     "hgq_own_ebops": own, "energy": None, **resources(hgq_resource_standin(m)),
                     "_weights": weights})
    if rows:
        m.set_weights(max(rows, key=lambda r: r["val_acc"])["_weights"])
        HGQ.trace_minmax(m, data.x_train, bsz=4096, verbose=False)
    for r in rows:
        r.pop("_weights")
    return rows, spent, m


def hgq_hls_check(HGQ, model, data, workdir) -> str:
    """hls4ml conversion of HGQ's proxy model (up to the last HDense: hls4ml's softmax is a lookup table, not
    bit-exact by design), compiled with g++, against the proxy on 500 test samples."""
    import numpy as np
    import tensorflow as tf
    try:
        import hls4ml
        last = [l.name for l in model.layers if type(l).__name__ == "HDense"][-1]
        sub = tf.keras.Model(model.input, model.get_layer(last).output)
        proxy = HGQ.to_proxy_model(sub, aggressive=False)
        x = np.ascontiguousarray(data.x_test[:500])
        ref = proxy.predict(x, verbose=0)
        hm = hls4ml.converters.convert_from_keras_model(proxy, output_dir=str(Path(workdir) / "hgq_hls"),
                                                        backend="Vivado", io_type="io_parallel")
        t0 = time.perf_counter()
        hm.compile()
        out = np.asarray(hm.predict(x)).reshape(ref.shape)
        exact = float(np.mean(np.all(out == ref, axis=-1)))
        return (f"hls4ml 1.3 (Vivado backend, io_parallel, C simulation compiled with g++ in "
                f"{time.perf_counter() - t0:.0f} s) vs HGQ's proxy model (SAT overflow), logits before the softmax, "
                f"500 test samples: **{100 * exact:.1f} % bit-exact**, "
                f"max |diff| {float(np.max(np.abs(out - ref))):.3g}")
    except Exception as exc:  # noqa: BLE001
        return f"hls4ml check failed: {type(exc).__name__}: {str(exc).strip()[:200]}"


# =============================================================================================== one dataset
def run_dataset(name, data, args, budget, workdir, hgq):
    """Every method at every CPU budget on one dataset: {cpu: {"methods", ...}}, the baselines, notes."""
    import tensorflow as tf
    per_budget, notes, hls_line, fine = {}, [], None, {}
    float_model, base, first = None, {}, True
    for cpu in budget["cpu_seconds"][name]:
        methods = {}

        def add(method, rows, spent, load_before):
            methods[method] = {"rows": rows, "cpu": spent, "load": load_before}

        for algo in (a for a in AUTOQ_ALGORITHMS if a in args.methods):
            out = Path(workdir) / name / f"{algo}-{cpu:g}"
            print(f"[bench] {name}: autoq {algo}, {cpu:g} CPU-s ...", flush=True)
            ld = load()
            seed = args.seed + AUTOQ_ALGORITHMS.index(algo)
            recs, b, spent = run_autoq(name, data, float_model, algo, cpu, budget, seed, out, baselines=first)
            if first:
                float_model = load_model(out / "float_model.h5")
                base = {"float": {"trial": "float", **measure_qkeras(float_model, data, None)}}
                for bn in (f"Q{u}" for u in UNIFORM):
                    if bn in b and b[bn].get("model"):
                        base[bn] = {"trial": bn, **measure_qkeras(load_model(out / b[bn]["model"]), data,
                                                                  b[bn].get("energy"))}
                first = False
            add(f"autoq {algo}", measure_records(recs, out, data), spent, ld)
        if "hessian-input" in args.methods:
            out = Path(workdir) / name / f"hessian-input-{cpu:g}"
            print(f"[bench] {name}: {INPUT_METHOD}, {cpu:g} CPU-s ...", flush=True)
            ld = load()
            recs, _, spent = run_autoq(name, data, float_model, "hessian", cpu, budget, args.seed + 23, out,
                                       input_quantizer=SEARCHED_INPUT[name])
            add(INPUT_METHOD, measure_records(recs, out, data), spent, ld)
        if "gradient-weight" in args.methods:  # space.granularity: per-weight widths
            out = Path(workdir) / name / f"gradient-weight-{cpu:g}"
            print(f"[bench] {name}: {GRANULARITY_METHOD}, {cpu:g} CPU-s ...", flush=True)
            ld = load()
            epochs, per_epoch = fine_epochs(name, data, float_model, budget, cpu, args.seed + 29, args.children)
            recs, _, spent = run_autoq(name, data, float_model, "gradient", cpu, budget, args.seed + 29, out,
                                       input_quantizer=SEARCHED_INPUT[name], space={"granularity": "weight"},
                                       search={"learn_epochs": epochs, "children": args.children})
            fine[f"{cpu:g}"] = {"learn_epochs": epochs, "cpu_per_epoch": per_epoch}
            add(GRANULARITY_METHOD, measure_records(recs, out, data), spent, ld)
        if "hessian-channel" in args.methods:  # space.granularity: per-channel widths, pruning-aware
            out = Path(workdir) / name / f"hessian-channel-{cpu:g}"
            print(f"[bench] {name}: {CHANNEL_METHOD}, {cpu:g} CPU-s ...", flush=True)
            ld = load()
            recs, _, spent = run_autoq(name, data, float_model, "hessian", cpu, budget, args.seed + 31, out,
                                       input_quantizer=SEARCHED_INPUT[name], space={"granularity": "channel"})
            add(CHANNEL_METHOD, measure_records(recs, out, data), spent, ld)
        # ---- AutoQKeras: the class itself (once), then its protocol
        if "aqk" in args.methods:
            if not notes:
                aqk_line = try_autoqkeras_class(tf.keras.models.clone_model(float_model), data, workdir)
                notes.append(f"QKeras's own `AutoQKeras` class (qkeras.autoqkeras, random mode) on this stack: "
                             f"{aqk_line}")
            print(f"[bench] {name}: AutoQKeras protocol, {cpu:g} CPU-s ...", flush=True)
            ld, c0 = load(), cpu_seconds()
            out = Path(workdir) / name / f"aqk-{cpu:g}"
            recs, _, _ = run_autoq(name, data, float_model, "random", 0.6 * cpu, budget, args.seed + 17, out)
            rows = measure_records(recs, out, data)
            c1 = cpu_seconds()
            if recs:
                best = max(recs, key=lambda r: r["score"])
                q = retrain_from_scratch(name, data, float_model, best["choice"], budget, args.seed + 17)
                c1 = cpu_seconds()
                rows.append({"trial": f"{best['trial']} re-trained", **measure_qkeras(q, data), "retrained": True})
            add("AutoQKeras protocol", rows, c1 - c0, ld)  # search + re-training (its measuring included)
        # ---- HGQ
        if hgq is not None and "hgq" in args.methods:
            print(f"[bench] {name}: HGQ, one training with a log beta ramp, {cpu:g} CPU-s ...", flush=True)
            ld = load()
            hrows, spent, top = run_hgq(hgq, name, data, float_model, cpu, budget, args.seed)
            if budget["hls_check"] and hrows and hls_line is None:
                hls_line = "the most accurate model on validation: " + hgq_hls_check(hgq, top, data, workdir)
            add("HGQ", hrows, spent, ld)
        per_budget[cpu] = {"methods": methods}
    return {"budgets": per_budget, "baselines": base, "notes": notes, "hls_check": hls_line, "fine": fine}


# =============================================================================================== analysis
def val_front(rows, key):
    """The rows on the validation front of (val accuracy, ``key``): what a user picks without seeing the test set."""
    rows = [r for r in rows if r.get(key) is not None]
    return [rows[i] for i in pareto_front([(r["val_acc"], r[key]) for r in rows])]


def cost_axis(cost, ref, log):
    """Cost on the hypervolume's axis: ``cost / ref`` (linear) or ``1 + log10(cost / ref) / LOG_DECADES`` (log:
    LOG_DECADES decades below the reference map to [0, 1])."""
    import math
    if not log:
        return cost / ref
    return max(0.0, 1.0 + math.log10(max(cost, 1e-12) / ref) / LOG_DECADES)


def hv(rows, key, ref, acc_ref, log=False, accs=None):
    """Hypervolume of (test accuracy, cost axis) of ``rows`` (``accs``: their test accuracies, else their own)."""
    if not rows or not ref:
        return None
    accs = accs if accs is not None else [r["test_acc"] for r in rows]
    return hypervolume([(a, cost_axis(r[key], ref, log)) for a, r in zip(accs, rows)], (acc_ref, 1.0))


def resamples(size: int, n: int, seed=0):
    """``n`` bootstrap resamples (index arrays) of a test set of ``size`` samples."""
    import numpy as np
    rng = np.random.default_rng(seed)
    return (rng.integers(0, size, size) for _ in range(n))


def bootstrap_ratio(a_rows, b_rows, key, ref, acc_ref, log, n, seed=0):
    """90 % interval of HV(a) / HV(b) over ``n`` paired bootstrap resamples of the test set (the same resampled
    samples score both fronts)."""
    import numpy as np
    if not a_rows or not b_rows or not n:
        return None
    ra = np.array([r["_right"] for r in a_rows], dtype=float)
    rb = np.array([r["_right"] for r in b_rows], dtype=float)
    out = []
    for idx in resamples(ra.shape[1], n, seed):
        ha = hv(a_rows, key, ref, acc_ref, log, ra[:, idx].mean(axis=1).tolist())
        hb = hv(b_rows, key, ref, acc_ref, log, rb[:, idx].mean(axis=1).tolist())
        if hb:
            out.append(ha / hb)
    return (float(np.percentile(out, 5)), float(np.percentile(out, 95))) if out else None


def bootstrap_diff(a_row, b_row, n, seed=0):
    """90 % interval of test accuracy(a) - test accuracy(b) over ``n`` paired bootstrap resamples of the test set."""
    import numpy as np
    if a_row is None or b_row is None or not n:
        return None
    d = np.asarray(a_row["_right"], dtype=float) - np.asarray(b_row["_right"], dtype=float)
    means = [d[idx].mean() for idx in resamples(d.size, n, seed)]
    return float(np.percentile(means, 5)), float(np.percentile(means, 95))


def top_verdict(diff, ci) -> str:
    """'ahead', 'behind' or 'tied' at the top end: ahead or behind only when the 90 % interval excludes 0."""
    if diff is None:
        return "n/a"
    if ci is None:
        return f"{diff:+.4f} (no CI)"
    return "ahead" if ci[0] > 0 else "behind" if ci[1] < 0 else "tied"


def analyse(res, cpu, n_boot):
    base = res["baselines"]
    fl_test, fl_val = base["float"]["test_acc"], base["float"]["val_acc"]
    acc_ref = fl_test - HV_ACC_WINDOW
    q8 = base.get("Q8", {})
    methods = res["budgets"][cpu]["methods"]
    fronts = {m: {k: val_front(d["rows"], k) for k in ("ebops", "lut_dsp")} for m, d in methods.items()}
    table = []
    for m, d in methods.items():
        fr = fronts[m]["ebops"]
        ok = [r for r in d["rows"] if r["val_acc"] >= fl_val - 0.01]
        top = max(d["rows"], key=lambda r: r["val_acc"]) if d["rows"] else None
        table.append({"method": m, "cpu_budget": cpu, "cpu": d["cpu"], "load": d["load"], "models": len(d["rows"]),
                      "front": len(fr), "hv_lin": hv(fr, "ebops", q8.get("ebops"), acc_ref),
                      "hv_log": hv(fr, "ebops", q8.get("ebops"), acc_ref, log=True),
                      "hv_lut_dsp": hv(fronts[m]["lut_dsp"], "lut_dsp", q8.get("lut_dsp"), acc_ref),
                      "cheap": min(ok, key=lambda r: r["ebops"]) if ok else None,
                      "top_acc": top and top["test_acc"], "_top": top})
    h = next((t for t in table if t["method"] == "HGQ"), None)
    for t in table:
        if h is not None and t["method"] != "HGQ":
            t["lin_ratio"], t["log_ratio"] = ratio(t["hv_lin"], h["hv_lin"]), ratio(t["hv_log"], h["hv_log"])
            args = (fronts[t["method"]]["ebops"], fronts["HGQ"]["ebops"], "ebops", q8.get("ebops"), acc_ref)
            t["lin_ci"] = bootstrap_ratio(*args, False, n_boot)
            t["log_ci"] = bootstrap_ratio(*args, True, n_boot)
            if t["_top"] is not None and h["_top"] is not None:
                t["top_diff"] = t["top_acc"] - h["top_acc"]
                t["top_diff_ci"] = bootstrap_diff(t["_top"], h["_top"], n_boot)
    return table, fronts


def headline_ratios(name, res, cpu, table):
    by = {t["method"]: t for t in table}
    autoq_rows = [t for t in table if t["method"].startswith("autoq ")]
    best = max(autoq_rows, key=lambda t: t["hv_log"] or 0.0)
    h = by.get("HGQ")
    q6 = res["baselines"].get("Q6", {})
    bc, hc = best["cheap"], h and h["cheap"]
    fig = {"cpu_seconds": cpu, "autoq_best_strategy": best["method"],
           "hv_lin_ratio_vs_hgq": best.get("lin_ratio"), "hv_lin_ratio_ci90": best.get("lin_ci"),
           "hv_log_ratio_vs_hgq": best.get("log_ratio"), "hv_log_ratio_ci90": best.get("log_ci"),
           "hv_ratio_lut_dsp_vs_hgq": ratio(best["hv_lut_dsp"], h["hv_lut_dsp"]) if h else None,
           "cheapest_within_1pt_ebops": bc and bc["ebops"], "hgq_cheapest_within_1pt_ebops": hc and hc["ebops"],
           "q6_ebops": q6.get("ebops"),
           "cheapest_within_1pt_over_q6_ebops": ratio(bc["ebops"], q6.get("ebops")) if bc else None,
           "top_acc": best["top_acc"], "hgq_top_acc": h and h["top_acc"],
           "top_diff_vs_hgq": best.get("top_diff"), "top_diff_ci90": best.get("top_diff_ci"),
           "top_end": top_verdict(best.get("top_diff"), best.get("top_diff_ci")) if h else "HGQ not run",
           "loads": {t["method"]: t["load"] for t in table}}

    def f(v, fmt="{:.3g}"):
        return fmt.format(v) if v is not None else "n/a"

    def ci(v):
        return f"{v[0]:.2f}-{v[1]:.2f}" if v else "n/a"
    met_hv = fig["hv_log_ratio_ci90"] is not None and fig["hv_log_ratio_vs_hgq"] >= 1.0 and \
        fig["hv_log_ratio_ci90"][0] >= 0.95
    met_cheap = bc is not None and (hc is None or bc["ebops"] <= hc["ebops"])
    text = (f"**{name}, {cpu:g} CPU-s per method**: autoq's best strategy ({best['method']}, by hypervolume of "
            f"(test accuracy, log EBOPs) of its validation front) vs HGQ: hypervolume ratio **{f(fig['hv_log_ratio_vs_hgq'])}** "
            f"on the log cost axis (90 % paired bootstrap CI {ci(fig['hv_log_ratio_ci90'])}), "
            f"{f(fig['hv_lin_ratio_vs_hgq'])} on the linear one (CI {ci(fig['hv_lin_ratio_ci90'])}), "
            f"{f(fig['hv_ratio_lut_dsp_vs_hgq'])} on (accuracy, LUT+DSP) (issue #23's target, log ratio >= 1.0 with "
            f"the CI's lower bound >= 0.95: " + ("HGQ not run" if h is None else ("met" if met_hv else "NOT met"))
            + "); its cheapest model within 1 point of float (picked on validation) costs "
            + (f"{bc['ebops']:.4g} EBOPs (test accuracy {bc['test_acc']:.4f}) against HGQ's "
               + (f"{hc['ebops']:.4g}" if hc else "n/a") + " (" + ("HGQ not run" if h is None else "met: HGQ has no model "
                  "within 1 point" if hc is None else "met" if met_cheap else "NOT met") + ") = "
               f"**{f(fig['cheapest_within_1pt_over_q6_ebops'])}x** uniform Q6's {f(q6.get('ebops'), '{:.4g}')}"
               if bc else "n/a (no model within 1 point of float on validation)")
            + f"; top end (most accurate on validation): test accuracy {f(best['top_acc'], '{:.4f}')} against HGQ's "
            + f(h and h["top_acc"], "{:.4f}")
            + (f" (difference {fig['top_diff_vs_hgq']:+.4f}, 90 % paired bootstrap CI "
               + (f"{fig['top_diff_ci90'][0]:+.4f} to {fig['top_diff_ci90'][1]:+.4f}" if fig["top_diff_ci90"]
                  else "n/a") + f": **{fig['top_end']}**)" if fig["top_diff_vs_hgq"] is not None else "") + ".")
    return text, fig


def plot(path, results, title):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    panels = [(name, cpu) for name, res in results.items() for cpu in res["budgets"]]
    fig, axes = plt.subplots(2, len(panels), figsize=(6.5 * len(panels), 9), squeeze=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for j, (name, cpu) in enumerate(panels):
        res = results[name]
        methods = res["budgets"][cpu]["methods"]
        for i, (key, label) in enumerate((("ebops", "effective bit operations [EBOPs, HGQ's exact count]"),
                                          ("lut_dsp", "estimated LUT + DSP (autoq.cost.estimate.estimate)"))):
            ax = axes[i][j]
            runs = {m: (res["fronts"][cpu][m][key], colors[k % len(colors)]) for k, m in enumerate(methods)}
            front_panel(ax, runs, res["baselines"], key, "test_acc")
            ax.set_xscale("log")
            ax.set_xlabel(label)
            ax.set_ylabel("test accuracy (models on each method's validation front)")
            ax.set_title(f"{res['label_short']}, {cpu:g} CPU-s per method", fontsize=10)
            ax.grid(alpha=0.3, which="both")
            ax.legend(fontsize=7, loc="lower right")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _clean(row):
    return {k: v for k, v in row.items() if k != "choice" and not k.startswith("_")}


# =============================================================================================== main
def main(argv=None):
    p = parser(__doc__.split("\n")[0])
    p.add_argument("--cpu-seconds", type=float, nargs="+", default=None,
                   help="process CPU seconds per method and dataset, one run per value (e.g. 120 600; default: the "
                        "budget's)")
    p.add_argument("--datasets", default="jets,digits", help="comma-separated: jets, digits")
    p.add_argument("--bootstrap", type=int, default=None, help="paired bootstrap resamples (default: the budget's)")
    p.add_argument("--methods", default=",".join(METHODS),
                   help="comma-separated subset of: " + ", ".join(METHODS) + " (default: all; at least one autoq "
                        "strategy, whose run trains the float model and the uniform baselines)")
    p.add_argument("--children", default="0",
                   help="gradient-weight's search.children: children evolved at weight granularity after its "
                        "candidates, an integer >= 0 or 'auto' (autoq's default: as many as the candidates). Default "
                        "0: under a CPU budget they are paid out of the one training (see the README)")
    args = p.parse_args(argv)
    if args.children == "auto":
        args.children = None
    elif not args.children.isdigit():
        p.error(f"--children: expected an integer >= 0 or 'auto', got {args.children!r}")
    else:
        args.children = int(args.children)
    args.methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = [m for m in args.methods if m not in METHODS]
    if unknown or not any(m in AUTOQ_ALGORITHMS for m in args.methods):
        p.error(f"--methods: unknown {', '.join(unknown)}" if unknown else
                "--methods needs at least one autoq strategy (" + ", ".join(AUTOQ_ALGORITHMS) + ")")
    budget = json.loads(json.dumps(PEERS_BUDGET[args.budget]))
    if args.cpu_seconds:
        if any(c <= 0 for c in args.cpu_seconds):
            p.error("--cpu-seconds must be > 0")
        budget["cpu_seconds"] = {k: list(args.cpu_seconds) for k in budget["cpu_seconds"]}
    n_boot = budget["bootstrap"] if args.bootstrap is None else args.bootstrap
    hgq, hgq_line = hgq_status()
    results, t_all, load_start = {}, time.perf_counter(), load()
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.datasets.split(","):
            if name == "jets":
                data, label, gen = jets_data(args, budget, tmp)
                short = ("GENERATED jets" if gen else ("jets" if args.data else "SYNTHETIC jets")) + \
                    f" ({len(data.y_train) + len(data.y_val) + len(data.y_test)})"
            else:
                data, label, short = digits_data(args.seed), "scikit-learn digits (8x8, 1797 images)", "digits"
            results[name] = run_dataset(name, data, args, budget, tmp, hgq)
            results[name].update(label=label, label_short=short)
    total = time.perf_counter() - t_all
    # ---- tables
    sections, figures, heads = [], {}, []
    for name, res in results.items():
        res["tables"], res["fronts"] = {}, {}
        figures[name] = {"budgets": {}}
        for cpu in res["budgets"]:
            table, fronts = analyse(res, cpu, n_boot)
            text, fig = headline_ratios(name, res, cpu, table)
            heads.append(text)
            figures[name]["budgets"][f"{cpu:g}"] = fig
            figures[name].update(fig)  # the last budget's figures at the top level
            res["tables"][cpu], res["fronts"][cpu] = table, fronts
    synthetic = any(r["label"].startswith("SYNTHETIC") for r in results.values())
    tag = "SYNTHETIC " if synthetic else ""
    sections.append(("Headline", "\n\n".join(heads) + (
        "\n\nThe jets here are SYNTHETIC (no Pythia/FastJet on this machine): not jet accuracies." if synthetic else "")
        + f"\n\n{hgq_line}."))
    setup = [f"- {n}: {r['label']}; CPU budgets per method: "
             f"{', '.join(f'**{c:g} CPU-s**' for c in r['budgets'])}" for n, r in results.items()]
    setup += [
        f"- budget `{args.budget}`: {budget['epochs']} epoch(s) per autoq trial, {budget['float_epochs']} for the "
        f"float model and for AutoQKeras's re-training; {n_boot} bootstrap resamples; total run {total:.0f} s wall; "
        f"load average (1/5/15 min) at the start {load_start}, at the end {load()}; each method's at its start is in "
        "its table row",
        "- equal process CPU-seconds: each method runs in this process alone (one after the other) and is charged "
        "`time.process_time()` (every thread of the process, TensorFlow's pools included) plus its finished "
        "children's CPU (`getrusage(RUSAGE_CHILDREN)`), from its first trial or the strategy's own work (Hessian "
        "traces, learned bits) on; once the budget is spent no new trial starts and the running one finishes, so "
        "'CPU-s used' can exceed the budget by up to one trial. CPU seconds, not wall seconds: the machine is shared. "
        "The float model and the uniform baselines are trained once, before the first autoq search's clock starts, "
        "and are not charged to any method; measuring the models afterwards is not charged either",
        f"- methods run (--methods): {', '.join(args.methods)}"
        + ("" if set(args.methods) == set(METHODS) else f"; not run: {', '.join(m for m in METHODS if m not in args.methods)}"),
        f"- autoq strategies: {', '.join(AUTOQ_ALGORITHMS)} (every strategy in autoq.searching.strategies); goal "
        "energy (forgiving factor, delta 8 %, rate 2), trials start from the float weights; space: the paper's "
        "(configs/jets-generated.yaml) for jets, configs/digits.yaml's for digits",
        f"- {INPUT_METHOD}: the same hessian search, with `space.input_quantizer` searched instead of fixed (as HGQ "
        "learns its input bits): " + "; ".join(f"{n}: {', '.join(f'`{q}`' for q in v)}"
                                               for n, v in SEARCHED_INPUT.items()),
        f"- {GRANULARITY_METHOD}: the gradient strategy with `space.granularity: weight` (a width per weight, 0-bit "
        "pruning, the input's bits learned too (`space.input_quantizer` listed as for the hessian variant above, as "
        "HGQ learns its input's bits), learned in one training with a beta schedule; every epoch on the validation "
        "front kept, up to 24 spread along it tuned with their widths fixed, then "
        + ("no children (`--children 0`, `search.children: 0`)" if args.children == 0 else
           f"up to {24 if args.children is None else args.children} children at weight granularity "
           f"(`fine_evolution`, `--children {'auto' if args.children is None else args.children}`)")
        + "): its `search.learn_epochs` and the tuning of the candidates and "
        f"children fill {FINE_SHARE:.0%} of its CPU budget at a per-epoch CPU cost measured before its clock starts (epochs 3-8 of an 8-epoch run, not charged; "
        + ("; ".join(f"{n} at {c} CPU-s: {f['learn_epochs']} epochs at {f['cpu_per_epoch']:.3f} CPU-s each"
                     for n, r in results.items() for c, f in r["fine"].items()) or "not run") + ")",
        f"- {CHANNEL_METHOD}: the hessian strategy with `space.granularity: channel` (each per-layer allocation "
        "refined per output channel, pruning-aware, each candidate trained with its widths fixed and evaluated as "
        "learned; then children at channel granularity), the input searched as for the hessian variant above",
        "- AutoQKeras protocol: autoq's random search with the forgiving-factor energy score for 60 % of the CPU "
        "budget, then the best-scoring quantization re-trained from scratch (fresh initial weights, float epochs, "
        "early stopping) as AutoQKeras's documented workflow does; charged the search's and the re-training's CPU",
        f"- HGQ (hgq==0.2.6, HGQ v1) as its authors run it: HQuantize + HDense per Dense (float weights copied in, "
        f"default quantizer configs), ONE training with beta ramped on a log scale from {HGQ_BETA[0]:g} to "
        f"{HGQ_BETA[1]:g} over the CPU budget (by the CPU seconds spent, so the ramp spans any budget), ResetMinMax + "
        "FreeBOPs callbacks, every epoch's model kept while it is on the validation front of (val accuracy, HGQ's "
        "BOPs) (the authors' Pareto-front checkpoints); each kept model then traced on the training set "
        "(`trace_minmax`) and measured through its proxy model (`to_proxy_model`, SAT overflow: the arithmetic "
        "hls4ml converts; the HGQ model's own test accuracy and hgq's own EBOPs count are in the .json)",
        "- uniform Q4/Q6/Q8: the whole model at n bits (jets: quantized_bits(n,0,alpha=1) + quantized_relu(n); "
        "digits: configs/digits.yaml's pattern), trained from the float weights for the trial epochs; float: the "
        "float model",
        f"- EBOPs: {EBOPS_DEFINITION}",
        "- LUT and DSP: autoq's resource estimate (`autoq.cost.estimate.estimate`; a constant multiply costs the "
        "bits the weight uses), of the QKeras model for autoq/AutoQKeras/uniform/float; for HGQ of a stand-in built "
        "from HGQ's own layer precisions (its quantized kernel with its zeros, the widest input/activation per "
        "layer). An estimate, not synthesis",
        "- energy: QTools (45 nm Horowitz, autoq's accounting) for QKeras models; HGQ's are not QKeras: '-'",
        "- fronts selected on validation, scored on test: each method's models on its validation front of (val "
        "accuracy, cost); the hypervolume is of those models' (test accuracy, cost) with reference point (float "
        f"test accuracy - {HV_ACC_WINDOW:.2f}, uniform Q8's cost); linear cost axis: cost / Q8's; log cost axis: "
        f"1 + log10(cost / Q8's) / {LOG_DECADES} (so {LOG_DECADES} decades below Q8 span the axis). Ratios to HGQ "
        "with a 90 % paired bootstrap interval (the same resampled test samples score both fronts)",
        "- cheapest within 1 point of float: the cheapest model (EBOPs) whose VALIDATION accuracy is within 0.01 of "
        "the float model's; its test accuracy is reported",
        "- autoq's best strategy (headline): the autoq strategy with the largest (accuracy, log EBOPs) hypervolume",
    ] + environment()
    sections.append(("Setup", "\n".join(setup)))

    def ci(v):
        return f"{v[0]:.2f}-{v[1]:.2f}" if v else None

    def top_ci(t):
        d, c = t.get("top_diff"), t.get("top_diff_ci")
        return None if d is None else f"{d:+.4f}" + (f" ({c[0]:+.4f} to {c[1]:+.4f})" if c else "")
    for name, res in results.items():
        rows = []
        for cpu, table in res["tables"].items():
            for t in table:
                c = t["cheap"] or {}
                rows.append([t["method"], f"{cpu:g}", round(t["cpu"], 1), t["load"], t["models"], t["front"],
                             t["top_acc"], top_ci(t), t["hv_lin"], t["hv_log"], t.get("log_ratio"),
                             ci(t.get("log_ci")),
                             t["hv_lut_dsp"], c.get("trial"), c.get("test_acc"), c.get("ebops"), c.get("luts"),
                             c.get("dsps"), c.get("energy")])
        txt = md_table(["method", "CPU-s budget", "CPU-s used", "load at start", "models", "val front",
                        "top test acc", "top - HGQ's (90 % CI)", "HV (acc, EBOPs), linear", "HV (acc, EBOPs), log", "log HV / HGQ",
                        "90 % CI", "HV (acc, LUT+DSP)", "cheapest within 1 pt of float (val)", "its test acc",
                        "its EBOPs", "its LUTs", "its DSPs", "its energy pJ"], rows)
        brows = [[bn, b["val_acc"], b["test_acc"], b.get("ebops"), b.get("luts"), b.get("dsps"), b.get("energy")]
                 for bn, b in res["baselines"].items()]
        txt += ("\n\nBaselines (float: its float32 weights on 16-bit inputs; LUT/DSP as hls4ml's default 16-bit):\n\n"
                + md_table(["model", "val acc", "test acc", "EBOPs", "LUTs", "DSPs", "energy pJ"], brows))
        fr = []
        for cpu, fronts in res["fronts"].items():
            for m, by_key in fronts.items():
                pts = sorted(by_key["ebops"], key=lambda r: r["ebops"])
                fr.append(f"- {m} ({cpu:g} CPU-s), validation front, test accuracy @ EBOPs: "
                          + (", ".join(f"{r['test_acc']:.4f} @ {r['ebops']:.4g}" for r in pts) or "n/a"))
        txt += "\n\nFronts:\n\n" + "\n".join(fr)
        txt += "\n\n" + "\n".join(f"- {n}" for n in res["notes"])
        txt += "\n- hls4ml bit-exactness of an HGQ model: " + (res["hls_check"] or (
            "not checked at this budget (--budget ci/full checks the most accurate HGQ model)" if hgq else
            "n/a (no HGQ)"))
        sections.append((f"Results: {res['label_short']}", txt))
    sections.append(("Plot", "![fronts](bench_peers.png)"))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    plot(out / "bench_peers.png", results, f"{tag}peers at equal process CPU-seconds, {args.budget} budget "
                                           "(validation fronts; stars: baselines)")
    figures["hgq"] = hgq_line
    figures["load"] = {"start": load_start, "end": load()}
    detail = {n: {"label": r["label"], "baselines": {b: _clean(v) for b, v in r["baselines"].items()},
                  "budgets": {f"{cpu:g}": {m: {"cpu": d["cpu"], "load": d["load"],
                                               "models": [_clean(x) for x in d["rows"]]}
                                           for m, d in b["methods"].items()} for cpu, b in r["budgets"].items()},
                  "notes": r["notes"], "hls_check": r["hls_check"], "fine": r["fine"]}
              for n, r in results.items()}
    write_md(out, "bench_peers", f"{tag}Peers: autoq vs AutoQKeras, HGQ and uniform quantization at equal process "
                                 "CPU-seconds", sections, figures={**figures, "detail": detail})


if __name__ == "__main__":
    main()
