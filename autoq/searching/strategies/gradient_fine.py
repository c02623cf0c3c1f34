"""The candidates of ``algorithm: gradient`` at ``space.granularity: channel | weight``: one training of per-channel
or per-weight bits with 0-bit pruning and a log-ramped beta (:func:`autoq.quantizers.learned_fine.learn`); every
epoch's state is a candidate, those on the validation front of (goal metric, EBOPs surrogate) are kept (as HGQ2's
ParetoFront callback keeps them), at most ``n`` spread along it, each then trained ``train.epochs`` more with its
widths fixed and its pruned weights held at 0 (:func:`autoq.quantizers.learned_fine.tune`: the ramp's states have
bits still moving), folded into a plain QKeras model saved in the output folder. A candidate's trial evaluates that
model as learned (training it as a QKeras model would take its weights off their own grids and bring pruned weights
back). The trials left after the candidates go first to children at the same granularity
(:mod:`.fine_evolution`)."""
from __future__ import annotations

import os

import numpy as np

from ..fronts import nondominated_sort
from ..layout import STRATEGY

BETA_RANGE = (0.1, 100.0)  # x the cost relative to its 8-bit start: HGQ's 1e-6 -> 1e-3 x EBOPs on a ~1e5-EBOPs model


def n_candidates(max_trials: int) -> int:
    """Candidates kept from the one training: three quarters of the trials (2 to 24). Each costs ``train.epochs``
    epochs of tuning, less than a trial; the per-layer evolution after them reaches less of the cheap end."""
    return max(2, min(24, (3 * max_trials) // 4))


def epochs_for(n: int, learn_epochs: int | None = None) -> int:
    """Epochs of the one training: ``search.learn_epochs`` when given, else two per candidate wanted (an epoch is
    a candidate), at least 8."""
    return int(learn_epochs) if learn_epochs else max(8, 2 * n)


def spread(points: list, n: int) -> list:
    """Indices of at most ``n`` of ``points`` (cheapest first), evenly spread, the cheapest and the best kept."""
    if len(points) <= n:
        return list(range(len(points)))
    return sorted({int(round(k)) for k in np.linspace(0, len(points) - 1, n)})


def coverage_order(n: int) -> list:
    """0..n-1 (cheapest to most accurate) in the order the trials take them: the most accurate, the cheapest, then
    the midpoints of the widest gaps, so that a search stopped early has covered the whole front coarsely."""
    if n <= 2:
        return list(range(n))[::-1]
    order, gaps = [n - 1, 0], [(0, n - 1)]
    while gaps:
        lo, hi = max(gaps, key=lambda g: (g[1] - g[0], -g[0]))
        gaps.remove((lo, hi))
        if hi - lo < 2:
            continue
        mid = (lo + hi) // 2
        order.append(mid)
        gaps += [(lo, mid), (mid, hi)]
    return order


def _progress(log, shown):
    """A line at every tenth of the one training: epoch, beta, validation metric (``shown(score)``), EBOPs
    surrogate, pruned share."""
    def on_epoch(c, epochs):
        if c.epoch % max(1, epochs // 10) == 0 or c.epoch == epochs:
            log(f"[autoq] gradient: epoch {c.epoch}/{epochs}, beta {c.beta:.3g}, val {shown(c.val_score):.4g}, "
                f"EBOPs {c.ebops:,.0f}, {100 * c.pruned:.0f}% pruned")
    return on_epoch


def candidates(ctx, n: int, bits_lr, children: int = 0) -> list:
    """Learn, keep the validation front, evolve ``children`` more, fold and save: ``[{choice, beta, epoch, child,
    val, ebops, pruned, model}]`` in :func:`trial_order`."""
    from ...metrics import Metric
    from ...quantizers import learned_fine
    cfg, t = ctx.cfg, ctx.cfg.train
    metric = Metric(cfg.goal.metric, cfg.goal.direction)
    x, y = ctx.train_split()
    epochs = epochs_for(n, cfg.search.learn_epochs)
    cands = learned_fine.learn(ctx.float_model, ctx.space, x, y, ctx.data.x_val, ctx.data.y_val,
                               lambda yt, p: metric.up(metric(yt, p)), granularity=cfg.space.granularity,
                               epochs=epochs, beta_range=BETA_RANGE, batch_size=t.batch_size,
                               learning_rate=t.learning_rate, bits_learning_rate=bits_lr(len(x), t.batch_size, epochs),
                               loss=t.loss, input_quantizer=ctx.space.input_quantizer, seed=cfg.seed,
                               target=cfg.search.target_ebops, on_epoch=_progress(ctx.log, metric.up))
    points = [(c.val_score, c.ebops) for c in cands]
    ranks = nondominated_sort(points)
    front = sorted((c for c, r in zip(cands, ranks) if r == 0), key=lambda c: c.ebops)
    picked = [front[i] for i in spread(front, n)]
    tune = tuner(ctx, metric, cfg.space.granularity, x, y)
    tuned = [c for c in tune(picked) if c.ebops > 0]  # every kernel pruned: nothing a trial could price
    kids = evolve_logged(ctx, "gradient", tuned, children, tune)
    order = trial_order(tuned, kids)
    names = [f"gradient-{cfg.space.granularity}-{c.epoch}" + (f"-child{k}" if k else "") for c, k in order]
    return [dict(r, beta=c.beta, epoch=c.epoch, child=k) for (c, k), r in
            zip(order, kept(ctx, [c for c, _ in order], metric, names))]


def evolve_logged(ctx, name: str, tuned: list, children: int, tune) -> list:
    """:func:`.fine_evolution.evolve` of ``children`` from ``tuned`` (``tune`` a :func:`tuner`), with a line before
    and after."""
    from .fine_evolution import evolve
    if children <= 0:
        return []
    g = ctx.cfg.space.granularity
    ctx.log(f"[autoq] {name}: {children} children at {g} granularity (one layer's grids a step coarser or finer, "
            f"each trained {ctx.cfg.train.epochs} epoch(s) with its widths fixed) ...")
    kids = evolve(tune.model, tuned, children, tune, ctx.cfg.seed)
    ctx.log(f"[autoq] {name}: {len(kids)} of the {children} children on the validation front")
    return kids


def tuner(ctx, metric, granularity: str, x, y):
    """A :class:`autoq.quantizers.learned_fine.Tuner` with the run's training settings (``tuner(cands) -> tuned``)."""
    from ...quantizers import learned_fine
    t = ctx.cfg.train
    return learned_fine.Tuner(ctx.float_model, ctx.space, x, y, ctx.data.x_val, ctx.data.y_val,
                              lambda yt, p: metric.up(metric(yt, p)), granularity, t.epochs, t.batch_size,
                              t.learning_rate, t.loss, ctx.space.input_quantizer, ctx.cfg.seed)


def trial_order(cands: list, children: list) -> list:
    """``[(candidate, child number or 0)]`` in the order the trials take them: those on the front of candidates and
    children together in :func:`coverage_order` (cheapest to most accurate), then the candidates the children
    dominate, likewise. Children are numbered from 1 in order of cost."""
    pool = [(c, 0) for c in cands] + [(c, k + 1) for k, c in enumerate(children)]
    ranks = nondominated_sort([(c.val_score, c.ebops) for c, _ in pool])
    out = []
    for part in ([p for p, r in zip(pool, ranks) if r == 0], [p for p, r in zip(pool, ranks) if r > 0]):
        part = sorted(part, key=lambda p: p[0].ebops)
        out += [part[i] for i in coverage_order(len(part))]
    return out


def kept(ctx, cands: list, metric, names: list) -> list:
    """Each candidate folded into plain QKeras and saved as ``strategy/<stage>-<name>.h5`` in the output folder:
    ``[{choice, val, ebops, pruned, loss, cost, model}]`` (``model`` the file, relative; None without a folder)."""
    from ...quantizers import learned_fine
    from ..store import atomic_save_model
    out = []
    for c, name in zip(cands, names):
        rel = None
        if ctx.store_dir is not None:
            rel = os.path.join(STRATEGY, f"{ctx.stage}-{name}.h5")
            atomic_save_model(learned_fine.fold(ctx.float_model, c, ctx.space.input_quantizer),
                              os.path.join(str(ctx.store_dir), rel))
        out.append({"choice": c.choice, "val": metric.up(c.val_score), "ebops": c.ebops, "pruned": c.pruned,
                    "loss": c.loss, "cost": c.ebops, "model": rel})
    return out


def as_learned_seeds(ctx, cands: list, label) -> list:
    """The trials' seeds of kept candidates: their values, start weights and ``as learned`` (0 epochs)."""
    from .base import AS_LEARNED_KEY, START_KEY
    out = []
    for c in cands:
        extra = {START_KEY: c["model"], AS_LEARNED_KEY: True} if c.get("model") else {}
        out.append(({**ctx.values_of(c["choice"]), **extra}, label(c)))
    return out
