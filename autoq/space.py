"""Float model + search space -> per-layer choices; build the QKeras model for one choice.

Quantizable layers are Dense/Conv1D/Conv2D/DepthwiseConv2D (kernel, bias) and ReLU activations, whether a layer's
own ``activation='relu'`` or an ``Activation('relu')``/``ReLU`` layer. A layer's own ReLU becomes a separate
``QActivation`` named ``<layer>_relu`` (hls4ml's naming), so every quantizer sits on one named layer.

A float ``BatchNormalization`` right after a quantizable layer (its only consumer, no activation in between) is
folded into that layer's kernel and bias (``w * gamma / sqrt(var + eps)``, ``(b - mean) * scale + beta``) before
quantization: the quantized model has no float batch norm left, so the exported firmware can equal it bit for bit.
"""
from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, field

import numpy as np
import tensorflow as tf

from . import quantizers
from .config import SpaceConfig
from .errors import SpaceError
from .graph import (KERNEL_ATTR, PASS_THROUGH, Q_CLASS, bn_params, consumers_of,  # noqa: F401 (public here too)
                    foldable_batchnorms, folded_weights, inbound_of, rebuild)
from .graph import layer_activation as _layer_activation

FLOAT_ACTIVATIONS = {"linear", "softmax", "sigmoid", "tanh"}


@dataclass
class Slot:
    """One quantizable layer: which parameter types it has and the specs allowed for each."""

    layer: str
    class_name: str
    roles: dict  # role -> list of spec strings
    group: str  # hyperparameter prefix (the layer name, or its group's name)
    activation_layer: str | None = None  # the QActivation this slot's 'activation' role lives on


#: a searched input quantizer: its key in a choice (``{INPUT_KEY: {"quantizer": spec}}``) and its hyperparameter
INPUT_KEY = "<input>"
INPUT_HP = f"{INPUT_KEY}/quantizer"
INPUT_QUANT = "input_quant"  # the input quantizer layer's name in a built model (one input)


@dataclass
class SearchSpace:
    """The per-layer choices of one model; declares keras-tuner hyperparameters and reads them back."""

    slots: list
    input_quantizer: str | None = None  # the input's quantizer (searched: the first listed, the reference)
    float_layers: list = field(default_factory=list)  # layers left float on purpose (skip/allow_float)
    input_choices: list = field(default_factory=list)  # the input quantizers searched (empty: not searched)

    @property
    def input_searched(self) -> bool:
        return len(self.input_choices) > 1

    def hp_choices(self) -> dict:
        """Hyperparameter name -> allowed spec strings (a group's layers share names)."""
        out = {}
        for s in self.slots:
            for role, specs in s.roles.items():
                out.setdefault(f"{s.group}/{role}", list(specs))
        if self.input_searched:
            out[INPUT_HP] = list(self.input_choices)
        return out

    def declare(self, hp) -> dict:
        """Register every choice on a keras-tuner ``HyperParameters`` and return the chosen values."""
        return {name: hp.Choice(name, specs) for name, specs in self.hp_choices().items()}

    def choice(self, values: dict) -> dict:
        """Hyperparameter values -> ``{layer: {role: spec}}`` (and ``INPUT_KEY`` when the input is searched)."""
        out = {}
        for s in self.slots:
            out[s.layer] = {role: values[f"{s.group}/{role}"] for role in s.roles}
        if self.input_searched:
            out[INPUT_KEY] = {"quantizer": values.get(INPUT_HP, self.input_quantizer)}
        return out

    def uniform(self, kernel=None, bias=None, activation=None) -> dict:
        """The same spec for every layer (a baseline); roles given as None keep the space's first choice."""
        given = {"kernel": kernel, "bias": bias, "activation": activation}
        return {s.layer: {r: (given[r] or specs[0]) for r, specs in s.roles.items()} for s in self.slots}

    def size(self) -> int:
        """Number of distinct configurations."""
        return int(np.prod([len(v) for v in self.hp_choices().values()], dtype=float))


def _roles_for(layer, cfg: SpaceConfig) -> dict:
    """Merge default < layer type < name regex (later wins, per role)."""
    merged: dict = {}
    sources = [cfg.default, cfg.layer_types.get(layer.__class__.__name__)]
    sources += [rc for rx, rc in cfg.layers.items() if re.fullmatch(rx, layer.name)]
    for rc in sources:
        if rc is None:
            continue
        for role in quantizers.ROLES:
            specs = getattr(rc, role)
            if specs:
                merged[role] = list(specs)
    return merged


