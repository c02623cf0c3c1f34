"""Bit widths learned per output channel or per weight, with 0-bit pruning (``space.granularity: channel | weight``,
``algorithm: gradient``): HGQ's method (Sun et al., arXiv:2405.00645) on autoq's learned-bit models.

Every kernel gets a :class:`FineBits` quantizer with a trainable fractional-bit count ``f`` per weight (or per
output channel, broadcast over the weights of the channel); bias and activations keep one
:class:`autoq.quantizers.learned.LearnedBits` per layer. A weight ``w`` with ``F = round(f)`` (straight through):

* integer bits from the weight's own range, ``i_w = floor(log2 |w|) + 1`` (so ``|w| < 2^i_w``), no gradient;
* width ``b_w = max(0, i_w + F)``: the bits from the weight's leading bit down to its grid ``2^-F`` (the sign is not
  counted, as in HGQ's EBOPs);
* value ``round(w 2^F) 2^-F`` when ``b_w > 0``, exactly 0 when ``b_w = 0`` (pruned);
* gradients: 1 w.r.t. ``w`` (straight through, so a pruned weight can come back), HGQ's surrogate
  ``-ln2 (wq - w)`` w.r.t. ``f`` (the rounding error halves per extra fractional bit).

The training cost is HGQ's EBOPs surrogate, ``sum over weights of b_w x the bits of the activation that feeds it``
(one kernel instance for a convolution, as the exact EBOPs count it): :func:`FineBits.bits` is the mean width of the
kernel, so :func:`autoq.quantizers.learned.cost_terms`'s ``ebops`` counts ``kernel size x mean width x input bits`` =
that sum; with every weight
at ``b`` bits it is the project's BOPs at ``b + 1`` kernel bits less the sign bit's share. ``b_w`` bounds the exact
bit span of the quantized value from above (it counts trailing zero bits). Per channel, a channel shares one grid
``2^-F`` but each weight's width still follows its own magnitude, so small weights of a channel are pruned too.

One training (:func:`learn`), the cost weight ``beta`` ramped geometrically step by step (HGQ's log ramp) or steered
to a target EBOPs (HGQ2's BetaPID), and the state after every epoch is a candidate (HGQ2's ParetoFront callback
keeps each epoch on the validation front). :func:`tune` trains a candidate further with its widths fixed and its
pruned weights held at 0 (the ramp's states have bits still moving).

Fold (:func:`fold`): each layer becomes ``quantized_bits(1 + i + F, i, alpha=1)`` with ``F`` the largest grid
exponent of its kept weights and ``i`` the integer bits of its largest weight, its kernel the already-rounded
weights (each on a grid no finer than ``2^-F``, pruned ones 0): QKeras reproduces every value exactly, so the folded
QKeras model computes what the learned model computes, and exports through hls4ml like any trial.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import tensorflow as tf

from . import learned
from ..space import INPUT_KEY, INPUT_QUANT

GRANULARITIES = ("layer", "channel", "weight")
FRAC_RANGE = (-24, 15)  # f's clamp: low enough to prune any weight, high enough for 16-bit kernels


class FineBits(tf.keras.layers.Layer):
    """Kernel quantizer with a fractional-bit count per weight (``granularity='weight'``) or per output channel."""

    def __init__(self, granularity: str = "weight", channel_axes: int = 1, f_init: float = 7.0,
                 max_bits: int = 16, **kw):
        super().__init__(**kw)
        if granularity not in ("weight", "channel"):
            raise ValueError(f"granularity must be 'weight' or 'channel', got {granularity!r}")
        self.granularity, self.channel_axes = granularity, int(channel_axes)
        self.f_init, self.max_bits = float(f_init), int(max_bits)
        self.f = None
        object.__setattr__(self, "_kernel_fn", None)  # set by learned_model's caller; not a tracked attribute

    def build(self, input_shape):
        shape = list(input_shape)
        if self.granularity == "channel":
            shape = [1] * (len(shape) - self.channel_axes) + shape[len(shape) - self.channel_axes:]
        self.f = self.add_weight(name="f", shape=shape, initializer=tf.keras.initializers.Constant(self.f_init))
        self.keep = self.add_weight(name="keep", shape=list(input_shape), initializer="ones", trainable=False)
        super().build(input_shape)

    def _parts(self, x):
        """(straight-through F, F, integer bits per weight, width per weight) of kernel ``x``."""
        x = tf.cast(x, tf.float32)
        fr = self.f + tf.stop_gradient(tf.round(self.f) - self.f)
        F = tf.stop_gradient(fr)
        mag = tf.abs(x)
        iw = tf.where(mag > 0, tf.floor(tf.math.log(tf.maximum(mag, 1e-30)) / math.log(2.0)) + 1.0, -1e4)
        iw = tf.stop_gradient(tf.where(self.keep > 0, iw, -1e4))  # a weight pruned for good: 0 bits
        return fr, F, iw, tf.nn.relu(iw + fr)

    def call(self, x, training=None):
        x = tf.cast(x, tf.float32)
        fr, F, iw, _ = self._parts(x)
        scale = tf.pow(2.0, F)
        xq = tf.where(iw + F > 0, tf.round(x * scale) / scale, tf.zeros_like(x))
        if not training:
            return xq
        err = tf.stop_gradient(xq - x)
        return x + err + err * (-learned.LN2) * (fr - F)

    def widths(self, kernel=None):
        """Per-weight widths ``b_w`` (differentiable w.r.t. ``f``) of ``kernel`` (default the owner's kernel)."""
        return self._parts(self._kernel_fn() if kernel is None else kernel)[3]

    def bits(self):
        """The mean width over the kernel: ``MACs x bits()`` is the sum of the per-weight widths x positions."""
        return tf.reduce_mean(self.widths())

    def project(self, x=None) -> None:
        """Keep ``f`` in :data:`FRAC_RANGE` and the layer's fold within ``max_bits`` (1 + i + F <= max_bits)."""
        hi = FRAC_RANGE[1]
        if x is not None and np.size(x):
            m = float(np.max(np.abs(x)))
            i = max(0, math.floor(math.log2(m)) + 1) if m > 0 else 0
            hi = min(hi, self.max_bits - 1 - i)
        self.f.assign(tf.clip_by_value(self.f, float(FRAC_RANGE[0]), float(hi)))

    def spec_of(self, wq: np.ndarray, F: np.ndarray) -> str:
        """The per-layer QKeras quantizer on whose grid every value of ``wq`` lies exactly."""
        kept = wq != 0
        if not kept.any():
            return "quantized_bits(2,0,alpha=1)"
        m = float(np.max(np.abs(wq)))
        i = max(0, math.floor(math.log2(m)) + 1)
        fmax = max(0, int(np.max(np.broadcast_to(F, wq.shape)[kept])))
        return f"quantized_bits({1 + i + fmax},{i},alpha=1)"


def channel_axes(class_name: str) -> int:
    """How many trailing kernel axes index an output channel (DepthwiseConv2D: channel x multiplier)."""
    return 2 if class_name == "DepthwiseConv2D" else 1


def input_bits(space, input_quantizer: str | None = None):
    """A learned input quantizer when ``space.input_quantizer`` lists several (the input is searched; HGQ learns
    its input's bits too): signed, its width within the listed widths, starting at the reference's fractional bits;
    else None (the input quantizer stays as given)."""
    if not getattr(space, "input_searched", False):
        return None
    from .. import quantizers
    widths = [quantizers.parse(q).equivalent().bits for q in space.input_choices]
    ref = quantizers.parse(input_quantizer or space.input_quantizer).equivalent()
    return learned.LearnedBits(True, f_init=ref.bits - 1 - ref.integer, integer=ref.integer,
                               bits_range=(min(widths), max(widths)), name=INPUT_QUANT)


def fine_model(float_model, space, granularity: str, init_bits: int = 8, input_quantizer: str | None = None):
    """:func:`autoq.quantizers.learned.learned_model` with a :class:`FineBits` on every kernel (and learned input
    bits when the input is searched: :func:`input_bits`)."""
    def kq(slot, name):
        lo, hi = learned._bits_range(slot, "kernel")
        return FineBits(granularity, channel_axes(slot.class_name), f_init=min(init_bits, hi) - 1, max_bits=hi,
                        name=name)
    model = learned.learned_model(float_model, space, init_bits, input_quantizer, kernel_quantizer=kq,
                                  input_bits=input_bits(space, input_quantizer))
    for layer in model.layers:
        if isinstance(layer, learned.LearnedQLayer):
            object.__setattr__(layer.kq, "_kernel_fn", (lambda lay: (lambda: lay.kernel))(layer))
            layer.project()
    return model


@dataclass
class Candidate:
    """One epoch's state: folded choice, the weights of the folded model, its validation score and cost."""

    epoch: int
    beta: float
    choice: dict  # {layer: {role: spec}}
    weights: dict  # {layer: [kernel already quantized, bias ...]} (other weighted layers whole)
    val_score: float  # the caller's validation metric (higher is better)
    ebops: float  # the surrogate at this state: sum of per-weight widths x input bits (one kernel instance)
    pruned: float  # fraction of kernel weights at 0 bits
    loss: float  # the training task loss of the epoch
    state: list = field(default_factory=list, repr=False)  # every variable of the fine model (to tune it)


def read(model, epoch=0, beta=0.0, val_score=float("nan"), loss=float("nan")) -> Candidate:
    """The fold's choice and weights of a fine model's current state."""
    choice, weights, zeros, total = {}, {}, 0, 0
    for layer in model.layers:
        if isinstance(layer, learned.LearnedQLayer):
            wq = layer.kq(layer.kernel, training=False).numpy()
            F = np.round(layer.kq.f.numpy())
            choice.setdefault(layer.name, {})["kernel"] = layer.kq.spec_of(wq, F)
            if layer.bq is not None:
                choice[layer.name]["bias"] = layer.bq.spec()
            weights[layer.name] = [wq] + layer.inner.get_weights()[1:]
            zeros, total = zeros + int(np.sum(wq == 0)), total + wq.size
        elif isinstance(layer, learned.LearnedBits) and layer.name == INPUT_QUANT:
            choice[INPUT_KEY] = {"quantizer": layer.spec()}
        elif isinstance(layer, learned.LearnedBits):
            choice.setdefault(learned.owner_of(layer), {})["activation"] = layer.spec()
        elif layer.weights:
            weights[layer.name] = layer.get_weights()
    ebops = float(learned.cost_terms(model)["ebops"])
    return Candidate(int(epoch), float(beta), choice, weights, float(val_score), ebops, zeros / max(1, total),
                     float(loss), [np.array(v) for v in model.get_weights()])


def fold(float_model, cand: Candidate, input_quantizer: str | None = None):
    """The plain QKeras model of a candidate (:func:`autoq.quantizers.learned.fold`): same outputs."""
    choice = {k: v for k, v in cand.choice.items() if k != INPUT_KEY}
    iq = cand.choice.get(INPUT_KEY, {}).get("quantizer", input_quantizer)
    return learned.fold(float_model, learned.Learned(cand.beta, choice, {}, cand.weights, cand.ebops, cand.loss), iq)


def beta_ramp(steps: int, beta_range=(0.1, 100.0)) -> np.ndarray:
    """The cost weight of each step: geometric from ``beta_range[0]`` to ``[1]`` (HGQ's log ramp)."""
    return np.geomspace(beta_range[0], beta_range[1], max(1, steps))


def _dominates(a: Candidate, b: Candidate) -> bool:
    return a.val_score >= b.val_score and a.ebops <= b.ebops and (a.val_score > b.val_score or a.ebops < b.ebops)


def _drop_dominated(cands: list) -> None:
    """Free the weights and state of the candidates the newest one dominates (or itself, if dominated): only the
    validation front is ever folded or tuned, and a long training would otherwise hold every epoch's weights."""
    new = cands[-1]
    for c in cands[:-1]:
        if c.state and _dominates(new, c):
            c.weights, c.state = {}, []
    if any(c.state and _dominates(c, new) for c in cands[:-1]):
        new.weights, new.state = {}, []


def learn(float_model, space, x_train, y_train, x_val, y_val, score, granularity: str = "weight", epochs: int = 8,
          beta_range=(0.1, 100.0), batch_size: int = 64, learning_rate: float = 1e-3, bits_learning_rate: float = 0.1,
          loss="categorical_crossentropy", init_bits: int = 8, input_quantizer: str | None = None,
          seed: int = 0, target: float | None = None, on_epoch=None) -> list:
    """One training of per-``granularity`` bits on loss + beta x EBOPs / EBOPs at start, beta ramped over the
    steps; -> one :class:`Candidate` per epoch (``score(y_val, prediction)``, higher is better); only those on the
    validation front keep their weights and state (:func:`_drop_dominated`). ``on_epoch(candidate, epochs)`` is
    called after each epoch (progress).

    ``target`` (EBOPs): beta is steered instead, as HGQ2's BetaPID steers it: it starts at ``beta_range[0]`` and
    after each epoch is multiplied by sqrt(EBOPs / target) (an integral controller on log beta, gain 1/2: gain 1
    overshot on digits), so the training settles where the surrogate meets the target; beta stays within 1/100 of
    ``beta_range[0]`` and 100x ``beta_range[1]``."""
    loss_fn = tf.keras.losses.get(loss)
    x_train, y_train = np.asarray(x_train, np.float32), np.asarray(y_train, np.float32)
    tf.keras.utils.set_random_seed(seed)
    model = fine_model(float_model, space, granularity, init_bits, input_quantizer)
    peaks, infer = learned.activation_peaks(model), learned.inference(model)
    learned.calibrate(model, x_train, peaks=peaks)
    ref = float(learned.cost_terms(model)["ebops"]) or 1.0
    per_epoch = -(-len(x_train) // batch_size)
    ramp = beta_ramp(epochs * per_epoch, beta_range)
    steered = float(beta_range[0])
    opt, opt_f = tf.keras.optimizers.Adam(learning_rate), tf.keras.optimizers.Adam(bits_learning_rate)
    wq = [l for l in model.layers if isinstance(l, learned.LearnedQLayer)]
    fs = [v for v in model.trainable_variables if v.name.split("/")[-1].startswith("f:")]
    ws = [v for v in model.trainable_variables if all(v is not f for f in fs)]

    @tf.function(reduce_retracing=True)
    def step(x, y, beta):
        with tf.GradientTape() as tape:
            task = tf.reduce_mean(loss_fn(y, model(x, training=True)))
            c = learned.cost_terms(model)["ebops"] / ref
            total = task + beta * c
        gw, gf = tape.gradient(total, [ws, fs])
        opt.apply_gradients([(g, v) for g, v in zip(gw, ws) if g is not None])
        opt_f.apply_gradients([(g, v) for g, v in zip(gf, fs) if g is not None])
        return task

    rng = np.random.default_rng(seed)
    out, k = [], 0
    for epoch in range(epochs):
        order, losses = rng.permutation(len(x_train)), []
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            beta = steered if target else float(ramp[min(k, len(ramp) - 1)])
            losses.append(float(step(tf.constant(x_train[idx]), tf.constant(y_train[idx]), tf.constant(beta))))
            k += 1
            for layer in wq:
                layer.project()
        learned.calibrate(model, x_train, peaks=peaks)
        pred = infer(x_val)
        out.append(read(model, epoch + 1, beta, score(y_val, pred), float(np.mean(losses))))
        _drop_dominated(out)
        if on_epoch is not None:
            on_epoch(out[-1], epochs)
        if target:
            steered = float(np.clip(steered * math.sqrt(out[-1].ebops / target), beta_range[0] / 100,
                                    beta_range[1] * 100))
    return out


def tune(float_model, space, cand: Candidate, x_train, y_train, x_val, y_val, score, granularity: str = "weight",
         epochs: int = 2, batch_size: int = 64, learning_rate: float = 1e-3, loss="categorical_crossentropy",
         input_quantizer: str | None = None, seed: int = 0) -> Candidate:
    """``cand`` trained ``epochs`` more with every width fixed (kernel, bias and activation ``f``, activation
    ranges) and its pruned weights held at 0: only the weights move, on their own grids. -> the epoch with the best
    validation score (the candidate itself when none is better)."""
    return tune_all(float_model, space, [cand], x_train, y_train, x_val, y_val, score, granularity, epochs,
                    batch_size, learning_rate, loss, input_quantizer, seed)[0]


def tune_all(float_model, space, cands: list, x_train, y_train, x_val, y_val, score, granularity: str = "weight",
             epochs: int = 2, batch_size: int = 64, learning_rate: float = 1e-3, loss="categorical_crossentropy",
             input_quantizer: str | None = None, seed: int = 0) -> list:
    """:func:`tune` of each of ``cands`` on one model and one traced training step (:class:`Tuner`)."""
    return Tuner(float_model, space, x_train, y_train, x_val, y_val, score, granularity, epochs, batch_size,
                 learning_rate, loss, input_quantizer, seed)(cands)


class Tuner:
    """``tuner(cands) -> tuned``, :func:`tune` of each candidate (a fresh Adam state and the same shuffles for each)
    on one fine model and one traced training step, built once for every call: building and tracing a model per
    candidate cost more than its epochs. ``model`` is that fine model (its weights are those last tuned)."""

    def __init__(self, float_model, space, x_train, y_train, x_val, y_val, score, granularity: str = "weight",
                 epochs: int = 2, batch_size: int = 64, learning_rate: float = 1e-3, loss="categorical_crossentropy",
                 input_quantizer: str | None = None, seed: int = 0):
        loss_fn = tf.keras.losses.get(loss)
        self.x, self.y = np.asarray(x_train, np.float32), np.asarray(y_train, np.float32)
        self.x_val, self.y_val, self.score = x_val, y_val, score
        self.epochs, self.batch_size, self.seed = epochs, batch_size, seed
        tf.keras.utils.set_random_seed(seed)
        model = self.model = fine_model(float_model, space, granularity, input_quantizer=input_quantizer)
        self.wq = [l for l in model.layers if isinstance(l, learned.LearnedQLayer)]
        ws = [v for v in model.trainable_variables if not v.name.split("/")[-1].startswith("f:")]
        opt = self.opt = tf.keras.optimizers.Adam(learning_rate)
        self.infer = learned.inference(model)
        opt.build(ws)

        @tf.function(reduce_retracing=True)
        def step(x, y):
            with tf.GradientTape() as tape:
                task = tf.reduce_mean(loss_fn(y, model(x, training=True)))
            opt.apply_gradients([(g, v) for g, v in zip(tape.gradient(task, ws), ws) if g is not None])
            return task
        self.step = step

    def __call__(self, cands: list) -> list:
        return [self._one(c) for c in cands]

    def _one(self, cand: Candidate) -> Candidate:
        model, x, y = self.model, self.x, self.y
        model.set_weights(cand.state)
        for v in self.opt.variables:
            v.assign(tf.zeros_like(v))
        for layer in self.wq:
            layer.kq.keep.assign(tf.cast(layer.kq.widths() > 0, tf.float32))
        rng, best = np.random.default_rng(self.seed), cand
        for _ in range(self.epochs):
            order, losses = rng.permutation(len(x)), []
            for start in range(0, len(order), self.batch_size):
                idx = order[start:start + self.batch_size]
                losses.append(float(self.step(tf.constant(x[idx]), tf.constant(y[idx]))))
                for layer in self.wq:
                    layer.project()
            now = read(model, cand.epoch, cand.beta, self.score(self.y_val, self.infer(self.x_val)),
                       float(np.mean(losses)))
            if now.val_score > best.val_score or (now.val_score == best.val_score and now.ebops < best.ebops):
                best = now
        return best
