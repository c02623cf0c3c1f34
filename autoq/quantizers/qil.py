"""Learned quantization intervals (QIL) as a trainable QKeras quantizer.

Jung et al., "Learning to Quantize Deep Networks by Optimizing Quantization
Intervals with Task Loss", CVPR 2019.  Each quantizer owns an interval
(center ``c``, half-width ``d``) and, for weights, a transformer exponent
``gamma``; all are ``tf.Variable`` s trained by the task loss through
``model.fit``.

Usage::

    QDense(16, kernel_quantizer=QIL(4))                 # weights
    QActivation(QIL(4, kind="activation"))              # activations
    folded = fold_qil(model)                            # plain QKeras model
    load_qmodel(path, custom_objects={"QIL": QIL})

Forward pass (``q_w = 2**(bits-1) - 1``; ``round`` is round-half-to-even with
a straight-through gradient)::

    weights:  t(w) = 0                   if |w| < c - d
                     1                   if |w| > c + d
                     (a|w| + b)**gamma   otherwise,  a = 0.5/d, b = 0.5 - 0.5c/d
              k    = round(sign(w) * t(w) * q_w)           (|k| <= q_w)
              paper:       k / q_w
              fixed point: k * 2**(integer - bits + 1)     (default)

    activations, paper mode (gamma = 1, q_a = 2**bits - 1):
              k / q_a,  k = round(q_a * clip(a*x + b, 0, 1))

    activations, fixed point (default):
              U = 2**clip(round(log2(c + d)), 0, 30)   (identity gradient)
              lsb = U / 2**bits
              y = lsb * clip(round(x / lsb), 0, 2**bits - 1)

Deviations from the paper, all needed to make the result a power-of-2
fixed-point quantizer that hls4ml implements bit-exactly (``fixed_point``):

* weights: the output is ``k * 2**(integer-bits+1)`` instead of ``k / q_w``,
  i.e. the paper's value times the constant ``q_w * 2**(integer-bits+1)``
  (7/8 for 4 bits); the learned interval and transform are unchanged.
  These values are exactly what ``quantized_bits(bits, integer, alpha=1)``
  represents, so folding (weights are constants) is exact.
* activations: the pruning point is fixed at 0 (a ReLU) and the clipping
  point ``c + d`` is snapped to a power of two ``U >= 1`` in the forward pass
  (straight-through in the backward pass); the output is in input units,
  ``y in {0, lsb, ..., U - lsb}`` with ``lsb = U / 2**bits`` (the top level
  ``U`` itself is dropped, as in two's complement).  This equals
  ``quantized_relu(bits, log2(U))`` exactly.  Only ``c + d`` matters here, so
  ``c`` and ``d`` receive identical gradients.  ``U >= 1`` because QKeras'
  ``quantized_relu`` rejects a negative ``integer``.
* ``d`` is floored at 1e-4 and ``gamma`` at 1e-3 to keep the transform
  defined.

``fixed_point=False`` gives the paper's equations verbatim (outputs in
[-1, 1] / [0, 1]); such quantizers cannot be folded exactly.
"""

import math

import tensorflow as tf
from qkeras import quantized_bits, quantized_relu
from qkeras.utils import _add_supported_quantized_objects

KINDS = ("weight", "activation")
_D_MIN = 1e-4
_GAMMA_MIN = 1e-3
_LN2 = math.log(2.0)

# Attribute of a QKeras layer holding a weight quantizer -> quantized weight.
_WEIGHT_OF_QUANTIZER = {
    "kernel_quantizer_internal": "kernel",
    "bias_quantizer_internal": "bias",
    "depthwise_quantizer_internal": "depthwise_kernel",
    "pointwise_quantizer_internal": "pointwise_kernel",
    "recurrent_quantizer_internal": "recurrent_kernel",
}


@tf.custom_gradient
def _round_ste(x):
    """Round half to even; identity gradient."""
    return tf.round(x), lambda dy: dy


@tf.custom_gradient
def _po2_ste(u):
    """Exact 2**clip(round(log2 u), 0, 30) as float32; identity gradient."""
    n = tf.clip_by_value(
        tf.round(tf.math.log(tf.maximum(u, 1e-30)) / _LN2), 0.0, 30.0)
    # Build the float32 bit pattern of 2**n directly: exact by construction.
    bits = tf.bitwise.left_shift(tf.cast(n, tf.int32) + 127, 23)
    return tf.bitcast(bits, tf.float32), lambda dy: dy


