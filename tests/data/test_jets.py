"""Tests for autoq.data.jets: loaders for every format, preprocessing, synthetic stand-in."""
import gzip
import importlib.util

import numpy as np
import pytest

from autoq.data.jets import (JET_CLASSES, JET_FEATURES, SYNTHETIC_CLASS_FRACTIONS, JetDataFormatError,
                             JetDataNotFound, jets_splits, load_jets, make_synthetic_jets)

HAS_PARQUET = any(importlib.util.find_spec(m) for m in ("pyarrow", "pandas"))


@pytest.fixture(scope="module")
def sample():
    """Small jet-like sample: float32 features, labels as strings, in shuffled class order."""
    X, y, names = make_synthetic_jets(300, seed=3)
    return X, np.asarray(names)[y]


def _fmt(v):
    return repr(float(v))  # exact for float32 values


def write_arff(path, X, labels, quote_names=False, quote_labels=True, opener=open):
    q = (lambda s: f"'{s}'") if quote_names else (lambda s: s)
    lines = ["% hls4ml_lhc_jets_hlf (OpenML 42468) -- test sample", "@relation hls4ml_lhc_jets_hlf", ""]
    lines += [f"@attribute {q(f)} numeric" for f in JET_FEATURES]
    lines += ["@attribute " + q("class") + " {" + ",".join(f"'{c}'" if quote_labels else c for c in JET_CLASSES)
              + "}", "", "@data"]
    for row, lab in zip(X, labels):
        lines.append(",".join(_fmt(v) for v in row) + "," + (f"'{lab}'" if quote_labels else lab))
    with opener(path, "wt") as fh:
        fh.write("\n".join(lines) + "\n")


def write_csv(path, X, labels, index=False, reverse=False):
    cols = list(JET_FEATURES) + ["class"]
    order = cols[::-1] if reverse else cols
    with open(path, "w") as fh:
        fh.write(("," if index else "") + ",".join(order) + "\n")
        for i, (row, lab) in enumerate(zip(X, labels)):
            vals = dict(zip(JET_FEATURES, (_fmt(v) for v in row)), **{"class": lab})
            fh.write((f"{i}," if index else "") + ",".join(vals[c] for c in order) + "\n")


def check(loaded, X, labels):
    Xl, yl, names = loaded
    assert Xl.dtype == np.float32 and Xl.shape == (len(X), 16)
    assert yl.dtype == np.int64 and yl.shape == (len(X),)
    assert names == list(JET_CLASSES)
    np.testing.assert_array_equal(Xl, X)
    np.testing.assert_array_equal(np.asarray(names)[yl], labels)


def test_all_formats_identical(tmp_path, sample):
    X, labels = sample
    y_int = np.searchsorted(JET_CLASSES, labels)
    zenodo = ["g", "q", "w", "z", "t"]
    files = {
        "a.arff": lambda p: write_arff(p, X, labels),
        "b.arff": lambda p: write_arff(p, X, labels, quote_names=True, quote_labels=False),
        "c.arff.gz": lambda p: write_arff(p, X, labels, opener=gzip.open),
        "d.csv": lambda p: write_csv(p, X, labels),
        "e.csv": lambda p: write_csv(p, X, labels, index=True, reverse=True),
        "f.npz": lambda p: np.savez(p, X=X, y=labels),
        "g.npz": lambda p: np.savez(p, x=X, y=y_int),
        "h.npz": lambda p: np.savez(p, X=X, y=np.eye(5, dtype=np.float32)[y_int]),
        # integer codes in another class order (e.g. Zenodo's g,q,w,z,t) are remapped to sorted order
        "i.npz": lambda p: np.savez(p, X=X, y=np.array([zenodo.index(c) for c in labels]),
                                    class_names=np.array(zenodo)),
        "noext": lambda p: write_arff(p, X, labels),
    }
    results = []
    for name, writer in files.items():
        p = tmp_path / name
        writer(str(p))
        results.append(load_jets(p))
        check(results[-1], X, labels)
    if HAS_PARQUET:
        import pandas as pd
        df = pd.DataFrame(X, columns=list(JET_FEATURES)).assign(**{"class": labels})
        df.to_parquet(tmp_path / "j.parquet")
        check(load_jets(tmp_path / "j.parquet"), X, labels)


@pytest.mark.skipif(HAS_PARQUET, reason="only when neither pyarrow nor pandas is installed")
def test_parquet_without_backend_is_clear(tmp_path):
    p = tmp_path / "x.parquet"
    p.write_bytes(b"PAR1....PAR1")
    with pytest.raises(ImportError, match="pyarrow or pandas"):
        load_jets(p)


def test_directory_lookup(tmp_path, sample):
    X, labels = sample
    np.savez(tmp_path / "hls4ml_lhc_jets_hlf.npz", X=X, y=labels)
    check(load_jets(tmp_path), X, labels)


def test_class_order_is_sorted_present_labels(tmp_path):
    X = np.ones((3, 16), np.float32)
    np.savez(tmp_path / "s.npz", X=X, y=np.array(["z", "g", "t"]))
    _, y, names = load_jets(tmp_path / "s.npz")
    assert names == ["g", "t", "z"] and y.tolist() == [2, 0, 1]


