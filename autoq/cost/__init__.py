"""The cost stage: what a quantized model costs (bits, BOPs, QTools energy, an FPGA resource estimate) and the
score that trades it against the goal metric. Pure functions of a model: no training."""
from .pricing import EnergySettings, LayerCost, ModelCost, layer_costs, model_cost, qtools_energy  # noqa: F401
from .score import forgiving_factor, score  # noqa: F401

#: the unit each goal cost is counted in (axis labels, progress lines, the strategies' messages)
UNITS = {"energy": "pJ", "bits": "bits", "bops": "BOPs", "ebops": "EBOPs", "fpga": "LUT + DSP"}
