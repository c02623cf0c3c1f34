"""Bayesian optimisation of the score (keras-tuner's Gaussian-process oracle)."""
from __future__ import annotations

from ... import keras_env
from .base import AtomicState, Strategy

kt = keras_env.keras_tuner()


class BayesianOracle(AtomicState, kt.oracles.BayesianOptimizationOracle):
    pass


class Bayesian(Strategy):
    def oracle(self, ctx, max_trials):
        # keras-tuner starts with 3 x (number of hyperparameters) random trials: at autoq's budgets (a few choices
        # per layer, tens of trials) the Gaussian process would never get to choose. Give it a third of the budget.
        return BayesianOracle(max_trials=max_trials, num_initial_points=max(2, min(10, max_trials // 3)),
                              **self.common(ctx))
