"""Hessian-guided allocation (HAWQ-V2/V3, after the quantization survey of Gholami et al.): per-layer sensitivity
= Hessian trace (Hutchinson's estimator on the float model) x quantization error of each candidate quantizer; a
sweep of budgets over the goal's cost, each solved exactly (:func:`autoq.searching.sensitivity.budget_sweep`),
gives a candidate front without training anything. The candidates are the first trials, cheapest first; the rest
of the budget evolves from them (the pareto strategy's NSGA-II steps).

Under ``goal.budget`` the sweep is confined to it: twice as many budgets are swept, each candidate is priced by the
FPGA estimate at the export's settings, and the candidates within the limits come first (the most expensive of
them, the most accurate, kept), the least-violating others after them only to fill the count."""
from __future__ import annotations

from ...cost import UNITS
from .base import cached
from .pareto import Pareto

#: the goal's cost -> the additive cost the allocation prices (the FPGA estimate is priced by its BOPs)
KIND = {"energy": "energy", "bits": "bits", "bops": "bops", "fpga": "bops", "ebops": "ebops"}
SAMPLES = 1024  # training samples the Hessian traces are estimated on


def budgets_of(cost: str) -> str:
    """What the sweep budgets, in words with its unit (the FPGA estimate is allocated by its BOPs)."""
    words = {"energy": "energy budgets in pJ", "bits": "model-size budgets in bits", "bops": "budgets in BOPs",
             "ebops": "budgets in EBOPs (the allocation's BOPs of one kernel instance per layer)"}
    return words[KIND[cost]] + (" (standing in for the FPGA estimate)" if cost == "fpga" else "")


def n_candidates(max_trials: int) -> int:
    """Three quarters of the budget for the sweep's candidates (at least 2), the rest for evolution."""
    return max(2, min(12, max_trials - max_trials // 4))


class Hessian(Pareto):
    def oracle(self, ctx, max_trials):
        if ctx.cfg.space.granularity == "channel":
            return self._channel(ctx, max_trials)
        def compute(n=None):
            ctx.log(f"[autoq] hessian: Hessian traces of the float model and a sweep of "
                    f"{budgets_of(ctx.cfg.goal.cost)} ...")
            from ..sensitivity import budget_sweep
            x, y = ctx.train_split(SAMPLES)
            cands = budget_sweep(ctx.float_model, ctx.space, x, y, ctx.cfg.train.loss,
                                 kind=KIND[ctx.cfg.goal.cost], n_budgets=n or n_candidates(max_trials))
            return [{"choice": c.choice, "sensitivity": float(c.sensitivity), "cost": float(c.cost)} for c in cands]

        budgeted = bool(ctx.cfg.goal.budget)  # the sweep confined to goal.budget's limits
        cands = cached(ctx, "hessian", (lambda: _within_budget(ctx, compute, max_trials)) if budgeted else compute)
        ctx.log(f"[autoq] hessian: {len(cands)} candidates, the allocation's estimate "
                + ", ".join(f"{c['cost']:.4g}" for c in cands) + f" {UNITS[KIND[ctx.cfg.goal.cost]]}")
        return super().oracle(ctx, max_trials, seeds=[(ctx.values_of(c["choice"]), "hessian") for c in cands])

    def _channel(self, ctx, max_trials):
        """Per-channel, pruning-aware candidates (:mod:`.hessian_fine`), evaluated as learned; then evolution."""
        from . import fine_evolution, gradient_fine, hessian_fine
        n = n_candidates(max_trials)
        kids = fine_evolution.n_children(max_trials, n, ctx.cfg.search.children)

        def compute():
            ctx.log(f"[autoq] hessian: Hessian traces per layer and per output channel, {n} allocations per channel "
                    f"(pruning-aware), each trained {ctx.cfg.train.epochs} epoch(s) with its widths fixed ...")
            return hessian_fine.candidates(ctx, n, KIND[ctx.cfg.goal.cost], SAMPLES, kids)
        cands = cached(ctx, "hessian-channel", compute)
        ctx.log(f"[autoq] hessian: {len(cands)} channel-granularity candidates and children (" +
                ", ".join(f"val {c['val']:.4g}, EBOPs {c['ebops']:.4g}, {100 * c['pruned']:.0f}% pruned"
                          for c in cands) + "); each is evaluated as learned")
        seeds = gradient_fine.as_learned_seeds(ctx, cands, lambda c: f"hessian channel {c['index']} (budget "
                                               f"{c['budget']:.4g} EBOPs)" + (f" child {c['child']}" if c.get("child")
                                                                              else ""))
        return super().oracle(ctx, max_trials, seeds=seeds, inside=not ctx.cfg.search.leave_space)


def budget_violation(ctx, choices: list) -> list:
    """goal.budget's violation (0 = within every limit) of each candidate choice, priced by the FPGA estimate at the
    export's settings on the float weights (0 for a choice the estimate cannot price: it is not ruled out)."""
    from ...cost.budget import Constraints, estimate_settings, figures
    from ...cost.estimate import estimate
    from ...space import build_qmodel, split_input
    settings = estimate_settings(ctx.cfg.hls4ml)
    limits = Constraints.of(ctx.cfg.goal, settings["part"]).without("max_drop")
    out = []
    for choice in choices:
        try:
            iq, choice = split_input(choice, ctx.space.input_quantizer)
            out.append(sum(limits.violations(figures(estimate(build_qmodel(ctx.float_model, choice, iq),
                                                              **settings)), None).values()))
        except Exception:  # noqa: BLE001
            out.append(0.0)
    return out


def _within_budget(ctx, sweep, max_trials: int) -> list:
    """The sweep's candidates (twice as many budgets), those within goal.budget's limits first (the most expensive
    ones: the least sensitive), then the least-violating, ``n_candidates`` in all, cheapest first."""
    cands = sweep(2 * n_candidates(max_trials))
    for c, v in zip(cands, budget_violation(ctx, [c["choice"] for c in cands])):
        c["violation"] = v
    fit = [c for c in cands if c["violation"] == 0]
    over = sorted((c for c in cands if c["violation"] > 0), key=lambda c: c["violation"])
    n = n_candidates(max_trials)
    keep = fit[-n:] + over[:max(0, n - len(fit))]
    ctx.log(f"[autoq] hessian: {len(fit)} of {len(cands)} swept candidates within goal.budget")
    return sorted(keep, key=lambda c: c["cost"])
