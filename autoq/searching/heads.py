"""Multi-output models in the search: targets per output, a loss per output, one head that scores (AutoQKeras's
``head_name``).

A multi-output dataset's targets are dicts ``{output name: array}`` (:class:`autoq.data.heads.HeadsDataset`). Every
output trains with its loss (``train.loss``: one loss for all, or ``{output: loss}``); the goal metric is computed
on ``goal.head`` alone (default: the first output, as AutoQKeras takes the first metric), and the validation loss
is Keras's total (the sum over the outputs). The export checks every output of the C simulation against QKeras
(:func:`autoq.exporting.check.compare_outputs`).
"""
from __future__ import annotations

from ..data.heads import is_multi
from ..errors import ConfigError, DataError


def output_names(model) -> list:
    return list(model.output_names)


def check_fits(model, data) -> None:
    """The model's outputs are the dataset's targets, by name and shape (one DataError line otherwise)."""
    if len(model.inputs) != 1:
        raise DataError(f"the model {model.name!r} has {len(model.inputs)} inputs; autoq searches models with one "
                        "input")
    want = tuple(model.input_shape[1:])
    if tuple(data.input_shape) != want:
        raise DataError(f"the model expects inputs of shape {want} but the dataset {data.name!r} has "
                        f"{tuple(data.input_shape)}")
    names = output_names(model)
    if not is_multi(data):
        raise DataError(f"the model {model.name!r} has {len(names)} outputs ({', '.join(names)}) but the dataset "
                        f"{data.name!r} gives one target; give a target per output (a dict output name -> array)")
    if sorted(names) != sorted(data.y_train):
        raise DataError(f"the model's outputs are {', '.join(names)} but the dataset {data.name!r} has targets for "
                        f"{', '.join(data.y_train)}")
    shapes = dict(zip(names, model.output_shape if isinstance(model.output_shape, list) else [model.output_shape]))
    for name in names:
        got, exp = tuple(shapes[name][1:]), tuple(data.y_train[name].shape[1:])
        if got != exp:
            raise DataError(f"the model's output {name!r} has shape {got} but the dataset {data.name!r} has targets "
                            f"of shape {exp} for it")


def resolve_head(model, head: str | None, source: str | None = None) -> str | None:
    """The scoring output (None for a single-output model without goal.head)."""
    names = output_names(model)
    if head is not None and head not in names:
        raise ConfigError(f"{head!r} is not an output of the model; its outputs: {', '.join(names)}",
                          key="goal.head", source=source)
    if len(names) == 1:
        return None
    return head or names[0]


def check_losses(loss, model, source: str | None = None) -> None:
    """A loss dict names every output of the model (and no other)."""
    if not isinstance(loss, dict):
        return
    names = output_names(model)
    extra, missing = [k for k in loss if k not in names], [n for n in names if n not in loss]
    if extra or missing:
        raise ConfigError(("names no output " + ", ".join(map(repr, extra)) if extra else
                           "has no loss for output " + ", ".join(map(repr, missing)))
                          + f"; the model's outputs: {', '.join(names)}", key="train.loss", source=source)


def predictions(model, x) -> dict:
    pred = model.predict(x, batch_size=1024, verbose=0)
    pred = pred if isinstance(pred, list) else [pred]
    return dict(zip(output_names(model), pred))


def evaluate(model, x, y: dict, loss, metric, head: str) -> tuple:
    """(total loss = sum of the per-output losses, goal metric on ``head``, {output: loss})."""
    import tensorflow as tf
    pred = predictions(model, x)
    per = {}
    for name, p in pred.items():
        fn = tf.keras.losses.get(loss[name] if isinstance(loss, dict) else loss)
        per[name] = float(tf.reduce_mean(fn(y[name], p)))
    return float(sum(per.values())), metric(y[head], pred[head]), per


def sample(y, n: int) -> dict:
    """Arrays for data_sample.npz: ``y_val`` (single output) or ``y_val_<output>`` per output."""
    if isinstance(y, dict):
        return {f"y_val_{k}": v[:n] for k, v in y.items()}
    return {"y_val": y[:n]}
