"""ParetoOracle: helpers, determinism, reload, beats random on a synthetic problem, runs a real (tiny) search."""
from __future__ import annotations

import json
import math

import pytest

from autoq.keras_env import keras_tuner
from autoq.searching.strategies.pareto import ParetoOracle, ordered_values
from autoq.searching.fronts import crowding_distance, dominates, hypervolume, nondominated_sort, pareto_points

kt = keras_tuner()  # bound to tf.keras (Keras 2) on both stacks

# ---------------------------------------------------------------------------------------- a synthetic problem
# The jet tagger's shape (Dense 64-32-32-5): cost ~ BOPs (kernel bits x input bits x MACs) + bias bits;
# "accuracy" drops smoothly as any layer loses precision, with per-layer sensitivities. No training.
LAYERS = [("fc1", 16 * 64, 64), ("fc2", 64 * 32, 32), ("fc3", 32 * 32, 32), ("output", 32 * 5, 5)]
KERNEL = [f"quantized_bits({b},0,alpha=1)" for b in range(2, 9)] + ["ternary(alpha=1)"]
ACT = [f"quantized_relu({b})" for b in range(3, 9)]
K_SENS, A_SENS = (0.05, 0.08, 0.06, 0.1), (0.06, 0.05, 0.04)


def _bits(spec):
    return 2 if spec.startswith("ternary") else int(spec.split("(")[1].split(",")[0].rstrip(")"))


def synthetic(values):
    cost, loss, in_bits = 0.0, 0.0, 16
    for i, (name, n_kernel, n_bias) in enumerate(LAYERS):
        kb, bb = _bits(values[f"{name}/kernel"]), _bits(values[f"{name}/bias"])
        cost += n_kernel * kb * in_bits + n_bias * bb * 8
        loss += K_SENS[i] * math.exp(-(kb - 1) / 1.5) + 0.02 * math.exp(-(bb - 1) / 1.5)
        if f"{name}/activation" in values:
            ab = _bits(values[f"{name}/activation"])
            in_bits = ab
            loss += A_SENS[i] * math.exp(-(ab - 2) / 1.2)
    return 0.76 - loss, cost


def space():
    hp = kt.HyperParameters()
    for name, _, _ in LAYERS:
        hp.Choice(f"{name}/kernel", KERNEL)
        hp.Choice(f"{name}/bias", KERNEL)
        if name != "output":
            hp.Choice(f"{name}/activation", ACT)
    return hp


def drive(oracle, n, directory, declare=True):
    """Run ``n`` trials of ``oracle`` on the synthetic problem; return [(values, (acc, cost))]."""
    oracle._set_project_dir(str(directory), "p")
    oracle.verbose = 0
    if declare:
        oracle.update_space(space())
    out = []
    for _ in range(n):
        t = oracle.create_trial("tuner0")
        if t.status != "RUNNING":
            break
        acc, cost = synthetic(t.hyperparameters.values)
        oracle.update_trial(t.trial_id, {"score": acc, "val_accuracy": acc, "energy": cost})
        t.status = "COMPLETED"
        oracle.end_trial(t)
        oracle.save()  # as BaseTuner.on_trial_end does
        out.append((dict(t.hyperparameters.values), (acc, cost)))
    return out


ALL8 = {f"{n}/{r}": ("quantized_relu(8)" if r == "activation" else "quantized_bits(8,0,alpha=1)")
        for n, _, _ in LAYERS for r in ("kernel", "bias", "activation") if not (n == "output" and r == "activation")}
REF = (0.65, synthetic(ALL8)[1] * 1.01)


# ---------------------------------------------------------------------------------------- helpers

def test_dominance_sort_crowding_hypervolume():
    pts = [(0.9, 10), (0.8, 5), (0.85, 20), (0.7, 5), (0.9, 10)]
    assert dominates((0.9, 10), (0.85, 20)) and not dominates((0.9, 10), (0.9, 10))
    assert nondominated_sort(pts) == [0, 0, 1, 1, 0]
    cd = crowding_distance(pts, nondominated_sort(pts))
    assert all(math.isinf(c) for c in cd[2:4])
    assert pareto_points(pts) == [(0.8, 5), (0.9, 10)]
    # rectangles: cost 5..10 at acc 0.8 -> 5*0.3; cost 10..30 at acc 0.9 -> 20*0.4
    assert hypervolume(pts, (0.5, 30)) == pytest.approx(5 * 0.3 + 20 * 0.4)
    assert hypervolume([(0.4, 1)], (0.5, 30)) == 0.0 and hypervolume([], (0, 1)) == 0.0


