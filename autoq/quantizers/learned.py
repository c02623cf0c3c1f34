"""Bit widths learned in training (issue #16, ``algorithm: gradient``): the algorithmic core.

Every quantizable slot of a search space gets, per role (kernel, bias, activation), a :class:`LearnedBits`
quantizer with a trainable real number of fractional bits ``f`` and an integer-bit count ``i`` set from the
observed range. Its forward pass is QKeras's own arithmetic, operation for operation, at ``F = round(f)``:

* kernel/bias, as ``quantized_bits(b, i, alpha=1)`` with ``b = 1 + i + F``:
  ``xq = clip(round(x 2^F), -2^(b-1), 2^(b-1) - 1) 2^-F``, output ``x + stop_gradient(xq - x)``;
* activation, as ``quantized_relu(b, i)`` with ``b = i + F``:
  ``xq = clip(round(x 2^F) 2^-F, 0, 2^i - 2^-F)``, output ``x_u + stop_gradient(xq - x_u)``,
  ``x_u = relu(x)`` clipped at ``2^i - 2^-F``.

``round`` is ``tf.round`` (half to even) as in QKeras; every scaling is by a power of two, so the values are
exact in float32. Hence :func:`fold` (``space.build_qmodel`` with the learned choice, weights copied) gives the
same outputs as the learned model, bit for bit.

Gradients: w.r.t. ``x`` the straight-through estimator of QKeras (1; for the ReLU 1 on ``(0, max]``). W.r.t.
``f`` the surrogate of HGQ (Sun et al., "Gradient-based automatic mixed precision quantization for neural
networks on-chip", arXiv:2405.00645, sec. 3.2): the rounding error ``d = xq - x`` halves per extra fractional
bit, ``d ~ 2^-f``, so ``dxq/df = -ln2 d`` (only where ``x`` is not clipped; the clip error does not depend on
``f``). ``F = round(f)`` is straight-through.

Bits are clamped to ``[2, 16]`` for kernel/bias (``quantized_bits`` with 1 bit is a sign quantizer, not fixed
point) and ``[1, 16]`` for activations (or the range of the space's specs for that role). There is no 0-bit
(pruned) state: ``f`` is projected back into the range after each step, so the clamp is part of the forward
pass and the fold stays exact. Integer bits are ``max(0, ceil(log2 max|x|))`` (QKeras refuses negative
``integer``): for weights recomputed after every step, for activations from the training data before training
and after each epoch. Per-channel and per-weight bits, with pruning, are :mod:`autoq.quantizers.learned_fine`'s.

The cost added to the loss is ``beta x cost / cost_at_start`` (scale free), the cost one of
``bops`` (MACs x kernel bits x input bits, as :mod:`autoq.cost`), ``bits`` (weight bits) or ``energy``, a linear
surrogate of QTools' energy (:data:`ENERGY_PJ`, fitted by :func:`autoq.cost.energyfit.fit_energy`).

Over 400 lines because the quantizer, the model built from it, its differentiable cost and the training loop that
learns the bits are one definition: split, the fold's exactness would depend on four files agreeing.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import tensorflow as tf

from .. import graph, quantizers
from .. import space as space_mod
from ..cost import pricing as cost_mod

LN2 = math.log(2.0)
WEIGHT_BITS = (2, 16)
ACT_BITS = (1, 16)

#: pJ per unit of each energy feature (horowitz, everything in fixed memory: autoq's default EnergySettings),
#: fitted by :func:`autoq.cost.energyfit.fit_energy` on 20 uniform jet taggers (kernel/bias 2, 4, 6, 8, 12 bits x activations 2, 4, 8,
#: 12 bits, input quantized_bits(16,6)): max relative error 0.5 %. Per MAC 0.0030 pJ per (kernel bit x input bit),
#: per weight bit 0.0032 pJ, per activation output bit 0.085 pJ; the adder term came out 0 (absorbed by the
#: others); ``const`` (input layer and float softmax head) is the jet tagger's, irrelevant to gradients.
ENERGY_PJ = {"mult": 0.003037, "add": 0.0, "weights": 0.003240, "acts": 0.08499, "const": 154.76}


class LearnedBits(tf.keras.layers.Layer):
    """Fixed-point quantizer with a trainable fractional-bit count ``f`` (scalar) and integer bits ``i``.

    ``signed=True``: ``quantized_bits(b, i, alpha=1)``; ``signed=False``: ``quantized_relu(b, i)``."""

    def __init__(self, signed: bool, f_init: float = 7.0, integer: int = 0, bits_range=None, **kw):
        super().__init__(**kw)
        self.signed = bool(signed)
        self.bits_range = tuple(bits_range or (WEIGHT_BITS if signed else ACT_BITS))
        self.f = self.add_weight(name="f", shape=(), initializer=tf.keras.initializers.Constant(f_init))
        self.i = self.add_weight(name="i", shape=(), initializer=tf.keras.initializers.Constant(integer),
                                 trainable=False)

    def _frac_range(self):
        sign = 1.0 if self.signed else 0.0
        return self.bits_range[0] - sign - self.i, self.bits_range[1] - sign - self.i

    def frac(self):
        """``F = clip(round(f))`` in value, gradient 1 w.r.t. ``f`` (straight through)."""
        lo, hi = self._frac_range()
        return self.f + tf.stop_gradient(tf.clip_by_value(tf.round(self.f), lo, hi) - self.f)

    def bits(self):
        """Total bits ``i + sign + F`` (differentiable w.r.t. ``f``)."""
        return tf.stop_gradient(self.i) + (1.0 if self.signed else 0.0) + self.frac()

    def project(self, x=None) -> None:
        """Set ``i`` from ``x``'s range (if given) and bring ``f`` back into the allowed bit range."""
        if x is not None:
            m = float(np.max(np.abs(x))) if np.size(x) else 0.0
            self.i.assign(float(max(0, math.ceil(math.log2(m)))) if m > 0 else 0.0)
        lo, hi = self._frac_range()
        self.f.assign(tf.clip_by_value(self.f, lo, hi))

    def call(self, x):
        x = tf.cast(x, tf.float32)
        fr = self.frac()
        F = tf.stop_gradient(fr)
        scale = tf.pow(2.0, F)
        r = tf.round(x * scale)
        if self.signed:
            n = tf.pow(2.0, self.i + F)  # 2^(b-1)
            xq = tf.clip_by_value(r, -n, n - 1.0) / scale
            xu = x
            free = tf.logical_and(r >= -n, r <= n - 1.0)
        else:
            top = tf.pow(2.0, self.i) - 1.0 / scale
            xu = tf.where(x <= top, tf.nn.relu(x), tf.ones_like(x) * top)
            xq = tf.clip_by_value(r / scale, 0.0, top)
            free = tf.logical_and(x >= 0.0, x <= top)
        err = tf.stop_gradient(tf.where(free, r / scale - x, tf.zeros_like(x)))
        return xu + tf.stop_gradient(-xu + xq) + err * (-LN2) * (fr - F)

    def set_bits(self, bits: int, integer: int) -> None:
        """Put the quantizer at ``bits`` total bits with ``integer`` integer bits (what :meth:`spec` reads back)."""
        self.i.assign(float(integer))
        self.f.assign(float(bits - integer - (1 if self.signed else 0)))

    def spec(self) -> str:
        """The QKeras spec string of the current bits."""
        b, i = int(round(float(self.bits()))), int(round(float(self.i)))
        return f"quantized_bits({b},{i},alpha=1)" if self.signed else f"quantized_relu({b},{i})"


