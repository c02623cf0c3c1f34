"""QIL end to end: a real (tiny) autoq search whose space holds qil(3), then the folded winner through hls4ml."""
import numpy as np
import autoq
from autoq.config import config_from_dict
from autoq.data.sources import load_dataset
from autoq.quantizers.qil import QIL, fold_qil

CONFIG = {
    "name": "qil-tiny",
    "seed": 5,
    "model": {"builder": "autoq.models:mlp", "kwargs": {"input_dim": 64, "hidden": [16], "n_classes": 10}},
    "data": {"source": "digits"},
    "train": {"epochs": 2, "patience": 0, "batch_size": 64, "float_epochs": 5, "learning_rate": 0.01},
    "space": {"input_quantizer": "quantized_bits(8,3,alpha=1)",
              "default": {"kernel": ["qil(3)"],
                          "bias": ["quantized_bits(8,3,alpha=1)"],
                          "activation": ["qil(3)", "qil(4)"]}},  # an activation slot makes them kind='activation'
    "search": {"algorithm": "random", "max_trials": 2},
}


def _qils(model):
    found = {id(q): q for lay in model.layers for q in vars(lay).values() if isinstance(q, QIL)}
    return list(found.values())


def test_qil_search_winner_folds_and_exports_bit_exact(tmp_path):
    res = autoq.search(None, None, CONFIG, output_dir=tmp_path / "search", verbose=False)
    assert len(res.trials) == 2 and all(r["status"] == "ok" for r in res.trials)
    best = res.best
    assert 0.3 < best["val_accuracy"] <= 1 and best["energy"] > 0

    model = res.best_model  # loaded back from best_model.h5 with its learned intervals
    qils = _qils(model)
    kinds = sorted(q.kind for q in qils)
    assert kinds == ["activation", "weight", "weight"], kinds  # fc1/output kernels, fc1 ReLU
    assert all(q.bits == 3 for q in qils if q.kind == "weight")
    # the search trained the intervals (they start at c = d = 0.5 for weights)
    assert any(abs(float(q.c.numpy()) - 0.5) > 1e-6 or abs(float(q.d.numpy()) - 0.5) > 1e-6 for q in qils)

    data = load_dataset(config_from_dict(CONFIG).data)
    folded = fold_qil(model)
    assert not _qils(folded)
    np.testing.assert_array_equal(model.predict(data.x_val, verbose=0), folded.predict(data.x_val, verbose=0))

    exported = autoq.export(folded, str(tmp_path / "hls"), x=data.x_val)
    assert (tmp_path / "hls" / "firmware").is_dir()
    assert exported.agreement == 1.0 and exported.max_abs_diff == 0.0 and exported.first_mismatch_layer is None
    assert exported.n_samples > 100

    # the same straight from the search directory (as `autoq export <dir>`): export loads and folds QIL itself
    from_dir = autoq.export(res.output_dir, str(tmp_path / "hls_dir"), x=data.x_val)
    assert from_dir.agreement == 1.0 and from_dir.max_abs_diff == 0.0
    assert (tmp_path / "hls_dir" / "firmware").is_dir()
