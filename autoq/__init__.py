"""autoq: automatic heterogeneous quantization of Keras models (QKeras) and hls4ml FPGA export.

Python API (the CLI is a thin shell over it)::

    import autoq
    result = autoq.search(model, data, "configs/digits.yaml")
    result.plot(); result.best_model
    autoq.export(result.best_model, "hls_projects/digits", x=data.x_val)
"""
import os as _os

_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TF 2.14 logs harmless CUDA-factory ERRORs on CPU

__version__ = "0.1.0"

from . import keras_env  # noqa: E402
keras_env.settle()  # before anything imports TensorFlow: tf.keras is Keras 2 on both stacks (autoq/keras_env.py)

from .errors import AutoqError, ConfigError, DataError, QuantizerError, SpaceError  # noqa: E402
from .config import Config, load_config  # noqa: E402


def search(model=None, data=None, config=None, **kwargs):
    """Run a quantization search; see :func:`autoq.search.run_search`."""
    from .search import run_search
    return run_search(model, data, config, **kwargs)


# ``autoq.export`` is both the submodule and the function: importing the submodule (``from autoq.export import
# format_result``, or a search with an ``hls4ml:`` section) rebinds the package attribute to the module, so the
# module itself is made callable (like ``autoq.search``).
from . import export  # noqa: E402


class _CallableExportModule(type(_os)):
    """``autoq.export(model, output_dir, ...)``: export a QKeras model (or search result directory) to an hls4ml
    project; see :func:`autoq.export.export`."""

    def __call__(self, model, output_dir=None, **kwargs):
        return self.export(model, output_dir, **kwargs)


export.__class__ = _CallableExportModule


def load_result(output_dir):
    """Load a finished search's :class:`autoq.search.SearchResult` from its output directory."""
    from .search import load_result as _load
    return _load(output_dir)
