"""Multi-output models: targets per output, a loss per output, one head that scores (AutoQKeras's ``head_name``).

A multi-output dataset's targets are dicts ``{output name: array}`` (the names of the model's output layers). Every
output trains with its loss (``train.loss``: one loss for all, or ``{output: loss}``); the goal metric is computed
on ``goal.head`` alone (default: the first output, as AutoQKeras takes the first metric), and the validation loss
is Keras's total (the sum over the outputs). The export checks every output of the C simulation against QKeras.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .datasets import Dataset
from .errors import ConfigError, DataError


@dataclass
class HeadsDataset(Dataset):
    """A Dataset whose ``y_*`` are dicts ``{output name: targets}``; ``tasks`` says each output's kind."""

    tasks: dict = field(default_factory=dict)  # output name -> classification | regression

    @property
    def n_classes(self) -> int:
        cls = [k for k, t in self.tasks.items() if t == "classification"]
        return int(self.y_train[cls[0]].shape[1]) if cls else 0

    @property
    def target_shape(self) -> dict:
        return {k: tuple(v.shape[1:]) for k, v in self.y_train.items()}

    def describe(self) -> str:
        heads = ", ".join(f"{k} ({'%d classes' % v.shape[1] if self.tasks.get(k) == 'classification' else 'regression'}"
                          f")" for k, v in self.y_train.items())
        return (f"{self.name}: {len(self.x_train)} train / {len(self.x_val)} val / {len(self.x_test)} test, "
                f"input {self.input_shape}, outputs {heads}")


def is_multi(data) -> bool:
    return isinstance(getattr(data, "y_train", None), dict)


def digits_heads(val_fraction=0.2, test_fraction=0.2, seed=0, standardize=True, **_) -> HeadsDataset:
    """scikit-learn's digits with two targets: ``digit`` (one-hot class) and ``ink`` (the image's mean pixel value,
    standardized with the training split's statistics); stratified split by class."""
    import sklearn.datasets as skd
    from sklearn.model_selection import train_test_split

    bunch = skd.load_digits()
    x, labels = bunch.data.astype("float32"), bunch.target
    ink = x.mean(axis=1, keepdims=True)
    idx = np.arange(len(x))
    rest, test = train_test_split(idx, test_size=test_fraction, stratify=labels, random_state=seed)
    train, val = train_test_split(rest, test_size=val_fraction / (1 - test_fraction), stratify=labels[rest],
                                  random_state=seed)
    xs = [x[p] for p in (train, val, test)]
    if standardize:
        mean, std = xs[0].mean(0), xs[0].std(0)
        xs = [((a - mean) / np.where(std > 0, std, 1.0)).astype("float32") for a in xs]
    imean, istd = ink[train].mean(), ink[train].std()
    onehot = np.eye(10, dtype="float32")[labels]
    ys = [{"digit": onehot[p], "ink": ((ink[p] - imean) / istd).astype("float32")} for p in (train, val, test)]
    return HeadsDataset(xs[0], ys[0], xs[1], ys[1], xs[2], ys[2], name="digits-heads",
                        class_names=[str(i) for i in range(10)], task="classification",
                        tasks={"digit": "classification", "ink": "regression"})


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


# ------------------------------------------------------------------------------------------ export check

def keras_output(kmodel, keras_out: dict) -> np.ndarray:
    """The Keras outputs as the testbench reads them: every output flattened, concatenated in output order."""
    names = output_names(kmodel)
    return np.concatenate([keras_out[n].reshape(len(keras_out[n]), -1) for n in names], axis=1)


def compare_outputs(kmodel, hls_model, keras_out: dict, y_hls, trace: dict, floats: set):
    """:func:`autoq.export_check.compare` for each output (its logits when it is a float softmax), merged: the
    worst agreement and difference, the first mismatching layer."""
    import tensorflow as tf

    from .export_check import Check, compare
    y_hls = y_hls if isinstance(y_hls, (list, tuple)) else [y_hls]
    checks = []
    for out, y in zip(kmodel.outputs, y_hls):
        sub = tf.keras.Model(kmodel.inputs, out)
        checks.append(compare(sub, hls_model, keras_out, np.asarray(y), trace, floats))
    diffs = {}
    for c in checks:
        diffs.update(c.layer_max_abs_diff)
    sm = [c for c in checks if c.softmax_agreement is not None]
    return Check("+".join(c.compared_layer for c in checks), min(c.agreement for c in checks),
                 max(c.max_abs_diff for c in checks),
                 next((c.first_mismatch_layer for c in checks if c.first_mismatch_layer), None), diffs,
                 min(c.softmax_agreement for c in sm) if sm else None,
                 max(c.softmax_max_abs_diff for c in sm) if sm else None)
