"""C simulation vs QKeras: per-layer outputs side by side, the compared tensor, the first differing layer.

The compared tensor is the model output, or the logits when the model ends in a float softmax or sigmoid (hls4ml
computes them with lookup tables, an approximation: their figures are reported separately and labelled as such;
argmax agreement for a softmax, agreement of the decision at 0.5 for a sigmoid).
hls4ml encodes binary (+-1) outputs as 0/1 (XNOR); they are decoded before comparing.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..graph import inbound_layers
from .vocabulary import HEAD_ACTIVATIONS


@dataclass
class Check:
    """What the comparison found."""

    compared_layer: str
    agreement: float
    max_abs_diff: float
    first_mismatch_layer: str | None
    layer_max_abs_diff: dict = field(default_factory=dict)
    softmax_agreement: float | None = None  # the approximated head's agreement (softmax or sigmoid, see ``head``)
    softmax_max_abs_diff: float | None = None
    head: str | None = None  # "softmax" / "sigmoid": the float head hls4ml approximates with a table


def keras_layer_outputs(model: Any, x: np.ndarray) -> dict[str, np.ndarray]:
    """Every non-input layer's output on ``x`` (float64), in layer order."""
    import tensorflow as tf

    layers = [lay for lay in model.layers if type(lay).__name__ != "InputLayer"]
    probe = tf.keras.Model(model.inputs, [lay.output for lay in layers])
    outs = probe.predict(x, verbose=0, batch_size=max(1, min(len(x), 1024)))
    outs = outs if isinstance(outs, list) else [outs]
    res = {lay.name: np.asarray(o, dtype=np.float64) for lay, o in zip(layers, outs)}
    last = layers[-1]
    if _own_softmax(last):  # a layer with activation='softmax': its logits, from a linear copy of it
        cfg = dict(last.get_config(), activation="linear", name=f"{last.name}_logits")
        copy = type(last).from_config(cfg)
        inbound = probe.get_layer(last.name).input
        logits = tf.keras.Model(model.inputs, copy(inbound))
        copy.set_weights(last.get_weights())
        res[LOGITS.format(last.name)] = np.asarray(logits.predict(x, verbose=0, batch_size=max(1, min(len(x), 1024))),
                                                   dtype=np.float64)
    return res


LOGITS = "{}:logits"


def _act_name(layer: Any) -> str:
    act = getattr(layer, "activation", None)
    return act if isinstance(act, str) else getattr(act, "__name__", "")


def _own_softmax(layer: Any) -> bool:
    """A weight layer with its own float softmax/sigmoid activation (a table-approximated head)."""
    return type(layer).__name__ not in ("Activation", "Softmax", "QActivation") and _act_name(layer) in HEAD_ACTIVATIONS


def hls_name_map(kmodel: Any, hls_model: Any) -> dict[str, Any]:
    """Keras layer name -> the hls4ml layer whose output equals it (the last one hls4ml made from the layer:
    ``fc1`` -> ``fc1_relu`` for an activation argument, ``fc1_alpha`` for an alpha scale, ``bnbt_...``)."""
    order = [lay.name for lay in kmodel.layers]
    knames = sorted(order, key=len, reverse=True)
    out: dict[str, Any] = {}
    for node in hls_model.get_layers():
        base = node.name.removeprefix("bnbt_")
        owner = next((k for k in knames if base == k or base.startswith(k + "_")), None)
        if owner is not None and node.class_name == "BatchNormalizationQuantizedTanh":
            # hls4ml fused the scale with the binary/ternary activation that follows it: that layer's output
            after = [lay for lay in kmodel.layers[order.index(owner) + 1:] if type(lay).__name__ == "QActivation"]
            owner = after[0].name if after else owner
        if owner is not None:
            out[owner] = node  # graph order: the last node made from a Keras layer carries its output
    return out


def _decode(node: Any, values: np.ndarray) -> np.ndarray:
    """hls4ml's XNOR encoding of binary outputs (0 means -1) back to +-1."""
    if node is not None and type(node.get_output_variable().type.precision).__name__.endswith("XnorPrecisionType"):
        return np.where(values == 0, -1.0, 1.0)
    return values


def _is_softmax(layer: Any) -> bool:
    """A Softmax layer or an Activation('softmax'/'sigmoid') layer (a table-approximated head)."""
    cls = type(layer).__name__
    return cls == "Softmax" or (cls == "Activation" and _act_name(layer) in HEAD_ACTIVATIONS)


def head_agreement(head: str, a: np.ndarray, b: np.ndarray) -> float:
    """Agreement of two head outputs: argmax for a softmax, the decision at 0.5 for a sigmoid (every output)."""
    if head == "sigmoid":
        return float(np.mean((a > 0.5) == (b > 0.5)))
    return agreement(a, b)


def agreement(a: np.ndarray, b: np.ndarray) -> float:
    a2, b2 = a.reshape(len(a), -1), b.reshape(len(b), -1)
    if a2.shape[1] == 1:
        return float(np.mean(a2[:, 0] == b2[:, 0]))
    return float(np.mean(np.argmax(a2, axis=1) == np.argmax(b2, axis=1)))


