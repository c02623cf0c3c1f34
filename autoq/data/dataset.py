"""The Dataset every stage takes: fixed (train, val, test) splits of numpy arrays, labels checked and one-hot
(classification), targets checked (regression) or the inputs themselves (autoencoder)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import DataError

MAX_CLASSES = 10_000
MIN_SPLIT = 10  # samples a validation or test split needs to mean anything


@dataclass
class Dataset:
    """Train/validation/test arrays; targets are one-hot labels (classification), values (regression) or the
    inputs themselves (autoencoder)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    name: str = "data"
    class_names: list = field(default_factory=list)
    synthetic: bool = False
    task: str = "classification"
    scaler_mean: np.ndarray | None = None  # standardized inputs: x = (given x - scaler_mean) / scaler_scale
    scaler_scale: np.ndarray | None = None

    @property
    def n_classes(self) -> int:
        return self.y_train.shape[1]

    @property
    def target_shape(self) -> tuple:
        return tuple(self.y_train.shape[1:])

    @property
    def input_shape(self) -> tuple:
        return tuple(self.x_train.shape[1:])

    def describe(self) -> str:
        tag = " (SYNTHETIC stand-in, not real data)" if self.synthetic else ""
        what = {"classification": f"{self.n_classes} classes", "regression": f"regression to {self.target_shape}",
                "autoencoder": "autoencoder (the target is the input)"}[self.task]
        return (f"{self.name}{tag}: {len(self.x_train)} train / {len(self.x_val)} val / {len(self.x_test)} test, "
                f"input {self.input_shape}, {what}")


def require_split_sizes(d: Dataset, how: str = "") -> Dataset:
    """The rule of every source: at least ``MIN_SPLIT`` samples in each of train, validation and test (a score on
    fewer means nothing); ``how`` says how the source split them, for the message."""
    for what, x in (("training", d.x_train), ("validation", d.x_val), ("test", d.x_test)):
        if len(x) < MIN_SPLIT:
            raise DataError(f"{d.name}: {len(x)} {what} samples{how}; need at least {MIN_SPLIT} in each split")
    return d


def check_labels(y, name: str = "data") -> np.ndarray:
    """Labels as given, checked: numbers, finite, class indices 0..K-1 of shape (N,) or (N, 1), or one-hot / class
    scores of shape (N, K) that are not negative."""
    y = np.asarray(y)
    if y.dtype == object or not (np.issubdtype(y.dtype, np.number) or y.dtype == bool):
        raise DataError(f"{name}: labels must be numbers (class indices or one-hot rows), got {y.dtype} values such as "
                        f"{y.reshape(-1)[:1].tolist()}")
    if y.ndim == 0 or y.ndim > 2 or len(y) == 0:
        raise DataError(f"{name}: labels of shape {y.shape}; expected (N,) class indices or (N, classes) one-hot")
    if not np.isfinite(y.astype("float64")).all():
        raise DataError(f"{name}: labels contain NaN or infinite values")
    if y.ndim == 2 and y.shape[1] > 1:
        if y.shape[1] > MAX_CLASSES or (y < 0).any():
            raise DataError(f"{name}: one-hot labels must be (N, classes) with classes <= {MAX_CLASSES} and no "
                            "negative values")
        return y
    flat = y.reshape(-1).astype("float64")
    if (flat < 0).any() or (flat != np.round(flat)).any() or flat.max() >= MAX_CLASSES:
        bad = flat[(flat < 0) | (flat != np.round(flat)) | (flat >= MAX_CLASSES)][0]
        raise DataError(f"{name}: class labels must be whole numbers from 0 to {MAX_CLASSES - 1}, found {bad:g}")
    return y


