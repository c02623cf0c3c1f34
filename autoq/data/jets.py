"""The hls4ml LHC jet-tagging dataset (16 high-level features, 5 classes).

The real data is OpenML dataset 42468 ``hls4ml_lhc_jets_hlf`` (~830k jets; Pierini et al., Zenodo
10.5281/zenodo.3602260; used by Duarte et al. 2018 and Coelho et al. 2021). This module reads a local copy in any
of the common formats (:func:`load_jets`), applies the paper's preprocessing (:func:`jets_splits`) and provides a
clearly SYNTHETIC stand-in for tests and demos (:func:`make_synthetic_jets`). Nothing is downloaded.

Over 400 lines because it reads five file formats; they share the column and label rules of this one dataset.
"""
from __future__ import annotations

import csv
import gzip
import io
import os
import re
import zipfile
from dataclasses import dataclass

import numpy as np

from .dataset import Dataset

#: The 16 high-level features, in the order of the OpenML dataset and the hls4ml tutorial.
JET_FEATURES = (
    "zlogz", "c1_b0_mmdt", "c1_b1_mmdt", "c1_b2_mmdt", "c2_b1_mmdt", "c2_b2_mmdt", "d2_b1_mmdt", "d2_b2_mmdt",
    "d2_a1_b1_mmdt", "d2_a1_b2_mmdt", "m2_b1_mmdt", "m2_b2_mmdt", "n2_b1_mmdt", "n2_b2_mmdt", "mass_mmdt",
    "multiplicity",
)
#: Class labels in sklearn ``LabelEncoder`` order (gluon, light quark, top, W, Z), as in the hls4ml tutorial.
JET_CLASSES = ("g", "q", "t", "w", "z")
#: Accepted names of the label column (case-insensitive); OpenML calls it ``class``.
LABEL_COLUMNS = ("class", "target", "label", "y")
#: Class fractions used by :func:`make_synthetic_jets` (see its docstring).
SYNTHETIC_CLASS_FRACTIONS = (0.2, 0.2, 0.2, 0.2, 0.2)

_FORMATS = ("arff", "csv", "npz", "parquet")
_DEFAULT_NAMES = ("hls4ml_lhc_jets_hlf", "jets")
GET_DATA_HINT = (
    "Get the real data (OpenML dataset 42468 'hls4ml_lhc_jets_hlf') on a machine with internet, e.g.\n"
    "    from sklearn.datasets import fetch_openml; import numpy as np\n"
    "    d = fetch_openml('hls4ml_lhc_jets_hlf', as_frame=False, parser='auto')\n"
    "    np.savez(path, X=d.data.astype('float32'), y=d.target.astype(str))\n"
    "or download the ARFF/CSV/parquet export from https://www.openml.org/d/42468 (or the original Zenodo record "
    "10.5281/zenodo.3602260) and copy the file here. For tests and demos without the data use the synthetic "
    "stand-in 'jets-synthetic' (autoq.data.jets.make_synthetic_jets); never report its accuracy as jet accuracy."
)


class JetDataNotFound(FileNotFoundError):
    """No jet data file at the given path."""


class JetDataFormatError(ValueError):
    """A jet data file in an unknown format or with unexpected columns/labels."""


