"""One trial: build the QKeras model for a choice from the float model (float weights copied in as the start
point), train it with early stopping, price it, score the goal metric x forgiving factor of the cost, save it.
Also the search's preparation (float model, reference cost, baselines); its end is :mod:`.finish`.

Unlike AutoQKeras, each trial's trained model is saved, so the winner needs no retraining.
"""
from __future__ import annotations

import math
import time

import numpy as np

from .. import cost as costs
from .. import quantizers
from ..config import Config
from ..data import Dataset
from ..errors import AutoqError, ConfigError, ResultsError
from .progress import fmt_time, short_choice
from .provenance import config_digest, versions
from .result import load_model
from .store import ResultStore, atomic_save_model, atomic_write_json, storage_error
from .layout import BASELINES, DATA_SAMPLE, FLOAT_MODEL, STATE

REFERENCE_Q16 = ("quantized_bits(16,6,alpha=1)", "quantized_bits(16,6,alpha=1)", "quantized_relu(16,6)")


#: Up to this many batches of 1024, :func:`predict` calls the model eagerly batch by batch instead of
#: ``model.predict``: every trial's model is new, so ``predict`` traces a new graph function first (0.15-0.4 s on
#: the jet tagger, more than the predictions of a few thousand samples cost eagerly); beyond it, the graph's faster
#: steps win.
EAGER_PREDICT_BATCHES = 8


