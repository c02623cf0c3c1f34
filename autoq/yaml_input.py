"""Reading YAML nobody vetted (a config, ``--hls-config``): bounded in size and alias expansion, each key once.

:func:`read_yaml` is the one reader of user YAML: it refuses text over ``MAX_BYTES``, a tree that aliases expand past
``MAX_NODES`` values (nine lines of nested aliases make a billion), a key given twice in one mapping (YAML's
last-wins would silently drop the first), and integers too long to be settings; every refusal names the line.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError

MAX_NODES = 20_000  # a config is a few hundred values; aliases must not expand it into millions
MAX_BYTES = 1_000_000
MAX_DIGITS = 30  # an integer setting (seed, bits, epochs) fits in far fewer; Python refuses more than 4300


def read_yaml_file(path, what: str = "config") -> tuple[Any, dict, str]:
    """(data, line map, source name) of a YAML file; a missing or unreadable file, or not a regular file, refused."""
    p = Path(path)
    if not p.exists():
        raise ConfigError(f"{what} file not found: {p}")
    if not p.is_file():  # a FIFO or a device would block or never end
        raise ConfigError(f"{what} {p} is not a regular file")
    if p.stat().st_size > MAX_BYTES:
        raise ConfigError(f"{p} is {p.stat().st_size} bytes; a {what} is at most {MAX_BYTES}")
    try:
        text = p.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {what} {p}: {exc}") from None
    data, lines = read_yaml(text, source=os.fspath(p), what=what)
    return data, lines, os.fspath(p)


def read_yaml(text: str, source: str | None = None, what: str = "config") -> tuple[Any, dict]:
    """(data, line map) of YAML text: key paths (tuples) -> 1-based line numbers, for error messages."""
    if len(text) > MAX_BYTES:
        raise ConfigError(f"the {what} is {len(text)} bytes; a {what} is at most {MAX_BYTES}", source=source)
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        if _expanded_size(root) > MAX_NODES:
            raise ConfigError(f"the YAML expands to more than {MAX_NODES} values (aliases repeated inside "
                              f"aliases?); write the {what} out plainly", source=source)
        lines: dict = {}
        _walk(root, (), lines, source)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"malformed YAML: {problem}", line=mark.line + 1 if mark else None, source=source) from None
    except (ValueError, RecursionError) as exc:  # a number Python will not convert; nesting too deep
        raise ConfigError(f"unreadable YAML: {str(exc)[:200]}", source=source) from None
    return data, lines


def _walk(node, path, lines, source) -> None:
    """Fill the line map; refuse a key repeated in one mapping and an integer too long to be a setting."""
    if node is None:
        return
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: dict = {}
        for k, v in node.value:
            key = k.value
            if isinstance(k, yaml.ScalarNode) and key != "<<":
                if key in seen:
                    raise ConfigError(f"duplicate key {key!r} (first given on line {seen[key]}); YAML would keep "
                                      "only the last: give each key once", line=k.start_mark.line + 1, source=source)
                seen[key] = k.start_mark.line + 1
            lines[path + (key,)] = k.start_mark.line + 1
            _walk(v, path + (key,), lines, source)
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            _walk(v, path + (i,), lines, source)
    elif node.tag == "tag:yaml.org,2002:int" and len(node.value) > MAX_DIGITS:
        raise ConfigError(f"an integer of {len(node.value)} digits; settings are at most {MAX_DIGITS} digits long",
                          line=node.start_mark.line + 1, source=source)


def _expanded_size(root) -> int:
    """How many nodes the YAML tree has once its aliases are expanded (stops counting past the limit)."""
    memo: dict = {}

    def size(node):
        if id(node) in memo:
            return memo[id(node)]
        memo[id(node)] = MAX_NODES + 1  # a cycle counts as too large
        if isinstance(node, yaml.MappingNode):
            n = 1 + sum(size(k) + size(v) for k, v in node.value)
        elif isinstance(node, yaml.SequenceNode):
            n = 1 + sum(size(v) for v in node.value)
        else:
            n = 1
        memo[id(node)] = n = min(n, MAX_NODES + 1)
        return n

    return size(root) if root is not None else 0
