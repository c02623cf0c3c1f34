"""The package layout: one-way imports between modules (no circles, checked by static analysis of every import,
including those inside functions), short modules, plain API functions, the 0.1 module paths gone (no import hook)."""
from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import autoq

PKG = Path(__file__).resolve().parents[1] / "autoq"
STAGES = ("data", "quantizers", "cost", "searching", "exporting", "present")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PKG.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _modules() -> dict:
    return {_module_name(p): p for p in PKG.rglob("*.py")}


def import_graph() -> dict:
    """module -> set of autoq modules it imports (anywhere in the file; ``from .x import y`` counts ``.x.y`` when
    that is a module, else ``.x``)."""
    mods = _modules()
    graph = {}
    for name, path in mods.items():
        is_pkg = path.name == "__init__.py"
        package = name if is_pkg else name.rpartition(".")[0]
        deps = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                deps |= {a.name for a in node.names if a.name.split(".")[0] == "autoq"}
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[:len(package.split(".")) - node.level + 1]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                if target.split(".")[0] != "autoq":
                    continue
                for a in node.names:
                    sub = f"{target}.{a.name}"
                    deps.add(sub if sub in mods else target)
        graph[name] = {d for d in deps if d in mods and d != name}
    return graph


def cycles(graph: dict) -> list:
    """Every strongly connected component with more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_circles():
    assert cycles(import_graph()) == []


def test_the_circle_check_finds_a_circle():
    """The check itself works: a graph with a circle is reported."""
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    g = import_graph()
    assert "autoq.searching.finish" in g["autoq.searching.run"]  # real edges are seen, relative imports resolved
    assert "autoq.exporting.pipeline" in g["autoq.searching.run"]  # ... including imports inside functions


def test_every_module_imports():
    for name in sorted(_modules()):
        if name.endswith("_moved"):
            continue
        importlib.import_module(name)


def test_modules_are_short_or_say_why():
    long = []
    for name, path in _modules().items():
        text = path.read_text()
        if text.count("\n") > 420:
            doc = ast.get_docstring(ast.parse(text)) or ""
            if "on purpose" not in doc and "Over 400 lines" not in doc:
                long.append(f"{name}: {text.count(chr(10))} lines")
    assert not long


TOP = ("autoq.present", "autoq.api", "autoq.cli")


def runs_up(graph: dict) -> list:
    """(module, import) pairs where a module below the presentation imports present/, autoq.api or autoq.cli, or
    present/ imports the API or the CLI."""
    up = [(m, d) for m, deps in graph.items() if m != "autoq" and not m.startswith(TOP) for d in deps
          if d.startswith(TOP)]
    up += [(m, d) for m, deps in graph.items() if m.startswith("autoq.present") for d in deps
           if d.startswith(("autoq.api", "autoq.cli"))]
    return sorted(up)


def test_stages_never_import_presentation_or_the_api():
    """present/ sits on top (only autoq.api and the CLI above it): the stages below return data, counting imports
    inside functions. The checker itself catches a stage that reaches up."""
    assert runs_up(import_graph()) == [], "these run back up a stage"
    fake = {"autoq.searching.run": {"autoq.present.tables"}, "autoq.present.plots": {"autoq.api"},
            "autoq.api": {"autoq.present.result"}, "autoq": {"autoq.api"}}
    assert runs_up(fake) == [("autoq.present.plots", "autoq.api"), ("autoq.searching.run", "autoq.present.tables")]


def test_stages_are_packages_and_api_names_are_plain_functions():
    import types

    import autoq
    for stage in STAGES:
        assert (PKG / stage / "__init__.py").is_file(), stage
    for fn in ("search", "export", "load_result"):
        assert isinstance(getattr(autoq, fn), types.FunctionType), fn
        assert not (PKG / f"{fn}.py").exists() and not (PKG / fn).exists(), f"autoq.{fn} is also a module"
    import autoq.exporting.pipeline  # noqa: F401 - importing the modules leaves the functions alone
    import autoq.searching.run  # noqa: F401
    assert isinstance(autoq.search, types.FunctionType) and isinstance(autoq.export, types.FunctionType)


def test_strategies_registry_matches_the_config():
    from autoq.config import config_from_dict
    from autoq.errors import ConfigError
    from autoq.searching import strategies
    from autoq.searching.strategies.base import Strategy
    for name in strategies.names():
        assert issubclass(strategies.get(name), Strategy)
        config_from_dict({"search": {"algorithm": name}})
    with pytest.raises(ConfigError, match="known: random, bayesian, hyperband, pareto, hessian, gradient"):
        config_from_dict({"search": {"algorithm": "genetic"}})


def algorithm_name_tests(tree) -> list:
    """Lines comparing an ``algorithm`` (``x.algorithm == "hyperband"``, ``in ("gradient", ...)``) to names."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            named = any(isinstance(n, ast.Attribute) and n.attr == "algorithm" or
                        isinstance(n, ast.Name) and n.id == "algorithm" for n in sides)
            literal = any(isinstance(n, ast.Constant) and n.value in REGISTRY_NAMES or
                          isinstance(n, (ast.Tuple, ast.List, ast.Set)) and
                          any(isinstance(e, ast.Constant) and e.value in REGISTRY_NAMES for e in n.elts)
                          for n in sides)
            if named and literal:
                out.append(node.lineno)
    return out


REGISTRY_NAMES = ("random", "bayesian", "hyperband", "pareto", "hessian", "gradient")


