"""Old module paths of autoq (before the stage packages) as deprecated aliases: ``import autoq.jets`` or
``from autoq.reports import estimate`` still work, with a DeprecationWarning naming the new place. A module that was
split answers each name from the first of its new modules that has it. Only names under ``autoq.`` are handled.
``autoq.search`` and ``autoq.export`` are functions now; their old modules are :mod:`autoq.searching.run` and
:mod:`autoq.exporting.pipeline` (and ``autoq.search.load_result`` is ``autoq.load_result``)."""
from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import warnings

MOVED = {
    "autoq.datasets": ("autoq.data.dataset", "autoq.data.sources"),
    "autoq.jets": ("autoq.data.jets",),
    "autoq.jetgen": ("autoq.data.jetgen",),
    "autoq.jetfeatures": ("autoq.data.jetfeatures",),
    "autoq.jetcard": ("autoq.data.jetcard",),
    "autoq.qil": ("autoq.quantizers.qil",),
    "autoq.oracles": ("autoq.searching.strategies.pareto", "autoq.searching.fronts"),
    "autoq.blocks": ("autoq.searching.blocks",),
    "autoq.distributed": ("autoq.searching.distributed",),
    "autoq.outdir": ("autoq.searching.folder",),
    "autoq.results": ("autoq.searching.store", "autoq.searching.fronts", "autoq.present.plots"),
    "autoq.reports": ("autoq.cost.estimate", "autoq.exporting.project_report", "autoq.exporting.vendor_reports",
                      "autoq.present.tables"),
    "autoq.export_model": ("autoq.exporting.source", "autoq.exporting.vocabulary"),
    "autoq.export_hls": ("autoq.exporting.hls_config",),
    "autoq.export_settings": ("autoq.exporting.settings",),
    "autoq.export_check": ("autoq.exporting.check",),
}


class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path=None, target=None):
        return importlib.util.spec_from_loader(name, self) if name in MOVED else None

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        targets = MOVED[module.__name__]
        warnings.warn(f"{module.__name__} moved to {' / '.join(targets)}; the old path will be removed",
                      DeprecationWarning, stacklevel=2)
        modules = [importlib.import_module(t) for t in targets]

        def __getattr__(attr):
            for m in modules:
                if hasattr(m, attr):
                    return getattr(m, attr)
            raise AttributeError(f"module {module.__name__!r} (moved to {', '.join(targets)}) has no attribute "
                                 f"{attr!r}")

        module.__getattr__ = __getattr__
        module.__doc__ = f"Deprecated alias of {', '.join(targets)}."


_FINDER = _Finder()


def install() -> None:
    """Put the alias finder on ``sys.meta_path`` (once)."""
    if not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.append(_FINDER)


def resolve(name: str):
    """``autoq.<name>`` for an old module name (imported through the alias), else None."""
    full = f"autoq.{name}"
    return importlib.import_module(full) if full in MOVED else None
