"""The Keras model graph as autoq reads it: which layer classes carry quantizable kernels, a layer's inputs and
consumers, its own activation, the float batch norms that fold into the layer before them; and :func:`rebuild`,
the one walk that makes a new functional model from an old one layer by layer."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from .errors import SpaceError

#: the one table of layer classes: float class -> its QKeras class (what a search quantizes; every other stage's
#: list derives from it)
Q_CLASS = {"Dense": "QDense", "Conv1D": "QConv1D", "Conv2D": "QConv2D", "DepthwiseConv2D": "QDepthwiseConv2D"}
#: the quantizable classes whose output width (units / filters) ``space.widths`` can search
WIDTH_CLASSES = tuple(c for c in Q_CLASS if c != "DepthwiseConv2D")
KERNEL_ATTR = {"DepthwiseConv2D": "depthwise_kernel"}
#: layers a search passes over: nothing of theirs is quantized, the model keeps them as they are
PASS_THROUGH = {"InputLayer", "Flatten", "Dropout", "Reshape", "MaxPooling1D", "MaxPooling2D", "AveragePooling1D",
                "AveragePooling2D", "GlobalAveragePooling1D", "GlobalAveragePooling2D", "GlobalMaxPooling1D",
                "GlobalMaxPooling2D", "Softmax", "Activation", "ReLU", "ZeroPadding2D", "Add", "Concatenate",
                "ZeroPadding1D", "UpSampling1D", "UpSampling2D"}


def macs(layer) -> int:
    """Multiply-accumulates of one inference of a quantizable layer (float, QKeras or learned-bit: its
    ``class_name``), 0 for any other: a Dense its kernel's size, a convolution that x its output positions."""
    cls = _float_class(layer)
    if cls not in Q_CLASS:
        return 0
    kernel = getattr(layer, KERNEL_ATTR[cls], None) if cls in KERNEL_ATTR else None
    return int(np.prod((kernel if kernel is not None else layer.kernel).shape)) * positions(layer)


def positions(layer) -> int:
    """Output positions a layer's one kernel is applied at: 1 for a Dense, a convolution's output pixels.
    Exact EBOPs count one kernel instance (:mod:`autoq.cost.ebops`), BOPs and MACs every position."""
    return 1 if _float_class(layer) == "Dense" else int(np.prod(layer.output_shape[1:-1]))


def _float_class(layer) -> str:
    """The float class a float, QKeras or learned-bit layer stands for (its ``class_name`` if it has one)."""
    cls = getattr(layer, "class_name", None) or layer.__class__.__name__
    return cls[1:] if cls.startswith("Q") and cls[1:] in Q_CLASS else cls


def layer_activation(layer) -> str | None:
    """The name of a layer's own activation (None for a layer without one)."""
    act = getattr(layer, "activation", None)
    if act is None:
        return None
    return getattr(act, "__name__", str(act))


def consumers_of(inbound: dict) -> dict:
    """Layer name -> the layers that take its output (the inverse of :func:`inbound_of`'s map)."""
    out: dict = {}
    for name, srcs in inbound.items():
        for src in srcs:
            out.setdefault(src, []).append(name)
    return out


def foldable_batchnorms(model) -> dict:
    """BatchNormalization layer name -> the quantizable layer it folds into (its only input, linear activation,
    and the batch norm the only consumer of that layer)."""
    inbound = inbound_of(model)
    consumers = consumers_of(inbound)
    by_name = {l.name: l for l in model.layers}
    out = {}
    for layer in model.layers:
        if layer.__class__.__name__ != "BatchNormalization" or len(inbound.get(layer.name, [])) != 1:
            continue
        prev = by_name.get(inbound[layer.name][0])
        if (prev is not None and prev.__class__.__name__ in Q_CLASS and layer_activation(prev) in (None, "linear")
                and consumers.get(prev.name) == [layer.name]):
            out[layer.name] = prev.name
    return out


def folded_weights(layer, bn) -> tuple:
    """(kernel, bias) of ``layer`` with the inference-time batch norm ``bn`` folded in."""
    gamma, beta, mean, var = (np.asarray(w, dtype=np.float64) for w in bn_params(bn))
    scale = gamma / np.sqrt(var + bn.epsilon)
    kernel = np.asarray(getattr(layer, KERNEL_ATTR.get(layer.__class__.__name__, "kernel")), dtype=np.float64)
    kshape = kernel.shape
    if layer.__class__.__name__ == "DepthwiseConv2D":
        kernel = kernel * scale.reshape(kshape[2], kshape[3])
    else:
        kernel = kernel * scale
    bias = np.asarray(layer.bias, dtype=np.float64) if layer.use_bias else 0.0
    return kernel.astype(np.float32), ((bias - mean) * scale + beta).astype(np.float32)


def bn_params(bn) -> list:
    n = int(bn.moving_mean.shape[0])
    gamma = bn.gamma if bn.scale else np.ones(n)
    beta = bn.beta if bn.center else np.zeros(n)
    return [gamma, beta, bn.moving_mean, bn.moving_variance]


