"""The Keras namespace rule (autoq/keras_env.py): settled at ``import autoq``; too late is a clear error; the
hls4ml and keras-tuner shims last only for their call and leave the user's Keras 3 code working."""
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from qkeras import QActivation, QDense, quantized_bits, quantized_po2, quantized_relu

from helpers_search import HANG

import autoq
from autoq import AutoqError, keras_env
from autoq.exporting.pipeline import export

LEGACY = sys.version_info >= (3, 12)  # the TF 2.21 + tf_keras stack (setup.cfg)


def _python(code, **env):
    """Run ``code`` in a fresh interpreter whose environment has TF_USE_LEGACY_KERAS only if given here."""
    base = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=HANG,
                          env={**base, "TF_CPP_MIN_LOG_LEVEL": "3", **env})


BUILD = ("import tensorflow as tf; from qkeras import QDense; i = tf.keras.Input((3,)); "
         "m = tf.keras.Model(i, QDense(2, kernel_quantizer='quantized_bits(4,0,alpha=1)')(i)); "
         "print([type(l).__name__ for l in m.layers], type(m).__module__)")


def test_tensorflow_imported_first():
    first = _python("import tensorflow, autoq; " + BUILD)
    if LEGACY:  # tf.keras is already Keras 3: autoq stops and names both fixes
        assert first.returncode != 0
        last = first.stderr.strip().splitlines()[-1]
        assert last.startswith("autoq.keras_env.KerasNamespaceError: TensorFlow 2.21.0 was imported before autoq "
                               "with Keras 3 as tf.keras"), last
        assert "import autoq before tensorflow" in last and "set TF_USE_LEGACY_KERAS=1" in last
    else:  # TF 2.14: tf.keras is Keras 2 whatever the order
        assert first.returncode == 0, first.stderr[-2000:]
        assert "['InputLayer', 'QDense']" in first.stdout
    # the fix: autoq first, or the variable set before TensorFlow
    for code, env in (("import autoq; " + BUILD, {}), ("import tensorflow, autoq; " + BUILD,
                                                        {"TF_USE_LEGACY_KERAS": "1"})):
        ok = _python(code, **env)
        assert ok.returncode == 0, ok.stderr[-2000:]
        assert "['InputLayer', 'QDense']" in ok.stdout
        assert ("tf_keras" in ok.stdout) == LEGACY


@pytest.mark.skipif(not LEGACY, reason="keras-tuner can only bind to Keras 3 on the TF 2.21 stack")
def test_keras_tuner_bound_to_keras3_is_a_clear_error():
    proc = _python("import keras_tuner, autoq.searching.strategies.pareto", TF_USE_LEGACY_KERAS="1")
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert "KerasNamespaceError: keras_tuner was imported before autoq and is bound to Keras 3" in last, last
    refused = _python("import autoq", TF_USE_LEGACY_KERAS="0")
    assert "TF_USE_LEGACY_KERAS='0': autoq needs tf.keras to be tf_keras" in refused.stderr


def test_keras_tuner_drives_tf_keras_models():
    kt = keras_env.keras_tuner()
    assert not kt.src.backend.config.multi_backend()
    assert kt.src.backend.keras.Model is tf.keras.Model


def _po2_model():
    tf.keras.utils.set_random_seed(3)
    inp = tf.keras.Input((6,), name="x")
    h = QActivation(quantized_bits(8, 3, alpha=1), name="input_quant")(inp)
    h = QDense(5, kernel_quantizer=quantized_po2(4), bias_quantizer=quantized_bits(6, 2, alpha=1), name="fc1")(h)
    h = QActivation(quantized_relu(6, 3), name="relu1")(h)
    out = QDense(3, kernel_quantizer=quantized_bits(4, 0, alpha=1), bias_quantizer=quantized_bits(6, 2, alpha=1),
                 name="out")(h)
    return tf.keras.Model(inp, out)


def test_export_leaves_keras_numpy_and_hls4ml_as_they_were(tmp_path):
    """A po2 model (hls4ml's np.product path) exports bit-exactly; afterwards ``keras``, numpy and hls4ml are
    what they were, and on the TF 2.21 stack the user's Keras 3 code still trains and converts with hls4ml."""
    import hls4ml.model.types as hls_types

    keras_before = sys.modules.get("keras")
    x = np.random.default_rng(1).normal(size=(64, 6)).astype(np.float32)
    res = export(_po2_model(), str(tmp_path / "po2"), x=x)
    assert res.agreement == 1.0 and res.max_abs_diff == 0.0
    assert sys.modules.get("keras") is keras_before
    if LEGACY:  # and no tf_keras module was left under Keras' name
        import tf_keras
        tf_keras_dir = os.path.dirname(tf_keras.__file__) + os.sep
        assert not [k for k, m in list(sys.modules.items()) if (k == "keras" or k.startswith("keras.")) and
                    (getattr(m, "__file__", None) or "").startswith(tf_keras_dir)]
    assert hls_types.np is np and hasattr(np, "product") == np.__version__.startswith("1.")
    if not LEGACY:
        return
    import hls4ml
    import keras
    assert keras.__version__.startswith("3.")
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(3, name="d")])
    model.compile("sgd", "mse")
    hist = model.fit(x, x[:, :3], epochs=2, verbose=0)
    assert np.isfinite(hist.history["loss"]).all()
    cfg = hls4ml.utils.config_from_keras_model(model, granularity="name")  # hls4ml's Keras 3 parser, as usual
    assert "d" in cfg["LayerName"]
    # handed to autoq, a Keras 3 model is a clear error, not a failure deep inside QKeras or hls4ml
    for call in (lambda: export(model, str(tmp_path / "k3")),
                 lambda: autoq.search(model, (x, x[:, :3]), {"data": {"source": "digits"}}, output_dir=tmp_path / "s")):
        with pytest.raises(AutoqError, match=r"is a Keras 3\.\d+\.\d+ model; autoq works on tf.keras models"):
            call()
    assert not (tmp_path / "k3").exists() and not (tmp_path / "s").exists()


def test_shim_is_undone_when_the_call_fails():
    import hls4ml.model.types as hls_types

    keras_before = sys.modules.get("keras")
    with pytest.raises(RuntimeError, match="boom"):
        with keras_env.hls4ml_keras2():
            import keras
            assert keras.__name__ == ("tf_keras" if LEGACY else "keras")
            assert hasattr(hls_types.np, "product")
            raise RuntimeError("boom")
    assert sys.modules.get("keras") is keras_before and hls_types.np is np


def test_stack_names_the_keras():
    s = keras_env.stack()
    assert s.startswith(f"Python {sys.version.split()[0]}, tensorflow {tf.__version__}, ")
    assert ("tf.keras = tf_keras 2.21.0" in s) == LEGACY
