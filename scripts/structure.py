"""The structure figures issue 14 asks for, read from the source (no import, no database).

    .venv/bin/python scripts/structure.py

Prints: import loops among the product's packages, files over 500 lines, injected parameters
per aiogram handler, handlers that open their own session, `type: ignore` comments and
`from_settings` calls. The import graph is the one tests/unit/test_layers.py checks
(tests/unit/layers_graph.py): module-level and function-level imports, `if TYPE_CHECKING:`
blocks left out (they never run), and an import of `a.b.c` also imports `a` and `a.b`.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "unit"))

from layers_graph import PACKAGES, import_cycles, import_graph, shortest_cycle  # noqa: E402

# aiogram's observers: `@router.<observer>(...)` makes the function a handler.
OBSERVERS = {
    "message",
    "edited_message",
    "channel_post",
    "edited_channel_post",
    "inline_query",
    "chosen_inline_result",
    "callback_query",
    "shipping_query",
    "pre_checkout_query",
    "poll",
    "poll_answer",
    "my_chat_member",
    "chat_member",
    "chat_join_request",
    "message_reaction",
    "message_reaction_count",
    "chat_boost",
    "removed_chat_boost",
    "error",
    "business_message",
}
SOURCE_DIRS = [*PACKAGES, "tests", "bench", "scripts"]


def python_files(dirs: list[str]) -> list[Path]:
    files: list[Path] = []
    for d in dirs:
        files += sorted(p for p in (ROOT / d).rglob("*.py") if "migrations/versions" not in str(p))
    return files


DECLARATIONS = {"on_button", "on_message", "on_edit", "on_membership"}  # dialogs/flow.py
Function = ast.AsyncFunctionDef | ast.FunctionDef


def handlers(path: Path) -> list[Function]:
    """A module's handlers: functions decorated with `@router.<observer>(...)`, and callbacks
    named first in a flow declaration (`on_button(on_x, ...)`, dialogs/flow.py)."""
    tree = ast.parse(path.read_text())
    functions = {n.name: n for n in ast.walk(tree) if isinstance(n, Function)}
    found: dict[str, Function] = {}
    for node in functions.values():
        for deco in node.decorator_list:
            target = deco.func if isinstance(deco, ast.Call) else deco
            if isinstance(target, ast.Attribute) and target.attr in OBSERVERS:
                found[node.name] = node
                break
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in DECLARATIONS:
            first = node.args[0] if node.args else None
            if isinstance(first, ast.Name) and first.id in functions:
                found[first.id] = functions[first.id]
    return list(found.values())


def opens_session_here(fn: Function) -> bool:
    """`async with db() as ...` / `async with db.begin() as ...` (or `ctx.db...`,
    `turn.ctx.db...`) on a parameter of the function."""
    params = {a.arg for a in fn.args.args + fn.args.kwonlyargs}
    for node in ast.walk(fn):
        if isinstance(node, ast.AsyncWith):
            for item in node.items:
                call = item.context_expr
                if not isinstance(call, ast.Call):
                    continue
                f = call.func
                while isinstance(f, ast.Attribute):  # db.begin, ctx.db, ctx.db.begin
                    f = f.value
                if isinstance(f, ast.Name) and f.id in params:
                    return True
    return False


def opens_session(fn: Function, module: dict[str, Function], seen: set[str] | None = None) -> bool:
    """The handler, or a function of its own module that it calls (followed down), opens a
    session."""
    seen = seen if seen is not None else set()
    if fn.name in seen:
        return False
    seen.add(fn.name)
    if opens_session_here(fn):
        return True
    for node in ast.walk(fn):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in module:
            if opens_session(module[node.func.id], module, seen):
                return True
    return False


def uses_uow(fn: Function, module: dict[str, Function], seen: set[str] | None = None) -> bool:
    """Calls the update's unit of work (`turn.uow.write(...)` / `.read(...)`, storage/uow.py),
    itself or through a function of its module."""
    seen = seen if seen is not None else set()
    if fn.name in seen:
        return False
    seen.add(fn.name)
    for node in ast.walk(fn):
        if isinstance(node, ast.Attribute) and node.attr == "uow":
            return True
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in module:
            if uses_uow(module[node.func.id], module, seen):
                return True
    return False


def module_functions(path: Path) -> dict[str, Function]:
    return {n.name: n for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, Function)}


def main() -> None:
    graph = import_graph(ROOT)
    cycles = import_cycles(graph)
    print(f"product modules: {len(graph)}, import edges: {sum(len(v) for v in graph.values())}")
    print(f"import loops at run time (strongly connected groups of modules): {len(cycles)}")
    for group in cycles:
        print("   ", " -> ".join(shortest_cycle(graph, group)))
    typing_graph = import_graph(ROOT, type_checking=True)
    typing_cycles = import_cycles(typing_graph)
    print(f"import loops counting `if TYPE_CHECKING:` imports too: {len(typing_cycles)}")
    for group in typing_cycles:
        print("   ", " -> ".join(shortest_cycle(typing_graph, group)))

    big = [(len(p.read_text().splitlines()), p) for p in python_files(SOURCE_DIRS)]
    big = sorted((n, p) for n, p in big if n > 500)
    product_big = [(n, p) for n, p in big if p.relative_to(ROOT).parts[0] in PACKAGES]
    print(f"files over 500 lines: {len(big)} (product packages: {len(product_big)})")
    for n, p in big:
        print(f"    {n:5d} {p.relative_to(ROOT)}")

    hs = [(p, h) for p in python_files(list(PACKAGES)) for h in handlers(p)]
    counts = [len(h.args.args) + len(h.args.kwonlyargs) - 1 for _, h in hs]
    worst = max(hs, key=lambda ph: len(ph[1].args.args) + len(ph[1].args.kwonlyargs))
    print(
        f"aiogram handlers: {len(hs)}, injected parameters (all but the event): "
        f"average {sum(counts) / len(counts):.1f}, max {max(counts)} "
        f"({worst[0].relative_to(ROOT)}:{worst[1].name})"
    )
    own = sum(opens_session(h, module_functions(p)) for p, h in hs)
    print(f"handlers that open their own session (or a function of their module they call does): {own}")
    through_uow = sum(uses_uow(h, module_functions(p)) for p, h in hs)
    print(f"handlers that call a use case through the update's unit of work: {through_uow}")

    ignore = re.compile(r"#\s*type:\s*ignore")
    fs = re.compile(r"\.from_settings\(")
    for label, dirs in (("product", list(PACKAGES)), ("tests+bench+scripts", ["tests", "bench", "scripts"])):
        files = python_files(dirs)
        n_ignore = sum(len(ignore.findall(p.read_text())) for p in files)
        n_fs = sum(len(fs.findall(p.read_text())) for p in files)
        print(f"{label}: `type: ignore` {n_ignore}, from_settings calls {n_fs}")


if __name__ == "__main__":
    main()
