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
    documented = {line.split("=", 1)[0].strip() for line in text.splitlines()
                  if line and not line.startswith("#") and "=" in line}
    missing = {name.upper() for name in Settings.model_fields} - documented
    assert not missing, f"add to .env.example: {sorted(missing)}"


def test_env_example_loads_as_is(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pathlib import Path

    (tmp_path / ".env").write_text((Path(__file__).resolve().parents[2] / ".env.example").read_text())
    monkeypatch.chdir(tmp_path)
    assert Settings().sandbox_mode
