"""Deep models block by block (AutoQKeras's scheduler): ``search.blocks`` lists groups of layers (name regexes),
searched in order, each with its own trial budget. While block *i* is searched, the blocks before it are fixed at
their best choice and the blocks after it stay float; each block has its own keras-tuner state (``tuner_block<i>``)
and its trials are recorded as ``b<i>-<id>``, so a killed search resumes in the block it was in.

Only the last block's trials quantize every layer: they alone compete for the winner and the Pareto front; the
earlier blocks' trials are kept on record as ``partial``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..errors import AutoqError, SpaceError
from ..space import SearchSpace
from .layout import TRIALS_CSV
from .selection import best_by_score
from .stage import Stage


@dataclass
class BlockSpace(SearchSpace):
    """The slots of one block; ``fixed`` holds the choices of the blocks already searched."""

    fixed: dict = field(default_factory=dict)

    def choice(self, values: dict) -> dict:
        return {**self.fixed, **super().choice(values)}


@dataclass
class Block:
    index: int
    pattern: str
    max_trials: int
    slots: list

    @property
    def prefix(self) -> str:
        return f"b{self.index}-"


def plan(space: SearchSpace, blocks: list) -> list:
    """Split the space's slots into the configured blocks; every quantizable layer must be in exactly one."""
    out, taken = [], {}
    for i, b in enumerate(blocks):
        slots = [s for s in space.slots if re.fullmatch(b["layers"], s.layer)]
        for s in slots:
            if s.layer in taken:
                raise SpaceError(f"search.blocks[{i}]: layer {s.layer!r} is already in block {taken[s.layer]}")
            taken[s.layer] = i
        if not slots:
            raise SpaceError(f"search.blocks[{i}]: {b['layers']!r} matches no quantizable layer; layers: "
                             f"{', '.join(s.layer for s in space.slots)}")
        out.append(Block(i, b["layers"], int(b["max_trials"]), slots))
    missing = [s.layer for s in space.slots if s.layer not in taken]
    if missing:
        raise SpaceError(f"search.blocks: layers {', '.join(missing)} are in no block; add them to one")
    groups = {}
    for s in space.slots:  # a shared (grouped) choice cannot be split across blocks
        groups.setdefault(s.group, set()).add(taken[s.layer])
    split = [g for g, idx in groups.items() if len(idx) > 1]
    if split:
        raise SpaceError(f"search.blocks: the layers of group {split[0]!r} are in different blocks")
    return out


def best_choice(records: list, block: Block) -> dict | None:
    """The block's best-scoring trial's choice for the block's own layers (None before any trial finished)."""
    best = best_by_score(r for r in records if str(r["trial"]).startswith(block.prefix))
    return None if best is None else {s.layer: best["choice"][s.layer] for s in block.slots}


def space_for(space: SearchSpace, block: Block, fixed: dict) -> BlockSpace:
    return BlockSpace(block.slots, space.input_quantizer, space.float_layers, fixed=dict(fixed))


def stages(session):
    """The stages of the search (:class:`.stage.Stage`): one for a plain search; one per block with
    ``search.blocks``, each block's space with the earlier blocks fixed at their best choice (read from the records
    once the stage before has run)."""
    cfg, log = session.cfg, session.log
    if not cfg.search.blocks:
        yield Stage(session.space, cfg.search.max_trials)
        return
    blocks = plan(session.space, cfg.search.blocks)
    fixed: dict = {}
    for block in blocks:
        partial = block.index < len(blocks) - 1
        log(f"[autoq] block {block.index + 1}/{len(blocks)}: {', '.join(s.layer for s in block.slots)} "
            f"({block.max_trials} trials" + (", later blocks float" if partial else "") + ")")
        yield Stage(space_for(session.space, block, fixed), block.max_trials, f"tuner_block{block.index}",
                    block.prefix, partial, sum(b.max_trials for b in blocks[:block.index]))
        best = best_choice(session.store.records(), block)
        if best is None:
            raise AutoqError(f"block {block.index + 1} ({block.pattern}) finished no trial successfully; see "
                             f"{session.store.dir / TRIALS_CSV}")
        fixed.update(best)
