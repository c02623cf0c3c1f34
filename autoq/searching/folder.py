"""The output folder of a search: autoq's marker, a lock that names its holder, and the resume fingerprint.

* ``autoq.json`` marks a folder autoq created (with a format version); ``--overwrite`` clears only such a folder,
  and only the entries autoq writes there.
* ``autoq.lock`` holds the pid, host and start time of the one process (a search or a chief) that owns the folder.
  A second one is refused with a message naming the holder. A lock whose process is gone (same host: the pid is
  dead or belongs to another process; another host: no heartbeat for ``STALE_AFTER`` seconds) is taken over.
* The fingerprint (config digest, data content hash, float model hash) is stored in ``state.json``; resuming with
  anything else is refused with what changed and how to start fresh.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import sys
import threading
import time
from pathlib import Path

from ..errors import ResultsError
from .layout import (BASELINES, BEST_MODEL, DATA_SAMPLE, FLOAT_MODEL, PARETO_CSV, PARETO_PNG, STATE, STRATEGY, SUMMARY,
                     TRIALS, TRIALS_CSV, TUNER)

MARKER = "autoq.json"
LOCK = "autoq.lock"
FORMAT = 1
HEARTBEAT = 20.0  # seconds between touches of the lock file
STALE_AFTER = 120.0  # a lock from another host with no heartbeat for this long is abandoned
# everything autoq writes at the top of a search folder (``--overwrite`` removes these and nothing else)
OWN_ENTRIES = frozenset({MARKER, LOCK, STATE, SUMMARY, FLOAT_MODEL, BEST_MODEL, TRIALS_CSV,
                         PARETO_CSV, PARETO_PNG, DATA_SAMPLE, TRIALS, BASELINES, TUNER, STRATEGY,
                         "chief.token"})
FINGERPRINT_PARTS = {"config": "config", "data": "data (content hash)", "model": "float model (weights hash)"}


# ------------------------------------------------------------------------------------------ marker

def read_marker(out: Path) -> dict | None:
    """autoq's marker of ``out``, or None when the folder is not marked (or the marker is not autoq's)."""
    try:
        m = json.loads((Path(out) / MARKER).read_text())
    except (OSError, ValueError):
        return None
    return m if isinstance(m, dict) and m.get("tool") == "autoq" and isinstance(m.get("format"), int) else None


def write_marker(out: Path, kind: str = "search") -> None:
    from .store import atomic_write_json
    atomic_write_json(Path(out) / MARKER, {"tool": "autoq", "format": FORMAT, "kind": kind,
                                           "created": time.strftime("%Y-%m-%dT%H:%M:%S")})


def _legacy_search(out: Path) -> bool:
    """A search folder of autoq before markers existed: a state.json with a config digest and nothing foreign."""
    try:
        state = json.loads((out / STATE).read_text())
    except (OSError, ValueError):
        return False
    return isinstance(state, dict) and "config_digest" in state and all(_own(p.name) for p in out.iterdir())


def _own(name: str) -> bool:
    return name in OWN_ENTRIES or (name.startswith(".") and name.endswith((".tmp", ".tmp.h5", ".tmp.png")))


def is_autoq_folder(out: Path) -> bool:
    return read_marker(out) is not None or _legacy_search(out)


def clear(out: Path) -> list:
    """Delete autoq's own entries of a folder autoq created; returns the foreign entries left in place."""
    out = Path(out)
    m = read_marker(out)
    if m is None and not _legacy_search(out):
        raise ResultsError(f"{out} was not created by autoq (no {MARKER}); --overwrite deletes only autoq's own "
                           "folders: choose another --output, or empty it yourself")
    if m is not None and m["format"] > FORMAT:
        raise ResultsError(f"{out} was written by a newer autoq (folder format {m['format']}, this autoq reads "
                           f"{FORMAT}); refusing to delete it")
    foreign = []
    for p in sorted(out.iterdir(), key=lambda p: p.name == MARKER):  # the marker last: a kill leaves it marked
        if p.name == LOCK:
            continue
        if not _own(p.name):
            foreign.append(p.name)
        elif p.is_dir() and not p.is_symlink():
            shutil.rmtree(p)
        else:
            p.unlink()
    return foreign


# ------------------------------------------------------------------------------------------ lock

