"""Hessian-aware bits per output channel, with pruning (``algorithm: hessian``, ``space.granularity: channel``).

A kernel's output channel ``c`` on the grid ``2^-F`` is quantized as :class:`autoq.quantizers.learned_fine.FineBits`
quantizes it: each weight keeps the bits from its own leading bit down to the grid, ``max(0, i_w + F)``, and a
weight with none is exactly 0 (pruned). Each option ``F`` of a channel has

* a sensitivity ``Tr(H_c) / n_c x ||Q_F(w_c) - w_c||^2`` (HAWQ-V2's Omega, per channel). ``Tr(H_c)`` is
  Hutchinson's estimate of the Hessian's diagonal summed over the channel's weights, ``E[v * Hv]`` on the float
  model. A channel's estimate rests on few samples per weight, so it is shrunk halfway to its layer's mean
  (negative estimates count as 0);
* a cost: the channel's EBOPs, the sum of its weights' widths x the bits feeding the layer (one kernel instance).

Coarse grids prune the small weights of a channel first, and the coarsest prunes it whole, so the allocation
prices what pruning saves (pruning-aware). :func:`allocate` picks one option per channel, over every layer at once,
minimising the summed sensitivity at a total cost within a budget: a Lagrangian relaxation (each channel's
``argmin s + lambda c``, lambda bisected), exact on the lower convex hull of each channel's options.
"""
from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from .. import graph
from ..quantizers import learned_fine
from .sensitivity import _weight_vars

SHRINK = 0.5  # weight of a channel's own trace estimate against its layer's mean


def channel_traces(float_model, x, y, loss="categorical_crossentropy", layers=(), n_samples: int = 16,
                   batch_size: int = 256, max_batches: int = 4, seed: int = 0) -> dict:
    """``{layer: Tr(H_c) per output channel}`` (flat, shrunk halfway to the layer's mean, never negative)."""
    loss_fn = tf.keras.losses.get(loss)
    names = list(layers)
    kernels = [_weight_vars(float_model, [n])[(n, "kernel")] for n in names]
    rng = np.random.default_rng(seed)
    x, y = np.asarray(x, np.float32), np.asarray(y, np.float32)
    acc, count = [np.zeros(k.shape, np.float64) for k in kernels], 0

    @tf.function(reduce_retracing=True)
    def diag(xb, yb, vs):
        with tf.GradientTape() as outer:
            with tf.GradientTape() as inner:
                value = tf.reduce_mean(loss_fn(yb, float_model(xb, training=False)))
            gv = tf.add_n([tf.reduce_sum(g * v) for g, v in zip(inner.gradient(value, kernels), vs)])
        return [v * h for v, h in zip(vs, outer.gradient(gv, kernels))]

    for start in range(0, min(len(x), batch_size * max_batches), batch_size):
        xb, yb = tf.constant(x[start:start + batch_size]), tf.constant(y[start:start + batch_size])
        for _ in range(n_samples):
            vs = [tf.constant(rng.choice([-1.0, 1.0], size=tuple(k.shape)).astype(np.float32)) for k in kernels]
            for a, d in zip(acc, diag(xb, yb, vs)):
                a += d.numpy()
            count += 1
    out = {}
    for name, a in zip(names, acc):
        per = _per_channel(a / max(1, count), float_model.get_layer(name).__class__.__name__)
        own = np.maximum(per, 0.0)
        out[name] = SHRINK * own + (1 - SHRINK) * float(np.mean(own))
    return out


def _per_channel(a: np.ndarray, class_name: str) -> np.ndarray:
    """Sum over every axis but the output channel's (flattened)."""
    k = learned_fine.channel_axes(class_name)
    return a.reshape(-1, *a.shape[a.ndim - k:]).sum(axis=0).reshape(-1)


