"""The one orchestrator above the stages: a search run end to end (the search, its plot and closing lines, the
automatic export of an ``hls4ml:`` section), an export, a finished search read back. :mod:`autoq` and the CLI call
these; the stages below them return data and never print a result (:mod:`autoq.present` does)."""
from __future__ import annotations

import os

from . import keras_env
from .searching.layout import SUMMARY


def search(model=None, data=None, config=None, *, verbose=True, log=None, **kwargs):
    """Run a quantization search (:func:`autoq.searching.run.run_search`, which lists every argument), write its
    ``pareto.png``, tell its end, export the winner when the config has an ``hls4ml:`` section, and return the
    :class:`autoq.present.result.SearchResult` (None for a distributed worker: its chief tells the end)."""
    from .present.narrate import search_done
    from .present.result import SearchResult, save_plot
    from .searching.progress import printer
    from .searching.run import run_search
    log = printer(verbose, log)
    finished = run_search(model, data, config, verbose=verbose, log=log, on_finish=save_plot, **kwargs)
    if finished is None:
        return None
    for line in search_done(finished):
        log(line)
    if finished.best is not None and finished.config is not None and finished.config.hls4ml is not None:
        _export_winner(finished, log)
    return SearchResult.of(finished)


def _export_winner(finished, log) -> None:
    """The search's automatic export (its ``hls4ml:`` section), checked on the search's validation sample."""
    from .present.tables import format_result
    from .searching.run import hls_project_dir
    from .searching.store import atomic_write_json, storage_error
    h, proj = finished.config.hls4ml, hls_project_dir(finished.config)
    log(f"{finished.tag} exporting the winner to {proj} (hls4ml {h.backend}) ...")
    try:
        res = export(finished.output_dir, proj, backend=h.backend, part=h.part, clock_period=h.clock_period,
                     io_type=h.io_type, reuse_factor=h.reuse_factor, strategy=h.strategy,
                     project_name=h.project_name, force=True, hls_config=h.settings or None)
        log(format_result(res))
        finished.summary["export"] = str(proj)
        atomic_write_json(finished.output_dir / SUMMARY, finished.summary)
    except OSError as exc:
        storage = storage_error(exc)
        if storage is None:
            raise
        raise storage from None


def export(model, output_dir=None, **kwargs):
    """Export a QKeras model, a search folder's winner or a finished search's winner to a bit-exact hls4ml project
    with its report (``report.json``, ``report.md``); see :func:`autoq.exporting.pipeline.export` for every
    argument. With a finished search, ``x`` is in the units the search was given: its scaler (if the search
    standardized) is applied."""
    keras_env.import_tensorflow_quietly()
    from .exporting.pipeline import export as _export
    from .exporting.synth import ToolNotFoundError
    from .present.report_files import project_report
    from .searching.result import FinishedSearch
    if isinstance(model, FinishedSearch):
        if kwargs.get("x") is not None:
            x = kwargs["x"]
            if isinstance(x, (str, os.PathLike)):
                from .exporting.source import load_npz_inputs
                x = load_npz_inputs(os.fspath(x))
            kwargs["x"] = model.scale_inputs(x)
        model = model.output_dir
    try:
        with keras_env.quiet_keras():
            res = _export(model, output_dir, **kwargs)
    except ToolNotFoundError as exc:  # after the export (a tool gone since the check): the project is complete
        if exc.result is not None:
            project_report(exc.result.output_dir)
        raise
    project_report(res.output_dir)
    return res


def export_front(search_dir, output_dir=None, *, log=None, **options):
    """:func:`autoq.exporting.pipeline.export_front` (every trial on a search's Pareto front, a project each), each
    project with its report; ``log(result)`` after each."""
    keras_env.import_tensorflow_quietly()
    from .exporting.pipeline import export_front as _front
    from .present.report_files import project_report

    def done(res):
        project_report(res.output_dir)
        if log is not None:
            log(res)
    with keras_env.quiet_keras():
        return _front(search_dir, output_dir, log=done, **options)


def load_result(output_dir):
    """A finished search read back from its output directory, as an :class:`autoq.present.result.SearchResult`."""
    from .present.result import SearchResult
    from .searching.result import load_result as _load
    return SearchResult.of(_load(output_dir))
