"""The evolution after per-channel / per-weight candidates, at their granularity (``space.granularity: channel |
weight``; :mod:`.gradient_fine` and :mod:`.hessian_fine`).

A generation of :data:`GENERATION` children at a time. Each child's parent is a candidate on the validation front
of (goal metric, EBOPs surrogate), drawn uniformly. Its mutation moves the grids of one layer a step, two times in
three coarser (pruning the weights the coarser grid leaves without bits) and otherwise finer, on a random half of
that layer's weights (or output channels); the layer is drawn in proportion to its share of the parent's EBOPs.
Every child of a generation is then trained ``train.epochs`` with its widths fixed and its pruned weights held at 0
(:class:`autoq.quantizers.learned_fine.Tuner`, one model and one traced step for every generation). The next
generation draws from the front of the candidates and every child so far. The children on the final front are
kept; each is folded and evaluated as learned, like the candidates. A per-layer mutation would fold every weight
back onto one grid, so nothing here leaves the granularity.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from ..fronts import nondominated_sort

GENERATION = 4  # children drawn from one front and trained before the next front is drawn
COARSER = 2 / 3  # probability that a mutation coarsens (cheaper) rather than refines


def n_children(max_trials: int, n_candidates: int, children: int | None = None) -> int:
    """``search.children`` (None: as many as the candidates), at most the trials left after the candidates."""
    return max(0, min(n_candidates if children is None else children, max_trials - n_candidates))


def _f_index(model) -> dict:
    """Learned layer name -> the position of its kernel's ``f`` in ``model.get_weights()``."""
    from ...quantizers import learned
    pos = {id(v): k for k, v in enumerate(model.weights)}
    return {l.name: pos[id(l.kq.f)] for l in model.layers if isinstance(l, learned.LearnedQLayer)}


def _shares(model) -> dict:
    """Learned layer name -> its EBOPs surrogate at the model's current state (kernel widths x input bits)."""
    from ...quantizers import learned
    return {name: float(v) for name, v in learned.ebops_by_layer(model).items()}


def mutate(model, state: list, rng) -> list:
    """A copy of ``state`` (``model``'s weights) with one layer's grids a step coarser or finer on a random half of
    its ``f`` entries; ``model`` is left at ``state``."""
    model.set_weights(state)
    shares = _shares(model)
    names = [n for n, s in shares.items() if s > 0] or list(shares)
    p = np.array([max(shares[n], 1e-12) for n in names])
    name = names[int(rng.choice(len(names), p=p / p.sum()))]
    k = _f_index(model)[name]
    f = np.array(state[k], copy=True)
    half = rng.random(f.shape) < 0.5
    if not half.any():
        half.flat[int(rng.integers(f.size))] = True
    f[half] += -1.0 if rng.random() < COARSER else 1.0
    child = [np.array(v, copy=True) for v in state]
    child[k] = f.astype(state[k].dtype)
    return child


def _front(cands: list) -> list:
    ranks = nondominated_sort([(c.val_score, c.ebops) for c in cands])
    return [c for c, r in zip(cands, ranks) if r == 0]


def evolve(model, cands: list, n: int, tune, seed: int = 0) -> list:
    """``n`` children of the front of ``cands`` (tuned :class:`autoq.quantizers.learned_fine.Candidate` of the fine
    ``model``), those on the final front of candidates and children returned, cheapest first. ``tune(cands) ->
    tuned`` trains a generation with its widths fixed (a child's own scores are its tuned epochs': it starts below
    any score)."""
    if n <= 0 or not cands:
        return []
    rng = np.random.default_rng(seed)
    pool, children = list(cands), []
    while len(children) < n:
        front = _front(pool)
        gen = []
        for _ in range(min(GENERATION, n - len(children))):
            parent = front[int(rng.integers(len(front)))]
            gen.append(dataclasses.replace(parent, val_score=-np.inf, state=mutate(model, parent.state, rng)))
        tuned = [c for c in tune(gen) if c.ebops > 0 and np.isfinite(c.val_score)]
        if not tuned:
            break
        children += tuned
        pool += tuned
    kept = {id(c) for c in _front(pool)}
    return sorted((c for c in children if id(c) in kept), key=lambda c: c.ebops)
