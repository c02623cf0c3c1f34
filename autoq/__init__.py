"""autoq: automatic heterogeneous quantization of Keras models (QKeras) and hls4ml FPGA export.

Python API (the CLI is a thin shell over it)::

    import autoq
    result = autoq.search(model, (x, y), "configs/digits.yaml", output_dir="autoq_runs/mine")
    result.plot(); result.best_model
    autoq.export(result, "hls_projects/mine", x=x_val)

The stages, one package each, data flowing one way: :mod:`autoq.config` -> :mod:`autoq.data` ->
:mod:`autoq.quantizers` / :mod:`autoq.space` -> :mod:`autoq.cost` -> :mod:`autoq.searching` ->
:mod:`autoq.exporting` -> :mod:`autoq.present`.
"""
import os as _os

_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TF 2.14 logs harmless CUDA-factory ERRORs on CPU

__version__ = "0.2.0"

from . import keras_env  # noqa: E402
keras_env.settle()  # before anything imports TensorFlow: tf.keras is Keras 2 on both stacks (autoq/keras_env.py)

from .config import Config, load_config  # noqa: E402
from .errors import AutoqError, ConfigError, DataError, ExportError, QuantizerError, SpaceError  # noqa: E402


def search(model=None, data=None, config=None, **kwargs):
    """Run a quantization search and return its :class:`autoq.searching.result.SearchResult`; see
    :func:`autoq.searching.run.run_search` for every argument."""
    from .searching.run import run_search
    return run_search(model, data, config, **kwargs)


def export(model, output_dir=None, **kwargs):
    """Export a QKeras model, a search folder's winner or a :class:`SearchResult`'s winner to a bit-exact hls4ml
    project; see :func:`autoq.exporting.pipeline.export` for every argument. With a SearchResult, ``x`` is in the
    units the search was given: its scaler (if the search standardized) is applied."""
    keras_env.import_tensorflow_quietly()
    from .exporting.pipeline import export as _export
    from .searching.result import SearchResult
    if isinstance(model, SearchResult):
        if kwargs.get("x") is not None:
            x = kwargs["x"]
            if isinstance(x, (str, _os.PathLike)):
                from .exporting.source import load_npz_inputs
                x = load_npz_inputs(_os.fspath(x))
            kwargs["x"] = model.scale_inputs(x)
        model = model.output_dir
    with keras_env.quiet_keras():
        return _export(model, output_dir, **kwargs)


def load_result(output_dir):
    """Load a finished search's :class:`autoq.searching.result.SearchResult` from its output directory."""
    from .searching.result import load_result as _load
    return _load(output_dir)
