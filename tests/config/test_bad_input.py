"""Bad input never crashes silently or loses data: one ``error: ...`` line, exit code 2, no traceback.

Every case runs the real CLI entry point (``autoq.cli.main``; one case also as a real subprocess) on real files:
malformed/mistyped YAML, missing files, a model with a layer autoq cannot quantize, trials whose loss becomes NaN,
data that does not fit the model, an output directory that belongs to something else. The config loader is fuzzed
with hypothesis: it returns a Config or raises ConfigError, never anything else.
"""
from __future__ import annotations

import csv
import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers_search import HANG, TINY, autoq, env, merge, run_cli

from autoq.config import Config, load_config, parse_config
from autoq.errors import ConfigError
from autoq.searching.provenance import config_digest

PLAIN = {"model": {"builder": None, "kwargs": {}, "path": "plain.h5"}}
NAN = merge(PLAIN, {"train": {"learning_rate": 1e38, "optimizer": "sgd"}, "space": {"skip": ["output"]},
                    "hls4ml": False})  # a float output layer is not exportable bit-exactly


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Real inputs: a float model, one with BatchNormalization, npz files of the wrong shape, a non-model."""
    import tensorflow as tf
    d = tmp_path_factory.mktemp("inputs")

    def mlp(bn: bool):
        inp = tf.keras.Input((64,), name="input")
        x = tf.keras.layers.Dense(16, activation="relu", name="fc1")(inp)
        if bn:
            x = tf.keras.layers.BatchNormalization(name="bn")(x)
        x = tf.keras.layers.Dense(10, name="output")(x)
        return tf.keras.Model(inp, tf.keras.layers.Activation("softmax", name="softmax")(x))

    tf.keras.utils.set_random_seed(0)
    mlp(False).save(d / "plain.h5")
    mlp(True).save(d / "bn.h5")
    rng = np.random.default_rng(0)
    np.savez(d / "wrong_shape.npz", x=rng.random((200, 10)), y=rng.integers(0, 10, 200))
    np.savez(d / "wrong_classes.npz", x=rng.random((200, 64)), y=rng.integers(0, 3, 200))
    (d / "notamodel.h5").write_text("hello")
    # a model whose Lambda layer runs a shell command when it is built or called
    cmd = f"touch {_lambda_marker(d)}"
    inp = tf.keras.Input((64,), name="x")
    x = tf.keras.layers.Lambda(lambda t: t + 0 * __import__("os").system(cmd), name="evil")(inp)
    x = tf.keras.layers.Dense(10, activation="softmax", name="output")(x)
    tf.keras.Model(inp, x).save(d / "lambda.h5")
    _lambda_marker(d).unlink()  # building it above ran the command once, here, on purpose
    for name, arrays in BAD_NPZ.items():
        np.savez(d / f"{name}.npz", **arrays)
    (d / "badbuilders.py").write_text(BUILDERS)
    (d / "plain_folder").mkdir()
    os.mkfifo(d / "model.fifo")  # opening it to read would block until a writer came
    from autoq.data.jetgen import save_jets
    from autoq.data.jets import JET_CLASSES
    save_jets(d / "jets12.npz", RNG.random((12, 16)).astype("float32"), np.arange(12) % 5, list(JET_CLASSES), {})
    return d


def _cfg(d: Path, name: str, sections: dict | None = None, text: str | None = None) -> Path:
    p = d / f"{name}.yaml"
    p.write_text(text if text is not None else yaml.safe_dump(merge(TINY, sections or {}), sort_keys=False))
    return p


FRESH = ("start fresh with --overwrite (deletes the earlier search's files; overwrite=True in Python) or choose "
         "another --output (output_dir=...)")


def _owned(d, cfg, out):
    out.mkdir()
    (out / "state.json").write_text(json.dumps({"config_digest": "0123456789abcdef"}))
    return f"{out} holds another search (its config differs from this run's), so it cannot be resumed; {FRESH}"


def _foreign(d, cfg, out):
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    return (f"output directory {out} exists and was not created by autoq; refusing to write into it or delete it "
            "(choose another --output)")


def _damaged_state(d, cfg, out):
    out.mkdir()
    (out / "autoq.json").write_text(json.dumps({"tool": "autoq", "format": 1, "kind": "search"}))
    (out / "state.json").write_text('{"config_digest": ')
    return (f"{out}/state.json is unreadable (Expecting value: line 1 column 19 (char 18)); start fresh with "
            "--overwrite (deletes this search's files) or choose another --output")


def _lambda_marker(d):
    return d / "lambda_ran"


RNG = np.random.default_rng(1)
X64 = RNG.random((200, 64)).astype("float32")


# name -> (YAML text or config sections, expected error line after "error: " (format fields: cfg, d, out))
CASES = {
    "malformed_yaml": ("name: x\nseed: [1,\n", "{cfg}:3: malformed YAML: expected the node content, but found "
                                               "'<stream end>'"),
    "wrong_type": ("name: x\ntrain:\n  epochs: ten\n", "{cfg}:3: train.epochs: expected an integer, got 'ten'"),
    "unknown_key": ("name: x\ntrian:\n  epochs: 2\n", "{cfg}:2: trian: unknown key (did you mean 'train'?); allowed: "
                                                      "name, seed, model, data, train, space, goal, search, "
                                                      "baselines, hls4ml"),
    "bad_quantizer": ("space:\n  default:\n    kernel: [quantized_bitz(4,0)]\n", None),
    "missing_config": (None, "config file not found: {cfg}"),
    "missing_model_file": (merge(PLAIN, {"model": {"path": "missing.h5"}}),
                           "{cfg}: model.path: model file not found: {d}/missing.h5"),
    "not_a_model": (merge(PLAIN, {"model": {"path": "notamodel.h5"}}),
                    "{cfg}: model.path: cannot load Keras model {d}/notamodel.h5: Unable to synchronously open file "
                    "(file signature not found)"),
    "bad_builder": ({"model": {"builder": "nosuch.module:mlp"}},
                    "{cfg}: model.builder: cannot import model builder 'nosuch.module:mlp': No module named 'nosuch'"),
    "missing_npz": ({"data": {"source": "npz", "path": "missing.npz"}}, "npz file not found: {d}/missing.npz"),
    "wrong_shape": ({"data": {"source": "npz", "path": "wrong_shape.npz"}},
                    "the model expects inputs of shape (64,) but the dataset 'wrong_shape' has (10,)"),
    "wrong_classes": ({"data": {"source": "npz", "path": "wrong_classes.npz"}},
                      "the model has 10 outputs but the dataset 'wrong_classes' has 3 classes"),
    "unquantizable_layer": (merge(PLAIN, {"model": {"path": "bn.h5"}}),
                            "autoq cannot quantize these layers: bn (BatchNormalization). Supported: Conv1D, Conv2D, "
                            "Dense, DepthwiseConv2D with relu/linear/softmax activations, ReLU activations, and "
                            "weightless reshaping/pooling layers. Set space.allow_float: true to leave them float, or "
                            "list them under space.skip"),
    "float_model_diverges": ({"train": {"learning_rate": 1e38, "optimizer": "sgd"}},
                             "the float model's validation loss is nan after training: it diverged "
                             "(train.learning_rate 1e+38 too high?) or produces NaN; fix it before searching"),
    "nan_in_every_trial": (merge(NAN, {"search": {"max_trials": 2}}),
                           "no trial finished successfully (2 failed); see {out}/trials.csv"),
    "nan_stops_search": (merge(NAN, {"search": {"max_trials": 4, "max_failed_trials": 2}}),
                         "search stopped: 2 trials in a row failed (last error: FloatingPointError: training loss "
                         "became NaN/inf at epoch 1); see {out}/trials.csv"),
    "output_owned_by_other_search": (PLAIN, _owned),
    "output_not_autoq": (PLAIN, _foreign),
    # issue 9: inputs that used to end in a traceback, ran code, or lost data
    "lambda_model_runs_no_code": (merge(PLAIN, {"model": {"path": "lambda.h5"}}),
                                  "{cfg}: model.path: refusing to load {d}/lambda.h5: it contains Lambda layer 'evil' "
                                  "(runs Python/TensorFlow code stored in the file); pass --trust-model "
                                  "(trust_model=True in Python) only if you trust whoever wrote the file"),
    "yaml_alias_bomb": ("a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                        "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
                        "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
                        "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]\nh: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g, *g]\n"
                        "i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h, *h]\n",
                        "{cfg}: the YAML expands to more than 20000 values (aliases repeated inside aliases?); write "
                        "the config out plainly"),
    "huge_range": ({"space": {"default": {"kernel": ["quantized_bits({2..8},{0..99999999999})"]}}},
                   "{cfg}:21: space.default.kernel[0]: 'quantized_bits({{2..8}},{{0..99999999999}})' expands to more "
                   "than 256 quantizers; narrow its ranges"),
    "infinite_bits": ({"space": {"default": {"kernel": ["quantized_bits(1e999)"]}}},
                      "{cfg}:21: space.default.kernel[0]: quantizer 'quantized_bits(1e999)': arguments must be finite "
                      "numbers"),
    "zero_trials": ({"search": {"max_trials": 0}}, "{cfg}:28: search.max_trials: must be between 1 and 1000000, got 0"),
    "unknown_loss": ({"train": {"loss": "nosuchloss"}},
                     "{cfg}: train.loss: unknown loss 'nosuchloss'; use a Keras loss name such as "
                     "categorical_crossentropy"),
    "tiny_val_fraction": ({"data": {"val_fraction": 0.001}},
                          "digits: val_fraction 0.001 leaves 2 validation samples of 1797; need at least 10: raise "
                          "val_fraction"),
    "string_labels": ({"data": {"source": "npz", "path": "strings.npz"}},
                      "strings: labels must be numbers (class indices or one-hot rows), got <U1 values such as ['a']"),
    "negative_labels": ({"data": {"source": "npz", "path": "negative.npz"}},
                        "negative: class labels must be whole numbers from 0 to 9999, found -1"),
    "huge_labels": ({"data": {"source": "npz", "path": "huge.npz"}},
                    "huge: class labels must be whole numbers from 0 to 9999, found 1e+12"),
    "labels_nan": ({"data": {"source": "npz", "path": "nanlabels.npz"}}, "nanlabels: labels contain NaN or infinite values"),
    "labels_3d": ({"data": {"source": "npz", "path": "labels3d.npz"}},
                  "labels3d: labels of shape (200, 10, 1); expected (N,) class indices or (N, classes) one-hot"),
    "short_labels": ({"data": {"source": "npz", "path": "short.npz"}}, "short: 200 inputs but 150 labels"),
    "empty_val_split": ({"data": {"source": "npz", "path": "emptyval.npz"}},
                        "emptyval x_val: expected a non-empty (samples, features...) array of finite numbers, got "
                        "shape (0, 64)"),
    "builder_raises": ({"model": {"builder": "badbuilders:raises"}},
                       "{cfg}: model.builder: model builder 'badbuilders:raises' raised RuntimeError: out of ideas"),
    "builder_returns_none": ({"model": {"builder": "badbuilders:returns_none"}},
                             "{cfg}: model.builder: what model builder 'badbuilders:returns_none' returned must be a "
                             "tf.keras Model, got NoneType (did the builder forget to return it?)"),
    "builder_no_input_shape": ({"model": {"builder": "badbuilders:no_input_shape"}},
                               "the model 'sequential' has no input shape yet: give its first layer input_shape=... "
                               "or start it with tf.keras.Input(shape)"),
    "damaged_state": (PLAIN, _damaged_state),
    "bad_part": ({"hls4ml": {"part": "xcvu13p-flga2577"}}, None),
    "bad_clock": ({"hls4ml": {"clock_period": 0}},
                  "{cfg}:31: hls4ml.clock_period: a clock period in ns, above 0 and at most 1000, got 0.0"),
    "bad_project_name": ({"hls4ml": {"project_name": "my-project"}},
                         "{cfg}:31: hls4ml.project_name: must be a C identifier (letters, digits, _), got 'my-project'"),
    "name_escapes_output": ({"name": "../../somewhere"},
                            "{cfg}:1: name: a search name is letters, digits, '_', '.' and '-' (it names folders), got "
                            "'../../somewhere'"),
}
# issue 21: leftovers of the adversarial suite
BIG = "9" * 4000
CASES.update({
    "duplicate_key": ("name: a\nseed: 1\nname: b\n", "{cfg}:3: duplicate key 'name' (first given on line 1); YAML "
                                                     "would keep only the last: give each key once"),
    "huge_seed": (f"seed: {BIG}\n", "{cfg}:1: an integer of 4000 digits; settings are at most 30 digits long"),
    "starred_quantizer_args": ({"space": {"default": {"kernel": ["quantized_bits(4, **{'alpha': 1}, integer=0)"]}}},
                               "{cfg}:21: space.default.kernel[0]: quantizer \"quantized_bits(4, **{{'alpha': 1}}, "
                               "integer=0)\": write arguments out as values and name=value, without * or **"),
    "huge_quantizer_arg": ({"space": {"default": {"kernel": [f"quantized_bits(4,0,alpha={BIG})"]}}},
                           "{cfg}:21: space.default.kernel[0]: quantizer 'quantized_bits(4,0,alpha=" + "9" * 35 +
                           "... (4026 characters)': a number above 1000000 (bits and integer bits are at most 32)"),
    "model_path_is_a_folder": (merge(PLAIN, {"model": {"path": "plain_folder"}}),
                               "{cfg}: model.path: {d}/plain_folder is a folder without saved_model.pb, not a saved "
                               "Keras model (.h5, .keras or a SavedModel folder)"),
    "model_path_is_a_fifo": (merge(PLAIN, {"model": {"path": "model.fifo"}}),
                             "{cfg}: model.path: {d}/model.fifo is not a regular file (a FIFO, socket or device), not a "
                             "saved Keras model (.h5, .keras or a SavedModel folder)"),
    "hls4ml_reuse_factor_negative": ({"hls4ml": {"Model": {"ReuseFactor": -4}}},
                                     "{cfg}:32: hls4ml.Model.ReuseFactor: must be a whole number from 1 to 1000000, "
                                     "got -4"),
    "hls4ml_layer_name_list": ({"hls4ml": {"LayerName": ["fc1"]}},
                               "{cfg}:31: hls4ml.LayerName: expected a mapping (as in hls4ml's config), got ['fc1']"),
    "presplit_few_validation": ({"data": {"source": "npz", "path": "fewval.npz"}},
                                "fewval: 4 validation samples; need at least 10 in each split"),
    "generated_jets_too_few": ({"data": {"source": "jets-generated", "path": "jets12.npz"}},
                               "jets-generated: 7 training samples of 12 jets split 60/20/20 (train/val/test, as "
                               "hls4ml's tutorial); need at least 10 in each split"),
})
EXTRA_ARGS = {"zero_trials_flag": ["--max-trials", "0"], "tuner_id_escapes": ["--tuner-id", "../../x"],
              "data_flag_ignored": ["--data", __file__],  # a file that exists (--data is relative to the cwd)
              "huge_seed_flag": ["--seed", "9" * 4000]}
CASES.update({
    "zero_trials_flag": ({}, "search.max_trials (--max-trials): must be at least 1, got 0"),
    "huge_seed_flag": ({}, "seed (--seed): must be between 0 and 2147483647, got an integer of about 4000 digits"),
    "tuner_id_escapes": ({}, "a tuner id is a name of letters, digits, '_', '.' and '-' (it names files in the output "
                             "folder), got '../../x'"),
    "data_flag_ignored": ({}, "{cfg}: data.source: --data names a file, but data.source is 'digits', which reads no "
                              "file; set data.source to npz or jets to search on a file"),
})
BAD_NPZ = {
    "strings": dict(x=X64, y=np.array(["a"] * 200)), "negative": dict(x=X64, y=-np.ones(200)),
    "huge": dict(x=X64, y=np.full(200, 1e12)), "nanlabels": dict(x=X64, y=np.full(200, np.nan)),
    "labels3d": dict(x=X64, y=np.zeros((200, 10, 1))), "short": dict(x=X64, y=np.zeros(150)),
    "emptyval": dict(x_train=X64, y_train=np.arange(200) % 10, x_val=X64[:0], y_val=np.zeros(0),
                     x_test=X64[:20], y_test=np.arange(20) % 10),
    "fewval": dict(x_train=X64, y_train=np.arange(200) % 10, x_val=X64[:4], y_val=np.arange(4),
                   x_test=X64[:20], y_test=np.arange(20) % 10),
}
BUILDERS = """
import tensorflow as tf


