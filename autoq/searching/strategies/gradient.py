"""Bit widths learned in training (the idea of HGQ, Sun et al. 2024): for a sweep of beta, the float model with a
learned-bit quantizer on every kernel, bias and activation is trained on loss + beta x cost
(:func:`autoq.quantizers.learned.learn`); each result folds exactly into plain QKeras quantizers. Those choices
are the first trials, each trained like any trial but starting from the weights it learned; the rest of the
budget evolves from them (the pareto strategy's NSGA-II steps), trained from the float weights.

The sweep is a ramp within one training (HGQ's schedule): one epoch per beta, each beta continuing from the
previous one's weights and bits, so the whole front costs ``n`` epochs. Measured on the 100k generated jets (60k
training jets, 2 shared cores): 8 betas in 25 s, energy 1382 -> 478 pJ. Evaluated as they are, the ramp's models
were 1-5 points below a trial of the same choice (one epoch each); as start points of a trial they are not. The
learned choices may lie between the space's listed quantizers (any bit width and integer bits in range): each is
snapped to the nearest listed quantizer of its slot (:mod:`.snap`) unless ``search.leave_space: true``, which keeps
them (the log names those outside the list). Under ``goal.budget`` the learned choices the FPGA estimate puts within
it are tried first, the others after them by smaller violation.

``space.granularity: channel | weight`` learns a width per output channel or per weight instead, with pruning
(:mod:`.gradient_fine`); those candidates are evaluated as learned, and the evolution after them is per layer."""
from __future__ import annotations

import os

import numpy as np

from . import snap
from .base import START_KEY, cached
from .hessian import KIND
from .pareto import Pareto
from ..layout import STRATEGY


def betas(n: int) -> list:
    """0 (accuracy first), then ``n - 1`` values from 0.03 to 3 (the cost, relative to its 8-bit start, weighs
    3% to 3x as much as the task loss)."""
    return [0.0] + [float(b) for b in np.geomspace(0.03, 3.0, max(1, n - 1))]


