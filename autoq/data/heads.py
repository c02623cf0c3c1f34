"""Multi-output data: a :class:`HeadsDataset` holds its targets as dicts ``{output name: array}`` (the names of the
model's output layers), ``tasks`` says each output's kind; ``digits-heads`` is scikit-learn's digits with a class
and a regression target. The search side (a loss per output, ``goal.head`` scoring) is :mod:`autoq.searching.heads`,
the export check of every output :func:`autoq.exporting.check.compare_outputs`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .dataset import Dataset


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
