"""keras-tuner glue: :class:`AutoqTuner` runs one autoq trial per keras-tuner trial, resumes a killed search, and
writes keras-tuner's state files atomically (its own objects only: keras-tuner itself is not patched)."""
from __future__ import annotations

import contextlib
import io
import json
import os
import traceback

from .. import keras_env
from ..errors import AutoqError, ResultsError
from .distributed import Role, consecutive_failures
from .store import atomic_write_text, storage_error
from .strategies.base import AS_LEARNED_KEY, START_KEY
from .finish import finish
from .progress import trial_line
from .session import Session
from .stage import Stage
from .trial import run_trial
from .layout import RECORD, TRIALS_CSV

kt = keras_env.keras_tuner()
from keras_tuner.src.distribute import utils as dist_utils  # noqa: E402
from keras_tuner.src.engine import base_tuner  # noqa: E402
from keras_tuner.src.engine import trial as trial_module  # noqa: E402


class TooManyFailures(AutoqError):
    """``search.max_failed_trials`` trials in a row failed; the search stopped."""


class Interrupted(KeyboardInterrupt):
    """Ctrl-C / SIGINT during a search; ``output_dir`` holds what finished (trials.csv is up to date)."""

    def __init__(self, output_dir):
        super().__init__(str(output_dir))
        self.output_dir = output_dir


def _requeue_stranded(oracle) -> None:
    """keras-tuner writes a new trial's ``trial.json`` before ``oracle.json`` lists it as running: a kill between
    the two leaves a RUNNING trial that no list remembers, and it would never run. Queue it for retry like the
    trials ``oracle.json`` does list."""
    queued = set(oracle._retry_queue) | {t.trial_id for t in oracle.ongoing_trials.values()}
    for tid in sorted(oracle.trials):
        if oracle.trials[tid].status == "RUNNING" and tid not in queued:
            oracle._retry_queue.append(tid)


def _requeue_lost(oracle, session: Session, prefix: str) -> list:
    """A finished trial whose folder (``trials/<id>``, its record) was deleted runs again, so a resumed search
    still ends with ``max_trials`` on record; a trial keras-tuner's lists name but whose own file is gone (the
    ``tuner/trial_<id>`` folder) makes the state unusable: refused with the remedy."""
    from .folder import FRESH_HINT

    known = set(oracle.trials)
    gone = sorted({t for t in oracle.end_order + oracle.start_order + list(oracle._retry_queue) if t not in known})
    if gone:
        raise ResultsError(f"keras-tuner's record of trial(s) {', '.join(gone)} is missing from "
                           f"{getattr(oracle, '_project_dir', session.store.dir)} (folder trial_<id> deleted?): the "
                           f"search cannot be resumed; {FRESH_HINT}")
    queued = set(oracle._retry_queue) | {t.trial_id for t in oracle.ongoing_trials.values()}
    notes = []
    for tid in sorted(oracle.trials):
        folder = session.store.trial_dir(prefix + tid)
        if oracle.trials[tid].status in ("COMPLETED", "FAILED", "INVALID") and tid not in queued and not (
                folder / RECORD).is_file():
            notes.append(f"[autoq] trial {prefix + tid} had finished, but {folder / RECORD} is "
                         "gone: running it again")
            oracle.end_order = [t for t in oracle.end_order if t != tid]
            oracle._retry_queue.append(tid)
    return notes