def _proc_start(pid: int) -> str | None:
    """Start time of a process in clock ticks since boot (Linux), to tell a live pid from a reused one."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _alive(holder: dict, lock_age: float) -> bool:
    if holder.get("host") != socket.gethostname():
        return lock_age < STALE_AFTER  # another machine: trust its heartbeat
    pid = holder.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    start = _proc_start(pid)
    return start is None or holder.get("proc_start") in (None, start)


def describe(holder: dict) -> str:
    return (f"{holder.get('role', 'a process')} pid {holder.get('pid')} on {holder.get('host')}, started "
            f"{holder.get('started')}" + (f" ({holder['command']})" if holder.get("command") else ""))


class FolderLock:
    """Exclusive ownership of an output folder by this process, for the duration of a search (a context manager)."""

    def __init__(self, folder, role: str = "search"):
        self.path = Path(folder) / LOCK
        self.role = role
        self.info: dict | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _read(self):
        try:
            return json.loads(self.path.read_text()), time.time() - self.path.stat().st_mtime
        except FileNotFoundError:
            return None, 0.0
        except (OSError, ValueError):
            try:
                age = time.time() - self.path.stat().st_mtime
            except OSError:
                return None, 0.0
            return {}, age  # being written right now (young) or damaged (old)

    def acquire(self, log=None) -> "FolderLock":
        info = {"pid": os.getpid(), "host": socket.gethostname(), "proc_start": _proc_start(os.getpid()),
                "started": time.strftime("%Y-%m-%dT%H:%M:%S"), "role": self.role,
                "command": " ".join(os.path.basename(a) if i == 0 else a for i, a in enumerate(sys.argv))[:300]}
        for _ in range(5):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
            except FileExistsError:
                holder, age = self._read()
                if holder is None:
                    continue  # released in between
                if (holder and _alive(holder, age)) or (not holder and age < 10):
                    who = describe(holder) if holder else "another process that is starting"
                    raise ResultsError(f"{self.path.parent} is in use by {who}; wait for it to finish, or choose "
                                       "another --output (a lock left by a dead process is taken over automatically)")
                self._take_over(holder, log)
                continue
            with os.fdopen(fd, "w") as f:
                f.write(json.dumps(info))
                f.flush()
                os.fsync(f.fileno())
            self.info = info
            self._thread = threading.Thread(target=self._beat, name="autoq-lock-heartbeat", daemon=True)
            self._thread.start()
            return self
        raise ResultsError(f"could not take {self.path}: other processes keep taking it")

    def _take_over(self, holder: dict, log) -> None:
        """Move a dead holder's lock aside, unless it changed hands since we read it."""
        aside = self.path.with_name(f".{LOCK}.stale.{os.getpid()}")
        try:
            os.replace(self.path, aside)
        except FileNotFoundError:
            return
        try:
            now = json.loads(aside.read_text())
        except (OSError, ValueError):
            now = {}
        if now != holder:  # a live process took it between our read and our move: give it back
            try:
                os.link(aside, self.path)
            except OSError:
                pass
        elif log is not None:
            log(f"[autoq] took over the lock of {describe(holder) if holder else 'a damaged lock file'} "
                "(that process is gone)")
        aside.unlink(missing_ok=True)

    def _beat(self):
        while not self._stop.wait(HEARTBEAT):
            try:
                os.utime(self.path)
            except OSError:
                pass

    def release(self) -> None:
        self._stop.set()
        if self.info is None:
            return
        holder, _ = self._read()
        if holder == self.info:
            self.path.unlink(missing_ok=True)
        self.info = None

    def __enter__(self):
        return self.acquire() if self.info is None else self

    def __exit__(self, *exc):
        self.release()


# ------------------------------------------------------------------------------------------ fingerprint

def data_digest(ds) -> str:
    """Content hash of a dataset's six split arrays (shapes, dtypes and values)."""
    import numpy as np
    h = hashlib.sha256()
    for name in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test"):
        v = getattr(ds, name)
        for key, a in (sorted(v.items()) if isinstance(v, dict) else [("", v)]):  # dict: per output (autoq.data.heads)
            a = np.ascontiguousarray(a)
            h.update(f"{name}{key}{a.shape}{a.dtype}".encode())
            h.update(a.tobytes())
    return h.hexdigest()[:16]


def model_digest(model) -> str:
    """Hash of a model's weights and layer structure (layer classes and weight shapes; names are left out, since
    Keras numbers unnamed layers per session)."""
    import numpy as np
    h = hashlib.sha256()
    for layer in model.layers:
        h.update(layer.__class__.__name__.encode())
        for w in layer.get_weights():
            a = np.ascontiguousarray(w)
            h.update(f"{a.shape}{a.dtype}".encode())
            h.update(a.tobytes())
    return h.hexdigest()[:16]


