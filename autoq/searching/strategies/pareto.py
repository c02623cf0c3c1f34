"""Multi-objective (accuracy vs cost) keras-tuner oracle: NSGA-II-style evolution over per-layer quantizer choices.

AutoQKeras collapses accuracy and cost into one score (accuracy x forgiving factor) and hands it to a
single-objective tuner, so the whole search chases one trade-off point. :class:`ParetoOracle` instead keeps the
trade-off open: it evolves the per-layer choices towards the Pareto front of (validation accuracy max, cost min)
and the user picks a point on it afterwards (the ``score`` is still recorded, so "best" stays defined).

Algorithm (one trial at a time, deterministic for a seed):

1. Initial trials: the two uniform extremes (every choice at its most expensive, then its cheapest option), then
   random points, ``num_initial_points`` in all.
2. Afterwards each trial is one child: the completed trials are ranked by non-domination on (accuracy, cost) with
   crowding distance (NSGA-II); the best ``population_size`` of them form the parent pool; two binary tournaments
   (lower rank wins, then larger crowding distance) pick the parents; uniform crossover per hyperparameter; each
   hyperparameter mutates with probability ``mutation_rate`` to an *adjacent* choice. The choices of a quantizer
   hyperparameter are ordered by bit width (``quantized_bits(2..8)``, ``ternary`` sits next to 2 bits), so a
   mutation is a one-step change of precision rather than a random jump.
3. A child already tried is re-mutated (harder each time); after 50 collisions a random unseen point is used; if
   none is left the search stops.

The random draws of trial ``n`` come from ``Random(seed, n)``, so a reloaded search (``get_state``/``set_state``,
which keras-tuner calls on resume) proposes exactly what the uninterrupted one would have.

The front arithmetic (non-dominated sort, crowding distance, hypervolume) is in :mod:`autoq.searching.fronts`.
"""
from __future__ import annotations

import math
import random

from ... import keras_env
from ..fronts import crowding_distance, nondominated_sort
from .base import AtomicState, Strategy

keras_env.keras_tuner()  # first: keras-tuner must see tf_keras when it is imported
from keras_tuner.src.engine import hyperparameters as hp_module  # noqa: E402
from keras_tuner.src.engine import oracle as oracle_module  # noqa: E402
from keras_tuner.src.engine import trial as trial_module  # noqa: E402

MAX_COLLISIONS = 50


def _spec_bits(value):
    """Bit width of a quantizer spec string (None if it is not one autoq can parse)."""
    if not isinstance(value, str):
        return None
    try:
        from ...quantizers import parse
        return parse(value).bits
    except Exception:
        return None


def ordered_values(hp, order: str = "bits") -> list:
    """The values of a ``Choice``/``Boolean`` in mutation order (cheap to expensive where that is known).

    ``order='bits'``: quantizer spec strings by bit width (ties keep the declared order), numbers ascending;
    ``'declared'``: as declared.
    """
    if isinstance(hp, hp_module.Boolean):
        return [False, True]
    values = list(hp.values)
    if order == "declared":
        return values
    key = tuple((type(v).__name__, v) for v in values)
    if key not in _ORDER_CACHE:
        _ORDER_CACHE[key] = _by_bits(values)
    return list(_ORDER_CACHE[key])


_ORDER_CACHE: dict = {}


def _by_bits(values):
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return sorted(values)
    bits = [_spec_bits(v) for v in values]
    if all(b is not None for b in bits):
        return [v for _, _, v in sorted((b, i, v) for i, (b, v) in enumerate(zip(bits, values)))]
    return values


# ------------------------------------------------------------------------------------------ the oracle