class AutoqTuner(base_tuner.BaseTuner):
    """Runs one autoq trial (:func:`.trial.run_trial`) of a stage per keras-tuner trial; the oracle sees ``score``,
    the goal metric as ``objective`` (higher is better) and the cost under its key. ``max_trials`` is only the total
    the progress line shows (None for hyperband, which sizes its own brackets)."""

    def __init__(self, session: Session, stage: Stage, oracle, max_trials: int | None = None,
                 serve_options: dict | None = None):
        self.session, self.stage, self.max_trials, self.serve_options = session, stage, max_trials, serve_options
        super().__init__(oracle, directory=str(session.store.dir), project_name=stage.project, overwrite=False)

    def reload(self):
        super().reload()
        if not self._is_worker():
            _requeue_stranded(self.oracle)
            # logged by make_tuner (stdout is muted here)
            self.notes = _requeue_lost(self.oracle, self.session, self.stage.prefix)

    def save(self):
        """keras-tuner's save, with the tuner's own file written atomically too (the oracle's: AtomicState)."""
        if not self._is_worker():
            self.oracle.save()
        atomic_write_text(self._get_tuner_fname(), json.dumps(self.get_state()))

    def _populate_initial_space(self):
        hp = self.oracle.get_space()
        self.stage.space.declare(hp)
        self.oracle.update_space(hp)

    def search(self, *args, **kwargs):
        if dist_utils.is_chief_oracle():
            # keras-tuner's chief would block in oracle_chief.start_server (20 s polls, server never stopped)
            from .distributed import serve
            self.oracle.verbose = 0
            self.save()
            self.serve_result = serve(self.oracle, os.environ["KERASTUNER_ORACLE_IP"],
                                      int(os.environ["KERASTUNER_ORACLE_PORT"]), self.session.log,
                                      **(self.serve_options or {}))
            return
        self.save()  # the tuner file exists from the start, so a kill in trial 0 still resumes by reloading
        super().search(*args, **kwargs)

    def _try_run_and_update_trial(self, trial, *fit_args, **fit_kwargs):
        """keras-tuner's, without the traceback it prints for every failed trial (the trial's record has the
        error, and trials.csv shows it)."""
        try:
            self._run_and_update_trial(trial, *fit_args, **fit_kwargs)
            trial.status = trial_module.TrialStatus.COMPLETED
        except kt.errors.FatalError:
            raise
        except Exception as exc:  # noqa: BLE001 - as keras-tuner: the trial fails, the search goes on
            failed = isinstance(exc, kt.errors.FailedTrialError)
            trial.status = trial_module.TrialStatus.FAILED if failed else trial_module.TrialStatus.INVALID
            trial.message = traceback.format_exc()

    def _finished_record(self, trial_id, values):
        """The record of this trial if an earlier (killed) run finished it: same choice, model on disk."""
        store = self.session.store
        try:
            rec = json.loads((store.trial_dir(trial_id) / RECORD).read_text())
        except (OSError, ValueError):
            return None
        if rec.get("hp") != values or rec.get("status") not in ("ok", "failed"):
            return None
        if rec["status"] == "ok" and not (store.dir / rec.get("model", "")).is_file():
            return None
        return rec

    def run_trial(self, trial, *args, **kwargs):
        session, stage = self.session, self.stage
        values = dict(trial.hyperparameters.values)
        epochs = values.get("tuner/epochs")
        initial = values.get("tuner/initial_epoch", 0)
        warm = values.get("tuner/trial_id")  # hyperband: continue the trial this one was promoted from
        start = values.get(START_KEY)  # a strategy's candidate: start from the weights it learned
        if start and values.get(AS_LEARNED_KEY):  # per-weight precision: training would leave its weights' grids
            epochs = 0
        try:
            number = stage.number_offset + int(trial.trial_id)
        except ValueError:  # a custom oracle's non-numeric ids: number trials in the order they start
            number = len(session.store.records())
        choice_values = {k: v for k, v in values.items() if not k.startswith(("tuner/", "autoq/"))}
        trial_id = stage.prefix + trial.trial_id
        record = self._finished_record(trial_id, choice_values)
        finished_before = record is not None
        if finished_before:
            session.log(f"[autoq] trial {trial_id} finished before the interruption "
                         f"({record['status']}); keeping its record")
        else:
            try:
                record = run_trial(session, stage, trial_id, number, choice_values, epochs=epochs,
                                   initial_epoch=initial, tuner_id=self.tuner_id,
                                   warm_start=start or (f"trials/{warm}/model.h5" if warm else None))
            except OSError as exc:
                err = storage_error(exc)
                if err is None:
                    raise
                raise kt.errors.FatalError(str(err)) from err  # keras-tuner would mark it failed and go on
        records = session.store.records()  # read once: best across all workers, and trials.csv
        if not finished_before:  # the best so far across all workers: from every record (searching.selection)
            session.log(trial_line(session, record, self.max_trials, records))
        write_table(session, records)  # keep trials.csv current, so a killed search still has its table
        if record["status"] != "ok":
            raise kt.errors.FailedTrialError(record.get("error", "trial failed"))
        metrics = {"score": record["score"], "objective": session.metric.up(record["val_metric"]),
                   session.cost_key: float(record[session.cost_key])}
        if "violation" in record:  # goal.budget / goal.max_drop: the pareto oracle's constrained dominance
            metrics["violation"] = min(float(record["violation"]), 1e9)
        return metrics

    def on_trial_end(self, trial):
        super().on_trial_end(trial)  # oracle.end_trial + save: the oracle's state is on disk first
        session = self.session
        limit = session.cfg.search.max_failed_trials
        if limit and not self._is_worker() and consecutive_failures(self.oracle) >= limit:
            try:
                rec_path = session.store.trial_dir(self.stage.prefix + trial.trial_id) / RECORD
                last = json.loads(rec_path.read_text()).get("error") or ""
            except (OSError, ValueError):
                last = ((trial.message or "").strip().splitlines()[-1:] or [""])[0]
            raise TooManyFailures(f"search stopped: {limit} trials in a row failed (last error: {last}); "
                                  f"see {session.store.dir / TRIALS_CSV}")

    def save_model(self, trial_id, model, step=0):  # run_trial saves the model itself
        pass


