"""Hard constraints (goal.budget, goal.max_drop), the front table of ``autoq show`` and ``autoq export --front``:
real searches on digits (tiny MLP, 3 random trials each: the random oracle proposes the same trials whatever the
constraints, so a constrained search can be compared with the unconstrained one), real hls4ml exports."""
import csv
import json
import math
from pathlib import Path

import pytest

import autoq  # noqa: F401 - settles tf.keras first
from autoq.config import parse_config
from autoq.errors import ConfigError
from autoq.searching.fronts import nondominated_sort

from helpers_search import run_cli, write_config

# delta_p/delta_n near 0: the unconstrained winner is the most accurate trial, whatever it costs
SEARCH = {"seed": 1, "search": {"algorithm": "random", "max_trials": 3, "output_dir": "out"},
          "train": {"epochs": 2, "patience": 0, "batch_size": 64, "float_epochs": 15}}
FREE_GOAL = {"delta_p": 0.1, "delta_n": 0.1}


def _search(folder: Path, **sections):
    folder.mkdir()
    cfg = write_config(folder, **{**SEARCH, **sections})
    code, out, err = run_cli("search", cfg, cwd=folder)
    return code, out, err, folder / "out"


def _rows(out: Path) -> dict:
    return {r["trial"]: r for r in csv.DictReader((out / "trials.csv").open())}


def _summary(out: Path) -> dict:
    return json.loads((out / "summary.json").read_text())


@pytest.fixture(scope="module")
def free(tmp_path_factory):
    """The unconstrained search: its trials, winner and float metric."""
    code, _, err, out = _search(tmp_path_factory.mktemp("budgets") / "free", goal=FREE_GOAL)
    assert code == 0, err[-2000:]
    return _rows(out), _summary(out)


def test_lut_budget_binds_the_winner(free, tmp_path):
    rows, summary = free
    winner = summary["best"]["trial"]
    assert "constraints" not in summary and all(r["feasible"] == "" for r in rows.values())
    cheaper = [int(r["lut"]) for r in rows.values() if int(r["lut"]) < int(rows[winner]["lut"])]
    assert cheaper, "the unconstrained winner is the cheapest in LUT: no budget can bind it"
    limit = max(cheaper)  # the unconstrained winner is over it, at least one trial within it
    code, out_text, err, out = _search(tmp_path / "lut", goal={**FREE_GOAL, "budget": {"lut": limit}})
    assert code == 0, err[-2000:]
    got, s = _rows(out), _summary(out)
    assert {t: r["lut"] for t, r in got.items()} == {t: r["lut"] for t, r in rows.items()}  # the same trials
    best = s["best"]["trial"]
    feasible = [t for t, r in got.items() if int(r["lut"]) <= limit]
    assert best != winner and best in feasible
    assert best == max(feasible, key=lambda t: (float(got[t]["val_metric"]), -float(got[t]["energy"])))
    assert got[best]["feasible"] == "yes" and got[winner]["feasible"] == "no" and got[winner]["violated"] == "lut"
    assert s["constraints"]["binding"] == ["lut"] and s["constraints"]["constraints"]["lut"]["without_it"] == winner
    assert f"constraint lut <= {limit} LUT (goal.budget.lut): met by {len(feasible)} of 3 trials, binds the winner" \
        in out_text

    code, shown, err = run_cli("show", out, "--sort", "lut")
    assert code == 0, err
    lines = shown[shown.index("Pareto front ("):].splitlines()
    assert lines[1].split() == ["id", "accuracy", "energy", "LUT", "DSP", "FF", "latency", "ns", "feasible"]
    table = [l.split() for l in lines[3:3 + len(s["pareto"]) + (best not in s["pareto"])]]
    ids = [c[0] for c in table]
    luts = [int(c[3] if c[1] != "*" else c[4]) for c in table]
    assert luts == sorted(luts) and set(ids) == set(s["pareto"]) | {best}
    assert [c for c in table if c[0] == best][0][1] == "*"  # the winner marked
    assert all(("yes" if int(got[c[0]]["lut"]) <= limit else "no") in c for c in table)
    code, by_metric, _ = run_cli("show", out, "--sort", "metric")
    metric_col = [float(l.split()[2] if l.split()[1] == "*" else l.split()[1])
                  for l in by_metric[by_metric.index("Pareto front ("):].splitlines()[3:3 + len(table)]]
    assert metric_col == sorted(metric_col, reverse=True)


def test_max_drop_picks_the_cheapest_within_it(free, tmp_path):
    rows, summary = free
    float_metric = summary["float_val_metric"]
    drop = {t: 100 * (float_metric - float(r["val_metric"])) for t, r in rows.items()}
    cheapest = min(rows, key=lambda t: float(rows[t]["energy"]))
    below = [d for t, d in drop.items() if d < drop[cheapest]]
    # exclude the cheapest trial when another one drops less, else allow every trial
    max_drop = math.ceil(max(0.0, max(below)) * 1000) / 1000 if below and drop[cheapest] > 0 else 100.0
    code, _, err, out = _search(tmp_path / "drop", goal={**FREE_GOAL, "max_drop": max_drop})
    assert code == 0, err[-2000:]
    got, s = _rows(out), _summary(out)
    within = [t for t in got if 100 * (float_metric - float(got[t]["val_metric"])) <= max_drop + 1e-3]  # trials.csv rounds
    best = s["best"]["trial"]
    assert best == min(within, key=lambda t: (float(got[t]["energy"]), -float(got[t]["val_metric"])))
    assert s["constraints"]["rule"] == "cheapest"
    assert all(got[t]["feasible"] == ("yes" if t in within else "no") for t in got)


