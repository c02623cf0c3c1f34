"""keras-tuner glue: run trials, keep the weights of the best and Pareto trials, resume, summarise.

One trial = build the QKeras model for the oracle's choice from the float model (float weights copied in as the
start point), train with early stopping, score validation accuracy x forgiving factor of the cost. Unlike
AutoQKeras, each trial's trained model is saved, so the winner needs no retraining.
"""
from __future__ import annotations

import math
import os
import platform
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import cost as costs
from . import keras_env
from . import quantizers
from .config import Config, config_from_dict, load_config
from .datasets import Dataset, as_dataset, load_dataset
from .errors import AutoqError, ConfigError, DataError, ResultsError
from .results import ResultStore, atomic_copy, atomic_save_model, atomic_write_json, front_points, plot_pareto

REFERENCE_Q16 = ("quantized_bits(16,6,alpha=1)", "quantized_bits(16,6,alpha=1)", "quantized_relu(16,6)")
DIGEST_IGNORES = ("max_trials", "output_dir", "max_failed_trials")
KT_SEED_FOR_ZERO = 1_000_003  # keras-tuner reads seed 0 as "no seed" (``seed or random.randint``)


VERSIONED = ("autoq", "tensorflow", "keras", "qkeras", "hls4ml", "keras-tuner", "numpy", "scikit-learn",
             "tensorflow-model-optimization", "pyyaml", "pyparsing", "matplotlib", "grpcio", "protobuf", "h5py",
             "scipy", "pandas")


def _git_revision() -> str | None:
    """``<commit>[+dirty]`` of the autoq checkout when it runs from a git working tree (editable install)."""
    import subprocess
    root = Path(__file__).resolve().parent.parent
    if not (root / ".git").exists():
        return None
    try:
        rev = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no", "--",
                                "autoq"], capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return (rev + ("+dirty" if dirty else "")) or None


def versions() -> dict:
    """Versions of everything that decides a search's numbers: Python, platform, autoq (and its git commit when
    run from a checkout), and every installed requirement of autoq plus the libraries under them."""
    import re
    from importlib import metadata
    out = {"python": platform.python_version(), "platform": platform.platform()}
    pkgs = list(VERSIONED)
    try:
        for req in metadata.requires("autoq") or []:
            name = re.match(r"[A-Za-z0-9._-]+", req).group(0).lower()
            if "extra ==" not in req and name not in pkgs:
                pkgs.append(name)
    except metadata.PackageNotFoundError:
        pass
    for pkg in pkgs:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    out["autoq_git"] = _git_revision()
    return out


def config_digest(cfg: Config) -> str:
    """Digest of the settings that must match to resume (trial budget and output folder may change)."""
    import hashlib
    import json
    d = cfg.to_dict()
    for k in DIGEST_IGNORES:
        d["search"].pop(k, None)
    d.pop("hls4ml", None)
    return hashlib.sha256(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()[:16]


# ------------------------------------------------------------------------------------------ results object

@dataclass
class SearchResult:
    """A finished search: records of every trial, the Pareto front, baselines, and the winner on disk."""

    output_dir: Path
    summary: dict
    trials: list
    pareto: list
    baselines: dict
    cost_key: str = "energy"
    _best_model: object = field(default=None, repr=False)

    @property
    def best(self) -> dict:
        """The best-scoring trial's record."""
        return self.summary["best"]

    @property
    def best_model(self):
        """The winner (trained weights), loaded from ``best_model.h5``."""
        if self._best_model is None:
            self._best_model = load_model(self.output_dir / "best_model.h5")
        return self._best_model

    def pareto_models(self) -> dict:
        """Trial id -> path of the saved model of every Pareto-optimal trial."""
        return {r["trial"]: self.output_dir / r["model"] for r in self.pareto}

    @property
    def metric(self):
        """The goal metric (name, direction) the trials were scored on."""
        from .metrics import Metric
        return Metric(self.summary.get("metric", "accuracy"), self.summary.get("direction", "max"))

    def plot(self, cost: str | None = None, ax=None, path=None):
        """The goal metric vs cost with the Pareto front and baselines (a matplotlib Figure)."""
        return plot_pareto(self.trials, self.baselines, cost or self.cost_key, path=path, ax=ax,
                           title=plot_title(self.summary), metric=self.metric)

    def table(self) -> str:
        """Per-layer table of the winner."""
        return layer_table(self.best)

    def trials_frame(self):
        """Trials as a pandas DataFrame (pandas must be installed); ``.trials`` is the plain list."""
        import pandas as pd
        return pd.DataFrame([{k: v for k, v in r.items() if k != "layers"} for r in self.trials])

    def __repr__(self):
        b = self.best
        return (f"SearchResult({self.output_dir}, {len(self.trials)} trials, best trial {b['trial']}: "
                f"val {self.metric.name} {b['val_metric']:.4g}, {self.cost_key} {b[self.cost_key]:.4g})")


def plot_title(summary: dict) -> str:
    """``name: N trials (algorithm)``, and the data's name, marked SYNTHETIC for a stand-in."""
    data = (summary.get("dataset") or "").split(":")[0].split(" (")[0]
    return (f"{summary.get('name', '')}: {summary.get('trials', '?')} trials ({summary.get('algorithm', '')})"
            + (f" on {data}" if data else "") + (" - SYNTHETIC data" if summary.get("synthetic_data") else ""))


def load_model(path, trust: bool = False):
    """Load a saved autoq/QKeras model, refusing one that carries code (see :mod:`autoq.model_io`)."""
    from . import model_io
    path = Path(path)
    if not path.is_file():
        raise ResultsError(f"model file not found: {path}")
    return model_io.load(path, trust)


def load_result(output_dir) -> SearchResult:
    """Read a finished search back from its output directory."""
    import json
    out = Path(output_dir)
    p = out / "summary.json"
    if not p.is_file():
        state = "a search in progress or interrupted (run the same command again to resume)" \
            if (out / "state.json").is_file() else "not an autoq search directory"
        raise ResultsError(f"{out} has no summary.json: {state}")
    try:
        summary = json.loads(p.read_text())
        best_id = summary["best"]["trial"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ResultsError(f"{p} is unreadable ({type(exc).__name__}: {exc}); run the same autoq search command "
                           "again to write it anew") from None
    store = ResultStore(out)
    records = store.records()
    ids = set(summary.get("pareto", []))
    have = {r["trial"] for r in records}
    missing = [f"trials/{t}/record.json" for t in sorted(ids | {best_id}) if t not in have]
    missing += [name for name in ("best_model.h5", "float_model.h5") if not (out / name).is_file()]
    if missing:
        raise ResultsError(f"{out} is missing {', '.join(missing)} of the finished search; restore them, or run the "
                           "same autoq search command again to rebuild what can be rebuilt")
    return SearchResult(out, summary, records, [r for r in records if r["trial"] in ids],
                        summary.get("baselines", {}), summary.get("cost", "energy"))


def layer_table(record: dict) -> str:
    """Layer | kernel | bias | activation | params | bits | BOPs | energy share, from a trial record."""
    rows = record.get("layers", [])
    act_of = {r["name"]: r for r in rows if r["class_name"] == "QActivation"}
    total_e = sum(r["energy"] for r in rows) or 1.0
    head = ["layer", "kernel", "bias", "activation", "params", "bits", "BOPs", "energy pJ", "share"]
    names = {r["name"] for r in rows}
    lines = []
    for r in rows:
        if r["class_name"] == "QActivation" and r["name"].endswith("_relu") and r["name"][:-len("_relu")] in names:
            continue  # shown on its layer's row
        act = act_of.get(f"{r['name']}_relu")
        activation = act["activation"] if act else r.get("activation", "")
        energy = r["energy"] + (act["energy"] if act else 0.0)
        lines.append([r["name"], r.get("kernel", ""), r.get("bias", ""), activation, str(r.get("params", 0)),
                      str(r.get("bits", 0)), str(r.get("bops", 0)), f"{energy:.1f}", f"{100 * energy / total_e:.1f}%"])
    lines.append(["total", "", "", "", str(sum(r.get("params", 0) for r in rows)), str(record.get("bits")),
                  str(record.get("bops")), f"{record.get('energy', 0):.1f}", "100%"])
    widths = [max(len(h), *(len(l[i]) for l in lines)) for i, h in enumerate(head)]
    fmt = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths))  # noqa: E731
    return "\n".join([fmt(head), fmt(["-" * w for w in widths])] + [fmt(l) for l in lines])


