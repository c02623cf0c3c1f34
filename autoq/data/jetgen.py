"""GENERATED hls4ml-style jets: Pythia 8 + FastJet, particle level, the 16 features of ``hls4ml_lhc_jets_hlf``.

``autoq data make-jets`` (optional extra ``pip install -e ".[jets]"``) simulates pp collisions at 13 TeV for the five
classes of the hls4ml LHC jet dataset (OpenML 42468; Coleman et al. 2018, arXiv:1709.08705; Duarte et al. 2018) --
gluon ``g`` (gg -> gg), light quark ``q`` (qq -> qq, qqbar -> q'qbar', u/d/s), ``w`` (q qbar -> W g, q g -> W q, W ->
hadrons), ``z`` (the same with Z -> hadrons) and top ``t`` (gg/qqbar -> t tbar, W -> hadrons) -- with a hard-process
pT window around 1 TeV, initial/final-state showers, multi-parton interactions and hadronisation on. Visible final
particles (no neutrinos; hadrons with c*tau > 10 mm stable) are clustered with anti-kT R=0.8; per event the hardest jet
within Delta R < 0.6 of the class's truth object (the hard-process parton, W, Z or top) with pT and |eta| in the window
is kept, one jet per event. The features are those of :mod:`autoq.data.jetfeatures` (definitions and references there).

Differences from the OpenML set: no detector simulation (the original used Delphes), Pythia's own hard processes
instead of MadGraph, no pile-up, and fewer jets. The output is ``.npz`` with ``X`` [n,16] float32 (JET_FEATURES
order), ``y`` int64 indexing ``class_names`` = ``['g','q','t','w','z']`` (the loader's order), class-balanced and
shuffled, readable by :func:`autoq.data.jets.load_jets`. Deterministic for ``(n, seed)``: work is split into fixed chunks
with their own Pythia seeds (independent of the number of workers).
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..errors import AutoqError
from .dataset import MIN_SPLIT
from .jets import JET_CLASSES, JET_FEATURES

EXTRA_HINT = 'pip install -e ".[jets]"  (or: pip install pythia8mc==8.317.2 fastjet==3.5.2.0)'
#: jets per work unit; fixed so that a seed gives the same data for any number of workers
CHUNK = 500
MAX_JETS = 10_000_000
MIN_JETS = 50  # 60/20/20 splits (autoq.data.jets.jets_splits) of 48 or more jets hold MIN_SPLIT in each

#: Pythia settings per class and the truth object to match: (process settings, truth status, truth |id|s)
PROCESSES = {
    "g": (("HardQCD:gg2gg = on",), 23, (21,)),
    "q": (("HardQCD:qq2qq = on", "HardQCD:qqbar2qqbarNew = on", "HardQCD:nQuarkNew = 3"), 23, (1, 2, 3)),
    "t": (("Top:gg2ttbar = on", "Top:qqbar2ttbar = on"), 22, (6,)),
    "w": (("WeakBosonAndParton:qqbar2Wg = on", "WeakBosonAndParton:qg2Wq = on"), 22, (24,)),
    "z": (("WeakBosonAndParton:qqbar2gmZg = on", "WeakBosonAndParton:qg2gmZq = on", "WeakZ0:gmZmode = 2"), 22,
          (23,)),
}


class JetGenError(AutoqError):
    """Bad arguments for jet generation or a missing optional dependency."""


@dataclass(frozen=True)
class GenSettings:
    """Generator and selection settings (recorded in the output and its data card)."""

    ecm: float = 13000.0
    pthat_min: float = 900.0
    pthat_max: float = 1150.0
    jet_r: float = 0.8
    jet_pt_min: float = 800.0
    jet_pt_max: float = 1200.0
    jet_abs_eta_max: float = 2.0
    match_dr: float = 0.6
    pythia: tuple = field(default=(
        "PartonLevel:ISR = on", "PartonLevel:FSR = on", "PartonLevel:MPI = on", "HadronLevel:all = on",
        "24:onMode = off", "24:onIfAny = 1 2 3 4 5", "23:onMode = off", "23:onIfAny = 1 2 3 4 5",
        "ParticleDecays:limitTau0 = on", "ParticleDecays:tau0Max = 10",
    ))


# ----------------------------------------------------------------------------------------------------------------
# One chunk (runs in a worker process)
# ----------------------------------------------------------------------------------------------------------------
def _pythia(cls: str, seed: int, s: GenSettings):
    import pythia8mc
    p = pythia8mc.Pythia("", False)
    for line in (f"Beams:eCM = {s.ecm}", f"PhaseSpace:pTHatMin = {s.pthat_min}",
                 f"PhaseSpace:pTHatMax = {s.pthat_max}", *s.pythia, *PROCESSES[cls][0],
                 "Random:setSeed = on", f"Random:seed = {seed}", "Print:quiet = on"):
        if not p.readString(line):
            raise RuntimeError(f"Pythia rejected setting {line!r}")
    if not p.init():
        raise RuntimeError(f"Pythia failed to initialise for class {cls!r}")
    return p


def _event_arrays(p, status: int, ids: tuple):
    """Visible final-state four-momenta [k,4] and truth (eta, phi) [<=2, 2] of the current Pythia event."""
    parts = [(q.px(), q.py(), q.pz(), q.e()) for q in p.event if q.isFinal() and q.isVisible()]
    truth = [(q.eta(), q.phi()) for q in p.process if abs(q.status()) == status and abs(q.id()) in ids][:2]
    return np.asarray(parts, dtype=np.float64).reshape(-1, 4), np.asarray(truth, dtype=np.float64).reshape(-1, 2)


def _select(events, truths, s: GenSettings):
    """Cluster a batch of events; the constituents of the selected jet of each event (one at most), in event order."""
    import awkward as ak
    import fastjet
    counts = np.array([len(e) for e in events])
    flat = np.concatenate(events)
    parts = ak.unflatten(ak.zip({"px": flat[:, 0], "py": flat[:, 1], "pz": flat[:, 2], "E": flat[:, 3]}), counts)
    cs = fastjet.ClusterSequence(parts, fastjet.JetDefinition(fastjet.antikt_algorithm, s.jet_r))
    consts = cs.constituents(min_pt=0.5 * s.jet_pt_min)  # events x jets x particles
    sums = {k: ak.sum(consts[k], axis=2) for k in ("px", "py", "pz", "E")}
    pt = np.hypot(sums["px"], sums["py"])
    eta = np.arcsinh(sums["pz"] / pt)
    phi = np.arctan2(sums["py"], sums["px"])
    k = 4  # jets per event looked at (pT-ordered)
    order = ak.argsort(pt, axis=1, ascending=False)
    pad = lambda a: ak.to_numpy(ak.fill_none(ak.pad_none(a[order], k, axis=1, clip=True), np.nan))  # noqa: E731
    jpt, jeta, jphi = pad(pt), pad(eta), pad(phi)
    tr = np.full((len(events), 2, 2), np.nan)
    for i, t in enumerate(truths):
        tr[i, :len(t)] = t
    dphi = np.angle(np.exp(1j * (jphi[:, :, None] - tr[:, None, :, 1])))  # wrapped to (-pi, pi]
    dr = np.hypot(jeta[:, :, None] - tr[:, None, :, 0], dphi)
    ok = (np.nan_to_num(dr, nan=9.0) < s.match_dr).any(axis=2) & (jpt >= s.jet_pt_min) & (jpt <= s.jet_pt_max) \
        & (np.abs(jeta) <= s.jet_abs_eta_max)
    has = ok.any(axis=1)
    first = np.argmax(ok, axis=1)
    ev = np.nonzero(has)[0]
    jet_idx = ak.to_numpy(ak.fill_none(ak.pad_none(order, k, axis=1, clip=True), 0))[ev, first[ev]]
    return consts[ev, jet_idx] if len(ev) else None


def generate_chunk(cls: str, n: int, seed: int, settings: GenSettings | None = None, batch: int = 100):
    """Features [n,16] float64 of ``n`` jets of class ``cls`` from one Pythia run with ``seed``; and events tried."""
    import awkward as ak

    from .jetfeatures import jet_features
    s = settings or GenSettings()
    p = _pythia(cls, seed, s)
    _, status, ids = PROCESSES[cls]
    picked, have, tried = [], 0, 0
    while have < n:
        events, truths = [], []
        while len(events) < batch:
            tried += 1
            if not p.next():
                continue
            parts, truth = _event_arrays(p, status, ids)
            if len(parts) and len(truth):
                events.append(parts)
                truths.append(truth)
        jets = _select(events, truths, s)
        if jets is not None:
            picked.append(jets)
            have += len(jets)
    consts = ak.concatenate(picked)[:n]
    return jet_features(consts), tried


def _chunk_task(task):
    cls, n, seed, settings = task
    t0, c0 = time.perf_counter(), time.process_time()
    X, tried = generate_chunk(cls, n, seed, settings)
    return cls, X, tried, time.perf_counter() - t0, time.process_time() - c0


def _quiet_worker():
    """Worker initializer: FastJet's banner and Pythia's messages go to the worker's stdout, not the user's."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.close(devnull)


