"""Same config + seed -> same trial sequence; the output directory records versions and the config digest."""
from __future__ import annotations

import json


from helpers_search import TINY, merge, records

from autoq import search as run_search


def _run(tmp_path, name, over):
    cfg = merge(TINY, over)
    out = tmp_path / name
    run_search(config=cfg, output_dir=out, verbose=False)
    recs = sorted(records(out).values(), key=lambda r: r["number"])
    return out, [(r["trial"], r["hp"]) for r in recs], [r.get("val_accuracy") for r in recs]


def test_same_seed_same_random_trials_and_provenance(tmp_path):
    over = {"seed": 11, "train": {"epochs": 1, "float_epochs": 2}, "search": {"algorithm": "random", "max_trials": 4}}
    a, seq_a, acc_a = _run(tmp_path, "a", over)
    b, seq_b, acc_b = _run(tmp_path, "b", over)
    assert len(seq_a) == 4 and seq_a == seq_b
    assert len({json.dumps(hp, sort_keys=True) for _, hp in seq_a}) == 4  # distinct choices
    assert acc_a == acc_b  # same float model init, same split, same per-trial seeds -> same numbers on this CPU

    sa, sb = (json.loads((d / "summary.json").read_text()) for d in (a, b))
    state = json.loads((a / "state.json").read_text())
    assert sa["config_digest"] == sb["config_digest"] == state["config_digest"]
    assert sa["float_val_accuracy"] == sb["float_val_accuracy"]
    assert state["config"] == sa["config"] and state["seed"] == 11
    v = sa["versions"]
    for pkg in ("python", "platform", "autoq", "tensorflow", "keras", "qkeras", "hls4ml", "keras-tuner", "numpy",
                "scikit-learn", "tensorflow-model-optimization", "pyyaml", "pyparsing", "matplotlib", "grpcio",
                "protobuf", "h5py", "scipy"):
        assert v.get(pkg), pkg  # every requirement of autoq and the libraries under them, installed and recorded
    assert "autoq_git" in v and state["versions"]["tensorflow"] == v["tensorflow"]

    c, seq_c, _ = _run(tmp_path, "c", merge(over, {"seed": 12, "search": {"max_trials": 2}}))
    assert seq_c != seq_a[:2]  # the seed does steer the search


def test_same_seed_same_bayesian_trials(tmp_path):
    # one Dense layer, 8 trials: 2 random initial points (autoq gives the GP a third of the budget), then the Gaussian
    # process picks trials 3 to 8
    over = {"seed": 5, "model": {"kwargs": {"hidden": []}}, "train": {"epochs": 1, "float_epochs": 2},
            "search": {"algorithm": "bayesian", "max_trials": 8}}
    _, seq_a, acc_a = _run(tmp_path, "a", over)
    _, seq_b, acc_b = _run(tmp_path, "b", over)
    assert len(seq_a) == 8
    assert acc_a == acc_b
    assert seq_a == seq_b
