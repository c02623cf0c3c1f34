"""Resources of common AMD/Xilinx FPGA parts, from AMD's public product tables (DS190 Zynq-7000, DS180 7-series,
DS890 UltraScale, DS891 Zynq UltraScale+ MPSoC, DS962/DS963 Alveo): what ``goal.budget.part_fraction`` is a share of.
BRAM is counted in 18 kb blocks (two per 36 kb block), as hls4ml's reports and :mod:`autoq.cost.estimate` count it."""
from __future__ import annotations

import re

#: device -> (LUT, FF, DSP, BRAM_18K)
PARTS = {
    "xc7z010": (17_600, 35_200, 80, 120),
    "xc7z020": (53_200, 106_400, 220, 280),
    "xc7z045": (218_600, 437_200, 900, 1_090),
    "xc7a100t": (63_400, 126_800, 240, 270),
    "xc7a200t": (134_600, 269_200, 740, 730),
    "xc7vx690t": (433_200, 866_400, 3_600, 2_940),
    "xcku035": (203_128, 406_256, 1_700, 1_080),
    "xcku115": (663_360, 1_326_720, 5_520, 4_320),
    "xcku5p": (216_960, 433_920, 1_824, 960),
    "xczu7ev": (230_400, 460_800, 1_728, 624),
    "xczu9eg": (274_080, 548_160, 2_520, 1_824),
    "xcvu7p": (788_160, 1_576_320, 4_560, 2_880),
    "xcvu9p": (1_182_240, 2_364_480, 6_840, 4_320),
    "xcvu11p": (1_296_000, 2_592_000, 9_216, 4_032),
    "xcvu13p": (1_728_000, 3_456_000, 12_288, 5_376),
    "xcu200": (1_182_240, 2_364_480, 6_840, 4_320),  # Alveo U200 (a VU9P)
    "xcu250": (1_728_000, 3_456_000, 12_288, 5_376),  # Alveo U250 (a VU13P)
}
RESOURCES = ("lut", "ff", "dsp", "bram")


def device(part: str) -> str | None:
    """The table's device a part name starts with (``xc7z020clg400-1`` -> ``xc7z020``), None when unknown."""
    p = str(part).strip().lower()
    for name in sorted(PARTS, key=len, reverse=True):
        if p.startswith(name):
            return name
    return None


def resources(part: str) -> dict | None:
    """``{lut, ff, dsp, bram}`` of ``part`` (BRAM in 18 kb blocks), None when the table does not know it."""
    name = device(part)
    return dict(zip(RESOURCES, PARTS[name])) if name else None


def part_family(part: str) -> str:
    """The FPGA family of an AMD/Xilinx part name ('7series', 'ultrascale', 'ultrascale+', 'versal', 'unknown')."""
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


#: the same table as the estimate's report names the figures: device -> {LUT, FF, DSP, BRAM_18K}
PART_RESOURCES = {name: dict(zip(("LUT", "FF", "DSP", "BRAM_18K"), row)) for name, row in PARTS.items()}


def part_resources(part: str) -> dict[str, int] | None:
    """LUT/FF/DSP/BRAM_18K of ``part`` (None for a part not in :data:`PARTS`)."""
    name = device(part)
    return dict(PART_RESOURCES[name]) if name else None


def dsp_shape(family: str) -> tuple[int, int]:
    """Multiplier input widths of one DSP slice of ``family``."""
    return {"7series": (25, 18), "versal": (27, 24)}.get(family, (27, 18))
