"""Random search (keras-tuner's RandomSearchOracle): AutoQKeras's default and the baseline of every comparison."""
from __future__ import annotations

from ... import keras_env
from .base import AtomicState, Strategy

kt = keras_env.keras_tuner()


class RandomOracle(AtomicState, kt.oracles.RandomSearchOracle):
    pass


class RandomSearch(Strategy):
    def oracle(self, ctx, max_trials):
        return RandomOracle(max_trials=max_trials, **self.common(ctx))