# ----------------------------------------------------------------------------------------------------------------
# The data set
# ----------------------------------------------------------------------------------------------------------------
def require_extra():
    """Raise :class:`JetGenError` naming the pip command if pythia8mc / fastjet / awkward are not installed."""
    missing = []
    for mod in ("pythia8mc", "fastjet", "awkward"):
        try:
            __import__(mod)
        except ImportError:
            missing.append(mod)
    if missing:
        raise JetGenError(f"jet generation needs the optional extra 'jets' ({', '.join(missing)} not installed): "
                          f"{EXTRA_HINT}")


def class_counts(n: int) -> dict[str, int]:
    """Class-balanced counts summing to ``n`` (the first classes get the remainder)."""
    base, rest = divmod(n, len(JET_CLASSES))
    return {c: base + (i < rest) for i, c in enumerate(JET_CLASSES)}


def chunk_tasks(n: int, seed: int, settings: GenSettings) -> list[tuple]:
    """Work units ``(class, n_jets, pythia_seed, settings)``, seeds from ``SeedSequence(seed, (class, chunk))``."""
    per_class = []
    for ci, (cls, count) in enumerate(class_counts(n).items()):
        mine = []
        for k, start in enumerate(range(0, count, CHUNK)):
            ss = np.random.SeedSequence(seed, spawn_key=(ci, k))
            pseed = int(ss.generate_state(1)[0] % 900_000_000) + 1
            mine.append((cls, min(CHUNK, count - start), pseed, settings))
        per_class.append(mine)
    # classes interleaved, so progress and the rate estimate do not depend on one slow class coming last
    return [t for k in range(max(map(len, per_class))) for mine in per_class for t in mine[k:k + 1]]


