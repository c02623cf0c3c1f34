"""YAML validation: every bad input gives one ConfigError naming the key and line, before any training."""
from pathlib import Path

import pytest

from autoq.config import Config, load_config, parse_config
from autoq.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_shipped_configs_validate():
    for path in sorted((ROOT / "configs").glob("*.yaml")):
        cfg = load_config(path)
        assert isinstance(cfg, Config)
        assert cfg.source == str(path)


def test_range_expansion_and_defaults():
    cfg = parse_config('space:\n  default:\n    kernel: ["quantized_bits({2..4},0,alpha=1)", "ternary(alpha=1)"]\n'
                       '    activation: "quantized_relu({3..4})"\n')
    assert cfg.space.default.kernel == ["quantized_bits(2,0,alpha=1)", "quantized_bits(3,0,alpha=1)",
                                        "quantized_bits(4,0,alpha=1)", "ternary(alpha=1)"]
    assert cfg.space.default.activation == ["quantized_relu(3)", "quantized_relu(4)"]
    assert cfg.space.default.bias is None
    assert cfg.search.algorithm == "bayesian" and cfg.goal.cost == "energy"


@pytest.mark.parametrize("text, line, expected", [
    ("train:\n  epochs: x\n", 2, "train.epochs: expected an integer, got 'x'"),
    ("serch: {}\n", 1, "serch: unknown key (did you mean 'search'?)"),
    ("space:\n  default:\n    kernel: [\"quantised_bits(4)\"]\n", 3,
     "space.default.kernel[0]: unknown quantizer 'quantised_bits' (did you mean 'quantized_bits'?)"),
    ("space:\n  default:\n    bias: [\"quantized_relu(4)\"]\n", 3,
     "quantized_relu cannot quantize a bias"),
    ("space:\n  default:\n    kernel: [quantized_bits(4,0,alpha=1)]\n", 3,
     "quote specs that contain commas"),
    ("space:\n  default:\n    kernal: [\"ternary()\"]\n", 3, "unknown parameter type (did you mean 'kernel'?)"),
    ("space:\n  layers:\n    \"fc[\": {kernel: [\"ternary()\"]}\n", 3, "invalid regular expression"),
    ("space:\n  default:\n    kernel: [\"quantized_bits(40)\"]\n", 3, "bits must be an integer from 1 to 32"),
    ("search:\n  algorithm: genetic\n", 2, "unknown algorithm 'genetic'"),
    ("goal:\n  cost: latency\n", 2, "unknown cost 'latency'; known: energy, bits, bops, fpga, ebops"),
    ("goal:\n  rate: 1\n", 2, "goal.rate: must be > 1"),
    ("data:\n  source: mnist\n", 2, "unknown dataset 'mnist'"),
    ("data:\n  source: npz\n", 1, "data source 'npz' needs a path"),
    ("model:\n  builder: notamodule\n", 2, "expected 'module:function'"),
    ("a: [\n", 2, "malformed YAML"),
    ("- 1\n- 2\n", None, "the config must be a mapping"),
    ("baselines:\n  - {name: Q4, kernel: \"quantized_relu(4)\"}\n", 2, "quantized_relu cannot quantize a kernel"),
])
def test_bad_config_names_key_and_line(text, line, expected):
    with pytest.raises(ConfigError) as info:
        parse_config(text, source="c.yaml")
    msg = str(info.value)
    assert expected in msg
    if line is not None:
        assert msg.startswith(f"c.yaml:{line}:"), msg


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")


def test_digest_ignores_location_but_not_settings(tmp_path):
    text = (ROOT / "configs" / "digits.yaml").read_text()
    a = parse_config(text, source="a.yaml", base_dir="/a")
    b = parse_config(text, source="b.yaml", base_dir="/b")
    c = parse_config(text.replace("seed: 42", "seed: 7"))
    assert a.digest() == b.digest() != c.digest()


def test_yaml_booleans_where_booleans_are_meant():
    from autoq.config import parse_config
    assert parse_config("model:\n  train: true\n").model.train is True
    assert parse_config("model:\n  train: 'false'\n").model.train is False
    assert parse_config("model:\n  train: auto\n").model.train == "auto"
    with pytest.raises(ConfigError, match="model.train: expected auto, true or false, got 3"):
        parse_config("model:\n  train: 3\n")


def test_a_config_survives_its_own_round_trip():
    """A Config built in Python is validated again (autoq.search does): nothing may get lost on the way, e.g. the
    hls4ml: section's own LayerName settings (found when the search started re-validating Config objects)."""
    from autoq.config import config_from_dict
    for name in ("digits.yaml", "digits-cnn.yaml", "diabetes-regression.yaml", "jets.yaml"):
        cfg = load_config(Path(__file__).resolve().parents[2] / "configs" / name)
        again = config_from_dict(cfg.to_dict())
        assert again.to_dict() == cfg.to_dict(), name
    assert config_from_dict(load_config(Path(__file__).resolve().parents[2] / "configs" / "digits-cnn.yaml")
                            .to_dict()).hls4ml.settings == {"LayerName": {"conv2": {"ReuseFactor": 2}}}