# ----------------------------------------------------------------------------------------------------------------
# Loading
# ----------------------------------------------------------------------------------------------------------------
def load_jets(path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Load the jet dataset from a local file.

    Formats (by extension, else by content): OpenML ARFF (``.arff``, ``.arff.gz``), CSV with a header row
    (``.csv``, ``.csv.gz``; extra columns such as a pandas index are ignored), parquet (``.parquet``/``.pq``;
    needs pyarrow or pandas) and ``.npz`` with arrays ``X``/``x`` [n,16] and ``y`` (class strings, integer codes
    or one-hot; optional ``class_names``; integer codes without ``class_names`` index :data:`JET_CLASSES`). A
    directory is searched for ``hls4ml_lhc_jets_hlf.*`` / ``jets.*``. Tabular formats select the 16
    :data:`JET_FEATURES` by name, so column order does not matter.

    Returns ``(X float32 [n,16], y int64 [n], class_names)`` with ``class_names`` the sorted distinct labels
    (sklearn ``LabelEncoder`` order, ``['g','q','t','w','z']`` for the real data) and ``y`` indexing them.
    Raises :class:`JetDataNotFound` (a ``FileNotFoundError``) if nothing is there and
    :class:`JetDataFormatError` for an unknown format or wrong columns.
    """
    path = _resolve(os.fspath(path))
    fmt = _detect_format(path)
    if fmt == "npz":
        X, labels, names = _load_npz(path)
    elif fmt == "parquet":
        X, labels, names = _load_parquet(path)
    else:
        X, labels, names = _load_text(path, fmt)
    return _finish(X, labels, names, path)


def is_generated(path) -> bool:
    """True for a file written by ``autoq data make-jets`` (an .npz carrying its ``generated`` marker)."""
    try:
        path = _resolve(os.fspath(path))
        if _detect_format(path) != "npz":
            return False
        with np.load(path, allow_pickle=False) as z:
            return "generated" in z.files
    except (OSError, ValueError):
        return False


def _resolve(path: str) -> str:
    if os.path.isfile(path):
        return path
    tried = [path]
    if os.path.isdir(path):
        for base in _DEFAULT_NAMES:
            for ext in (".npz", ".parquet", ".pq", ".arff", ".arff.gz", ".csv", ".csv.gz"):
                cand = os.path.join(path, base + ext)
                if os.path.isfile(cand):
                    return cand
        tried = [os.path.join(path, f"{{{','.join(_DEFAULT_NAMES)}}}.{{npz,parquet,pq,arff[.gz],csv[.gz]}}")]
    raise JetDataNotFound(f"No jet data found; tried: {', '.join(tried)}.\n{GET_DATA_HINT}")


def _detect_format(path: str) -> str:
    low = path.lower()
    for ext, fmt in ((".arff", "arff"), (".arff.gz", "arff"), (".csv", "csv"), (".csv.gz", "csv"),
                     (".npz", "npz"), (".parquet", "parquet"), (".pq", "parquet")):
        if low.endswith(ext):
            return fmt
    with open(path, "rb") as fh:
        head = fh.read(4096)
    if head[:4] == b"PAR1":
        return "parquet"
    if head[:4] == b"PK\x03\x04" and zipfile.is_zipfile(path):
        return "npz"
    if head[:2] == b"\x1f\x8b":
        with gzip.open(path, "rb") as gz:
            head = gz.read(4096)
    text = head.decode("utf-8", "replace")
    first = next((ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("%")), "")
    if first.lower().startswith("@relation"):
        return "arff"
    if "," in first and any(c in first.lower() for c in JET_FEATURES):
        return "csv"
    raise JetDataFormatError(
        f"{path}: unknown jet data format. Expected one of {', '.join(_FORMATS)} (by extension .arff[.gz], "
        f".csv[.gz], .npz, .parquet/.pq, or by content); the file starts with {head[:60]!r}.")


def _open_text(path: str):
    if path.lower().endswith(".gz") or _is_gzip(path):
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


def _is_gzip(path: str) -> bool:
    with open(path, "rb") as fh:
        return fh.read(2) == b"\x1f\x8b"


_ARFF_ATTR = re.compile(r"""@attribute\s+('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|\S+)\s+(.*)$""", re.IGNORECASE)


def _parse_arff_header(fh, path: str) -> tuple[list[str], dict[str, list[str]]]:
    """Read ARFF header lines up to ``@data``; return column names and nominal value lists by name."""
    names, nominal = [], {}
    for line in fh:
        s = line.strip()
        if not s or s.startswith("%"):
            continue
        low = s.lower()
        if low.startswith("@data"):
            return names, nominal
        if low.startswith("@attribute"):
            m = _ARFF_ATTR.match(s)
            if not m:
                raise JetDataFormatError(f"{path}: cannot parse ARFF attribute line {s!r}")
            name, typ = _unquote(m.group(1)), m.group(2).strip()
            names.append(name)
            if typ.startswith("{"):
                nominal[name] = [_unquote(v) for v in next(csv.reader([typ.strip("{}")], skipinitialspace=True,
                                                                      quotechar="'"))]
    raise JetDataFormatError(f"{path}: ARFF file without an @data section")


def _unquote(s: str) -> str:
    s = s.strip()
    if len(s) >= 2 and s[0] == s[-1] and s[0] in "'\"":
        s = s[1:-1]
    return s


def _select_columns(names: list[str], path: str) -> tuple[list[int], int]:
    """Indices of the 16 features and of the label column among ``names`` (case-insensitive)."""
    low = [n.strip().lower() for n in names]
    missing = [f for f in JET_FEATURES if f not in low]
    label = next((lab for lab in LABEL_COLUMNS if lab in low), None)
    if missing or label is None:
        raise JetDataFormatError(
            f"{path}: wrong columns for the jet dataset. Expected the 16 features {list(JET_FEATURES)} and a "
            f"label column named one of {list(LABEL_COLUMNS)}; found {names}. Missing: "
            f"{missing + ([] if label else ['<label column>'])}.")
    return [low.index(f) for f in JET_FEATURES], low.index(label)


def _load_text(path: str, fmt: str):
    """ARFF or CSV: header in Python, data section with ``np.loadtxt`` (C parser, ~3e5 rows/s)."""
    with _open_text(path) as fh:
        if fmt == "arff":
            names, nominal = _parse_arff_header(fh, path)
        else:
            header = fh.readline()
            names = next(csv.reader([header], skipinitialspace=True)) if header.strip() else []
            nominal = {}
        feat_idx, lab_idx = _select_columns(names, path)
        declared = nominal.get(names[lab_idx])
        codes: dict[str, int] = {v: i for i, v in enumerate(declared)} if declared else {}
        grow = declared is None  # CSV / numeric-typed ARFF label: collect labels as they come
        bad: list[str] = []

        def conv(s):
            s = s.strip().strip("'\"")
            code = codes.get(s)
            if code is None:
                if not grow:
                    bad.append(s)
                    raise ValueError(s)
                code = codes[s] = len(codes)
            return code

        usecols = feat_idx + [lab_idx]
        try:
            data = np.loadtxt(fh, delimiter=",", comments="%", quotechar="'", encoding="utf-8", ndmin=2,
                              usecols=usecols, converters={lab_idx: conv}, dtype=np.float64)
        except ValueError as e:
            why = (f"class label {bad[0]!r} not among the declared values {declared}" if bad else
                   f"expected {len(names)} comma-separated columns per row, numeric features "
                   f"{list(JET_FEATURES)} and a label; {e}")
            raise JetDataFormatError(f"{path}: cannot parse the {fmt.upper()} data section: {why}") from e
    names_unsorted = sorted(codes, key=codes.get)
    codes_arr = data[:, 16].astype(np.int64)
    present = np.unique(codes_arr)  # LabelEncoder semantics: only labels that occur
    return data[:, :16], np.searchsorted(present, codes_arr), [names_unsorted[i] for i in present]


def _load_npz(path: str):
    with np.load(path, allow_pickle=False) as z:
        keys = {k.lower(): k for k in z.files}
        if "x" not in keys or "y" not in keys:
            raise JetDataFormatError(f"{path}: npz must hold arrays 'X' (or 'x') [n,16] and 'y'; found keys "
                                     f"{z.files}")
        X, y = z[keys["x"]], z[keys["y"]]
        names = [str(c) for c in z[keys["class_names"]]] if "class_names" in keys else None
    if X.ndim != 2 or X.shape[1] != len(JET_FEATURES):
        raise JetDataFormatError(f"{path}: X must have shape [n, {len(JET_FEATURES)}] (features "
                                 f"{list(JET_FEATURES)}); found shape {X.shape}")
    if y.ndim == 2:  # one-hot
        y = np.argmax(y, axis=1)
    if y.dtype.kind in "iuf":
        yi = y.astype(np.int64)
        if y.dtype.kind == "f" and not np.array_equal(yi, y):
            raise JetDataFormatError(f"{path}: float y must hold integer class codes or one-hot rows")
        names = names or list(JET_CLASSES)
        if len(yi) and (yi.min() < 0 or yi.max() >= len(names)):
            raise JetDataFormatError(f"{path}: integer labels out of range for classes {names} "
                                     f"(found {yi.min()}..{yi.max()})")
        return X, yi, names
    return X, y.astype(str), None


def _load_parquet(path: str):
    try:
        import pyarrow.parquet as pq
        table = pq.read_table(path)
        cols = {c: table.column(c).to_numpy() for c in table.column_names}
    except ImportError:
        try:
            import pandas as pd
        except ImportError:
            raise ImportError(f"{path}: reading parquet needs pyarrow or pandas (neither is installed); "
                              f"install one, or convert the file to .npz/.csv/.arff") from None
        df = pd.read_parquet(path)
        cols = {str(c): df[c].to_numpy() for c in df.columns}
    names = list(cols)
    feat_idx, lab_idx = _select_columns(names, path)
    X = np.stack([np.asarray(cols[names[i]], dtype=np.float64) for i in feat_idx], axis=1)
    lab = np.asarray(cols[names[lab_idx]])
    if lab.dtype.kind in "iu":
        return X, lab.astype(np.int64), list(JET_CLASSES)
    return X, lab.astype(str), None


def _finish(X, labels, names, path):
    """Encode labels in sorted (LabelEncoder) order; cast X to float32; check finiteness."""
    X = np.ascontiguousarray(X, dtype=np.float32)
    if names is None:  # label strings
        labels = np.char.strip(np.char.strip(np.asarray(labels, dtype=str)), "'\"")
        names_arr, y = np.unique(labels, return_inverse=True)
        names = [str(c) for c in names_arr]
    else:  # integer codes indexing `names`, possibly unsorted
        names = [str(c) for c in names]
        order = np.argsort(names, kind="stable")
        rank = np.empty(len(names), dtype=np.int64)
        rank[order] = np.arange(len(names))
        y = rank[np.asarray(labels, dtype=np.int64)]
        names = [names[i] for i in order]
    if len(X) != len(y):
        raise JetDataFormatError(f"{path}: {len(X)} feature rows but {len(y)} labels")
    if not np.all(np.isfinite(X)):
        raise JetDataFormatError(f"{path}: features contain missing or non-finite values "
                                 f"({int((~np.isfinite(X)).any(axis=1).sum())} rows)")
    return X, np.asarray(y, dtype=np.int64).reshape(-1), names


# ----------------------------------------------------------------------------------------------------------------
# Preprocessing
# ----------------------------------------------------------------------------------------------------------------
@dataclass
class JetSplits(Dataset):
    """An :class:`autoq.data.Dataset` (x float32 standardized, y float32 one-hot) plus the scaler used."""

    scaler_mean: np.ndarray | None = None
    scaler_scale: np.ndarray | None = None


def jets_splits(X, y, class_names=None, seed: int = 42, test_size: float = 0.2, val_size: float = 0.25,
                fit_scaler_on: str = "train") -> JetSplits:
    """The hls4ml/Coelho et al. preprocessing: split, standardize, one-hot.

    1. ``sklearn.model_selection.train_test_split(X, y, test_size=0.2, random_state=42)`` (not stratified), exactly
       as the hls4ml tutorial, so the test set is the tutorial's.
    2. Validation = the LAST ``val_size`` fraction of that train part, unshuffled, i.e. what Keras'
       ``validation_split=0.25`` in the tutorial's ``fit`` holds out. Defaults give 60/20/20 of all rows.
       ``val_size=0`` gives an empty validation set.
    3. Standardize with mean/std (ddof=0, zero std -> 1, as ``StandardScaler``) fitted on the training rows only
       (``fit_scaler_on="train"``) or, to reproduce the tutorial exactly, on train+val (``"train_val"``).
    4. Labels ``y`` (int codes [n] or one-hot [n,k]) become float32 one-hot.
    """
    from sklearn.model_selection import train_test_split

    X = np.asarray(X, dtype=np.float32)
    y = np.asarray(y)
    y = np.argmax(y, axis=1) if y.ndim == 2 else y.astype(np.int64)
    k = len(class_names) if class_names is not None else int(y.max()) + 1
    names = list(class_names) if class_names is not None else (list(JET_CLASSES) if k == 5
                                                               else [str(i) for i in range(k)])
    if not 0.0 <= val_size < 1.0:
        raise ValueError(f"val_size must be in [0, 1); got {val_size}")
    x_tv, x_te, y_tv, y_te = train_test_split(X, y, test_size=test_size, random_state=seed)
    n_val = int(round(len(x_tv) * val_size))
    n_tr = len(x_tv) - n_val
    x_tr, x_va, y_tr, y_va = x_tv[:n_tr], x_tv[n_tr:], y_tv[:n_tr], y_tv[n_tr:]
    if fit_scaler_on not in ("train", "train_val"):
        raise ValueError(f"fit_scaler_on must be 'train' or 'train_val'; got {fit_scaler_on!r}")
    fit = (x_tr if fit_scaler_on == "train" else x_tv).astype(np.float64)
    mean, scale = fit.mean(axis=0), fit.std(axis=0)
    scale[scale == 0] = 1.0

    def tr(a):
        return ((a - mean) / scale).astype(np.float32)

    eye = np.eye(k, dtype=np.float32)
    return JetSplits(tr(x_tr), eye[y_tr], tr(x_va), eye[y_va], tr(x_te), eye[y_te], name="jets",
                     class_names=list(names), scaler_mean=mean.astype(np.float32),
                     scaler_scale=scale.astype(np.float32))


# ----------------------------------------------------------------------------------------------------------------
# Synthetic stand-in
# ----------------------------------------------------------------------------------------------------------------
# Per class (g, q, t, w, z): groomed-mass peak [GeV] and width, fraction of jets whose mass is "lost" by grooming
# (falls into the QCD-like low-mass region; for t it falls to the W peak), mean multiplicity, prong score
# (0 ~ one-prong, 1 ~ two-prong, 2 ~ three-prong) and radiation width (gluons radiate most).
_SYN = {
    #        mass  width lost  mult  prong  width
    "g": (36.0, 0.60, 0.00, 46.0, 0.05, 1.20),
    "q": (28.0, 0.60, 0.00, 38.0, 0.00, 1.00),
    "t": (165.0, 0.16, 0.30, 62.0, 1.70, 1.15),
    "w": (80.4, 0.11, 0.18, 40.0, 1.00, 1.00),
    "z": (91.2, 0.11, 0.18, 42.0, 1.00, 1.00),
}


def make_synthetic_jets(n: int = 20000, seed: int = 0, noise: float = 1.0):
    """SYNTHETIC jet-like data for tests and demos only -- never report its accuracy as jet-tagging accuracy.

    Same layout as :func:`load_jets`: ``(X float32 [n,16] in JET_FEATURES order, y int64 [n], ['g','q','t','w','z'])``.
    Class counts are exactly ``n * SYNTHETIC_CLASS_FRACTIONS`` (20% each, rounded; the real OpenML set is close to
    balanced) in shuffled order. Each jet draws latent physics quantities from class-dependent distributions --
    groomed mass (log-normal peaks: q/g low and broad, W 80 / Z 91 GeV narrow and nearly degenerate, t ~165 GeV
    with a fraction groomed down to the W peak; W/Z/t also have a QCD-like low-mass tail), multiplicity (Poisson,
    gluons and tops high, correlated with mass), prong score (1/2/3-prong) and radiation width -- and the 16
    features are noisy non-negative functions of them (``zlogz`` negative, falling with multiplicity; energy
    correlators ``c1``/``d2``/``m2``/``n2`` etc. scale with mass and fall with prong score). ``noise`` scales the
    per-feature noise. W vs Z and q vs g overlap, so a small MLP reaches ~70-75% (not 100%). Deterministic for
    ``(n, seed, noise)``.
    """
    rng = np.random.default_rng(seed)
    k = len(JET_CLASSES)
    frac = np.asarray(SYNTHETIC_CLASS_FRACTIONS)
    counts = np.floor(frac * n).astype(int)
    counts[np.argsort(-(frac * n - counts), kind="stable")[: n - counts.sum()]] += 1  # largest remainder
    y = rng.permutation(np.repeat(np.arange(k), counts))
    p = np.array([_SYN[c] for c in JET_CLASSES])[y]  # [n, 6] per-jet class parameters
    m_peak, m_w, lost, mult_mu, prong, width = p.T

    # Groomed mass: class peak, with "lost" jets falling to QCD-like low mass (tops to the W peak).
    mass = m_peak * np.exp(m_w * rng.standard_normal(n))
    is_lost = rng.random(n) < lost
    low = np.where(y == JET_CLASSES.index("t"), 80.4 * np.exp(0.12 * rng.standard_normal(n)),
                   30.0 * np.exp(0.6 * rng.standard_normal(n)))
    mass = np.where(is_lost, low, mass)
    prong = np.where(is_lost & (y != JET_CLASSES.index("t")), 0.3, np.where(is_lost, 1.0, prong))
    prong = np.clip(prong + 0.35 * rng.standard_normal(n), -0.5, 2.5)
    width = width * np.exp(0.20 * rng.standard_normal(n))
    mult = rng.poisson(mult_mu * width ** 0.5 * (1.0 + 0.002 * (mass - m_peak).clip(-50, 100))).astype(float)
    mult = np.maximum(mult, 2.0)

    s = 0.12 * noise

    def ln(sig=s):
        return np.exp(sig * rng.standard_normal(n))

    r = mass / 1000.0  # m / pT for pT ~ 1 TeV jets
    one_prong = np.exp(-prong)  # large for QCD-like jets
    feats = {
        "zlogz": -(0.95 * np.log(mult) + 0.25 * width - 0.6) * ln(),
        "c1_b0_mmdt": (0.18 + 1.8 * r) * width ** 0.5 * ln(),
        "c1_b1_mmdt": 1.5 * r ** 2 * 10 * width * ln(),
        "c1_b2_mmdt": 1.2 * r ** 3 * 30 * width * ln(),
        "c2_b1_mmdt": (0.05 + 0.25 * one_prong) * width * ln(),
        "c2_b2_mmdt": (0.02 + 0.20 * one_prong) * width ** 1.5 * ln(),
        "d2_b1_mmdt": (0.6 + 2.8 * one_prong) * width * ln(1.5 * s),
        "d2_b2_mmdt": (0.4 + 3.5 * one_prong) * width ** 1.5 * ln(1.5 * s),
        "d2_a1_b1_mmdt": (0.8 + 2.0 * one_prong) * ln(1.5 * s),
        "d2_a1_b2_mmdt": (0.5 + 2.5 * one_prong) * ln(1.5 * s),
        "m2_b1_mmdt": (0.02 + 0.08 * one_prong) * width * ln(2 * s),
        "m2_b2_mmdt": (0.01 + 0.05 * one_prong) * width ** 1.5 * ln(2 * s),
        "n2_b1_mmdt": (0.15 + 0.25 * one_prong) * ln(),
        "n2_b2_mmdt": (0.05 + 0.25 * one_prong) * width ** 0.5 * ln(),
        "mass_mmdt": mass * ln(0.5 * s),
        "multiplicity": mult,
    }
    X = np.stack([feats[f] for f in JET_FEATURES], axis=1).astype(np.float32)
    return X, y.astype(np.int64), list(JET_CLASSES)