class ParetoOracle(AtomicState, oracle_module.Oracle):
    """NSGA-II-style multi-objective oracle over (``accuracy_key`` max, ``cost_key`` min) trial metrics.

    Args:
        objective: keras-tuner objective used for "best trial" (autoq passes ``score``, max); default
            ``accuracy_key`` (max). It does not steer the search: the Pareto ranking does.
        max_trials: trial budget.
        cost_key: metric to minimise (autoq: ``energy``/``bits``/``bops``/``fpga``).
        accuracy_key: metric to maximise (default ``val_accuracy``).
        population_size: size of the parent pool (best completed trials by rank and crowding). Default
            ``max(6, min(20, max_trials // 3))``.
        num_initial_points: trials before evolution starts (the two uniform extremes first when
            ``seed_extremes``, then random). Default ``max(4, min(10, max_trials // 4))``.
        seed_extremes: start with the all-most-expensive and all-cheapest points.
        mutation_rate: per-hyperparameter probability of an adjacent-choice step (default 1/#hyperparameters,
            at least one step is forced when a child equals a parent).
        crossover_rate: probability that a child mixes two parents (else a mutated copy of the first).
        order: ``'bits'`` (order quantizer choices by bit width) or ``'declared'``.
        seeds: ``[(values, origin)]`` proposed first, in order (e.g. the candidates of a sensitivity or
            learned-bit strategy, which need not be in the declared choices); evolution starts after them.
        inside: children take the declared choice nearest to a gene a seed brought from outside the declared
            choices (:func:`autoq.searching.strategies.snap.nearest`), so the evolution stays in the listed space.
        seed, hyperparameters, allow_new_entries, tune_new_entries, max_retries_per_trial,
        max_consecutive_failed_trials: as for every keras-tuner oracle.

    Each trial's metrics must contain ``accuracy_key`` and ``cost_key`` (autoq's tuner reports ``score``,
    ``val_accuracy`` and the cost). Trials without them (failed) are ignored by selection. A trial's ``violation``
    metric (autoq reports it under ``goal.budget`` / ``goal.max_drop``) ranks by Deb's constrained dominance:
    trials within every constraint first, then the infeasible ones by smaller violation.
    """

    def __init__(self, objective=None, max_trials=10, cost_key="energy", accuracy_key="val_accuracy",
                 population_size=None, num_initial_points=None, seed_extremes=True, mutation_rate=None,
                 crossover_rate=0.9, order="bits", seed=None, hyperparameters=None, allow_new_entries=True,
                 tune_new_entries=True, max_retries_per_trial=0, max_consecutive_failed_trials=3, seeds=(),
                 inside=False):
        if objective is None:
            kt = keras_env.keras_tuner()
            objective = kt.Objective(accuracy_key, direction="max")
        super().__init__(objective=objective, max_trials=max_trials, hyperparameters=hyperparameters,
                         allow_new_entries=allow_new_entries, tune_new_entries=tune_new_entries, seed=seed,
                         max_retries_per_trial=max_retries_per_trial,
                         max_consecutive_failed_trials=max_consecutive_failed_trials)
        if order not in ("bits", "declared"):
            raise ValueError(f"order must be 'bits' or 'declared', got {order!r}")
        if not 0.0 <= crossover_rate <= 1.0:
            raise ValueError(f"crossover_rate must be in [0, 1], got {crossover_rate}")
        if mutation_rate is not None and not 0.0 <= mutation_rate <= 1.0:
            raise ValueError(f"mutation_rate must be in [0, 1], got {mutation_rate}")
        budget = max_trials or 30
        self.cost_key, self.accuracy_key = cost_key, accuracy_key
        self.population_size = int(population_size or max(6, min(20, budget // 3)))
        self.num_initial_points = int(num_initial_points if num_initial_points is not None
                                      else max(4, min(10, budget // 4)))
        self.seed_extremes, self.mutation_rate, self.crossover_rate = bool(seed_extremes), mutation_rate, crossover_rate
        self.order = order
        self.origins: dict = {}  # trial_id -> "extreme-max" | "extreme-min" | "random" | "offspring" | ...
        self.seeds = [(dict(v), str(o)) for v, o in seeds]
        self.inside = bool(inside)

    # ---- keras-tuner API
    def populate_space(self, trial_id):
        n = len(self.trials)  # trials created before this one: the RNG stream index
        rng = random.Random(self.seed * 1_000_003 + n)
        values, origin = None, None
        if n < len(self.seeds):
            values, origin = dict(self.seeds[n][0]), self.seeds[n][1]
            if self._duplicate(values):
                values, origin = self._random(rng), "random"
        elif self.seeds and len(self._completed()) >= 2:
            values, origin = self._offspring(self._completed(), rng)
        elif n < self.num_initial_points + len(self.seeds):
            if self.seed_extremes and n < 2:
                values = self._extreme(high=(n == 0))
                origin = "extreme-max" if n == 0 else "extreme-min"
                if values is not None and self._duplicate(values):
                    values = None
            if values is None:
                values, origin = self._random(rng), "random"
        else:
            pool = self._completed()
            if len(pool) < 2:
                values, origin = self._random(rng), "random"
            else:
                values, origin = self._offspring(pool, rng)
        if values is None:
            return {"status": trial_module.TrialStatus.STOPPED, "values": None}
        self.origins[trial_id] = origin
        return {"status": trial_module.TrialStatus.RUNNING, "values": values}

    def get_state(self):
        state = super().get_state()
        state.update(pareto={"cost_key": self.cost_key, "accuracy_key": self.accuracy_key,
                             "population_size": self.population_size,
                             "num_initial_points": self.num_initial_points, "seed_extremes": self.seed_extremes,
                             "mutation_rate": self.mutation_rate, "crossover_rate": self.crossover_rate,
                             "order": self.order, "origins": dict(self.origins),
                             "seeds": [[v, o] for v, o in self.seeds], "inside": self.inside})
        return state

    def set_state(self, state):
        super().set_state(state)
        p = state.get("pareto")
        if p:
            self.cost_key, self.accuracy_key = p["cost_key"], p["accuracy_key"]
            self.population_size, self.num_initial_points = p["population_size"], p["num_initial_points"]
            self.seed_extremes, self.mutation_rate = p["seed_extremes"], p["mutation_rate"]
            self.crossover_rate, self.order = p["crossover_rate"], p["order"]
            self.origins = dict(p.get("origins", {}))
            self.seeds = [(dict(v), o) for v, o in p.get("seeds", [])]
            self.inside = bool(p.get("inside", False))

    # ---- public helpers
    def front(self) -> list:
        """The completed trials on the Pareto front of (accuracy, cost), cheapest first."""
        pool = self._completed()
        if not pool:
            return []
        ranks = nondominated_sort([p for _, p in pool], [self._violation(t) for t, _ in pool])
        return sorted((t for (t, _), r in zip(pool, ranks) if r == 0), key=lambda t: self._point(t)[1])

    # ---- internals
    def _point(self, trial):
        m = trial.metrics
        if not (m.exists(self.accuracy_key) and m.exists(self.cost_key)):
            return None
        a, c = m.get_last_value(self.accuracy_key), m.get_last_value(self.cost_key)
        if a is None or c is None or not (math.isfinite(a) and math.isfinite(c)):
            return None
        return float(a), float(c)

    @staticmethod
    def _violation(trial) -> float:
        """The trial's constraint violation (autoq reports ``violation`` under goal.budget / goal.max_drop; 0 =
        within every constraint, and for trials without the metric)."""
        m = trial.metrics
        v = m.get_last_value("violation") if m.exists("violation") else None
        return float(v) if v is not None and math.isfinite(v) else 0.0

    def _completed(self) -> list:
        """[(trial, (acc, cost))] of the completed trials with both metrics, in start order (deterministic)."""
        out = []
        for tid in self.start_order:
            t = self.trials.get(tid)
            if t is None or t.status != trial_module.TrialStatus.COMPLETED:
                continue
            p = self._point(t)
            if p is not None:
                out.append((t, p))
        return out

    def _active_space(self, values_fn):
        """Values for the active hyperparameters (conditional scopes respected), one ``values_fn(hp)`` each."""
        hps = hp_module.HyperParameters()
        for hp in self.hyperparameters.space:
            hps.merge([hp])
            if hps.is_active(hp):
                hps.values[hp.name] = values_fn(hp)
        return hps.values

    def _extreme(self, high: bool):
        def pick(hp):
            if isinstance(hp, (hp_module.Choice, hp_module.Boolean)):
                vals = ordered_values(hp, self.order)
                return vals[-1] if high else vals[0]
            if isinstance(hp, (hp_module.Int, hp_module.Float)):
                return hp.max_value if high else hp.min_value
            return hp.default
        if not self.hyperparameters.space:
            return None
        return self._active_space(pick)

    def _random(self, rng):
        """A random unseen point drawn from this trial's RNG (None when the space looks exhausted)."""
        for _ in range(self._max_collisions + 1):
            values = self._active_space(lambda hp: hp.random_sample(rng.randrange(2 ** 31)))
            if not self._duplicate(values):
                return values
        return None

    def _tournament(self, pool_idx, ranks, crowd, rng):
        i, j = rng.sample(pool_idx, 2) if len(pool_idx) > 1 else (pool_idx[0], pool_idx[0])
        if ranks[i] != ranks[j]:
            return i if ranks[i] < ranks[j] else j
        if crowd[i] != crowd[j]:
            return i if crowd[i] > crowd[j] else j
        return i if rng.random() < 0.5 else j

    def _mutate_one(self, hp, value, rng):
        if isinstance(hp, (hp_module.Choice, hp_module.Boolean)):
            vals = ordered_values(hp, self.order)
            if len(vals) < 2:
                return value
            k = vals.index(value) if value in vals else rng.randrange(len(vals))
            step = rng.choice((-1, 1))
            if not 0 <= k + step < len(vals):
                step = -step
            return vals[k + step]
        if isinstance(hp, hp_module.Fixed):
            return value
        return hp.random_sample(rng.randrange(2 ** 31))

    def _offspring(self, pool, rng):
        points = [p for _, p in pool]
        ranks = nondominated_sort(points, [self._violation(t) for t, _ in pool])  # constrained dominance
        crowd = crowding_distance(points, ranks)
        order = sorted(range(len(pool)), key=lambda i: (ranks[i], -crowd[i], i))
        parents_idx = order[: self.population_size]
        tunable = [hp for hp in self.hyperparameters.space if not isinstance(hp, hp_module.Fixed)]
        rate = self.mutation_rate if self.mutation_rate is not None else 1.0 / max(1, len(tunable))
        for attempt in range(MAX_COLLISIONS):
            a = pool[self._tournament(parents_idx, ranks, crowd, rng)][0].hyperparameters.values
            b = pool[self._tournament(parents_idx, ranks, crowd, rng)][0].hyperparameters.values
            mix = rng.random() < self.crossover_rate

            def gene(hp):
                va = a.get(hp.name, hp.default)
                v = (b.get(hp.name, va) if rng.random() < 0.5 else va) if mix else va
                return v

            child = self._active_space(gene)
            if self.inside:
                from .snap import nearest
                for hp in tunable:
                    if isinstance(hp, hp_module.Choice) and isinstance(child.get(hp.name), str):
                        child[hp.name] = nearest(child[hp.name], list(hp.values))
            # mutation: each gene with prob. rate; more steps after each collision; at least one when a clone
            names = [hp for hp in tunable if hp.name in child]
            for hp in names:
                if rng.random() < rate:
                    child[hp.name] = self._mutate_one(hp, child[hp.name], rng)
            extra = attempt + (1 if child in (a, b) else 0)
            for _ in range(extra):
                if names:
                    hp = rng.choice(names)
                    child[hp.name] = self._mutate_one(hp, child[hp.name], rng)
            if not self._duplicate(child):
                return child, "offspring"
        return self._random(rng), "random-fallback"


class Pareto(Strategy):
    def oracle(self, ctx, max_trials, seeds=(), inside=False):
        """The Pareto oracle on (objective, ``goal.cost``); ``seeds`` ``[(values, note)]`` are tried first (the
        strategies that propose candidates, ``hessian`` and ``gradient``, build on this); ``inside``: children
        snapped to the declared choices."""
        return ParetoOracle(max_trials=max_trials, cost_key=ctx.cfg.goal.cost, accuracy_key="objective",
                            seeds=list(seeds)[:max_trials], inside=inside, **self.common(ctx))
