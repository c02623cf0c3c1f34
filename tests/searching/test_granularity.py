"""Per-weight and per-channel learned bits with pruning (``space.granularity``, ``algorithm: gradient``): the
quantizer by hand, the exact fold into plain QKeras, a digits search from the CLI whose pruned candidates export
bit-exactly with their zeros in the firmware's weights, and learned layer choices snapped into the listed space
(``search.leave_space``)."""
from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
import yaml

from autoq import cost, space
from autoq.config import parse_config
from autoq.cost.ebops import layer_ebops
from autoq.quantizers import learned, learned_fine
from autoq.searching.strategies import snap

from helpers_models import bn_mlp, conv_net
from helpers_search import TINY, env, merge, run_cli

LN2 = math.log(2.0)
SPACE = """
space:
  input_quantizer: "quantized_bits(8,3,alpha=1)"
  default:
    kernel: ["quantized_bits({2..8},0,alpha=1)"]
    bias: ["quantized_bits({4..8},2,alpha=1)"]
    activation: ["quantized_relu({2..8},2)"]
"""


def toy_task(seed: int):
    """(x, y, accuracy function) of a random 3-class task on 8 features, 256 samples."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(256, 8)).astype("float32") * 2
    y = tf.keras.utils.to_categorical(rng.integers(0, 3, 256), 3)
    return x, y, lambda yt, p: float(np.mean(np.argmax(p, 1) == np.argmax(yt, 1)))


def effective_bops(model) -> float:
    """Sum over a Dense model's kernels' weights of the bit span of the quantized value (0 for a zero, sign not
    counted) x the bits of the layer's input: HGQ's EBOPs with the inputs at their quantizers' widths."""
    rows = {r.name: r for r in cost.layer_costs(model)}
    total = 0.0
    for layer in model.layers:
        q = getattr(layer, "kernel_quantizer_internal", None)
        if q is None:
            continue
        wq = np.abs(q(layer.kernel).numpy().astype(np.float64))
        frac = int(q.bits) - 1 - int(q.integer)
        k = np.round(wq * 2.0 ** frac).astype(np.int64)
        assert np.array_equal(k / 2.0 ** frac, wq)  # every value on the layer's grid
        span = np.zeros(k.shape)
        nz = k > 0
        lsb = np.log2(k[nz] & -k[nz])  # the lowest set bit
        span[nz] = np.floor(np.log2(k[nz])) + 1 - lsb
        r = rows[layer.name]
        assert r.macs == k.size  # a Dense layer: one kernel instance
        total += span.sum() * r.input_bits
    return float(total)


def test_fine_quantizer_by_hand():
    q = learned_fine.FineBits("weight")
    x = tf.Variable([0.3, -0.7, 0.02, 0.0, 1.5], dtype=tf.float32)
    q.build(x.shape)
    q.f.assign([2.3, 1.0, 3.0, 5.0, -1.2])  # F = 2, 1, 3, 5, -1
    with tf.GradientTape() as tape:
        y = q(x, training=True)
        s = tf.reduce_sum(y)
    gx, gf = tape.gradient(s, [x, q.f])
    # 0.3 -> 0.25 (grid 1/4); -0.7 -> -0.5 (grid 1/2); 0.02: 2^-5 <= |x| < 2^-5.. i = -5, F = 3: 0 bits, pruned;
    # 0: pruned; 1.5 with F = -1: grid 2, i = 1, width 0: pruned
    np.testing.assert_array_equal(y.numpy(), [0.25, -0.5, 0.0, 0.0, 0.0])
    np.testing.assert_array_equal(q(x, training=False).numpy(), y.numpy())
    np.testing.assert_array_equal(q.widths(x).numpy(), [1.0, 1.0, 0.0, 0.0, 0.0])  # i_w + F: -1+2, 0+1, ...
    np.testing.assert_array_equal(gx.numpy(), np.ones(5))  # straight through, so pruned weights can come back
    np.testing.assert_allclose(gf.numpy(), -LN2 * (y.numpy() - x.numpy()), rtol=1e-5)  # HGQ's surrogate
    spec = q.spec_of(y.numpy(), np.round(q.f.numpy()))
    assert spec == "quantized_bits(3,0,alpha=1)"  # |values| < 2^0, finest grid 2^-2 kept: 1 + 0 + 2 bits
    import qkeras
    np.testing.assert_array_equal(qkeras.quantized_bits(3, 0, alpha=1)(y).numpy(), y.numpy())


