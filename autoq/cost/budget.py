"""Hard constraints of a search (``goal.budget``, ``goal.max_drop``): the FPGA figures a trial is held to, and the
verdict on one trial. Pure arithmetic on numbers; which trial wins is :mod:`autoq.searching.selection`'s job.

* ``goal.budget``: upper limits on the estimate (:mod:`autoq.cost.estimate`) at the export's settings: ``lut``,
  ``ff``, ``dsp``, ``bram`` (18 kb blocks), ``latency_ns``, ``ii`` (initiation interval, cycles), and
  ``part_fraction``: a share of the part's LUT, FF, DSP and BRAM each (:mod:`autoq.cost.parts`).
* ``goal.max_drop``: points of the goal metric below the float model's validation metric (a point is 0.01 of the
  metric: a percentage point of accuracy).

A trial's violation of a limit is its relative excess (``value / limit - 1``); of ``max_drop``, the excess points
over ``max(max_drop, 1)``. Their sum ranks infeasible trials (the pareto strategy's constrained dominance).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .parts import RESOURCES, resources

#: the figures a budget may limit, named as the trial records and trials.csv name them
BUDGET_KEYS = ("lut", "ff", "dsp", "bram", "latency_ns", "ii")
UNITS = {"lut": "LUT", "ff": "FF", "dsp": "DSP", "bram": "BRAM_18K", "latency_ns": "ns", "ii": "cycles"}


def estimate_settings(hls4ml) -> dict:
    """The keyword arguments of :func:`autoq.cost.estimate.estimate` for the config's ``hls4ml`` section (None:
    hls4ml's defaults), so a trial is priced where the export puts it."""
    from .estimate import DEFAULT_PART
    if hls4ml is None:
        return {"part": DEFAULT_PART, "clock_period": 5.0, "reuse_factor": 1, "strategy": "latency",
                "io_type": "io_parallel"}
    return {"part": hls4ml.part, "clock_period": float(hls4ml.clock_period), "reuse_factor": int(hls4ml.reuse_factor),
            "strategy": hls4ml.strategy.lower(), "io_type": hls4ml.io_type}


def figures(est) -> dict:
    """``{lut, ff, dsp, bram, latency_ns, ii}`` of a :class:`~autoq.cost.estimate.ResourceEstimate`."""
    return {"lut": est.luts, "ff": est.ffs, "dsp": est.dsps, "bram": est.bram18, "latency_ns": est.latency_ns,
            "ii": est.interval_cycles}


@dataclass(frozen=True)
class Constraints:
    """Absolute limits (``key -> max``), where each came from, and the allowed metric drop in points."""

    limits: dict = field(default_factory=dict)
    origin: dict = field(default_factory=dict)  # key -> "goal.budget.lut" | "goal.budget.part_fraction 0.1 of ..."
    max_drop: float | None = None

    @classmethod
    def of(cls, goal, part: str) -> "Constraints":
        """The constraints of a validated ``goal`` section, ``part_fraction`` resolved on ``part``."""
        budget = dict(goal.budget or {})
        limits, origin = {}, {}
        frac = budget.pop("part_fraction", None)
        if frac is not None:
            have = resources(part)
            if have is None:  # the config refuses this first; a library caller gets the same message
                raise ValueError(unknown_part(part))
            for k in RESOURCES:
                limits[k], origin[k] = frac * have[k], f"goal.budget.part_fraction {frac:g} of {part}"
        for k, v in budget.items():
            if k not in limits or v <= limits[k]:
                limits[k], origin[k] = float(v), f"goal.budget.{k}"
        return cls({k: limits[k] for k in BUDGET_KEYS if k in limits}, origin, goal.max_drop)

    @property
    def active(self) -> bool:
        return bool(self.limits) or self.max_drop is not None

    @property
    def rule(self) -> str:
        """How the winner is chosen: ``score`` (no constraint), ``metric`` (the best metric within the budget and
        the drop), ``cheapest`` (``max_drop`` alone: the cheapest within it)."""
        return "metric" if self.limits else "cheapest" if self.max_drop is not None else "score"

    def names(self) -> list:
        return list(self.limits) + (["max_drop"] if self.max_drop is not None else [])

    def without(self, name: str) -> "Constraints":
        """These constraints less one (to tell which ones bind)."""
        if name == "max_drop":
            return Constraints(self.limits, self.origin, None)
        return Constraints({k: v for k, v in self.limits.items() if k != name}, self.origin, self.max_drop)

    def violations(self, values: dict, drop_points: float | None) -> dict:
        """``name -> violation`` (> 0) of every constraint a trial breaks; ``values`` holds its figures
        (a missing figure breaks its limit), ``drop_points`` its metric drop below float."""
        out = {}
        for k, limit in self.limits.items():
            v = values.get(k)
            if v is None:
                out[k] = float("inf")
            elif v > limit * (1 + 1e-12):
                out[k] = v / limit - 1 if limit > 0 else float("inf")
        if self.max_drop is not None and (drop_points is None or drop_points > self.max_drop + 1e-9):
            out["max_drop"] = float("inf") if drop_points is None else \
                (drop_points - self.max_drop) / max(self.max_drop, 1.0)
        return out

    def describe(self, name: str) -> str:
        """``lut <= 1000 LUT (goal.budget.lut)``, ``max_drop 1 point``."""
        if name == "max_drop":
            return f"max_drop {self.max_drop:g} point{'s' if self.max_drop != 1 else ''} below float"
        return f"{name} <= {self.limits[name]:.6g} {UNITS[name]} ({self.origin.get(name, 'goal.budget')})"


def unknown_part(part: str) -> str:
    from .parts import PARTS
    return (f"part_fraction needs the part's resources, and autoq's table does not know {part!r} (hls4ml.part); "
            f"known devices: {', '.join(sorted(PARTS))}; give absolute limits (lut, ff, dsp, bram) instead")
