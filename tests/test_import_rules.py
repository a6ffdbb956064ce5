"""The import rules of the README's "Layout" table, checked on the source with ``ast``.

Every ``.py`` file of the four packages is parsed (nothing is imported), and every
import is recorded with where it sits: at module level, inside a function, or under
``if TYPE_CHECKING:``. From that:

* the may-import table: ``catalog`` imports none of the others, ``overlays`` and
  ``analytics`` only ``catalog`` (type-only imports count: a layer is a layer);
* inside ``studio/``, only the process entry points import ``studio.app``;
* no import cycle among modules, counting module-level and in-function imports
  (an import moved into a function still runs, it only runs later), but not
  ``TYPE_CHECKING`` ones (they never run).
"""

from __future__ import annotations

import ast
import importlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("catalog", "overlays", "analytics", "studio")
MAY_IMPORT: dict[str, frozenset[str]] = {
    "catalog": frozenset(),
    "overlays": frozenset({"catalog"}),
    "analytics": frozenset({"catalog"}),
    "studio": frozenset(PACKAGES),
}
# The process entry points: they start the server, so they may import the app that wires it.
APP_MODULE = "studio.app"
APP_IMPORTERS = frozenset({"studio.cli", "studio.runner"})


class Kind(Enum):
    MODULE = "module level"
    FUNCTION = "inside a function"
    TYPE_CHECKING = "under TYPE_CHECKING"


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    kind: Kind
    line: int

    def __str__(self) -> str:
        return f"{self.source} -> {self.target} ({self.kind.value}, line {self.line})"


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def package_modules(root: Path = ROOT, packages: Iterable[str] = PACKAGES) -> dict[str, Path]:
    """Module name -> file, for every ``.py`` file of the packages."""
    return {
        module_name(path, root): path
        for package in packages
        for path in sorted((root / package).rglob("*.py"))
    }


class _ImportFinder(ast.NodeVisitor):
    """Every import of one module, with the kind of place it sits in."""

    def __init__(self, module: str, is_package: bool) -> None:
        self.module = module
        self.is_package = is_package
        self.found: list[tuple[tuple[str, ...], Kind, int]] = []
        self._functions = 0
        self._type_checking = 0

    def _kind(self) -> Kind:
        if self._type_checking:
            return Kind.TYPE_CHECKING
        return Kind.FUNCTION if self._functions else Kind.MODULE

    def _visit_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        self._functions += 1
        self.generic_visit(node)
        self._functions -= 1

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self._visit_function(node)

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        self._visit_function(node)

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self._visit_function(node)

    def visit_If(self, node: ast.If) -> None:
        test = node.test
        guarded = (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
            isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
        )
        if not guarded:
            self.generic_visit(node)
            return
        self._type_checking += 1
        for child in node.body:
            self.visit(child)
        self._type_checking -= 1
        for child in node.orelse:  # the else branch of `if TYPE_CHECKING` is what runs
            self.visit(child)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.found.append(((alias.name,), self._kind(), node.lineno))

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = node.module or ""
        if node.level:
            package = self.module if self.is_package else self.module.rpartition(".")[0]
            parts = package.split(".")
            anchor = parts[: len(parts) - (node.level - 1)]
            base = ".".join([*anchor, base] if base else anchor)
        for alias in node.names:
            # `from pkg import mod` imports the module pkg.mod when there is one; else a name of pkg.
            self.found.append(((f"{base}.{alias.name}", base), self._kind(), node.lineno))


def import_edges(modules: Mapping[str, Path]) -> list[Edge]:
    """Every import from one of ``modules`` to another (or itself), one edge per imported name."""
    edges: set[Edge] = set()
    for name, path in modules.items():
        finder = _ImportFinder(name, path.name == "__init__.py")
        finder.visit(ast.parse(path.read_text(encoding="utf-8"), str(path)))
        for candidates, kind, line in finder.found:
            target = next((c for c in candidates if c in modules), None)
            if target is not None:
                edges.add(Edge(name, target, kind, line))
    return sorted(edges, key=lambda e: (e.source, e.line, e.target))


