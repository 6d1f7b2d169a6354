"""Issue 11, case 6: FAQ edits go to the operator's data directory; shipped files stay as shipped."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import yaml

from core.settings import Settings
from supportbot.runtime import load_faq

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "faq"


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def _doc(language: str) -> str:
    return yaml.safe_dump(
        {
            "language": language,
            "categories": [{"id": "delivery", "title": "Delivery"}],
            "entries": [
                {
                    "id": "delivery-time",
                    "category": "delivery",
                    "question": "How long is delivery?",
                    "answer": "Two days.",
                }
            ],
        }
    )


def test_relative_faq_dir_not_found_from_cwd_never_writes_into_the_checkout(tmp_path, monkeypatch) -> None:
    before = _digest(SHIPPED)
    monkeypatch.chdir(tmp_path)  # "faq" is not found from here: the shipped files are used...
    settings = Settings(_env_file=None, database_url=f"sqlite+aiosqlite:///{tmp_path}/db/x.sqlite3")
    assert settings.data_path == tmp_path / "db"  # beside the database by default
    library = load_faq("faq", settings.data_path)
    assert "en" in library.languages()  # shipped defaults are read
    library.replace("en", _doc("en"))
    library.replace("de", _doc("de"))  # a new language
    # ...but edits land in the data directory, never in the package or the checkout
    assert _digest(SHIPPED) == before
    assert sorted(os.listdir(tmp_path / "db" / "faq")) == ["de.yaml", "en.yaml"]
    # a restart sees the edits over the defaults
    again = load_faq("faq", settings.data_path)
    assert again.versions()["en"] == library.versions()["en"]
    assert again.versions()["ru"] == load_faq(str(SHIPPED)).versions()["ru"]
    assert "de" in again.languages()


def test_data_dir_setting_wins(tmp_path) -> None:
    settings = Settings(
        _env_file=None, data_dir=str(tmp_path / "mine"), database_url="postgresql+asyncpg://u@127.0.0.1/x"
    )
    assert settings.data_path == tmp_path / "mine"
    assert Settings(_env_file=None, database_url="postgresql+asyncpg://u@127.0.0.1/x").data_path == Path(
        "data"
    )


def test_faq_text_with_nul_or_a_lone_surrogate_is_refused() -> None:
    import pytest

    from core.faq import FaqError, FaqLibrary

    for bad in ("Two\x00days.", "Two\ud800days."):
        content = yaml.safe_load(_doc("en"))
        content["entries"][0]["answer"] = bad
        with pytest.raises(FaqError, match="NUL"):
            FaqLibrary().validate("en", content)
