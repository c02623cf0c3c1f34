"""The single-objective score of a trial: the goal metric times AutoQKeras's forgiving factor of its cost."""
from __future__ import annotations

import math


def forgiving_factor(cost: float, ref_cost: float, delta_p=8.0, delta_n=8.0, rate=2.0) -> float:
    """AutoQKeras's factor: 1 + delta/100 * ln(ref/cost)/ln(rate), delta_p when cheaper than ref, else delta_n."""
    if cost <= 0 or ref_cost <= 0:
        raise ValueError(f"costs must be positive (cost={cost}, reference={ref_cost})")
    delta = delta_p if cost <= ref_cost else delta_n
    return 1.0 + delta / 100.0 * math.log(ref_cost / cost) / math.log(rate)


def score(metric: float, cost: float, ref_cost: float, delta_p=8.0, delta_n=8.0, rate=2.0,
          maximise: bool = True) -> float:
    """score = metric x forgiving factor: each halving (``rate``) of the cost is worth delta_p percent of metric.

    For a metric to minimise (a loss, an error) the score is ``-metric / forgiving factor``: higher is still better,
    and the same cost saving forgives the same fraction of the metric."""
    ff = forgiving_factor(cost, ref_cost, delta_p, delta_n, rate)
    return metric * ff if maximise else -metric / ff
