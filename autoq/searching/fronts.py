"""Pareto fronts of (goal metric, cost) points: the front of a search, non-dominated sorting and crowding distance
(NSGA-II, Deb et al. 2002) for the pareto strategy, and the 2-D hypervolume the benchmarks compare fronts with.
Pure functions on numbers and records."""
from __future__ import annotations

import math


def dominates(a, b) -> bool:
    """``a`` = (accuracy, cost) dominates ``b``: no worse in both, better in one (accuracy max, cost min)."""
    return a[0] >= b[0] and a[1] <= b[1] and (a[0] > b[0] or a[1] < b[1])


def constrained_dominates(a, b, va: float = 0.0, vb: float = 0.0) -> bool:
    """Deb's constrained dominance (Deb et al. 2002, sec. VI): with violations ``va``/``vb`` (0 = feasible), a
    feasible point dominates an infeasible one, the smaller violation dominates among infeasible ones, and
    :func:`dominates` decides between feasible ones."""
    if va <= 0 and vb <= 0:
        return dominates(a, b)
    if va <= 0 or vb <= 0:
        return va <= 0
    return va < vb


def nondominated_sort(points, violations=None) -> list:
    """Rank (0 = Pareto front) of every (accuracy, cost) point (Deb et al.'s fast non-dominated sort); with
    ``violations`` (one per point, 0 = feasible), by constrained dominance."""
    n = len(points)
    v = list(violations) if violations is not None else [0.0] * n
    dominated_by = [[] for _ in range(n)]
    count = [0] * n
    for i in range(n):
        for j in range(i + 1, n):
            if constrained_dominates(points[i], points[j], v[i], v[j]):
                dominated_by[i].append(j)
                count[j] += 1
            elif constrained_dominates(points[j], points[i], v[j], v[i]):
                dominated_by[j].append(i)
                count[i] += 1
    rank = [None] * n
    current = [i for i in range(n) if count[i] == 0]
    r = 0
    while current:
        nxt = []
        for i in current:
            rank[i] = r
            for j in dominated_by[i]:
                count[j] -= 1
                if count[j] == 0:
                    nxt.append(j)
        current, r = nxt, r + 1
    return rank


def crowding_distance(points, ranks) -> list:
    """NSGA-II crowding distance of every point within its own front (inf at a front's ends)."""
    dist = [0.0] * len(points)
    for r in set(ranks):
        members = [i for i, x in enumerate(ranks) if x == r]
        if len(members) <= 2:
            for i in members:
                dist[i] = math.inf
            continue
        for k in (0, 1):
            members.sort(key=lambda i: points[i][k])
            lo, hi = points[members[0]][k], points[members[-1]][k]
            dist[members[0]] = dist[members[-1]] = math.inf
            if hi == lo:
                continue
            for a, i, b in zip(members, members[1:], members[2:]):
                dist[i] += (points[b][k] - points[a][k]) / (hi - lo)
    return dist


def pareto_points(points) -> list:
    """The non-dominated (accuracy, cost) points, sorted by cost."""
    ranks = nondominated_sort(points)
    return sorted({tuple(p) for p, r in zip(points, ranks) if r == 0}, key=lambda p: (p[1], p[0]))


def hypervolume(points, ref) -> float:
    """Area dominated by (accuracy, cost) points and bounded by ``ref`` = (worst accuracy, worst cost).

    Maximise accuracy, minimise cost. Points worse than ``ref`` in either objective contribute nothing. To compare
    searches, use one ``ref`` for all of them (and, if costs differ in scale, normalise costs first).
    """
    acc_ref, cost_ref = ref
    pts = [(a, c) for a, c in points if a > acc_ref and c < cost_ref]
    if not pts:
        return 0.0
    front = pareto_points(pts)  # cost ascending => accuracy ascending
    area = 0.0
    for (a, c), nxt in zip(front, front[1:] + [(None, cost_ref)]):
        area += (nxt[1] - c) * (a - acc_ref)
    return area


# ------------------------------------------------------------------------------------------ choice ordering


def pareto_front(points) -> list:
    """Indices of the non-dominated points of ``[(metric, cost), ...]`` (maximise metric, minimise cost)."""
    idx = sorted(range(len(points)), key=lambda i: (points[i][1], -points[i][0]))
    front, best = [], float("-inf")
    for i in idx:
        if points[i][0] > best:
            front.append(i)
            best = points[i][0]
    return sorted(front, key=lambda i: points[i][1])


def _up(metric, value: float) -> float:
    return value if metric is None or metric.maximise else -value


def front_points(records: list, baselines: dict, cost_key: str, metric=None) -> list:
    """The Pareto front of the finished trials and the uniform baselines together, cheapest first, on
    (``val_metric`` in the ``metric``'s direction, cost). The float model is left out (it is the cost reference,
    not a quantized model); a baseline point is its baseline dict with ``trial: "baseline <name>"`` and
    ``baseline: <name>``."""
    pts = [r for r in records if r.get("status") == "ok" and r.get(cost_key) is not None]
    pts += [dict(b, trial=f"baseline {name}", baseline=name) for name, b in sorted((baselines or {}).items())
            if name != "float" and b.get(cost_key) is not None and b.get("val_metric") is not None]
    return [pts[i] for i in pareto_front([(_up(metric, p["val_metric"]), p[cost_key]) for p in pts])]
