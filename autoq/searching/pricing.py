"""What a model costs in a search: the reference (the float model as uniform 16-bit fixed point), a trained model's
exact EBOPs, and the FPGA estimate's figures at the export's settings."""
from __future__ import annotations

from .. import cost as costs
from ..errors import ConfigError
from .session import Session

REFERENCE_Q16 = ("quantized_bits(16,6,alpha=1)", "quantized_bits(16,6,alpha=1)", "quantized_relu(16,6)")


def reference(session: Session) -> tuple[float, dict]:
    """(reference cost, every cost of the float model as 16-bit fixed point): the goal's yardstick is the 16-bit
    model's cost under ``goal.cost``, or the configured number; both times ``goal.stress``."""
    from ..space import build_qmodel
    k, b, a = REFERENCE_Q16
    # the float weights copied in: EBOPs and the FPGA estimate count the bits each weight really uses
    ref_model = build_qmodel(session.float_model, session.space.uniform(k, b, a), session.space.input_quantizer,
                             name="reference_q16")
    c = costs.model_cost(ref_model, energy=session.energy)
    q16 = {"energy": c.energy, "bits": c.bits, "bops": c.bops, "fpga": fpga(session, ref_model),
           "ebops": ebops(session, ref_model)}
    g = session.cfg.goal
    if g.reference != "float16":
        return float(g.reference) * g.stress, q16
    ref = q16[session.cost_key]
    if ref is None:
        raise ConfigError(f"goal.cost {session.cost_key!r} needs autoq.cost.estimate (the FPGA estimate), "
                          "not available")
    return float(ref) * g.stress, q16


def figures(session: Session, model) -> dict:
    """One FPGA estimate at the export's settings: ``fpga`` (LUT + DSP, ``FPGA_UNIT``) and the LUT, FF, DSP, BRAM,
    latency (ns) and II that ``goal.budget`` limits; only ``fpga: None`` when the estimate cannot price the model
    (then a budget counts it as over)."""
    from ..cost.budget import figures as budget_figures
    from ..cost.estimate import estimate
    try:
        est = estimate(model, **session.estimate_settings)
        return {"fpga": float(est.lut_plus_dsp), **budget_figures(est)}
    except Exception:  # noqa: BLE001 - the estimate is informative; never fail a trial on it
        return {"fpga": None}


def ebops(session: Session, model, pricing=None):
    """Exact effective BOPs (:mod:`autoq.cost.ebops`) of a trained model, widths traced on the training data; None
    where they cannot be counted, unless they are the goal's cost (then the trial fails, saying why)."""
    from ..cost.ebops import ebops as count
    try:
        if pricing is not None:  # QIL: its fixed-point equivalent, carrying the trained weights
            pricing.set_weights(model.get_weights())
            model = pricing
        return count(model, session.data.x_train)
    except Exception:  # noqa: BLE001 - informative beside another goal cost; never fail that trial on it
        if session.cost_key == "ebops":
            raise
        return None


def fpga(session: Session, model):
    """The FPGA estimate's LUT + DSP (``FPGA_UNIT``) under the config's hls4ml settings: the export's figure."""
    from ..cost.estimate import estimate
    try:
        return float(estimate(model, **session.estimate_settings).lut_plus_dsp)
    except Exception:  # noqa: BLE001 - the estimate is informative; never fail a trial on it
        return None