class LearnedQLayer(tf.keras.layers.Layer):
    """A Dense/Conv1D/Conv2D/DepthwiseConv2D with learned-bit kernel and bias quantizers; the same TF ops as
    the QKeras layer (``K.dot``/``K.conv*`` then ``K.bias_add``), no activation."""

    def __init__(self, class_name: str, config: dict, kq: LearnedBits, bq: LearnedBits | None, **kw):
        super().__init__(**kw)
        self.class_name = class_name
        cfg = dict(config, activation="linear", name=f"{kw.get('name', class_name)}_float")
        self.inner = getattr(tf.keras.layers, class_name).from_config(cfg)
        self.kq, self.bq = kq, bq

    def build(self, input_shape):
        self.inner.build(input_shape)
        super().build(input_shape)

    @property
    def kernel(self):
        return self.inner.depthwise_kernel if self.class_name == "DepthwiseConv2D" else self.inner.kernel

    def call(self, x):
        K, L, k = tf.keras.backend, self.inner, self.kq(self.kernel)
        if self.class_name == "Dense":
            y = K.dot(x, k)
        elif self.class_name == "Conv1D":
            y = K.conv1d(x, k, strides=L.strides[0], padding=L.padding, data_format=L.data_format,
                         dilation_rate=L.dilation_rate[0])
        elif self.class_name == "Conv2D":
            y = K.conv2d(x, k, strides=L.strides, padding=L.padding, data_format=L.data_format,
                         dilation_rate=L.dilation_rate)
        else:
            y = K.depthwise_conv2d(x, k, strides=L.strides, padding=L.padding, dilation_rate=L.dilation_rate,
                                   data_format=L.data_format)
        if L.use_bias:
            y = K.bias_add(y, self.bq(L.bias) if self.bq is not None else L.bias,
                           data_format="channels_last" if self.class_name == "Dense" else L.data_format)
        return y

    def project(self) -> None:
        self.kq.project(self.kernel.numpy())
        if self.bq is not None:
            self.bq.project(self.inner.bias.numpy())


