"""The search session: everything one search reads (config, float model, data, space, metric, head, energy and
estimate settings, constraints, output store, the prepared state), built once and never changed in place. A step
that learns something (preparation: the trained float model, the reference cost, the baselines) returns a new
session (:func:`dataclasses.replace`)."""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Callable, Mapping

from ..config import Config
from ..cost import EnergySettings
from ..cost.budget import Constraints, estimate_settings
from ..data import Dataset
from ..metrics import Metric
from .heads import resolve_head
from .selection import Selection
from .store import ResultStore


def frozen(value):
    """A read-only copy of JSON-like data, all the way down: mappings as :class:`types.MappingProxyType` over a
    copy, lists and tuples as tuples."""
    if isinstance(value, Mapping):
        return MappingProxyType({k: frozen(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(frozen(v) for v in value)
    return value


def thawed(value):
    """:func:`frozen` undone: plain dicts and lists again, a copy the caller owns (for JSON, for a result)."""
    if isinstance(value, Mapping):
        return {k: thawed(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [thawed(v) for v in value]
    return value


@dataclass(frozen=True)
class Session:
    """One search's read-only inputs; ``state`` is empty until :func:`.prepare.prepare` fills it (``state.json``).
    Whatever mapping is given, ``state`` holds a read-only copy (:func:`frozen`): a write into it raises."""

    cfg: Config
    float_model: Any
    data: Dataset
    space: Any  # autoq.space.SearchSpace, with space.widths' hyperparameters
    metric: Metric
    head: str | None  # None: one output
    energy: EnergySettings
    estimate_settings: dict  # the export's part, clock, reuse and strategy
    constraints: Constraints
    store: ResultStore
    log: Callable = print
    trust: bool = False
    fingerprint: dict | None = None
    epoch_lines: bool = False
    on_finish: Callable | None = None  # called with the FinishedSearch (autoq.search: the plot)
    t0: float = field(default_factory=time.time)
    state: Mapping = field(default_factory=dict)

    def __post_init__(self):
        # the one place a session sets its own field: a read-only copy of the state it was given (also on but())
        object.__setattr__(self, "state", frozen(self.state))

    @property
    def cost_key(self) -> str:
        return self.cfg.goal.cost

    @property
    def dataset_label(self) -> str:
        """The data's name in every row of trials.csv and pareto.csv."""
        return self.data.name + (" (SYNTHETIC)" if self.data.synthetic else "") + (
            f" [scored on output {self.head}]" if self.head else "")

    @property
    def selection(self) -> Selection:
        """The winner's rule (:mod:`.selection`), once the float model's metric is known."""
        return Selection(self.constraints, self.metric, self.cost_key, self.state.get("float_val_metric"))

    def metric_fields(self, prefix: str, value) -> dict:
        """``{prefix}_metric``, and ``{prefix}_accuracy`` too when the metric is accuracy (the names of earlier
        versions, kept for the files people already read)."""
        out = {f"{prefix}_metric": value}
        if self.metric.name == "accuracy":
            out[f"{prefix}_accuracy"] = value
        return out

    def but(self, **changes) -> "Session":
        """A copy with ``changes`` (a quiet log, the trained float model, the prepared state)."""
        return replace(self, **changes)


def open_session(cfg: Config, float_model, data: Dataset, output_dir, log=print, trust_model: bool = False,
                 fingerprint: dict | None = None, epoch_lines: bool = False, on_finish=None) -> Session:
    """The session of a search in ``output_dir``: the goal's metric and settings, the search space analysed."""
    from ..space import analyse
    from ..widths import extend
    settings = estimate_settings(cfg.hls4ml)
    space = extend(analyse(float_model, cfg.space, exact=cfg.exportable), float_model, cfg.space)
    return Session(cfg=cfg, float_model=float_model, data=data, space=space,
                   metric=Metric(cfg.goal.metric, cfg.goal.direction),
                   head=resolve_head(float_model, cfg.goal.head, cfg.source), energy=EnergySettings.of(cfg.goal),
                   estimate_settings=settings, constraints=Constraints.of(cfg.goal, settings["part"]),
                   store=ResultStore(output_dir), log=log, trust=trust_model, fingerprint=fingerprint,
                   epoch_lines=epoch_lines, on_finish=on_finish)
