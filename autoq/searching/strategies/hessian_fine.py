"""The candidates of ``algorithm: hessian`` at ``space.granularity: channel``: per-layer allocations refined per
output channel, pruning-aware, then trained.

1. The per-layer sweep (:func:`autoq.searching.sensitivity.budget_sweep`) gives ``n - 2`` allocations; each fixes
   the activation, bias and input quantizers, and so the bits feeding each layer.
2. Every kernel's output channels are re-allocated together (:mod:`autoq.searching.sensitivity_channel`) within the
   kernel EBOPs that allocation's per-layer kernels would cost: per channel a grid ``2^-F``, the channel's Hessian
   trace x its error, its weights' widths x the bits feeding it; small weights and whole channels pruned where they
   matter least. Two more budgets, a half and a quarter of the cheapest, reach below what per-layer choices can.
3. Each is trained ``train.epochs`` with its widths fixed and its pruned weights held at 0
   (:func:`autoq.quantizers.learned_fine.tune_all`), folded into plain QKeras and evaluated as learned, as the
   per-channel candidates of ``gradient`` are (:mod:`.gradient_fine`).
4. The trials left after them go first to children at channel granularity (:mod:`.fine_evolution`)."""
from __future__ import annotations

import numpy as np

from ... import quantizers

CHEAPER = (0.5, 0.25)  # budgets below the cheapest per-layer allocation, as a share of its kernel EBOPs


def _set_quantizers(model, choice: dict) -> None:
    """Set the fine model's bias, activation and input quantizers to those of a per-layer choice."""
    from ...quantizers import learned
    from ...space import INPUT_KEY, INPUT_QUANT

    def put(q, spec, role):
        e = quantizers.parse(spec, role).equivalent()
        q.set_bits(e.bits, e.integer)

    for layer in model.layers:
        if isinstance(layer, learned.LearnedQLayer):
            if layer.bq is not None and "bias" in choice.get(layer.name, {}):
                put(layer.bq, choice[layer.name]["bias"], "bias")
        elif isinstance(layer, learned.LearnedBits) and layer.name == INPUT_QUANT:
            if INPUT_KEY in choice:
                put(layer, choice[INPUT_KEY]["quantizer"], "input")
        elif isinstance(layer, learned.LearnedBits):
            if "activation" in choice.get(learned.owner_of(layer), {}):
                put(layer, choice[learned.owner_of(layer)]["activation"], "activation")


def candidates(ctx, n: int, kind: str, samples: int, children: int = 0) -> list:
    """Allocate per channel, train, evolve ``children`` more, fold and save: ``[{choice, budget, index, child, val,
    ebops, pruned, model, ...}]``. ``kind``: the cost the per-layer sweep allocates; ``samples``: training samples
    the Hessian traces are estimated on."""
    from ...metrics import Metric
    from ...quantizers import learned, learned_fine
    from ..sensitivity import budget_sweep
    from ..sensitivity_channel import allocate, bn_scale, channel_options, channel_traces, layer_width
    from .gradient_fine import evolve_logged, kept, trial_order, tuner
    cfg, t = ctx.cfg, ctx.cfg.train
    metric = Metric(cfg.goal.metric, cfg.goal.direction)
    x, y = ctx.train_split()
    xs, ys = ctx.train_split(samples)
    per_layer = budget_sweep(ctx.float_model, ctx.space, xs, ys, t.loss, kind=kind,
                             n_budgets=max(2, n - len(CHEAPER)))
    slots = {s.layer: s for s in ctx.space.slots if "kernel" in s.roles}
    traces = channel_traces(ctx.float_model, xs, ys, t.loss, list(slots), seed=cfg.seed)
    model = learned_fine.fine_model(ctx.float_model, ctx.space, "channel", input_quantizer=ctx.space.input_quantizer)
    infer = learned.inference(model)
    start = [np.array(v) for v in model.get_weights()]
    fine = [l for l in model.layers if isinstance(l, learned.LearnedQLayer) and l.name in slots]
    opts = {}
    for l in fine:
        k = l.kernel.numpy()
        opts[l.name] = channel_options(k, l.class_name, learned._bits_range(slots[l.name], "kernel")[1],
                                       bn_scale(ctx.float_model, l.name, k.shape))
    width = max(len(o["F"]) for o in opts.values())  # options per channel, padded to one table

    def table(l, per_option):  # [channel, option] of one layer, options it lacks at inf
        pad = width - len(opts[l.name]["F"])
        return np.pad(per_option.T, ((0, 0), (0, pad)), constant_values=np.inf)
    sens = np.concatenate([table(l, (traces[l.name] / (np.prod(l.kernel.shape) / len(traces[l.name])))[None, :]
                                 * opts[l.name]["err"]) for l in fine])  # Tr(H_c) / n_c x error
    plans = [(c, 1.0) for c in per_layer] + [(per_layer[0], share) for share in CHEAPER]
    cands = []
    for j, (c, share) in enumerate(plans):
        model.set_weights(start)
        _set_quantizers(model, c.choice)
        feed = learned.input_widths(model)
        cost, budget = [], 0.0
        for l in fine:
            per_w = feed[l.name]  # a weight's EBOPs per bit of its width: the bits feeding it (one kernel instance)
            cost.append(table(l, per_w * opts[l.name]["width"]))
            e = quantizers.parse(c.choice[l.name]["kernel"], "kernel").equivalent()
            budget += per_w * layer_width(l.kernel.numpy(), e.bits, e.integer)
        pick = allocate(sens, np.concatenate(cost), budget * share)
        k0 = 0
        for l in fine:
            o, nc = opts[l.name], opts[l.name]["err"].shape[1]
            l.kq.f.assign(np.asarray(o["F"][pick[k0:k0 + nc]], np.float32).reshape(l.kq.f.shape))
            k0 += nc
        if any(not np.any(l.kq(l.kernel, training=False).numpy()) for l in fine):
            ctx.log(f"[autoq] hessian: the allocation within {budget * share:.4g} EBOPs prunes a whole layer; "
                    "left out")
            continue
        cand = learned_fine.read(model, j, 0.0, metric.up(metric(ctx.data.y_val, infer(ctx.data.x_val))))
        cand.beta = budget * share  # what the allocation was allowed (the record's "budget")
        cands.append(cand)
    tune = tuner(ctx, metric, "channel", x, y)
    tuned = tune(cands)
    order = trial_order(tuned, evolve_logged(ctx, "hessian", tuned, children, tune))
    names = [f"hessian-channel-{c.epoch}" + (f"-child{k}" if k else "") for c, k in order]
    return [dict(r, budget=c.beta, index=c.epoch, child=k) for (c, k), r in
            zip(order, kept(ctx, [c for c, _ in order], metric, names))]
