"""A seeded fuzzer of Telegram updates: random spec-valid traffic of every kind the double can
produce (texts with odd Unicode and commands, media, albums, edits, deletes, button presses,
blocks, account deletions, staff posts and commands in the support group), with the double's
flood limits on. Afterwards the product must still answer /start, must have logged no
unhandled exception, and the double must have seen no Bot API spec violation.

The seed is fixed (FUZZ_SEED to try another), the run is bounded (FUZZ_UPDATES, ~40 s).
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import time
from typing import Any

import pytest

from sandbox.client import SandboxClient, SandboxControlError
from supportbot.runtime import Runtime

pytestmark = [pytest.mark.e2e, pytest.mark.fuzz, pytest.mark.usefixtures("no_violations")]

SEED = int(os.environ.get("FUZZ_SEED", "11"))
UPDATES = int(os.environ.get("FUZZ_UPDATES", "400"))
BUDGET_SECONDS = 45.0

COMMANDS = [
    "/start",
    "/help",
    "/human",
    "/stop",
    "/language",
    "/forget",
    "/menu",
    "/faq",
    "/cancel",
    "/start bad-token",
    "/start " + "x" * 64,
    "/stats",
    "/queue",
    "/close",
    "/note hi",
    "/unknown",
]
ODD = [
    "",
    " ",
    "\u200b",
    "\u202e",
    "🙂" * 50,
    "ё" * 300,
    "a" * 4096,
    "\t\n",
    "%s %d {name}",
    "{{",
    "}}",
    "<b>x</b>",
    "*_`[",
    "\\",
    "'; DROP TABLE customers; --",
    "\ufeff",
    "ﷺ",
    "𝔘𝔫𝔦",
    "0" * 30,
    "9223372036854775808",
    "-1",
    "null",
    "[]",
    "{}",
    "доставка сколько дней",
    "how do I return",
    "Ｆｕｌｌｗｉｄｔｈ",
    "ghbdtn",
    "\u0301\u0301",
    "👨‍👩‍👧‍👦",
    "a\u0308",
]
MEDIA = [
    "photo",
    "document",
    "voice",
    "video",
    "audio",
    "animation",
    "sticker",
    "video_note",
    "location",
    "contact",
]


def _text(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.25:
        return rng.choice(COMMANDS)
    if roll < 0.6:
        return rng.choice(ODD) or "?"
    n = rng.randint(1, 120)
    alphabet = [chr(rng.randint(0x20, 0x7E)) for _ in range(20)] + [
        chr(rng.randint(0x400, 0x4FF)) for _ in range(10)
    ]
    return "".join(rng.choice(alphabet) for _ in range(n)).strip() or "x"


async def _press_random(tg: SandboxClient, rng: random.Random, uid: int) -> None:
    msgs = [
        m
        for m in await tg.messages(uid, include_deleted=False)
        if m.get("from_bot") and (m.get("reply_markup") or {}).get("inline_keyboard")
    ]
    if not msgs:
        await tg.send_text(uid, "/start")
        return
    msg = rng.choice(msgs[-5:])
    buttons = [b for row in msg["reply_markup"]["inline_keyboard"] for b in row if "callback_data" in b]
    if rng.random() < 0.2 or not buttons:  # stale or forged data: any 1-64 bytes
        data = rng.choice(["x", "z" * 64, "faq:999999", "menu:nope", "oc:1:2:3", ":", "ex:r:9999999999"])
        await tg.press(uid, msg["message_id"], data)
    else:
        await tg.press(uid, msg["message_id"], rng.choice(buttons)["callback_data"])


async def _one(tg: SandboxClient, rng: random.Random, users: list[int], group: dict[str, Any]) -> str:
    uid = rng.choice(users)
    roll = rng.random()
    if roll < 0.35:
        await tg.send_text(uid, _text(rng))
        return "text"
    if roll < 0.45:
        kind = rng.choice(MEDIA)
        extra: dict[str, Any] = {}
        if kind == "contact":
            extra = {"phone_number": "+100000000", "first_name": "X"}
        if kind == "location":
            extra = {"latitude": rng.uniform(-90, 90), "longitude": rng.uniform(-180, 180)}
        caption = _text(rng)[:1024] if kind in ("photo", "document", "video", "audio", "animation") else None
        await tg.send_media(
            uid, kind, caption=caption, content=b"\x00fuzz" if kind == "document" else None, **extra
        )
        return "media"
    if roll < 0.5:
        await tg.send_album(
            uid, [{"kind": "photo", "caption": _text(rng)[:200]} for _ in range(rng.randint(2, 4))]
        )
        return "album"
    if roll < 0.7:
        await _press_random(tg, rng, uid)
        return "press"
    if roll < 0.77:
        own = [
            m
            for m in await tg.messages(uid, include_deleted=False)
            if not m.get("from_bot") and m.get("text")
        ]
        if own:
            await tg.edit(uid, rng.choice(own)["message_id"], _text(rng))
            return "edit"
        return "skip"
    if roll < 0.8:
        own = [m for m in await tg.messages(uid, include_deleted=False) if not m.get("from_bot")]
        if own:
            await tg.delete(uid, rng.choice(own)["message_id"])
            return "delete"
        return "skip"
    if roll < 0.84:
        await (tg.block(uid) if rng.random() < 0.5 else tg.unblock(uid))
        return "block"
    if roll < 0.86:
        await (tg.deactivate(uid) if rng.random() < 0.5 else tg.reactivate(uid))
        return "deactivate"
    # staff: a post or a command in a random topic (or the general chat)
    topics = await tg.topics(group["group_id"])
    thread = rng.choice([None] + [t["message_thread_id"] for t in topics]) if topics else None
    await tg.staff_send(
        group["group_id"],
        thread,
        group["agent_id"],
        rng.choice(
            [
                "/close",
                "/queue",
                "/stats",
                "/stats week",
                "/ban",
                "/unban",
                "// note",
                "/stats 2099-99",
                _text(rng),
            ]
        ),
    )
    return "staff"


async def test_random_updates_never_break_the_bot(
    product: Runtime, tg: SandboxClient, staff: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR)
    await tg.set_flood_limits(True)
    rng = random.Random(SEED)
    users = []
    for i in range(6):
        u = await tg.create_user(f"F{i}", language_code=rng.choice(["en", "ru", "de", None]))
        users.append(u["id"])
    started = time.monotonic()
    kinds: dict[str, int] = {}
    refused = 0
    for _ in range(UPDATES):
        if time.monotonic() - started > BUDGET_SECONDS:
            break
        try:
            kind = await _one(tg, rng, users, staff)
            kinds[kind] = kinds.get(kind, 0) + 1
        except SandboxControlError:  # the double refused an impossible action (blocked user...)
            refused += 1
        await asyncio.sleep(rng.choice([0, 0, 0.01, 0.05]))
    # Let the bot drain what it has (its inbox is durable: everything gets handled).
    await asyncio.sleep(3)
    # Still answering: a newcomer's /start gets the welcome.
    fresh = await tg.create_user("Still", language_code="en")
    sent = await tg.send_text(fresh["id"], "/start")
    welcome = await tg.wait_for_bot_message(fresh["id"], sent["message_id"], timeout=30)
    assert "Still" in welcome["text"], welcome
    print(
        f"\nupdate fuzz: seed {SEED}, {sum(kinds.values())} actions {kinds}, "
        f"{refused} refused by the double, {time.monotonic() - started:.1f}s"
    )
    unhandled = [r for r in caplog.records if r.levelno >= logging.ERROR and r.exc_info]
    assert not unhandled, "\n".join(f"{r.name}: {r.getMessage()}" for r in unhandled[:5])