def analyse(model: tf.keras.Model, cfg: SpaceConfig, exact: bool = True) -> SearchSpace:
    """Find the quantizable layers of a float model and the choices the config allows for each.

    ``exact`` (the config exports, i.e. not ``hls4ml: false``): every layer any trial keeps (float ones too) and every
    quantizer of the space must be one hls4ml reproduces (:mod:`autoq.exporting.vocabulary`); else a SpaceError
    naming it, before anything trains."""
    names = [l.name for l in model.layers]
    for section in ("layers",):
        for rx in getattr(cfg, section):
            if not any(re.fullmatch(rx, n) for n in names):
                raise SpaceError(f"space.{section}: regex {rx!r} matches no layer; layers: {', '.join(names)}")
    for gname, rx in cfg.groups.items():
        if not any(re.fullmatch(rx, n) for n in names):
            raise SpaceError(f"space.groups.{gname}: regex {rx!r} matches no layer; layers: {', '.join(names)}")
    for cls in cfg.layer_types:
        if cls not in Q_CLASS and cls not in ("Activation", "ReLU"):
            raise SpaceError(f"space.layer_types: {cls!r} is not a layer type autoq quantizes; "
                             f"supported: {', '.join(sorted(Q_CLASS))}, Activation, ReLU")
    slots, float_layers, unsupported = [], [], []
    folded = foldable_batchnorms(model)
    outputs = {model.layers[-1].name} if isinstance(model, tf.keras.Sequential) else {
        l.name for l in model._output_layers}
    for layer in model.layers:
        cls = layer.__class__.__name__
        if layer.name in folded and not any(re.fullmatch(rx, folded[layer.name]) for rx in cfg.skip):
            continue  # folded into the quantized layer before it
        if any(re.fullmatch(rx, layer.name) for rx in cfg.skip):
            float_layers.append(layer.name)
            if exact:
                _check_exportable(layer, outputs)
            continue
        roles = _roles_for(layer, cfg)
        act = _layer_activation(layer)
        if cls in Q_CLASS:
            keep = {"kernel": roles.get("kernel")}
            if layer.use_bias or layer.name in folded.values():
                keep["bias"] = roles.get("bias")
            if act == "relu":
                keep["activation"] = roles.get("activation")
            elif act not in FLOAT_ACTIVATIONS:
                unsupported.append(f"{layer.name} (activation {act!r})")
                continue
            if exact and act in FLOAT_ACTIVATIONS and act != "linear":
                _check_head(layer, act, outputs)
            missing = [r for r, v in keep.items() if not v]
            if missing:
                raise SpaceError(f"layer {layer.name!r} ({cls}) has no quantizer choices for "
                                 f"{', '.join(missing)}: add them under space.default, space.layer_types.{cls} or "
                                 f"space.layers, or list the layer under space.skip to leave it float")
            slots.append(Slot(layer.name, cls, keep, layer.name,
                              f"{layer.name}_relu" if "activation" in keep else None))
        elif (cls == "Activation" and act == "relu") or cls == "ReLU":
            if not roles.get("activation"):
                raise SpaceError(f"layer {layer.name!r} (ReLU) has no activation quantizer choices")
            slots.append(Slot(layer.name, cls, {"activation": roles["activation"]}, layer.name, layer.name))
        elif cls == "Activation" and act in FLOAT_ACTIVATIONS:
            float_layers.append(layer.name)
            if exact:
                _check_head(layer, act, outputs)
        elif cls in PASS_THROUGH:
            if exact:
                _check_exportable(layer, outputs)
            continue
        else:  # weights autoq does not quantize, or a weightless layer that is not a known pass-through
            if exact and cfg.allow_float:  # kept float by every trial
                _check_exportable(layer, outputs)
            unsupported.append(f"{layer.name} ({cls})")
    if unsupported and not cfg.allow_float:
        raise SpaceError("autoq cannot quantize these layers: " + ", ".join(unsupported) +
                         f". Supported: {', '.join(sorted(Q_CLASS))} with relu/linear/softmax activations, ReLU "
                         "activations, and weightless reshaping/pooling layers. Set space.allow_float: true to leave "
                         "them float, or list them under space.skip")
    float_layers += [u.split(" ")[0] for u in unsupported]
    if exact:
        _check_quantizers(slots, cfg)
    if not slots:
        raise SpaceError("no layer of the model can be quantized with this space (layers: " + ", ".join(names) + ")")
    for gname, rx in cfg.groups.items():
        members = [s for s in slots if re.fullmatch(rx, s.layer)]
        for s in members:
            if s.roles != members[0].roles:
                raise SpaceError(f"space.groups.{gname}: layers {members[0].layer!r} and {s.layer!r} have different "
                                 "choices, so they cannot share one; give the group one set of choices")
            s.group = gname
    choices = list(cfg.input_quantizer) if isinstance(cfg.input_quantizer, list) else []
    if choices and INPUT_KEY in names:
        raise SpaceError(f"a layer is named {INPUT_KEY!r}, which autoq uses for the searched input quantizer; "
                         "rename the layer")
    return SearchSpace(slots, choices[0] if choices else cfg.input_quantizer, float_layers, choices)


