"""Peers: autoq's search algorithms vs the AutoQKeras protocol, HGQ and uniform Q4/Q6/Q8 at equal wall-clock budget.

On the GENERATED jets (Pythia 8 + FastJet, `autoq data make-jets`; NOT the OpenML set hls4ml_lhc_jets_hlf) with the
paper's jet tagger and quantizer space, and on scikit-learn's digits (configs/digits.yaml), each method gets the same
seconds of search. Every model is measured with the same yardsticks: test accuracy, effective bit operations (BOPs,
zero weights excluded), autoq's resource estimate (LUTs and DSPs apart), QTools energy (QKeras models) and wall
time. Fronts and hypervolumes of (accuracy, BOPs) and (accuracy, LUT+DSP); the cheapest model within 1 point of
float per method; the headline ratios of autoq's best strategy vs HGQ and vs uniform Q6.

    python benchmarks/bench_peers.py --budget ci --data jets_generated.npz
"""
from __future__ import annotations

import json
import sys
import tempfile
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, environment, front_panel, md_table, parser, ratio, write_md  # noqa: E402

# ---- autoq internals: the package layout is being reorganised (sub-packages); adjust only this block at merge
from autoq.cost import layer_costs, model_cost  # noqa: E402
from autoq.cost.estimate import estimate  # noqa: E402
from autoq.data import from_arrays  # noqa: E402
from autoq.data.jets import is_generated, jets_splits, load_jets, make_synthetic_jets  # noqa: E402
from autoq.searching import strategies  # noqa: E402
from autoq.searching.fronts import hypervolume, pareto_points  # noqa: E402
from autoq.searching.result import load_model  # noqa: E402
from autoq.searching.run import run_search  # noqa: E402
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

#: per budget: jets to generate when no --data is given, epochs per trial / per HGQ beta, float epochs, and the
#: seconds every method gets on each dataset; tiny (the test suite's smoke run) also caps the trials at 4, so that
#: the gradient strategy learns 2 betas, not 8 (its ramp took 45-50 s per dataset there, then no trial fitted in
#: its 3-4 s)
PEERS_BUDGET = {
    "tiny": {"n_jets": 400, "epochs": 1, "float_epochs": 3, "seconds": {"jets": 4, "digits": 3}, "hls_check": False,
             "max_trials": 4},
    "ci": {"n_jets": 4000, "epochs": 3, "float_epochs": 15, "seconds": {"jets": 75, "digits": 30}, "hls_check": True},
    "full": {"n_jets": 20000, "epochs": 10, "float_epochs": 30, "seconds": {"jets": 900, "digits": 300},
             "hls_check": True},
}


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
BOPS_DEFINITION = (
    "effective BOPs = sum over the Dense layers' multiplications whose (quantized) weight is not zero of "
    "(weight bits x input-activation bits). QKeras models: the weight bits are the kernel quantizer's width (ternary "
    "2), the input bits the width of the quantizer that produced the layer's input (the input quantizer for the "
    "first layer; 32 where nothing quantizes, i.e. the float model); HGQ models: each weight's and each input's own "
    "bit width after HGQ's trace of the training set (`kernel_bw_exact`, `input_bw_exact`), i.e. HGQ's "
    "`compute_exact_bops`. Biases, accumulators and activations are not counted.")


def qkeras_ebops(model) -> float:
    import numpy as np
    layers = {l.name: l for l in model.layers}
    total = 0.0
    for row in layer_costs(model):
        if not row.macs:
            continue
        layer = layers[row.name]
        k = np.asarray(layer.get_weights()[0], dtype="float32")
        q = getattr(layer, "kernel_quantizer_internal", None)
        if q is not None:
            k = np.asarray(q(k))
        total += float(np.count_nonzero(k)) * row.kernel_bits * row.input_bits
    return total


def resources(model) -> dict:
    """autoq's resource estimate (autoq.cost.estimate.estimate, the same one the search and `autoq report` use)."""
    try:
        e = estimate(model)
    except Exception:  # noqa: BLE001 - a model the estimate cannot price is left out of the LUT+DSP panels
        return {}
    return {"luts": float(e.luts), "dsps": float(e.dsps), "lut_dsp": float(e.lut_plus_dsp)}