def bits_learning_rate(n_samples: int, batch_size: int, epochs: int) -> float:
    """Step size of the bit widths: enough for ~6 bits of travel over the training (Adam moves each ``f`` by about
    its learning rate per step), at least 0.02. Measured on digits (51 steps): 0.05 left every beta above 5-bit
    kernels, 0.12-0.2 spreads the betas from 8 bits to 2-3."""
    steps = max(1, epochs * -(-n_samples // batch_size))
    return max(0.02, 6.0 / steps)


def n_betas(max_trials: int) -> int:
    """Half the budget for learned points (2 to 8), the rest for evolution around them."""
    return max(2, min(8, max_trials // 2))


class Gradient(Pareto):
    def oracle(self, ctx, max_trials):
        kind = KIND[ctx.cfg.goal.cost]
        granularity = getattr(ctx.cfg.space, "granularity", "layer")
        leave = getattr(ctx.cfg.search, "leave_space", False)
        if granularity != "layer":
            return self._fine(ctx, max_trials, granularity)

        def compute():
            ctx.log(f"[autoq] gradient: learning bit widths at {n_betas(max_trials)} values of beta ({kind}) ...")
            from ...quantizers import learned
            from ..store import atomic_save_model
            t = ctx.cfg.train
            x, y = ctx.train_split()
            out = []
            for i, r in enumerate(learned.learn(ctx.float_model, ctx.space, x, y, betas=betas(n_betas(max_trials)),
                                                epochs=1, warm_start=True, batch_size=t.batch_size,
                                                learning_rate=t.learning_rate,
                                                bits_learning_rate=bits_learning_rate(len(x), t.batch_size,
                                                                                      n_betas(max_trials)),
                                                loss=t.loss, cost=kind, input_quantizer=ctx.space.input_quantizer,
                                                seed=ctx.cfg.seed)):
                rel = None
                if ctx.store_dir is not None:
                    rel = os.path.join(STRATEGY, f"{ctx.stage}-gradient-{i}.h5")
                    atomic_save_model(learned.fold(ctx.float_model, r, ctx.space.input_quantizer),
                                      os.path.join(str(ctx.store_dir), rel))
                out.append({"choice": r.choice, "beta": r.beta, "cost": float(r.cost), "loss": float(r.loss),
                            "model": rel})
            return out

        cands = cached(ctx, "gradient", compute)
        if ctx.cfg.goal.budget:  # the learned choices within goal.budget first (priced by the estimate)
            from .hessian import budget_violation
            v = budget_violation(ctx, [c["choice"] for c in cands])
            cands = [c for *_, c in sorted((v_ > 0, v_, i, c) for i, (v_, c) in enumerate(zip(v, cands)))]
            ctx.log(f"[autoq] gradient: {sum(1 for x in v if x == 0)} of {len(v)} learned choices within goal.budget")
        seeds, seen, left = [], set(), []
        for c in cands:
            choice = c["choice"] if leave else snap.snap(ctx.space, c["choice"])
            left += snap.outside(ctx.space, choice)
            values = ctx.values_of(choice)
            key = tuple(sorted(values.items()))
            if key in seen:
                continue
            seen.add(key)
            start = {START_KEY: c["model"]} if c.get("model") else {}
            seeds.append(({**values, **start}, f"gradient beta={c['beta']:.3g}"))
        ctx.log(f"[autoq] gradient: {len(seeds)} distinct learned choices (" +
                ", ".join(f"beta {c['beta']:.3g}: loss {c['loss']:.3g}, {kind} {c['cost']:.4g}" for c in cands) + ")"
                + ("" if leave else ", each snapped to the nearest listed quantizers"))
        if left:
            ctx.log(f"[autoq] gradient: search.leave_space: {len(left)} learned quantizer(s) outside the listed "
                    "space, e.g. " + ", ".join(f"{layer}.{role} {spec}" for layer, role, spec in
                                               sorted(set(left))[:4]))
        return super().oracle(ctx, max_trials, seeds=seeds, inside=not leave)

    def _fine(self, ctx, max_trials, granularity):
        """Per-channel / per-weight candidates (:mod:`.gradient_fine`), evaluated as learned; then evolution."""
        from . import fine_evolution, gradient_fine
        n = gradient_fine.n_candidates(max_trials)
        kids = fine_evolution.n_children(max_trials, n, ctx.cfg.search.children)

        def compute():
            target = ctx.cfg.search.target_ebops
            how = (f"beta steered to {target:g} EBOPs" if target else
                   f"beta ramped {gradient_fine.BETA_RANGE[0]:g} -> {gradient_fine.BETA_RANGE[1]:g}, cost EBOPs")
            ctx.log(f"[autoq] gradient: learning {granularity} bit widths with pruning in one training of "
                    f"{gradient_fine.epochs_for(n, ctx.cfg.search.learn_epochs)} epochs ({how}) ...")
            return gradient_fine.candidates(ctx, n, bits_learning_rate, kids)
        cands = cached(ctx, f"gradient-{granularity}", compute)
        seeds = gradient_fine.as_learned_seeds(ctx, cands, lambda c: f"gradient {granularity} {_origin(c)}")
        ctx.log(f"[autoq] gradient: {len(cands)} {granularity}-granularity candidates and children (" +
                ", ".join(f"{_origin(c)}: val {c['val']:.4g}, EBOPs {c['ebops']:.4g}, "
                          f"{100 * c['pruned']:.0f}% pruned" for c in cands) + "); each is evaluated as learned, "
                "its per-weight grids and pruned weights outside the listed per-layer quantizers")
        leave = ctx.cfg.search.leave_space
        ctx.log(f"[autoq] gradient: the {max(0, max_trials - len(seeds))} trial(s) after them evolve per-layer "
                "quantizers trained from the float weights (the per-weight candidates stay as they are)" +
                ("" if leave else ", within the listed quantizers"))
        return super().oracle(ctx, max_trials, seeds=seeds, inside=not leave)


def _origin(c: dict) -> str:
    """Where a fine candidate comes from: its epoch and beta, and its child number if it is a child."""
    return f"epoch {c['epoch']} (beta {c['beta']:.3g})" + (f" child {c['child']}" if c.get("child") else "")