def split_input(choice: dict, default: str | None = None) -> tuple:
    """(the input quantizer a choice carries, else ``default``; the choice without it)."""
    if INPUT_KEY not in choice:
        return default, choice
    return choice[INPUT_KEY]["quantizer"], {k: v for k, v in choice.items() if k != INPUT_KEY}


EXPORT_HINT = "the winner could not be exported bit-exactly; set hls4ml: false to search without the export"


def _check_exportable(layer, outputs=frozenset()) -> None:
    """A layer some trial keeps as it is (pass-through, skipped or left float) that the hls4ml export cannot
    reproduce (an average over 9 values, a Conv2DTranspose, a LeakyReLU...) is refused now, before any trial
    trains, not after the search."""
    from .errors import UnsupportedModelError
    from .exporting.vocabulary import check_layer
    act = "softmax" if layer.__class__.__name__ == "Softmax" else _layer_activation(layer)
    if act in FLOAT_ACTIVATIONS and act != "linear":
        _check_head(layer, act, outputs)
    try:
        check_layer(layer)
    except UnsupportedModelError as exc:
        raise SpaceError(f"{exc} ({EXPORT_HINT})") from None
    if layer.weights:  # e.g. a skipped Dense, an unfoldable BatchNormalization
        raise SpaceError(f"layer {layer.name!r} ({layer.__class__.__name__}) would stay float: Keras computes it in "
                         "float32, which no fixed-point type reproduces (the C simulation differs); quantize it, fold "
                         f"a batch norm into the Dense/Conv right before it, or drop it ({EXPORT_HINT})")


def _check_head(layer, act: str, outputs) -> None:
    """A float softmax/sigmoid exports (a lookup table, checked on its logits) only as a model output."""
    from .exporting.vocabulary import HEAD_ACTIVATIONS
    if act not in HEAD_ACTIVATIONS:
        raise SpaceError(f"layer {layer.name!r}: a float {act} is computed by hls4ml with a lookup table, not as "
                         f"Keras does; only a final {' or '.join(HEAD_ACTIVATIONS)} head is checked on its logits "
                         f"({EXPORT_HINT})")
    if layer.name not in outputs:
        raise SpaceError(f"layer {layer.name!r}: a float {act} inside the model is computed by hls4ml with a lookup "
                         f"table (an approximation); only an output head is checked on its logits ({EXPORT_HINT})")


def _check_quantizers(slots: list, cfg: SpaceConfig) -> None:
    """Every quantizer of the space (every slot's role, the input's) through the export's vocabulary."""
    from .exporting.vocabulary import quantizer_problem
    seen = set()
    inputs = cfg.input_quantizer if isinstance(cfg.input_quantizer, list) else [cfg.input_quantizer]
    items = [(s.layer, role, spec) for s in slots for role, specs in s.roles.items() for spec in specs]
    items += [("the input", "input", spec) for spec in inputs if spec]
    for where, role, spec in items:
        if (role, spec) in seen:
            continue
        seen.add((role, spec))
        why = quantizer_problem(quantizers.parse(spec, role).equivalent().build(), role)
        if why:
            raise SpaceError(f"{where}: {role} quantizer {spec}: {why} ({EXPORT_HINT})")


