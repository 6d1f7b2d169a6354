"""What an operator sees while the bot works: JSON log lines carry the update they belong to,
and /metrics counts sends by lane and result, retries and handled updates."""

from __future__ import annotations

import io
import json
import logging

import httpx
import pytest

from core import telemetry
from core.logs import JsonFormatter
from sandbox.client import SandboxClient
from supportbot.runtime import Runtime

pytestmark = pytest.mark.usefixtures("no_violations")


async def test_a_retried_reply_is_logged_with_its_update_id_and_counted(
    product: Runtime, tg: SandboxClient
) -> None:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    sender_log = logging.getLogger("bot.sender")
    sender_log.addHandler(handler)
    before_5xx = telemetry.value("supportbot_telegram_sends_total", lane="live", result="5xx") or 0
    before_ok = telemetry.value("supportbot_telegram_sends_total", lane="live", result="ok") or 0
    before_done = telemetry.value("supportbot_updates_handled_total", result="done") or 0
    try:
        await tg.set_faults(rate_500=1.0, methods=["sendMessage"], max_faults=1)
        user = await tg.create_user("Anna", language_code="en")
        sent = await tg.send_text(user["id"], "/start")
        welcome = await tg.wait_for_bot_message(user["id"], sent["message_id"], timeout=10)
        assert "Demo Shop" in welcome["text"]
    finally:
        sender_log.removeHandler(handler)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    retry = [r for r in lines if "retry 1" in r["message"]]
    assert retry, lines
    assert isinstance(retry[0]["update_id"], int) and retry[0]["logger"] == "bot.sender"
    assert retry[0]["level"] == "WARNING"

    assert telemetry.value("supportbot_telegram_sends_total", lane="live", result="5xx") == before_5xx + 1
    assert (telemetry.value("supportbot_telegram_sends_total", lane="live", result="ok") or 0) > before_ok
    assert (telemetry.value("supportbot_updates_handled_total", result="done") or 0) > before_done
    async with httpx.AsyncClient() as http:
        text = (await http.get(f"{product.api_url}/metrics")).text
    assert 'supportbot_telegram_retries_total{reason="5xx"}' in text
    assert "supportbot_update_seconds_count" in text
