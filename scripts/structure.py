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


def handlers(path: Path) -> list[ast.AsyncFunctionDef | ast.FunctionDef]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.AsyncFunctionDef | ast.FunctionDef):
            continue
        for deco in node.decorator_list:
            target = deco.func if isinstance(deco, ast.Call) else deco
            if isinstance(target, ast.Attribute) and target.attr in OBSERVERS:
                found.append(node)
                break
    return found


def opens_session(fn: ast.AsyncFunctionDef | ast.FunctionDef) -> bool:
    """`async with db() as ...` / `async with db.begin() as ...` (or `ctx.db...`) on a parameter
    of the handler."""
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
    print(f"handlers that open their own session: {sum(opens_session(h) for _, h in hs)}")

    ignore = re.compile(r"#\s*type:\s*ignore")
    fs = re.compile(r"\.from_settings\(")
    for label, dirs in (("product", list(PACKAGES)), ("tests+bench+scripts", ["tests", "bench", "scripts"])):
        files = python_files(dirs)
        n_ignore = sum(len(ignore.findall(p.read_text())) for p in files)
        n_fs = sum(len(fs.findall(p.read_text())) for p in files)
        print(f"{label}: `type: ignore` {n_ignore}, from_settings calls {n_fs}")


if __name__ == "__main__":
    main()
