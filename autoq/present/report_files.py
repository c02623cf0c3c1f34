"""A project's report written into it: ``report.json`` (the numbers) and ``report.md`` (the table people read)."""
from __future__ import annotations

import json
import os

from .tables import format_report


def write_report(rep):
    """Write ``report.json`` and ``report.md`` of a :class:`autoq.exporting.project_report.ProjectReport` into its
    project when autoq exported it (``autoq_export.json``); another hls4ml project is read, never written to. A
    folder that cannot be written keeps the printed report, and a note in it says so. Returns ``rep``."""
    d = rep.project_dir
    if not os.path.isfile(os.path.join(d, "autoq_export.json")):
        rep.notes.append("not an autoq export: report.md and report.json were not written")
        return rep
    try:
        with open(os.path.join(d, "report.json"), "w") as f:
            json.dump(rep.to_dict(), f, indent=2)
        with open(os.path.join(d, "report.md"), "w") as f:
            f.write(f"# autoq report: {os.path.basename(os.path.abspath(d))}\n\n```\n{format_report(rep)}\n```\n")
    except OSError as exc:  # a read-only project (an archive, another user's): the report is still printed
        rep.notes.append(f"report.json and report.md not written ({exc.strerror or exc}): the report above is the "
                         "only copy")
    return rep


def project_report(project_dir: str):
    """The report of ``project_dir`` (:func:`autoq.exporting.project_report.report`), written into it."""
    from ..exporting.project_report import report
    return write_report(report(project_dir))
