import pytest
from pydantic import ValidationError

from core.settings import Settings, format_validation_error


def make(**kw):  # type: ignore[no-untyped-def]
    return Settings(_env_file=None, **kw)


def test_defaults_are_sandbox_and_sqlite() -> None:
    s = make()
    assert s.sandbox_mode
    assert s.database_url.startswith("sqlite+aiosqlite:///")


@pytest.mark.parametrize(
    ("field", "value", "needle"),
    [
        ("bot_token", "not-a-token", "BOT_TOKEN"),
        ("database_url", "mysql://x/y", "DATABASE_URL"),
        ("database_url", "::::", "DATABASE_URL"),
        ("telegram_api_url", "ftp://x", "TELEGRAM_API_URL"),
        ("default_timezone", "Mars/Base", "DEFAULT_TIMEZONE"),
        ("api_port", 70000, "API_PORT"),
    ],
)
def test_bad_values_give_one_clear_line(field: str, value: object, needle: str) -> None:
    with pytest.raises(ValidationError) as info:
        make(**{field: value})
    text = format_validation_error(info.value)
    assert needle in text and "Traceback" not in text


def test_postgres_url_gets_async_driver() -> None:
    assert make(database_url="postgresql://u@h/db").database_url == "postgresql+asyncpg://u@h/db"


def test_webhook_needs_secret() -> None:
    with pytest.raises(ValidationError, match="WEBHOOK_SECRET"):
        make(webhook_url="https://example.org")


def test_lists_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADMIN_IDS", "1, 2,3")
    assert make().admin_ids == [1, 2, 3]


def test_env_example_documents_every_setting() -> None:
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / ".env.example").read_text()
    documented = {
        line.split("=", 1)[0].strip()
        for line in text.splitlines()
        if line and not line.startswith("#") and "=" in line
    }
    missing = {name.upper() for name in Settings.model_fields} - documented
    assert not missing, f"add to .env.example: {sorted(missing)}"


def test_env_example_loads_as_is(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pathlib import Path

    (tmp_path / ".env").write_text((Path(__file__).resolve().parents[2] / ".env.example").read_text())
    monkeypatch.chdir(tmp_path)
    assert Settings().sandbox_mode


def test_every_variable_in_env_example_is_read(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each variable .env.example sets is a setting, and Settings reads it from the file (empty
    ones mean "unset": they are names of settings too)."""
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / ".env.example").read_text()
    pairs = [
        line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#") and "=" in line
    ]
    unknown = {name for name, _ in pairs if name.lower() not in Settings.model_fields}
    assert not unknown, f".env.example sets variables Settings does not read: {sorted(unknown)}"
    (tmp_path / ".env").write_text(text)
    monkeypatch.chdir(tmp_path)
    for name, _ in pairs:
        monkeypatch.delenv(name, raising=False)
    read = Settings().model_fields_set
    unread = {name for name, value in pairs if value.strip() and name.lower() not in read}
    assert not unread, f"set in .env.example but not read: {sorted(unread)}"


def test_every_setting_is_in_exactly_one_section() -> None:
    from core.settings import SECTIONS

    owners: dict[str, list[str]] = {}
    for section in SECTIONS:
        for name in section.model_fields:
            owners.setdefault(name, []).append(section.__name__)
    assert set(owners) == set(Settings.model_fields), "a field declared on Settings itself"
    assert all(len(o) == 1 for o in owners.values()), {n: o for n, o in owners.items() if len(o) > 1}