def owner_of(act: LearnedBits) -> str:
    """The layer an activation quantizer belongs to (a layer's own activation is named ``<layer>_relu``)."""
    return act.name[:-len("_relu")] if act.name.endswith("_relu") else act.name


def _slots(space_or_slots):
    if isinstance(space_or_slots, space_mod.SearchSpace):
        return space_or_slots.slots, space_or_slots.input_quantizer
    return list(space_or_slots), None


def _bits_range(slot, role):
    """The range of bits of the slot's specs for ``role`` (the module defaults if it lists none)."""
    default = WEIGHT_BITS if role != "activation" else ACT_BITS
    bits = [quantizers.parse(s, role).equivalent().bits for s in slot.roles.get(role, [])]
    lo, hi = (min(bits), max(bits)) if bits else default
    return max(lo, default[0]), min(hi, default[1])


def learned_model(float_model, space_or_slots, init_bits: int = 8, input_quantizer: str | None = None,
                  kernel_quantizer=None, input_bits=None):
    """The trainable learned-bit model of ``float_model``: every slot's kernel, bias and activation get a
    :class:`LearnedBits`; batch norms are folded as in :func:`autoq.space.build_qmodel`; layer names are those
    of the QKeras model, so :func:`fold` can copy weights by name. ``kernel_quantizer(slot, name)``, if given,
    makes the kernels' quantizers instead (per-channel / per-weight bits: :mod:`autoq.quantizers.learned_fine`);
    ``input_bits`` (a signed :class:`LearnedBits`), if given, replaces the input quantizer (its bits learned too)."""
    slots, iq = _slots(space_or_slots)
    iq = input_quantizer if input_quantizer is not None else iq
    placeholder = {s.layer: {r: ("quantized_relu(8,0)" if r == "activation" else "quantized_bits(8,0,alpha=1)")
                             for r in s.roles} for s in slots}
    q = space_mod.build_qmodel(float_model, placeholder, iq, name=f"{float_model.name}_learned")
    by_slot = {s.layer: s for s in slots}
    act_of = {s.activation_layer: s for s in slots if s.activation_layer}

    def hook(layer, x, walk):
        if layer.name in by_slot and layer.__class__.__name__ != "QActivation":
            s = by_slot[layer.name]

            def lb(role, signed):
                lo, hi = _bits_range(s, role)
                return LearnedBits(signed, f_init=min(init_bits, hi) - 1, bits_range=(lo, hi),
                                   name=f"{layer.name}_{role}_bits")
            kq = (kernel_quantizer(s, f"{layer.name}_kernel_bits") if kernel_quantizer is not None
                  else lb("kernel", True))
            new = LearnedQLayer(s.class_name, float_model.get_layer(layer.name).get_config() | {
                "use_bias": bool(layer.use_bias)}, kq, lb("bias", True) if "bias" in s.roles
                else None, name=layer.name)
            y = new(x)
            new.inner.set_weights(layer.get_weights())
            return y
        if layer.name in act_of:
            lo, hi = _bits_range(act_of[layer.name], "activation")
            return LearnedBits(False, f_init=min(init_bits, hi), bits_range=(lo, hi), name=layer.name)(x)
        if input_bits is not None and layer.name == space_mod.INPUT_QUANT and len(walk.inputs) == 1:
            return input_bits(x)
        return None  # input quantizer, pass-through and float layers: fresh copies, same weights

    model, _ = graph.rebuild(q, hook)
    for layer in model.layers:
        if isinstance(layer, LearnedQLayer):
            layer.project()
    return model


