"""Hessian-aware allocation (autoq.sensitivity): Hutchinson against the exact trace, the allocation against brute
force, and a budget sweep on digits."""
from itertools import product

import numpy as np
import pytest
import tensorflow as tf

from autoq import cost, models, space
from autoq.searching import sensitivity
from autoq.config import parse_config


def test_hutchinson_matches_exact_trace():
    tf.keras.utils.set_random_seed(0)
    inp = tf.keras.Input((3,), name="x")
    m = tf.keras.Model(inp, tf.keras.layers.Dense(2, activation="softmax", name="d")(inp))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 3)).astype("float32")
    y = tf.keras.utils.to_categorical(rng.integers(0, 2, 32), 2)
    est = sensitivity.hessian_traces(m, x, y, n_samples=1500, batch_size=32, seed=1)
    layer = m.get_layer("d")
    for var, role in ((layer.kernel, "kernel"), (layer.bias, "bias")):
        with tf.GradientTape() as outer:
            with tf.GradientTape() as inner:
                loss = tf.reduce_mean(tf.keras.losses.categorical_crossentropy(y, m(x)))
            g = inner.gradient(loss, var)
        h = outer.jacobian(g, var).numpy().reshape(var.shape.num_elements(), -1)
        exact = float(np.trace(h))
        t = est[("d", role)]
        assert t.n == var.shape.num_elements()
        # Rademacher Hutchinson is unbiased: within 4 standard errors, and 5 % here
        assert abs(t.trace - exact) < 4 * t.stderr + 1e-6
        assert t.trace == pytest.approx(exact, rel=0.05)


def test_hutchinson_matches_exact_trace_of_the_input():
    """A searched input quantizer is priced like an activation: the trace of the loss's Hessian in the input."""
    tf.keras.utils.set_random_seed(0)
    inp = tf.keras.Input((3,), name="x")
    h1 = tf.keras.layers.Dense(4, activation="tanh", name="h")(inp)  # curved in the input (softmax of linear: too)
    m = tf.keras.Model(inp, tf.keras.layers.Dense(2, activation="softmax", name="d")(h1))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 3)).astype("float32")
    y = tf.keras.utils.to_categorical(rng.integers(0, 2, 16), 2)
    est = sensitivity.hessian_traces(m, x, y, activations=[space.INPUT_KEY], n_samples=2000, batch_size=16,
                                     seed=1)[(space.INPUT_KEY, "activation")]
    eps = tf.Variable(tf.zeros_like(x))
    with tf.GradientTape() as outer:
        with tf.GradientTape() as inner:
            loss = tf.reduce_mean(tf.keras.losses.categorical_crossentropy(y, m(x + eps)))
        g = inner.gradient(loss, eps)
    exact = float(np.trace(outer.jacobian(g, eps).numpy().reshape(x.size, -1)))
    assert est.n == 3  # values per sample
    assert abs(est.trace - exact) < 4 * est.stderr + 1e-7 and est.trace == pytest.approx(exact, rel=0.1)


def test_allocation_equals_brute_force():
    rng = np.random.default_rng(3)
    groups = [sensitivity.Group(f"g{k}", [({("l", k): j}, float(s), float(c)) for j, (s, c) in enumerate(
        zip(rng.uniform(0, 10, n), rng.integers(1, 30, n)))]) for k, n in enumerate((4, 5, 3))]
    combos = list(product(*[range(len(g.options)) for g in groups]))
    for budget in (3, 10, 17, 25, 31, 44, 60, 90, 0):
        feasible = [(sum(g.options[j][1] for g, j in zip(groups, c)), c) for c in combos
                    if sum(g.options[j][2] for g, j in zip(groups, c)) <= budget]
        res = sensitivity.allocate(groups, budget)
        if not feasible:
            assert res is None
            continue
        best = min(feasible)
        assert res[0] == pytest.approx(best[0], abs=1e-12)
        assert sum(g.options[j][2] for g, j in zip(groups, res[2])) <= budget


SPACE = """
space:
  input_quantizer: "quantized_bits(8,0,alpha=1)"
  default:
    kernel: ["quantized_bits({2..8},0,alpha=1)"]
    bias: ["quantized_bits(8,3,alpha=1)"]
    activation: ["quantized_relu({2..8},2)"]
"""


@pytest.fixture(scope="module")
def digits_mlp():
    """An MLP trained 3 epochs on digits (scaled to [0, 1]), and the data."""
    from sklearn.datasets import load_digits
    d = load_digits()
    x = (d.data / 16.0).astype("float32")
    y = tf.keras.utils.to_categorical(d.target, 10)
    tf.keras.utils.set_random_seed(0)
    m = models.mlp(64, (32, 16), 10)
    m.compile("adam", "categorical_crossentropy")
    m.fit(x, y, epochs=3, batch_size=64, verbose=0)
    return m, x, y


