"""Results on disk: per-trial records, trials.csv, pareto.csv, summary.json. Every write is atomic.

Each trial writes ``trials/<id>/record.json`` (and its model) on its own, so concurrent workers and killed
processes never leave a half-written table: ``trials.csv`` is regenerated from the records and swapped in with
``os.replace``.
"""
from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from pathlib import Path

from ..errors import ResultsError
from .layout import PARETO_CSV, RECORD, SUMMARY, TRIALS, TRIALS_CSV

ROLE_SEP = "|"
CSV_FIXED = ["trial", "status", "val_metric", "val_accuracy", "score", "energy", "bits", "bops", "ebops", "fpga", "seconds", "epochs",
             "tuner_id"]
# the FPGA estimate at the export's settings (what goal.budget limits) and the verdict on the constraints
CSV_FIXED += ["lut", "ff", "dsp", "bram", "latency_ns", "ii", "feasible", "violated"]


def _umask() -> int:
    """The process umask, read without changing it where Linux allows (``os.umask`` alone must set it)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def fsync_dir(path) -> None:
    """Make a rename or a new file in ``path`` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _replace_durably(tmp, path: Path) -> None:
    """fsync ``tmp``, give it the umask's permissions (mkstemp makes 0600), rename it over ``path``, fsync the dir."""
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def atomic_write_text(path, text: str) -> None:
    """Write via a temporary file in the same folder, fsync, ``os.replace``, fsync the folder: a reader or a crash
    sees the old file or the new one, never half of one. The file follows the umask like any other output."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        _replace_durably(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_write_json(path, obj) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def _json_default(o):
    try:
        import numpy as np
        if isinstance(o, np.generic):
            return o.item()
        if isinstance(o, np.ndarray):
            return o.tolist()
    except ImportError:
        pass
    return str(o)


def atomic_save_model(model, path) -> None:
    """Save a Keras model as .h5 atomically and durably."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.h5")
    try:
        model.save(tmp, include_optimizer=False, save_format="h5")
        _replace_durably(tmp, path)
    except BaseException:
        if tmp.exists():
            tmp.unlink()
        raise


def atomic_copy(src, dst) -> None:
    """Copy a file atomically and durably."""
    import shutil
    dst = Path(dst)
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
    try:
        shutil.copyfile(src, tmp)
        _replace_durably(tmp, dst)
    except BaseException:
        if tmp.exists():
            tmp.unlink()
        raise


class ResultStore:
    """The output directory of one search."""

    def __init__(self, output_dir):
        self.dir = Path(output_dir)

    # paths
    def trial_dir(self, trial_id) -> Path:
        return self.dir / TRIALS / str(trial_id)

    @property
    def summary_path(self) -> Path:
        return self.dir / SUMMARY

    # records
    def write_record(self, record: dict) -> None:
        atomic_write_json(self.trial_dir(record["trial"]) / RECORD, record)

    def records(self) -> list:
        """All finished or failed trial records, in trial order."""
        out = []
        root = self.dir / TRIALS
        if not root.is_dir():
            return out
        for p in root.glob("*/record.json"):
            try:
                rec = json.loads(p.read_text())
                rec["trial"]  # noqa: B018 - a record without its id is as unusable as a torn one
            except (OSError, ValueError, KeyError, TypeError) as exc:
                # records are written atomically, so this is damage, not a write in progress: say so, lose nothing
                raise ResultsError(f"{p} is unreadable ({type(exc).__name__}: {exc}); restore it, or delete that "
                                   "trial's folder to drop the trial") from None
            out.append(rec)
        return sorted(out, key=lambda r: (r.get("number", 0), str(r["trial"])))

    # tables
    def write_trials_csv(self, records: list, dataset: str = "") -> Path:
        """One row per trial; one column per layer and parameter type (``fc1.kernel``...); ``dataset`` names the data
        in every row (``... (SYNTHETIC)`` for a stand-in)."""
        cols = []
        for r in records:
            for layer, roles in r.get("choice", {}).items():
                for role in roles:
                    if f"{layer}.{role}" not in cols:
                        cols.append(f"{layer}.{role}")
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(CSV_FIXED + cols + ["error", "dataset"])
        for r in records:
            choice = r.get("choice", {})
            row = [_fmt(r.get(c)) for c in CSV_FIXED]
            row += [choice.get(c.rsplit(".", 1)[0], {}).get(c.rsplit(".", 1)[1], "") for c in cols]
            w.writerow(row + [r.get("error", ""), dataset])
        path = self.dir / TRIALS_CSV
        atomic_write_text(path, buf.getvalue())
        return path

    def write_pareto_csv(self, front: list, cost_key: str, dataset: str = "") -> Path:
        """The front of :func:`front_points`: trials and the baselines that are not dominated (``test_metric``:
        each one's saved model on the test split)."""
        buf = io.StringIO()
        w = csv.writer(buf)
        cols = ["val_metric", "val_accuracy", "test_metric", "energy", "bits", "bops", "ebops", "fpga", "score"]
        w.writerow(["trial"] + cols + ["front_cost", "model", "dataset"])
        for r in front:
            w.writerow([r["trial"]] + [_fmt(r.get(c)) for c in cols] + [cost_key, r.get("model", ""), dataset])
        path = self.dir / PARETO_CSV
        atomic_write_text(path, buf.getvalue())
        return path


def _fmt(v):
    if isinstance(v, bool):  # feasible
        return "yes" if v else "no"
    if isinstance(v, list):  # violated: the constraints a trial breaks
        return "+".join(map(str, v))
    if isinstance(v, float):
        return f"{v:.6g}"
    return "" if v is None else v


def storage_error(exc: BaseException) -> ResultsError | None:
    """A full disk, a read-only folder or missing permission as one clear error (None for other errors)."""
    import errno
    text = str(exc)
    codes = {errno.ENOSPC: "no space left on the device", errno.EDQUOT: "disk quota exceeded",
             errno.EROFS: "read-only file system", errno.EACCES: "permission denied", errno.EPERM: "not permitted"}
    what = codes.get(getattr(exc, "errno", None))
    if what is None and "No space left" in text:
        what = codes[errno.ENOSPC]
    if what is None:
        return None
    where = getattr(exc, "filename", None)
    return ResultsError(f"cannot write{f' {where}' if where else ''}: {what}. Everything finished so far is kept; "
                        "free space or fix the permissions, then run the same command again to resume")