def activation_peaks(model):
    """(activation quantizers, ``x -> [largest value feeding each]``): one traced pass, built once per model so
    that calibrating after every epoch does not build and trace a new probe model each time."""
    acts = [l for l in model.layers if isinstance(l, LearnedBits)]
    if not acts:
        return acts, None
    probe = tf.keras.Model(model.inputs, [l.input for l in acts])

    @tf.function(reduce_retracing=True)
    def peaks(x):
        out = probe(x, training=False)
        out = out if isinstance(out, (list, tuple)) else [out]
        return [tf.reduce_max(tf.abs(v) if l.signed else tf.maximum(v, 0.0)) for l, v in zip(acts, out)]
    return acts, peaks


def calibrate(model, x, batch_size: int = 1024, peaks=None) -> None:
    """Set every activation quantizer's integer bits from the range of its input over ``x`` (``peaks``: from
    :func:`activation_peaks` of ``model``, to reuse)."""
    acts, fn = peaks or activation_peaks(model)
    if not acts:
        return
    top = np.zeros(len(acts))
    for start in range(0, len(x), batch_size):
        top = np.maximum(top, [float(v) for v in fn(tf.constant(x[start:start + batch_size]))])
    for layer, v in zip(acts, top):
        layer.project(np.array([v]))


def inference(model, batch_size: int = 1024):
    """``x -> model(x)`` as numpy, batched, traced once (``model.predict`` builds a new function per call)."""
    fn = tf.function(lambda x: model(x, training=False), reduce_retracing=True)

    def run(x):
        x = np.asarray(x, np.float32)
        return np.concatenate([fn(tf.constant(x[s:s + batch_size])).numpy() for s in range(0, len(x), batch_size)])
    return run


# ---------------------------------------------------------------------------------------------- cost

def _input_bits(model, layer, in_bits_of):
    """Differentiable bits of what feeds ``layer`` (as :func:`autoq.cost.layer_costs`: max over inbound)."""
    bits = [in_bits_of(src) for src in graph.inbound_layers(layer)]
    return bits[0] if len(bits) == 1 else tf.reduce_max(tf.stack(bits))


def _out_bits(model):
    """``layer -> `` the differentiable bits of its output (memoised over ``model``'s layers)."""
    memo: dict = {}

    def out_bits(layer):
        if layer.name in memo:
            return memo[layer.name]
        cls = layer.__class__.__name__
        if isinstance(layer, LearnedBits):
            b = layer.bits()
        elif cls == "QActivation" and hasattr(layer.quantizer, "bits"):
            b = tf.constant(float(cost_mod._quantizer_bits(layer.quantizer)))
        elif isinstance(layer, LearnedQLayer):
            b = layer.kq.bits() + _input_bits(model, layer, out_bits) + math.ceil(math.log2(max(2, _fan_in(layer))))
        elif cls == "InputLayer" or layer.weights:
            b = tf.constant(float(cost_mod.FLOAT_BITS))
        else:
            b = _input_bits(model, layer, out_bits)
        memo[layer.name] = b
        return b
    return out_bits


def input_widths(model) -> dict:
    """Learned layer name -> the bits of what feeds it (what its kernel's widths multiply in the EBOPs)."""
    out_bits = _out_bits(model)
    return {l.name: float(_input_bits(model, l, out_bits)) for l in model.layers if isinstance(l, LearnedQLayer)}


def _instance_bops(layer, bk, bin_):
    """BOPs of one kernel instance of ``layer`` (a convolution's not x its output positions): the EBOPs surrogate."""
    return float(graph.macs(layer)) / graph.positions(layer) * bk * bin_


def ebops_by_layer(model) -> dict:
    """Learned layer name -> its term of :func:`cost_terms`' ``ebops`` at the model's current state."""
    out_bits = _out_bits(model)
    return {l.name: _instance_bops(l, l.kq.bits(), _input_bits(model, l, out_bits)) for l in model.layers
            if isinstance(l, LearnedQLayer)}