def write_table(session: Session, records: list | None = None) -> None:
    """Rewrite trials.csv (best effort: a full disk must not kill the search that is recording it)."""
    try:
        session.store.write_trials_csv(session.store.records() if records is None else records,
                                       session.dataset_label)
    except OSError:
        pass


def make_tuner(session: Session, stage: Stage, oracle, *, max_trials: int | None, serve_options: dict | None = None,
               dist: Role | None = None) -> AutoqTuner:
    """The tuner of one search stage, reloaded from its folder when it exists (a damaged state is one error);
    ``dist``: this process's :class:`~.distributed.Role` (None: one process)."""
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # keras-tuner prints "Reloading Tuner from ..."
            tuner = AutoqTuner(session, stage, oracle, max_trials, serve_options)
    except (ValueError, KeyError, TypeError, RuntimeError) as exc:  # a damaged oracle.json / trial.json / tuner json
        from .folder import FRESH_HINT
        raise ResultsError(f"keras-tuner's state in {session.store.dir / stage.project} is damaged "
                           f"({type(exc).__name__}: {exc}); {FRESH_HINT}") from None
    for note in getattr(tuner, "notes", []):
        session.log(note)
    if dist and dist.role == "worker":
        from .distributed import connect_worker
        connect_worker(tuner.oracle, dist)
    return tuner


def run_stage(tuner, session: Session, *, dist: Role | None, out):
    """Run one keras-tuner search; return a TooManyFailures that stopped it (None when it ran out of trials)."""
    role = dist.role if dist else None
    try:
        tuner.search(verbose=0)
    except KeyboardInterrupt:
        write_table(session)
        if role != "worker":  # summarise what finished (summary.json says interrupted; the resumed run rewrites it)
            try:
                finish(session, 0, interrupted=True)
            except Exception:  # noqa: BLE001 - e.g. no trial finished yet: trials.csv is what there is
                pass
        raise Interrupted(out) from None
    except TooManyFailures as exc:
        return exc
    except Exception as exc:
        import grpc
        if isinstance(exc.__cause__, ResultsError):  # a full disk or a read-only folder (run_trial)
            raise exc.__cause__ from None
        if role == "worker" and isinstance(exc, grpc.RpcError):
            write_table(session)
            if exc.code() == grpc.StatusCode.UNAUTHENTICATED:
                raise AutoqError(f"the chief at {dist.host}:{dist.port} refused this worker: wrong or missing "
                                 "token (set AUTOQ_TOKEN, or --token, to the chief's)") from None
            raise AutoqError(f"lost the chief at {dist.host}:{dist.port} ({exc.code().name}: "
                             f"{exc.details()}); this worker's trials are in {out}") from None
        raise
    return None