def _check_args(n, seed, output, workers, overwrite=False, card=True) -> Path:
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or not MIN_JETS <= n <= MAX_JETS:
        raise JetGenError(f"--n must be an integer between {MIN_JETS} and {MAX_JETS:,} (jets to generate; a search "
                          f"needs {MIN_SPLIT} in each of its 60/20/20 splits); got {n!r}")
    if not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2 ** 63:
        raise JetGenError(f"--seed must be a non-negative integer; got {seed!r}")
    if not isinstance(workers, (int, np.integer)) or not 1 <= workers <= 256:
        raise JetGenError(f"--workers must be an integer between 1 and 256; got {workers!r}")
    out = Path(output)
    if out.suffix != ".npz":
        raise JetGenError(f"--output must be an .npz file (the format autoq.data.jets.load_jets reads); got {output}")
    if out.is_dir():
        raise JetGenError(f"--output {output} is a directory; give a file name such as {out / 'jets.npz'}")
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise JetGenError(f"cannot write {output}: folder {parent} does not exist")
    try:
        with tempfile.NamedTemporaryFile(dir=parent, prefix=".autoq-write-test-"):
            pass
    except OSError as exc:
        raise JetGenError(f"cannot write {output}: {exc.strerror or exc}") from None
    taken = [p for p in (out, *((out.with_suffix(".md"), out.with_suffix(".png")) if card else ())) if p.exists()]
    if taken and not overwrite:
        raise JetGenError(f"{', '.join(map(str, taken))} already exist{'s' if len(taken) == 1 else ''}; pass "
                          f"--overwrite to replace {'it' if len(taken) == 1 else 'them'}, or choose another --output")
    return out