def test_no_trial_fits_is_reported_and_the_front_exports(tmp_path):
    """A budget nothing meets: exit code 3, a plain message, no winner; show and export say so; export --front
    writes one bit-exact project per Pareto trial, each recording where it came from."""
    folder = tmp_path / "none"
    folder.mkdir()
    cfg = write_config(folder, **{**SEARCH, "search": {**SEARCH["search"], "max_trials": 2}},
                       goal={"budget": {"lut": 10}})
    code, out_text, err = run_cli("search", cfg, cwd=folder)
    out = folder / "out"
    assert code == 3, err[-2000:]
    assert "no trial fits: none of 2 trials meets every constraint; met by none: lut <= 10 LUT" in out_text
    assert "exit code 3" in err and "Traceback" not in err + out_text
    s = _summary(out)
    assert s["best"] is None and s["constraints"]["feasible_trials"] == 0 and not (out / "best_model.h5").exists()
    assert all(r["feasible"] == "no" and r["violated"] == "lut" for r in _rows(out).values())

    code, shown, err = run_cli("show", out)
    assert code == 0 and "no trial fits" in shown, err
    code, _, err = run_cli("export", out, "--output", tmp_path / "hls")
    assert code == 2 and "has no winner" in err and "--front" in err and err.count("\n") == 1

    code, exported, err = run_cli("export", out, "--front", "--output", tmp_path / "front")
    assert code == 0, err[-2000:]
    assert sorted(p.name for p in (tmp_path / "front").iterdir()) == sorted(f"trial-{t}" for t in s["pareto"])
    rows = _rows(out)
    for t in s["pareto"]:
        record = json.loads((out / "trials" / t / "record.json").read_text())
        result = json.loads((tmp_path / "front" / f"trial-{t}" / "autoq_export.json").read_text())
        assert result["bit_exact"]
        assert result["provenance"] == {
            "search": str(out.resolve()), "name": "tiny", "trial": t, "winner": False, "choice": record["choice"],
            "config_digest": s["config_digest"], "val_metric": record["val_metric"], "metric": "accuracy",
            "feasible": False}
        assert result["estimate"]["total"]["luts"] == int(rows[t]["lut"])  # the figure the budget judged


def test_constraint_checks_before_any_work(tmp_path):
    for text, message in [
        ("goal:\n  budget:\n    luts: 100\n", "x.yaml:3: goal.budget.luts: unknown limit (did you mean 'lut'?)"),
        ("goal:\n  budget: {dsp: 0}\n", "x.yaml:2: goal.budget.dsp: expected a number above 0, got 0"),
        ("goal:\n  budget: {part_fraction: 1.5}\n", "goal.budget.part_fraction: a share of the part, above 0"),
        ("goal:\n  max_drop: -1\n", "x.yaml:2: goal.max_drop: points of the metric below float, between 0 and 100"),
        ("hls4ml: {part: xc7k70tfbg676-1}\ngoal:\n  budget: {part_fraction: 0.5}\n",
         "x.yaml:3: goal.budget.part_fraction: part_fraction needs the part's resources, and autoq's table does "
         "not know 'xc7k70tfbg676-1'"),
    ]:
        with pytest.raises(ConfigError) as exc:
            parse_config(text, source="x.yaml")
        assert message in str(exc.value), str(exc.value)
    cfg = parse_config("hls4ml: {part: xc7z020clg400-1}\ngoal: {budget: {part_fraction: 0.5, dsp: 50}}\n")
    from autoq.cost.budget import Constraints
    c = Constraints.of(cfg.goal, cfg.hls4ml.part)
    assert c.limits == {"lut": 26_600, "ff": 53_200, "dsp": 50, "bram": 140}  # half an xc7z020, DSP tighter
    cfg_path = write_config(tmp_path, goal={"budget": {"lut": 100, "lutt": 3}})
    code, out, err = run_cli("search", cfg_path, cwd=tmp_path)
    assert code == 2 and err.startswith("error: ") and "goal.budget.lutt: unknown limit" in err and out == ""
    assert not (tmp_path / "out").exists()


def test_constrained_dominance():
    pts = [(0.9, 100.0), (0.8, 50.0), (0.95, 40.0), (0.99, 10.0)]
    assert nondominated_sort(pts) == [2, 2, 1, 0]
    # the two best points break the budget: feasible ones first, then by smaller violation
    assert nondominated_sort(pts, [0, 0, 0.5, 2.0]) == [0, 0, 1, 2]
