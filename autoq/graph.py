"""The Keras model graph as autoq reads it: which layer classes carry quantizable kernels, a layer's inputs and
consumers, its own activation, and the float batch norms that fold into the layer before them."""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from .errors import SpaceError

#: the one table of layer classes: float class -> its QKeras class (what a search quantizes; every other stage's
#: list derives from it)
Q_CLASS = {"Dense": "QDense", "Conv1D": "QConv1D", "Conv2D": "QConv2D", "DepthwiseConv2D": "QDepthwiseConv2D"}
#: the quantizable classes whose output width (units / filters) ``space.widths`` can search
WIDTH_CLASSES = tuple(c for c in Q_CLASS if c != "DepthwiseConv2D")
KERNEL_ATTR = {"DepthwiseConv2D": "depthwise_kernel"}


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


def inbound_of(model) -> dict:
    """Layer name -> list of inbound layer names (functional or Sequential)."""
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
