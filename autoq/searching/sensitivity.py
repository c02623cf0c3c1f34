"""Hessian-aware bit allocation (issue #16, ``algorithm: hessian``): the algorithmic core.

Sensitivity (HAWQ-V2, Dong et al. NeurIPS 2020, eq. 5; the same Omega as HAWQ-V3's integer program, Yao et al.
ICML 2021): for a parameter tensor or activation ``t`` quantized by spec ``q``,
``Omega(t, q) = Tr(H_t) / n_t x ||Q(t) - t||^2``, the second-order loss increase of the perturbation averaged
over directions. ``Tr(H_t)`` is Hutchinson's estimate ``E[v^T H v]`` with Rademacher ``v`` (one Hessian-vector
product by double back-propagation per sample gives every tensor's block at once; cross terms vanish in
expectation), averaged over batches, on the float model.

* weights: ``n_t`` = number of parameters; the error of the weights the QKeras model quantizes (batch norm
  folded), expressed in the float layer's coordinates (divided by the batch-norm scale), so trace and error match.
* a negative trace estimate (noise, or a non-convex direction) counts as 0.
* activations (the output of a slot's ReLU): the trace over a batch of the mean loss (about one sample's trace),
  ``n_t`` = values per sample, the error the mean per-sample ``||quantized_relu(a) - a||^2``.

Allocation. BOPs couple a layer's kernel bits with the bits of the activation feeding it. The roles are grouped
so that the cost is exactly additive: one group per weight layer holds its kernel, its bias and the activation
quantizer feeding it (an activation feeding no weight layer is a group alone; an activation feeding two weight
layers is refused). Costs per option: ``bops`` (MACs x kernel bits x input bits), ``ebops`` (the same for one
kernel instance: a convolution's not x its output positions, as exact EBOPs count), ``bits`` (weight bits),
``energy`` (:func:`autoq.quantizers.learned.energy_surrogate`'s linear fit of QTools, without its model-specific
constant, so an offset below QTools' figure). :func:`allocate` is exact: a
dynamic program over groups keeping the Pareto set of (cost, sensitivity) partial sums (no discretisation).
Layers sharing a space group (``space.groups``) are not supported.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from itertools import product

import numpy as np
import tensorflow as tf

from .. import graph, quantizers
from .. import space as space_mod
from ..quantizers import learned as bitlearn


@dataclass
class Trace:
    """Hutchinson estimate of the Hessian trace of one tensor."""

    trace: float
    n: int  # parameters (weights) or values per sample (activations)
    stderr: float

    @property
    def per_param(self) -> float:
        """HAWQ-V2's normalised trace, Tr(H) / n."""
        return self.trace / max(1, self.n)


def _forward(model, x, eps: dict):
    """Call ``model``'s layers in order (inference mode), adding ``eps[name]`` to the named layers' outputs
    (``eps[space.INPUT_KEY]`` to the model's input)."""
    inbound = space_mod.inbound_of(model)
    xs = list(x) if isinstance(x, (list, tuple)) else [x]
    if space_mod.INPUT_KEY in eps:
        xs[0] = xs[0] + eps[space_mod.INPUT_KEY]
    tensors, k = {}, 0
    for layer in model.layers:
        if layer.__class__.__name__ == "InputLayer":
            tensors[layer.name], k = xs[k], k + 1
            continue
        srcs = [tensors[n] for n in inbound[layer.name]] or [xs[0]]
        y = layer(srcs[0] if len(srcs) == 1 else srcs, training=False)
        tensors[layer.name] = y + eps[layer.name] if layer.name in eps else y
    return tensors[model.layers[-1].name] if isinstance(model, tf.keras.Sequential) else \
        tensors[model.output_names[0]]


def _weight_vars(model, layers):
    """``{(layer, 'kernel'|'bias'): variable}``; a layer without a bias of its own whose batch norm folds into it
    has the batch norm's beta as its bias (the folded bias moves with it one for one)."""
    folds = {v: k for k, v in space_mod.foldable_batchnorms(model).items()}
    out = {}
    for name in layers:
        layer = model.get_layer(name)
        k = getattr(layer, "depthwise_kernel", None) if layer.__class__.__name__ == "DepthwiseConv2D" else \
            getattr(layer, "kernel", None)
        if k is not None:
            out[(name, "kernel")] = k
        if getattr(layer, "bias", None) is not None:
            out[(name, "bias")] = layer.bias
        elif name in folds and model.get_layer(folds[name]).center:
            out[(name, "bias")] = model.get_layer(folds[name]).beta
    return out


