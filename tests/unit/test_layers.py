"""Imports flow one way: bot -> dialogs -> core -> storage and api -> core -> storage.

And no module imports itself round a loop (tests/unit/layers_graph.py says what counts).
"""

import ast
from pathlib import Path

import pytest
from layers_graph import import_cycles, import_graph, shortest_cycle

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = {
    "core": {"bot", "api", "dialogs", "aiogram", "fastapi", "sandbox", "supportbot"},
    "storage": {"bot", "api", "dialogs", "core", "aiogram", "fastapi", "sandbox", "supportbot"},
    "dialogs": {"bot", "api", "fastapi", "sandbox", "supportbot"},
    "bot": {"api", "sandbox", "supportbot"},
    "api": {"bot", "dialogs", "aiogram", "sandbox", "supportbot"},
    "sandbox": {"bot", "api", "dialogs", "core", "storage", "supportbot"},
}


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_import_direction(package: str) -> None:
    bad = {}
    for path in (ROOT / package).rglob("*.py"):
        wrong = imports_of(path) & FORBIDDEN[package]
        if wrong:
            bad[str(path.relative_to(ROOT))] = sorted(wrong)
    assert not bad, bad


@pytest.mark.parametrize("type_checking", [False, True], ids=["run-time", "with-TYPE_CHECKING"])
def test_no_import_loops(type_checking: bool) -> None:
    """No import loop among the product's modules, module- or function-level.

    A loop is fixed by passing the thing in from the composition root (supportbot/runtime.py:
    hooks, rules, lists), never by moving an import into a function: those count here too.
    """
    graph = import_graph(ROOT, type_checking=type_checking)
    loops = [" -> ".join(shortest_cycle(graph, group)) for group in import_cycles(graph)]
    assert not loops, loops


def test_loop_finder_sees_a_function_level_loop(tmp_path: Path) -> None:
    (tmp_path / "core").mkdir()
    (tmp_path / "core" / "__init__.py").write_text("")
    (tmp_path / "core" / "a.py").write_text("from core import b\n")
    (tmp_path / "core" / "b.py").write_text("def f():\n    from core.a import x\n")
    graph = import_graph(tmp_path)
    assert [sorted(g) for g in import_cycles(graph)] == [["core.a", "core.b"]]
    (tmp_path / "core" / "b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from core.a import x\n"
    )
    assert import_cycles(import_graph(tmp_path)) == []
    assert len(import_cycles(import_graph(tmp_path, type_checking=True))) == 1


# The database's tables are storage's business and core's: flows and routes work with the
# views core returns. In bot/ only the infrastructure touches tables: the update inbox and its
# chat leases, the send journal, the FSM storage, and the staff-group queue worker (its claim
# and its hot statements are queue machinery, like core/delivery's).
MODEL_IMPORTS_ALLOWED = {
    "bot/fsm_storage.py",
    "bot/inbox.py",
    "bot/inbox_leases.py",
    "bot/inbox_statements.py",
    "bot/journal.py",
    "bot/staff_posts_hot.py",
    "bot/staff_posts_send.py",
    "bot/support_worker.py",
}


def model_imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        found |= {n for n in names if n.startswith("storage.models")}
    return found


@pytest.mark.parametrize("package", ["api", "dialogs", "bot", "supportbot"])
def test_only_the_infrastructure_imports_storage_models(package: str) -> None:
    bad = {}
    for path in (ROOT / package).rglob("*.py"):
        rel = str(path.relative_to(ROOT))
        if rel not in MODEL_IMPORTS_ALLOWED and model_imports(path):
            bad[rel] = sorted(model_imports(path))
    assert not bad, bad
