"""configs/jets.yaml, jets-synthetic.yaml and jets-generated.yaml: valid, the paper's space and baseline, Q6 priced
like the paper."""
from __future__ import annotations

from pathlib import Path

import pytest

from autoq.config import load_config
from autoq import quantizers

ROOT = Path(__file__).resolve().parents[2]
JETS = ROOT / "configs" / "jets.yaml"
SYNTH = ROOT / "configs" / "jets-synthetic.yaml"
GEN = ROOT / "configs" / "jets-generated.yaml"
PUBLISHED = Path(__file__).resolve().parents[1] / "data" / "jet-tagger"

#: The paper's QTools energies (pJ; 45 nm, fixed memory): Q6 949, BF 3439. Our pricing of the published Q6 model with
#: a 16-bit input quantizer gives 959.5 (+1.1 %); allow 3 %. The float model priced as uniform 16-bit gives 3853.9,
#: 12 % above the paper's BF (whose float reference is not exactly uniform 16-bit): allow 15 %.
PAPER_Q6_PJ, Q6_TOLERANCE = 949.0, 0.03
PAPER_BF_PJ, BF_TOLERANCE = 3439.0, 0.15
Q6 = ("quantized_bits(6,0,alpha=1)", "quantized_bits(6,0,alpha=1)", "quantized_relu(6)")


@pytest.fixture(scope="module", params=[JETS, SYNTH, GEN], ids=["jets", "jets-synthetic", "jets-generated"])
def cfg(request):
    return load_config(request.param)


def test_configs_validate_and_use_the_paper_model(cfg):
    assert cfg.model.builder == "autoq.models:jet_tagger" and cfg.model.kwargs == {"l1": 0.0001}
    assert cfg.train.optimizer == "adam"
    assert cfg.goal.cost == "energy" and cfg.goal.reference == "float16"


def test_data_sources():
    real, synth = load_config(JETS), load_config(SYNTH)
    assert real.data.source == "jets" and real.train.batch_size == 1024
    assert synth.data.source == "jets-synthetic"
    assert "SYNTHETIC" in SYNTH.read_text().split("\n", 1)[0]
    gen = load_config(GEN)
    assert gen.data.source == "jets-generated" and gen.name == "jets-generated"
    assert "GENERATED" in GEN.read_text().split("\n", 1)[0] and "NOT the OpenML set" in GEN.read_text()


def test_space_matches_the_paper(cfg):
    from autoq.models import jet_tagger
    from autoq.space import analyse
    space = analyse(jet_tagger(), cfg.space)
    choices = space.hp_choices()
    assert [s.layer for s in space.slots] == ["fc1", "fc2", "fc3", "output"]
    per_role = {name: len(v) for name, v in choices.items()}
    assert per_role == {**{f"{l}/kernel": 8 for l in ("fc1", "fc2", "fc3", "output")},
                        **{f"{l}/bias": 8 for l in ("fc1", "fc2", "fc3", "output")},
                        **{f"{l}/activation": 6 for l in ("fc1", "fc2", "fc3")}}
    assert choices["fc1/kernel"] == [f"quantized_bits({b},0,alpha=1)" for b in range(2, 9)] + ["ternary(alpha=1)"]
    assert choices["fc1/activation"] == [f"quantized_relu({b})" for b in range(3, 9)]
    assert all(quantizers.parse(s).arg("alpha") == 1 for s in choices["fc2/kernel"])
    assert space.size() == 8 ** 8 * 6 ** 3


def test_baselines_parse(cfg):
    assert [b.name for b in cfg.baselines] == ["Q6"]
    b = cfg.baselines[0]
    assert (b.kernel, b.bias, b.activation) == Q6
    for spec, role in zip(Q6, ("kernel", "bias", "activation")):
        assert quantizers.parse(spec, role).bits == 6


def _published_q6_with_input_quantizer():
    """The published Q6 jet tagger (example-models qkeras_3layer) behind a 16-bit input quantizer."""
    import tensorflow as tf
    from qkeras import QActivation, quantized_bits
    q = tf.keras.models.model_from_json((PUBLISHED / "qkeras_3layer.json").read_text(),
                                        custom_objects=quantizers.custom_objects())
    q.load_weights(str(PUBLISHED / "qkeras_3layer_weights.h5"))
    inp = tf.keras.Input((16,), name="input")
    x = QActivation(quantized_bits(16, 6, alpha=1), name="input_quant")(inp)
    pairs = []
    for layer in q.layers:
        new = layer.__class__.from_config(layer.get_config())
        x = new(x)
        pairs.append((new, layer))
    m = tf.keras.Model(inp, x)
    for new, old in pairs:
        new.set_weights(old.get_weights())
    return m


def test_published_q6_prices_like_the_paper():
    from autoq.cost import model_cost
    from autoq.models import jet_tagger
    from autoq.searching.pricing import REFERENCE_Q16
    from autoq.space import analyse, build_qmodel
    e = model_cost(_published_q6_with_input_quantizer()).energy
    assert abs(e - PAPER_Q6_PJ) / PAPER_Q6_PJ < Q6_TOLERANCE, e
    # our own Q6 baseline of the same architecture prices identically (the price depends only on the quantizers)
    cfg = load_config(JETS)
    space = analyse(jet_tagger(), cfg.space)
    ours = model_cost(build_qmodel(jet_tagger(), space.uniform(*Q6), space.input_quantizer, copy_weights=False))
    assert ours.energy == pytest.approx(e, rel=1e-6)
    ref = model_cost(build_qmodel(jet_tagger(), space.uniform(*REFERENCE_Q16), space.input_quantizer,
                                  copy_weights=False)).energy
    assert abs(ref - PAPER_BF_PJ) / PAPER_BF_PJ < BF_TOLERANCE, ref