def predict(model, x, batch_size: int = 1024):
    """``model.predict(x, batch_size=1024)`` (inference mode, batches of 1024, a NumPy array), without tracing a
    graph function for a small ``x``."""
    n = len(x) if isinstance(x, np.ndarray) else 0
    if n == 0 or n > EAGER_PREDICT_BATCHES * batch_size or len(model.outputs) != 1:
        return model.predict(x, batch_size=batch_size, verbose=0)
    return np.concatenate([np.asarray(model(x[i:i + batch_size], training=False)) for i in range(0, n, batch_size)])


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
                 fingerprint: dict | None = None, epoch_lines: bool = False, on_finish=None):
        self.cfg, self.float_model, self.data, self.log = cfg, float_model, data, log
        self.on_finish = on_finish  # called with the FinishedSearch (autoq.search: the plot)
        self.epoch_lines = epoch_lines
        from ..metrics import Metric
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
        self.state: dict = {}
        from ..cost.budget import Constraints, estimate_settings
        self.estimate_settings = estimate_settings(cfg.hls4ml)  # the export's part, clock, reuse and strategy
        self.constraints = Constraints.of(cfg.goal, self.estimate_settings["part"])
        from ..space import analyse
        self.space = analyse(float_model, cfg.space, exact=cfg.exportable)
        from ..widths import extend
        self.space = extend(self.space, float_model, cfg.space)  # space.widths: <layer>/width hyperparameters
        self.active = self.space  # the space trials choose from (a block's, with search.blocks)
        self.trial_prefix, self.partial, self.number_offset = "", False, 0

    # ---- preparation (idempotent: state.json + float_model.h5 make resumed runs and workers reuse it)
    def prepare(self, train_float: bool) -> dict:
        from .folder import FRESH_HINT, model_digest, read_state
        state_path = self.store.dir / STATE
        state = read_state(self.store.dir)
        if state is not None:
            self.state = state
            path = self.store.dir / FLOAT_MODEL
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
        atomic_save_model(self.float_model, self.store.dir / FLOAT_MODEL)
        ref = self.reference_cost()
        self.log(f"[autoq] reference {self.cost_key}: {ref:.6g}" + (" (the float model priced as 16-bit fixed point)"
                                                                  if self.cfg.goal.reference == "float16" else ""))
        from .heads import sample
        np.savez_compressed(self.store.dir / DATA_SAMPLE, x_val=self.data.x_val[:2000],
                            **sample(self.data.y_val, 2000))
        baselines = {"float": {**self._metric_fields("val", acc), "val_loss": loss, self.cost_key: ref,
                               **{k: v for k, v in self.q16_costs.items()}}}
        for b in self.cfg.baselines:
            baselines[b.name] = self.run_baseline(b)
        from .folder import model_digest
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
        from ..space import build_qmodel
        k, b, a = REFERENCE_Q16
        # the float weights copied in: EBOPs and the FPGA estimate count the bits each weight really uses
        ref_model = build_qmodel(self.float_model, self.space.uniform(k, b, a), self.space.input_quantizer,
                                 name="reference_q16")
        c = costs.model_cost(ref_model, energy=self.energy)
        self.q16_costs = {"energy": c.energy, "bits": c.bits, "bops": c.bops, "fpga": self._fpga(ref_model),
                          "ebops": self._ebops(ref_model)}
        if self.cfg.goal.reference != "float16":
            return float(self.cfg.goal.reference) * self.cfg.goal.stress
        ref = self.q16_costs[self.cost_key]
        if ref is None:
            raise ConfigError(f"goal.cost {self.cost_key!r} needs autoq.cost.estimate (the FPGA estimate), not available")
        return float(ref) * self.cfg.goal.stress

    @property
    def selection(self):
        """The winner's rule (:mod:`autoq.searching.selection`), once the float model's metric is known."""
        from .selection import Selection
        return Selection(self.constraints, self.metric, self.cost_key, self.state.get("float_val_metric"))

    def _figures(self, model) -> dict:
        """LUT, FF, DSP, BRAM, latency (ns) and II of the FPGA estimate at the export's settings (what
        ``goal.budget`` limits); {} when the estimate cannot price the model (then a budget counts it as over)."""
        from ..cost.budget import figures
        from ..cost.estimate import estimate
        try:
            return figures(estimate(model, **self.estimate_settings))
        except Exception:  # noqa: BLE001 - the estimate is informative; never fail a trial on it
            return {}

    def _ebops(self, model, pricing=None):
        """Exact effective BOPs (:mod:`autoq.cost.ebops`) of a trained model, widths traced on the training data;
        None where they cannot be counted, unless they are the goal's cost (then the trial fails, saying why)."""
        from ..cost.ebops import ebops
        try:
            if pricing is not None:  # QIL: its fixed-point equivalent, carrying the trained weights
                pricing.set_weights(model.get_weights())
                model = pricing
            return ebops(model, self.data.x_train)
        except Exception:  # noqa: BLE001 - informative beside another goal cost; never fail that trial on it
            if self.cost_key == "ebops":
                raise
            return None

    def _fpga(self, model):
        """The FPGA estimate's LUT + DSP (``FPGA_UNIT``) under the config's hls4ml settings: the export's figure."""
        from ..cost.estimate import estimate
        try:
            return float(estimate(model, **self.estimate_settings).lut_plus_dsp)
        except Exception:  # noqa: BLE001 - the estimate is informative; never fail a trial on it
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
        if self.head is not None:  # several outputs: summed losses, the metric on the head (searching.heads)
            from .heads import evaluate
            loss, value, self.output_losses = evaluate(model, x, y, self.cfg.train.loss, self.metric, self.head)
            return loss, value
        pred = predict(model, x)
        loss = float(tf.reduce_mean(tf.keras.losses.get(self.cfg.train.loss)(y, pred)))
        return loss, self.metric(y, pred)

    # ---- one trial
    def build(self, choice: dict):
        """QKeras model for a choice (float weights copied in) and its pricing model (QIL -> fixed point)."""
        from ..space import build_qmodel, split_input
        from ..widths import rebuild, split_choice
        iq, choice = split_input(choice, self.space.input_quantizer)  # space.input_quantizer as a list: searched
        widths, choice = split_choice(choice)
        base = rebuild(self.float_model, widths)  # the float model at the chosen widths (autoq.widths)
        qmodel = build_qmodel(base, choice, iq)
        pricing = None
        if any(str(s).startswith("qil(") for roles in choice.values() for s in roles.values()):
            eq = {layer: {r: str(quantizers.parse(s).equivalent()) for r, s in roles.items()}
                  for layer, roles in choice.items()}
            pricing = build_qmodel(base, eq, iq, copy_weights=False)
        return qmodel, pricing

    def run_trial(self, trial_id: str, number: int, values: dict, epochs: int | None = None, initial_epoch=0,
                  warm_start: str | None = None, tuner_id: str = "tuner0") -> dict:
        """Train and score one choice; write its record and model; return the record."""
        import tensorflow as tf
        t0 = time.time()
        choice = self.active.choice(values)
        self.log(f"[autoq] trial {trial_id} starts: {short_choice(choice)}"
                 + (f" (continues {warm_start.split('/')[1]} from epoch {initial_epoch})" if warm_start and initial_epoch
                    else f" (starts from {warm_start})" if warm_start else ""))
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
            if epochs == 0 and record.get("warm_start"):  # a learned candidate, evaluated as learned
                record.update(epochs=0, as_learned=True)
            else:
                hist = self._fit(qmodel, epochs or self.cfg.train.epochs, initial_epoch, label=trial_id)
                record["epochs"] = len(hist.get("loss", []))
                losses = hist.get("loss", [])
                if not losses or not all(math.isfinite(v) for v in losses):
                    raise FloatingPointError(f"training loss became NaN/inf at epoch {len(losses)}")
            record["ebops"] = self._ebops(qmodel, pricing)  # counts the trained weights' bits
            loss, acc = self._evaluate(qmodel)
            if not math.isfinite(loss):
                raise FloatingPointError("validation loss is NaN/inf")
            if not math.isfinite(acc):
                raise FloatingPointError(f"validation {self.metric.name} is NaN/inf")
            record.update(**self._metric_fields("val", acc), val_loss=loss, status="ok")
            record.update(self._figures(pricing or qmodel))  # trained weights: zeros cost nothing, as in the export
            if pricing is None:  # the trained weights (zeros, widths) are what the export prices
                record["fpga"] = self._fpga(qmodel)
            if self.head:  # several outputs: each one's validation loss (searching.heads)
                record["val_output_losses"] = self.output_losses
            g = self.cfg.goal
            record["score"] = costs.score(acc, record[self.cost_key], self.state["reference_cost"], g.delta_p,
                                          g.delta_n, g.rate, maximise=self.metric.maximise)
            if self.constraints.active:  # goal.budget / goal.max_drop: trials.csv marks the trial
                record.update(self.selection.verdict(record))
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
            values[name] = given.get(name.rsplit("/", 1)[1]) or specs[0]  # a searched input: its first quantizer
        import tensorflow as tf
        tf.keras.backend.clear_session()
        tf.keras.utils.set_random_seed(self.cfg.seed)
        qmodel, pricing = self.build(self.space.choice(values))
        c = costs.model_cost(qmodel, pricing, self.energy)
        self._fit(qmodel, self.cfg.train.epochs)
        loss, acc = self._evaluate(qmodel)
        eb = self._ebops(qmodel, pricing)
        self.log(f"[autoq] baseline {b.name}: val {self.metric.name} {acc:.4g}, {self.cost_key} "
                 f"{ {'energy': c.energy, 'bits': c.bits, 'bops': c.bops, 'ebops': eb}.get(self.cost_key) or 0:.6g}")
        atomic_save_model(qmodel, self.store.dir / BASELINES / f"{b.name}.h5")
        return {**self._metric_fields("val", acc), "val_loss": loss, "energy": c.energy, "bits": c.bits, "bops": c.bops,
                "ebops": eb, "fpga": self._fpga(pricing or qmodel), **self._figures(pricing or qmodel),
                "model": f"baselines/{b.name}.h5",
                "choice": {"kernel": b.kernel, "bias": b.bias, "activation": b.activation},
                "input_quantizer": self.space.input_quantizer}

    def progress(self, record: dict, max_trials: int, done: list):
        """The line a finished trial prints; ``done`` is every record on disk (read once per trial by the tuner)."""
        ref = self.state["reference_cost"]
        if record["status"] == "ok":
            c = record[self.cost_key]
            unit = f" {costs.UNITS[self.cost_key]}"
            name = "acc" if self.metric.name == "accuracy" else self.metric.name
            msg = (f"{name} {record['val_metric']:.4g} | {self.cost_key} {c:.4g}{unit} ({100 * c / ref:.1f}% of ref) "
                   f"| score {record['score']:.4f}")
            if record.get("feasible") is False:
                msg += f" | over {', '.join(record['violated'])}"
        else:
            msg = f"FAILED ({record.get('error')}), going on"
        best = self.selection.best_line(done)
        clock = f"{fmt_time(time.time() - self.t0)} elapsed"
        if max_trials:  # hyperband sizes its own brackets: no total, no estimate
            left = max(max_trials - len(done), 0)
            mean = sum(r.get("seconds", 0) for r in done) / max(len(done), 1)
            clock = f"{len(done)}/{max_trials} done | {clock}, ~{fmt_time(left * mean)} left"
        self.log(f"[autoq] trial {record['trial']} | {msg} | {best} | {record['seconds']:.1f} s | {clock}")