def test_accuracy(model, data) -> float:
    import numpy as np
    pred = model.predict(data.x_test, batch_size=2048, verbose=0)
    return float(np.mean(np.argmax(pred, -1) == np.argmax(data.y_test, -1)))


def measure_qkeras(model, data, energy=None) -> dict:
    if energy is None:
        try:
            energy = model_cost(model).energy
        except Exception:  # noqa: BLE001
            energy = None
    return {"test_acc": test_accuracy(model, data), "bops": qkeras_ebops(model), "energy": energy,
            **resources(model)}


# =============================================================================================== autoq runs
class _Deadline:
    """autoq's log callback: the clock starts when the first trial starts; once ``seconds`` are spent no new trial
    starts (the one running finishes), by interrupting the search at the next trial's start."""

    def __init__(self, seconds):
        self.seconds, self.start, self.stopped = seconds, None, False

    def __call__(self, msg="", *a, **k):
        msg = str(msg)
        # the clock starts with a strategy's own work before its trials (learned bits, Hessian traces) or the first
        # trial, whichever comes first
        if (msg.startswith("[autoq] trial ") and " starts" in msg) or msg.startswith(STRATEGY_WORK):
            now = time.perf_counter()
            if self.start is None:
                self.start = now
            elif now - self.start >= self.seconds and not msg.startswith(STRATEGY_WORK):
                self.stopped = True
                raise KeyboardInterrupt


def run_autoq(name, data, float_model, algorithm, seconds, budget, seed, out, baselines=False, input_quantizer=None):
    """One autoq search under the time budget; returns (records, baselines, float_model, wall seconds)."""
    cfg = dataset_config(name, budget, algorithm, seed, baselines)
    if input_quantizer is not None:
        cfg["space"]["input_quantizer"] = input_quantizer
    dl = _Deadline(seconds)
    try:
        run_search(model=float_model, data=data, config=cfg, output_dir=out, verbose=False, log=dl,
                                overwrite=True)
    except Interrupted:
        pass
    wall = time.perf_counter() - dl.start if dl.start else 0.0
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
    return recs, base, wall


def measure_records(recs, out, data):
    rows = []
    for r in recs:
        m = load_model(Path(out) / r["model"])
        rows.append({"trial": r["trial"], **measure_qkeras(m, data, r.get("energy")),
                     "choice": r.get("choice")})
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


def beta_order(lo=-7.0, hi=-3.5, n=16):
    """Betas as a bisection of [10^lo, 10^hi] (log scale): a sweep cut short by the clock still spans the range."""
    pts, seen, levels = [], set(), [(lo, hi)]
    pts += [hi, lo]
    while levels and len(pts) < n:
        nxt = []
        for a, b in levels:
            m = (a + b) / 2
            pts.append(m)
            nxt += [(a, m), (m, b)]
        levels = nxt
    out = []
    for p in pts:
        v = float(f"{10 ** p:.2g}")
        if v not in seen:
            seen.add(v)
            out.append(v)
    return out[:n]


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


def hgq_ebops(model) -> float:
    import numpy as np
    total = 0.0
    for l in model.layers:
        if type(l).__name__ == "HDense":
            k = np.asarray(l.fused_qkernel)
            kbw = np.asarray(l.kernel_bw_exact) * (k != 0)
            ibw = np.asarray(l.input_bw_exact).reshape(-1)
            total += float(np.sum(ibw[:, None] * kbw))
    return total


