"""Hessian-guided allocation (HAWQ-V2/V3, after the quantization survey of Gholami et al.): per-layer sensitivity
= Hessian trace (Hutchinson's estimator on the float model) x quantization error of each candidate quantizer; a
sweep of budgets over the goal's cost, each solved exactly (:func:`autoq.searching.sensitivity.budget_sweep`),
gives a candidate front without training anything. The candidates are the first trials, cheapest first; the rest
of the budget evolves from them (the pareto strategy's NSGA-II steps)."""
from __future__ import annotations

from .base import cached
from .pareto import Pareto

#: the goal's cost -> the additive cost the allocation prices (the FPGA estimate is priced by its BOPs)
KIND = {"energy": "energy", "bits": "bits", "bops": "bops", "fpga": "bops", "ebops": "bops"}
SAMPLES = 1024  # training samples the Hessian traces are estimated on


def n_candidates(max_trials: int) -> int:
    """Three quarters of the budget for the sweep's candidates (at least 2), the rest for evolution."""
    return max(2, min(12, max_trials - max_trials // 4))


class Hessian(Pareto):
    def oracle(self, ctx, max_trials):
        def compute():
            ctx.log(f"[autoq] hessian: Hessian traces and a {KIND[ctx.cfg.goal.cost]} budget sweep on the float "
                    "model ...")
            from ..sensitivity import budget_sweep
            x, y = ctx.train_split(SAMPLES)
            cands = budget_sweep(ctx.float_model, ctx.space, x, y, ctx.cfg.train.loss,
                                 kind=KIND[ctx.cfg.goal.cost], n_budgets=n_candidates(max_trials))
            return [{"choice": c.choice, "sensitivity": float(c.sensitivity), "cost": float(c.cost)} for c in cands]

        cands = cached(ctx, "hessian", compute)
        ctx.log(f"[autoq] hessian: {len(cands)} candidates from "
                + ", ".join(f"{c['cost']:.4g}" for c in cands) + f" {KIND[ctx.cfg.goal.cost]}")
        return super().oracle(ctx, max_trials, seeds=[(ctx.values_of(c["choice"]), "hessian") for c in cands])
