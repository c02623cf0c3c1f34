"""Search strategies: what to try next. One module per strategy, one small interface (:class:`.base.Strategy`),
one registry.

To add a strategy: a module here with a :class:`.base.Strategy` subclass, and its entry in ``REGISTRY``
(``search.algorithm`` name -> ``module:Class``). Nothing else changes: the config accepts the name, the tuner runs
the oracle it returns, the results store its trials like any other.
"""
from __future__ import annotations

import importlib

#: ``search.algorithm`` -> ``module:Class`` (modules of this package, imported only when chosen)
REGISTRY = {
    "random": "random_search:RandomSearch",
    "bayesian": "bayesian:Bayesian",
    "hyperband": "hyperband:Hyperband",
    "pareto": "pareto:Pareto",
    "hessian": "hessian:Hessian",
    "gradient": "gradient:Gradient",
}


def names() -> tuple:
    """The ``search.algorithm`` names, in registry order."""
    return tuple(REGISTRY)


def get(name: str):
    """The strategy class registered as ``name`` (KeyError for an unknown name; the config checks names first)."""
    module, cls = REGISTRY[name].split(":")
    return getattr(importlib.import_module(f"{__name__}.{module}"), cls)


def make_oracle(ctx, max_trials: int):
    """The keras-tuner oracle of ``ctx.cfg.search.algorithm`` for a stage of ``max_trials`` trials."""
    return get(ctx.cfg.search.algorithm)().oracle(ctx, max_trials)
