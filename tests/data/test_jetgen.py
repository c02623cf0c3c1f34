"""``autoq data make-jets``: generated jets through the real CLI, in the format autoq.data.jets loads, physically sane,
deterministic for a seed; bad input gives one ``error:`` line and exit code 2.

Needs the optional extra ``jets`` (pythia8mc, fastjet): without it these tests FAIL (they do not skip), naming the
pip command. One generation of 2,000 jets (~30 s on 2 cores) serves the format, card and physics checks.
"""
from __future__ import annotations

import importlib.util
import subprocess
import sys

import numpy as np
import pytest

from helpers_search import HANG, autoq, env

from autoq.data.jetcard import mass_peaks
from autoq.data.jets import JET_CLASSES, JET_FEATURES, load_jets

EXTRA = ("pythia8mc", "fastjet", "awkward")
N = 2000


@pytest.fixture(scope="module", autouse=True)
def extra_installed():
    missing = [m for m in EXTRA if importlib.util.find_spec(m) is None]
    if missing:
        pytest.fail(f"the optional extra 'jets' is not installed ({', '.join(missing)} missing): "
                    f'pip install -e ".[jets]"', pytrace=False)


def make_jets(tmp, *args, **extra_env):
    return subprocess.run(autoq("data", "make-jets", *args), cwd=tmp, capture_output=True, text=True, timeout=HANG,
                          env=env(**extra_env))


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """2,000 jets (seed 5) through the real CLI, with the data card and its float tagger."""
    d = tmp_path_factory.mktemp("jets")
    r = make_jets(d, "--n", N, "--seed", 5, "--output", "gen.npz", "--workers", 2)
    assert r.returncode == 0, r.stderr
    return d, r


def col(X, name):
    return X[:, JET_FEATURES.index(name)]


