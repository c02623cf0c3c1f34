"""Fit the energy surrogate of :mod:`autoq.quantizers.learned` (:data:`autoq.quantizers.learned.ENERGY_PJ`) to QTools.

Features per model (:func:`autoq.quantizers.learned.cost_terms`): ``mult`` (MACs x kernel bits x input bits), ``add`` (MACs x
accumulator bits), ``weights`` (weight bits), ``acts`` (activation outputs x bits), and a constant; non-negative
least squares on uniform QKeras models of one float model against :func:`autoq.cost.qtools_energy`.
"""
from __future__ import annotations

import numpy as np

from .. import space as space_mod
from . import pricing as cost_mod
from ..quantizers.learned import LearnedBits, LearnedQLayer, _slots, cost_terms, learned_model


def fit_energy(float_model, space_or_slots, settings=cost_mod.EnergySettings(), kernel_bits=(2, 4, 6, 8, 12),
               act_bits=(2, 4, 8, 12), input_quantizer: str | None = None) -> dict:
    """Least-squares fit (non-negative) of QTools' energy of uniform QKeras models of ``float_model`` to the
    features of :func:`cost_terms` -> coefficients for :func:`energy_surrogate`, plus 'rel_error' (max)."""
    from scipy.optimize import nnls

    slots, iq = _slots(space_or_slots)
    iq = input_quantizer if input_quantizer is not None else iq
    rows, energies = [], []
    for kb in kernel_bits:
        for ab in act_bits:
            choice = {s.layer: {r: (f"quantized_relu({ab},0)" if r == "activation" else
                                    f"quantized_bits({kb},0,alpha=1)") for r in s.roles} for s in slots}
            learned = learned_model(float_model, slots, input_quantizer=iq)
            for layer in learned.layers:
                for q in ([layer.kq, layer.bq] if isinstance(layer, LearnedQLayer) else
                          [layer] if isinstance(layer, LearnedBits) else []):
                    if q is not None:
                        q.i.assign(0.0)
                        q.f.assign(float((kb - 1) if q.signed else ab))
            t = cost_terms(learned)
            rows.append([float(t[k]) for k in ("mult", "add", "weights", "acts")] + [1.0])
            energies.append(cost_mod.qtools_energy(space_mod.build_qmodel(float_model, choice, iq), settings)[0])
    a, e = np.asarray(rows), np.asarray(energies)
    scale = a.max(axis=0)
    coef, _ = nnls(a / scale, e)
    coef = coef / scale
    pred = a @ coef
    out = dict(zip(("mult", "add", "weights", "acts", "const"), map(float, coef)))
    out["rel_error"] = float(np.max(np.abs(pred - e) / e))
    return out
