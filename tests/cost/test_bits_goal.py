"""AutoQKeras's bits goal: ``goal.input_bits`` / ``goal.output_bits`` put the input and the softmax output into the
bits cost (parameters + activations), as QKeras's ForgivingFactorBits counts them."""
from __future__ import annotations

import pytest

from helpers_search import HANG

from autoq import cost as costs
from autoq.cost.bits_goal import model_size
from autoq.config import RoleChoices, SpaceConfig, config_from_dict, parse_config
from autoq.errors import ConfigError
from autoq.models import mlp
from autoq.space import analyse, build_qmodel

SPACE = SpaceConfig(input_quantizer="quantized_bits(8,3,alpha=1)",
                    default=RoleChoices(["quantized_bits(4,0,alpha=1)"], ["quantized_bits(8,2,alpha=1)"],
                                        ["quantized_relu(3,2)"]))


def _qmodel():
    m = mlp(64, (16,), 10)
    space = analyse(m, SPACE)
    return m, build_qmodel(m, space.uniform(), space.input_quantizer)


def test_input_and_output_bits_enter_the_bits_cost_as_autoqkeras_counts_them():
    _, q = _qmodel()
    params = (64 * 16 * 4 + 16 * 8) + (16 * 10 * 4 + 10 * 8)
    plain = costs.model_cost(q)
    assert plain.bits == params  # no input_bits/output_bits: parameters only, as before

    def bits(ib, ob):
        return costs.model_cost(q, energy=costs.EnergySettings(input_bits=ib, output_bits=ob)).bits

    # input layer 64 x input_bits, input quantizer 64 x 8, fc1's relu 16 x 3, linear QDense 0, softmax 10 x output_bits
    assert bits(8, 8) == params + 64 * 8 + 64 * 8 + 16 * 3 + 10 * 8
    assert bits(12, 8) - bits(8, 8) == 4 * 64  # each input bit costs the input's size
    assert bits(8, 16) - bits(8, 8) == 8 * 10  # each output bit costs the softmax's size
    assert bits(None, 4) == bits(8, 4)  # the one not given is AutoQKeras's default, 8
    rows = costs.model_cost(q, energy=costs.EnergySettings(input_bits=8, output_bits=8)).layers
    assert sum(r.bits for r in rows) == bits(8, 8)  # the per-layer rows add up to the total


def test_the_size_is_qkeras_forgiving_factor_bits_on_a_model_qkeras_can_read():
    """QKeras's own ForgivingFactorBits (in a fresh interpreter: qkeras.autoqkeras imports keras-tuner, which must
    not be bound in this test process before autoq's searches run)."""
    import json
    import subprocess
    import sys
    code = """
import json, autoq
from autoq.models import mlp
from qkeras.autoqkeras.forgiving_metrics import ForgivingFactorBits
m = mlp(64, (16,), 10)  # float: Dense relu, Dense linear, Activation softmax
out = []
for ib, ob, ref in ((8, 8, 8), (12, 3, 16)):
    ff = ForgivingFactorBits(8.0, 8.0, 2.0, input_bits=ib, output_bits=ob, ref_bits=ref,
                             config={"default": ["parameters", "activations"]})
    out.append([ib, ob, ref, *map(int, ff.compute_model_size(m)[:3])])
print(json.dumps(out))
"""
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=HANG)
    assert run.returncode == 0, run.stderr[-2000:]
    m, _ = _qmodel()
    for ib, ob, ref, total, p, a in json.loads(run.stdout.strip().splitlines()[-1]):
        mine = model_size(m, ib, ob, ref)
        assert (mine.total, mine.parameters, mine.activations) == (total, p, a)


def test_the_search_reference_prices_the_input_bits(tmp_path):
    import tensorflow as tf

    from autoq.data import load_dataset
    from autoq.searching.pricing import reference
    from autoq.searching.session import open_session

    def ref(**goal):
        cfg = config_from_dict({"model": {"builder": "autoq.models:mlp"}, "goal": {"cost": "bits", **goal},
                                "space": {"input_quantizer": "quantized_bits(8,3,alpha=1)",
                                          "default": {"kernel": ["quantized_bits(4,0,alpha=1)"],
                                                      "bias": ["quantized_bits(8,2,alpha=1)"],
                                                      "activation": ["quantized_relu(3,2)"]}}})
        tf.keras.backend.clear_session()
        s = open_session(cfg, mlp(64, (16,), 10), load_dataset(cfg.data), tmp_path / "out", log=lambda *a: None)
        return reference(s)[0]

    assert ref(input_bits=16, stress=0.5) - ref(input_bits=8, stress=0.5) == 0.5 * 8 * 64
    assert ref(input_bits=8, output_bits=9) - ref(input_bits=8) == 10


@pytest.mark.parametrize("text,message", [
    ("goal: {cost: bits, input_bits: 0}", "goal.input_bits: must be between 1 and 64, got 0"),
    ("goal: {cost: bits, output_bits: 65}", "goal.output_bits: must be between 1 and 64, got 65"),
    ("goal: {cost: bits, input_bits: eight}", "goal.input_bits: expected an integer, got 'eight'"),
    ("goal: {cost: energy, output_bits: 8}", "goal.output_bits: applies to the bits cost (AutoQKeras's bits goal); "
                                             "goal.cost is 'energy'"),
])
def test_bad_input_or_output_bits_are_refused(text, message):
    with pytest.raises(ConfigError) as exc:
        parse_config(text)
    assert message in str(exc.value) and "\n" not in str(exc.value)
