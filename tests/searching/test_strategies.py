"""The learned-bit (gradient) and Hessian-guided (hessian) strategies end to end on digits at a tiny budget: their
candidates are the first trials, cheap to expensive, kept in the output folder so a resumed search reuses them,
and the winner exports bit-exactly. Also the pareto oracle's seeds."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

import autoq
from autoq.searching.strategies.pareto import ParetoOracle

ROOT = Path(__file__).resolve().parents[2]


def config(algorithm: str, trials: int) -> dict:
    base = yaml.safe_load((ROOT / "configs" / "digits.yaml").read_text())
    return {"name": f"s-{algorithm}", "seed": 3, "space": base["space"],
            "model": {"builder": "autoq.models:mlp", "kwargs": {"hidden": [24, 16]}},
            "data": {"source": "digits"}, "train": {"epochs": 2, "float_epochs": 8, "batch_size": 64},
            "goal": {"cost": "bops"}, "search": {"algorithm": algorithm, "max_trials": trials}}


@pytest.mark.parametrize("algorithm", ["hessian", "gradient"])
def test_strategy_front_resume_and_bit_exact_export(algorithm, tmp_path):
    lines = []
    out = tmp_path / "out"
    res = autoq.search(config=config(algorithm, 3), output_dir=out, log=lambda *a, **k: lines.append(str(a[0])))
    cands = json.loads((out / "strategy" / f"tuner-{algorithm}.json").read_text())
    ok = [r for r in res.trials if r["status"] == "ok"]
    assert len(ok) == 3
    seeded = min(len(cands), 3)
    if algorithm == "gradient":  # learned choices come snapped to the listed quantizers (search.leave_space false)
        from autoq import space
        from autoq.config import parse_config
        from autoq.searching.result import load_model
        from autoq.searching.strategies import snap
        sp = space.analyse(load_model(out / "float_model.h5"), parse_config(yaml.safe_dump(config(algorithm, 3))).space)
        cands = [dict(c, choice=snap.snap(sp, c["choice"])) for c in cands]
    for r, c in zip(res.trials[:seeded], cands):  # the candidates are the first trials, in order
        assert r["choice"] == c["choice"]
        if algorithm == "gradient":  # ... each trained from the weights it learned
            assert r["warm_start"] == c["model"] and (out / c["model"]).is_file() and r["epochs"] == 2
    costs = [c["cost"] for c in cands]
    assert len(set(costs)) >= 2, costs  # a front, not one point
    if algorithm == "hessian":
        assert costs == sorted(costs)
    else:  # beta 0 first: the most expensive; the largest beta the cheapest
        assert costs[0] == max(costs) and costs[-1] == min(costs)
    assert sum(f"[autoq] {algorithm}: " in l and "..." in l for l in lines) == 1  # computed once
    if algorithm == "hessian":  # what it budgets, in which unit
        assert "[autoq] hessian: Hessian traces of the float model and a sweep of budgets in BOPs ..." in lines
        said = [l for l in lines if "candidates, the allocation's estimate" in l]
        assert len(said) == 1 and said[0].endswith(" BOPs"), said

    # resumed with a larger budget: the same candidates, not computed again, the earlier trials kept
    lines.clear()
    res2 = autoq.search(config=config(algorithm, 5), output_dir=out, log=lambda *a, **k: lines.append(str(a[0])))
    assert not any("..." in l and f"[autoq] {algorithm}: " in l for l in lines), lines
    assert [r["trial"] for r in res2.trials] == ["0", "1", "2", "3", "4"]
    assert [r["choice"] for r in res2.trials[:3]] == [r["choice"] for r in res.trials]

    exported = autoq.export(out, str(tmp_path / "hls"), force=True)
    assert exported.bit_exact and exported.max_abs_diff == 0


@pytest.mark.parametrize("algorithm", ["hessian", "gradient"])
def test_strategy_with_a_width_search(algorithm, tmp_path):
    """The candidates are made at the float model's width: they are the first trials at width 1.0 (gradient's from
    the weights it learned); the trials after them search the widths too."""
    cfg = config(algorithm, 12)
    cfg["space"]["widths"] = [0.5, 1.0]
    res = autoq.search(config=cfg, output_dir=tmp_path / "out", log=lambda *a, **k: None)
    assert all(r["status"] == "ok" for r in res.trials) and len(res.trials) == 12
    n = len(json.loads((tmp_path / "out" / "strategy" / f"tuner-{algorithm}.json").read_text()))
    widths = [{layer: v["width"] for layer, v in r["choice"].items() if "width" in v} for r in res.trials]
    assert widths[0] == {"fc1": 1.0, "fc2": 1.0}
    assert all(w == widths[0] for w in widths[:n])
    assert any(w != widths[0] for w in widths[n:]), widths
    if algorithm == "gradient":
        assert all(r["warm_start"] for r in res.trials[:n])


def test_pareto_oracle_proposes_its_seeds_first_and_keeps_them_in_its_state():
    from autoq.keras_env import keras_tuner
    kt = keras_tuner()
    hp = kt.HyperParameters()
    hp.Choice("a", ["quantized_bits(2,0,alpha=1)", "quantized_bits(4,0,alpha=1)", "quantized_bits(8,0,alpha=1)"])
    seeds = [({"a": "quantized_bits(3,0,alpha=1)", "autoq/start": "m.h5"}, "gradient"),  # off the listed choices
             ({"a": "quantized_bits(8,0,alpha=1)"}, "hessian")]
    o = ParetoOracle(max_trials=5, cost_key="bops", accuracy_key="objective", seed=1, hyperparameters=hp, seeds=seeds)
    first = o.populate_space("0")
    assert first["values"] == seeds[0][0] and o.origins["0"] == "gradient"
    o2 = ParetoOracle(max_trials=5, cost_key="bops", accuracy_key="objective", seed=1, hyperparameters=hp)
    o2.set_state(o.get_state())
    assert o2.seeds == seeds