def test_cli_writes_what_load_jets_reads(generated):
    d, r = generated
    X, y, names = load_jets(d / "gen.npz")
    assert names == list(JET_CLASSES) == ["g", "q", "t", "w", "z"]
    assert X.shape == (N, 16) and X.dtype == np.float32 and np.isfinite(X).all()
    assert np.bincount(y, minlength=5).tolist() == [N // 5] * 5  # class-balanced
    assert len(np.unique(y[:50])) > 1  # shuffled, not sorted by class
    with np.load(d / "gen.npz") as z:
        assert z["feature_names"].tolist() == list(JET_FEATURES)
        assert "GENERATED" in str(z["generated"]) and "no detector simulation" in str(z["generated"])
    assert "[autoq] [" in r.stderr and f"{N}/{N} jets (100%)" in r.stderr  # line progress bar


def test_feature_columns_are_the_defined_quantities(generated):
    X, _, _ = load_jets(generated[0] / "gen.npz")
    mult = col(X, "multiplicity")
    assert (mult >= 1).all() and np.array_equal(mult, np.round(mult))
    assert (col(X, "zlogz") <= 0).all() and (col(X, "zlogz") >= -np.log(mult) - 1e-4).all()  # >= -ln N
    assert ((col(X, "c1_b0_mmdt") >= 0) & (col(X, "c1_b0_mmdt") <= 0.5)).all()  # sum_{i<j} z_i z_j <= 1/2
    assert (col(X, "mass_mmdt") >= 0).all()
    # D2^(alpha=1, beta=1) is D2^(beta=1) by definition; D2 = C2 / e2 for both betas; c1 falls with beta
    np.testing.assert_allclose(col(X, "d2_a1_b1_mmdt"), col(X, "d2_b1_mmdt"), rtol=1e-5)
    ok = (col(X, "c1_b1_mmdt") > 0) & (col(X, "c1_b2_mmdt") > 0)
    for b in (1, 2):
        np.testing.assert_allclose(col(X, f"c2_b{b}_mmdt")[ok] / col(X, f"c1_b{b}_mmdt")[ok],
                                   col(X, f"d2_b{b}_mmdt")[ok], rtol=1e-3)
    assert (col(X, "c1_b2_mmdt")[ok] < col(X, "c1_b1_mmdt")[ok]).mean() > 0.95  # angles mostly < 1 inside R = 0.8
    # e2^(2) ~ m^2 / pT^2 for the groomed jet (pT ~ 1 TeV): the mass and the ECFs describe the same jet
    m_from_e2 = 1000.0 * np.sqrt(col(X, "c1_b2_mmdt"))
    assert np.median(np.abs(np.log(m_from_e2[ok] / col(X, "mass_mmdt")[ok]))) < 0.25


def test_physics_sanity_groomed_mass(generated):
    X, y, names = load_jets(generated[0] / "gen.npz")
    peaks = mass_peaks(X, y, names)
    assert abs(peaks["w"]["mass_peak"] - 80.4) <= 10, peaks["w"]
    assert abs(peaks["z"]["mass_peak"] - 91.2) <= 10, peaks["z"]
    assert abs(peaks["t"]["mass_peak"] - 173.0) <= 20, peaks["t"]
    qcd = col(X, "mass_mmdt")[np.isin(y, [names.index("q"), names.index("g")])]
    assert np.median(qcd) < 50, np.median(qcd)  # quark and gluon jets together (gluons alone: ~61 GeV, see the card)
    assert peaks["q"]["mass_median"] < 50, peaks["q"]
    assert peaks["q"]["mass_median"] < peaks["g"]["mass_median"]  # gluons radiate more
    assert peaks["q"]["multiplicity_median"] < peaks["g"]["multiplicity_median"]


def test_data_card_beside_the_file(generated):
    d, _ = generated
    card = (d / "gen.md").read_text()
    assert (d / "gen.png").stat().st_size > 10_000
    for text in ("GENERATED", "no detector simulation", "Test accuracy", "OpenML", "anti-kT R = 0.8", "gen.png"):
        assert text in card, text
    acc = float(card.split("Test accuracy ")[1].split("%")[0])
    assert 40 < acc <= 100  # five classes: far above chance (20%) even on 2,000 jets


def test_deterministic_for_a_seed_whatever_the_workers(tmp_path):
    for out, workers in (("a.npz", 1), ("b.npz", 2)):
        r = make_jets(tmp_path, "--n", 50, "--seed", 7, "--output", out, "--workers", workers, "--no-tagger")
        assert r.returncode == 0, r.stderr
    a, b = load_jets(tmp_path / "a.npz"), load_jets(tmp_path / "b.npz")
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


def test_seeds_differ_and_repeat():
    from autoq.data.jetgen import chunk_tasks, generate_chunk
    seeds = {t[2] for t in chunk_tasks(5000, 7, None)} | {t[2] for t in chunk_tasks(5000, 8, None)}
    assert len(seeds) == 2 * 10  # a Pythia seed per (seed, class, chunk of 500)
    one, again, other = (generate_chunk("z", 10, s)[0] for s in (11, 11, 12))
    np.testing.assert_array_equal(one, again)
    assert not np.array_equal(one, other)


@pytest.mark.parametrize("args, says", [
    (["--n", "0", "--output", "x.npz"], "--n must be an integer between 50"),
    (["--n", "100", "--output", "x.csv"], "must be an .npz file"),
    (["--n", "100", "--output", "no/such/folder/x.npz"], "does not exist"),
    (["--n", "100", "--output", "x.npz", "--workers", "0"], "--workers must be"),
])
def test_bad_input_one_error_line_exit_2(tmp_path, args, says):
    r = make_jets(tmp_path, *args)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and says in lines[0], r.stderr
    assert not list(tmp_path.iterdir())


def test_unwritable_output_folder(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        import os
        if os.access(ro, os.W_OK):  # root ignores permissions: use a path below a file instead
            (tmp_path / "file").write_text("")
            target = tmp_path / "file" / "x.npz"
        else:
            target = ro / "x.npz"
        r = make_jets(tmp_path, "--n", "100", "--output", target)
    finally:
        ro.chmod(0o700)
    assert r.returncode == 2 and r.stderr.startswith("error: cannot write"), r.stderr


def test_existing_output_is_kept_unless_overwrite(tmp_path):
    """An existing file (or data card) is refused before any generation; --overwrite replaces it."""
    (tmp_path / "mine.npz").write_bytes(b"a user's own file")
    r = make_jets(tmp_path, "--n", 50, "--output", "mine.npz", "--no-tagger")
    assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr
    assert r.stderr.startswith("error: ") and "--overwrite" in r.stderr and "mine.npz already exists" in r.stderr
    assert (tmp_path / "mine.npz").read_bytes() == b"a user's own file"
    (tmp_path / "other.md").write_text("notes")  # a card of the same name would be written over too
    r = make_jets(tmp_path, "--n", 50, "--output", "other.npz", "--no-tagger")
    assert r.returncode == 2 and "other.md already exists" in r.stderr, r.stderr
    assert not (tmp_path / "other.npz").exists() and (tmp_path / "other.md").read_text() == "notes"
    r = make_jets(tmp_path, "--n", 50, "--seed", 3, "--output", "mine.npz", "--no-tagger", "--overwrite")
    assert r.returncode == 0, r.stderr
    assert load_jets(tmp_path / "mine.npz")[0].shape == (50, 16)


def test_default_output_is_jets_generated_npz_in_the_current_folder(tmp_path):
    """Without --output the file is jets_generated.npz here (the name the README's search reads); an existing one is
    kept, as any output."""
    (tmp_path / "jets_generated.npz").write_bytes(b"a user's own file")
    r = make_jets(tmp_path, "--n", 50, "--no-tagger")
    assert r.returncode == 2 and r.stderr.startswith("error: ") and r.stderr.count("\n") == 1, r.stderr
    assert "jets_generated.npz already exists" in r.stderr and "--overwrite" in r.stderr
    assert (tmp_path / "jets_generated.npz").read_bytes() == b"a user's own file"


def test_two_runs_at_once_on_one_output_lose_nothing(tmp_path):
    """Both pass the early check; the first to finish writes the file, the other keeps its jets aside and says
    where (exit 2): neither result is lost or replaced."""
    from helpers_search import start
    procs = [start(["data", "make-jets", "--n", 50, "--seed", seed, "--output", "same.npz", "--no-tagger"],
                   tmp_path, tmp_path / f"log{seed}") for seed in (1, 2)]
    codes = sorted(p.wait(timeout=HANG) for p in procs)
    logs = [(tmp_path / f"log{seed}").read_text() for seed in (1, 2)]
    assert codes == [0, 2], logs
    loser = next(log for log in logs if "error: " in log)
    kept = loser.split("kept in ")[1].strip()
    a, b = load_jets(tmp_path / "same.npz"), load_jets(tmp_path / kept)
    assert a[0].shape == b[0].shape == (50, 16) and not np.array_equal(a[0], b[0])  # two seeds, two files
    assert not list(tmp_path.glob(".*tmp*"))


@pytest.mark.parametrize("limit, says, kept", [
    (1_000, "error: cannot write full.npz: File too large", []),  # the data file does not fit
    (20_000, "error: wrote full.npz, but not its data card: File too large", ["full.npz"]),  # its card does not
])
def test_a_full_disk_gives_one_error_and_no_partial_files(tmp_path, limit, says, kept):
    """A real process whose files may not grow beyond ``limit`` bytes (RLIMIT_FSIZE: writes fail as on a full disk):
    one error line, exit 2, no traceback, and nothing half-written left behind."""
    import resource
    import sys

    def small_files():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    r = subprocess.run([sys.executable, "-m", "autoq.cli", "data", "make-jets", "--n", "50", "--output", "full.npz",
                        "--no-tagger"], cwd=tmp_path, capture_output=True, text=True, timeout=HANG, env=env(),
                       preexec_fn=small_files)
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr and r.stderr.strip().splitlines()[-1] == says, r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == kept
    if kept:
        assert load_jets(tmp_path / "full.npz")[0].shape == (50, 16)


def test_missing_extra_names_the_pip_command(tmp_path):
    """A real process in which pythia8mc cannot be imported (a stub earlier on the path raises ImportError)."""
    stub = tmp_path / "stub"
    stub.mkdir()
    (stub / "pythia8mc.py").write_text("raise ImportError('pythia8mc hidden by the test')\n")
    import os
    path = os.pathsep.join([str(stub), os.environ.get("PYTHONPATH", "")])
    r = make_jets(tmp_path, "--n", "100", "--output", "x.npz", PYTHONPATH=path)
    assert r.returncode == 2, r.stderr
    assert r.stderr.startswith("error: ") and 'pip install -e ".[jets]"' in r.stderr, r.stderr
    assert not (tmp_path / "x.npz").exists()


def test_generated_data_is_named_as_such_in_a_search(generated):
    """configs/jets-generated.yaml loads the file as 'jets-generated'; so does source 'jets' given a generated file;
    'jets-generated' refuses a file that make-jets did not write."""
    from pathlib import Path

    from autoq.config import load_config
    from autoq.data.sources import load_dataset
    from autoq.errors import DataError
    d = generated[0]
    cfg = load_config(Path(__file__).resolve().parents[2] / "configs" / "jets-generated.yaml")
    cfg.data.path = str(d / "gen.npz")
    data = load_dataset(cfg.data)
    assert data.name == "jets-generated" and data.describe().startswith("jets-generated:")
    assert len(data.x_test) == N // 5 and data.x_train.shape[1] == 16
    cfg.data.source = "jets"
    assert load_dataset(cfg.data).name == "jets-generated"
    X, y, _ = load_jets(d / "gen.npz")
    np.savez(d / "plain.npz", X=X, y=y)
    cfg.data.source, cfg.data.path = "jets-generated", str(d / "plain.npz")
    with pytest.raises(DataError, match="not"):
        load_dataset(cfg.data)
    cfg.data.source = "jets"
    assert load_dataset(cfg.data).name == "jets"


def test_features_match_the_definitions_on_a_hand_made_jet():
    """fastjet-contrib's ECFs and the ratios of autoq.data.jetfeatures against a direct evaluation of the definitions
    (Larkoski-Salam-Thaler e_n, Moult-Necib-Thaler v e_n) on four hard particles that mMDT keeps."""
    import itertools

    import awkward as ak

    from autoq.data.jetfeatures import jet_features
    pt = np.array([300.0, 250.0, 200.0, 150.0])
    y = np.array([0.05, -0.12, 0.21, 0.02])
    phi = np.array([0.0, 0.15, -0.08, 0.3])
    m = 0.14  # pion-mass particles: rapidity, not pseudorapidity, is the ECF angle
    mt = np.hypot(pt, m)
    jet = ak.Array([{"px": pt * np.cos(phi), "py": pt * np.sin(phi), "pz": mt * np.sinh(y), "E": mt * np.cosh(y)}])
    jet = ak.zip({k: ak.Array([list(jet[k][0])]) for k in ("px", "py", "pz", "E")})
    got = dict(zip(JET_FEATURES, jet_features(jet)[0]))

    z = pt / pt.sum()
    theta = lambda i, j: np.hypot(y[i] - y[j], np.angle(np.exp(1j * (phi[i] - phi[j]))))  # noqa: E731

    def e2(b):
        return sum(z[i] * z[j] * theta(i, j) ** b for i, j in itertools.combinations(range(4), 2))

    def e3(b, v):
        tot = 0.0
        for i, j, k in itertools.combinations(range(4), 3):
            angles = sorted([theta(i, j) ** b, theta(i, k) ** b, theta(j, k) ** b])
            tot += z[i] * z[j] * z[k] * np.prod(angles[:v])
        return tot

    want = {"zlogz": np.sum(z * np.log(z)), "multiplicity": 4, "c1_b0_mmdt": e2(0), "c1_b1_mmdt": e2(1),
            "c1_b2_mmdt": e2(2)}
    for b in (1, 2):
        want[f"c2_b{b}_mmdt"] = e3(b, 3) / e2(b) ** 2
        want[f"d2_b{b}_mmdt"] = e3(b, 3) / e2(b) ** 3
        want[f"d2_a1_b{b}_mmdt"] = e3(1, 3) / e2(b) ** (3 / b)
        want[f"m2_b{b}_mmdt"] = e3(b, 1) / e2(b)
        want[f"n2_b{b}_mmdt"] = e3(b, 2) / e2(b) ** 2
    p4 = np.array([jet[k][0].to_numpy().sum() for k in ("E", "px", "py", "pz")])
    want["mass_mmdt"] = np.sqrt(p4[0] ** 2 - (p4[1:] ** 2).sum())  # nothing groomed away
    for name in JET_FEATURES:
        assert got[name] == pytest.approx(want[name], rel=1e-6), name


def test_a_worker_that_dies_is_an_error_not_a_hang(tmp_path):
    """A worker that exits at start (here: a script without a __main__ guard whose re-import in the spawned child
    exits) breaks the generation with one JetGenError; a multiprocessing Pool would restart it and wait forever."""
    script = tmp_path / "noguard.py"
    script.write_text(
        "import multiprocessing as mp, sys\n"
        "if mp.current_process().name != 'MainProcess':\n"
        "    raise SystemExit(3)\n"
        "from autoq.data.jetgen import generate_jets\n"
        "try:\n"
        "    generate_jets(16, seed=1, workers=2)\n"
        "except Exception as exc:\n"
        "    print('ERR', type(exc).__name__, exc)\n")
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env(), capture_output=True, text=True,
                          timeout=HANG)  # only to catch the hang this test is about
    assert proc.returncode == 0 and "ERR JetGenError a jet-generation worker process died" in proc.stdout, \
        proc.stdout + proc.stderr[-2000:]