def inbound_layers(layer) -> list:
    """The layers feeding ``layer`` at its first call, [] for an input."""
    try:
        inbound = layer.inbound_nodes[0].inbound_layers
    except (AttributeError, IndexError):
        return []
    return list(inbound) if isinstance(inbound, (list, tuple)) else [inbound]


def inbound_names(layer) -> list[str]:
    """Names of :func:`inbound_layers`."""
    return [lay.name for lay in inbound_layers(layer)]


def inbound_of(model) -> dict:
    """Layer name -> list of inbound layer names (functional or Sequential)."""
    import tensorflow as tf  # here, not at import: the class tables are read before TensorFlow loads
    if isinstance(model, tf.keras.Sequential):
        prev, out = None, {}
        for layer in model.layers:
            out[layer.name] = [prev] if prev else []
            prev = layer.name
        return out
    out = {}
    for lc in model.get_config()["layers"]:
        nodes = lc.get("inbound_nodes") or []
        if len(nodes) > 1:
            raise SpaceError(f"layer {lc['name']!r} is shared (called {len(nodes)} times); autoq needs each layer "
                             "called once")
        out[lc["name"]] = [n[0] for n in nodes[0]] if nodes else []
    return out


@dataclass
class Walk:
    """What a :func:`rebuild` hook sees besides the layer and its input tensor(s)."""

    model: Any  # the model being rebuilt
    inbound: dict  # layer name -> inbound layer names (a Sequential's first layer reads ``<model name>_input``)
    input_names: list  # the model inputs' names, as ``inbound`` spells them
    inputs: list = field(default_factory=list)  # the new model's Input tensors made so far
    tensors: dict = field(default_factory=dict)  # layer name -> its output tensor in the new model, so far
    new: dict = field(default_factory=dict)  # layer name -> its new layer (made by copy() or put there by a hook)
    copied: list = field(default_factory=list)  # (old, new) of the layers copy() recreated

    def reads_input(self, name: str) -> str | None:
        """The model input a layer reads when that input is its only inbound, else None."""
        srcs = self.inbound[name]
        return srcs[0] if len(srcs) == 1 and srcs[0] in self.input_names else None

    def copy(self, layer, x):
        """``layer`` recreated unchanged (``from_config``) called on ``x``; its weights follow after the build
        when :func:`rebuild` copies weights."""
        new = layer.__class__.from_config(layer.get_config())
        y = new(x)
        self.new[layer.name] = new
        self.copied.append((layer, new))
        return y


def rebuild(model, hook: Callable | None = None, name: str | None = None, copy_weights: bool = True,
            input_names: dict | None = None):
    """A functional copy of ``model`` (Sequential or functional), layer by layer in ``model.layers`` order.

    Inputs are new ``tf.keras.Input`` s named as the model's InputLayers (a Sequential's ``<model name>_input``),
    renamed by ``input_names`` (old name -> new). For every other layer ``hook(layer, x, walk)`` (``x``: the
    inbound tensor, or their list; ``walk``: a :class:`Walk`) returns the layer's output tensor in the new model,
    or None for ``walk.copy(layer, x)``. Outputs are those of the model's output layers; the model is named
    ``name`` (default ``model.name``). ``copy_weights``: the layers ``walk.copy`` made get their old weights once
    the model is built (a hook copies the weights of the layers it makes itself). Returns ``(new model, walk)``."""
    import tensorflow as tf
    sequential = isinstance(model, tf.keras.Sequential)
    inbound = inbound_of(model)
    if sequential:
        seq_input = f"{model.name}_input"
        inbound[model.layers[0].name] = [seq_input]
        in_names = [seq_input]
    else:
        in_names = [l.name for l in model._input_layers]
    walk = Walk(model, inbound, in_names)
    renamed = input_names or {}
    if sequential:
        inp = tf.keras.Input(shape=model.input_shape[1:], name=renamed.get(seq_input, seq_input))
        walk.inputs.append(inp)
        walk.tensors[seq_input] = inp
    for layer in model.layers:
        if layer.__class__.__name__ == "InputLayer":
            shape = layer.input_shape[0] if isinstance(layer.input_shape, list) else layer.input_shape
            t = tf.keras.Input(shape=shape[1:], name=renamed.get(layer.name, layer.name))
            walk.inputs.append(t)
            walk.tensors[layer.name] = t
            continue
        srcs = [walk.tensors[n] for n in inbound[layer.name]]
        x = srcs[0] if len(srcs) == 1 else srcs
        y = hook(layer, x, walk) if hook is not None else None
        walk.tensors[layer.name] = walk.copy(layer, x) if y is None else y
    out_layers = [model.layers[-1]] if sequential else model._output_layers
    outputs = [walk.tensors[l.name] for l in out_layers]
    new = tf.keras.Model(walk.inputs if len(walk.inputs) > 1 else walk.inputs[0],
                         outputs if len(outputs) > 1 else outputs[0], name=name or model.name)
    if copy_weights:
        for old, layer in walk.copied:
            layer.set_weights(old.get_weights())
    return new, walk
