"""Learned choices back into the listed space (``search.leave_space: false``, the default): each learned quantizer
that the space does not list becomes the listed one of its slot and role nearest to it (fewest bits of difference,
then fewest integer bits of difference, then the first listed)."""
from __future__ import annotations


def _distance(spec: str, listed: str):
    from ...quantizers import parse
    try:
        a, b = parse(spec).equivalent(), parse(listed).equivalent()
    except Exception:  # a listed quantizer without a fixed-point form (po2, ...): farthest, yet pickable
        return (1_000, 1_000)
    return (abs(a.bits - b.bits), abs(a.integer - b.integer))


def nearest(spec: str, listed: list) -> str:
    """The listed spec nearest to ``spec`` (``spec`` itself when listed)."""
    if spec in listed or not listed:
        return spec
    return min(listed, key=lambda s: _distance(spec, s))


def outside(space, choice: dict) -> list:
    """``[(layer, role, spec)]`` of ``choice``'s quantizers the space does not list for that slot and role."""
    return [(s.layer, r, choice[s.layer][r]) for s in space.slots for r, listed in s.roles.items()
            if s.layer in choice and r in choice[s.layer] and choice[s.layer][r] not in listed]


def snap(space, choice: dict) -> dict:
    """``choice`` with every quantizer the space does not list replaced by the nearest listed one."""
    out = {layer: dict(roles) for layer, roles in choice.items()}
    for s in space.slots:
        for role, listed in s.roles.items():
            if s.layer in out and role in out[s.layer]:
                out[s.layer][role] = nearest(out[s.layer][role], listed)
    return out