def import_graph(edges: Iterable[Edge], kinds: Iterable[Kind]) -> dict[str, set[str]]:
    wanted = set(kinds)
    graph: dict[str, set[str]] = {}
    for edge in edges:
        graph.setdefault(edge.source, set())
        graph.setdefault(edge.target, set())
        if edge.kind in wanted:
            graph[edge.source].add(edge.target)
    return graph


def import_cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """The import cycles of ``graph``: its strongly connected components with more than one
    module, or one module importing itself (Tarjan's algorithm, iterative). Sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    targets = {node: sorted(set(graph.get(node, ()))) for node in graph}
    for node in list(targets):
        for target in targets[node]:
            targets.setdefault(target, [])

    def strongconnect(start: str) -> None:
        work: list[tuple[str, Iterator[str]]] = [(start, iter(targets[start]))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(targets[child])))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in targets[node]:
                    cycles.append(sorted(component))

    for node in sorted(targets):
        if node not in index:
            strongconnect(node)
    return sorted(cycles)


EDGES = import_edges(package_modules())
RUNTIME = (Kind.MODULE, Kind.FUNCTION)


def package_of(module: str) -> str:
    return module.partition(".")[0]


# -- the detector itself ----------------------------------------------------------------------
def test_the_cycle_detector_finds_a_cycle_and_nothing_else() -> None:
    graph = {"a": ["b"], "b": ["c"], "c": ["a", "d"], "d": ["e"], "e": [], "f": ["f"], "g": ["d"]}
    assert import_cycles(graph) == [["a", "b", "c"], ["f"]]
    assert import_cycles({"a": ["b"], "b": ["c"], "c": []}) == []


def test_imports_are_found_with_their_kind(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("from pkg import b\n")
    (package / "a.py").write_text(
        "from __future__ import annotations\n"
        "from typing import TYPE_CHECKING\n"
        "import pkg.b\n"
        "if TYPE_CHECKING:\n"
        "    from pkg.c import C\n"
        "def f():\n"
        "    from . import c\n"
        "    return c\n"
    )
    (package / "b.py").write_text("from .a import f\n")
    (package / "c.py").write_text("")
    edges = import_edges(package_modules(tmp_path, ["pkg"]))
    assert {(e.source, e.target, e.kind) for e in edges} == {
        ("pkg", "pkg.b", Kind.MODULE),
        ("pkg.a", "pkg.b", Kind.MODULE),
        ("pkg.a", "pkg.c", Kind.TYPE_CHECKING),
        ("pkg.a", "pkg.c", Kind.FUNCTION),
        ("pkg.b", "pkg.a", Kind.MODULE),
    }
    assert import_cycles(import_graph(edges, RUNTIME)) == [["pkg.a", "pkg.b"]]
    assert import_cycles(import_graph(edges, [Kind.TYPE_CHECKING])) == []


def test_the_tree_is_read() -> None:
    sources = {package_of(e.source) for e in EDGES}
    assert sources == set(PACKAGES)
    assert any(e.source == "studio.cli" for e in EDGES)


# -- the rules ------------------------------------------------------------------------------------
def test_packages_import_only_what_the_layout_table_allows() -> None:
    broken = [
        str(e)
        for e in EDGES
        if package_of(e.target) != package_of(e.source) and package_of(e.target) not in MAY_IMPORT[package_of(e.source)]
    ]
    assert broken == []


def test_no_import_cycles_outside_studio() -> None:
    edges = [e for e in EDGES if package_of(e.source) != "studio"]
    assert import_cycles(import_graph(edges, RUNTIME)) == []


def test_only_the_entry_points_import_the_app() -> None:
    importers = sorted(str(e) for e in EDGES if e.target == APP_MODULE and e.source not in APP_IMPORTERS)
    assert importers == []


def test_no_import_cycles() -> None:
    assert import_cycles(import_graph(EDGES, RUNTIME)) == []


def test_analytics_lazy_names_are_its_public_names() -> None:
    analytics = importlib.import_module("analytics")
    assert sorted(analytics.__all__) == sorted(["events", *analytics._LAZY])
