"""The layers of docs/architecture.md, read from the source: arrows point one way, views hold no
SQL, no package reaches into another's routes, every module says what it is and stays short.

A failure names the module and the import (or line) that broke the rule; the fix is to move
the code down a layer, not to widen the rule.
"""

import ast
from pathlib import Path

import pytest

from tests.support import ROOT

SERVICE = ROOT / "service"
# Lower layers never import higher ones. Resources sit in one layer and may use each other's
# queries, stores, schemas and serialisers (never routes) as long as no cycle forms.
LAYER = {"geo": 0, "core": 1, "access": 2, "hours": 2, "ops": 4, "": 4}
RESOURCE = 3
MAX_LINES = 400


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_of(module: str) -> str:
    """`service.sites.store` -> `sites`; `service` itself -> `` (the app factory)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def layer_of(package: str) -> int:
    return LAYER.get(package, RESOURCE)


def imports_of(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every `service...` import, including ones inside functions."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            found += [(node.lineno, name) for name in names if name.split(".")[0] == "service"]
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("service")]
    return found


MODULES = sorted(SERVICE.rglob("*.py"))


def is_module(name: str) -> bool:
    base = ROOT.joinpath(*name.split("."))
    return base.with_suffix(".py").exists() or (base / "__init__.py").exists()


def test_the_source_tree_is_the_one_described():
    """The layer table covers every package under service/ (a new one needs a place)."""
    packages = {p.parent.name for p in SERVICE.glob("*/__init__.py")}
    resources = packages - set(LAYER)
    assert {"geo", "core", "access", "hours", "ops"} <= packages
    assert {"sites", "orgs", "imports", "reports", "tiles", "ogc", "changes"} <= resources
    assert len(MODULES) > 50


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_arrows_point_down(path):
    """A module imports its own package, lower layers, and (for resources) the non-view modules
    of other resources; never a higher layer, never another package's routes."""
    here = package_of(module_name(path))
    for line, target in imports_of(path):
        if not is_module(target):
            continue  # `from service.x import name`: the module itself is checked
        there = package_of(target)
        where = f"{path.relative_to(ROOT)}:{line} imports {target}"
        if there == here:
            continue
        assert layer_of(there) <= layer_of(here), f"{where}: a higher layer"
        if layer_of(here) == RESOURCE:
            assert layer_of(there) < RESOURCE or not target.endswith(".routes"), where
        if target.split(".")[-1] == "routes":
            assert here == "", f"{where}: only the app factory registers blueprints"


def test_resources_use_each_other_without_a_cycle():
    """The package graph among resources is acyclic: sites below ogc, tiles, changes, imports."""
    graph: dict[str, set[str]] = {}
    for path in MODULES:
        here = package_of(module_name(path))
        if layer_of(here) != RESOURCE:
            continue
        for _, target in imports_of(path):
            there = package_of(target)
            if there != here and layer_of(there) == RESOURCE:
                graph.setdefault(here, set()).add(there)
    done: set[str] = set()

    def visit(node: str, trail: tuple[str, ...]) -> None:
        assert node not in trail, f"a cycle: {' -> '.join((*trail, node))}"
        if node in done:
            return
        for nxt in sorted(graph.get(node, ())):
            visit(nxt, (*trail, node))
        done.add(node)

    for node in sorted(graph):
        visit(node, ())
    assert graph["ogc"] >= {"sites"}  # the rule is exercised: a real edge is seen


ROUTES = [p for p in MODULES if p.name in ("routes.py", "admin.py")]


@pytest.mark.parametrize("path", ROUTES, ids=lambda p: str(p.relative_to(ROOT)))
def test_views_hold_no_sql(path):
    """Routes parse, authorise, call a query or store function and answer; SQL lives below."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            assert name not in ("text", "select", "execute", "scalar", "scalars"), (
                f"{path.relative_to(ROOT)}:{node.lineno} calls {name}()"
            )


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_module_says_what_it_is_and_stays_short(path):
    source = path.read_text()
    lines = source.count("\n")
    assert lines <= MAX_LINES, f"{path.relative_to(ROOT)} has {lines} lines"
    if path.name != "__init__.py" or source.strip():
        assert ast.get_docstring(ast.parse(source)), f"{path.relative_to(ROOT)} has no docstring"


def test_the_default_zone_is_written_once():
    """`Asia/Shanghai` is core.settings.DEFAULT_TIMEZONE; everything else names the setting."""
    holders = [p for p in MODULES if "Asia/Shanghai" in p.read_text()]
    assert holders == [SERVICE / "core" / "settings.py"]