def compare(kmodel: Any, hls_model: Any, keras_out: dict, y_hls: np.ndarray, trace: dict, floats: set) -> Check:
    """Compare the C simulation (output ``y_hls`` and per-layer ``trace``) with the QKeras outputs."""
    names = hls_name_map(kmodel, hls_model)
    last = [lay for lay in kmodel.layers if type(lay).__name__ != "InputLayer"][-1]
    diffs: dict[str, float] = {}
    hls_out: dict[str, np.ndarray] = {}
    hls_names = {n.name for n in hls_model.get_layers()}
    scaled = {lay.name for lay in kmodel.layers if f"{lay.name}_alpha" in hls_names or f"bnbt_{lay.name}_alpha" in
              hls_names}
    for lname, kout in keras_out.items():
        node = names.get(lname) if not lname.endswith(":logits") else None
        if node is None or node.get_attr("autoq_clipped") or (lname in scaled and node.name == lname):
            continue  # hls4ml's tensor there is not Keras' (scale applied later, or clipped for the next layer)
        if node.name in trace:
            h = _decode(node, np.asarray(trace[node.name], dtype=np.float64)).reshape(kout.shape)
            hls_out[lname] = h
            diffs[lname] = float(np.max(np.abs(h - kout)))
    out_node = list(hls_model.get_layers())[-1]
    hls_out[last.name] = _decode(out_node, np.asarray(y_hls, dtype=np.float64)).reshape(keras_out[last.name].shape)
    compared, sm_agree, sm_diff, head = last.name, None, None, None
    if _is_softmax(last):
        head = "softmax" if type(last).__name__ == "Softmax" else _act_name(last)
        y_k, y_h = keras_out[last.name], hls_out[last.name]
        sm_agree, sm_diff = head_agreement(head, y_h, y_k), float(np.max(np.abs(y_h - y_k)))
        logits = inbound_layers(last)[0].name
        if logits in hls_out:
            compared = logits
    elif _own_softmax(last) and last.name in names and names[last.name].name != last.name:
        head = _act_name(last)
        y_k, y_h = keras_out[last.name], hls_out[last.name]
        sm_agree, sm_diff = head_agreement(head, y_h, y_k), float(np.max(np.abs(y_h - y_k)))
        pre = names[last.name].get_input_node()  # what feeds hls4ml's softmax (after any alpha scale)
        if pre is not None and pre.name in trace:
            compared = LOGITS.format(last.name)
            hls_out[compared] = _decode(pre, np.asarray(trace[pre.name], dtype=np.float64)).reshape(
                keras_out[compared].shape)
            diffs[compared] = float(np.max(np.abs(hls_out[compared] - keras_out[compared])))
    elif last.name not in diffs:
        diffs[last.name] = float(np.max(np.abs(hls_out[last.name] - keras_out[last.name])))
    ref, got = keras_out[compared], hls_out[compared]
    max_diff = float(np.max(np.abs(got - ref)))
    first_bad = None
    if max_diff > 0:
        order = list(keras_out)[: list(keras_out).index(compared) + 1]
        first_bad = next((n for n in order if diffs.get(n, 0.0) > 0 and n not in floats), compared)
    return Check(compared, agreement(got, ref), max_diff, first_bad, diffs, sm_agree, sm_diff, head)


# ------------------------------------------------------------------------------------------ several outputs
def keras_output(kmodel: Any, keras_out: dict) -> np.ndarray:
    """A multi-output model's Keras outputs as the testbench reads them: every output flattened, concatenated in
    output order."""
    names = list(kmodel.output_names)
    return np.concatenate([keras_out[n].reshape(len(keras_out[n]), -1) for n in names], axis=1)


def compare_outputs(kmodel: Any, hls_model: Any, keras_out: dict, y_hls: Any, trace: dict, floats: set) -> Check:
    """:func:`compare` for each output of a multi-output model (its logits when it is a float softmax), merged: the
    worst agreement and difference, the first mismatching layer."""
    import tensorflow as tf

    y_hls = y_hls if isinstance(y_hls, (list, tuple)) else [y_hls]
    checks = []
    for out, y in zip(kmodel.outputs, y_hls):
        sub = tf.keras.Model(kmodel.inputs, out)
        checks.append(compare(sub, hls_model, keras_out, np.asarray(y), trace, floats))
    diffs = {}
    for c in checks:
        diffs.update(c.layer_max_abs_diff)
    sm = [c for c in checks if c.softmax_agreement is not None]
    return Check("+".join(c.compared_layer for c in checks), min(c.agreement for c in checks),
                 max(c.max_abs_diff for c in checks),
                 next((c.first_mismatch_layer for c in checks if c.first_mismatch_layer), None), diffs,
                 min(c.softmax_agreement for c in sm) if sm else None,
                 max(c.softmax_max_abs_diff for c in sm) if sm else None,
                 "/".join(sorted({c.head for c in sm})) or None)
