"""The import graph among the product's modules, read from the AST (nothing is imported).

What counts as an edge `a -> b` (a imports b when it runs):
- `import x.y.z` and `from x.y import z` at module level AND inside functions (a function-level
  import is still a loop, only a deferred one: the usual way loops are hidden);
- `from pkg import name` is an edge to `pkg.name` when that is a module, else to `pkg`;
- importing `a.b.c` also runs `a` and `a.b` (their `__init__`), so those are edges too, except
  a module's own parent packages, which are always imported before it (never a loop);
- relative imports are resolved against the importing module;
- imports under `if TYPE_CHECKING:` are left out of the runtime graph (they never run) and
  counted in the typing graph (`type_checking=True`): a loop there is still two modules that
  cannot be understood one without the other.

Used by tests/unit/test_layers.py (no loop allowed) and scripts/structure.py (the figures).
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGES = ("bot", "api", "dialogs", "core", "storage", "supportbot", "sandbox")


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def product_modules(root: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in (root / package).rglob("*.py"):
            if "migrations/versions" in path.as_posix():  # alembic loads these by path
                continue
            found[module_name(root, path)] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(tree: ast.AST, type_checking: bool) -> list[ast.Import | ast.ImportFrom]:
    nodes: list[ast.Import | ast.ImportFrom] = []
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            nodes.append(node)
        if not type_checking and isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))
    return nodes


def _with_parents(name: str, modules: dict[str, Path], importer: str) -> set[str]:
    """`name` (or its longest prefix that is a product module) and its parent packages."""
    parts = name.split(".")
    while parts and ".".join(parts) not in modules:
        parts.pop()
    found: set[str] = set()
    own_parents = {".".join(importer.split(".")[:i]) for i in range(1, importer.count(".") + 1)}
    for i in range(1, len(parts) + 1):
        candidate = ".".join(parts[:i])
        if candidate in modules and candidate not in own_parents:
            found.add(candidate)
    return found


def import_graph(root: Path, *, type_checking: bool = False) -> dict[str, set[str]]:
    """`type_checking`: count the imports under `if TYPE_CHECKING:` too (what mypy follows)."""
    modules = product_modules(root)
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        edges: set[str] = set()
        for node in _import_nodes(ast.parse(path.read_text()), type_checking):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    edges |= _with_parents(alias.name, modules, name)
                continue
            if node.level:
                base_parts = name.split(".")
                drop = node.level - 1 if is_package else node.level
                base_parts = base_parts[: len(base_parts) - drop] if drop else base_parts
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            edges |= _with_parents(base, modules, name)
            for alias in node.names:
                if f"{base}.{alias.name}" in modules:
                    edges |= _with_parents(f"{base}.{alias.name}", modules, name)
        edges.discard(name)
        graph[name] = edges
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected groups of two or more modules (Tarjan), each one loop or more."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    groups: list[set[str]] = []
    counter = 0

    for start in sorted(graph):
        if start in index:
            continue
        # Iterative Tarjan: (node, iterator over its successors).
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            advanced = False
            for nxt in successors:
                if nxt not in graph:
                    continue
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph[nxt]))))
                    advanced = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                group: set[str] = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.add(member)
                    if member == node:
                        break
                if len(group) > 1:
                    groups.append(group)
    return groups


def shortest_cycle(graph: dict[str, set[str]], group: set[str]) -> list[str]:
    """One loop through the group, shortest first, for a readable failure message."""
    best: list[str] = []
    for start in sorted(group):
        paths = {start: [start]}
        frontier = [start]
        while frontier and not best:
            nxt_frontier = []
            for node in frontier:
                for nxt in sorted(graph[node] & group):
                    if nxt == start:
                        cycle = [*paths[node], start]
                        if not best or len(cycle) < len(best):
                            best = cycle
                    elif nxt not in paths:
                        paths[nxt] = [*paths[node], nxt]
                        nxt_frontier.append(nxt)
            frontier = nxt_frontier
    return best
