"""autoq: automatic heterogeneous quantization of Keras models (QKeras) and hls4ml FPGA export.

Python API (the CLI is a thin shell over it)::

    import autoq
    result = autoq.search(model, (x, y), "configs/digits.yaml", output_dir="autoq_runs/mine")
    result.plot(); result.best_model
    autoq.export(result, "hls_projects/mine", x=x_val)

The stages, one package each, data flowing one way: :mod:`autoq.config` -> :mod:`autoq.data` ->
:mod:`autoq.quantizers` / :mod:`autoq.space` -> :mod:`autoq.cost` -> :mod:`autoq.searching` ->
:mod:`autoq.exporting` -> :mod:`autoq.present`, with
:mod:`autoq.api` (the orchestrator) and the CLI on top.
"""
import os as _os

_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TF 2.14 logs harmless CUDA-factory ERRORs on CPU

__version__ = "0.2.0"

from . import keras_env  # noqa: E402
keras_env.settle()  # before anything imports TensorFlow: tf.keras is Keras 2 on both stacks (autoq/keras_env.py)

from .config import Config, load_config  # noqa: E402
from .errors import AutoqError, ConfigError, DataError, ExportError, QuantizerError, SpaceError  # noqa: E402
from .api import export, load_result, search  # noqa: E402,F401 - the API: plain functions