def mlp():
    return bn_mlp(3)


@pytest.mark.parametrize("granularity", ["weight", "channel"])
def test_fold_is_exact_and_pruned_weights_are_zero(granularity):
    m = mlp()
    m.get_layer("bn").set_weights([np.full(8, 1.5), np.full(8, 0.1), np.full(8, 0.2), np.full(8, 2.0)])
    sp = space.analyse(m, parse_config(SPACE).space)
    x, y, acc = toy_task(0)
    cands = learned_fine.learn(m, sp, x, y, x[:64], y[:64], acc, granularity=granularity, epochs=3, batch_size=32,
                               beta_range=(1.0, 30.0), learning_rate=1e-2, bits_learning_rate=0.3)
    assert [c.epoch for c in cands] == [1, 2, 3] and cands[-1].ebops < cands[0].ebops
    c = cands[-1]
    assert c.pruned > 0  # some weights reached 0 bits
    folded = learned_fine.fold(m, c, sp.input_quantizer)
    for layer in folded.layers:
        q = getattr(layer, "kernel_quantizer_internal", None)
        if q is None:
            continue
        wq = c.weights[layer.name][0]
        np.testing.assert_array_equal(q(layer.kernel).numpy(), wq)  # QKeras keeps every value on its grid
        assert not np.any(q(layer.kernel).numpy()[wq == 0])  # pruned: exactly zero in the folded model
    # the candidate's validation score was measured on the learned model: the fold scores the same
    assert acc(y[:64], folded.predict(x[:64], verbose=0)) == c.val_score
    if granularity == "channel":  # one width per output channel
        fm = learned_fine.fine_model(m, sp, "channel")
        assert tuple(fm.get_layer("fc1").kq.f.shape) == (1, 16)


def test_long_training_keeps_only_the_front_and_tunes_candidates_on_one_model():
    """learn frees the weights of every epoch off the validation front (a long training would hold them all);
    tune_all on one model gives what tune gives one candidate at a time."""
    from autoq.searching.fronts import nondominated_sort
    m = mlp()
    sp = space.analyse(m, parse_config(SPACE).space)
    x, y, acc = toy_task(1)
    seen = []
    cands = learned_fine.learn(m, sp, x, y, x[:64], y[:64], acc, epochs=6, batch_size=32, beta_range=(1.0, 30.0),
                               learning_rate=1e-2, bits_learning_rate=0.3, on_epoch=lambda c, n: seen.append((c.epoch, n)))
    assert seen == [(k, 6) for k in range(1, 7)]
    ranks = nondominated_sort([(c.val_score, c.ebops) for c in cands])
    assert [bool(c.state) for c in cands] == [r == 0 for r in ranks]
    assert any(r > 0 for r in ranks)  # something was dropped
    kept = [c for c in cands if c.state][:2]
    both = learned_fine.tune_all(m, sp, kept, x, y, x[:64], y[:64], acc, epochs=2, batch_size=32)
    for c, t in zip(kept, both):
        one = learned_fine.tune(m, sp, c, x, y, x[:64], y[:64], acc, epochs=2, batch_size=32)
        assert (t.val_score, t.ebops, t.epoch) == (one.val_score, one.ebops, one.epoch)
        for name in one.weights:
            for a, b in zip(t.weights[name], one.weights[name]):
                np.testing.assert_array_equal(a, b)