class QIL(tf.Module):
    """Trainable QIL quantizer (see module docstring for the exact maths).

    Args:
      bits: total bits (weights: sign included, >= 2; activations: >= 1).
      integer: weights: integer bits of the output grid (static, default 0,
        i.e. outputs in (-1, 1)).  Activations: initial clipping point
        ``2**integer`` when ``c_init``/``d_init`` are not given.
      kind: "weight" (default) or "activation".
      fixed_point: power-of-2 output grid, foldable (default); False = paper.
      c_init, d_init: initial interval; default c = d = 2**integer / 2 for
        activations, c = d = 0.5 for weights (t(w) = min(|w|, 1) at start).
      gamma_init: initial weight-transformer exponent.
      train_gamma: learn gamma (weights only; activations have gamma = 1).
      name: module name (variables are named ``<name>/c`` etc.).

    The variables live on this ``tf.Module``; a Keras layer holding the
    quantizer as an attribute tracks them, so they appear in
    ``layer.trainable_weights``, get trained by ``fit`` and saved to .h5.
    """

    def __init__(self, bits, integer=0, kind="weight", fixed_point=True,
                 c_init=None, d_init=None, gamma_init=1.0, train_gamma=True,
                 name=None):
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        bits, integer = int(bits), int(integer)
        if bits < (2 if kind == "weight" else 1):
            raise ValueError(f"QIL {kind} quantizer needs more bits: {bits}")
        if name is None:
            name = f"qil_{tf.keras.backend.get_uid('qil')}"
        super().__init__(name=name)
        self.bits = bits
        self.kind = kind
        self.fixed_point = bool(fixed_point)
        self.train_gamma = bool(train_gamma)
        self._integer = integer
        half = 0.5 * 2.0 ** integer if kind == "activation" else 0.5
        self.c_init = float(half if c_init is None else c_init)
        self.d_init = float(half if d_init is None else d_init)
        self.gamma_init = float(gamma_init)
        with tf.init_scope():
            self.c = tf.Variable(self.c_init, dtype=tf.float32,
                                 name=f"{name}/c")
            self.d = tf.Variable(self.d_init, dtype=tf.float32,
                                 name=f"{name}/d")
            if kind == "weight":
                self.gamma = tf.Variable(self.gamma_init, dtype=tf.float32,
                                         trainable=self.train_gamma,
                                         name=f"{name}/gamma")

    # -- attributes QKeras / QTools read ---------------------------------
    @property
    def keep_negative(self):
        return self.kind == "weight"

    @property
    def integer(self):
        """Integer bits of the equivalent fixed-point quantizer (current)."""
        if self.kind == "weight":
            return self._integer
        return int(round(math.log2(float(
            _po2_ste(self.c + self.d).numpy()))))

    @property
    def levels(self):
        """Number of positive levels q of the paper's discretization."""
        if self.kind == "weight":
            return 2 ** (self.bits - 1) - 1
        return 2 ** self.bits - 1

    def max(self):
        """Largest output magnitude."""
        if not self.fixed_point:
            return 1.0
        if self.kind == "weight":
            return self.levels * 2.0 ** (self._integer - self.bits + 1)
        return (2.0 ** self.bits - 1) * 2.0 ** (self.integer - self.bits)

    def min(self):
        return -self.max() if self.kind == "weight" else 0.0

    # -- forward -----------------------------------------------------------
    def _interval(self):
        return self.c, tf.maximum(self.d, _D_MIN)

    def transform(self, x):
        """Continuous QIL transform before discretization (paper eqs.)."""
        x = tf.cast(x, tf.float32)
        c, d = self._interval()
        a, b = 0.5 / d, 0.5 - 0.5 * c / d
        if self.kind == "activation":
            return tf.clip_by_value(a * x + b, 0.0, 1.0)
        gamma = tf.maximum(self.gamma, _GAMMA_MIN)
        ax = tf.abs(x)
        inner = tf.logical_and(ax >= c - d, ax <= c + d)
        # Double tf.where keeps pow and its gradients finite outside.
        base = tf.where(inner, tf.clip_by_value(a * ax + b, 1e-12, 1.0), 1.0)
        t = tf.where(inner, tf.pow(base, gamma),
                     tf.where(ax > c + d, 1.0, 0.0))
        return tf.sign(x) * t

    def __call__(self, x):
        x = tf.cast(x, tf.float32)
        if self.kind == "activation" and self.fixed_point:
            lsb = _po2_ste(self.c + self.d) * (2.0 ** -self.bits)
            k = tf.clip_by_value(_round_ste(x / lsb), 0.0, 2.0 ** self.bits - 1)
            return k * lsb
        k = _round_ste(self.transform(x) * self.levels)
        if self.fixed_point:  # weights only here
            return k * 2.0 ** (self._integer - self.bits + 1)
        return k / self.levels

    # -- serialization -----------------------------------------------------
    def _current(self, var, default):
        try:
            return float(var.numpy())
        except (AttributeError, NotImplementedError, RuntimeError):
            return default

    def get_config(self):
        """Config with the *current* interval as initial values."""
        cfg = {
            "bits": self.bits,
            "integer": self._integer,
            "kind": self.kind,
            "fixed_point": self.fixed_point,
            "c_init": self._current(self.c, self.c_init),
            "d_init": self._current(self.d, self.d_init),
        }
        if self.kind == "weight":
            cfg["gamma_init"] = self._current(self.gamma, self.gamma_init)
            cfg["train_gamma"] = self.train_gamma
        return cfg

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __str__(self):
        args = [str(self.bits)]
        if self._integer:
            args.append(str(self._integer))
        if self.kind != "weight":
            args.append(f"kind='{self.kind}'")
        if not self.fixed_point:
            args.append("fixed_point=False")
        return "qil(" + ",".join(args) + ")"

    def __repr__(self):
        return str(self)


