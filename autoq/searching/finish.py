"""The end of a search: the front and the winner (under the constraints), the front's test metric, the winner's
model and optional fine-tuning, ``summary.json``."""
from __future__ import annotations

import time

from ..errors import AutoqError, ResultsError
from .fronts import front_points
from .provenance import versions
from .result import FinishedSearch, load_model
from .session import Session, thawed
from .store import atomic_copy, atomic_save_model, atomic_write_json
from .layout import BEST_MODEL
from .training import evaluate, fit


def finish(session: Session, fine_tune_epochs: int = 0, interrupted: bool = False,
           input_scaler: dict | None = None) -> FinishedSearch:
    """The end of a search (``session``: its :class:`.session.Session`): trials.csv, the front and the winner under
    the constraints, the front's test metric, the models outside the front dropped (``search.keep: pareto``),
    ``best_model.h5``, the optional fine-tuning of the winner, summary.json (its ``seconds`` include the
    fine-tuning; ``input_scaler``: the standardization the search's inputs went through, which the export applies);
    then the session's ``on_finish`` hook (the API's: the plot) sees the finished search."""
    records = session.store.records()
    session.store.write_trials_csv(records, session.dataset_label)
    ok = [r for r in records if r.get("status") == "ok" and not r.get("partial")]  # partial: blocks before the last
    if not ok:
        raise AutoqError(f"no trial finished successfully ({len(records)} failed); see {session.store.dir}/trials.csv")
    key = session.cost_key
    baselines = thawed(session.state["baselines"])  # the summary's and the result's own copy (JSON, plain dicts)
    front_all = front_points(ok, baselines, key, session.metric)
    front = [r for r in front_all if "baseline" not in r]
    selection = session.selection
    best = selection.winner(ok)  # None only when constraints are given and no trial meets them
    constraints = selection.report(ok, best) if session.constraints.active else None
    keep = {r["trial"] for r in front} | ({best["trial"]} if best else set())
    if session.cfg.search.keep == "pareto":
        for r in ok:
            p = session.store.dir / r["model"]
            if r["trial"] not in keep and p.is_file():
                p.unlink()
                r["model_deleted"] = True
    best_model, test_acc = None, None
    if best is None:  # no winner: no best_model.h5 (an earlier run's would be taken for one)
        (session.store.dir / BEST_MODEL).unlink(missing_ok=True)
    else:
        best_path = session.store.dir / best["model"]
        if not best_path.is_file():
            raise ResultsError(f"the best trial's model {best_path} is missing (trial {best['trial']}); restore "
                               "it, or delete that trial's folder to drop the trial and run the same command again")
        atomic_copy(best_path, session.store.dir / BEST_MODEL)
        best_model = load_model(session.store.dir / BEST_MODEL, session.trust)
        _, test_acc = evaluate(session, best_model, "test")
    front_test = front_test_metrics(session, front_all, best["trial"] if best else None, test_acc)
    session.store.write_pareto_csv([{**r, "test_metric": front_test.get(r["trial"])} for r in front_all], key,
                                session.dataset_label)
    summary = {**({"head": session.head} if session.head else {}), "metric": session.metric.name, "direction": session.metric.direction, "name": session.cfg.name, "output_dir": str(session.store.dir), "algorithm": session.cfg.search.algorithm,
               "seed": session.cfg.seed, "cost": key, "goal": vars(session.cfg.goal), "trials": len(records),
               "failed_trials": len(records) - len(ok), "best": best,
               **session.metric_fields("best_test", test_acc),
               "pareto": [r["trial"] for r in front], "baselines": baselines,
               "pareto_baselines": [r["baseline"] for r in front_all if "baseline" in r],
               "reference_cost": session.state["reference_cost"],
               **session.metric_fields("float_val", session.state["float_val_metric"]),
               **session.metric_fields("float_test", session.state["float_test_metric"]), "config": session.cfg.to_dict(),
               "config_digest": session.state["config_digest"], "versions": versions(),
               "dataset": session.state["dataset"], "synthetic_data": session.state["synthetic_data"],
               "space_size": session.state["space_size"],
               "seconds": None,  # set last: the whole run, the winner's fine-tuning included
               "max_trials": session.cfg.search.max_trials, "interrupted": interrupted,
               "test_metric": front_test, "val_samples": len(session.data.x_val),
               "test_samples": len(session.data.x_test),
               "exportable": session.cfg.exportable,
               **({"constraints": constraints} if constraints else {})}
    if fine_tune_epochs and best_model is not None:
        session.log(f"[autoq] fine-tuning the winner for {fine_tune_epochs} epochs ...")
        fit(session, best_model, fine_tune_epochs)
        _, acc = evaluate(session, best_model)
        _, test_acc = evaluate(session, best_model, "test")
        atomic_save_model(best_model, session.store.dir / BEST_MODEL)
        summary.update(**session.metric_fields("fine_tuned_val", acc), **session.metric_fields("best_test", test_acc))
    summary["seconds"] = round(time.time() - session.t0, 1)  # with the winner's fine-tuning
    if input_scaler is not None:  # the export applies it to inputs in the units the search was given
        summary["input_scaler"] = input_scaler
    atomic_write_json(session.store.summary_path, summary)
    result = FinishedSearch(session.store.dir, summary, records, front, baselines, key, best_model,
                            session.cfg)
    if session.on_finish is not None:
        session.on_finish(result)
    return result


def front_test_metrics(session, front: list, best_trial: str, best_test) -> dict:
    """The test metric of every saved model on the front (trials and baselines), once, at the end: beside the
    validation figure the front was chosen on. None where a model file is missing."""
    out = {}
    for r in front:
        path = session.store.dir / r["model"] if r.get("model") else None
        if r["trial"] == best_trial:
            out[r["trial"]] = best_test
        elif path is not None and path.is_file():
            out[r["trial"]] = evaluate(session, load_model(path, session.trust), "test")[1]
        else:
            out[r["trial"]] = None
    return out
