"""Layer-width search (AutoQKeras's ``tune_filters: layer``): a width factor per Dense/Conv layer as a hyperparameter.

``space.widths: [0.5, 0.75, 1.0, 1.5]`` gives every searchable layer the hyperparameter ``<layer>/width``;
``space.widths_exceptions`` lists name regexes of layers whose width stays. A layer is searchable when it is a
quantized Dense/Conv1D/Conv2D whose outputs reach the next Dense/Conv only through channel-wise layers (activations,
batch norm, dropout, pooling, zero padding, a Flatten): an output layer (or one feeding an output, an Add, a
Concatenate, a Reshape, a depthwise convolution) keeps its width.

A trial's float model is rebuilt with ``max(1, int(units * factor))`` units/filters and the float weights moved
over where they fit: the strongest units/filters (L1 norm of the kernel's output columns) keep their weights, the
next layer keeps the matching input rows (per position after a Flatten), batch norms keep the matching channels;
new units (factor > 1) and their input rows in the next layer are freshly initialised. That model is then quantized
as usual, so the cost follows the width.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from .errors import SpaceError
from .graph import WIDTH_CLASSES
from .space import SearchSpace, consumers_of, inbound_of

CHANNELWISE = {"Activation", "ReLU", "BatchNormalization", "Dropout", "MaxPooling1D", "MaxPooling2D",
               "AveragePooling1D", "AveragePooling2D", "GlobalAveragePooling1D", "GlobalAveragePooling2D",
               "GlobalMaxPooling1D", "GlobalMaxPooling2D", "ZeroPadding2D"}
AFTER_FLATTEN = {"Dropout", "Activation", "ReLU"}  # per-value layers between a Flatten and the next Dense


def _units_attr(layer) -> str:
    return "units" if layer.__class__.__name__ == "Dense" else "filters"


def _output_names(model) -> set:
    import tensorflow as tf
    if isinstance(model, tf.keras.Sequential):
        return {model.layers[-1].name}
    return {lay.name for lay in model._output_layers}


def searchable(model, candidates, exceptions=()) -> list:
    """Names among ``candidates`` whose width can change (see the module docstring)."""
    inbound = inbound_of(model)
    consumers = consumers_of(inbound)
    by_name = {lay.name: lay for lay in model.layers}
    outputs = _output_names(model)

    def ok(name, flattened=False) -> bool:
        if name in outputs or not consumers.get(name):
            return False
        for c in consumers[name]:
            cls = by_name[c].__class__.__name__
            if cls in WIDTH_CLASSES:
                continue
            if cls == "Flatten" and not flattened:
                if not ok(c, True):
                    return False
            elif cls in (AFTER_FLATTEN if flattened else CHANNELWISE):
                if not ok(c, flattened):
                    return False
            else:
                return False
        return True

    return [n for n in candidates if by_name[n].__class__.__name__ in WIDTH_CLASSES
            and not any(re.fullmatch(rx, n) for rx in exceptions) and ok(n)]


@dataclass
class WidthSearchSpace(SearchSpace):
    """A SearchSpace plus a ``<layer>/width`` factor per searchable layer; a choice carries ``width`` per layer."""

    widths: dict = field(default_factory=dict)  # layer -> list of factors

    def declare(self, hp) -> dict:
        out = super().declare(hp)
        for layer, factors in self.widths.items():
            out[f"{layer}/width"] = hp.Choice(f"{layer}/width", list(factors))
        return out

    def choice(self, values: dict) -> dict:
        out = super().choice(values)
        for layer in self.widths:
            if f"{layer}/width" in values:
                out.setdefault(layer, {})["width"] = values[f"{layer}/width"]
        return out

    def size(self) -> int:
        return int(super().size() * np.prod([len(f) for f in self.widths.values()], dtype=float))


def extend(space: SearchSpace, model, cfg) -> SearchSpace:
    """The space with width hyperparameters when ``space.widths`` is set (else ``space`` unchanged)."""
    factors = [float(f) for f in (cfg.widths or [])]
    if not factors:
        return space
    names = searchable(model, [s.layer for s in space.slots], cfg.widths_exceptions or [])
    if not names:
        raise SpaceError("space.widths: no layer's width can be searched (an output layer keeps its width, and so "
                         "does a layer feeding an Add, Concatenate, Reshape or depthwise convolution, or one listed "
                         "in space.widths_exceptions)")
    return WidthSearchSpace(space.slots, space.input_quantizer, space.float_layers, space.input_choices,
                            widths={n: factors for n in names})


def split_choice(choice: dict) -> tuple:
    """(``{layer: factor}`` of the widths that differ from 1, the choice without widths)."""
    widths = {layer: float(r["width"]) for layer, r in choice.items() if float(r.get("width", 1.0)) != 1.0}
    return widths, {layer: {k: v for k, v in r.items() if k != "width"} for layer, r in choice.items()}


def rebuild(model, factors: dict):
    """The float ``model`` with ``{layer: factor}`` widths, float weights moved over (module docstring)."""
    import tensorflow as tf
    if not factors:
        return model
    by_name = {lay.name: lay for lay in model.layers}
    new_units = {n: max(1, int(getattr(by_name[n], _units_attr(by_name[n])) * f)) for n, f in factors.items()}
    config = model.get_config()
    for lc in config["layers"]:
        name = lc["config"]["name"]
        if name in new_units:
            lc["config"][_units_attr(by_name[name])] = new_units[name]
    new = (tf.keras.Sequential if isinstance(model, tf.keras.Sequential) else tf.keras.Model).from_config(config)
    _transfer(model, new, new_units)
    return new


def _transfer(old, new, new_units: dict) -> None:
    inbound = inbound_of(old)
    maps: dict = {}  # layer -> (kept old channels, new channel count, positions, old channel count) or None
    for layer in old.layers:
        name, cls = layer.name, layer.__class__.__name__
        target = new.get_layer(name)
        srcs = inbound.get(name) or []
        m_in = maps.get(srcs[0]) if len(srcs) == 1 else None
        maps[name] = None
        if cls in WIDTH_CLASSES:
            kernel = layer.kernel.numpy()
            n_old = kernel.shape[-1]
            if name in new_units:
                norms = np.abs(kernel).reshape(-1, n_old).sum(0)
                keep = np.sort(np.argsort(-norms, kind="stable")[:min(n_old, new_units[name])])
                maps[name] = (keep, new_units[name], 1, n_old)
            else:
                keep = np.arange(n_old)
            rows_old, rows_new = _rows(m_in, kernel.shape[-2])
            k = target.kernel.numpy()
            k[..., rows_new[:, None], np.arange(len(keep))[None, :]] = kernel[..., rows_old[:, None], keep[None, :]]
            target.kernel.assign(k)
            if layer.use_bias:
                b = target.bias.numpy()
                b[:len(keep)] = layer.bias.numpy()[keep]
                target.bias.assign(b)
        elif cls == "Flatten" and m_in is not None:
            keep, n_new, pos, n_old = m_in
            maps[name] = (keep, n_new, pos * int(np.prod(layer.input_shape[1:-1])), n_old)
        elif cls in CHANNELWISE or cls in AFTER_FLATTEN:
            maps[name] = m_in
            if layer.weights and m_in is not None:  # a batch norm: its kept channels
                keep = m_in[0]
                target.set_weights([_put(t, w[keep]) for t, w in zip(target.get_weights(), layer.get_weights())])
            elif layer.weights:
                target.set_weights(layer.get_weights())
        elif layer.weights:
            target.set_weights(layer.get_weights())


def _put(fresh: np.ndarray, kept: np.ndarray) -> np.ndarray:
    fresh = fresh.copy()
    fresh[:len(kept)] = kept
    return fresh


def _rows(m_in, n_rows: int) -> tuple:
    """(old rows, new rows) of a kernel's input dimension that carry over."""
    if m_in is None:
        idx = np.arange(n_rows)
        return idx, idx
    keep, n_new, pos, n_old = m_in
    old = np.concatenate([p * n_old + keep for p in range(pos)])
    new = np.concatenate([p * n_new + np.arange(len(keep)) for p in range(pos)])
    return old, new