def run_hgq(HGQ, name, data, float_model, seconds, budget, seed):
    """A sweep of HGQ's beta (bisected log range), each trained ``epochs`` from the float weights; no new beta starts
    once ``seconds`` are spent."""
    import tensorflow as tf
    import yaml
    t = yaml.safe_load((ROOT / "configs" / ("jets-generated.yaml" if name == "jets" else "digits.yaml"))
                       .read_text())["train"]
    rows, t0 = [], time.perf_counter()
    for i, beta in enumerate(beta_order()):
        if time.perf_counter() - t0 >= seconds:
            break
        tf.keras.backend.clear_session()
        tf.keras.utils.set_random_seed(seed + i)
        m = hgq_model(HGQ, float_model, beta)
        m.compile(optimizer=tf.keras.optimizers.Adam(t["learning_rate"]), loss="categorical_crossentropy",
                  metrics=["accuracy"])
        m.fit(data.x_train, data.y_train, validation_data=(data.x_val, data.y_val), epochs=budget["epochs"],
              batch_size=t["batch_size"], verbose=0, callbacks=[HGQ.ResetMinMax(), HGQ.FreeBOPs()])
        HGQ.trace_minmax(m, data.x_train, bsz=4096, verbose=False)
        proxy = HGQ.to_proxy_model(m, aggressive=False)  # what hls4ml converts: its accuracy is the firmware's
        rows.append({"trial": f"beta={beta:g}", "beta": beta, "test_acc": test_accuracy(proxy, data),
                     "hgq_model_test_acc": test_accuracy(m, data), "bops": hgq_ebops(m), "energy": None,
                     **resources(hgq_resource_standin(m)), "_model": m})
    return rows, time.perf_counter() - t0


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
    import tensorflow as tf
    seconds = budget["seconds"][name]
    methods, notes = {}, []
    float_model, base, first = None, {}, True
    for algo in AUTOQ_ALGORITHMS:
        out = Path(workdir) / name / algo
        print(f"[bench] {name}: autoq {algo}, {seconds} s ...", flush=True)
        seed = args.seed + AUTOQ_ALGORITHMS.index(algo)
        recs, b, wall = run_autoq(name, data, float_model, algo, seconds, budget, seed, out, baselines=first)
        if first:
            float_model = load_model(out / "float_model.h5")
            base = {"float": {"trial": "float", **measure_qkeras(float_model, data, None)}}
            for bn in (f"Q{u}" for u in UNIFORM):
                if bn in b and b[bn].get("model"):
                    base[bn] = {"trial": bn, **measure_qkeras(load_model(out / b[bn]["model"]), data,
                                                              b[bn].get("energy"))}
            first = False
        methods[f"autoq {algo}"] = {"rows": measure_records(recs, out, data), "wall": wall}
    out = Path(workdir) / name / "hessian-input"
    print(f"[bench] {name}: {INPUT_METHOD}, {seconds} s ...", flush=True)
    recs, _, wall = run_autoq(name, data, float_model, "hessian", seconds, budget, args.seed + 23, out,
                              input_quantizer=SEARCHED_INPUT[name])
    methods[INPUT_METHOD] = {"rows": measure_records(recs, out, data), "wall": wall}
    # ---- AutoQKeras: the class itself, then its protocol
    aqk_line = try_autoqkeras_class(tf.keras.models.clone_model(float_model), data, workdir)
    notes.append(f"QKeras's own `AutoQKeras` class (qkeras.autoqkeras, random mode) on this stack: {aqk_line}")
    print(f"[bench] {name}: AutoQKeras protocol ...", flush=True)
    t0 = time.perf_counter()
    out = Path(workdir) / name / "aqk"
    recs, _, _ = run_autoq(name, data, float_model, "random", 0.6 * seconds, budget, args.seed + 17, out)
    rows = measure_records(recs, out, data)
    if recs:
        best = max(recs, key=lambda r: r["score"])
        q = retrain_from_scratch(name, data, float_model, best["choice"], budget, args.seed + 17)
        rows.append({"trial": f"{best['trial']} re-trained", **measure_qkeras(q, data), "retrained": True})
    methods["AutoQKeras protocol"] = {"rows": rows, "wall": time.perf_counter() - t0}
    # ---- HGQ
    hls_line = None
    if hgq is not None:
        print(f"[bench] {name}: HGQ beta sweep ...", flush=True)
        hrows, wall = run_hgq(hgq, name, data, float_model, seconds, budget, args.seed)
        if budget["hls_check"] and hrows:
            top = max(hrows, key=lambda r: r["test_acc"])
            hls_line = f"{top['trial']}: " + hgq_hls_check(hgq, top["_model"], data, workdir)
        for r in hrows:
            r.pop("_model", None)
        methods["HGQ"] = {"rows": hrows, "wall": wall}
    return {"methods": methods, "baselines": base, "notes": notes, "hls_check": hls_line, "seconds": seconds}


