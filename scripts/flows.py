"""Writes docs/FLOWS.md: every flow's state diagram, drawn from its declaration (dialogs/flow.py).

    .venv/bin/python scripts/flows.py          # write docs/FLOWS.md
    .venv/bin/python scripts/flows.py --check  # exit 1 if docs/FLOWS.md is not what the code says

A flow is a module-level `Flow` in a module under dialogs/ (found by walking the package, so
there is no list to keep). tests/unit/test_flows.py runs the check.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import dialogs  # noqa: E402
from dialogs.flow import Flow  # noqa: E402

DOC = ROOT / "docs" / "FLOWS.md"


def flows() -> list[tuple[str, Flow]]:
    found: dict[int, tuple[str, Flow]] = {}
    for info in sorted(pkgutil.walk_packages(dialogs.__path__, "dialogs."), key=lambda i: i.name):
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            if isinstance(value, Flow) and id(value) not in found:
                found[id(value)] = (info.name, value)
    return list(found.values())


def render() -> str:
    out = [
        "# Flows and their states",
        "",
        "Written by `scripts/flows.py` from each flow's declaration (`Flow(...)` at the bottom of",
        "its module, dialogs/flow.py); tests/unit/test_flows.py fails when this file and the code",
        "differ. `[*]` is a chat that waits for nothing; an arrow is a callback, labelled with what",
        "the person did and the callback's name. A callback declared without `runs_in` (a button, a",
        "command) runs whatever the chat waits for; it is drawn from `[*]`. A callback that enters",
        "a state its arrows do not show raises `FlowError`, so the diagrams cannot drift from what",
        "runs.",
        "",
    ]
    for module, flow in flows():
        out += [f"## {flow.name} (`{module}`)", ""]
        if flow.doc:
            out += [flow.doc, ""]
        out += ["```mermaid", flow.diagram(), "```", ""]
    return "\n".join(out)


def main() -> int:
    text = render()
    if "--check" in sys.argv[1:]:
        if not DOC.exists() or DOC.read_text() != text:
            print(f"{DOC.relative_to(ROOT)} is out of date: run .venv/bin/python scripts/flows.py")
            return 1
        return 0
    DOC.write_text(text)
    print(f"wrote {DOC.relative_to(ROOT)} ({len(flows())} flows)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
