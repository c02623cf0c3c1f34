"""The interface every strategy implements, the context it sees, and atomic state files for its oracle."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any, Callable

from ..store import atomic_write_text
from ..layout import STRATEGY, TUNER

START_KEY = "autoq/start"  # a proposed trial's start weights (a model file in the output folder), not a choice
AS_LEARNED_KEY = "autoq/as_learned"  # True: the trial evaluates its start weights untrained (per-weight precision)
KT_SEED_FOR_ZERO = 1_000_003  # keras-tuner reads seed 0 as "no seed" (``seed or random.randint``)


@dataclass
class StrategyContext:
    """What a strategy may look at before proposing trials: the config, the (block's) search space, the trained
    float model and the data (for strategies that measure sensitivity or learn bit widths first), and the log."""

    cfg: Any
    space: Any
    float_model: Any = None
    data: Any = None
    log: Callable = print
    store_dir: Any = None  # the output folder: a strategy keeps what it computed before the trials there
    stage: str = TUNER  # the search stage (keras-tuner project) the oracle is for

    def values_of(self, choice: dict) -> dict:
        """``{layer: {role: spec}}`` -> the hyperparameter values the space declares (``<group>/<role>``); with a
        width search, every ``<layer>/width`` is 1.0 (the candidates were made at the float model's widths), and a
        searched input takes the candidate's quantizer, else the first listed."""
        out = {}
        for s in self.space.slots:
            for role in s.roles:
                if s.layer in choice and role in choice[s.layer]:
                    out.setdefault(f"{s.group}/{role}", choice[s.layer][role])
        for layer, factors in getattr(self.space, "widths", {}).items():
            out[f"{layer}/width"] = next(f for f in factors if float(f) == 1.0)
        if self.space.input_searched:  # a searched input: the candidate's, else the first listed
            from ...space import INPUT_HP, INPUT_KEY
            out[INPUT_HP] = choice.get(INPUT_KEY, {}).get("quantizer", self.space.input_quantizer)
        return out

    def train_split(self, limit: int | None = None):
        """(x, y) of the training split, the first ``limit`` samples."""
        return self.data.x_train[:limit], self.data.y_train[:limit]


class Strategy:
    """One search strategy. ``oracle`` returns a keras-tuner Oracle that proposes values for the hyperparameters the
    space declares (``<layer>/<role>`` -> quantizer spec) and maximises ``score``; autoq's tuner also reports
    ``objective`` (the goal metric, higher is better) and the cost under ``cfg.goal.cost`` for multi-objective
    strategies. The oracle class should mix in :class:`AtomicState` so a kill never tears its state files."""

    def oracle(self, ctx: StrategyContext, max_trials: int):
        raise NotImplementedError

    @staticmethod
    def common(ctx: StrategyContext) -> dict:
        """The keyword arguments every keras-tuner oracle of autoq takes: objective ``score`` (max), the seed, and
        no failure limit of keras-tuner's own (autoq counts consecutive failures itself: keras-tuner raises from
        inside end_trial, before saving its state and with its oracle lock held)."""
        from ... import keras_env
        kt = keras_env.keras_tuner()
        return dict(objective=kt.Objective("score", direction="max"), seed=ctx.cfg.seed or KT_SEED_FOR_ZERO,
                    max_consecutive_failed_trials=None)


class AtomicState:
    """Mix-in for a keras-tuner Oracle: ``oracle.json`` and each ``trial.json`` are written to a temporary file and
    renamed into place (keras-tuner writes them in place, so a kill mid-write would leave a file it cannot reload).
    Only autoq's own oracles use it; keras-tuner itself is left as it is."""

    def save(self):
        _write_json(self._get_oracle_fname(), self.get_state())

    def _save_trial(self, trial):
        _write_json(os.path.join(self._get_trial_dir(trial.trial_id), "trial.json"), trial.get_state())


def _write_json(path, obj) -> None:
    if "://" in str(path):  # a remote file system keras-tuner's backend handles: no rename there
        from keras_tuner.src import utils
        utils.save_json(path, obj)
        return
    atomic_write_text(path, json.dumps(obj))


def cached(ctx: StrategyContext, name: str, compute: Callable[[], list]) -> list:
    """What ``compute`` returns (JSON-able), kept in ``<output>/strategy/<stage>-<name>.json`` so that a resumed
    search proposes the same candidates without computing them again."""
    if ctx.store_dir is None:
        return compute()
    path = os.path.join(str(ctx.store_dir), STRATEGY, f"{ctx.stage}-{name}.json")
    if os.path.exists(path):
        try:
            with open(path) as f:
                value = json.load(f)
            _check_candidates(value, str(ctx.store_dir))
            return value
        except (OSError, UnicodeDecodeError, ValueError) as exc:  # cut short, edited, of another version
            ctx.log(f"[autoq] {name}: the saved candidates {path} are damaged ({str(exc)[:160]}); computing them "
                    "again")
    value = compute()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    atomic_write_text(path, json.dumps(value))
    return value


def _check_candidates(value, store_dir: str) -> None:
    """A cache :func:`cached` wrote: a non-empty list of candidates with the same keys, each a ``choice``
    (``{layer: {role: spec}}``), finite numbers, and start models that exist; ValueError says what is wrong."""
    import math

    if not isinstance(value, list) or not value or not all(isinstance(c, dict) for c in value):
        raise ValueError("not a list of candidates")
    if any(set(c) != set(value[0]) for c in value) or "choice" not in value[0]:
        raise ValueError("candidates with different keys, or without a choice")
    for c in value:
        choice = c["choice"]
        if not isinstance(choice, dict) or not all(isinstance(v, dict) and all(
                isinstance(k, str) and isinstance(q, str) for k, q in v.items()) for v in choice.values()):
            raise ValueError("a choice is not {layer: {role: quantizer}}")
        for key, v in c.items():
            if key in ("cost", "beta", "loss", "sensitivity") and (isinstance(v, bool) or not isinstance(
                    v, (int, float)) or not math.isfinite(v)):
                raise ValueError(f"{key} {v!r} is not a finite number")
        model = c.get("model")
        if model is not None and not (isinstance(model, str) and os.path.isfile(os.path.join(store_dir, model))):
            raise ValueError(f"start model {model!r} is missing")