def hessian_traces(model, x, y, loss="categorical_crossentropy", layers=None, activations=(), n_samples: int = 32,
                   batch_size: int = 256, max_batches: int = 4, seed: int = 0) -> dict:
    """Hutchinson traces ``{(layer, 'kernel'|'bias'|'activation'): Trace}`` of the mean loss over a batch.

    ``layers``: weight layers (default every Dense/Conv layer); ``activations``: layers whose output's Hessian
    to estimate (``space.INPUT_KEY``: the model's input). ``n_samples`` Rademacher vectors per batch, up to
    ``max_batches`` batches, averaged."""
    loss_fn = tf.keras.losses.get(loss)
    if layers is None:
        layers = [l.name for l in model.layers if l.__class__.__name__ in space_mod.Q_CLASS]
    wv = _weight_vars(model, layers)
    rng = np.random.default_rng(seed)
    x, y = np.asarray(x, np.float32), np.asarray(y, np.float32)
    keys = list(wv) + [(a, "activation") for a in activations]
    per_batch = {k: [] for k in keys}
    sizes = {}

    for start in range(0, min(len(x), batch_size * max_batches), batch_size):
        xb, yb = tf.constant(x[start:start + batch_size]), tf.constant(y[start:start + batch_size])
        shapes = {a: tuple(xb.shape[1:]) if a == space_mod.INPUT_KEY else tuple(model.get_layer(a).output_shape[1:])
                  for a in activations}
        eps = {a: tf.zeros((xb.shape[0],) + s) for a, s in shapes.items()}
        sizes.update({(a, "activation"): int(np.prod(s)) for a, s in shapes.items()})

        @tf.function
        def hvp(vs):
            targets = [wv[k] for k in wv] + [eps[a] for a in activations]
            with tf.GradientTape() as outer:
                outer.watch(targets)
                with tf.GradientTape() as inner:
                    inner.watch(targets)
                    out = _forward(model, xb, {a: e for a, e in zip(activations, targets[len(wv):])})
                    value = tf.reduce_mean(loss_fn(yb, out))
                grads = inner.gradient(value, targets)
                gv = tf.add_n([tf.reduce_sum(g * v) for g, v in zip(grads, vs)])
            hv = outer.gradient(gv, targets)
            return [tf.reduce_sum(v * h) for v, h in zip(vs, hv)]

        samples = []
        for _ in range(n_samples):
            vs = [tf.constant(rng.choice([-1.0, 1.0], size=tuple(t.shape)).astype(np.float32))
                  for t in [wv[k] for k in wv] + [eps[a] for a in activations]]
            samples.append([float(s) for s in hvp(vs)])
        samples = np.asarray(samples)
        for j, k in enumerate(keys):
            per_batch[k].append(samples[:, j])
    out = {}
    for k in keys:
        s = np.concatenate(per_batch[k])
        n = sizes.get(k) or int(np.prod(wv[k].shape))
        out[k] = Trace(float(np.mean(s)), n, float(np.std(s) / math.sqrt(len(s))))
    return out


# ---------------------------------------------------------------------------------------------- errors

def _quantize(spec, role, values):
    return np.asarray(quantizers.parse(spec, role).equivalent().build()(tf.constant(values, tf.float32)))


def weight_errors(float_model, layer_name, role, specs) -> dict:
    """``{spec: ||Q(w) - w||^2}`` of a layer's kernel or bias as the QKeras model quantizes it (batch norm
    folded), in the float layer's coordinates."""
    layer = float_model.get_layer(layer_name)
    bn = {v: k for k, v in space_mod.foldable_batchnorms(float_model).items()}.get(layer_name)
    if bn is None:
        w = (_weight_vars(float_model, [layer_name])[(layer_name, role)]).numpy()
        return {s: float(np.sum((_quantize(s, role, w) - w) ** 2)) for s in specs}
    kernel, bias = space_mod.folded_weights(layer, float_model.get_layer(bn))
    if role == "bias" and not layer.use_bias:  # in the coordinates of the batch norm's beta: one for one
        return {s: float(np.sum((_quantize(s, role, bias) - bias) ** 2)) for s in specs}
    gamma, _, _, var = (np.asarray(v, np.float64) for v in space_mod.bn_params(float_model.get_layer(bn)))
    scale = (gamma / np.sqrt(var + float_model.get_layer(bn).epsilon)).astype(np.float32)
    t = kernel if role == "kernel" else bias
    if role == "kernel" and layer.__class__.__name__ == "DepthwiseConv2D":
        scale = scale.reshape(t.shape[2], t.shape[3])
    return {s: float(np.sum(((_quantize(s, role, t) - t) / scale) ** 2)) for s in specs}