class LineProgress:
    """A progress bar as plain lines (readable in CI logs): at most one line per ``every`` seconds, and the last."""

    def __init__(self, total: int, stream=None, every: float = 10.0, label: str = "jets"):
        self.total, self.stream, self.every, self.label = total, stream or sys.stderr, every, label
        self.t0 = time.perf_counter()
        self.last = -1e9

    def update(self, done: int):
        now = time.perf_counter()
        if done < self.total and now - self.last < self.every:
            return
        self.last = now
        el = now - self.t0
        rate = done / el if el > 0 else 0.0
        left = (self.total - done) / rate if rate > 0 else float("nan")
        width = 30
        fill = int(width * done / self.total)
        print(f"[autoq] [{'#' * fill}{'.' * (width - fill)}] {done}/{self.total} {self.label} "
              f"({100 * done / self.total:.0f}%) {rate:.0f}/s, elapsed {_hms(el)}, left ~{_hms(left)}",
              file=self.stream, flush=True)


def _hms(sec: float) -> str:
    if not np.isfinite(sec):
        return "?"
    sec = int(round(sec))
    return f"{sec // 60}m{sec % 60:02d}s" if sec >= 60 else f"{sec}s"


def generate_jets(n: int, seed: int = 1, workers: int | None = None, settings: GenSettings | None = None,
                  progress: LineProgress | None = None):
    """Generate ``n`` class-balanced jets; returns ``(X float32 [n,16], y int64 [n], class_names, stats)``."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool
    workers = available_cores() if workers is None else workers
    require_extra()
    s = settings or GenSettings()
    tasks = chunk_tasks(n, seed, s)
    per_class: dict[str, list] = {c: [] for c in JET_CLASSES}
    stats = {c: {"events": 0, "worker_seconds": 0.0, "cpu_seconds": 0.0} for c in JET_CLASSES}
    done = 0
    t0 = time.perf_counter()
    # an executor, not a Pool: a worker that dies (killed, out of memory, a script without a __main__ guard) breaks
    # it with an error, where a Pool starts a new worker and waits forever for the lost chunk
    with ProcessPoolExecutor(min(workers, len(tasks)), mp_context=mp.get_context("spawn"),
                             initializer=_quiet_worker) as pool:
        try:
            for cls, X, tried, sec, cpu in pool.map(_chunk_task, tasks):  # ordered: independent of timing
                per_class[cls].append(X)
                stats[cls]["events"] += tried
                stats[cls]["worker_seconds"] += sec
                stats[cls]["cpu_seconds"] += cpu
                done += len(X)
                if progress:
                    progress.update(done)
        except BrokenProcessPool as exc:
            raise JetGenError("a jet-generation worker process died before finishing its chunk (killed, out of "
                              "memory, or a script that calls generate_jets without an `if __name__ == "
                              "'__main__':` guard)") from exc
    X = np.concatenate([np.concatenate(per_class[c]) for c in JET_CLASSES]).astype(np.float32)
    y = np.concatenate([np.full(sum(len(a) for a in per_class[c]), i) for i, c in enumerate(JET_CLASSES)])
    perm = np.random.default_rng(seed).permutation(len(y))
    info = {"n": int(n), "seed": int(seed), "workers": int(workers), "wall_seconds": time.perf_counter() - t0,
            "chunk": CHUNK, "settings": asdict(s), "per_class": stats, "versions": _versions()}
    return X[perm], y[perm].astype(np.int64), list(JET_CLASSES), info


def _versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version
    out = {}
    for pkg in ("pythia8mc", "fastjet", "awkward", "numpy"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = None
    return out


def save_jets(path: Path, X, y, class_names, info: dict, overwrite: bool = True):
    """Write the npz that :func:`autoq.data.jets.load_jets` reads (atomically), with the generation record.

    Without ``overwrite`` a file that appeared at ``path`` meanwhile (another make-jets) is left alone: these jets
    are then kept under a name of their own, which the error gives."""
    import io
    buf = io.BytesIO()  # compressed in memory first: a failing write is then one clean OSError
    np.savez_compressed(buf, X=X, y=y, class_names=np.asarray(class_names), feature_names=np.asarray(JET_FEATURES),
                        generated=np.asarray("GENERATED jets (Pythia 8 + FastJet, particle level, no detector "
                                             "simulation): not the OpenML hls4ml_lhc_jets_hlf set"),
                        info=np.asarray(json.dumps(info)))
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp.npz")
    try:
        with open(tmp, "wb") as f:
            f.write(buf.getbuffer())
    except OSError as exc:  # disk full, file too large, folder removed meanwhile, ...
        tmp.unlink(missing_ok=True)
        raise JetGenError(f"cannot write {path}: {exc.strerror or exc}") from None
    if not overwrite:
        try:
            os.link(tmp, path)  # creates path only if nothing is there, atomically
            os.unlink(tmp)
            return
        except FileExistsError:
            _keep_aside(tmp, path)
        except OSError:  # a file system without hard links: check, then replace
            if path.exists():
                _keep_aside(tmp, path)
    os.replace(tmp, path)


def _keep_aside(tmp: Path, path: Path):
    """``path`` appeared while generating: keep these jets under a name of their own and say where."""
    keep = path.with_name(f"{path.stem}.{os.getpid()}.npz")
    os.replace(tmp, keep)
    raise JetGenError(f"{path} appeared while generating (another make-jets?) and was left alone; these jets are "
                      f"kept in {keep}")


def available_cores() -> int:
    """CPU cores this process may run on (its affinity: a container's or a batch slot's share, not the host's)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def make_jets(n: int, seed: int = 1, output="jets_generated.npz", workers: int | None = None, card: bool = True,
              tagger: bool = True, stream=None, settings: GenSettings | None = None, overwrite: bool = False) -> dict:
    """``autoq data make-jets``: generate, write ``output`` and (``card``) its data card ``.md`` + ``.png`` beside it
    (``tagger``: with the float tagger's test accuracy). An existing output (or card) is replaced only with
    ``overwrite``; that is checked before generating, and again, atomically, when the file is written. ``workers``:
    default one per available core (the data do not depend on it)."""
    workers = available_cores() if workers is None else workers
    out = _check_args(n, seed, output, workers, overwrite, card)
    require_extra()
    stream = stream or sys.stderr
    print(f"[autoq] generating {n} jets (seed {seed}, {workers} workers): Pythia 8 + FastJet, particle level",
          file=stream, flush=True)
    X, y, names, info = generate_jets(n, seed, workers, settings, LineProgress(n, stream))
    save_jets(out, X, y, names, info, overwrite)
    print(f"[autoq] wrote {out} ({n} jets in {_hms(info['wall_seconds'])}, "
          f"{n / info['wall_seconds']:.0f} jets/s)", file=stream, flush=True)
    if card:
        from .jetcard import write_card
        try:
            md = write_card(out, X, y, names, info, tagger=tagger, stream=stream)
        except OSError as exc:  # a disk that filled up after the data: no half-written or stale card stays
            for part in (out.with_suffix(".md"), out.with_suffix(".png")):
                part.unlink(missing_ok=True)
            raise JetGenError(f"wrote {out}, but not its data card: {exc.strerror or exc}") from None
        print(f"[autoq] data card {md}", file=stream, flush=True)
    return info