# =============================================================================================== analysis
def front(rows, key):
    pts = [(r["test_acc"], r[key]) for r in rows if r.get(key) is not None]
    return pareto_points(pts) if pts else []


def analyse(res):
    base = res["baselines"]
    fl = base["float"]["test_acc"]
    acc_ref = fl - HV_ACC_WINDOW
    q8 = base.get("Q8", {})
    table, fronts = [], {}
    for m, d in res["methods"].items():
        rows = d["rows"]
        hv = {}
        for key in ("bops", "lut_dsp"):
            ref = q8.get(key)
            pts = [(r["test_acc"], r[key] / ref) for r in rows if r.get(key) is not None] if ref else []
            hv[key] = hypervolume(pts, (acc_ref, 1.0)) if pts else None
            fronts[(m, key)] = front(rows, key)
        ok = [r for r in rows if r["test_acc"] >= fl - 0.01]
        cheap = min(ok, key=lambda r: r["bops"]) if ok else None
        best = max(rows, key=lambda r: r["test_acc"]) if rows else None
        table.append({"method": m, "models": len(rows), "wall": d["wall"], "best_acc": best and best["test_acc"],
                      "hv_bops": hv["bops"], "hv_lut_dsp": hv["lut_dsp"], "cheap": cheap})
    return table, fronts


def headline_ratios(name, res, table):
    by = {t["method"]: t for t in table}
    autoq_rows = [t for t in table if t["method"].startswith("autoq ")]
    best = max(autoq_rows, key=lambda t: t["hv_bops"] or 0.0)
    h = by.get("HGQ")
    q6 = res["baselines"].get("Q6", {})
    fig = {"autoq_best_strategy": best["method"],
           "hv_ratio_bops_vs_hgq": ratio(best["hv_bops"], h["hv_bops"]) if h else None,
           "hv_ratio_lut_dsp_vs_hgq": ratio(best["hv_lut_dsp"], h["hv_lut_dsp"]) if h else None,
           "cheapest_within_1pt_bops": best["cheap"]["bops"] if best["cheap"] else None,
           "q6_bops": q6.get("bops"),
           "cheapest_within_1pt_over_q6_bops": ratio(best["cheap"]["bops"], q6.get("bops")) if best["cheap"] else None}
    def f(v, fmt="{:.3g}"):
        return fmt.format(v) if v is not None else "n/a"
    hv_b, hv_l = fig["hv_ratio_bops_vs_hgq"], fig["hv_ratio_lut_dsp_vs_hgq"]
    c = fig["cheapest_within_1pt_over_q6_bops"]
    text = (f"**{name}**: autoq's best strategy ({best['method']}, by hypervolume of (accuracy, BOPs)) vs HGQ: "
            f"hypervolume ratio **{f(hv_b)}** on (accuracy, BOPs) and **{f(hv_l)}** on (accuracy, LUT+DSP) "
            f"(target of issue #16: >= 1.0; " +
            ("HGQ not run" if h is None else ("met" if (hv_b or 0) >= 1 and (hv_l or 0) >= 1 else "NOT met")) +
            "); its cheapest model within 1 point of float costs "
            + (f"{fig['cheapest_within_1pt_bops']:.4g} BOPs = **{f(c)}x** uniform Q6's {q6.get('bops', 0):.4g} "
               f"(target: <= 0.2; {'met' if c is not None and c <= 0.2 else 'NOT met'})"
               if best["cheap"] else "n/a (no model within 1 point of float)") + ".")
    return text, fig