# ---------------------------------------------------------------------------------------------- building

def _q_layer(cls_name: str, config: dict, kernel, bias, fold_bn: bool = False):
    import qkeras
    qcls = getattr(qkeras, Q_CLASS[cls_name])
    accepted = set(inspect.signature(qcls.__init__).parameters)
    accepted |= {"name", "trainable", "dtype", "batch_input_shape", "input_shape"}
    cfg = {k: v for k, v in config.items() if k in accepted}
    cfg["activation"] = "linear"
    if fold_bn:  # the folded batch norm brings a bias
        cfg["use_bias"] = True
        config = dict(config, use_bias=True)
    key = "depthwise_quantizer" if cls_name == "DepthwiseConv2D" else "kernel_quantizer"
    cfg[key] = kernel
    if config.get("use_bias", True):
        cfg["bias_quantizer"] = bias
    return qcls(**cfg)


def build_qmodel(model: tf.keras.Model, choice: dict, input_quantizer: str | None = None,
                 copy_weights: bool = True, name: str | None = None) -> tf.keras.Model:
    """The QKeras model of ``model`` under ``choice`` (``{layer: {role: spec}}``), float weights copied in.

    Returns a functional model; layers not in ``choice`` are recreated unchanged (with their weights).
    """
    from qkeras import QActivation

    folds = {v: k for k, v in foldable_batchnorms(model).items() if v in choice}  # layer -> its batch norm
    input_quants: dict = {}  # model input -> its quantizer's output (one per input)

    def hook(layer, x, walk):
        cls = layer.__class__.__name__
        src = walk.reads_input(layer.name)
        if input_quantizer and src is not None:
            if src not in input_quants:
                qname = INPUT_QUANT if len(walk.inputs) == 1 else f"{INPUT_QUANT}_{src}"
                input_quants[src] = QActivation(quantizers.parse(input_quantizer).build(), name=qname)(x)
            x = input_quants[src]
        q = choice.get(layer.name)
        if layer.name in folds.values():  # a batch norm folded into the layer before it
            return x
        if q and cls in Q_CLASS:
            if layer.name in folds and "bias" not in q:
                raise SpaceError(f"layer {layer.name!r} takes the batch norm {folds[layer.name]!r} folded into it, "
                                 "which needs a bias quantizer: add bias choices for it")
            new = _q_layer(cls, layer.get_config(), quantizers.parse(q["kernel"], "kernel").build(),
                           quantizers.parse(q["bias"], "bias").build() if "bias" in q else None,
                           fold_bn=layer.name in folds)
            y = new(x)
            act = _layer_activation(layer)
            if "activation" in q:
                y = QActivation(quantizers.parse(q["activation"], "activation").build(), name=f"{layer.name}_relu")(y)
            elif act not in (None, "linear"):  # a float head such as softmax stays, as its own layer
                y = tf.keras.layers.Activation(act, name=f"{layer.name}_{act}")(y)
        elif q and "activation" in q:  # Activation('relu') / ReLU layer
            new = QActivation(quantizers.parse(q["activation"], "activation").build(), name=layer.name)
            y = new(x)
        else:
            return walk.copy(layer, x)
        walk.new[layer.name] = new
        return y

    qmodel, walk = rebuild(model, hook, name=name or f"{model.name}_q", copy_weights=False)
    new_layers = walk.new
    if copy_weights:
        for layer in model.layers:
            new = new_layers.get(layer.name)
            if new is None or not layer.weights:
                continue
            cls = layer.__class__.__name__
            if cls in Q_CLASS and layer.name in folds:
                kernel, bias = folded_weights(layer, model.get_layer(folds[layer.name]))
                getattr(new, KERNEL_ATTR.get(cls, "kernel")).assign(kernel)
                new.bias.assign(bias)
            elif cls in Q_CLASS and layer.name in choice:
                getattr(new, KERNEL_ATTR.get(cls, "kernel")).assign(getattr(layer, KERNEL_ATTR.get(cls, "kernel")))
                if layer.use_bias:
                    new.bias.assign(layer.bias)
            else:
                new.set_weights(layer.get_weights())
    return qmodel