def cost_terms(model) -> dict:
    """Differentiable features of ``model``'s cost: {'bops', 'ebops', 'bits', 'mult', 'add', 'weights', 'acts'}.

    ``mult`` = BOPs; ``ebops`` = EBOPs' surrogate, BOPs of one kernel instance (a convolution's not x its output
    positions, as :mod:`autoq.cost.ebops` counts); ``add`` = sum of MACs x accumulator bits (kernel + input +
    ceil log2 fan-in); ``weights`` = weight bits; ``acts`` = activation outputs x their bits (per inference)."""
    out_bits = _out_bits(model)
    t = {k: tf.constant(0.0) for k in ("mult", "ebops", "add", "weights", "acts")}
    for layer in model.layers:
        if isinstance(layer, LearnedQLayer):
            macs = float(graph.macs(layer))
            bk, bin_ = layer.kq.bits(), _input_bits(model, layer, out_bits)
            t["mult"] += macs * bk * bin_
            t["ebops"] += _instance_bops(layer, bk, bin_)
            t["add"] += macs * out_bits(layer)
            t["weights"] += float(np.prod(layer.kernel.shape)) * bk
            if layer.bq is not None:
                t["weights"] += float(np.prod(layer.inner.bias.shape)) * layer.bq.bits()
        elif isinstance(layer, LearnedBits):
            t["acts"] += float(np.prod(layer.output_shape[1:])) * layer.bits()
    t["bops"], t["bits"] = t["mult"], t["weights"]
    return t


def _fan_in(layer):
    return int(np.prod(layer.kernel.shape)) // max(1, int(layer.kernel.shape[-1]))


def energy_surrogate(terms: dict, coeffs: dict | None = None):
    """pJ from :func:`cost_terms` with the fitted per-feature costs (:data:`ENERGY_PJ` by default)."""
    c = coeffs or ENERGY_PJ
    return sum(c[k] * terms[k] for k in ("mult", "add", "weights", "acts")) + c["const"]


def surrogate_cost(model, kind: str = "bops", coeffs: dict | None = None):
    """The differentiable cost of a learned-bit model: ``bops``, ``ebops``, ``bits`` or ``energy`` (surrogate, pJ)."""
    terms = cost_terms(model)
    return energy_surrogate(terms, coeffs) if kind == "energy" else terms[kind]


# ---------------------------------------------------------------------------------------------- learning

@dataclass
class Learned:
    """One beta's result: the choice in autoq's format, the learned bits, the trained weights."""

    beta: float
    choice: dict  # {layer: {role: spec}}
    bits: dict  # {layer: {role: (bits, integer)}}
    weights: dict  # {layer name: [arrays]} of every layer with weights (kernel, bias for the slots)
    cost: float  # the surrogate cost at the end (same kind as the one trained against)
    loss: float  # the task loss of the last epoch
    history: list = field(default_factory=list)  # per epoch (loss, cost)


def read(model, beta=0.0, cost=0.0, loss=0.0, history=()) -> Learned:
    """Choice, bits and weights of a learned-bit model's current state."""
    choice, bits, weights = {}, {}, {}
    for layer in model.layers:
        if isinstance(layer, LearnedQLayer):
            qs = {"kernel": layer.kq, "bias": layer.bq}
            for role, q in qs.items():
                if q is not None:
                    choice.setdefault(layer.name, {})[role] = q.spec()
                    bits.setdefault(layer.name, {})[role] = (int(round(float(q.bits()))), int(float(q.i)))
            weights[layer.name] = layer.inner.get_weights()
        elif isinstance(layer, LearnedBits):
            owner = owner_of(layer)
            choice.setdefault(owner, {})["activation"] = layer.spec()
            bits.setdefault(owner, {})["activation"] = (int(round(float(layer.bits()))), int(float(layer.i)))
        elif layer.weights:
            weights[layer.name] = layer.get_weights()
    return Learned(float(beta), choice, bits, weights, float(cost), float(loss), list(history))


def fold(float_model, learned: Learned, input_quantizer: str | None = None):
    """The plain QKeras model of a learned result: ``space.build_qmodel`` with its choice, learned weights copied
    (kernel and bias by name; other weighted layers whole). Same outputs as the learned model."""
    q = space_mod.build_qmodel(float_model, learned.choice, input_quantizer)
    for name, ws in learned.weights.items():
        layer = q.get_layer(name)
        if name in learned.choice and layer.__class__.__name__ in space_mod.Q_CLASS.values():
            getattr(layer, "depthwise_kernel" if layer.__class__.__name__ == "QDepthwiseConv2D" else "kernel"
                    ).assign(ws[0])
            if len(ws) > 1:
                layer.bias.assign(ws[1])
        else:
            layer.set_weights(ws)
    return q