qil = QIL  # lowercase alias so "qil(4)" strings evaluate (e.g. safe_eval).


def equivalent_quantizer(q):
    """Fixed-point QKeras quantizer equal to QIL ``q`` (for cost models).

    Weights: ``quantized_bits(bits, integer, alpha=1)``; activations:
    ``quantized_relu(bits, integer)`` with the current learned ``integer``.
    Exact only if ``q.fixed_point``; otherwise same bit width (cost only).
    """
    if q.kind == "weight":
        return quantized_bits(q.bits, q.integer, alpha=1)
    return quantized_relu(q.bits, q.integer)


def _qils_of(layer):
    """Distinct QIL objects held directly by a layer, with the weight each
    one quantizes (attribute name) or None."""
    found = {}
    for attr, v in vars(layer).items():
        if isinstance(v, QIL):
            weight = found.get(id(v), (v, None))[1]
            if attr in _WEIGHT_OF_QUANTIZER:
                weight = _WEIGHT_OF_QUANTIZER[attr]
            found[id(v)] = (v, weight)
    return list(found.values())


def _replace_qils(obj):
    """Copy of a layer config with QILs (objects or serialized) replaced by
    their fixed-point equivalents (objects; the config holds the current c, d).
    """
    if isinstance(obj, QIL):
        return equivalent_quantizer(obj)
    if isinstance(obj, dict):
        if obj.get("class_name") == "QIL" and "config" in obj:
            return equivalent_quantizer(QIL.from_config(obj["config"]))
        return {k: _replace_qils(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_replace_qils(v) for v in obj)
    return obj


def fold_qil(model, custom_objects=None):
    """Return an equivalent model with every QIL replaced by fixed point.

    Weight QILs: the stored weight becomes ``QIL(w)`` (already on the
    ``quantized_bits(bits, integer, alpha=1)`` grid, on which that quantizer
    is the identity); activation QILs become ``quantized_relu(bits, integer)``.
    The QIL variables are dropped.  Outputs are bit-identical.  Raises
    ``ValueError`` for paper-mode QILs and ``NotImplementedError`` for a weight
    QIL on an attribute it does not know.  Layers are rebuilt with
    ``clone_model`` (flat Functional/Sequential models; nested models are not
    descended into).
    """
    objs = dict(custom_objects or {})
    _add_supported_quantized_objects(objs)
    objs["QIL"] = QIL
    plan = {}  # layer name -> ({id(weight): folded value}, {ids of QIL vars})
    for layer in model.layers:
        folded, drop = {}, set()
        for q, attr in _qils_of(layer):
            if not q.fixed_point:
                raise ValueError(f"{layer.name}: paper-mode QIL "
                                 "(fixed_point=False) cannot be folded")
            drop.update(id(v) for v in q.variables)
            if q.kind == "weight":
                if attr is None:
                    raise NotImplementedError(
                        f"cannot fold weight QIL {q} of layer {layer.name}")
                w = getattr(layer, attr, None)
                if w is not None:
                    folded[id(w)] = q(w).numpy()
        plan[layer.name] = (folded, drop)

    def clone(layer):
        return layer.__class__.from_config(_replace_qils(layer.get_config()))

    with tf.keras.utils.custom_object_scope(objs):
        new = tf.keras.models.clone_model(model, clone_function=clone)
    for layer in model.layers:
        folded, drop = plan[layer.name]
        kept = [w for w in layer.weights if id(w) not in drop]
        new.get_layer(layer.name).set_weights(
            [folded[id(w)] if id(w) in folded else w.numpy() for w in kept])
    return new
