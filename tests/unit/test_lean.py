"""aiogram imported with its models built on first use (supportbot/lean.py): still applies to
the installed aiogram, saves the memory it is for, and parses and serialises what the bot meets."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

PROBE = r"""
import json, sys
def rss():
    return int([l for l in open('/proc/self/status') if l.startswith('VmRSS')][0].split()[1]) // 1024
if sys.argv[1] == 'lean':
    import supportbot.lean
    applied = supportbot.lean.defer_aiogram_models()
else:
    applied = False
import aiogram
from aiogram.methods import SendMessage
from aiogram.types import Update
Update.model_validate({"update_id": 1, "message": {"message_id": 1, "date": 0, "text": "hi",
    "chat": {"id": 1, "type": "private"}, "from": {"id": 1, "is_bot": False, "first_name": "a"}}})
SendMessage(chat_id=1, text="x")
print(json.dumps({"applied": applied, "rss": rss()}))
"""


def _run(mode: str) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, mode], capture_output=True, text=True, check=True, timeout=120
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads VmRSS from /proc")
def test_deferred_build_applies_and_saves_memory() -> None:
    lean, eager = _run("lean"), _run("eager")
    assert lean["applied"] is True, "aiogram's internals changed: lean.py no longer defers the models"
    assert int(lean["rss"]) + 50 < int(eager["rss"]), (lean, eager)  # measured: ~75 vs ~170 MB


def test_models_parse_and_serialise_as_usual() -> None:
    from aiogram.methods import CopyMessage, SendMessage
    from aiogram.methods.base import Response
    from aiogram.types import InlineKeyboardMarkup, Message, Update

    import supportbot.lean

    assert supportbot.lean.applied  # tests/conftest.py imports supportbot before aiogram
    update = Update.model_validate(
        {
            "update_id": 7,
            "callback_query": {
                "id": "q1",
                "chat_instance": "c",
                "data": "menu:faq",
                "from": {"id": 5, "is_bot": False, "first_name": "Ann", "language_code": "de"},
                "message": {
                    "message_id": 3,
                    "date": 0,
                    "chat": {"id": 5, "type": "private"},
                    "text": "Menu",
                    "entities": [{"type": "bold", "offset": 0, "length": 4}],
                    "reply_markup": {"inline_keyboard": [[{"text": "FAQ", "callback_data": "menu:faq"}]]},
                },
            },
        }
    )
    assert update.callback_query is not None and update.callback_query.from_user.language_code == "de"
    message = update.callback_query.message
    assert isinstance(message, Message) and message.entities and message.entities[0].type == "bold"
    send = SendMessage(
        chat_id=5,
        text="Hi",
        message_thread_id=9,
        reply_markup={"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]},
    )
    assert isinstance(send.reply_markup, InlineKeyboardMarkup)
    dumped = json.loads(send.reply_markup.model_dump_json(exclude_none=True))
    assert dumped["inline_keyboard"][0][0] == {"text": "A", "callback_data": "a"}
    assert CopyMessage(chat_id=1, from_chat_id=2, message_id=3).message_id == 3
    answer = Response[Message].model_validate(
        {
            "ok": True,
            "result": {
                "message_id": 4,
                "date": 0,
                "chat": {"id": 1, "type": "supergroup"},
                "message_thread_id": 9,
                "is_topic_message": True,
                "text": "x",
            },
        }
    )
    assert answer.result is not None and answer.result.message_thread_id == 9
