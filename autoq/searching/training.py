"""Fit one model on the search's data (early stopping, stop on NaN, a line per epoch with ``--verbose``) and
evaluate it (loss and goal metric from predictions)."""
from __future__ import annotations

import math
import time

import numpy as np

from .session import Session

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


def _optimizer(session: Session):
    import tensorflow as tf
    name = session.cfg.train.optimizer.lower()
    cls = {"adam": tf.keras.optimizers.Adam, "sgd": tf.keras.optimizers.SGD,
           "rmsprop": tf.keras.optimizers.RMSprop, "adamw": tf.keras.optimizers.AdamW}[name]
    return cls(learning_rate=session.cfg.train.learning_rate)


def fit(session: Session, model, epochs, initial_epoch=0, patience=None, label: str | None = None) -> dict:
    """Train ``model`` on the training split (validated on the validation split); Keras's history."""
    import tensorflow as tf
    t, data = session.cfg.train, session.data
    patience = t.patience if patience is None else patience
    classes = data.task == "classification" and session.head is None  # several outputs: total val_loss
    model.compile(optimizer=_optimizer(session), loss=t.loss, metrics=["accuracy"] if classes else [])
    cbs = [_StopOnNaN()]
    if session.epoch_lines and label is not None:
        cbs.append(_EpochLog(session.log, label, epochs))
    if patience:
        cbs.append(tf.keras.callbacks.EarlyStopping(monitor="val_accuracy" if classes else "val_loss",
                                                    mode="max" if classes else "min", patience=patience,
                                                    restore_best_weights=True))
    hist = model.fit(data.x_train, data.y_train, validation_data=(data.x_val, data.y_val), epochs=epochs,
                     initial_epoch=initial_epoch, batch_size=t.batch_size, verbose=0, callbacks=cbs)
    return hist.history


def evaluate_outputs(session: Session, model, split: str = "val") -> tuple:
    """(loss, goal metric, {output: loss} or None) from predictions: independent of how (or whether) the model was
    compiled; the per-output losses only for a model with several outputs (:mod:`.heads`)."""
    import tensorflow as tf
    data = session.data
    x, y = (data.x_val, data.y_val) if split == "val" else (data.x_test, data.y_test)
    if session.head is not None:  # several outputs: summed losses, the metric on the head
        from .heads import evaluate as evaluate_heads
        return evaluate_heads(model, x, y, session.cfg.train.loss, session.metric, session.head)
    pred = predict(model, x)
    loss = float(tf.reduce_mean(tf.keras.losses.get(session.cfg.train.loss)(y, pred)))
    return loss, session.metric(y, pred), None


def evaluate(session: Session, model, split: str = "val") -> tuple:
    """(loss, goal metric) on ``split`` (``val`` or ``test``)."""
    loss, value, _ = evaluate_outputs(session, model, split)
    return loss, value
