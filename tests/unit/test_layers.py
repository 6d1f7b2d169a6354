"""Imports flow one way: bot -> dialogs -> core -> storage and api -> core -> storage."""

import ast
from pathlib import Path

import pytest

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
