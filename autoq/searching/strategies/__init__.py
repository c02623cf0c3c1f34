"""Search strategies: what to try next. One module per strategy, one small interface (:class:`.base.Strategy`),
one registry.

To add a strategy: a module here with a :class:`.base.Strategy` subclass, and its entry in ``REGISTRY``
(``search.algorithm`` name -> :class:`Entry`: ``module:Class`` and its traits). Nothing else changes: the config accepts the name, the tuner runs
the oracle it returns, the results store its trials like any other.
"""
from __future__ import annotations

import importlib

from dataclasses import dataclass


@dataclass(frozen=True)
class Entry:
    """A registered strategy: where it lives and the traits the config, the CLI and the run read (without
    importing it: the registry needs no TensorFlow)."""

    target: str  # ``module:Class`` in this package, imported only when chosen
    seeds_from_float: bool = False  # its first trials are learned from the float model and one training target
    granularities: tuple = ("layer",)  # the ``space.granularity`` values it learns
    own_budget: bool = False  # sizes its own brackets: no trial total to show, no ``search.blocks``
    trains_bits: bool = False  # learns its widths in one training (``search.learn_epochs``, ``target_ebops``)


#: ``search.algorithm`` -> :class:`Entry`
REGISTRY = {
    "random": Entry("random_search:RandomSearch"),
    "bayesian": Entry("bayesian:Bayesian"),
    "hyperband": Entry("hyperband:Hyperband", own_budget=True),
    "pareto": Entry("pareto:Pareto"),
    "hessian": Entry("hessian:Hessian", seeds_from_float=True, granularities=("layer", "channel")),
    "gradient": Entry("gradient:Gradient", seeds_from_float=True, granularities=("layer", "channel", "weight"),
                      trains_bits=True),
}


def names() -> tuple:
    """The ``search.algorithm`` names, in registry order."""
    return tuple(REGISTRY)


def traits(name: str) -> Entry:
    """The registry entry of ``name`` (KeyError for an unknown name; the config checks names first)."""
    return REGISTRY[name]


def having(**wanted) -> tuple:
    """The names whose traits equal ``wanted`` (``having(seeds_from_float=True)``), in registry order."""
    return tuple(n for n, e in REGISTRY.items() if all(getattr(e, k) == v for k, v in wanted.items()))


def get(name: str):
    """The strategy class registered as ``name`` (KeyError for an unknown name; the config checks names first)."""
    module, cls = REGISTRY[name].target.split(":")
    return getattr(importlib.import_module(f"{__name__}.{module}"), cls)


def make_oracle(ctx, max_trials: int):
    """The keras-tuner oracle of ``ctx.cfg.search.algorithm`` for a stage of ``max_trials`` trials."""
    return get(ctx.cfg.search.algorithm)().oracle(ctx, max_trials)
