"""One trial: build the QKeras model for a choice from the float model (float weights copied in as the start
point), train it with early stopping, price it, score the goal metric x forgiving factor of the cost, save it, and
return its record. Unlike AutoQKeras, each trial's trained model is saved, so the winner needs no retraining.
"""
from __future__ import annotations

import math
import time

from .. import cost as costs
from .. import quantizers
from .layout import TRIAL_MODEL, TRIALS
from .pricing import ebops, figures
from .progress import short_choice
from .result import load_model
from .session import Session
from .stage import Stage
from .store import atomic_save_model, storage_error
from .training import evaluate_outputs, fit


def build(session: Session, choice: dict):
    """QKeras model for a choice (float weights copied in) and its pricing model (QIL -> fixed point)."""
    from ..space import build_qmodel, split_input
    from ..widths import rebuild, split_choice
    iq, choice = split_input(choice, session.space.input_quantizer)  # space.input_quantizer as a list: searched
    widths, choice = split_choice(choice)
    base = rebuild(session.float_model, widths)  # the float model at the chosen widths (autoq.widths)
    qmodel = build_qmodel(base, choice, iq)
    pricing = None
    if any(str(s).startswith("qil(") for roles in choice.values() for s in roles.values()):
        eq = {layer: {r: str(quantizers.parse(s).equivalent()) for r, s in roles.items()}
              for layer, roles in choice.items()}
        pricing = build_qmodel(base, eq, iq, copy_weights=False)
    return qmodel, pricing


def run_trial(session: Session, stage: Stage, trial_id: str, number: int, values: dict, epochs: int | None = None,
              initial_epoch=0, warm_start: str | None = None, tuner_id: str = "tuner0") -> dict:
    """Train and score one choice of the stage's space; write its record and model; return the record."""
    import tensorflow as tf
    t0, cfg, store = time.time(), session.cfg, session.store
    choice = stage.space.choice(values)
    session.log(f"[autoq] trial {trial_id} starts: {short_choice(choice)}"
                + (f" (continues {warm_start.split('/')[1]} from epoch {initial_epoch})" if warm_start and initial_epoch
                   else f" (starts from {warm_start})" if warm_start else ""))
    record = {"trial": trial_id, "number": number, "tuner_id": tuner_id, "choice": choice,
              **({"partial": True} if stage.partial else {}),
              "hp": dict(values), "status": "running", "seed": cfg.seed + number}
    try:
        tf.keras.backend.clear_session()
        tf.keras.utils.set_random_seed(cfg.seed + number)
        qmodel, pricing = build(session, choice)
        if warm_start:
            src = store.dir / warm_start
            if src.is_file():  # hyperband: continue the trial this one was promoted from
                qmodel.set_weights(load_model(src, session.trust).get_weights())
                record["warm_start"] = warm_start
        c = costs.model_cost(qmodel, pricing, session.energy)
        record.update(energy=c.energy, bits=c.bits, bops=c.bops, layers=[vars(r) for r in c.layers])
        if epochs == 0 and record.get("warm_start"):  # a learned candidate, evaluated as learned
            record.update(epochs=0, as_learned=True)
        else:
            hist = fit(session, qmodel, epochs or cfg.train.epochs, initial_epoch, label=trial_id)
            losses = hist.get("loss", [])
            record["epochs"] = len(losses)
            if not losses or not all(math.isfinite(v) for v in losses):
                raise FloatingPointError(f"training loss became NaN/inf at epoch {len(losses)}")
        record["ebops"] = ebops(session, qmodel, pricing)  # counts the trained weights' bits
        loss, acc, output_losses = evaluate_outputs(session, qmodel)
        if not math.isfinite(loss):
            raise FloatingPointError("validation loss is NaN/inf")
        if not math.isfinite(acc):
            raise FloatingPointError(f"validation {session.metric.name} is NaN/inf")
        record.update(**session.metric_fields("val", acc), val_loss=loss, status="ok")
        # one estimate of the trained weights (QIL: its fixed-point equivalent, carrying them since ebops()):
        # zeros cost nothing and widths are the weights' own, as in the export
        record.update(figures(session, pricing or qmodel))
        if output_losses is not None:  # several outputs: each one's validation loss (searching.heads)
            record["val_output_losses"] = output_losses
        g = cfg.goal
        record["score"] = costs.score(acc, record[session.cost_key], session.state["reference_cost"], g.delta_p,
                                      g.delta_n, g.rate, maximise=session.metric.maximise)
        if session.constraints.active:  # goal.budget / goal.max_drop: trials.csv marks the trial
            record.update(session.selection.verdict(record))
        model_rel = f"{TRIALS}/{trial_id}/{TRIAL_MODEL}"
        atomic_save_model(qmodel, store.dir / model_rel)
        record["model"] = model_rel
    except Exception as exc:  # noqa: BLE001 - any trial error is recorded (trials.csv), never lost silently
        if storage_error(exc) is not None:
            raise  # not the trial's fault: the search stops (resumable) instead of failing every trial
        msg = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
        record.update(status="failed", error=f"{type(exc).__name__}: {msg}", score=None,
                      **session.metric_fields("val", None))
    record["seconds"] = round(time.time() - t0, 3)
    store.write_record(record)
    return record