def input_errors(specs, x) -> dict:
    """``{spec: mean per-sample ||Q(x) - x||^2}`` of the model's input under each input quantizer."""
    x = np.asarray(x, np.float32)
    return {s: float(np.sum((_quantize(s, "input", x) - x) ** 2) / len(x)) for s in specs}


def activation_errors(float_model, layer_name, specs, x, batch_size: int = 256) -> dict:
    """``{spec: mean per-sample ||Q(a) - a||^2}`` of a layer's (ReLU) output over ``x``."""
    a = tf.keras.Model(float_model.inputs, float_model.get_layer(layer_name).output).predict(
        x, batch_size=batch_size, verbose=0)
    return {s: float(np.sum((_quantize(s, "activation", a) - a) ** 2) / len(a)) for s in specs}


# ---------------------------------------------------------------------------------------------- allocation

@dataclass
class Group:
    """Roles that take one joint option; each option: (assignment {(layer, role): spec}, sensitivity, cost)."""

    name: str
    options: list = field(default_factory=list)


def allocate(groups, budget: float):
    """Exact min of summed sensitivity s.t. summed cost <= budget, one option per group.

    Returns ``(sensitivity, cost, [option index per group])`` or None when even the cheapest choice exceeds the
    budget. Dynamic programming over groups on the Pareto set of partial sums (cost, sensitivity): a partial
    solution dominated (no cheaper and no less sensitive) by another is dropped, which loses no optimum."""
    front = [(0.0, 0.0, ())]  # (cost, sensitivity, picks)
    for g in groups:
        cand = [(c + oc, s + os_, picks + (j,)) for c, s, picks in front
                for j, (_, os_, oc) in enumerate(g.options) if c + oc <= budget + 1e-9 * abs(budget)]
        cand.sort(key=lambda t: (t[0], t[1]))
        front, best = [], math.inf
        for t in cand:
            if t[1] < best:
                front.append(t)
                best = t[1]
        if not front:
            return None
    c, s, picks = min(front, key=lambda t: (t[1], t[0]))
    return s, c, list(picks)


def _feeding_activation(float_model, sp, layer_name):
    """The slot layer whose activation quantizer feeds ``layer_name``; ``space.INPUT_KEY`` for the model input when
    its quantizer is searched; None for a fixed input or a linear layer."""
    inbound = space_mod.inbound_of(float_model)
    by_layer = {s.layer: s for s in sp.slots}
    folded = space_mod.foldable_batchnorms(float_model)
    searched_input = space_mod.INPUT_KEY if sp.input_searched else None
    srcs = inbound[layer_name]
    while len(srcs) == 1:
        s = by_layer.get(srcs[0])
        if s is not None:
            return srcs[0] if "activation" in s.roles else None
        layer = float_model.get_layer(srcs[0])
        if layer.__class__.__name__ == "InputLayer":
            return searched_input
        if layer.weights and srcs[0] not in folded:
            return None
        srcs = inbound[srcs[0]]
    return searched_input if not srcs else None  # a Sequential model's first layer reads the input


