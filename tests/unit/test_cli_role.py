"""`supportbot run --role ...` overrides PROCESS_ROLE; a wrong role is refused by argparse."""

from __future__ import annotations

import logging

import pytest

from supportbot import cli


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch, tmp_path):  # type: ignore[no-untyped-def]
    import supportbot.runtime

    seen: list = []

    async def fake_serve(settings) -> None:  # type: ignore[no-untyped-def]
        seen.append(settings)

    monkeypatch.chdir(tmp_path)  # no .env here
    monkeypatch.setattr(supportbot.runtime, "serve", fake_serve)
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    yield seen
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])


def test_role_flag_overrides_the_setting(captured, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("PROCESS_ROLE", "worker")
    assert cli.main(["run"]) == 0
    assert cli.main(["run", "--role", "api"]) == 0
    assert [s.process_role for s in captured] == ["worker", "api"]


def test_wrong_role_is_refused(capsys) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SystemExit) as info:
        cli.main(["run", "--role", "everything"])
    assert info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err
