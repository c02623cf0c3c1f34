"""AutoQKeras's notebook model (ConvBlockNetwork for MNIST: stride-2 Conv2D 16/32/48/64/128 with batch norm, ReLU and
dropout, Flatten, Dense, softmax) rebuilt as ``autoq.models:conv_block_network``, searched on digits upscaled to 28x28
for 2 trials and exported bit-exactly (its last ReLU feeds a Flatten: the copy keeps the ReLU's saturation)."""
from __future__ import annotations

import json

import numpy as np
import yaml

from helpers_search import run_cli


def test_conv_block_network_searched_on_28x28_digits_and_exported_bit_exactly(tmp_path):
    from sklearn.datasets import load_digits
    d = load_digits()
    x = np.pad(np.kron(d.images, np.ones((3, 3))), ((0, 0), (2, 2), (2, 2)))[..., None]  # 8x8 -> 24x24 -> 28x28
    np.savez(tmp_path / "digits28.npz", x=x.astype("float32"), y=d.target)
    cfg = {"name": "cbn", "seed": 1, "model": {"builder": "autoq.models:conv_block_network"},
           "data": {"source": "npz", "path": "digits28.npz"},
           "train": {"epochs": 1, "patience": 0, "float_epochs": 3},
           "space": {"input_quantizer": "quantized_bits(8,3,alpha=1)",
                     "default": {"kernel": ["quantized_bits({4..8},0,alpha=1)"],
                                 "bias": ["quantized_bits(8,3,alpha=1)"],
                                 "activation": ["quantized_relu({4..8},2)"]}},
           "search": {"algorithm": "random", "max_trials": 2, "output_dir": "out"},
           "hls4ml": {"output_dir": "hls"}}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    code, _, err = run_cli("search", "c.yaml", cwd=tmp_path)
    assert code == 0, err[-3000:]
    s = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert s["trials"] == 2 and s["float_val_metric"] > 0.8 and s["best"]["val_metric"] > 0.5
    assert {f"conv2d_{i}" for i in range(5)} | {"dense"} <= set(s["best"]["choice"])  # every layer quantized
    assert "28, 28, 1" in s["dataset"]
    saved = json.loads((tmp_path / "hls" / "autoq_export.json").read_text())
    assert saved["bit_exact"] and saved["max_abs_diff"] == 0.0 and saved["compared_layer"] == "dense"
    assert saved["layer_max_abs_diff"]["act_4"] == 0.0  # the ReLU before the Flatten saturates, as in QKeras
    assert not any(f"bn_{i}" in saved["layer_max_abs_diff"] for i in range(5))  # batch norms folded
