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
# queries, stores, schemas and serialisers (never views) as long as no cycle forms. A new
# package needs a line here (the first test says so).
RESOURCE = 3
LAYER = {
    "geo": 0,
    "core": 1,
    "access": 2,
    "hours": 2,
    **dict.fromkeys(
        ["sites", "orgs", "imports", "reports", "changes", "tiles", "ogc", "amenities"]
        + ["holidays", "health", "web", "console"],
        RESOURCE,
    ),
    "ops": 4,
    "": 4,  # service/__init__.py: create_app
}
MAX_LINES = 400
# What a view may not call: SQL is built and run in queries.py and store.py.
# (sa.insert, sa.update and the rest are caught as attributes of sqlalchemy.)
SQL_CALLS = {
    "text", "select", "union", "union_all", "execute", "exec_driver_sql", "scalar", "scalars",
    "Prepared",
}  # fmt: skip


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_of(module: str) -> str:
    """`service.sites.store` -> `sites`; `service` itself -> `` (the app factory)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def layer_of(package: str) -> int:
    return LAYER[package]


def imports_of(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every `service...` import, relative ones resolved, including imports
    inside functions; `from a import b` gives both `a` and `a.b`."""
    here = module_name(path).split(".")
    if path.name != "__init__.py":
        here = here[:-1]  # the package a relative import starts from
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = here[: len(here) - node.level + 1]
                base = ".".join([*up, base] if base else up)
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]
            found += [(node.lineno, name) for name in names if name.split(".")[0] == "service"]
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("service")]
    return found


MODULES = sorted(SERVICE.rglob("*.py"))


def is_module(name: str) -> bool:
    base = ROOT.joinpath(*name.split("."))
    return base.with_suffix(".py").exists() or (base / "__init__.py").exists()


def is_view(path: Path) -> bool:
    """A module that makes a blueprint (of any class named ...Blueprint): it answers requests."""
    if path == SERVICE / "core" / "api.py":  # where Blueprint is defined
        return False
    names = (
        getattr(node.func, "id", None) or getattr(node.func, "attr", "")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call)
    )
    return any(name.endswith("Blueprint") for name in names)


VIEWS = [p for p in MODULES if is_view(p)]
VIEW_MODULES = {module_name(p) for p in VIEWS}


def test_the_source_tree_is_the_one_described():
    """Every package under service/ has its layer in the table, and the table no stale one."""
    packages = {p.parent.name for p in SERVICE.glob("*/__init__.py")} | {""}
    assert packages == set(LAYER)
    assert len(MODULES) > 50 and len(VIEWS) >= 13


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_arrows_point_down(path):
    """A module imports its own package and lower layers, and (for resources) the non-view
    modules of other resources; never a higher layer; a view only the app factory imports."""
    here = package_of(module_name(path))
    for line, target in imports_of(path):
        if not is_module(target):
            continue  # `from service.x import name`: the module itself is checked
        there = package_of(target)
        where = f"{path.relative_to(ROOT)}:{line} imports {target}"
        if target in VIEW_MODULES:
            assert path == SERVICE / "__init__.py", f"{where}: only create_app imports views"
        if there != here:
            assert layer_of(there) <= layer_of(here), f"{where}: a higher layer"


def test_packages_use_each_other_without_a_cycle():
    """The package graph is acyclic, within a layer too (sites below ogc, tiles, changes and
    imports; access beside hours)."""
    graph: dict[str, set[str]] = {}
    for path in MODULES:
        here = package_of(module_name(path))
        for _, target in imports_of(path):
            there = package_of(target)
            if there != here and is_module(target):
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


@pytest.mark.parametrize("path", VIEWS, ids=lambda p: str(p.relative_to(ROOT)))
def test_views_hold_no_sql(path):
    """Views parse, authorise, call a query or store function and answer; SQL lives below. Of
    SQLAlchemy a view may name only its exceptions (`sa.exc`)."""
    for node in ast.walk(ast.parse(path.read_text())):
        where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            assert name not in SQL_CALLS, f"{where} calls {name}()"
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if node.value.id in ("sa", "sqlalchemy"):
                assert node.attr == "exc", f"{where} uses sqlalchemy.{node.attr}"
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sqlalchemy"):
            assert node.module == "sqlalchemy.exc", f"{where} imports from {node.module}"


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