def test_children_keep_the_granularity_and_score_as_themselves():
    """The evolution after the candidates (fine_evolution): a mutation moves one layer's grids one step on part of
    its weights and nothing else; each child is trained with its widths fixed, scored as itself (not as its parent),
    keeps a grid per weight, folds exactly, and those kept are on the front of candidates and children."""
    from types import SimpleNamespace
    from autoq.searching.fronts import nondominated_sort
    from autoq.searching.strategies import fine_evolution
    from autoq.searching.strategies.gradient_fine import trial_order
    m = mlp()
    sp = space.analyse(m, parse_config(SPACE).space)
    x, y, acc = toy_task(3)
    cands = learned_fine.learn(m, sp, x, y, x[:64], y[:64], acc, epochs=4, batch_size=32, beta_range=(1.0, 30.0),
                               learning_rate=1e-2, bits_learning_rate=0.3, input_quantizer=sp.input_quantizer)
    tune = lambda cs: learned_fine.tune_all(m, sp, cs, x, y, x[:64], y[:64], acc, epochs=1, batch_size=32,
                                            input_quantizer=sp.input_quantizer)
    tuned = tune([c for c in cands if c.state])
    model = learned_fine.fine_model(m, sp, "weight", input_quantizer=sp.input_quantizer)
    f_at = fine_evolution._f_index(model)
    for seed in range(4):
        child = fine_evolution.mutate(model, tuned[0].state, np.random.default_rng(seed))
        moved = [k for k, (a, b) in enumerate(zip(child, tuned[0].state)) if not np.array_equal(a, b)]
        assert len(moved) == 1 and moved[0] in f_at.values()
        step = np.unique(child[moved[0]] - tuned[0].state[moved[0]])
        assert set(step) in ({0.0, 1.0}, {0.0, -1.0}, {1.0}, {-1.0})
    kids = fine_evolution.evolve(model, tuned, 6, tune, seed=0)
    assert kids and [k.ebops for k in kids] == sorted(k.ebops for k in kids)
    ranks = nondominated_sort([(c.val_score, c.ebops) for c in tuned + kids])
    assert all(r == 0 for r in ranks[len(tuned):])
    infer = learned.inference(model)
    for k in kids:
        model.set_weights(k.state)
        assert acc(y[:64], infer(x[:64])) == k.val_score  # its own score
        assert learned_fine.read(model).ebops == pytest.approx(k.ebops)
        assert len(np.unique(model.get_layer("fc1").kq.f.numpy())) > 1  # still a grid per weight
        np.testing.assert_array_equal(model.predict(x, verbose=0),
                                      learned_fine.fold(m, k, sp.input_quantizer).predict(x, verbose=0))
    # the trials take the front (candidates and children) first, cheapest and most accurate first, then the rest
    pts = [SimpleNamespace(val_score=v, ebops=e) for v, e in [(0.5, 10), (0.7, 30), (0.6, 40), (0.9, 90)]]
    kid = [SimpleNamespace(val_score=0.65, ebops=20), SimpleNamespace(val_score=0.8, ebops=50)]
    order = [(p.val_score, p.ebops, k) for p, k in trial_order(pts, kid)]
    assert order == [(0.9, 90, 0), (0.5, 10, 0), (0.7, 30, 0), (0.65, 20, 1), (0.8, 50, 2), (0.6, 40, 0)]


def test_searched_input_bits_are_learned_and_fold_exactly(tmp_path):
    """space.input_quantizer listing several: the per-weight training learns the input's bits too (as HGQ does),
    records them as the choice's input quantizer, and the fold computes what the learned model computes."""
    from autoq.space import INPUT_KEY
    m = mlp()
    text = SPACE.replace('input_quantizer: "quantized_bits(8,3,alpha=1)"',
                         'input_quantizer: ["quantized_bits(8,3,alpha=1)", "quantized_bits({3..7},3,alpha=1)"]')
    sp = space.analyse(m, parse_config(text).space)
    assert sp.input_searched
    x, y, acc = toy_task(2)
    cands = learned_fine.learn(m, sp, x, y, x[:64], y[:64], acc, epochs=4, batch_size=32, beta_range=(3.0, 100.0),
                               learning_rate=1e-2, bits_learning_rate=0.3, input_quantizer=sp.input_quantizer)
    first, last = cands[0].choice[INPUT_KEY]["quantizer"], cands[-1].choice[INPUT_KEY]["quantizer"]
    bits = lambda spec: int(spec.split("(")[1].split(",")[0])
    assert 3 <= bits(last) < 8 and bits(last) <= bits(first), (first, last)
    c = next(c for c in reversed(cands) if c.state)
    model = learned_fine.fine_model(m, sp, "weight", input_quantizer=sp.input_quantizer)
    model.set_weights(c.state)
    folded = learned_fine.fold(m, c, sp.input_quantizer)
    assert folded.get_layer("input_quant").quantizer.bits == bits(c.choice[INPUT_KEY]["quantizer"])
    np.testing.assert_array_equal(model.predict(x, verbose=0), folded.predict(x, verbose=0))
    from autoq import export  # and hls4ml's C simulation computes it bit for bit
    res = export(folded, str(tmp_path / "hls"), x=x[:64])
    assert res.bit_exact and res.first_mismatch_layer is None


