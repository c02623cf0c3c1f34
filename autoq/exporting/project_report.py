"""The report of one exported project: the estimate autoq wrote at export time (``autoq_export.json``) beside the
synthesized numbers of :mod:`autoq.exporting.vendor_reports` (written as ``report.json`` and ``report.md`` by
:mod:`autoq.present.report_files`)."""
from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from typing import Any

from ..cost.estimate import ResourceEstimate
from ..errors import ExportError
from .vendor_reports import SynthReport, parse_synth_report


@dataclass
class ProjectReport:
    """Estimate and synthesized numbers of one exported project."""

    project_dir: str
    estimate: ResourceEstimate | None
    synth: SynthReport | None
    stale: bool = False
    notes: list[str] = field(default_factory=list)
    check: dict | None = None  # C simulation vs QKeras, from autoq_export.json (CHECK_KEYS)

    def to_dict(self) -> dict[str, Any]:
        return {
            "project_dir": self.project_dir,
            "estimate": self.estimate.to_dict() if self.estimate else None,
            "synth": dataclasses.asdict(self.synth) if self.synth else None,
            "stale": self.stale,
            "notes": list(self.notes),
            "check": self.check,
        }


CHECK_KEYS = ("bit_exact", "agreement", "max_abs_diff", "compared_layer", "first_mismatch_layer", "n_samples",
              "x_source", "softmax_agreement", "softmax_max_abs_diff", "head_activation", "warnings")


def report(project_dir: str) -> ProjectReport:
    """Collect the estimate (from ``autoq_export.json``) and the synthesis reports of ``project_dir``.

    Returns the :class:`ProjectReport` of a project autoq exported or of another hls4ml project; any other folder
    is refused. Nothing is written (:func:`autoq.present.report_files.write_report` writes it).
    """
    import glob

    project_dir = str(project_dir)
    if not os.path.isdir(project_dir):
        raise ExportError(f"project directory {project_dir} does not exist")
    ours = os.path.isfile(os.path.join(project_dir, "autoq_export.json"))
    if not ours and not (os.path.isfile(os.path.join(project_dir, "hls4ml_config.yml"))
                         or glob.glob(os.path.join(project_dir, "*_prj"))):
        raise ExportError(f"{project_dir} is not an hls4ml project (no hls4ml_config.yml, no <project>_prj/); "
                          "give the folder autoq export wrote")
    notes: list[str] = []
    est = check = None
    meta_path = os.path.join(project_dir, "autoq_export.json")
    if os.path.isfile(meta_path):
        est, check = _read_meta(meta_path)
    else:
        notes.append("no autoq_export.json: project not written by autoq export, no estimate")
    synth = parse_synth_report(project_dir)
    stale = False
    if synth is None:
        notes.append(
            "no synthesis report found (<project>_prj/solution1/syn/report/<project>_csynth.xml); run "
            f"`cd {project_dir} && vitis_hls -f build_prj.tcl` (or vivado_hls) to synthesize"
        )
    elif os.path.isfile(meta_path):
        xmls = glob.glob(os.path.join(project_dir, "*_prj", "*", "syn", "report", "*_csynth.xml"))
        if xmls and max(os.path.getmtime(p) for p in xmls) < os.path.getmtime(meta_path):
            stale = True
            notes.append("synthesis report is older than the last export: it may describe a previous model")
    return ProjectReport(project_dir=project_dir, estimate=est, synth=synth, stale=stale, notes=notes, check=check)


def _read_meta(meta_path: str) -> tuple[ResourceEstimate | None, dict]:
    """(estimate, check) from ``autoq_export.json``; a damaged file is named, with the remedy."""
    fix = "export the model again (autoq export ... --force) to rewrite it"
    try:
        with open(meta_path) as f:
            meta = json.load(f)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ExportError(f"cannot read {meta_path}: {str(exc)[:200]}; {fix}") from None
    if not isinstance(meta, dict):
        raise ExportError(f"{meta_path} holds a {type(meta).__name__}, not autoq's export record; {fix}")
    est = None
    if meta.get("estimate"):
        try:
            est = ResourceEstimate.from_dict(meta["estimate"])
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            raise ExportError(f"{meta_path}: its estimate is damaged ({exc}); {fix}") from None
    return est, {k: meta.get(k) for k in CHECK_KEYS}
