"""Resources of common AMD/Xilinx FPGA parts, from AMD's public product tables (DS190 Zynq-7000, DS180 7-series,
DS890 UltraScale, DS891 Zynq UltraScale+ MPSoC, DS962/DS963 Alveo): what ``goal.budget.part_fraction`` is a share of.
BRAM is counted in 18 kb blocks (two per 36 kb block), as hls4ml's reports and :mod:`autoq.cost.estimate` count it."""
from __future__ import annotations

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
