"""The search's progress lines: where they go, a duration, and a trial's choice in a few characters per layer."""
from __future__ import annotations

from .. import quantizers
from ..errors import AutoqError


def fmt_time(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def short_choice(choice: dict) -> str:
    """A trial's choice in a few characters per layer: ``fc1 k4 b8 a4, fc2 kT b8`` (T ternary, B binary, p po2,
    q QIL; the number is the bit width)."""
    tag = {"ternary": "T", "stochastic_ternary": "T", "binary": "B", "stochastic_binary": "B"}
    out = []
    for layer, roles in choice.items():
        parts = []
        for role, text in roles.items():
            if role == "width":  # space.widths: the width factor (autoq.widths)
                parts.append(f"w{text:g}")
                continue
            try:
                spec = quantizers.parse(text)
                mark = tag.get(spec.name) or (("p" if "po2" in spec.name else "q" if spec.name == "qil" else "")
                                              + str(spec.bits))
            except AutoqError:
                mark = "?"
            parts.append(f"{role[0]}{mark}")
        out.append(f"{layer} {' '.join(parts)}")
    return ", ".join(out)


def printer(verbose, log=None):
    """``log`` when given, else print flushed lines when ``verbose``, else nothing."""
    if log is not None:
        return log
    return (lambda *a, **k: print(*a, **{"flush": True, **k})) if verbose else (lambda *a, **k: None)
