"""What an AMD/Xilinx part offers the estimate: its family (DSP slice shape) and its LUT/FF/DSP/BRAM counts."""

from __future__ import annotations

import re


def part_family(part: str) -> str:
    """Return the FPGA family of an AMD/Xilinx part name ('7series', 'ultrascale', 'ultrascale+', 'versal')."""
    p = part.lower()
    if p.startswith(("xcv", "xqv")) and re.match(r"^x[cq]v[a-z]\d", p) and not p.startswith(("xcvu", "xqvu")):
        return "versal"
    if p.startswith(("xc7", "xa7", "xq7")):
        return "7series"
    if re.match(r"^x[cq](vu|ku|zu|au)\d+p", p) or re.match(r"^xcu\d", p) or re.match(r"^x[acq](zu|au)", p):
        return "ultrascale+"
    if re.match(r"^x[cq](vu|ku)\d", p):
        return "ultrascale"
    return "unknown"


#: Resources of common parts (AMD/Xilinx product tables: LUTs, flip-flops, DSP slices, 18 kb block RAMs), by device
PART_RESOURCES = {
    "xc7z020": {"LUT": 53200, "FF": 106400, "DSP": 220, "BRAM_18K": 280},
    "xc7a100t": {"LUT": 63400, "FF": 126800, "DSP": 240, "BRAM_18K": 270},
    "xczu9eg": {"LUT": 274080, "FF": 548160, "DSP": 2520, "BRAM_18K": 1824},
    "xcku115": {"LUT": 663360, "FF": 1326720, "DSP": 5520, "BRAM_18K": 4320},
    "xcvu9p": {"LUT": 1182240, "FF": 2364480, "DSP": 6840, "BRAM_18K": 4320},
    "xcvu13p": {"LUT": 1728000, "FF": 3456000, "DSP": 12288, "BRAM_18K": 5376},
    "xcu250": {"LUT": 1728000, "FF": 3456000, "DSP": 12288, "BRAM_18K": 5376},
}


def part_resources(part: str) -> dict[str, int] | None:
    """LUT/FF/DSP/BRAM_18K of ``part`` (None for a part not in :data:`PART_RESOURCES`)."""
    p = part.lower()
    for device in sorted(PART_RESOURCES, key=len, reverse=True):
        if p.startswith(device):
            return dict(PART_RESOURCES[device])
    return None


def dsp_shape(family: str) -> tuple[int, int]:
    """Multiplier input widths of one DSP slice of ``family``."""
    return {"7series": (25, 18), "versal": (27, 24)}.get(family, (27, 18))