def raises(**kwargs):
    raise RuntimeError("out of ideas")


def returns_none(**kwargs):
    return None


def no_input_shape(**kwargs):
    return tf.keras.Sequential([tf.keras.layers.Dense(10)])
"""


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_is_one_clear_error_line(name, files, tmp_path):
    spec, expected = CASES[name]
    out = tmp_path / "out"
    if spec is None:
        cfg = files / "does_not_exist.yaml"
    else:
        cfg = _cfg(files, f"{name}-{tmp_path.name}", text=spec) if isinstance(spec, str) \
            else _cfg(files, f"{name}-{tmp_path.name}", spec)
    if callable(expected):
        expected = expected(files, cfg, out)
    code, stdout, stderr = run_cli("search", cfg, "--output", out, *EXTRA_ARGS.get(name, []))
    assert code == 2, stdout[-2000:] + stderr[-2000:]
    assert not _lambda_marker(files).exists(), "code from a model file ran"
    assert "Traceback" not in stderr + stdout
    errors = [l for l in stderr.splitlines() if l.startswith("error:")]
    assert len(errors) == 1, stderr
    if expected is None and name == "bad_part":
        assert errors[0].startswith(f"error: {cfg}: hls4ml.part: "), errors[0]
        assert not out.exists(), "the search started before its export settings were checked"
    elif expected is None:  # the quantizer parser's own wording; it must name the key and line
        assert errors[0].startswith(f"error: {cfg}:3: space.default.kernel[0]: "), errors[0]
    else:
        assert errors[0] == "error: " + expected.format(cfg=cfg, d=files, out=out)
    if name.startswith("nan_"):  # the failed trials are on record, with the reason
        rows = list(csv.DictReader((out / "trials.csv").open()))
        assert len(rows) == 2 and all(r["status"] == "failed" for r in rows)
        assert all(r["error"] == "FloatingPointError: training loss became NaN/inf at epoch 1" for r in rows)
        assert (out / "state.json").is_file() and not (out / "summary.json").exists()
    if name == "output_not_autoq":
        assert (out / "notes.txt").read_text() == "mine" and sorted(p.name for p in out.iterdir()) == ["notes.txt"]


def test_real_cli_process_bad_yaml(tmp_path):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("name: x\nseed: [1,\n")
    r = subprocess.run(autoq("search", cfg), capture_output=True, text=True, timeout=HANG, env=env())
    assert r.returncode == 2
    assert r.stderr.strip().splitlines()[-1] == (f"error: {cfg}:3: malformed YAML: expected the node content, but "
                                                 f"found '<stream end>'")
    assert "Traceback" not in r.stderr


def test_allow_float_leaves_unquantizable_layers_float(files, tmp_path):
    cfg = _cfg(files, f"allow-{tmp_path.name}", merge(PLAIN, {"model": {"path": "bn.h5"}, "space": {"allow_float": True},
                                                              "search": {"max_trials": 1}, "hls4ml": False}))
    code, stdout, stderr = run_cli("search", cfg, "--output", tmp_path / "out")
    assert code == 0, stdout[-2000:] + stderr[-2000:]
    assert "[autoq] layers left float: bn" in stdout
    rec = json.loads((tmp_path / "out" / "trials" / "0" / "record.json").read_text())
    assert rec["status"] == "ok" and "bn" not in rec["choice"] and set(rec["choice"]) == {"fc1", "output"}


# ------------------------------------------------------------------------------------------ fuzzing the loader

SECTIONS = {
    "model": ["path", "builder", "kwargs", "train"],
    "data": ["source", "path", "standardize", "val_fraction", "test_fraction", "n_samples", "seed"],
    "train": ["epochs", "batch_size", "learning_rate", "optimizer", "patience", "float_epochs", "fine_tune_epochs",
              "loss", "metric"],
    "space": ["input_quantizer", "default", "layer_types", "layers", "groups", "skip", "allow_float"],
    "goal": ["cost", "delta_p", "delta_n", "rate", "reference"],
    "search": ["algorithm", "max_trials", "output_dir", "keep", "max_failed_trials"],
    "hls4ml": ["backend", "part", "clock_period", "io_type", "reuse_factor", "strategy", "output_dir", "project_name"],
}
SPECS = ["quantized_bits(4,0,alpha=1)", "quantized_bits({2..8},0)", "quantized_relu(4,2)", "ternary(alpha=1)",
         "binary", "qil(4)", "quantized_bits(", "nonsense", "quantized_bits(4,0,alpha=foo)", "quantized_bits(1e999)",
         "quantized_bits({8..2},0)", "quantized_relu(-3)", "[", "*", ""]
scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20), st.floats(allow_nan=True),
                    st.text(max_size=12), st.sampled_from(SPECS + ["random", "bayesian", "energy", "float16",
                                                                   "npz", "digits", "adam", "Vitis", "(", "a:b"]))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(st.one_of(st.text(max_size=8),
                                                                                 st.sampled_from(["kernel", "bias",
                                                                                                  "activation"]),
                                                                                 st.integers(), st.none()),
                                                                       inner, max_size=4)), max_leaves=12)
roles = st.dictionaries(st.sampled_from(["kernel", "bias", "activation", "kernal"]),
                        st.one_of(st.sampled_from(SPECS), st.lists(st.sampled_from(SPECS), max_size=3), values),
                        max_size=3)


@st.composite
def configs(draw):
    d = {}
    for section in draw(st.lists(st.sampled_from(list(SECTIONS) + ["name", "seed", "baselines", "extra"]),
                                 max_size=6, unique=True)):
        if section in SECTIONS:
            keys = draw(st.lists(st.sampled_from(SECTIONS[section] + ["bogus"]), max_size=5, unique=True))
            sec = {}
            for k in keys:
                if section == "space" and k == "default":
                    sec[k] = draw(st.one_of(roles, values))
                elif section == "space" and k in ("layers", "layer_types"):
                    sec[k] = draw(st.one_of(st.dictionaries(st.sampled_from(["fc1", "fc[", "Dense", ".*", "x"]),
                                                            st.one_of(roles, values), max_size=2), values))
                else:
                    sec[k] = draw(values)
            d[section] = draw(st.one_of(st.just(sec), values)) if draw(st.booleans()) else sec
        elif section == "baselines":
            d[section] = draw(st.one_of(st.lists(st.one_of(roles.map(lambda r: {"name": "b", **r}), values),
                                                 max_size=2), values))
        else:
            d[section] = draw(values)
    return d


def _only_config_or_config_error(fn, *args, **kwargs):
    """A Config (one a search can use: finite numbers, seeds numpy accepts) or a ConfigError; nothing else."""
    import math
    from dataclasses import fields, is_dataclass
    try:
        cfg = fn(*args, **kwargs)
    except ConfigError:
        return
    assert isinstance(cfg, Config)
    assert 0 <= cfg.seed < 2**31 and 0 <= cfg.data.seed < 2**31
    for part in (cfg.model, cfg.data, cfg.train, cfg.goal, cfg.search, cfg.hls4ml):
        if is_dataclass(part):
            for f in fields(part):
                v = getattr(part, f.name)
                assert not isinstance(v, float) or math.isfinite(v), (f.name, v)


FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))


@FUZZ
@given(configs())
def test_fuzz_config_dicts(d):
    from autoq.config import config_from_dict
    _only_config_or_config_error(config_from_dict, d)


@FUZZ
@given(configs())
def test_fuzz_config_yaml(d):
    try:
        text = yaml.safe_dump(d, allow_unicode=True)
    except yaml.YAMLError:
        return
    _only_config_or_config_error(parse_config, text, source="fuzz.yaml")


@FUZZ
@given(st.one_of(st.text(max_size=200),
                 st.lists(st.sampled_from(["name: x\n", "seed: 1\n", "train:\n", "  epochs: 2\n", "  - a\n", "space:",
                                           "\tdefault: {", "kernel: [", "]", "}", ": :", "&a x", "*a", "!!python/name:os",
                                           "---\n", "? x\n", "- - -\n", "%YAML 9\n", "\x00", "'", "\"", "\n"]),
                          max_size=12).map("".join)))
def test_fuzz_config_text(text):
    _only_config_or_config_error(parse_config, text, source="fuzz.yaml")


def test_valid_default_config_parses():
    assert isinstance(parse_config(yaml.safe_dump(TINY)), Config)


def test_every_export_option_is_explained_with_its_default():
    from autoq.cli import _parser
    export = next(a for a in _parser()._actions if a.dest == "command").choices["export"]
    options = [a for a in export._actions if a.option_strings and a.dest != "help"]
    assert len(options) >= 15
    text = " ".join(export.format_help().split())
    for a in options:
        assert a.help, a.option_strings
        if a.default not in (None, False):  # a value with a default says it
            assert "default" in a.help or f"(default: {a.default})" in text, a.option_strings
    assert "(default: Vitis)" in text and "(default: io_parallel)" in text and "(default: 5.0)" in text
    assert export.parse_args(["m.h5", "--backend", "vivado"]).backend == "Vivado"