def restore(float_model, space_or_slots, learned: Learned, input_quantizer: str | None = None):
    """The learned-bit model in the state of ``learned`` (bits, integer bits, weights): e.g. to fine-tune it."""
    model = learned_model(float_model, space_or_slots, input_quantizer=input_quantizer)
    for layer in model.layers:
        if isinstance(layer, LearnedQLayer):
            layer.inner.set_weights(learned.weights[layer.name])
            pairs = [(layer.kq, "kernel"), (layer.bq, "bias")]
            owner = layer.name
        elif isinstance(layer, LearnedBits):
            pairs = [(layer, "activation")]
            owner = owner_of(layer)
        else:
            if layer.name in learned.weights:
                layer.set_weights(learned.weights[layer.name])
            continue
        for q, role in pairs:
            if q is not None:
                q.set_bits(*learned.bits[owner][role])
    return model


def learn(float_model, space_or_slots, x_train, y_train, betas=(0.0, 0.5), epochs: int = 2, batch_size: int = 64,
          learning_rate: float = 1e-3, bits_learning_rate: float = 0.05, loss="categorical_crossentropy", cost: str = "bops", init_bits: int = 8,
          input_quantizer: str | None = None, warm_start: bool = False, seed: int = 0,
          energy_coeffs: dict | None = None) -> list:
    """Train learned bits at each ``beta`` (loss + beta x cost / cost at start) -> list of :class:`Learned`.

    Each beta starts from the float weights and ``init_bits`` unless ``warm_start`` (betas in the given order,
    each continuing from the previous result: a ramp). The bit parameters have their own Adam at
    ``bits_learning_rate`` (Adam moves ``f`` by about that much per step). Returns results in ``betas``' order."""
    loss_fn = tf.keras.losses.get(loss)
    x_train, y_train = np.asarray(x_train, np.float32), np.asarray(y_train, np.float32)
    out, model = [], None
    for beta in betas:
        if model is None or not warm_start:
            tf.keras.utils.set_random_seed(seed)
            model = learned_model(float_model, space_or_slots, init_bits, input_quantizer)
            peaks = activation_peaks(model)  # traced once per model, not once per epoch
            calibrate(model, x_train, peaks=peaks)
            ref = float(surrogate_cost(model, cost, energy_coeffs)) or 1.0
        opt, opt_f = tf.keras.optimizers.Adam(learning_rate), tf.keras.optimizers.Adam(bits_learning_rate)
        wq = [l for l in model.layers if isinstance(l, LearnedQLayer)]
        fs = [v for v in model.trainable_variables if v.name.split("/")[-1].startswith("f:")]
        ws = [v for v in model.trainable_variables if all(v is not f for f in fs)]
        b = tf.constant(float(beta))

        @tf.function(reduce_retracing=True)
        def step(x, y):
            with tf.GradientTape() as tape:
                task = tf.reduce_mean(loss_fn(y, model(x, training=True)))
                c = surrogate_cost(model, cost, energy_coeffs) / ref
                total = task + b * c
            gw, gf = tape.gradient(total, [ws, fs])
            opt.apply_gradients([(g, v) for g, v in zip(gw, ws) if g is not None])
            opt_f.apply_gradients([(g, v) for g, v in zip(gf, fs) if g is not None])
            return task, c

        rng = np.random.default_rng(seed)
        history = []
        for _ in range(epochs):
            order = rng.permutation(len(x_train))
            losses = []
            for start in range(0, len(order), batch_size):
                idx = order[start:start + batch_size]
                task, c = step(tf.constant(x_train[idx]), tf.constant(y_train[idx]))
                for layer in wq:
                    layer.project()
                losses.append(float(task))
            calibrate(model, x_train, peaks=peaks)
            history.append((float(np.mean(losses)), float(surrogate_cost(model, cost, energy_coeffs))))
        out.append(read(model, beta, history[-1][1] if history else ref, history[-1][0] if history else 0.0,
                        history))
    return out