def fingerprint(config_digest: str, dataset, model) -> dict:
    return {"config": config_digest, "data": data_digest(dataset), "model": model_digest(model)}


def fingerprint_changes(stored: dict, now: dict) -> list:
    """What differs between a folder's fingerprint and this run's (parts the folder did not record are skipped)."""
    return [FINGERPRINT_PARTS[k] for k in FINGERPRINT_PARTS if k in stored and stored[k] != now[k]]


def state_changes(state: dict, fp: dict, config: dict | None = None) -> list:
    """What differs between a prepared folder (its ``state.json``) and this run, the config's keys named.

    A setting the folder's config does not have (added to autoq after that search started) counts as unchanged
    when this run leaves it at its default, so a search started before an upgrade still resumes."""
    changed = fingerprint_changes(state.get("fingerprint") or {"config": state.get("config_digest")}, fp)
    if "config" in changed and config is not None and isinstance(state.get("config"), dict):
        keys = config_changes(state["config"], config)
        i = changed.index("config")
        if not keys:
            del changed[i]
        else:
            changed[i] = "config (" + "; ".join(keys[:4]) + ("; ..." if len(keys) > 4 else "") + ")"
    return changed


def _flat(d, prefix="") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict) and v:
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def config_changes(old: dict, new: dict) -> list:
    """``key: old -> new`` for each setting a resume needs equal that differs (values compared as stored in JSON);
    keys ``old`` lacks are skipped where ``new`` has autoq's default."""
    from ..config import Config
    from .provenance import resume_settings
    norm = lambda d: _flat(json.loads(json.dumps(resume_settings(d), sort_keys=True, default=str)))  # noqa: E731
    old, new, default = norm(old), norm(new), norm(Config().to_dict())
    out = []
    for k in sorted(old.keys() | new.keys()):
        if k not in old:
            if k not in default or new[k] != default[k]:
                out.append(f"{k}: (not set) -> {new[k]!r}")
        elif k not in new:
            out.append(f"{k}: {old[k]!r} -> (no such setting now)")
        elif old[k] != new[k]:
            out.append(f"{k}: {old[k]!r} -> {new[k]!r}")
    return out


def differ(parts: list) -> str:
    """``'config differs'`` / ``'config and data differ'``."""
    return " and ".join(parts) + (" differs" if len(parts) == 1 else " differ")


# ------------------------------------------------------------------------------------------ taking a folder

def read_state(out: Path) -> dict | None:
    """``state.json`` of a prepared search (None before preparation finished); a damaged one is an error."""
    p = Path(out) / STATE
    if not p.is_file():
        return None
    try:
        state = json.loads(p.read_text())
        if not isinstance(state, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError) as exc:
        raise ResultsError(f"{p} is unreadable ({exc}); start fresh with --overwrite (deletes this search's files) "
                           "or choose another --output") from None
    return state


FRESH_HINT = ("start fresh with --overwrite (deletes the earlier search's files; overwrite=True in Python) or choose "
              "another --output (output_dir=...)")


def take(out, fp: dict, overwrite: bool = False, role: str = "search", log=None, config: dict | None = None
         ) -> FolderLock:
    """Make ``out`` this search's folder and lock it: create and mark it (or refuse a folder autoq did not create),
    clear it on ``overwrite``, and refuse to resume a search whose config, data or float model differ."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ResultsError(f"output path {out} is a file, not a directory")
    if out.is_dir() and any(out.iterdir()) and not is_autoq_folder(out):
        raise ResultsError(f"output directory {out} exists and was not created by autoq; refusing to write into it "
                           "or delete it (choose another --output)")
    try:
        out.mkdir(parents=True, exist_ok=True)
        if read_marker(out) is None:
            write_marker(out)
    except OSError as exc:
        raise ResultsError(f"cannot write to the output directory {out}: {exc.strerror or exc}") from None
    lock = FolderLock(out, role).acquire(log)
    try:
        if overwrite:
            foreign = clear(out)
            write_marker(out)
            if foreign and log is not None:
                log(f"[autoq] --overwrite left files autoq did not write in {out}: {', '.join(foreign)}")
            return lock
        state = read_state(out)
        if state is not None:
            changed = state_changes(state, fp, config)
            if changed:
                raise ResultsError(f"{out} holds another search (its {differ(changed)} from this run's), so it "
                                   f"cannot be resumed; {FRESH_HINT}")
    except BaseException:
        lock.release()
        raise
    return lock
