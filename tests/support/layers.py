"""The import graph of a source tree, read with ``ast`` (nothing is imported), and its checks.

Every import counts: module level, inside functions (lazy imports) and under
``if TYPE_CHECKING:``. A lazy import still couples two modules, and a type-only
import still says one needs the other, so a cycle through either is a cycle.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

Graph = dict[str, set[str]]


def modules(root: Path, packages: Iterable[str]) -> dict[str, Path]:
    """Dotted module name → file, for every ``.py`` under ``root/<package>``."""
    found: dict[str, Path] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _eager_nodes(tree: ast.Module) -> Iterable[ast.AST]:
    """The statements that run when the module is imported: not function bodies, not
    ``if TYPE_CHECKING:`` blocks."""
    stack: list[ast.AST] = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            continue
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            stack.extend(node.orelse)
            continue
        yield node
        stack.extend(ast.iter_child_nodes(node))


def _imported_names(tree: ast.Module, module: str, is_package: bool, eager: bool) -> Iterable[str]:
    package = module if is_package else module.rpartition(".")[0]
    for node in (_eager_nodes(tree) if eager else ast.walk(tree)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                if node.level > 1:
                    anchor = anchor[: -(node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def import_graph(root: Path, packages: Iterable[str], skip: Iterable[str] = (), eager: bool = False) -> Graph:
    """Module → the modules it imports: our own by full dotted name, others by top-level name.

    ``from a.b import c`` is an edge to ``a.b.c`` when that is a module, else to ``a.b``.
    Modules whose name starts with one of ``skip`` (generated code) are left out. With
    ``eager``, only the imports that run when the module is imported count.
    """
    skip = tuple(skip)
    ours = {m: p for m, p in modules(root, packages).items() if not m.startswith(skip)}
    graph: Graph = {}
    for module, path in ours.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        edges: set[str] = set()
        for name in _imported_names(tree, module, path.name == "__init__.py", eager):
            target = name
            while target and target not in ours:
                target = target.rpartition(".")[0]
            if target:
                if target != module:
                    edges.add(target)
            elif name and not name.startswith(skip) and name.split(".")[0] not in packages:
                edges.add(name.split(".")[0])
        graph[module] = edges
    return graph


def cycles(graph: Graph) -> list[list[str]]:
    """The strongly connected components with more than one module (each one holds a cycle)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(root: str) -> None:
        # Tarjan's algorithm, iterative: the graph may be deeper than the recursion limit.
        nonlocal counter
        work = [(root, iter(sorted(graph.get(root, ()))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next((c for c in children if c in graph), None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return sorted(found)


def reachable(graph: Graph, start: str) -> dict[str, str | None]:
    """Every module ``start`` imports, directly or not → the module that imports it on one path."""
    parent: dict[str, str | None] = {start: None}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for child in sorted(graph.get(node, ())):
            if child not in parent:
                parent[child] = node
                queue.append(child)
    return parent


def chain_to(parent: dict[str, str | None], target: str) -> list[str]:
    path = [target]
    while parent[path[-1]] is not None:
        path.append(parent[path[-1]])  # type: ignore[arg-type]
    return path[::-1]


@dataclass(frozen=True)
class Rule:
    """Modules under ``source`` (a dotted prefix) must not import any module under ``forbidden``.

    Directly, or with ``transitive`` through any chain of imports of the graph it is
    checked against (the eager graph: what importing the module loads).
    """

    source: str
    forbidden: tuple[str, ...]
    why: str
    transitive: bool = False

    def applies_to(self, module: str) -> bool:
        return module == self.source or module.startswith(self.source + ".")

    def forbids(self, module: str) -> bool:
        return any(module == f or module.startswith(f + ".") for f in self.forbidden)


def violations(graph: Graph, rules: Iterable[Rule]) -> list[str]:
    """One line per (rule, source module) that imports a forbidden module, with the import chain."""
    found = []
    for rule in rules:
        for module in sorted(m for m in graph if rule.applies_to(m)):
            if rule.transitive:
                parent = reachable(graph, module)
                bad = sorted(m for m in parent if rule.forbids(m))
                if bad:
                    found.append(f"{rule.why}: {' -> '.join(chain_to(parent, bad[0]))}")
            else:
                found += [f"{rule.why}: {module} -> {m}" for m in sorted(graph[module]) if rule.forbids(m)]
    return found
