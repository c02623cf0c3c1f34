"""A stage of the search: the space its trials choose from and how they are named. A plain search is one stage;
``search.blocks`` makes one per block (:mod:`.blocks`)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .layout import TUNER


@dataclass(frozen=True)
class Stage:
    """``space``: the (block's) space; ``trials``: its trial budget; ``project``: its keras-tuner folder;
    ``prefix``: its trials' id prefix (``b<i>-``); ``partial``: its trials leave later blocks float;
    ``number_offset``: the trials of the stages before it (trial numbers run on across stages)."""

    space: Any
    trials: int
    project: str = TUNER
    prefix: str = ""
    partial: bool = False
    number_offset: int = 0