def plot(path, results, title):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    names = list(results)
    fig, axes = plt.subplots(2, len(names), figsize=(6.5 * len(names), 9), squeeze=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for j, name in enumerate(names):
        res = results[name]
        for i, (key, label) in enumerate((("bops", "effective BOPs (zero weights excluded)"),
                                          ("lut_dsp", "estimated LUT + DSP (autoq.cost.estimate.estimate)"))):
            ax = axes[i][j]
            runs = {m: (d["rows"], colors[k % len(colors)]) for k, (m, d) in enumerate(res["methods"].items())}
            front_panel(ax, runs, res["baselines"], key, "test_acc")
            ax.set_xscale("log")
            ax.set_xlabel(label)
            ax.set_ylabel("test accuracy")
            ax.set_title(res["label_short"], fontsize=10)
            ax.grid(alpha=0.3, which="both")
            ax.legend(fontsize=7, loc="lower right")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


# =============================================================================================== main
def main(argv=None):
    p = parser(__doc__.split("\n")[0])
    p.add_argument("--seconds", type=float, default=None,
                   help="seconds of search per method and dataset (default: the budget's)")
    p.add_argument("--datasets", default="jets,digits", help="comma-separated: jets, digits")
    args = p.parse_args(argv)
    budget = json.loads(json.dumps(PEERS_BUDGET[args.budget]))
    if args.seconds:
        budget["seconds"] = {k: args.seconds for k in budget["seconds"]}
    hgq, hgq_line = hgq_status()
    results, t_all = {}, time.perf_counter()
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
        table, fronts = analyse(res)
        text, fig = headline_ratios(name, res, table)
        heads.append(text)
        figures[name] = fig
        res["table"], res["fronts"] = table, fronts
    synthetic = any(r["label"].startswith("SYNTHETIC") for r in results.values())
    tag = "SYNTHETIC " if synthetic else ""
    sections.append(("Headline", "\n\n".join(heads) + (
        "\n\nThe jets here are SYNTHETIC (no Pythia/FastJet on this machine): not jet accuracies." if synthetic else "")
        + f"\n\n{hgq_line}."))
    setup = [f"- {n}: {r['label']}; each method's search budget **{r['seconds']:g} s**" for n, r in results.items()]
    setup += [
        f"- budget `{args.budget}`: {budget['epochs']} epoch(s) per autoq trial and per HGQ beta, "
        f"{budget['float_epochs']} for the float model and for AutoQKeras's re-training; total run {total:.0f} s",
        "- equal wall clock: each method's clock starts when its first trial (HGQ: first beta) starts; once its "
        "seconds are spent no new trial/beta starts and the running one finishes, so the wall column can exceed the "
        "budget by up to one trial. The float model and the uniform baselines are trained once (before the first "
        "autoq search's clock starts) and are not charged to any method",
        f"- autoq strategies: {', '.join(AUTOQ_ALGORITHMS)} (`AUTOQ_ALGORITHMS`: every strategy in autoq.searching.strategies); "
        "goal energy (forgiving factor, delta 8 %, rate 2), trials start from the float weights; hyperband sizes its "
        "own brackets (autoq: max_epochs = the trial epochs, one iteration), so it can end before its seconds; "
        "space: the paper's "
        "(configs/jets-generated.yaml) for jets, configs/digits.yaml's for digits",
        f"- {INPUT_METHOD}: the same hessian search, with `space.input_quantizer` searched instead of fixed (as HGQ "
        "learns its input bits; the paper's space fixes it): "
        + "; ".join(f"{n}: {', '.join(f'`{q}`' for q in v)}" for n, v in SEARCHED_INPUT.items()),
        "- AutoQKeras protocol: autoq's random search with the forgiving-factor energy score for 60 % of the "
        "seconds, then the best-scoring quantization re-trained from scratch (fresh initial weights, float epochs, "
        "early stopping) as AutoQKeras's documented workflow does; its front holds the search's trials and the "
        "re-trained model",
        f"- HGQ (hgq==0.2.6, HGQ v1): HQuantize + HDense per Dense (float weights copied in, default quantizer "
        f"configs), a sweep of beta over {', '.join(f'{b:g}' for b in beta_order()[:6])}, ... (bisection of "
        "[1e-7, 3e-4] on a log scale, in that order), ResetMinMax + FreeBOPs callbacks, then `trace_minmax` on the "
        "training set; one model per beta; its test accuracy is its proxy model's (`to_proxy_model`, SAT overflow: "
        "the arithmetic hls4ml converts; the HGQ model's own is in the .json)",
        "- uniform Q4/Q6/Q8: the whole model at n bits (jets: quantized_bits(n,0,alpha=1) + quantized_relu(n); "
        "digits: configs/digits.yaml's pattern), trained from the float weights for the trial epochs; float: the "
        "float model",
        f"- BOPs: {BOPS_DEFINITION}",
        "- LUT and DSP: autoq's resource estimate (`autoq.cost.estimate.estimate`, the search's and `autoq report`'s), of "
        "the QKeras model for autoq/AutoQKeras/uniform/float; for HGQ of a stand-in built from HGQ's own layer "
        "precisions (per layer: the widest non-zero weight and the widest input/activation, HGQ's quantized kernel "
        "with its zeros), i.e. the per-layer types hls4ml gives HGQ's proxy model. An estimate, not synthesis. "
        "LUT+DSP counts a DSP as one unit (as autoq's `fpga` goal does): products with an operand of 10 bits or "
        "more go to DSPs, so wide models (the float one at hls4ml's 16 bits, HGQ layers with a wide input) look "
        "cheap on that axis; the LUT and DSP columns give both",
        "- energy: QTools (45 nm Horowitz, autoq's accounting) for QKeras models; HGQ's are not QKeras: '-'",
        f"- hypervolume: of (test accuracy, cost / uniform Q8's cost) with reference point (float test accuracy - "
        f"{HV_ACC_WINDOW:.2f}, 1.0), per dataset; larger is better. Fronts are on test accuracy (the same for every "
        "method)",
        "- autoq's best strategy (headline): the autoq strategy with the largest (accuracy, BOPs) hypervolume",
    ] + environment()
    sections.append(("Setup", "\n".join(setup)))
    for name, res in results.items():
        rows = []
        for t in res["table"]:
            c = t["cheap"] or {}
            rows.append([t["method"], t["models"], t["wall"], t["best_acc"], t["hv_bops"], t["hv_lut_dsp"],
                         c.get("trial"), c.get("test_acc"), c.get("bops"), c.get("luts"), c.get("dsps"),
                         c.get("energy")])
        txt = md_table(["method", "models", "wall s", "best test acc", "HV (acc, BOPs)", "HV (acc, LUT+DSP)",
                        "cheapest within 1 pt of float", "its test acc", "its BOPs", "its LUTs", "its DSPs",
                        "its energy pJ"], rows)
        brows = [[bn, b["test_acc"], b.get("bops"), b.get("luts"), b.get("dsps"), b.get("energy")]
                 for bn, b in res["baselines"].items()]
        txt += "\n\nBaselines (float: test accuracy; BOPs at 32 x 32 bits; LUT/DSP as hls4ml's default 16-bit):\n\n" \
            + md_table(["model", "test acc", "BOPs", "LUTs", "DSPs", "energy pJ"], brows)
        fr = []
        for (m, key), pts in res["fronts"].items():
            fr.append(f"- {m}, accuracy vs {key}: " + (", ".join(f"{a:.4f} @ {c:.4g}" for a, c in pts) or "n/a"))
        txt += "\n\nFronts (test accuracy @ cost):\n\n" + "\n".join(fr)
        txt += "\n\n" + "\n".join(f"- {n}" for n in res["notes"])
        txt += "\n- hls4ml bit-exactness of an HGQ model: " + (res["hls_check"] or (
            "not checked at this budget (--budget ci/full checks the most accurate HGQ model)" if hgq else
            "n/a (no HGQ)"))
        sections.append((f"Results: {res['label_short']}", txt))
    sections.append(("Plot", "![fronts](bench_peers.png)"))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    plot(out / "bench_peers.png", results, f"{tag}peers at equal wall clock, {args.budget} budget (stars: baselines)")
    figures["hgq"] = hgq_line
    detail = {n: {"label": r["label"], "seconds": r["seconds"], "baselines": r["baselines"],
                  "methods": {m: {"wall": d["wall"], "models": [{k: v for k, v in x.items() if k != "choice"}
                                                               for x in d["rows"]]}
                              for m, d in r["methods"].items()}, "notes": r["notes"], "hls_check": r["hls_check"]}
              for n, r in results.items()}
    write_md(out, "bench_peers", f"{tag}Peers: autoq vs AutoQKeras, HGQ and uniform quantization at equal wall clock",
             sections, figures={**figures, "detail": detail})


if __name__ == "__main__":
    main()
