"""Hyperband (keras-tuner's oracle): many short trials, the promising ones continued from their weights. It sizes
its own brackets from ``train.epochs``, so it has no trial count."""
from __future__ import annotations

from ... import keras_env
from .base import AtomicState, Strategy

kt = keras_env.keras_tuner()


class HyperbandOracle(AtomicState, kt.oracles.HyperbandOracle):
    pass


class Hyperband(Strategy):
    def oracle(self, ctx, max_trials):
        return HyperbandOracle(max_epochs=ctx.cfg.train.epochs, factor=3, hyperband_iterations=1, **self.common(ctx))