# ------------------------------------------------------------------------------------------ the engine

def _fmt_time(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def short_choice(choice: dict) -> str:
    """A trial's choice in a few characters per layer: ``fc1 k4 b8 a4, fc2 kT b8`` (T ternary, B binary, p po2,
    q QIL; the number is the bit width)."""
    tag = {"ternary": "T", "stochastic_ternary": "T", "binary": "B", "stochastic_binary": "B"}
    out = []
    for layer, roles in choice.items():
        parts = []
        for role, text in roles.items():
            if role == "width":  # autoq.widths: the width factor
                parts.append(f"w{text:g}")
                continue
            try:
                spec = quantizers.parse(text)
                mark = tag.get(spec.name) or (("p" if "po2" in spec.name else "q" if spec.name == "qil" else "")
                                              + str(spec.bits))
            except AutoqError:
                mark = "?"
            parts.append(f"{role[0]}{mark}")
        out.append(f"{layer} {' '.join(parts)}")
    return ", ".join(out)


def _EpochLog(log, trial_id: str, epochs: int):
    """One line per epoch (``--verbose``)."""
    import tensorflow as tf

    class EpochLog(tf.keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.t0 = time.time()

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            vals = ", ".join(f"{k} {v:.4f}" for k, v in logs.items() if k in ("loss", "val_loss", "val_accuracy"))
            log(f"[autoq]   trial {trial_id} epoch {epoch + 1}/{epochs}: {vals} ({time.time() - self.t0:.1f} s)")

    return EpochLog()


def _StopOnNaN():
    """TerminateOnNaN without its print: the trial's record and progress line say what happened."""
    import tensorflow as tf

    class StopOnNaN(tf.keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            loss = (logs or {}).get("loss")
            if loss is not None and not math.isfinite(float(loss)):
                self.model.stop_training = True

    return StopOnNaN()


class Searcher:
    """Everything one search needs: config, data, float model, space, reference cost, output store."""

    def __init__(self, cfg: Config, float_model, data: Dataset, output_dir, log=print, trust_model: bool = False,
                 fingerprint: dict | None = None, epoch_lines: bool = False):
        self.cfg, self.float_model, self.data, self.log = cfg, float_model, data, log
        self.epoch_lines = epoch_lines
        from .metrics import Metric
        self.metric = Metric(cfg.goal.metric, cfg.goal.direction)
        self.energy = costs.EnergySettings.of(cfg.goal)
        from .heads import resolve_head
        self.head = resolve_head(float_model, cfg.goal.head, cfg.source)  # None: one output
        self.dataset_label = data.name + (" (SYNTHETIC)" if data.synthetic else "") + (
            f" [scored on output {self.head}]" if self.head else "")
        self.trust, self.fingerprint = trust_model, fingerprint
        self.store = ResultStore(output_dir)
        self.cost_key = cfg.goal.cost
        self.t0 = time.time()
        self.best_score = None
        self.state: dict = {}
        from .space import analyse
        self.space = analyse(float_model, cfg.space)
        from .widths import extend
        self.space = extend(self.space, float_model, cfg.space)  # space.widths: <layer>/width hyperparameters
        self.active = self.space  # the space trials choose from (a block's, with search.blocks)
        self.trial_prefix, self.partial, self.number_offset = "", False, 0

    # ---- preparation (idempotent: state.json + float_model.h5 make resumed runs and workers reuse it)
    def prepare(self, train_float: bool) -> dict:
        import json
        from .outdir import FRESH_HINT, model_digest, read_state
        state_path = self.store.dir / "state.json"
        state = read_state(self.store.dir)
        if state is not None:
            self.state = state
            path = self.store.dir / "float_model.h5"
            if not path.is_file():
                raise ResultsError(f"{path} is missing: every trial of this search starts from it; restore it, or "
                                   f"{FRESH_HINT}")
            self.float_model = load_model(path, self.trust)
            if state.get("float_model_digest") not in (None, model_digest(self.float_model)):
                raise ResultsError(f"{path} is not the float model this search trained (its weights changed); "
                                   f"restore it, or {FRESH_HINT}")
            self.log(f"[autoq] resuming {self.store.dir}: {len(self.store.records())} trial(s) on record")
            return self.state
        self.store.dir.mkdir(parents=True, exist_ok=True)
        import tensorflow as tf
        tf.keras.utils.set_random_seed(self.cfg.seed)
        t = time.time()
        if train_float:
            self.log(f"[autoq] training the float model for up to {self.cfg.train.float_epochs} epochs ...")
            # a patient float run: the float model is the start point and the yardstick of every trial
            self._fit(self.float_model, self.cfg.train.float_epochs,
                      patience=max(10, self.cfg.train.patience) if self.cfg.train.patience else 0)
        loss, acc = self._evaluate(self.float_model)
        m = self.metric.name
        if not (math.isfinite(loss) and math.isfinite(acc)):
            raise AutoqError(f"the float model's validation loss is {loss} after "
                             f"{'training' if train_float else 'loading'}: it diverged (train.learning_rate "
                             f"{self.cfg.train.learning_rate} too high?) or produces NaN; fix it before searching")
        _, test_acc = self._evaluate(self.float_model, "test")
        self.log(f"[autoq] float model: val {m} {acc:.4g}, test {m} {test_acc:.4g} ({time.time() - t:.1f} s)")
        atomic_save_model(self.float_model, self.store.dir / "float_model.h5")
        ref = self.reference_cost()
        self.log(f"[autoq] reference {self.cost_key}: {ref:.6g}" + (" (the float model priced as 16-bit fixed point)"
                                                                  if self.cfg.goal.reference == "float16" else ""))
        from .heads import sample
        np.savez_compressed(self.store.dir / "data_sample.npz", x_val=self.data.x_val[:2000],
                            **sample(self.data.y_val, 2000))
        baselines = {"float": {**self._metric_fields("val", acc), "val_loss": loss, self.cost_key: ref,
                               **{k: v for k, v in self.q16_costs.items()}}}
        for b in self.cfg.baselines:
            baselines[b.name] = self.run_baseline(b)
        from .outdir import model_digest
        self.state = {"config_digest": config_digest(self.cfg), "fingerprint": self.fingerprint,
                      "float_model_digest": model_digest(self.float_model),
                      "config": self.cfg.to_dict(), "seed": self.cfg.seed,
                      **self._metric_fields("float_val", acc), **self._metric_fields("float_test", test_acc),
                      "metric": m, "direction": self.metric.direction, "reference_cost": ref,
                      "cost": self.cost_key, "baselines": baselines, "versions": versions(),
                      "dataset": self.data.describe(), "synthetic_data": self.data.synthetic,
                      "space_size": self.space.size(), "started": time.strftime("%Y-%m-%dT%H:%M:%S")}
        atomic_write_json(state_path, self.state)
        return self.state

    def _metric_fields(self, prefix: str, value) -> dict:
        """``{prefix}_metric``, and ``{prefix}_accuracy`` too when the metric is accuracy (the names of earlier
        versions, kept for the files people already read)."""
        out = {f"{prefix}_metric": value}
        if self.metric.name == "accuracy":
            out[f"{prefix}_accuracy"] = value
        return out

    def reference_cost(self) -> float:
        """Cost of the reference (the float model as uniform 16-bit fixed point, or the configured number)."""
        from .space import build_qmodel
        k, b, a = REFERENCE_Q16
        ref_model = build_qmodel(self.float_model, self.space.uniform(k, b, a), self.space.input_quantizer,
                                 copy_weights=False, name="reference_q16")
        c = costs.model_cost(ref_model, energy=self.energy)
        self.q16_costs = {"energy": c.energy, "bits": c.bits, "bops": c.bops, "fpga": self._fpga(ref_model)}
        if self.cfg.goal.reference != "float16":
            return float(self.cfg.goal.reference) * self.cfg.goal.stress
        ref = self.q16_costs[self.cost_key]
        if ref is None:
            raise ConfigError(f"goal.cost {self.cost_key!r} needs autoq.reports (the FPGA estimate), not available")
        return float(ref) * self.cfg.goal.stress

    @staticmethod
    def _fpga(model):
        try:
            from .reports import estimate
        except ImportError:
            return None
        try:
            e = estimate(model)
            return float(e.lut_plus_dsp)
        except Exception:  # the estimate is informative; never fail a trial on it
            return None

    # ---- training
    def _optimizer(self):
        import tensorflow as tf
        name = self.cfg.train.optimizer.lower()
        cls = {"adam": tf.keras.optimizers.Adam, "sgd": tf.keras.optimizers.SGD,
               "rmsprop": tf.keras.optimizers.RMSprop, "adamw": tf.keras.optimizers.AdamW}[name]
        return cls(learning_rate=self.cfg.train.learning_rate)

    def _fit(self, model, epochs, initial_epoch=0, patience=None, label: str | None = None) -> dict:
        import tensorflow as tf
        t = self.cfg.train
        patience = t.patience if patience is None else patience
        classes = self.data.task == "classification" and self.head is None  # several outputs: total val_loss
        model.compile(optimizer=self._optimizer(), loss=t.loss, metrics=["accuracy"] if classes else [])
        cbs = [_StopOnNaN()]
        if self.epoch_lines and label is not None:
            cbs.append(_EpochLog(self.log, label, epochs))
        if patience:
            cbs.append(tf.keras.callbacks.EarlyStopping(monitor="val_accuracy" if classes else "val_loss",
                                                        mode="max" if classes else "min", patience=patience,
                                                        restore_best_weights=True))
        hist = model.fit(self.data.x_train, self.data.y_train, validation_data=(self.data.x_val, self.data.y_val),
                         epochs=epochs, initial_epoch=initial_epoch, batch_size=t.batch_size, verbose=0,
                         callbacks=cbs)
        return hist.history

    def _evaluate(self, model, split="val"):
        """(loss, goal metric) from predictions: independent of how (or whether) the model was compiled."""
        import tensorflow as tf
        x, y = (self.data.x_val, self.data.y_val) if split == "val" else (self.data.x_test, self.data.y_test)
        if self.head is not None:  # several outputs: summed losses, the metric on the head (autoq.heads)
            from .heads import evaluate
            loss, value, self.output_losses = evaluate(model, x, y, self.cfg.train.loss, self.metric, self.head)
            return loss, value
        pred = model.predict(x, batch_size=1024, verbose=0)
        loss = float(tf.reduce_mean(tf.keras.losses.get(self.cfg.train.loss)(y, pred)))
        return loss, self.metric(y, pred)

    # ---- one trial
    def build(self, choice: dict):
        """QKeras model for a choice (float weights copied in) and its pricing model (QIL -> fixed point)."""
        from .space import build_qmodel
        from .widths import rebuild, split_choice
        widths, choice = split_choice(choice)
        base = rebuild(self.float_model, widths)  # the float model at the chosen widths (autoq.widths)
        qmodel = build_qmodel(base, choice, self.space.input_quantizer)
        pricing = None
        if any(str(s).startswith("qil(") for roles in choice.values() for s in roles.values()):
            eq = {layer: {r: str(quantizers.parse(s).equivalent()) for r, s in roles.items()}
                  for layer, roles in choice.items()}
            pricing = build_qmodel(base, eq, self.space.input_quantizer, copy_weights=False)
        return qmodel, pricing

    def run_trial(self, trial_id: str, number: int, values: dict, epochs: int | None = None, initial_epoch=0,
                  warm_start: str | None = None, tuner_id: str = "tuner0") -> dict:
        """Train and score one choice; write its record and model; return the record."""
        import tensorflow as tf
        t0 = time.time()
        choice = self.active.choice(values)
        self.log(f"[autoq] trial {trial_id} starts: {short_choice(choice)}"
                 + (f" (continues {warm_start.split('/')[1]} from epoch {initial_epoch})" if warm_start else ""))
        record = {"trial": trial_id, "number": number, "tuner_id": tuner_id, "choice": choice,
                  **({"partial": True} if self.partial else {}),
                  "hp": {k: v for k, v in values.items()}, "status": "running", "seed": self.cfg.seed + number}
        try:
            tf.keras.backend.clear_session()
            tf.keras.utils.set_random_seed(self.cfg.seed + number)
            qmodel, pricing = self.build(choice)
            if warm_start:
                src = self.store.dir / warm_start
                if src.is_file():  # hyperband: continue the trial this one was promoted from
                    qmodel.set_weights(load_model(src, self.trust).get_weights())
                    record["warm_start"] = warm_start
            c = costs.model_cost(qmodel, pricing, self.energy)
            record.update(energy=c.energy, bits=c.bits, bops=c.bops, fpga=self._fpga(pricing or qmodel),
                          layers=[vars(r) for r in c.layers])
            hist = self._fit(qmodel, epochs or self.cfg.train.epochs, initial_epoch, label=trial_id)
            record["epochs"] = len(hist.get("loss", []))
            losses = hist.get("loss", [])
            if not losses or not all(math.isfinite(v) for v in losses):
                raise FloatingPointError(f"training loss became NaN/inf at epoch {len(losses)}")
            loss, acc = self._evaluate(qmodel)
            if not math.isfinite(loss):
                raise FloatingPointError("validation loss is NaN/inf")
            if not math.isfinite(acc):
                raise FloatingPointError(f"validation {self.metric.name} is NaN/inf")
            record.update(**self._metric_fields("val", acc), val_loss=loss, status="ok")
            if self.head:  # several outputs: each one's validation loss (autoq.heads)
                record["val_output_losses"] = self.output_losses
            g = self.cfg.goal
            record["score"] = costs.score(acc, record[self.cost_key], self.state["reference_cost"], g.delta_p,
                                          g.delta_n, g.rate, maximise=self.metric.maximise)
            model_rel = f"trials/{trial_id}/model.h5"
            atomic_save_model(qmodel, self.store.dir / model_rel)
            record["model"] = model_rel
        except Exception as exc:  # noqa: BLE001 - any trial error is recorded (trials.csv), never lost silently
            if storage_error(exc) is not None:
                raise  # not the trial's fault: the search stops (resumable) instead of failing every trial
            msg = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
            record.update(status="failed", error=f"{type(exc).__name__}: {msg}", score=None,
                          **self._metric_fields("val", None))
        record["seconds"] = round(time.time() - t0, 3)
        self.store.write_record(record)
        return record

    def run_baseline(self, b) -> dict:
        values = {}
        given = {"kernel": b.kernel, "bias": b.bias, "activation": b.activation}
        for name, specs in self.space.hp_choices().items():
            values[name] = given[name.rsplit("/", 1)[1]] or specs[0]
        import tensorflow as tf
        tf.keras.backend.clear_session()
        tf.keras.utils.set_random_seed(self.cfg.seed)
        qmodel, pricing = self.build(self.space.choice(values))
        c = costs.model_cost(qmodel, pricing, self.energy)
        self._fit(qmodel, self.cfg.train.epochs)
        loss, acc = self._evaluate(qmodel)
        self.log(f"[autoq] baseline {b.name}: val {self.metric.name} {acc:.4g}, {self.cost_key} "
                 f"{ {'energy': c.energy, 'bits': c.bits, 'bops': c.bops}.get(self.cost_key, 0):.6g}")
        atomic_save_model(qmodel, self.store.dir / "baselines" / f"{b.name}.h5")
        return {**self._metric_fields("val", acc), "val_loss": loss, "energy": c.energy, "bits": c.bits, "bops": c.bops,
                "fpga": self._fpga(pricing or qmodel), "model": f"baselines/{b.name}.h5",
                "choice": {"kernel": b.kernel, "bias": b.bias, "activation": b.activation}}

    def progress(self, record: dict, max_trials: int, done: list):
        """The line a finished trial prints; ``done`` is every record on disk (read once per trial by the tuner)."""
        ref = self.state["reference_cost"]
        if record["status"] == "ok":
            if self.best_score is None or record["score"] > self.best_score[0]:
                self.best_score = (record["score"], record["trial"])
            c = record[self.cost_key]
            unit = {"energy": " pJ", "bits": " bits", "bops": " BOPs"}.get(self.cost_key, "")
            name = "acc" if self.metric.name == "accuracy" else self.metric.name
            msg = (f"{name} {record['val_metric']:.4g} | {self.cost_key} {c:.4g}{unit} ({100 * c / ref:.1f}% of ref) "
                   f"| score {record['score']:.4f}")
        else:
            msg = f"FAILED ({record.get('error')}), going on"
        best = f"best {self.best_score[0]:.4f} (trial {self.best_score[1]})" if self.best_score else "best -"
        clock = f"{_fmt_time(time.time() - self.t0)} elapsed"
        if max_trials:  # hyperband sizes its own brackets: no total, no estimate
            left = max(max_trials - len(done), 0)
            mean = sum(r.get("seconds", 0) for r in done) / max(len(done), 1)
            clock = f"{len(done)}/{max_trials} done | {clock}, ~{_fmt_time(left * mean)} left"
        self.log(f"[autoq] trial {record['trial']} | {msg} | {best} | {record['seconds']:.1f} s | {clock}")

    # ---- the end
    def finalize(self, fine_tune_epochs: int = 0, interrupted: bool = False) -> SearchResult:
        records = self.store.records()
        self.store.write_trials_csv(records, self.dataset_label)
        ok = [r for r in records if r.get("status") == "ok" and not r.get("partial")]  # partial: blocks before the last
        if not ok:
            raise AutoqError(f"no trial finished successfully ({len(records)} failed); see {self.store.dir}/trials.csv")
        key = self.cost_key
        front_all = front_points(ok, self.state["baselines"], key, self.metric)
        front = [r for r in front_all if "baseline" not in r]
        best = max(ok, key=lambda r: (r["score"], -r["number"]))
        keep = {r["trial"] for r in front} | {best["trial"]}
        if self.cfg.search.keep == "pareto":
            for r in ok:
                p = self.store.dir / r["model"]
                if r["trial"] not in keep and p.is_file():
                    p.unlink()
                    r["model_deleted"] = True
        best_path = self.store.dir / best["model"]
        if not best_path.is_file():
            raise ResultsError(f"the best trial's model {best_path} is missing (trial {best['trial']}); restore it, "
                               "or delete that trial's folder to drop the trial and run the same command again")
        atomic_copy(best_path, self.store.dir / "best_model.h5")
        self.store.write_pareto_csv(front_all, key, self.dataset_label)
        best_model = load_model(self.store.dir / "best_model.h5", self.trust)
        _, test_acc = self._evaluate(best_model, "test")
        summary = {**({"head": self.head} if self.head else {}), "metric": self.metric.name, "direction": self.metric.direction, "name": self.cfg.name, "output_dir": str(self.store.dir), "algorithm": self.cfg.search.algorithm,
                   "seed": self.cfg.seed, "cost": key, "goal": vars(self.cfg.goal), "trials": len(records),
                   "failed_trials": len(records) - len(ok), "best": best,
                   **self._metric_fields("best_test", test_acc),
                   "pareto": [r["trial"] for r in front], "baselines": self.state["baselines"],
                   "pareto_baselines": [r["baseline"] for r in front_all if "baseline" in r],
                   "reference_cost": self.state["reference_cost"],
                   **self._metric_fields("float_val", self.state["float_val_metric"]),
                   **self._metric_fields("float_test", self.state["float_test_metric"]), "config": self.cfg.to_dict(),
                   "config_digest": self.state["config_digest"], "versions": versions(),
                   "dataset": self.state["dataset"], "synthetic_data": self.state["synthetic_data"],
                   "space_size": self.state["space_size"], "seconds": round(time.time() - self.t0, 1),
                   "max_trials": self.cfg.search.max_trials, "interrupted": interrupted}
        if fine_tune_epochs:
            self.log(f"[autoq] fine-tuning the winner for {fine_tune_epochs} epochs ...")
            self._fit(best_model, fine_tune_epochs)
            _, acc = self._evaluate(best_model)
            _, test_acc = self._evaluate(best_model, "test")
            atomic_save_model(best_model, self.store.dir / "best_model.h5")
            summary.update(**self._metric_fields("fine_tuned_val", acc), **self._metric_fields("best_test", test_acc))
        atomic_write_json(self.store.summary_path, summary)
        result = SearchResult(self.store.dir, summary, records, front, self.state["baselines"], key, best_model)
        plot_pareto(records, self.state["baselines"], key, path=self.store.dir / "pareto.png",
                    title=plot_title(summary), metric=self.metric)
        return result


# ------------------------------------------------------------------------------------------ keras-tuner

def make_oracle(cfg: Config, max_trials: int):
    """The keras-tuner oracle for ``search.algorithm``, maximising ``score``."""
    kt = keras_env.keras_tuner()
    obj = kt.Objective("score", direction="max")
    # autoq counts consecutive failures itself (AutoqTuner.on_trial_end, distributed.serve): keras-tuner raises a
    # RuntimeError from inside end_trial, before saving its state and with its oracle lock still held.
    common = dict(objective=obj, seed=cfg.seed or KT_SEED_FOR_ZERO, max_consecutive_failed_trials=None)
    a = cfg.search.algorithm
    if a == "random":
        return kt.oracles.RandomSearchOracle(max_trials=max_trials, **common)
    if a == "bayesian":
        # keras-tuner starts with 3 x (number of hyperparameters) random trials: at autoq's budgets (a few choices
        # per layer, tens of trials) the Gaussian process would never get to choose. Give it a third of the budget.
        return kt.oracles.BayesianOptimizationOracle(max_trials=max_trials,
                                                     num_initial_points=max(2, min(10, max_trials // 3)), **common)
    if a == "hyperband":
        return kt.oracles.HyperbandOracle(max_epochs=cfg.train.epochs, factor=3, hyperband_iterations=1, **common)
    if a == "pareto":
        from .oracles import ParetoOracle
        return ParetoOracle(max_trials=max_trials, cost_key=cfg.goal.cost, accuracy_key="objective", **common)
    raise ConfigError(f"unknown search.algorithm {a!r}")


class TooManyFailures(AutoqError):
    """``search.max_failed_trials`` trials in a row failed; the search stopped."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C / SIGINT during a search; ``output_dir`` holds what finished (trials.csv is up to date)."""

    def __init__(self, output_dir):
        super().__init__(str(output_dir))
        self.output_dir = output_dir


def _atomic_keras_tuner_json():
    """keras-tuner writes oracle.json / trial.json / <tuner>.json in place; a kill mid-write would leave a file it
    cannot reload. Route its local writes through autoq's write-to-temp-then-rename."""
    from keras_tuner.src import utils as kt_utils
    if getattr(kt_utils.save_json, "_autoq_atomic", False):
        return
    original = kt_utils.save_json

    def save_json(path, obj):
        import json
        text = json.dumps(obj)
        if "://" in str(path):
            return original(path, obj)
        from .results import atomic_write_text
        atomic_write_text(path, text)
        return text

    save_json._autoq_atomic = True
    kt_utils.save_json = save_json


def _consecutive_failures(records_or_oracle) -> int:
    from .distributed import _consecutive_failures as count
    return count(records_or_oracle)


def _requeue_stranded(oracle) -> None:
    """keras-tuner writes a new trial's ``trial.json`` before ``oracle.json`` lists it as running: a kill between
    the two leaves a RUNNING trial that no list remembers, and it would never run. Queue it for retry like the
    trials ``oracle.json`` does list."""
    queued = set(oracle._retry_queue) | {t.trial_id for t in oracle.ongoing_trials.values()}
    for tid in sorted(oracle.trials):
        if oracle.trials[tid].status == "RUNNING" and tid not in queued:
            oracle._retry_queue.append(tid)


def make_tuner(searcher: Searcher, oracle, max_trials: int, serve_options: dict | None = None,
               dist: dict | None = None, project: str = "tuner"):
    import contextlib
    import io

    kt = keras_env.keras_tuner()
    from keras_tuner.src.distribute import utils as dist_utils
    from keras_tuner.src.engine import base_tuner

    _atomic_keras_tuner_json()
    from keras_tuner.src import config as kt_config
    kt_config.DEBUG = False  # else keras-tuner prints a traceback for every failed trial (we record the error)

    class AutoqTuner(base_tuner.BaseTuner):
        """Runs one autoq trial per keras-tuner trial; the oracle sees ``score`` (and accuracy, costs)."""

        def reload(self):
            super().reload()
            if not self._is_worker():
                _requeue_stranded(self.oracle)

        def _populate_initial_space(self):
            hp = self.oracle.get_space()
            searcher.active.declare(hp)
            self.oracle.update_space(hp)

        def search(self, *args, **kwargs):
            if dist_utils.is_chief_oracle():
                # keras-tuner's chief would block in oracle_chief.start_server (20 s polls, server never stopped)
                from .distributed import serve
                self.oracle.verbose = 0
                self.save()
                self.serve_result = serve(self.oracle, os.environ["KERASTUNER_ORACLE_IP"],
                                          int(os.environ["KERASTUNER_ORACLE_PORT"]), searcher.log,
                                          **(serve_options or {}))
                return
            self.save()  # the tuner file exists from the start, so a kill in trial 0 still resumes by reloading
            super().search(*args, **kwargs)

        def _finished_record(self, trial_id, values):
            """The record of this trial if an earlier (killed) run finished it: same choice, model on disk."""
            import json
            p = searcher.store.trial_dir(trial_id) / "record.json"
            try:
                rec = json.loads(p.read_text())
            except (OSError, ValueError):
                return None
            if rec.get("hp") != values or rec.get("status") not in ("ok", "failed"):
                return None
            if rec["status"] == "ok" and not (searcher.store.dir / rec.get("model", "")).is_file():
                return None
            return rec

        def run_trial(self, trial, *args, **kwargs):
            values = dict(trial.hyperparameters.values)
            epochs = values.get("tuner/epochs")
            initial = values.get("tuner/initial_epoch", 0)
            warm = values.get("tuner/trial_id")
            try:
                number = searcher.number_offset + int(trial.trial_id)
            except ValueError:  # a custom oracle's non-numeric ids: number trials in the order they start
                number = len(searcher.store.records())
            choice_values = {k: v for k, v in values.items() if not k.startswith("tuner/")}
            trial_id = searcher.trial_prefix + trial.trial_id
            record = self._finished_record(trial_id, choice_values)
            finished_before = record is not None
            if finished_before:
                searcher.log(f"[autoq] trial {trial_id} finished before the interruption "
                             f"({record['status']}); keeping its record")
            else:
                try:
                    record = searcher.run_trial(trial_id, number, choice_values, epochs=epochs,
                                                initial_epoch=initial,
                                                warm_start=f"trials/{warm}/model.h5" if warm else None,
                                                tuner_id=self.tuner_id)
                except OSError as exc:
                    err = storage_error(exc)
                    if err is None:
                        raise
                    raise kt.errors.FatalError(str(err)) from err  # keras-tuner would mark it failed and go on
            records = searcher.store.records()  # read once: best across all workers, and trials.csv
            if not finished_before:
                if dist_utils.has_chief_oracle():  # the best so far across all workers
                    for r in records:
                        if r.get("status") == "ok" and (searcher.best_score is None
                                                        or r["score"] > searcher.best_score[0]):
                            searcher.best_score = (r["score"], r["trial"])
                searcher.progress(record, max_trials, records)
            _write_table(searcher, records)  # keep trials.csv current, so a killed search still has its table
            if record["status"] != "ok":
                raise kt.errors.FailedTrialError(record.get("error", "trial failed"))
            return {"score": record["score"], "objective": searcher.metric.up(record["val_metric"]),
                    searcher.cost_key: float(record[searcher.cost_key])}

        def on_trial_end(self, trial):
            super().on_trial_end(trial)  # oracle.end_trial + save: the oracle's state is on disk first
            limit = searcher.cfg.search.max_failed_trials
            if limit and not self._is_worker() and _consecutive_failures(self.oracle) >= limit:
                import json
                try:
                    rec_path = searcher.store.trial_dir(searcher.trial_prefix + trial.trial_id) / "record.json"
                    last = json.loads(rec_path.read_text())
                    last = last.get("error") or ""
                except (OSError, ValueError):
                    last = (trial.message or "").strip().splitlines()[-1:] or [""]
                    last = last[0]
                raise TooManyFailures(f"search stopped: {limit} trials in a row failed (last error: {last}); "
                                      f"see {searcher.store.dir / 'trials.csv'}")

        def save_model(self, trial_id, model, step=0):  # run_trial saves the model itself
            pass

    try:
        with contextlib.redirect_stdout(io.StringIO()):  # keras-tuner prints "Reloading Tuner from ..."
            tuner = AutoqTuner(oracle, directory=str(searcher.store.dir), project_name=project, overwrite=False)
    except (ValueError, KeyError, TypeError, RuntimeError) as exc:  # a damaged oracle.json / trial.json / tuner json
        from .outdir import FRESH_HINT
        raise ResultsError(f"keras-tuner's state in {searcher.store.dir / 'tuner'} is damaged "
                           f"({type(exc).__name__}: {exc}); {FRESH_HINT}") from None
    if dist and dist["role"] == "worker":
        from .distributed import connect_worker
        connect_worker(tuner.oracle, dist)
    return tuner


# ------------------------------------------------------------------------------------------ entry point

def _load_float_model(cfg: Config, trust: bool = False):
    """The float model named by the config, and whether it must be trained first.

    A ``builder`` is Python code the user runs, like a script; a ``path`` is a data file, which must not carry code
    (Lambda layers and the like) unless ``trust`` is set."""
    import importlib

    from . import model_io
    m = cfg.model
    if m.builder:
        mod_name, fn_name = m.builder.split(":")
        if cfg.base_dir not in sys.path:  # builders may live beside the config file
            sys.path.insert(0, cfg.base_dir)
        try:
            fn = getattr(importlib.import_module(mod_name), fn_name)
        except Exception as exc:  # noqa: BLE001 - ImportError, AttributeError, or the module's own error
            what = "" if isinstance(exc, (ImportError, AttributeError)) else f"{type(exc).__name__}: "
            raise ConfigError(f"cannot import model builder {m.builder!r}: {what}{exc}",
                              key="model.builder", source=cfg.source) from None
        try:
            model = fn(**m.kwargs)
        except TypeError as exc:
            raise ConfigError(f"model builder {m.builder!r} rejected kwargs {m.kwargs}: {exc}",
                              key="model.kwargs", source=cfg.source) from None
        except Exception as exc:  # noqa: BLE001 - the builder is user code: say what it raised, in one line
            msg = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
            raise ConfigError(f"model builder {m.builder!r} raised {type(exc).__name__}: {msg}",
                              key="model.builder", source=cfg.source) from None
        try:
            model_io.check_model(model, f"what model builder {m.builder!r} returned")
        except AutoqError as exc:
            raise ConfigError(str(exc), key="model.builder", source=cfg.source) from None
        return model, m.train in ("auto", True)
    if m.path:
        path = cfg.resolve(m.path)
        if not path.exists():
            raise ConfigError(f"model file not found: {path}", key="model.path", source=cfg.source)
        try:
            model = model_io.load(path, trust)
        except AutoqError as exc:
            raise ConfigError(str(exc), key="model.path", source=cfg.source) from None
        return model, m.train is True
    raise ConfigError("the config names no model: set model.path (a saved Keras model) or model.builder "
                      "(module:function), or pass a model to autoq.search()", key="model", source=cfg.source)


def _check_data_fits(model, data: Dataset):
    if not model.inputs:
        raise DataError(f"the model {model.name!r} has no input shape yet: give its first layer input_shape=... or "
                        "start it with tf.keras.Input(shape)")
    from . import heads
    if len(model.outputs) > 1 or heads.is_multi(data):  # a target per output
        return heads.check_fits(model, data)
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise DataError(f"the model {model.name!r} has {len(model.inputs)} inputs and {len(model.outputs)} outputs; "
                        "autoq searches models with one input and one output")
    if data.task != "classification":
        if tuple(model.input_shape[1:]) != tuple(data.input_shape):
            raise DataError(f"the model expects inputs of shape {tuple(model.input_shape[1:])} but the dataset "
                            f"{data.name!r} has {tuple(data.input_shape)}")
        if tuple(model.output_shape[1:]) != data.target_shape:
            raise DataError(f"the model's output has shape {tuple(model.output_shape[1:])} but the dataset "
                            f"{data.name!r} has {data.task} targets of shape {data.target_shape}")
        return
    want = tuple(model.input_shape[1:])
    if tuple(data.input_shape) != want:
        raise DataError(f"the model expects inputs of shape {want} but the dataset {data.name!r} has "
                        f"{tuple(data.input_shape)}")
    out = model.output_shape[-1]
    if out != data.n_classes:
        raise DataError(f"the model has {out} outputs but the dataset {data.name!r} has {data.n_classes} classes")


def resolve_config(config, **overrides) -> Config:
    if config is None:
        cfg = config_from_dict({})
    elif isinstance(config, Config):  # built in Python: validated (and its defaults resolved) like a file
        cfg = config_from_dict(config.to_dict(), source=config.source, base_dir=config.base_dir)
    elif isinstance(config, dict):
        cfg = config_from_dict(config)
    else:
        cfg = load_config(config)
    for key, value in overrides.items():
        if value is None:
            continue
        if key == "max_trials":
            if cfg.search.blocks:
                raise ConfigError("does not apply with search.blocks: set each block's max_trials",
                                  key="search.max_trials (--max-trials)")
            if int(value) < 1:
                raise ConfigError(f"must be at least 1, got {value}", key="search.max_trials (--max-trials)")
            cfg.search.max_trials = int(value)
        elif key == "seed":
            from .config import MAX_SEED
            if not 0 <= int(value) <= MAX_SEED:
                raise ConfigError(f"must be between 0 and {MAX_SEED}, got {value}", key="seed (--seed)")
            cfg.seed = int(value)
        elif key == "output_dir":
            cfg.search.output_dir = str(value)
        elif key == "algorithm":
            cfg.search.algorithm = value
        elif key == "data_path":
            if cfg.data.source not in ("npz", "jets", "jets-generated"):
                raise ConfigError(f"--data names a file, but data.source is {cfg.data.source!r}, which reads no "
                                  "file; set data.source to npz or jets to search on a file", key="data.source",
                                  source=cfg.source)
            cfg.data.path = str(value)
    return cfg


def run_search(model=None, data=None, config=None, *, output_dir=None, max_trials=None, seed=None,
               algorithm=None, overwrite=False, verbose=True, log=None, role=None, chief_address=None,
               tuner_id=None, wait_timeout=3600.0, trust_model=False, token=None,
               connect_timeout=None) -> SearchResult | None:
    """Search a heterogeneous quantization of ``model`` on ``data`` under ``config``.

    model: a trained float tf.keras model, or None to take it from the config (path or builder).
    data: a Dataset, (x, y), six split arrays, or None to load the config's dataset.
    config: a Config, a dict, a YAML path, or None for the defaults.
    verbose: 0 (quiet), 1 or True (a line when each trial starts and ends), 2 (also a line per epoch).
    role: None (one process), "chief" or "worker" (keras-tuner's distributed mode, see autoq.distributed);
        chief_address is HOST:PORT (the chief listens there, workers connect there), else keras-tuner's
        KERASTUNER_ORACLE_IP/PORT variables; tuner_id names this process (default: "chief", or a worker name).
        A worker returns None once the chief has no more trials; the chief returns the SearchResult. token (or
        $AUTOQ_TOKEN) is the shared secret a chief beyond loopback requires of its workers; a worker whose chief
        does not answer within connect_timeout seconds (default 30) fails.
    trust_model: allow a model file that carries code (Lambda layers, unknown custom layers, a SavedModel).

    The output folder is locked while the search runs; a folder that holds a search is resumed only if its config,
    data and float model are the same (else an error says what changed).
    """
    import warnings
    with warnings.catch_warnings():
        # Keras warns on every .h5 save and on QKeras quantizers used as constraints: noise, not news.
        warnings.filterwarnings("ignore", category=UserWarning, module=r"keras\..*")
        from sklearn.exceptions import ConvergenceWarning  # the Bayesian oracle's Gaussian process, at small budgets
        warnings.filterwarnings("ignore", category=ConvergenceWarning)
        from .distributed import keras_tuner_env, resolve_role
        dist = resolve_role(role, chief_address, tuner_id, token)
        with keras_tuner_env(dist):
            try:
                return _run_search(model, data, config, output_dir=output_dir, max_trials=max_trials, seed=seed,
                                   algorithm=algorithm, overwrite=overwrite, verbose=verbose, log=log, dist=dist,
                                   wait_timeout=wait_timeout, trust_model=trust_model,
                                   connect_timeout=connect_timeout)
            except OSError as exc:
                storage = storage_error(exc)
                if storage is None:
                    raise
                raise storage from None


def _float_activation_layers(model) -> set:
    """Softmax/sigmoid/... Activation layers: float by design, not worth a 'left float' line."""
    return {l.name for l in model.layers if l.__class__.__name__ == "Activation"}


def _write_table(searcher: Searcher, records: list | None = None) -> None:
    """Rewrite trials.csv (best effort: a full disk must not kill the search that is recording it)."""
    try:
        searcher.store.write_trials_csv(searcher.store.records() if records is None else records,
                                        searcher.dataset_label)
    except OSError:
        pass


def _stages(searcher: Searcher, cfg: Config, log):
    """(trial budget, keras-tuner project) of each stage of the search: one for a plain search; one per block
    with ``search.blocks``, the searcher set to the block's space (earlier blocks fixed at their best choice)."""
    if not cfg.search.blocks:
        yield cfg.search.max_trials, "tuner"
        return
    from . import blocks as blocks_mod
    plan = blocks_mod.plan(searcher.space, cfg.search.blocks)
    fixed: dict = {}
    for block in plan:
        searcher.active = blocks_mod.space_for(searcher.space, block, fixed)
        searcher.trial_prefix, searcher.partial = block.prefix, block.index < len(plan) - 1
        searcher.number_offset = sum(b.max_trials for b in plan[:block.index])
        log(f"[autoq] block {block.index + 1}/{len(plan)}: {', '.join(s.layer for s in block.slots)} "
            f"({block.max_trials} trials" + (", later blocks float" if searcher.partial else "") + ")")
        yield block.max_trials, f"tuner_block{block.index}"
        best = blocks_mod.best_choice(searcher.store.records(), block)
        if best is None:
            raise AutoqError(f"block {block.index + 1} ({block.pattern}) finished no trial successfully; see "
                             f"{searcher.store.dir / 'trials.csv'}")
        fixed.update(best)


def _run_tuner(tuner, searcher: Searcher, role, dist, out):
    """Run one keras-tuner search; return a TooManyFailures that stopped it (None when it ran out of trials)."""
    try:
        tuner.search(verbose=0)
    except KeyboardInterrupt:
        _write_table(searcher)
        if role != "worker":  # summarise what finished (summary.json says interrupted; the resumed run rewrites it)
            try:
                searcher.finalize(0, interrupted=True)
            except Exception:  # noqa: BLE001 - e.g. no trial finished yet: trials.csv is what there is
                pass
        raise Interrupted(out) from None
    except TooManyFailures as exc:
        return exc
    except Exception as exc:
        import grpc
        if isinstance(exc.__cause__, ResultsError):  # a full disk or a read-only folder (run_trial)
            raise exc.__cause__ from None
        if role == "worker" and isinstance(exc, grpc.RpcError):
            _write_table(searcher)
            if exc.code() == grpc.StatusCode.UNAUTHENTICATED:
                raise AutoqError(f"the chief at {dist['host']}:{dist['port']} refused this worker: wrong or missing "
                                 "token (set AUTOQ_TOKEN, or --token, to the chief's)") from None
            raise AutoqError(f"lost the chief at {dist['host']}:{dist['port']} ({exc.code().name}: "
                             f"{exc.details()}); this worker's trials are in {out}") from None
        raise
    return None


def storage_error(exc: BaseException) -> ResultsError | None:
    """A full disk, a read-only folder or missing permission as one clear error (None for other errors)."""
    import errno
    text = str(exc)
    codes = {errno.ENOSPC: "no space left on the device", errno.EDQUOT: "disk quota exceeded",
             errno.EROFS: "read-only file system", errno.EACCES: "permission denied", errno.EPERM: "not permitted"}
    what = codes.get(getattr(exc, "errno", None))
    if what is None and "No space left" in text:
        what = codes[errno.ENOSPC]
    if what is None:
        return None
    where = getattr(exc, "filename", None)
    return ResultsError(f"cannot write{f' {where}' if where else ''}: {what}. Everything finished so far is kept; "
                        "free space or fix the permissions, then run the same command again to resume")


def _run_search(model, data, config, *, output_dir, max_trials, seed, algorithm, overwrite, verbose, log, dist=None,
                wait_timeout=3600.0, trust_model=False, connect_timeout=None):
    cfg = resolve_config(config, max_trials=max_trials, seed=seed, output_dir=output_dir, algorithm=algorithm)
    if log is None:
        log = (lambda *a, **k: print(*a, **{"flush": True, **k})) if verbose else (lambda *a, **k: None)
    role = dist["role"] if dist else None
    if dist:  # every line says which process wrote it
        base_log, tag = log, f"[autoq {dist['tuner_id']}]"
        log = lambda msg="", *a, **k: base_log(str(msg).replace("[autoq]", tag, 1), *a, **k)  # noqa: E731
    train_float = False
    if model is None:
        import tensorflow as tf
        tf.keras.utils.set_random_seed(cfg.seed)  # the builder's initial weights are part of the search's numbers
        model, train_float = _load_float_model(cfg, trust_model)
    else:
        from .model_io import check_model
        check_model(model)
        train_float = cfg.model.train is True
    dataset = as_dataset(data, cfg.data) if data is not None else load_dataset(cfg.data, cfg.base_dir)
    _check_data_fits(model, dataset)
    preflight(cfg)
    from .heads import check_losses, resolve_head
    resolve_head(model, cfg.goal.head, cfg.source)
    check_losses(cfg.train.loss, model, cfg.source)
    out = Path(cfg.search.output_dir)
    if not out.is_absolute() and cfg.source and output_dir is None:
        out = Path.cwd() / out
    from . import outdir
    fp = outdir.fingerprint(config_digest(cfg), dataset, model)
    lock = None
    if role == "worker":
        # the chief prepares the folder (float model, reference, baselines); workers wait for it and reuse it
        from .distributed import wait_for_state
        wait_for_state(out, fp, wait_timeout, log)
    else:
        lock = outdir.take(out, fp, overwrite, role or "search", log)
    try:
        return _search_in(out, cfg, model, dataset, log, dist, train_float, trust_model, fp, connect_timeout,
                          epoch_lines=int(verbose) >= 2)
    finally:
        if lock is not None:
            lock.release()


def preflight(cfg: Config) -> None:
    """Everything the end of the run needs, checked before any training: the loss, the hls4ml options."""
    import tensorflow as tf
    for loss in (cfg.train.loss.values() if isinstance(cfg.train.loss, dict) else [cfg.train.loss]):
        try:
            tf.keras.losses.get(loss)
        except (ValueError, TypeError):
            raise ConfigError(f"unknown loss {loss!r}; use a Keras loss name such as "
                              "categorical_crossentropy", key="train.loss", source=cfg.source) from None
    from .metrics import check_known
    try:
        check_known(cfg.goal.metric)
    except ConfigError as exc:
        raise ConfigError(exc.plain, key="goal.metric", source=cfg.source) from None
    if cfg.hls4ml is not None:
        from .export import ExportError, validate_part
        try:
            validate_part(cfg.hls4ml.part)
        except ExportError as exc:
            raise ConfigError(str(exc), key="hls4ml.part", source=cfg.source) from None
        proj = _hls_project_dir(cfg)
        if proj.exists() and (not proj.is_dir() or (any(proj.iterdir()) and not (proj / "hls4ml_config.yml").is_file())):
            raise ConfigError(f"the export folder {proj} exists and is not an hls4ml project; autoq would write into "
                              "it at the end of the search: choose another hls4ml.output_dir", key="hls4ml.output_dir",
                              source=cfg.source)


def _hls_project_dir(cfg: Config) -> Path:
    h = cfg.hls4ml
    return Path(h.output_dir) if h.output_dir else Path("hls_projects") / cfg.name


def _search_in(out, cfg, model, dataset, log, dist, train_float, trust_model, fp, connect_timeout, epoch_lines):
    """The search proper, in an output folder this process may write (locked, or a worker's shared folder)."""
    role = dist["role"] if dist else None
    if role and cfg.search.blocks:
        raise ConfigError("search.blocks runs in one process; drop --chief/--worker or the blocks",
                          key="search.blocks", source=cfg.source)
    searcher = Searcher(cfg, model, dataset, out, log, trust_model=trust_model, fingerprint=fp,
                        epoch_lines=epoch_lines)
    log(f"[autoq] {dataset.describe()}")
    log(f"[autoq] search space: {len(searcher.space.slots)} quantizable layers, "
        f"{len(searcher.space.hp_choices())} choices, {searcher.space.size():.3g} configurations; "
        f"{cfg.search.algorithm} search, {cfg.search.max_trials} trials, goal {cfg.goal.cost}")
    left_float = [n for n in searcher.space.float_layers if n not in _float_activation_layers(searcher.float_model)]
    if left_float:
        log(f"[autoq] layers left float: {', '.join(left_float)}")
    if role == "worker":
        searcher.log = lambda *a, **k: None  # not "resuming": the chief prepared it
        searcher.prepare(False)
        searcher.log = log
        from .distributed import CONNECT_TIMEOUT, wait_for_chief
        wait_for_chief(dist["host"], dist["port"], connect_timeout or CONNECT_TIMEOUT, log)
        log(f"[autoq] worker joined the search in {out}; chief at {dist['host']}:{dist['port']}")
    else:
        searcher.prepare(train_float)
    serve_options = {"max_failed": cfg.search.max_failed_trials, "token": dist["token"]} if role == "chief" else None
    for r in searcher.store.records():
        if r.get("status") == "ok" and (searcher.best_score is None or r["score"] > searcher.best_score[0]):
            searcher.best_score = (r["score"], r["trial"])
    shown_total = None if cfg.search.algorithm == "hyperband" else cfg.search.max_trials
    stopped, tuner = None, None
    for n_trials, project in _stages(searcher, cfg, log):
        tuner = make_tuner(searcher, make_oracle(cfg, n_trials), shown_total, serve_options, dist, project)
        stopped = _run_tuner(tuner, searcher, role, dist, out)
        if stopped is not None:
            break
    if role == "worker":
        n = sum(1 for r in searcher.store.records() if r.get("tuner_id") == dist["tuner_id"])
        log(f"[autoq] no more trials: this worker ran {n}; the chief writes the summary into {out}")
        return None
    if role == "chief" and getattr(tuner, "serve_result", {}).get("stopped_on_failures"):
        stopped = TooManyFailures(f"search stopped: {cfg.search.max_failed_trials} trials in a row failed; "
                                  f"see {out / 'trials.csv'}")
    if stopped is not None:
        if not any(r.get("status") == "ok" for r in searcher.store.records()):
            _write_table(searcher)
            raise stopped
        log(f"[autoq] {stopped}")
    result = searcher.finalize(cfg.train.fine_tune_epochs)
    log(f"[autoq] done in {_fmt_time(time.time() - searcher.t0)}: {len(result.trials)} trials, "
        f"{len(result.pareto)} on the Pareto front")
    b = result.best
    ref = result.summary["reference_cost"]
    ftest, m = result.summary.get("float_test_metric"), searcher.metric.name
    log(f"[autoq] best: trial {b['trial']}, val {m} {b['val_metric']:.4g} (float "
        f"{result.summary['float_val_metric']:.4g}), test {m} {result.summary['best_test_metric']:.4g}"
        + (f" (float {ftest:.4g})" if ftest is not None else "")
        + f", {cfg.goal.cost} {b[cfg.goal.cost]:.6g} = {100 * b[cfg.goal.cost] / ref:.1f}% of the reference"
        + (" [SYNTHETIC data: not a result on real data]" if dataset.synthetic else ""))
    up = searcher.metric.up
    beaten = [n for n, bl in result.baselines.items() if n != "float" and bl.get("val_metric") is not None
              and bl.get(cfg.goal.cost) is not None and up(bl["val_metric"]) >= up(b["val_metric"])
              and bl[cfg.goal.cost] <= b[cfg.goal.cost]]
    if beaten:
        log(f"[autoq] note: baseline {', '.join(beaten)} is at least as accurate and as cheap as the winner "
            "(see pareto.csv); more trials or a wider space may help")
    log(result.table())
    log(f"[autoq] results in {out}: best_model.h5, trials.csv, pareto.csv, pareto.png, summary.json")
    if cfg.hls4ml is not None:
        from .export import export
        h = cfg.hls4ml
        proj = _hls_project_dir(cfg)
        log(f"[autoq] exporting the winner to {proj} (hls4ml {h.backend}) ...")
        res = export(out, proj, x=dataset.x_val[:2000], backend=h.backend, part=h.part,
                     clock_period=h.clock_period, io_type=h.io_type, reuse_factor=h.reuse_factor,
                     strategy=h.strategy, project_name=h.project_name, force=True,
                     hls_config=h.settings or None)
        from .export import format_result
        log(format_result(res))
        result.summary["export"] = str(proj)
        atomic_write_json(out / "summary.json", result.summary)
    return result


class _CallableModule(type(sys)):
    """``autoq.search(...)`` runs a search even after ``autoq.search`` the submodule has been imported."""

    def __call__(self, *args, **kwargs):
        return run_search(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
