"""A finished search, as data: :class:`FinishedSearch` (what :func:`.run.run_search` returns) and :func:`load_result`
(the same read back from its output folder). Its plot and table are :class:`autoq.present.result.SearchResult`'s."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .. import model_io
from ..errors import ResultsError
from .store import ResultStore
from .layout import BEST_MODEL, FLOAT_MODEL, STATE, SUMMARY


@dataclass
class FinishedSearch:
    """A finished search: records of every trial, the Pareto front, baselines, and the winner on disk. ``config``
    (the resolved :class:`~autoq.config.Config`) and ``tag`` (the log lines' prefix) are set by the run that
    finished it, not read back."""

    output_dir: Path
    summary: dict
    trials: list
    pareto: list
    baselines: dict
    cost_key: str = "energy"
    _best_model: object = field(default=None, repr=False)
    config: object = field(default=None, repr=False, compare=False)
    tag: str = field(default="[autoq]", repr=False, compare=False)

    @property
    def best(self) -> dict | None:
        """The winner's record (the best score; under ``goal.budget`` / ``goal.max_drop`` the best within them);
        None when no trial meets the constraints (``summary["constraints"]["message"]`` says why)."""
        return self.summary["best"]

    @property
    def best_model(self):
        """The winner (trained weights), loaded from ``best_model.h5``; None when there is no winner."""
        if self._best_model is None and self.best is not None:
            from ..keras_env import quiet_keras
            with quiet_keras():
                self._best_model = load_model(self.output_dir / BEST_MODEL)
        return self._best_model

    @property
    def scaler(self):
        """(mean, scale) the search standardized its inputs with (x_model = (x - mean) / scale), or None when the
        inputs were used as given (``summary.json``'s ``input_scaler``)."""
        import numpy as np
        sc = self.summary.get("input_scaler")
        return None if sc is None else (np.asarray(sc["mean"], "float32"), np.asarray(sc["scale"], "float32"))

    def scale_inputs(self, x):
        """``x`` in the units given to the search -> the winner's inputs (the scaler applied, if there is one)."""
        import numpy as np
        x = np.asarray(x, dtype="float32")
        return x if self.scaler is None else ((x - self.scaler[0]) / self.scaler[1]).astype("float32")

    def pareto_models(self) -> dict:
        """Trial id -> path of the saved model of every Pareto-optimal trial."""
        return {r["trial"]: self.output_dir / r["model"] for r in self.pareto}

    @property
    def metric(self):
        """The goal metric (name, direction) the trials were scored on."""
        from ..metrics import Metric
        return Metric(self.summary.get("metric", "accuracy"), self.summary.get("direction", "max"))

    def trials_frame(self):
        """Trials as a pandas DataFrame (pandas must be installed); ``.trials`` is the plain list."""
        import pandas as pd
        return pd.DataFrame([{k: v for k, v in r.items() if k != "layers"} for r in self.trials])

    def __repr__(self):
        b = self.best
        if b is None:
            return f"{type(self).__name__}({self.output_dir}, {len(self.trials)} trials, no trial within the constraints)"
        return (f"{type(self).__name__}({self.output_dir}, {len(self.trials)} trials, best trial {b['trial']}: "
                f"val {self.metric.name} {b['val_metric']:.4g}, {self.cost_key} {b[self.cost_key]:.4g})")


def load_model(path, trust: bool = False):
    """Load a model of a search folder, refusing one that carries code (see :mod:`autoq.model_io`)."""
    return model_io.load(path, trust, error=ResultsError)


def load_result(output_dir) -> FinishedSearch:
    """Read a finished search back from its output directory."""
    import json
    out = Path(output_dir)
    p = out / SUMMARY
    if not p.is_file():
        state = "a search in progress or interrupted (run the same command again to resume)" \
            if (out / STATE).is_file() else "not an autoq search directory"
        raise ResultsError(f"{out} has no summary.json: {state}")
    try:
        summary = json.loads(p.read_text())
        best_id = summary["best"]["trial"] if summary["best"] is not None or "constraints" not in summary \
            else None  # no trial within goal.budget / goal.max_drop
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ResultsError(f"{p} is unreadable ({type(exc).__name__}: {exc}); run the same autoq search command "
                           "again to write it anew") from None
    store = ResultStore(out)
    records = store.records()
    ids = set(summary.get("pareto", []))
    have = {r["trial"] for r in records}
    missing = [f"trials/{t}/record.json" for t in sorted(ids | ({best_id} - {None})) if t not in have]
    missing += [name for name in (BEST_MODEL,) * (best_id is not None) + (FLOAT_MODEL,)
                if not (out / name).is_file()]
    if missing:
        raise ResultsError(f"{out} is missing {', '.join(missing)} of the finished search; restore them, or run the "
                           "same autoq search command again to rebuild what can be rebuilt")
    return FinishedSearch(out, summary, records, [r for r in records if r["trial"] in ids],
                        summary.get("baselines", {}), summary.get("cost", "energy"))
