"""The cost stage: what a quantized model costs (bits, BOPs, QTools energy, an FPGA resource estimate) and the
score that trades it against the goal metric. Pure functions of a model: no training."""
from .pricing import EnergySettings, LayerCost, ModelCost, layer_costs, model_cost, qtools_energy  # noqa: F401
from .score import forgiving_factor, score  # noqa: F401
