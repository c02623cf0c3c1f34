"""The end of a search: the front and the winner (under the constraints), the front's test metric, the winner's
model and optional fine-tuning, ``summary.json``."""
from __future__ import annotations

import time

from ..errors import AutoqError, ResultsError
from .fronts import front_points
from .provenance import versions
from .result import FinishedSearch, load_model
from .store import atomic_copy, atomic_save_model, atomic_write_json
from .layout import BEST_MODEL


def finish(self, fine_tune_epochs: int = 0, interrupted: bool = False) -> FinishedSearch:
    """The end of a search (``self`` is its :class:`.trial.Searcher`): trials.csv, the front and the winner under the
    constraints, the front's test metric, the models outside the front dropped (``search.keep: pareto``),
    ``best_model.h5``, the optional fine-tuning of the winner, summary.json; then the searcher's ``on_finish``
    hook (the API's: the plot) sees the finished search."""
    records = self.store.records()
    self.store.write_trials_csv(records, self.dataset_label)
    ok = [r for r in records if r.get("status") == "ok" and not r.get("partial")]  # partial: blocks before the last
    if not ok:
        raise AutoqError(f"no trial finished successfully ({len(records)} failed); see {self.store.dir}/trials.csv")
    key = self.cost_key
    front_all = front_points(ok, self.state["baselines"], key, self.metric)
    front = [r for r in front_all if "baseline" not in r]
    selection = self.selection
    best = selection.winner(ok)  # None only when constraints are given and no trial meets them
    constraints = selection.report(ok, best) if self.constraints.active else None
    keep = {r["trial"] for r in front} | ({best["trial"]} if best else set())
    if self.cfg.search.keep == "pareto":
        for r in ok:
            p = self.store.dir / r["model"]
            if r["trial"] not in keep and p.is_file():
                p.unlink()
                r["model_deleted"] = True
    best_model, test_acc = None, None
    if best is None:  # no winner: no best_model.h5 (an earlier run's would be taken for one)
        (self.store.dir / BEST_MODEL).unlink(missing_ok=True)
    else:
        best_path = self.store.dir / best["model"]
        if not best_path.is_file():
            raise ResultsError(f"the best trial's model {best_path} is missing (trial {best['trial']}); restore "
                               "it, or delete that trial's folder to drop the trial and run the same command again")
        atomic_copy(best_path, self.store.dir / BEST_MODEL)
        best_model = load_model(self.store.dir / BEST_MODEL, self.trust)
        _, test_acc = self._evaluate(best_model, "test")
    front_test = front_test_metrics(self, front_all, best["trial"] if best else None, test_acc)
    self.store.write_pareto_csv([{**r, "test_metric": front_test.get(r["trial"])} for r in front_all], key,
                                self.dataset_label)
    summary = {**({"head": self.head} if self.head else {}), "metric": self.metric.name, "direction": self.metric.direction, "name": self.cfg.name, "output_dir": str(self.store.dir), "algorithm": self.cfg.search.algorithm,
               "seed": self.cfg.seed, "cost": key, "goal": vars(self.cfg.goal), "trials": len(records),
               "failed_trials": len(records) - len(ok), "best": best,
               **self._metric_fields("best_test", test_acc),
               "pareto": [r["trial"] for r in front], "baselines": self.state["baselines"],
               "pareto_baselines": [r["baseline"] for r in front_all if "baseline" in r],
               "reference_cost": self.state["reference_cost"],
               **self._metric_fields("float_val", self.state["float_val_metric"]),
               **self._metric_fields("float_test", self.state["float_test_metric"]), "config": self.cfg.to_dict(),
               "config_digest": self.state["config_digest"], "versions": versions(),
               "dataset": self.state["dataset"], "synthetic_data": self.state["synthetic_data"],
               "space_size": self.state["space_size"], "seconds": round(time.time() - self.t0, 1),
               "max_trials": self.cfg.search.max_trials, "interrupted": interrupted,
               "test_metric": front_test, "val_samples": len(self.data.x_val),
               "test_samples": len(self.data.x_test),
               "exportable": self.cfg.exportable,
               **({"constraints": constraints} if constraints else {})}
    if fine_tune_epochs and best_model is not None:
        self.log(f"[autoq] fine-tuning the winner for {fine_tune_epochs} epochs ...")
        self._fit(best_model, fine_tune_epochs)
        _, acc = self._evaluate(best_model)
        _, test_acc = self._evaluate(best_model, "test")
        atomic_save_model(best_model, self.store.dir / BEST_MODEL)
        summary.update(**self._metric_fields("fine_tuned_val", acc), **self._metric_fields("best_test", test_acc))
    atomic_write_json(self.store.summary_path, summary)
    result = FinishedSearch(self.store.dir, summary, records, front, self.state["baselines"], key, best_model,
                            self.cfg)
    if self.on_finish is not None:
        self.on_finish(result)
    return result

def front_test_metrics(self, front: list, best_trial: str, best_test) -> dict:
    """The test metric of every saved model on the front (trials and baselines), once, at the end: beside the
    validation figure the front was chosen on. None where a model file is missing."""
    out = {}
    for r in front:
        path = self.store.dir / r["model"] if r.get("model") else None
        if r["trial"] == best_trial:
            out[r["trial"]] = best_test
        elif path is not None and path.is_file():
            out[r["trial"]] = self._evaluate(load_model(path, self.trust), "test")[1]
        else:
            out[r["trial"]] = None
    return out
