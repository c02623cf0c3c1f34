"""Where a search's data comes from: the config's source (scikit-learn sets, an npz file, the jet files and the
synthetic jets) or arrays handed to the API, turned into a :class:`autoq.data.Dataset`."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import DataError
from . import jets
from .dataset import Dataset, from_arrays, presplit, require_split_sizes

SKLEARN = ("digits", "iris", "wine", "breast_cancer", "diabetes")


def load_dataset(cfg, base_dir=".") -> Dataset:
    """Load the dataset a :class:`autoq.config.DataConfig` names (standardized unless data.standardize is false)."""
    split = dict(val_fraction=cfg.val_fraction, test_fraction=cfg.test_fraction, seed=cfg.seed,
                 standardize=cfg.standardize is not False, task=cfg.task)
    path = None
    if cfg.path:
        path = Path(cfg.path).expanduser()
        if not path.is_absolute():
            path = Path(base_dir) / path
    if cfg.source in SKLEARN:
        import sklearn.datasets as skd
        bunch = getattr(skd, f"load_{cfg.source}")()
        names = [str(n) for n in getattr(bunch, "target_names", [])] or None
        return from_arrays(bunch.data, bunch.target, name=cfg.source, class_names=names, **split)
    if cfg.source == "npz":
        return load_npz(path, presplit_standardize=cfg.standardize is True, **split)
    if cfg.source == "digits-heads":  # two outputs: digit class and mean ink (autoq.data.heads)
        from .heads import digits_heads
        return digits_heads(**split)
    if cfg.task != "classification":
        raise DataError(f"data source {cfg.source!r} is a classification set; data.task {cfg.task!r} needs arrays or "
                        "an npz file")
    if cfg.source in ("jets", "jets-synthetic", "jets-generated"):
        if cfg.source == "jets-synthetic":
            x, y, names = jets.make_synthetic_jets(n=cfg.n_samples, seed=cfg.seed)
            return from_arrays(x, y, name="jets-synthetic", class_names=names, synthetic=True, **split)
        if path is None and cfg.source == "jets-generated":
            raise DataError("data source 'jets-generated' needs a file made by `autoq data make-jets` (e.g. "
                            "autoq data make-jets --n 100000 --seed 1 --output jets_generated.npz): set data.path "
                            "in the YAML or pass --data PATH")
        if path is None:
            raise DataError("data source 'jets' needs the OpenML jet file (hls4ml_lhc_jets_hlf, OpenML 42468): set "
                            "data.path in the YAML or pass --data PATH.\n" + jets.GET_DATA_HINT)
        if not path.is_file():
            raise DataError(f"{path}: no such file" + ("" if Path(cfg.path).expanduser().is_absolute() else
                            f" (data.path {cfg.path!r} is relative to the YAML file's folder; --data to the current "
                            "directory)"))
        generated = jets.is_generated(path)
        if cfg.source == "jets-generated" and not generated:
            raise DataError(f"{path}: data source 'jets-generated' reads files made by `autoq data make-jets`, and "
                            "this one is not; use data source 'jets' for the OpenML set")
        try:
            x, y, names = jets.load_jets(path)
        except FileNotFoundError as exc:
            raise DataError(str(exc)) from None
        except ValueError as exc:
            raise DataError(str(exc)) from None
        # the paper's preprocessing: 80/20 split (random_state=42), StandardScaler fitted on train, one-hot
        d = jets.jets_splits(x, y, class_names=names, seed=42, test_size=0.2, val_size=0.25)
        d.name = "jets-generated" if generated else "jets"  # generated data is never named as the OpenML set
        return require_split_sizes(d, f" of {len(x)} jets split 60/20/20 (train/val/test, as hls4ml's tutorial)")
    raise DataError(f"data source {cfg.source!r} needs arrays: pass them to autoq.search(model, (x, y), config)")


def load_npz(path, presplit_standardize: bool = False, **split) -> Dataset:
    """An .npz with ``x``/``y`` (or ``X``/``y``), or pre-split ``x_train, y_train, x_val, y_val, x_test, y_test``
    (standardized only with ``presplit_standardize``: data.standardize true)."""
    if path is None or not Path(path).is_file():
        raise DataError(f"npz file not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except Exception as exc:
        raise DataError(f"cannot read {path} as .npz: {exc}") from None
    keys = ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test")
    if all(k in arrays for k in keys):  # the file's own splits: standardized only when data.standardize is true
        return presplit([arrays[k] for k in keys], name=Path(path).stem, task=split.get("task", "classification"),
                        standardize=presplit_standardize)
    x = arrays.get("x", arrays.get("X"))
    y = arrays.get("y", arrays.get("Y"))
    if x is None or y is None:
        raise DataError(f"{path}: expected arrays 'x' and 'y' (or x_train, y_train, x_val, y_val, x_test, y_test); "
                        f"found {', '.join(sorted(arrays)) or 'none'}")
    return from_arrays(x, y, name=Path(path).stem, **split)


def as_dataset(data, cfg=None) -> Dataset:
    """Accept a Dataset, an (x, y) tuple, a 6-tuple of splits, or a dict of split arrays. Arrays are used as given
    (split, not rescaled) unless ``cfg.standardize`` is true."""
    if isinstance(data, Dataset):
        return data
    split = {"standardize": False}
    if cfg is not None:
        split = dict(val_fraction=cfg.val_fraction, test_fraction=cfg.test_fraction, seed=cfg.seed,
                     standardize=cfg.standardize is True, task=cfg.task)
    if isinstance(data, dict):
        keys = ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test")
        missing = [k for k in keys if k not in data]
        if missing:
            raise DataError(f"data dict is missing {', '.join(missing)}")
        data = tuple(data[k] for k in keys)
    if isinstance(data, (tuple, list)):
        if len(data) == 2:
            return from_arrays(data[0], data[1], **split)
        if len(data) == 6:
            return presplit(data, task=split.get("task", "classification"), standardize=split["standardize"])
    raise DataError("data must be a Dataset, (x, y), (x_train, y_train, x_val, y_val, x_test, y_test) or a dict "
                    f"of those arrays; got {type(data).__name__}")