def test_strategy_traits_come_from_the_registry():
    """Outside the strategies, nothing tests an algorithm by name: what a strategy learns, seeds or sizes is a trait
    of its registry entry. The checker catches a name test."""
    from autoq.searching import strategies
    assert set(REGISTRY_NAMES) == set(strategies.names())
    found = {name: algorithm_name_tests(ast.parse(path.read_text())) for name, path in _modules().items()
             if not name.startswith("autoq.searching.strategies")}
    assert {k: v for k, v in found.items() if v} == {}
    assert algorithm_name_tests(ast.parse('if cfg.search.algorithm == "hyperband": pass\n'
                                          'ok = algorithm in ("gradient", "hessian")')) == [1, 2]
    assert strategies.having(seeds_from_float=True) == ("hessian", "gradient")


@pytest.mark.parametrize("old", ["autoq.jets", "autoq.datasets", "autoq.reports", "autoq.qil", "autoq.oracles"])
def test_old_module_paths_are_gone_and_no_import_hook_is_installed(old):
    """0.2.0 removed the 0.1 flat module paths and the sys.meta_path hook that aliased them (README lists the new
    places): importing autoq changes no import machinery, and an old path is an ordinary ModuleNotFoundError."""
    import sys
    assert not [f for f in sys.meta_path if type(f).__module__.startswith("autoq")]
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module(old)
    with pytest.raises(AttributeError):
        getattr(autoq, old.split(".")[1])


def test_the_output_folder_is_named_once():
    """Every file name of a search folder is spelled in autoq/searching/layout.py only (the folders' names double as
    summary keys, so file names are what is checked)."""
    from autoq.searching import layout
    names = {v for k, v in vars(layout).items() if k.isupper() and "." in v}
    assert {"summary.json", "best_model.h5", "record.json"} <= names
    spelled = sorted(f"{name}:{node.lineno} {node.value}" for name, path in _modules().items()
                     if name != "autoq.searching.layout"
                     for node in ast.walk(ast.parse(path.read_text()))
                     if isinstance(node, ast.Constant) and node.value in names)
    assert spelled == []


def test_the_tests_mirror_the_packages():
    """tests/<stage>/ per stage package (and config), cross-cutting tests (layout, docs, install, CLI, benchmarks) at
    the top; nothing else holds tests."""
    tests = PKG.parent / "tests"
    folders = {p.name for p in tests.iterdir() if p.is_dir() and any(p.glob("test_*.py"))}
    assert folders == set(STAGES) | {"config"}
    assert not list(tests.glob("*/*/test_*.py"))


def attribute_writes(tree, names=("session", "stage")) -> list:
    """Line numbers where ``<name>.<attr> = ...`` (or ``+=``) assigns an attribute of one of ``names``."""
    out = []
    for node in ast.walk(tree):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
            node, (ast.AugAssign, ast.AnnAssign)) else []
        for t in targets:
            for sub in ast.walk(t):
                if isinstance(sub, ast.Attribute) and isinstance(sub.value, ast.Name) and sub.value.id in names:
                    out.append(node.lineno)
    return out


def test_the_search_session_and_its_stages_are_read_only():
    """A search's shared inputs are one frozen session and each stage a frozen value: no module assigns an attribute
    of a session or a stage (a step that learns something returns a new session). The checker catches one."""
    from autoq.searching.session import Session
    from autoq.searching.stage import Stage
    assert Session.__dataclass_params__.frozen and Stage.__dataclass_params__.frozen
    writes = [f"{name}:{line}" for name, path in _modules().items()
              for line in attribute_writes(ast.parse(path.read_text()))]
    assert writes == []
    assert attribute_writes(ast.parse("session.log = print\nstage.partial += 1\nx.session = 1")) == [1, 2]


def test_the_session_state_is_read_only():
    """A session's state (state.json's figures) is a read-only copy, all the way down, however it was given (and
    again on ``but``): a write into it raises, the mapping it was made from is not shared, and thawed gives the
    plain JSON back."""
    import json

    from autoq.searching.session import Session, thawed
    given = {"reference_cost": 2.0, "baselines": {"float": {"val_metric": 0.9, "choice": {"kernel": "q"}}},
             "fingerprint": {"shapes": [[64], [10]]}}
    session = Session(cfg=None, float_model=None, data=None, space=None, metric=None, head=None, energy=None,
                      estimate_settings={}, constraints=None, store=None, state=given)
    for s in (session, session.but(log=None), Session(cfg=None, float_model=None, data=None, space=None, metric=None,
                                                      head=None, energy=None, estimate_settings={}, constraints=None,
                                                      store=None).but(state=given)):
        state = s.state
        with pytest.raises(TypeError):
            state["reference_cost"] = 1.0
        with pytest.raises(TypeError):
            state["baselines"]["float"]["val_metric"] = 1.0
        with pytest.raises(TypeError):
            del state["baselines"]["float"]["choice"]["kernel"]
        with pytest.raises(AttributeError):
            state["fingerprint"]["shapes"].append([1])
        assert thawed(state) == given and json.loads(json.dumps(thawed(state))) == given
    given["reference_cost"] = 3.0
    assert session.state["reference_cost"] == 2.0
    with pytest.raises(TypeError):
        Session(cfg=None, float_model=None, data=None, space=None, metric=None, head=None, energy=None,
                estimate_settings={}, constraints=None, store=None).state["x"] = 1