def test_learned_model_equals_its_fold_bit_for_bit():
    m = mlp()
    sp = space.analyse(m, parse_config(SPACE).space)
    model = learned_fine.fine_model(m, sp, "weight", input_quantizer=sp.input_quantizer)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(256, 8)).astype("float32") * 2
    learned.calibrate(model, x)
    for layer in model.layers:
        if isinstance(layer, learned.LearnedQLayer):  # a spread of widths, some weights pruned
            layer.kq.f.assign(rng.integers(-3, 7, size=layer.kq.f.shape).astype("float32"))
    c = learned_fine.read(model)
    assert 0 < c.pruned < 1
    np.testing.assert_array_equal(model.predict(x, verbose=0), learned_fine.fold(m, c, sp.input_quantizer)
                                  .predict(x, verbose=0))


def test_snap_to_the_listed_space():
    sp = space.analyse(mlp(), parse_config(SPACE).space)
    raw = {"fc1": {"kernel": "quantized_bits(9,1,alpha=1)", "bias": "quantized_bits(8,0,alpha=1)",
                   "activation": "quantized_relu(5,4)"}, "fc2": {"kernel": "quantized_bits(3,0,alpha=1)"}}
    out = snap.snap(sp, raw)
    assert out["fc1"] == {"kernel": "quantized_bits(8,0,alpha=1)", "bias": "quantized_bits(8,2,alpha=1)",
                          "activation": "quantized_relu(5,2)"}
    assert out["fc2"] == {"kernel": "quantized_bits(3,0,alpha=1)"}  # listed: kept
    assert snap.outside(sp, out) == [] and len(snap.outside(sp, raw)) == 3


def test_bad_granularity_is_one_error_line(tmp_path):
    from helpers_search import write_config
    for over, words in (({"space": {"granularity": "neuron"}}, "space.granularity: expected one of layer"),
                        ({"space": {"granularity": "weight"}}, "chosen by search.algorithm 'gradient' only"),
                        ({"search": {"algorithm": "gradient", "target_ebops": 1000}},
                         "search.target_ebops: steers the per-weight training"),
                        ({"space": {"granularity": "weight"}, "search": {"algorithm": "gradient", "target_ebops": -1}},
                         "search.target_ebops: expected a positive number"),
                        ({"search": {"algorithm": "gradient", "learn_epochs": 100}},
                         "search.learn_epochs: is the length of the per-weight training"),
                        ({"space": {"granularity": "weight"}, "search": {"algorithm": "gradient", "learn_epochs": 0}},
                         "search.learn_epochs: must be between 1 and"),
                        ({"search": {"algorithm": "gradient", "children": 4}},
                         "search.children: counts the children evolved at space.granularity channel or weight"),
                        ({"space": {"granularity": "weight"}, "search": {"algorithm": "gradient", "children": -1}},
                         "search.children: must be between 0 and")):
        cfg = write_config(tmp_path, **over)
        code, out, err = run_cli("search", str(cfg), cwd=tmp_path)
        assert code == 2 and err.startswith("error: ") and words in err and len(err.strip().splitlines()) == 1, err