def bn_scale(float_model, layer_name: str, shape) -> np.ndarray:
    """The folded batch norm's per-channel scale of ``layer_name`` (1 without one), broadcast to its kernel."""
    bn = {v: k for k, v in graph.foldable_batchnorms(float_model).items()}.get(layer_name)
    if bn is None:
        return np.ones(shape, np.float64)
    b = float_model.get_layer(bn)
    gamma, _, _, var = (np.asarray(v, np.float64) for v in graph.bn_params(b))
    scale = gamma / np.sqrt(var + b.epsilon)
    k = learned_fine.channel_axes(float_model.get_layer(layer_name).__class__.__name__)
    return np.broadcast_to(scale.reshape(shape[len(shape) - k:]), shape)


def channel_options(kernel: np.ndarray, class_name: str, max_bits: int, scale=None) -> dict:
    """A folded kernel's options per output channel: ``{'F': grid exponents, 'err': [F, channel] squared error in
    the float layer's coordinates, 'width': [F, channel] summed weight widths}``, from every weight pruned to
    ``max_bits`` for the largest."""
    w = np.asarray(kernel, np.float64)
    mag = np.abs(w)
    iw = np.where(mag > 0, np.floor(np.log2(np.where(mag > 0, mag, 1.0))) + 1, -1e4)
    top = float(np.max(iw)) if np.any(mag > 0) else 0.0
    i_layer = max(0, int(top))
    hi = min(learned_fine.FRAC_RANGE[1], max_bits - 1 - i_layer)
    lo = max(learned_fine.FRAC_RANGE[0], min(hi, -int(top)))
    scale = np.ones_like(w) if scale is None else np.asarray(scale, np.float64)
    fs, errs, widths = list(range(lo, hi + 1)), [], []
    for f in fs:
        q = np.where(iw + f > 0, np.round(w * 2.0 ** f) / 2.0 ** f, 0.0)
        errs.append(_per_channel(((q - w) / scale) ** 2, class_name))
        widths.append(_per_channel(np.maximum(0.0, iw + f), class_name))
    return {"F": np.asarray(fs), "err": np.asarray(errs), "width": np.asarray(widths)}


def layer_width(kernel: np.ndarray, bits: int, integer: int) -> float:
    """The summed widths of a kernel under the per-layer ``quantized_bits(bits, integer)``: per weight the bits
    of its rounded magnitude on the grid (0 for a zero), what :func:`channel_options` counts for a kept weight."""
    f = bits - 1 - integer
    k = np.abs(np.clip(np.round(np.asarray(kernel, np.float64) * 2.0 ** f), -2.0 ** (bits - 1), 2.0 ** (bits - 1) - 1))
    return float(np.sum(np.where(k > 0, np.floor(np.log2(np.where(k > 0, k, 1.0))) + 1, 0.0)))


def allocate(sens: np.ndarray, cost: np.ndarray, budget: float, iters: int = 100) -> np.ndarray:
    """Option index per channel (rows; columns the options, ``inf`` sensitivity for none) minimising the summed
    sensitivity with the summed cost within ``budget`` (the cheapest options when none is)."""
    rows = np.arange(len(sens))

    def pick(lam):
        score = sens + lam * cost
        best = np.min(score, axis=1, keepdims=True)  # ties: the cheaper option
        return np.argmin(np.where(score <= best * (1 + 1e-12) + 1e-300, cost, np.inf), axis=1)

    cheapest = np.argmin(np.where(np.isfinite(sens), cost, np.inf), axis=1)
    if cost[rows, cheapest].sum() >= budget:
        return cheapest
    lo, hi = -60.0, 60.0  # log lambda: lo spends freely, hi buys the cheapest
    if cost[rows, pick(math.exp(lo))].sum() <= budget:
        return pick(math.exp(lo))
    for _ in range(iters):
        mid = (lo + hi) / 2
        if cost[rows, pick(math.exp(mid))].sum() <= budget:
            hi = mid
        else:
            lo = mid
    return pick(math.exp(hi))
