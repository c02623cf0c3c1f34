"""The search's preparation: the float model (trained when asked, checked, saved), the reference cost, the
validation sample and the baselines, kept in ``state.json``. Idempotent: a resumed run or a worker reads the state
and the saved float model back instead."""
from __future__ import annotations

import math
import time

import numpy as np

from .. import cost as costs
from ..errors import AutoqError, ResultsError
from .folder import FRESH_HINT, model_digest, read_state
from .heads import sample
from .layout import BASELINES, DATA_SAMPLE, FLOAT_MODEL, STATE
from .pricing import ebops, figures, reference
from .provenance import config_digest, versions
from .result import load_model
from .session import Session
from .store import atomic_save_model, atomic_write_json
from .training import evaluate, fit
from .trial import build


def prepare(session: Session, train_float: bool) -> Session:
    """The session with its state (and the float model the state was made with): read back when the folder holds
    it, else made (``state.json``, ``float_model.h5``, ``data_sample.npz``, ``baselines/``)."""
    state = read_state(session.store.dir)
    if state is not None:
        return _resumed(session, state)
    cfg, log, out = session.cfg, session.log, session.store.dir
    out.mkdir(parents=True, exist_ok=True)
    import tensorflow as tf
    tf.keras.utils.set_random_seed(cfg.seed)
    t = time.time()
    if train_float:
        log(f"[autoq] training the float model for up to {cfg.train.float_epochs} epochs ...")
        # a patient float run: the float model is the start point and the yardstick of every trial
        fit(session, session.float_model, cfg.train.float_epochs,
            patience=max(10, cfg.train.patience) if cfg.train.patience else 0)
    loss, acc = evaluate(session, session.float_model)
    m = session.metric.name
    if not (math.isfinite(loss) and math.isfinite(acc)):
        raise AutoqError(f"the float model's validation loss is {loss} after "
                         f"{'training' if train_float else 'loading'}: it diverged (train.learning_rate "
                         f"{cfg.train.learning_rate} too high?) or produces NaN; fix it before searching")
    _, test_acc = evaluate(session, session.float_model, "test")
    log(f"[autoq] float model: val {m} {acc:.4g}, test {m} {test_acc:.4g} ({time.time() - t:.1f} s)")
    atomic_save_model(session.float_model, out / FLOAT_MODEL)
    ref, q16 = reference(session)
    log(f"[autoq] reference {session.cost_key}: {ref:.6g}" + (" (the float model priced as 16-bit fixed point)"
                                                              if cfg.goal.reference == "float16" else ""))
    np.savez_compressed(out / DATA_SAMPLE, x_val=session.data.x_val[:2000], **sample(session.data.y_val, 2000))
    baselines = {"float": {**session.metric_fields("val", acc), "val_loss": loss, session.cost_key: ref, **q16}}
    for b in cfg.baselines:
        baselines[b.name] = baseline(session, b)
    state = {"config_digest": config_digest(cfg), "fingerprint": session.fingerprint,
             "float_model_digest": model_digest(session.float_model),
             "config": cfg.to_dict(), "seed": cfg.seed,
             **session.metric_fields("float_val", acc), **session.metric_fields("float_test", test_acc),
             "metric": m, "direction": session.metric.direction, "reference_cost": ref,
             "cost": session.cost_key, "baselines": baselines, "versions": versions(),
             "dataset": session.data.describe(), "synthetic_data": session.data.synthetic,
             "space_size": session.space.size(), "started": time.strftime("%Y-%m-%dT%H:%M:%S")}
    atomic_write_json(out / STATE, state)
    return session.but(state=state)


def _resumed(session: Session, state: dict) -> Session:
    """The session of a folder already prepared: its saved float model, unchanged since."""
    path = session.store.dir / FLOAT_MODEL
    if not path.is_file():
        raise ResultsError(f"{path} is missing: every trial of this search starts from it; restore it, or "
                           f"{FRESH_HINT}")
    float_model = load_model(path, session.trust)
    if state.get("float_model_digest") not in (None, model_digest(float_model)):
        raise ResultsError(f"{path} is not the float model this search trained (its weights changed); "
                           f"restore it, or {FRESH_HINT}")
    session.log(f"[autoq] resuming {session.store.dir}: {len(session.store.records())} trial(s) on record")
    return session.but(float_model=float_model, state=state)


def baseline(session: Session, b) -> dict:
    """A configured baseline: every layer at one quantizer, trained like a trial; its figures for ``state.json``."""
    given = {"kernel": b.kernel, "bias": b.bias, "activation": b.activation}
    space = session.space
    values = {name: given.get(name.rsplit("/", 1)[1]) or specs[0]  # a searched input: its first quantizer
              for name, specs in space.hp_choices().items()}
    import tensorflow as tf
    tf.keras.backend.clear_session()
    tf.keras.utils.set_random_seed(session.cfg.seed)
    qmodel, pricing = build(session, space.choice(values))
    c = costs.model_cost(qmodel, pricing, session.energy)
    fit(session, qmodel, session.cfg.train.epochs)
    loss, acc = evaluate(session, qmodel)
    eb = ebops(session, qmodel, pricing)
    key = session.cost_key
    session.log(f"[autoq] baseline {b.name}: val {session.metric.name} {acc:.4g}, {key} "
                f"{ {'energy': c.energy, 'bits': c.bits, 'bops': c.bops, 'ebops': eb}.get(key) or 0:.6g}")
    atomic_save_model(qmodel, session.store.dir / BASELINES / f"{b.name}.h5")
    return {**session.metric_fields("val", acc), "val_loss": loss, "energy": c.energy, "bits": c.bits, "bops": c.bops,
            "ebops": eb, **figures(session, pricing or qmodel),
            "model": f"baselines/{b.name}.h5", "choice": given, "input_quantizer": space.input_quantizer}
