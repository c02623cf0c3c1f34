"""Hessian-aware bits per output channel with pruning (``algorithm: hessian``, ``space.granularity: channel``):
the per-channel traces against the exact Hessian, each channel's options by hand, the allocation against brute
force, and a search from the CLI whose channel candidates are evaluated as learned and reach below per-layer
choices."""
from __future__ import annotations

import json
from itertools import product

import numpy as np
import pytest
import tensorflow as tf

from autoq.searching import sensitivity_channel as sc

from helpers_search import TINY, merge, run_cli, write_config


def test_channel_traces_match_the_exact_hessian_diagonal():
    tf.keras.utils.set_random_seed(0)
    inp = tf.keras.Input((3,), name="x")
    h = tf.keras.layers.Dense(4, activation="tanh", name="h")(inp)
    m = tf.keras.Model(inp, tf.keras.layers.Dense(2, activation="softmax", name="d")(h))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 3)).astype("float32")
    y = tf.keras.utils.to_categorical(rng.integers(0, 2, 32), 2)
    est = sc.channel_traces(m, x, y, layers=["h", "d"], n_samples=2000, batch_size=32, seed=1)
    for name in ("h", "d"):
        var = m.get_layer(name).kernel
        with tf.GradientTape() as outer:
            with tf.GradientTape() as inner:
                loss = tf.reduce_mean(tf.keras.losses.categorical_crossentropy(y, m(x)))
            g = inner.gradient(loss, var)
        diag = np.diag(outer.jacobian(g, var).numpy().reshape(var.shape.num_elements(), -1)).reshape(var.shape)
        own = np.maximum(diag.sum(axis=0), 0.0)  # per output channel
        exact = sc.SHRINK * own + (1 - sc.SHRINK) * own.mean()
        assert est[name].shape == (var.shape[-1],)
        np.testing.assert_allclose(est[name], exact, rtol=0.1, atol=0.02 * float(exact.max()))
        assert est[name].sum() == pytest.approx(own.sum(), rel=0.1)  # the shrinkage keeps the layer's trace


def test_channel_options_by_hand():
    k = np.array([[0.75, 0.1], [-0.3, 0.0], [0.2, -0.05]])  # Dense 3 -> 2: channel 0 = column 0
    o = sc.channel_options(k, "Dense", max_bits=4)
    assert list(o["F"]) == [0, 1, 2, 3]  # F=0 prunes all (|w| < 1); 1 + i + F <= 4 bits with i = 0
    j = list(o["F"]).index(2)  # grid 1/4: a weight keeps the bits from its leading bit down to the grid
    # channel 0: 0.75 = 0.11b (2 bits), -0.3 -> -0.25 (1 bit), 0.2 (leading bit 2^-3, below the grid) pruned
    # channel 1: 0.1, 0 and -0.05 all below the grid: the channel is pruned whole
    assert list(o["width"][j]) == [3.0, 0.0]
    np.testing.assert_allclose(o["err"][j], [0.05 ** 2 + 0.2 ** 2, 0.1 ** 2 + 0.05 ** 2])
    assert list(o["width"][0]) == [0.0, 0.0] and o["err"][0][0] == pytest.approx(0.75 ** 2 + 0.3 ** 2 + 0.2 ** 2)
    assert sc.layer_width(k, 3, 0) == 2 + 1 + 1 + 0 + 0 + 0  # quantized_bits(3,0): 0.75, -0.25, 0.25; rest 0


def test_allocation_is_optimal_at_its_own_cost():
    """A Lagrangian pick: no assignment within the budget is less sensitive at no more cost than the pick."""
    rng = np.random.default_rng(3)
    sens = rng.uniform(0, 10, (4, 3))
    sens[1, 2] = np.inf  # a channel with two options only
    cost = rng.integers(0, 12, (4, 3)).astype(float)
    combos = [c for c in product(range(3), repeat=4) if np.isfinite(sens[range(4), c]).all()]
    for budget in (0, 5, 10, 15, 20, 30, 50):
        pick = sc.allocate(sens, cost, budget)
        c_pick, s_pick = cost[range(4), pick].sum(), sens[range(4), pick].sum()
        cheapest = min(cost[range(4), c].sum() for c in combos)
        assert c_pick <= max(budget, cheapest) + 1e-9
        better = [c for c in combos if cost[range(4), c].sum() <= c_pick and sens[range(4), c].sum() < s_pick - 1e-9]
        assert not better, (budget, pick, better[:3])