def test_not_found_message(tmp_path):
    p = tmp_path / "nope.npz"
    with pytest.raises(JetDataNotFound) as ei:
        load_jets(p)
    msg = str(ei.value)
    assert isinstance(ei.value, FileNotFoundError)
    for needle in (str(p), "42468", "hls4ml_lhc_jets_hlf", "fetch_openml", "np.savez", "jets-synthetic"):
        assert needle in msg
    with pytest.raises(JetDataNotFound, match=str(tmp_path)):
        load_jets(tmp_path)  # empty directory


def test_unknown_format_and_wrong_columns(tmp_path, sample):
    X, labels = sample
    p = tmp_path / "data.bin"
    p.write_bytes(b"\x00\x01garbage")
    with pytest.raises(JetDataFormatError, match="unknown jet data format.*arff"):
        load_jets(p)
    p = tmp_path / "bad.csv"
    p.write_text("zlogz,foo,class\n1,2,g\n")
    with pytest.raises(JetDataFormatError, match=r"(?s)Expected the 16 features.*found \['zlogz', 'foo'.*c1_b0_mmdt"):
        load_jets(p)
    p = tmp_path / "nolabel.csv"
    p.write_text(",".join(JET_FEATURES) + "\n" + ",".join(["1"] * 16) + "\n")
    with pytest.raises(JetDataFormatError, match="label column"):
        load_jets(p)
    p = tmp_path / "bad.npz"
    np.savez(p, X=X[:, :15], y=labels)
    with pytest.raises(JetDataFormatError, match=r"shape \[n, 16\].*\(300, 15\)"):
        load_jets(p)
    np.savez(p, features=X)
    with pytest.raises(JetDataFormatError, match="found keys"):
        load_jets(p)
    p = tmp_path / "badlabel.arff"
    write_arff(p, X[:5], ["g", "q", "x", "w", "z"])
    with pytest.raises(JetDataFormatError, match="label 'x' not among the declared"):
        load_jets(p)


def test_synthetic_shapes_balance_determinism():
    X, y, names = make_synthetic_jets(20000, seed=0)
    assert X.shape == (20000, 16) and X.dtype == np.float32 and y.dtype == np.int64
    assert names == list(JET_CLASSES)
    frac = np.bincount(y, minlength=5) / len(y)
    assert np.all(np.abs(frac - np.asarray(SYNTHETIC_CLASS_FRACTIONS)) <= 0.02)
    assert np.all(np.isfinite(X))
    nonneg = [i for i, f in enumerate(JET_FEATURES) if f != "zlogz"]
    assert X[:, nonneg].min() >= 0 and X[:, 0].max() < 0
    X2, y2, _ = make_synthetic_jets(20000, seed=0)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    X3, _, _ = make_synthetic_jets(20000, seed=1)
    assert not np.array_equal(X, X3)
    # W and Z mass peaks where they should be
    mass = X[:, JET_FEATURES.index("mass_mmdt")]
    assert 70 < np.median(mass[y == 3]) < 88 < np.median(mass[y == 4]) < 100
    _, ys, _ = make_synthetic_jets(7, seed=0)
    assert np.bincount(ys, minlength=5).max() - np.bincount(ys, minlength=5).min() <= 1


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_synthetic_learnable_but_not_trivial():
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier

    s = jets_splits(*make_synthetic_jets(10000, seed=0)[:2])
    ytr, yte = s.y_train.argmax(1), s.y_test.argmax(1)
    acc_lr = LogisticRegression(max_iter=300).fit(s.x_train, ytr).score(s.x_test, yte)
    mlp = MLPClassifier((64, 32, 32), max_iter=60, random_state=0).fit(s.x_train, ytr)
    acc_mlp = mlp.score(s.x_test, yte)
    assert 0.55 < acc_lr < 0.85
    assert 0.62 < acc_mlp < 0.85


def test_splits_sizes_scaler_onehot():
    X, y, names = make_synthetic_jets(1000, seed=2)
    s = jets_splits(X, y, names)
    assert (len(s.x_train), len(s.x_val), len(s.x_test)) == (600, 200, 200)
    assert s.class_names == names
    for a in (s.x_train, s.x_val, s.x_test, s.y_train, s.y_val, s.y_test):
        assert a.dtype == np.float32
    np.testing.assert_allclose(s.x_train.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(s.x_train.std(0), 1, atol=1e-4)
    assert np.abs(s.x_val.mean(0)).max() > 1e-3  # scaler was not fitted on val/test
    for yy in (s.y_train, s.y_val, s.y_test):
        assert yy.shape[1] == 5 and np.all(yy.sum(1) == 1) and set(np.unique(yy)) <= {0.0, 1.0}
    # the test set is sklearn's train_test_split(random_state=42) test set, as in the hls4ml tutorial
    from sklearn.model_selection import train_test_split
    x_tv, x_te, y_tv, y_te = train_test_split(X, y, test_size=0.2, random_state=42)
    np.testing.assert_allclose(s.x_test * s.scaler_scale + s.scaler_mean, x_te, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(s.y_test.argmax(1), y_te)
    np.testing.assert_array_equal(s.y_val.argmax(1), y_tv[600:])  # Keras validation_split: last 25%
    # one-hot input and train+val scaler (tutorial mode)
    s2 = jets_splits(X, np.eye(5)[y], fit_scaler_on="train_val", val_size=0.0)
    assert len(s2.x_val) == 0 and len(s2.x_train) == 800
    np.testing.assert_allclose(s2.x_train.mean(0), 0, atol=1e-5)