def one_hot(y, n_classes=None) -> np.ndarray:
    """Integer labels -> one-hot float32 (one-hot input is returned as float32)."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] > 1:
        return y.astype("float32")
    y = y.reshape(-1).astype(int)
    n = int(n_classes or (y.max() + 1))
    return np.eye(n, dtype="float32")[y]


def check_targets(y, name: str = "data") -> np.ndarray:
    """Regression targets: finite numbers, (N,) or (N, k) -> float32 (N, k)."""
    try:
        y = np.asarray(y, dtype="float32")
    except (TypeError, ValueError) as exc:
        raise DataError(f"{name}: regression targets must be numbers ({exc})") from None
    if y.ndim not in (1, 2) or len(y) == 0:
        raise DataError(f"{name}: regression targets of shape {y.shape}; expected (N,) or (N, outputs)")
    if not np.isfinite(y).all():
        raise DataError(f"{name}: regression targets contain NaN or infinite values")
    return y.reshape(len(y), -1)


def standardize_splits(xs: list) -> tuple:
    """(arrays standardized with the first's (the training split's) mean and std per feature, or per channel of an
    image; mean; std). A constant feature keeps std 1."""
    axes = tuple(range(xs[0].ndim - 1)) if xs[0].ndim > 2 else 0
    mean, std = xs[0].mean(axis=axes), xs[0].std(axis=axes)
    std = np.where(std > 0, std, 1.0)
    return [((a - mean) / std).astype("float32") for a in xs], mean.astype("float32"), std.astype("float32")


def from_arrays(x, y, *, val_fraction=0.2, test_fraction=0.2, seed=0, standardize=True, name="arrays",
                class_names=None, synthetic=False, task="classification") -> Dataset:
    """Split arrays into train/val/test (stratified for classes, fixed seed); standardize inputs with train
    statistics. ``task`` regression keeps ``y`` as values; autoencoder ignores ``y`` and targets the inputs."""
    if task != "classification":
        return _unlabelled(x, y, val_fraction, test_fraction, seed, standardize, name, synthetic, task)
    from sklearn.model_selection import train_test_split

    try:
        x = np.asarray(x, dtype="float32")
    except (TypeError, ValueError) as exc:
        raise DataError(f"{name}: inputs must be numbers ({exc})") from None
    y = check_labels(y, name)
    if x.ndim < 2:
        raise DataError(f"{name}: inputs of shape {x.shape}; expected (samples, features...)")
    if len(x) != len(y):
        raise DataError(f"{name}: {len(x)} inputs but {len(y)} labels")
    if len(x) < 10:
        raise DataError(f"{name}: only {len(x)} samples; need at least 10 to split train/val/test")
    if not np.isfinite(x).all():
        raise DataError(f"{name}: inputs contain NaN or infinite values")
    labels = y.argmax(1) if (y.ndim == 2 and y.shape[1] > 1) else y.reshape(-1)
    n_classes = int(y.shape[1]) if (y.ndim == 2 and y.shape[1] > 1) else int(labels.max()) + 1
    counts = np.bincount(labels.astype(int))
    strat = labels if counts.min() >= 3 else None
    n_test = int(np.ceil(test_fraction * len(x)))
    n_val = int(np.ceil(val_fraction / (1 - test_fraction) * (len(x) - n_test)))
    need = max(MIN_SPLIT, n_classes if strat is not None else 0)
    for what, n, frac in (("validation", n_val, "val_fraction"), ("test", n_test, "test_fraction")):
        if n < need:
            raise DataError(f"{name}: {frac} {val_fraction if what == 'validation' else test_fraction} leaves {n} "
                            f"{what} samples of {len(x)}; need at least {need}: raise {frac}")
    if len(x) - n_test - n_val < need:
        raise DataError(f"{name}: val_fraction + test_fraction leave {len(x) - n_test - n_val} training samples of "
                        f"{len(x)}; need at least {need}")
    x_rest, x_test, l_rest, l_test = train_test_split(x, labels, test_size=test_fraction, random_state=seed,
                                                      stratify=strat)
    strat = l_rest if strat is not None else None
    x_train, x_val, l_train, l_val = train_test_split(x_rest, l_rest, test_size=val_fraction / (1 - test_fraction),
                                                      random_state=seed, stratify=strat)
    mean = std = None
    if standardize:
        (x_train, x_val, x_test), mean, std = standardize_splits([x_train, x_val, x_test])
    return Dataset(x_train, one_hot(l_train, n_classes), x_val, one_hot(l_val, n_classes), x_test,
                   one_hot(l_test, n_classes), name=name,
                   class_names=list(class_names) if class_names is not None else [str(i) for i in range(n_classes)],
                   synthetic=synthetic, scaler_mean=mean, scaler_scale=std)


def _unlabelled(x, y, val_fraction, test_fraction, seed, standardize, name, synthetic, task) -> Dataset:
    """Random (unstratified) splits for regression and autoencoders."""
    try:
        x = np.asarray(x, dtype="float32")
    except (TypeError, ValueError) as exc:
        raise DataError(f"{name}: inputs must be numbers ({exc})") from None
    if x.ndim < 2 or not np.isfinite(x).all():
        raise DataError(f"{name}: expected (samples, features...) inputs of finite numbers, got shape {x.shape}")
    y = x if task == "autoencoder" else check_targets(y, name)
    if len(x) != len(y):
        raise DataError(f"{name}: {len(x)} inputs but {len(y)} targets")
    idx = np.random.default_rng(seed).permutation(len(x))
    n_test, n_val = int(np.ceil(test_fraction * len(x))), int(np.ceil(val_fraction * len(x)))
    if min(n_test, n_val, len(x) - n_test - n_val) < MIN_SPLIT:
        raise DataError(f"{name}: {len(x)} samples split {1 - val_fraction - test_fraction:.2f}/{val_fraction}/"
                        f"{test_fraction} leave fewer than {MIN_SPLIT} in a split")
    parts = np.split(idx, [len(x) - n_test - n_val, len(x) - n_test])
    xs = [x[p] for p in parts]
    mean = std = None
    if standardize:
        xs, mean, std = standardize_splits(xs)
    ys = xs if task == "autoencoder" else [y[p] for p in parts]
    return Dataset(xs[0], ys[0], xs[1], ys[1], xs[2], ys[2], name=name, synthetic=synthetic, task=task,
                   scaler_mean=mean, scaler_scale=std)


def presplit(arrays, name: str = "data", task: str = "classification", standardize: bool = False) -> Dataset:
    """A Dataset from six given arrays (x_train, y_train, x_val, y_val, x_test, y_test), checked; inputs
    standardized with x_train's statistics only if asked."""
    keys = ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test")
    xs, ys = [], []
    for i, (key, a) in enumerate(zip(keys, arrays)):
        if i % 2:
            if task == "classification":
                ys.append(check_labels(a, f"{name} {key}"))
            elif task == "regression":
                ys.append(check_targets(a, f"{name} {key}"))
            continue
        try:
            xs.append(np.asarray(a, dtype="float32"))
        except (TypeError, ValueError) as exc:
            raise DataError(f"{name} {key}: inputs must be numbers ({exc})") from None
        if xs[-1].ndim < 2 or len(xs[-1]) == 0 or not np.isfinite(xs[-1]).all():
            raise DataError(f"{name} {key}: expected a non-empty (samples, features...) array of finite numbers, got "
                            f"shape {xs[-1].shape}")
    for key, x, y in zip(keys[::2], xs, ys if task != "autoencoder" else xs):
        if len(x) != len(y):
            raise DataError(f"{name}: {key} has {len(x)} samples but its labels {len(y)}")
        if x.shape[1:] != xs[0].shape[1:]:
            raise DataError(f"{name}: {key} has inputs of shape {x.shape[1:]}, x_train {xs[0].shape[1:]}")
    mean = std = None
    if standardize:
        xs, mean, std = standardize_splits(xs)
    if task != "classification":
        ys = xs if task == "autoencoder" else ys
        return require_split_sizes(Dataset(xs[0], ys[0], xs[1], ys[1], xs[2], ys[2], name=name, task=task,
                                           scaler_mean=mean, scaler_scale=std))
    n = max(y.shape[1] if y.ndim == 2 and y.shape[1] > 1 else int(y.max()) + 1 for y in ys)
    onehot = []
    for key, y in zip(keys[1::2], ys):
        if y.ndim == 2 and y.shape[1] > 1 and y.shape[1] != n:
            raise DataError(f"{name}: {key} has {y.shape[1]} classes, the other splits {n}")
        onehot.append(one_hot(y, n))
    return require_split_sizes(Dataset(xs[0], onehot[0], xs[1], onehot[1], xs[2], onehot[2], name=name,
                                       class_names=[str(i) for i in range(n)], scaler_mean=mean, scaler_scale=std))