def test_hessian_channel_search_prunes_and_reaches_below_per_layer(tmp_path):
    common = {"seed": 3, "model": {"kwargs": {"hidden": [32]}}, "train": {"epochs": 3, "float_epochs": 20},
              "goal": {"cost": "ebops"}, "space": {"default": {"bias": ["quantized_bits({4..8},2,alpha=1)"]}},
              "search": {"algorithm": "hessian", "max_trials": 6, "keep": "all"}}
    outs = {}
    for g in ("layer", "channel"):
        search = {"output_dir": g, **({"children": 0} if g == "channel" else {})}  # no evolution at channel
        cfg = write_config(tmp_path, f"{g}.yaml", **merge(common, {"space": {"granularity": g}, "search": search}))
        code, log, err = run_cli("search", str(cfg), cwd=tmp_path)
        assert code == 0, err[-3000:]
        out = tmp_path / g
        outs[g] = [json.loads((out / "trials" / str(i) / "record.json").read_text()) for i in range(6)]
    assert "channel-granularity candidates" in log and "pruning-aware" in log
    cands = json.loads((tmp_path / "channel" / "strategy" / "tuner-hessian-channel.json").read_text())
    assert "children at channel granularity" not in log and not any(c.get("child") for c in cands)  # children: 0
    assert len(cands) >= 3 and any(c["pruned"] > 0.3 for c in cands)
    for c, r in zip(cands, outs["channel"]):  # the candidates are the first trials, evaluated as learned
        assert r["as_learned"] and r["epochs"] == 0 and r["val_accuracy"] == pytest.approx(c["val"], abs=1e-12)
    float_acc = json.loads((tmp_path / "channel" / "state.json").read_text())["float_val_accuracy"]
    near = {g: min((r["ebops"] for r in recs if r["status"] == "ok" and r["val_accuracy"] >= float_acc - 0.03),
                   default=None) for g, recs in outs.items()}
    print("\ncheapest within 3 points of float, EBOPs:", near)
    assert near["channel"] is not None and near["layer"] is not None and near["channel"] < near["layer"]


def test_hessian_channel_refusals_are_one_error_line(tmp_path):
    for over, words in (({"space": {"granularity": "weight"}, "search": {"algorithm": "hessian"}},
                         "weight granularity is chosen by search.algorithm 'gradient' only, not 'hessian'"),
                        ({"space": {"granularity": "channel"}, "search": {"algorithm": "hessian", "learn_epochs": 50}},
                         "search.learn_epochs: belongs to the one training of search.algorithm gradient"),
                        ({"space": {"granularity": "channel"}, "search": {"algorithm": "random"}},
                         "channel granularity is chosen by search.algorithm 'hessian' or 'gradient' only")):
        cfg = write_config(tmp_path, **over)
        code, out, err = run_cli("search", str(cfg), cwd=tmp_path)
        assert code == 2 and err.startswith("error: ") and words in err and len(err.strip().splitlines()) == 1, err


def test_candidates_are_tried_best_and_cheapest_first_then_the_widest_gaps():
    from autoq.searching.strategies.gradient_fine import coverage_order
    assert coverage_order(0) == [] and coverage_order(1) == [0] and coverage_order(2) == [1, 0]
    assert coverage_order(5) == [4, 0, 2, 1, 3]
    for n in range(30):
        order = coverage_order(n)
        assert sorted(order) == list(range(n))  # each once
        if n > 2:  # after the two ends, every next one halves the widest gap left
            taken = set(order[:2])
            for k in order[2:]:
                gaps = sorted(taken)
                widest = max(b - a for a, b in zip(gaps, gaps[1:]))
                a = max(t for t in taken if t < k)
                b = min(t for t in taken if t > k)
                assert b - a == widest, (n, order)
                taken.add(k)
