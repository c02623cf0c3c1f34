"""HLS synthesis of an exported project, when Vivado HLS / Vitis HLS is on PATH (neither is needed for the
export itself: hls4ml's C simulation needs only g++)."""
from __future__ import annotations

import shutil
from typing import Any

from ..errors import ExportError
from .project_report import report


class ToolNotFoundError(ExportError):
    """The HLS tool needed for synthesis is not on PATH; ``result`` holds the (usable) exported project."""

    def __init__(self, message: str, result=None):
        super().__init__(message)
        self.result = result


def tool(backend: str) -> str:
    """The HLS tool that synthesizes for ``backend``."""
    return "vitis_hls" if backend == "Vitis" else "vivado_hls"


def require_tool(backend: str) -> None:
    """Raise ToolNotFoundError, before anything is exported, when the backend's HLS tool is not on PATH."""
    exe = tool(backend)
    if shutil.which(exe) is None:
        raise ToolNotFoundError(f"synthesis needs `{exe}` ({backend} backend) on PATH, and it was not found; nothing "
                                f"was exported. Export without --synth (synth=False) here, then synthesize where "
                                f"{exe} is installed: cd PROJECT && {exe} -f build_prj.tcl")


def synthesize(result, hls_model: Any, backend: str, write_result) -> None:
    """Run C synthesis of the exported project with the backend's tool, then put its report beside the estimate."""
    out = result.output_dir
    exe = tool(backend)
    if shutil.which(exe) is None:
        raise ToolNotFoundError(
            f"synthesis needs `{exe}` ({backend} backend) on PATH, and it was not found. The project at {out} is "
            f"complete and usable (firmware/, build_prj.tcl, tb_data/); synthesize it later with: "
            f"cd {out} && {exe} -f build_prj.tcl   (then `autoq report {out}`)",
            result=result,
        )
    hls_model.build(csim=False, synth=True, vsynth=False)
    result.synth_report = report(out)
    write_result(result)