def test_choices_ordered_by_bits():
    hp = kt.HyperParameters()
    hp.Choice("k", KERNEL)
    vals = ordered_values(hp.space[0])
    assert ordered_values(hp.space[0], order="declared") == KERNEL
    assert vals[0] == "quantized_bits(2,0,alpha=1)" and vals[1] == "ternary(alpha=1)" and vals[-1].startswith(
        "quantized_bits(8")


# ---------------------------------------------------------------------------------------- behaviour

def test_extremes_first_then_unique(tmp_path):
    run = drive(ParetoOracle(max_trials=30, seed=3), 30, tmp_path)
    assert len(run) == 30
    first, second = run[0][0], run[1][0]
    assert first == ALL8
    assert all(v in ("quantized_bits(2,0,alpha=1)", "quantized_relu(3)") for v in second.values())
    keys = {json.dumps(v, sort_keys=True) for v, _ in run}
    assert len(keys) == 30  # never repeats a point


def test_deterministic_for_a_seed(tmp_path):
    a = drive(ParetoOracle(max_trials=25, seed=7), 25, tmp_path / "a")
    b = drive(ParetoOracle(max_trials=25, seed=7), 25, tmp_path / "b")
    c = drive(ParetoOracle(max_trials=25, seed=8), 25, tmp_path / "c")
    assert [v for v, _ in a] == [v for v, _ in b]
    assert [v for v, _ in a] != [v for v, _ in c]


def test_survives_reload(tmp_path):
    whole = drive(ParetoOracle(max_trials=24, seed=5), 24, tmp_path / "whole")
    first = drive(ParetoOracle(max_trials=24, seed=5), 14, tmp_path / "split")
    resumed = ParetoOracle(max_trials=24, seed=99, population_size=3)  # state must override both
    resumed._set_project_dir(str(tmp_path / "split"), "p")
    resumed.reload()
    assert resumed.seed == 5 and resumed.population_size == ParetoOracle(max_trials=24).population_size
    rest = drive(resumed, 10, tmp_path / "split", declare=False)
    assert [v for v, _ in first + rest] == [v for v, _ in whole]
    assert set(resumed.origins) == {f"{i:02d}" for i in range(24)}
    assert {"extreme-max", "extreme-min", "random", "offspring"} <= set(resumed.origins.values())
    front = resumed.front()
    assert front and all(t.status == "COMPLETED" for t in front)


def test_front_beats_random_at_equal_budget(tmp_path):
    """Hypervolume of (accuracy, cost) after 60 trials: Pareto oracle >= random search, seed by seed."""
    ratios = []
    for seed in (1, 2, 3, 4):
        p = drive(ParetoOracle(max_trials=60, seed=seed), 60, tmp_path / f"p{seed}")
        r = drive(kt.oracles.RandomSearchOracle(objective=kt.Objective("score", "max"), max_trials=60, seed=seed),
                  60, tmp_path / f"r{seed}")
        hp_, hr = hypervolume([x for _, x in p], REF), hypervolume([x for _, x in r], REF)
        assert hp_ >= 0.98 * hr, (seed, hp_, hr)
        ratios.append(hp_ / hr)
    assert sum(ratios) / len(ratios) > 1.05, ratios


def test_bad_arguments():
    with pytest.raises(ValueError):
        ParetoOracle(order="random")
    with pytest.raises(ValueError):
        ParetoOracle(crossover_rate=2)


# ---------------------------------------------------------------------------------------- a real search

def test_real_pareto_search_on_digits(tmp_path):
    from autoq import search as run_search
    cfg = {
        "name": "digits-pareto", "seed": 1,
        "model": {"builder": "autoq.models:mlp", "kwargs": {"input_dim": 64, "hidden": [16], "n_classes": 10}},
        "data": {"source": "digits"},
        "train": {"epochs": 2, "patience": 0, "batch_size": 64, "float_epochs": 4},
        "space": {"input_quantizer": "quantized_bits(8,3,alpha=1)",
                  "default": {"kernel": ["quantized_bits({2..6},0,alpha=1)", "ternary(alpha=1)"],
                              "bias": ["quantized_bits({4..6},2,alpha=1)"],
                              "activation": ["quantized_relu({3..6},2)"]}},
        "search": {"algorithm": "pareto", "max_trials": 6},
    }
    res = run_search(config=cfg, output_dir=tmp_path / "run", verbose=False)
    assert len(res.trials) == 6 and res.summary["algorithm"] == "pareto"
    assert res.pareto and (tmp_path / "run" / "best_model.h5").is_file()
    state = json.loads((tmp_path / "run" / "tuner" / "oracle.json").read_text())
    assert state["pareto"]["cost_key"] == "energy"
    assert list(state["pareto"]["origins"].values())[:2] == ["extreme-max", "extreme-min"]
    assert "offspring" in state["pareto"]["origins"].values()
