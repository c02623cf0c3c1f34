"""Parsing of real Vivado / Vitis HLS reports of an exported project, with hls4ml's own parser
(``hls4ml.report.parse_vivado_report``, which reads both the ``vivado_hls.app`` (Vivado HLS) and ``hls.app``
(Vitis HLS) project layouts)."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any


@dataclass
class SynthReport:
    """Totals from an HLS C-synthesis report (and Vivado logic synthesis, if run)."""

    source: str  # "csynth" or "vsynth"
    part: str | None = None
    target_clock_ns: float | None = None
    estimated_clock_ns: float | None = None
    latency_min: int | None = None
    latency_max: int | None = None
    interval_min: int | None = None
    interval_max: int | None = None
    luts: int | None = None
    ffs: int | None = None
    dsps: int | None = None
    bram18: int | None = None
    urams: int | None = None
    available: dict[str, int] = field(default_factory=dict)
    vsynth: dict[str, int] = field(default_factory=dict)

    @property
    def latency_ns(self) -> float | None:
        if self.latency_max is None or self.target_clock_ns is None:
            return None
        return self.latency_max * self.target_clock_ns


def _int(v: Any) -> int | None:
    try:
        return int(float(str(v).strip()))
    except (TypeError, ValueError):
        return None


def _float(v: Any) -> float | None:
    try:
        return float(str(v).strip())
    except (TypeError, ValueError):
        return None


def parse_synth_report(project_dir: str) -> SynthReport | None:
    """Parse ``<prj>/<project>_prj/solution*/syn/report/<project>_csynth.xml`` (+ ``vivado_synth.rpt``).

    Uses ``hls4ml.report.parse_vivado_report``, which locates the solution through ``project.tcl`` and the
    ``vivado_hls.app`` (Vivado HLS) or ``hls.app`` (Vitis HLS) file. Returns None if no report exists.
    """
    import contextlib
    import io

    from hls4ml.report import parse_vivado_report

    if not os.path.isfile(os.path.join(project_dir, "project.tcl")):
        return None
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            raw = parse_vivado_report(str(project_dir)) or {}
        except (OSError, IndexError, KeyError, UnboundLocalError, ValueError, SyntaxError):  # ParseError: damaged xml
            raw = {}
    cs = raw.get("CSynthesisReport")
    vs = raw.get("VivadoSynthReport")
    if not cs and not vs:
        return None
    rep = SynthReport(source="csynth" if cs else "vsynth")
    if cs:
        rep.target_clock_ns = _float(cs.get("TargetClockPeriod"))
        rep.estimated_clock_ns = _float(cs.get("EstimatedClockPeriod"))
        rep.latency_min, rep.latency_max = _int(cs.get("BestLatency")), _int(cs.get("WorstLatency"))
        rep.interval_min, rep.interval_max = _int(cs.get("IntervalMin")), _int(cs.get("IntervalMax"))
        rep.luts, rep.ffs, rep.dsps = _int(cs.get("LUT")), _int(cs.get("FF")), _int(cs.get("DSP"))
        rep.bram18, rep.urams = _int(cs.get("BRAM_18K")), _int(cs.get("URAM"))
        rep.available = {
            k[len("Available"):]: _int(v) for k, v in cs.items() if k.startswith("Available") and _int(v) is not None
        }
        rep.part = _csynth_part(project_dir)
    if vs:
        rep.vsynth = {k: _int(v) for k, v in vs.items() if _int(v) is not None}
        if "DSP48E" in rep.vsynth:
            rep.vsynth["DSP"] = rep.vsynth.pop("DSP48E")
    return rep


def _csynth_part(project_dir: str) -> str | None:
    import glob
    import xml.etree.ElementTree as ET

    for path in sorted(glob.glob(os.path.join(project_dir, "*_prj", "*", "syn", "report", "*_csynth.xml"))):
        try:
            node = ET.parse(path).getroot().find("./UserAssignments/Part")
        except (OSError, ET.ParseError):
            continue
        if node is not None:
            return node.text
    return None