def test_budget_sweep_digits(digits_mlp):
    m, x, y = digits_mlp
    sp = space.analyse(m, parse_config(SPACE).space)
    cands = sensitivity.budget_sweep(m, sp, x[:512], y[:512], n_budgets=8, n_samples=8)
    assert len(cands) >= 3
    costs = [c.cost for c in cands]
    sens = [c.sensitivity for c in cands]
    assert costs == sorted(costs) and sens == sorted(sens, reverse=True)
    # the separable cost is autoq's BOPs of the built QKeras model, exactly
    for c in cands:
        assert cost.model_cost(space.build_qmodel(m, c.choice, sp.input_quantizer)).bops == pytest.approx(c.cost)
    assert all(set(c.choice) == {s.layer for s in sp.slots} for c in cands)


def test_budget_sweep_allocates_a_searched_input(digits_mlp):
    """With space.input_quantizer as a list, the input's bits join the first layer's group: candidates carry
    choice['<input>'], their separable cost is still the built model's BOPs exactly, and cheap ones narrow the input."""
    m, x, y = digits_mlp
    text = SPACE.replace('input_quantizer: "quantized_bits(8,0,alpha=1)"',
                         'input_quantizer: ["quantized_bits(8,0,alpha=1)", "quantized_bits({2..6},0,alpha=1)"]')
    sp = space.analyse(m, parse_config(text).space)
    cands = sensitivity.budget_sweep(m, sp, x[:512], y[:512], n_budgets=8, n_samples=8)
    inputs = [c.choice[space.INPUT_KEY]["quantizer"] for c in cands]
    assert len(set(inputs)) >= 2, inputs
    for c in cands:
        iq, choice = space.split_input(c.choice)
        assert cost.model_cost(space.build_qmodel(m, choice, iq)).bops == pytest.approx(c.cost)
    bits = [int(i.split("(")[1].split(",")[0]) for i in inputs]
    assert bits[0] <= bits[-1]  # the cheapest allocation's input is no wider than the dearest's


def test_ebops_allocation_prices_one_kernel_instance_of_a_convolution():
    """goal.cost: ebops on a CNN: each option costs its layer's kernel size x kernel bits x input bits, as exact EBOPs
    count a convolution (one kernel instance), not its BOPs x output positions (16 and 9 here)."""
    from autoq import graph
    from helpers_models import conv_net
    m = conv_net(5)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(128, 6, 6, 2)).astype("float32")
    y = tf.keras.utils.to_categorical(rng.integers(0, 2, 128), 2)
    m.compile("adam", "categorical_crossentropy")
    sp = space.analyse(m, parse_config(SPACE).space)
    cands = sensitivity.budget_sweep(m, sp, x, y, kind="ebops", n_budgets=4, n_samples=4)
    assert len(cands) >= 2
    for c in cands:
        q = space.build_qmodel(m, c.choice, sp.input_quantizer)
        rows = [r for r in cost.layer_costs(q) if r.macs]
        assert {r.name for r in rows} == {"c1", "dw", "out"}
        assert c.cost == pytest.approx(sum(r.bops / graph.positions(q.get_layer(r.name)) for r in rows))
        assert c.cost < cost.model_cost(q).bops / 5


def test_a_bias_free_layer_with_a_folded_batch_norm_takes_the_betas_trace(digits_mlp):
    """Conv/Dense(use_bias=False) + BatchNormalization, the usual pattern: the QKeras layer gets a folded bias; its
    trace is the batch norm's beta's, its error the folded bias's (one for one), and the sweep allocates it."""
    _, x, y = digits_mlp
    tf.keras.utils.set_random_seed(1)
    inp = tf.keras.Input((64,), name="x")
    h = tf.keras.layers.Dense(16, use_bias=False, name="fc1")(inp)
    h = tf.keras.layers.BatchNormalization(name="bn1")(h)
    h = tf.keras.layers.ReLU(name="relu1")(h)
    m = tf.keras.Model(inp, tf.keras.layers.Dense(10, activation="softmax", name="out")(h))
    m.compile("adam", "categorical_crossentropy")
    m.fit(x, y, epochs=2, batch_size=64, verbose=0)
    assert sensitivity._weight_vars(m, ["fc1"])[("fc1", "bias")] is m.get_layer("bn1").beta
    sp = space.analyse(m, parse_config(SPACE).space)
    errs = sensitivity.weight_errors(m, "fc1", "bias", ["quantized_bits(4,0,alpha=1)", "quantized_bits(8,3,alpha=1)"])
    _, folded = space.folded_weights(m.get_layer("fc1"), m.get_layer("bn1"))
    q4 = sensitivity._quantize("quantized_bits(4,0,alpha=1)", "bias", folded)
    assert errs["quantized_bits(4,0,alpha=1)"] == pytest.approx(float(np.sum((q4 - folded) ** 2)))
    cands = sensitivity.budget_sweep(m, sp, x[:256], y[:256], n_budgets=4, n_samples=4)
    assert cands and all("bias" in c.choice["fc1"] for c in cands)