def groups_for(float_model, sp, traces: dict, x, kind: str = "bops", energy_coeffs=None) -> list:
    """The allocation groups of a search space with each option's sensitivity and cost (see the module doc)."""
    if any(s.group != s.layer for s in sp.slots):
        raise ValueError("hessian allocation does not support shared space.groups yet")
    coef = ({"bops": {"mult": 1.0}, "ebops": {"ebops": 1.0}, "bits": {"weights": 1.0}}.get(kind)
            or (energy_coeffs or bitlearn.ENERGY_PJ))
    in_bits = quantizers.parse(sp.input_quantizer).bits if sp.input_quantizer else 32
    sens = {}
    if sp.input_searched:  # a searched input: one more "activation", the model's input
        tr = max(0.0, traces[(space_mod.INPUT_KEY, "activation")].per_param)
        sens[(space_mod.INPUT_KEY, "quantizer")] = {spec: tr * e for spec, e in
                                                    input_errors(sp.input_choices, x).items()}
    for s in sp.slots:
        for role, specs in s.roles.items():
            err = (activation_errors(float_model, s.layer, specs, x) if role == "activation" else
                   weight_errors(float_model, s.layer, role, specs))
            t = traces.get((s.layer, role))  # none: a folded bias with nothing to move it (no bias, no beta)
            tr = max(0.0, t.per_param) if t is not None else 0.0  # a noisy negative estimate: insensitive
            sens[(s.layer, role)] = {spec: tr * e for spec, e in err.items()}
    owner = {}
    groups = []
    for s in sp.slots:
        if s.class_name not in space_mod.Q_CLASS:
            continue
        layer = float_model.get_layer(s.layer)
        feed = _feeding_activation(float_model, sp, s.layer)
        if feed is not None and feed in owner:
            raise ValueError(f"the activation of {feed!r} feeds {owner[feed]!r} and {s.layer!r}: BOPs are not "
                             "separable; hessian allocation needs each activation to feed one weight layer")
        if feed is not None:
            owner[feed] = s.layer
        kvar = layer.depthwise_kernel if s.class_name == "DepthwiseConv2D" else layer.kernel
        nk = int(np.prod(kvar.shape))
        macs = nk * graph.positions(layer)
        nb = int(np.prod(layer.bias.shape)) if layer.use_bias else int(kvar.shape[-1])
        fan = math.ceil(math.log2(max(2, nk // max(1, int(kvar.shape[-1])))))
        fed = (feed, "quantizer" if feed == space_mod.INPUT_KEY else "activation")
        roles = [(s.layer, r) for r in ("kernel", "bias") if r in s.roles] + ([fed] if feed is not None else [])
        g = Group(s.layer)
        for specs in product(*[list(sens[k]) for k in roles]):
            a = dict(zip(roles, specs))
            bk = quantizers.parse(a[(s.layer, "kernel")], "kernel").equivalent().bits
            bb = quantizers.parse(a[(s.layer, "bias")], "bias").equivalent().bits if (s.layer, "bias") in a else 0
            bi = quantizers.parse(a[fed]).equivalent().bits if feed is not None else in_bits
            feats = {"mult": macs * bk * bi, "ebops": nk * bk * bi, "add": macs * (bk + bi + fan),
                     "weights": nk * bk + nb * bb, "acts": 0.0}
            g.options.append((a, sum(sens[k][v] for k, v in a.items()), _price(feats, coef)))
        groups.append(g)
    for s in sp.slots:  # activations feeding no weight layer: their own group
        if "activation" in s.roles and s.layer not in owner:
            g = Group(f"{s.layer}/activation")
            for spec, v in sens[(s.layer, "activation")].items():
                g.options.append(({(s.layer, "activation"): spec}, v, 0.0))
            groups.append(g)
    if kind == "energy":  # activation outputs: separable, added to the group holding the activation
        n_out = {s.layer: int(np.prod(float_model.get_layer(s.layer).output_shape[1:])) for s in sp.slots}
        for g in groups:
            g.options = [(a, v, c + coef["acts"] * sum(
                n_out[l] * quantizers.parse(sp_, "activation").equivalent().bits
                for (l, r), sp_ in a.items() if r == "activation")) for a, v, c in g.options]
    return groups


def _price(feats, coef):
    return float(sum(coef.get(k, 0.0) * v for k, v in feats.items()))


@dataclass
class Candidate:
    """One allocation: the choice in autoq's format, its summed sensitivity and its (separable) cost."""

    choice: dict
    sensitivity: float
    cost: float
    budget: float


def budget_sweep(float_model, sp, x, y, loss="categorical_crossentropy", kind: str = "bops", n_budgets: int = 8,
                 traces: dict | None = None, n_samples: int = 16, seed: int = 0, energy_coeffs=None) -> list:
    """Distinct candidate choices from the cheapest to the most expensive allocation (budgets spaced
    geometrically between them), each the exact sensitivity minimum at its budget; no training."""
    acts = [s.layer for s in sp.slots if "activation" in s.roles]
    if sp.input_searched:
        acts.append(space_mod.INPUT_KEY)
    if traces is None:
        traces = hessian_traces(float_model, x, y, loss, [s.layer for s in sp.slots if s.class_name in
                                                          space_mod.Q_CLASS], acts, n_samples, seed=seed)
    groups = groups_for(float_model, sp, traces, x, kind, energy_coeffs)
    lo = sum(min(o[2] for o in g.options) for g in groups)
    hi = sum(max(o[2] for o in g.options) for g in groups)
    budgets = np.geomspace(max(lo, 1e-12), max(hi, lo, 1e-12), n_budgets) if lo > 0 else np.linspace(lo, hi, n_budgets)
    out, seen = [], set()
    for b in budgets:
        res = allocate(groups, float(b) * (1 + 1e-12))
        if res is None:
            continue
        s, c, picks = res
        choice: dict = {}
        for g, j in zip(groups, picks):
            for (layer, role), spec in g.options[j][0].items():
                choice.setdefault(layer, {})[role] = spec
        key = repr(sorted((k, sorted(v.items())) for k, v in choice.items()))
        if key not in seen:
            seen.add(key)
            keys = [s_.layer for s_ in sp.slots] + ([space_mod.INPUT_KEY] if space_mod.INPUT_KEY in choice else [])
            out.append(Candidate({k: choice[k] for k in keys}, s, c, float(b)))
    return out
