"""The search's progress lines: where they go, a duration, a trial's choice in a few characters per layer, and the
line a finished trial prints."""
from __future__ import annotations

import time

from .. import quantizers
from ..cost import UNITS
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


def trial_line(session, record: dict, max_trials: int | None, done: list) -> str:
    """The line a finished trial prints (``session``: its :class:`.session.Session`); ``done`` is every record on
    disk, the best so far among them by the winner's rule (:mod:`.selection`)."""
    key, metric = session.cost_key, session.metric
    if record["status"] == "ok":
        c = record[key]
        name = "acc" if metric.name == "accuracy" else metric.name
        msg = (f"{name} {record['val_metric']:.4g} | {key} {c:.4g} {UNITS[key]} "
               f"({100 * c / session.state['reference_cost']:.1f}% of ref) | score {record['score']:.4f}")
        if record.get("feasible") is False:
            msg += f" | over {', '.join(record['violated'])}"
    else:
        msg = f"FAILED ({record.get('error')}), going on"
    best = session.selection.best_line(done)
    clock = f"{fmt_time(time.time() - session.t0)} elapsed"
    if max_trials:  # hyperband sizes its own brackets: no total, no estimate
        left = max(max_trials - len(done), 0)
        mean = sum(r.get("seconds", 0) for r in done) / max(len(done), 1)
        clock = f"{len(done)}/{max_trials} done | {clock}, ~{fmt_time(left * mean)} left"
    return f"[autoq] trial {record['trial']} | {msg} | {best} | {record['seconds']:.1f} s | {clock}"