def search(tmp_path, name, trials=4, **over) -> tuple:
    cfg = merge(TINY, {"name": name, "seed": 3, "model": {"kwargs": {"hidden": [32]}},
                       "train": {"epochs": 3, "float_epochs": 20}, "goal": {"cost": "bops"},
                       "space": {"default": {"bias": ["quantized_bits({4..8},2,alpha=1)"]}},
                       "search": {"algorithm": "gradient", "max_trials": trials, "output_dir": name, "keep": "all"}})
    cfg = merge(cfg, over)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    proc = subprocess.run([sys.executable, "-m", "autoq.cli", "search", str(path)], cwd=tmp_path, env=env(),
                          capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = tmp_path / name
    records = [json.loads((out / "trials" / str(i) / "record.json").read_text()) for i in range(trials)]
    return out, records, proc.stdout


def test_weight_granularity_search_cli_cheaper_than_layer_and_exports_its_zeros(tmp_path):
    from autoq.searching.result import load_model
    out_w, rec_w, log_w = search(tmp_path, "w", 6, space={"granularity": "weight"},  # up to 4 candidates
                                 search={"learn_epochs": 10})
    cands = json.loads((out_w / "strategy" / "tuner-gradient-weight.json").read_text())
    assert "weight-granularity candidates and children" in log_w
    assert "in one training of 10 epochs" in log_w  # search.learn_epochs, with a progress line per tenth
    assert [f"epoch {k}/10, beta" in log_w for k in (1, 5, 10)] == [True] * 3 and "epoch 11/10" not in log_w
    # 6 trials: 4 candidates, then 2 children at weight granularity; per-layer evolution for what is left
    assert "2 children at weight granularity" in log_w and "of the 2 children on the validation front" in log_w
    assert "evolve per-layer quantizers" in log_w  # what the evolution after them does is said
    assert sorted(c["child"] for c in cands if c["child"]) == list(range(1, 1 + sum(1 for c in cands if c["child"])))
    float_acc = json.loads((out_w / "state.json").read_text())["float_val_accuracy"]
    for c, r in zip(cands, rec_w):  # the candidates are the first trials, evaluated as learned
        assert r["as_learned"] and r["epochs"] == 0 and r["warm_start"] == c["model"]
        assert r["val_accuracy"] == pytest.approx(c["val"], abs=1e-12)
    assert any(c["pruned"] > 0.2 for c in cands)
    from autoq.quantizers import expand
    sp = yaml.safe_load((tmp_path / "w.yaml").read_text())["space"]["default"]
    listed = {r: [s for v in specs for s in expand(v)] for r, specs in sp.items()}
    for r in rec_w[len(cands):]:  # the evolution after them: per-layer choices, within the listed quantizers
        assert not r.get("as_learned") and r["epochs"] > 0
        assert all(spec in listed[role] for roles in r["choice"].values() for role, spec in roles.items()), r
    # run again: it resumes, the candidates are not learned again and the trials stay as they were
    proc = subprocess.run([sys.executable, "-m", "autoq.cli", "search", str(tmp_path / "w.yaml"), "--output",
                           str(out_w)], cwd=tmp_path, env=env(), capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0 and "resuming" in proc.stdout and "learning weight bit widths" not in proc.stdout
    assert [json.loads((out_w / "trials" / str(i) / "record.json").read_text()) for i in range(6)] == rec_w

    # item 7: layer granularity's learned choices are snapped into the listed space by default (test_strategies);
    # search.leave_space: true keeps them, and the log says which left it
    out_l, rec_l, log_l = search(tmp_path, "l", search={"leave_space": True})
    raw = json.loads((out_l / "strategy" / "tuner-gradient.json").read_text())
    assert "snapped" not in log_l and "learned quantizer(s) outside the listed space" in log_l
    assert rec_l[0]["choice"] == raw[0]["choice"]

    def priced(out, recs):
        return [(r["val_accuracy"], effective_bops(load_model(out / r["model"])), r["trial"]) for r in recs
                if r["status"] == "ok"]
    w, l = priced(out_w, rec_w[:len(cands)]), priced(out_l, rec_l)
    near = lambda pts: min((p for p in pts if p[0] >= float_acc - 0.03), key=lambda p: p[1], default=None)
    best_w, best_l = near(w), near(l)
    print(f"\nfloat val {float_acc:.4f}; cheapest within 3 points, EBOPs: weight {best_w}, layer {best_l}")
    print("weight candidates:", w, "\nlayer trials:", l)
    assert best_w is not None and best_l is not None and best_w[1] < best_l[1]

    # the most pruned candidate exports bit-exactly, its pruned weights zero in the firmware's weights
    c = max(cands, key=lambda c: c["pruned"])
    trial = next(r["trial"] for r in rec_w if r.get("warm_start") == c["model"])
    proc = subprocess.run([sys.executable, "-m", "autoq.cli", "export", str(out_w), "--trial", trial, "--output",
                           str(tmp_path / "hls")], cwd=tmp_path, env=env(), capture_output=True, text=True,
                          timeout=1800)
    assert proc.returncode == 0 and "bit-exact" in proc.stdout, proc.stderr[-3000:]
    model = load_model(out_w / "trials" / trial / "model.h5")
    layer = model.get_layer("fc1")
    wq = layer.kernel_quantizer_internal(layer.kernel).numpy()
    files = {}
    for h in (tmp_path / "hls" / "firmware" / "weights").glob("w*.h"):
        shape = h.read_text().splitlines()[0].split("[", 1)[1].rstrip("]")
        files[tuple(int(s) for s in shape.split(","))] = h.with_suffix(".txt")
    fw = np.array([float(v) for v in files[wq.shape].read_text().replace("\n", "").split(",") if v.strip()])
    assert np.sum(wq == 0) > 0.2 * wq.size
    np.testing.assert_array_equal(fw == 0, wq.reshape(-1) == 0)  # the zeros, exactly where they were pruned


def fine_conv_net(granularity, n: int, f_low: int):
    """(float conv net, its space, its fine model calibrated on ``n`` random inputs with random grids 2^-f, f from
    ``f_low`` to 5, the inputs)."""
    m = conv_net(5)
    sp = space.analyse(m, parse_config(SPACE).space)
    model = learned_fine.fine_model(m, sp, granularity, input_quantizer=sp.input_quantizer)
    x = np.random.default_rng(1).normal(size=(n, 6, 6, 2)).astype("float32")
    learned.calibrate(model, x)
    rng = np.random.default_rng(2)
    for layer in model.layers:
        if isinstance(layer, learned.LearnedQLayer):
            layer.kq.f.assign(rng.integers(f_low, 6, size=layer.kq.f.shape).astype("float32"))
    return m, sp, model, x


@pytest.mark.parametrize("granularity", ["weight", "channel"])
def test_fold_exact_for_convolutions(granularity):
    m, sp, model, x = fine_conv_net(granularity, 64, -1)
    assert tuple(model.get_layer("dw").kq.f.shape) == ((1, 1, 3, 1) if granularity == "channel" else (2, 2, 3, 1))
    c = learned_fine.read(model)
    np.testing.assert_array_equal(model.predict(x, verbose=0),
                                  learned_fine.fold(m, c, sp.input_quantizer).predict(x, verbose=0))


@pytest.mark.parametrize("granularity", ["weight", "channel"])
def test_training_cost_counts_convolutions_as_the_exact_ebops_do(granularity):
    """The surrogate the training and the target steer on counts one kernel instance of a convolution, as the exact
    EBOPs of the fold do (not x its output positions: 16 and 9 here, which made a CNN's convolutions look 10x
    dearer than its Dense layer). It bounds the exact count from above (a weight's width counts its trailing zero
    bits; an input counts its layer's learned bits, the exact count each element's traced bits, 0 for a channel the
    ReLU never opens) and stays within 4x of it, layer by layer: counted x positions it would be 9x above at least."""
    m, sp, model, x = fine_conv_net(granularity, 256, 1)
    c = learned_fine.read(model)
    exact = {r.name: r.ebops for r in layer_ebops(learned_fine.fold(m, c, sp.input_quantizer), x)}
    feed = learned.input_widths(model)
    for layer in model.layers:
        if isinstance(layer, learned.LearnedQLayer):
            one = float(layer.kq.bits()) * int(np.prod(layer.kernel.shape)) * feed[layer.name]
            assert exact[layer.name] <= one <= 4 * exact[layer.name], layer.name
            assert float(learned.ebops_by_layer(model)[layer.name]) == pytest.approx(one, rel=1e-5)  # the shares
    assert c.ebops == pytest.approx(sum(float(l.kq.bits()) * int(np.prod(l.kernel.shape)) * feed[l.name]
                                        for l in model.layers if isinstance(l, learned.LearnedQLayer)), rel=1e-5)
    assert sum(exact.values()) <= c.ebops <= 4 * sum(exact.values())


def test_beta_steered_to_a_target():
    """search.target_ebops: after each epoch beta is multiplied by sqrt(EBOPs / target) (HGQ2's BetaPID, integral on
    log beta), so it rises while the model is above the target and the model comes down to it."""
    m = mlp()
    sp = space.analyse(m, parse_config(SPACE).space)
    x, y, acc = toy_task(0)
    start = learned_fine.read(learned_fine.fine_model(m, sp, "weight", input_quantizer=sp.input_quantizer)).ebops
    target = start / 4
    cands = learned_fine.learn(m, sp, x, y, x[:64], y[:64], acc, epochs=4, batch_size=32, beta_range=(0.1, 100.0),
                               bits_learning_rate=0.3, target=target)
    assert cands[0].beta == pytest.approx(0.1)
    for a, b in zip(cands, cands[1:]):
        assert b.beta == pytest.approx(float(np.clip(a.beta * math.sqrt(a.ebops / target), 1e-3, 1e4)), rel=1e-6)
    assert cands[-1].ebops < start / 2
