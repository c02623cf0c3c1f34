"""What the README and the annotated config say matches the code's own lists (issue 21): the search algorithms (the
strategies' registry), the data sources, the cost names and the CLI's subcommands. A new name in code without its
line in the docs, or a stale list in the docs, fails here."""
from __future__ import annotations

import re
from pathlib import Path

from autoq.cli import _parser
from autoq.config import COSTS, DATA_SOURCES
from autoq.searching import strategies

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
DIGITS = (ROOT / "configs" / "digits.yaml").read_text()
NUMBERS = {4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight", 9: "nine", 10: "ten"}


def section(title: str) -> str:
    """The README's section under ``## title``, up to the next heading of that level."""
    m = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## )", README, re.S | re.M)
    assert m, f"README has no section '## {title}'"
    return m.group(1)


def config_item(key: str) -> str:
    """The README's bullet on one config section (``- `key`: ...``, continued on indented lines)."""
    m = re.search(rf"^- `{key}`[^\n]*\n(?:  [^\n]*\n)*", section("The config"), re.M)
    assert m, f"the README's config section has no bullet for `{key}`"
    return " ".join(m.group(0).split())


def ticked(text: str) -> list:
    return re.findall(r"`([A-Za-z0-9_-]+)`", text)


def yaml_comment_names(key: str) -> set:
    """Names in configs/digits.yaml's comment on ``key``: ``key: value  # a | b | c`` or ``# key: a | b`` lines above."""
    lines = DIGITS.splitlines()
    for i, line in enumerate(lines):
        if re.match(rf"\s*{key}:", line) and "#" in line:
            text = line.split("#", 1)[1]
            break
        if re.match(rf"\s*# {key}:", line):
            text = line.split(":", 1)[1]
            for more in lines[i + 1:]:
                if not more.strip().startswith("#"):
                    break
                text += more.strip().lstrip("#")
            break
    else:
        raise AssertionError(f"configs/digits.yaml has no comment listing the values of {key}")
    text = re.sub(r"\([^)]*\)", "", text)
    return {w.strip() for w in text.split("|")}


def test_algorithms_match_the_registry():
    names = set(strategies.names())
    algorithms = section("Search algorithms")
    assert f"one of {NUMBERS[len(names)]} strategies" in algorithms
    listed = {n for n in ticked(algorithms) if n in names or re.fullmatch(r"[a-z]+", n)}
    assert names <= listed, f"README 'Search algorithms' misses {names - listed}"
    item = config_item("search")
    assert set(ticked(item.split("`algorithm` is", 1)[1].split(";", 1)[0])) == names, item
    assert yaml_comment_names("algorithm") == names
    search = next(a for a in _parser()._actions if a.dest == "command").choices["search"]
    assert set(next(a for a in search._actions if a.dest == "algorithm").choices) == names


def test_data_sources_match_the_config():
    item = config_item("data")
    listed = set(ticked(item.split("`source` is one of", 1)[1].split("; `task`", 1)[0]))
    listed.discard("autoq")  # `autoq data make-jets` is not a source
    assert listed - {"search"} == set(DATA_SOURCES), item
    assert yaml_comment_names("source") == set(DATA_SOURCES)


def test_costs_match_the_config():
    item = config_item("goal")
    assert set(ticked(item.split("`cost` is", 1)[1].split(".", 1)[0])) == set(COSTS), item
    assert yaml_comment_names("cost") == set(COSTS)


def test_cli_subcommands_are_documented():
    commands = set(next(a for a in _parser()._actions if a.dest == "command").choices)
    layout = re.search(r"cli\.py +argparse shell: ([^\n]*)", README).group(1)
    assert {w.split()[0] for w in layout.split(", ")} == commands, layout
    for command in commands:
        assert f"autoq {command}" in README, f"the README shows no `autoq {command}` command"
    import autoq.cli
    assert set(re.search(r"``autoq ([^`]*)``", autoq.cli.__doc__).group(1).replace(" ", "").split("|")) == commands
