"""Which trial wins: one rule for the winner, the "best so far" of the progress line, the summary, and the best
trial of a block (:func:`best_by_score`).

Without constraints the winner is AutoQKeras's: the highest score. With ``goal.budget`` it is the best goal metric
among the trials within every constraint (ties: the cheaper); with ``goal.max_drop`` alone, the cheapest trial within
the drop (ties: the better metric). An infeasible trial never wins: when none fits there is no winner, and
:meth:`Selection.report` says which constraint nothing met and which trial came closest.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..cost.budget import BUDGET_KEYS, Constraints


def score_key(record: dict) -> tuple:
    """AutoQKeras's order: the higher score first, ties to the earlier trial."""
    return (record["score"], -record.get("number", 0))


def best_by_score(records) -> dict | None:
    """The finished record with the highest score (ties: the earlier trial); None when none finished."""
    return max((r for r in records if r.get("status") == "ok"), key=score_key, default=None)


@dataclass(frozen=True)
class Selection:
    """The winner's rule of one search: its constraints, goal metric, goal cost and the float model's metric."""

    constraints: Constraints
    metric: object  # autoq.metrics.Metric
    cost_key: str
    float_metric: float | None = None

    # ---- one trial
    def drop_points(self, record: dict) -> float | None:
        """Points (0.01 of the metric) of the trial's validation metric below the float model's."""
        v = record.get("val_metric")
        if v is None or self.float_metric is None:
            return None
        return 100.0 * (self.metric.up(self.float_metric) - self.metric.up(v))

    def violations(self, record: dict, constraints: Constraints | None = None) -> dict:
        c = self.constraints if constraints is None else constraints
        return c.violations({k: record.get(k) for k in BUDGET_KEYS}, self.drop_points(record))

    def verdict(self, record: dict) -> dict:
        """``{feasible, violated, violation}`` for a trial record (what trials.csv and the oracle see)."""
        v = self.violations(record)
        return {"feasible": not v, "violated": sorted(v), "violation": sum(v.values())}

    # ---- the winner
    def _key(self, record: dict, rule: str) -> tuple:
        up, n = self.metric.up(record["val_metric"]), -record.get("number", 0)
        cost = record.get(self.cost_key)
        cost = float("inf") if cost is None else cost
        if rule == "metric":
            return (up, -cost, n)
        if rule == "cheapest":
            return (-cost, up, n)
        return score_key(record)

    def winner(self, records: list, constraints: Constraints | None = None, partial: bool = False) -> dict | None:
        """The winning record among the finished ones (None when no trial finished or none fits); the trials of
        search.blocks' earlier blocks (``partial``) only with ``partial=True`` (the progress line's best so far)."""
        c = self.constraints if constraints is None else constraints
        ok = [r for r in records if r.get("status") == "ok" and (partial or not r.get("partial"))
              and not self.violations(r, c)]
        return max(ok, key=lambda r: self._key(r, self.constraints.rule), default=None)

    def best_line(self, records: list) -> str:
        """The progress line's "best so far"."""
        b = self.winner(records, partial=True)
        if b is None:
            return "best - (none fits yet)" if self.constraints.active else "best -"
        if self.constraints.rule == "score":
            return f"best {b['score']:.4f} (trial {b['trial']})"
        return f"best trial {b['trial']} ({self.metric.name} {b['val_metric']:.4g}, {self.cost_key} " \
               f"{b[self.cost_key]:.4g})"

    # ---- the summary
    def _unmet(self, name: str, entry: dict) -> str:
        c = self.constraints
        if name == "max_drop" or entry.get("lowest") is None:
            return c.describe(name)
        return f"{c.describe(name)}, the lowest {entry['lowest']:.6g}"

    def _over(self, record: dict, violated: dict) -> str:
        c = self.constraints
        return ", ".join(f"{self.drop_points(record):.2f} points below float, max_drop {c.max_drop:g}"
                         if k == "max_drop" else f"{k} {record.get(k, float('nan')):.6g} > {c.limits[k]:.6g}"
                         for k in violated)


    def report(self, records: list, best: dict | None) -> dict:
        """What summary.json says about the constraints: each one, how many trials meet it, whether it binds
        (dropping it alone would pick another trial), the winner's use of it; and plainly, when none fits."""
        c = self.constraints
        ok = [r for r in records if r.get("status") == "ok" and not r.get("partial")]
        out = {"rule": c.rule, "feasible_trials": sum(1 for r in ok if not self.violations(r)), "trials": len(ok),
               "constraints": {}, "binding": []}
        for name in c.names():
            met = [r for r in ok if name not in self.violations(r)]
            entry = {"limit": c.max_drop if name == "max_drop" else c.limits[name], "text": c.describe(name),
                     "met_by": len(met)}
            if name != "max_drop":
                vals = [r[name] for r in ok if r.get(name) is not None]
                entry["lowest"] = min(vals) if vals else None
            if best is not None:
                used = self.drop_points(best) if name == "max_drop" else best.get(name)
                entry["winner"] = used
                other = self.winner(records, c.without(name))
                entry["binds"] = other is not None and other["trial"] != best["trial"]
                if entry["binds"]:
                    out["binding"].append(name)
                    entry["without_it"] = other["trial"]
            out["constraints"][name] = entry
        if best is None and ok:
            closest = min(ok, key=lambda r: (sum(self.violations(r).values()), -r.get("number", 0)))
            v = self.violations(closest)
            out["closest"] = {"trial": closest["trial"], "violated": {k: round(x, 4) for k, x in v.items()}}
            unmet = [n for n, e in out["constraints"].items() if e["met_by"] == 0]
            out["message"] = (f"no trial fits: none of {len(ok)} trials meets every constraint"
                              + (f"; met by none: {'; '.join(self._unmet(n, out['constraints'][n]) for n in unmet)}"
                                 if unmet else "")
                              + f"; closest: trial {closest['trial']} ({self._over(closest, v)}). Loosen "
                              "goal.budget / goal.max_drop, widen the space or run more trials")
        elif best is not None:
            out["message"] = (f"winner: trial {best['trial']}, the {'best ' + self.metric.name if c.rule == 'metric' else 'cheapest'} "
                              f"of {out['feasible_trials']} trial{'s' if out['feasible_trials'] != 1 else ''} within every constraint; "
                              + (f"binding: {', '.join(out['binding'])}" if out["binding"] else "no constraint binds"))
        return out
