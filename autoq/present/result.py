"""What :func:`autoq.search` and :func:`autoq.load_result` return: a finished search with its plot and table."""
from __future__ import annotations

import dataclasses

from ..searching.result import FinishedSearch
from .plots import plot_pareto, plot_title
from .tables import layer_table
from ..searching.layout import PARETO_PNG


class SearchResult(FinishedSearch):
    """A finished search (records of every trial, the Pareto front, baselines, the winner on disk) that draws its
    front and prints its winner's per-layer table."""

    @classmethod
    def of(cls, finished: FinishedSearch) -> "SearchResult":
        """The same finished search, with its plot and table."""
        if isinstance(finished, cls):
            return finished
        return cls(**{f.name: getattr(finished, f.name) for f in dataclasses.fields(finished)})

    def plot(self, cost: str | None = None, ax=None, path=None):
        """The goal metric vs cost with the Pareto front and baselines (a matplotlib Figure)."""
        s = self.summary
        return plot_pareto(self.trials, self.baselines, cost or self.cost_key, path=path, ax=ax,
                           title=plot_title(s), metric=self.metric, n_val=s.get("val_samples"),
                           test=s.get("test_metric"), n_test=s.get("test_samples"))

    def table(self) -> str:
        """Per-layer table of the winner (or, with no winner, why there is none)."""
        if self.best is None:
            return (self.summary.get("constraints") or {}).get("message", "no winner")
        return layer_table(self.best)


def save_plot(finished: FinishedSearch) -> None:
    """Write the search's ``pareto.png`` (at the end of a search, and of an interrupted one)."""
    SearchResult.of(finished).plot(path=finished.output_dir / PARETO_PNG)
