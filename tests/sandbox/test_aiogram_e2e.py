"""Integration: a real aiogram Bot talks to the sandbox through TelegramAPIServer.from_base()."""

from __future__ import annotations

import asyncio

import pytest
from aiogram import Bot, Dispatcher, F, Router
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError, TelegramRetryAfter
from aiogram.filters import CommandStart
from aiogram.methods import SendMessage
from aiogram.types import (
    BotCommand,
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    Message,
    ReplyParameters,
)

pytestmark = pytest.mark.asyncio


def keyboard(*pairs: tuple[str, str]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text=t, callback_data=d) for t, d in pairs]]
    )


async def test_full_flow_with_aiogram_bot(sandbox_server, sandbox_client, sandbox_bot):
    bot: Bot = sandbox_bot
    sb = sandbox_client

    me = await bot.get_me()
    assert me.is_bot and me.id == 123456789 and me.username == "sandbox_support_bot"

    # --- a customer writes /start; the bot receives it through getUpdates
    ann = await sb.create_user("Ann", last_name="Lee", username="ann", language_code="en")
    start = await sb.send_text(ann["id"], "/start")
    updates = await bot.get_updates(timeout=1)
    assert len(updates) == 1
    msg = updates[0].message
    assert msg.text == "/start" and msg.chat.type == "private" and msg.chat.id == ann["id"]
    assert msg.from_user.language_code == "en"
    assert msg.entities[0].type == "bot_command" and msg.entities[0].length == 6
    offset = updates[-1].update_id + 1

    # --- the bot answers with an inline keyboard; the customer presses a button
    sent = await bot.send_message(
        ann["id"],
        "<b>Hello</b>, how can we help?",
        parse_mode="HTML",
        reply_markup=keyboard(("Billing", "topic:billing"), ("Other", "topic:other")),
    )
    assert sent.text == "Hello, how can we help?" and sent.entities[0].type == "bold"
    assert sent.reply_markup.inline_keyboard[0][0].callback_data == "topic:billing"
    cq_id = await sb.press_button(ann["id"], "Billing")
    updates = await bot.get_updates(offset=offset, timeout=1)
    assert [u.callback_query.id for u in updates] == [cq_id]
    cq = updates[0].callback_query
    assert (
        cq.data == "topic:billing"
        and cq.message.message_id == sent.message_id
        and cq.from_user.id == ann["id"]
    )
    offset = updates[-1].update_id + 1
    assert await bot.answer_callback_query(cq.id, text="Noted")
    answered = await sb.wait_callback_answer(cq_id, timeout=2)
    assert answered["answered"] and answered["answer"]["text"] == "Noted"
    with pytest.raises(TelegramBadRequest, match="query is too old"):
        await bot.answer_callback_query(cq.id)

    # pressing a button that does not exist is refused by the control API
    from sandbox.client import SandboxControlError

    with pytest.raises(SandboxControlError) as ei:
        await sb.press(ann["id"], sent.message_id, "nope")
    assert ei.value.status == 400

    # --- a reply and a photo from the customer
    photo_msg = await sb.send_media(
        ann["id"], "photo", caption="screenshot", reply_to_message_id=sent.message_id
    )
    updates = await bot.get_updates(offset=offset, timeout=1)
    m = updates[0].message
    assert m.photo and m.caption == "screenshot" and m.reply_to_message.message_id == sent.message_id
    offset = updates[-1].update_id + 1
    file = await bot.get_file(m.photo[-1].file_id)
    data = await bot.download_file(file.file_path)
    assert data.read()[:4] == b"\x89PNG"

    # --- support forum: staff group with topics
    agent = await sb.create_user("Agent", username="agent1")
    owner = await sb.create_user("Owner")
    group = await sb.create_forum_group(
        "Support staff",
        members=[
            {"user_id": owner["id"], "status": "creator"},
            {"user_id": agent["id"], "status": "administrator"},
        ],
    )
    updates = await bot.get_updates(offset=offset, timeout=1)
    assert updates[0].my_chat_member.new_chat_member.status == "administrator"
    offset = updates[-1].update_id + 1

    topic = await bot.create_forum_topic(group["id"], name="Ann Lee #1")
    assert topic.message_thread_id > 0 and topic.name == "Ann Lee #1"
    header = await bot.send_message(
        group["id"],
        "New ticket from <i>Ann</i>",
        parse_mode="HTML",
        message_thread_id=topic.message_thread_id,
    )
    assert header.is_topic_message and header.message_thread_id == topic.message_thread_id
    copied = await bot.copy_message(
        group["id"],
        from_chat_id=ann["id"],
        message_id=photo_msg["message_id"],
        message_thread_id=topic.message_thread_id,
    )
    thread = await sb.messages(group["id"], topic.message_thread_id)
    copy_rec = next(x for x in thread if x["message_id"] == copied.message_id)
    assert copy_rec["copied_from"] == {"chat_id": ann["id"], "message_id": photo_msg["message_id"]}
    assert copy_rec["kind"] == "photo" and copy_rec["text"] == "screenshot"
    assert copy_rec["content"]["photo"] == photo_msg["content"]["photo"]
    topics = await sb.topics(group["id"])
    assert topics[0]["name"] == "Ann Lee #1" and not topics[0]["closed"]

    # --- staff member answers in the topic -> message update with thread info
    staff_msg = await sb.staff_send(
        group["id"], topic.message_thread_id, agent["id"], "Hi Ann, looking into it"
    )
    updates = await bot.get_updates(offset=offset, timeout=1)
    m = updates[0].message
    assert (
        m.is_topic_message
        and m.message_thread_id == topic.message_thread_id
        and m.from_user.id == agent["id"]
    )
    assert m.chat.is_forum and m.message_id == staff_msg["message_id"]
    offset = updates[-1].update_id + 1
    relayed = await bot.copy_message(ann["id"], from_chat_id=group["id"], message_id=m.message_id)
    got = await sb.wait_for_bot_message(
        ann["id"],
        after_message_id=photo_msg["message_id"],
        predicate=lambda x: x["message_id"] == relayed.message_id,
    )
    assert got["text"] == "Hi Ann, looking into it"

    # --- edits
    edited = await bot.edit_message_text(
        "Ticket #1 (open)", chat_id=group["id"], message_id=header.message_id
    )
    assert edited.edit_date and edited.text == "Ticket #1 (open)"
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_text("Ticket #1 (open)", chat_id=group["id"], message_id=header.message_id)
    rec = await sb.message(group["id"], header.message_id)
    assert rec["history"][0]["content"]["text"] == "New ticket from Ann" and rec["edit_date"]

    # a customer edits their message -> edited_message update
    await sb.edit(ann["id"], start["message_id"], "/start again")
    updates = await bot.get_updates(offset=offset, timeout=1)
    assert updates[0].edited_message.text == "/start again" and updates[0].edited_message.edit_date
    offset = updates[-1].update_id + 1

    # --- delete
    assert await bot.delete_message(group["id"], header.message_id)
    assert (await sb.message(group["id"], header.message_id))["deleted"]
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text("x", chat_id=group["id"], message_id=header.message_id)
    with pytest.raises(TelegramBadRequest, match="message to copy not found"):
        await bot.copy_message(ann["id"], from_chat_id=group["id"], message_id=header.message_id)
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.send_message(-100999, "x")

    # --- close / delete topic
    assert await bot.close_forum_topic(group["id"], topic.message_thread_id)
    assert await bot.delete_forum_topic(group["id"], topic.message_thread_id)
    with pytest.raises(TelegramBadRequest, match="message thread not found"):
        await bot.send_message(group["id"], "late", message_thread_id=topic.message_thread_id)
    assert all(x["deleted"] for x in await sb.messages(group["id"], topic.message_thread_id))

    # --- block -> my_chat_member + 403
    await sb.block(ann["id"])
    updates = await bot.get_updates(offset=offset, timeout=1)
    mcm = updates[0].my_chat_member
    assert (
        mcm.old_chat_member.status == "member"
        and mcm.new_chat_member.status == "kicked"
        and mcm.from_user.id == ann["id"]
    )
    offset = updates[-1].update_id + 1
    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await bot.send_message(ann["id"], "are you there?")
    await sb.unblock(ann["id"])
    assert (await bot.send_message(ann["id"], "welcome back")).text == "welcome back"

    # --- flood limits -> TelegramRetryAfter
    await sb.set_flood_limits(True)
    bob = await sb.create_user("Bob")
    await sb.send_text(bob["id"], "hi")
    with pytest.raises(TelegramRetryAfter) as ri:
        for i in range(10):
            await bot.send_message(bob["id"], f"spam {i}")
    assert i == 3 and ri.value.retry_after >= 1
    await sb.set_flood_limits(False)

    # --- no violations for valid calls; results match the spec
    assert await sb.violations() == []
    assert sandbox_server.api.response_problems == []
    log = await sb.call_log()
    assert {"getMe", "sendMessage", "copyMessage", "createForumTopic", "answerCallbackQuery"} <= {
        e["method"] for e in log
    }
    assert any(e["kind"] == "flood" and e["status"] == 429 for e in log)


async def test_media_and_misc_methods(sandbox_server, sandbox_client, sandbox_bot):
    bot, sb = sandbox_bot, sandbox_client
    u = await sb.create_user("Cat")
    first = await sb.send_text(u["id"], "hello")
    png = (
        b"\x89PNG\r\n\x1a\n"
        + b"\0\0\0\rIHDR"
        + (1024).to_bytes(4, "big")
        + (768).to_bytes(4, "big")
        + b"\0" * 64
    )
    p = await bot.send_photo(
        u["id"], BufferedInputFile(png, "shot.png"), caption="*pic*", parse_mode="MarkdownV2"
    )
    assert p.caption == "pic" and p.photo[-1].width == 1024 and len(p.photo) == 2
    again = await bot.send_photo(u["id"], p.photo[-1].file_id)
    assert again.photo[-1].file_id == p.photo[-1].file_id
    with pytest.raises(TelegramBadRequest, match="wrong file identifier"):
        await bot.send_photo(u["id"], "AgACnotAFileId")
    doc = await bot.send_document(u["id"], BufferedInputFile(b"%PDF-1.4", "invoice.pdf"))
    assert doc.document.file_name == "invoice.pdf"
    with pytest.raises(TelegramBadRequest, match="can't use file of type Document as Photo"):
        await bot.send_photo(u["id"], doc.document.file_id)
    voice = await bot.send_voice(u["id"], BufferedInputFile(b"OggS", "v.ogg"), duration=3)
    assert voice.voice.duration == 3
    video = await bot.send_video(
        u["id"], BufferedInputFile(b"mp4", "v.mp4"), width=320, height=240, duration=5
    )
    assert video.video.width == 320
    anim = await bot.send_animation(u["id"], BufferedInputFile(b"gif", "a.mp4"))
    assert anim.animation and anim.document
    audio = await bot.send_audio(u["id"], BufferedInputFile(b"mp3", "a.mp3"), performer="P", title="T")
    assert audio.audio.title == "T"
    st = await bot.send_sticker(u["id"], BufferedInputFile(b"RIFF", "s.webp"))
    assert st.sticker.type == "regular"
    loc = await bot.send_location(u["id"], latitude=52.5, longitude=13.4)
    assert loc.location.latitude == 52.5
    con = await bot.send_contact(u["id"], phone_number="+100", first_name="Help")
    assert con.contact.phone_number == "+100"
    album = await bot.send_media_group(
        u["id"],
        [
            InputMediaPhoto(media=BufferedInputFile(png, "1.png"), caption="one"),
            InputMediaPhoto(media=p.photo[-1].file_id),
        ],
    )
    assert (
        len(album) == 2 and album[0].media_group_id == album[1].media_group_id and album[0].caption == "one"
    )
    assert await bot.send_chat_action(u["id"], "typing")
    assert (await sb.chat_actions(u["id"]))[-1]["action"] == "typing"
    cap = await bot.edit_message_caption(chat_id=u["id"], message_id=p.message_id, caption="new caption")
    assert cap.caption == "new caption"
    with pytest.raises(TelegramBadRequest, match="there is no text in the message to edit"):
        await bot.edit_message_text("x", chat_id=u["id"], message_id=p.message_id)
    kb_msg = await bot.send_message(u["id"], "choose", reply_markup=keyboard(("A", "a")))
    em = await bot.edit_message_reply_markup(
        chat_id=u["id"], message_id=kb_msg.message_id, reply_markup=keyboard(("B", "b"))
    )
    assert em.reply_markup.inline_keyboard[0][0].text == "B"
    em2 = await bot.edit_message_text("chosen", chat_id=u["id"], message_id=kb_msg.message_id)
    assert em2.reply_markup is None  # editMessageText without reply_markup drops the keyboard
    fwd = await bot.forward_message(u["id"], from_chat_id=u["id"], message_id=first["message_id"])
    assert fwd.forward_origin.type == "user" and fwd.forward_origin.sender_user.id == u["id"]
    ids = await bot.copy_messages(
        u["id"], from_chat_id=u["id"], message_ids=[first["message_id"], p.message_id]
    )
    assert len(ids) == 2
    assert await bot.delete_messages(u["id"], [x.message_id for x in ids])
    assert await bot.pin_chat_message(u["id"], kb_msg.message_id)
    chat = await bot.get_chat(u["id"])
    assert chat.pinned_message.message_id == kb_msg.message_id and chat.first_name == "Cat"
    assert await bot.unpin_chat_message(u["id"], message_id=kb_msg.message_id)
    r = await bot.send_message(
        u["id"], "re", reply_parameters=ReplyParameters(message_id=first["message_id"])
    )
    assert r.reply_to_message.text == "hello"
    with pytest.raises(TelegramBadRequest, match="message to be replied not found"):
        await bot.send_message(u["id"], "re", reply_parameters=ReplyParameters(message_id=9999))
    assert await bot.set_my_commands([BotCommand(command="start", description="Start")])
    assert [c.command for c in await bot.get_my_commands()] == ["start"]
    assert await bot.delete_my_commands()
    assert await bot.get_my_commands() == []
    assert await bot.set_my_description("Support bot")
    assert (await bot.get_my_description()).description == "Support bot"
    assert await bot.set_my_short_description("Help")
    assert await bot.set_chat_menu_button(chat_id=u["id"])
    member = await bot.get_chat_member(u["id"], u["id"])
    assert member.status == "member"
    from aiogram.types import ReactionTypeEmoji

    assert await bot.set_message_reaction(u["id"], first["message_id"], [ReactionTypeEmoji(emoji="👍")])
    assert (await sb.message(u["id"], first["message_id"]))["bot_reaction"] == [
        {"type": "emoji", "emoji": "👍"}
    ]
    photos = await bot.get_user_profile_photos(u["id"])
    assert photos.total_count == 0
    mention = await bot.send_message(u["id"], f'<a href="tg://user?id={u["id"]}">you</a>', parse_mode="HTML")
    assert mention.entities[0].type == "text_mention" and mention.entities[0].user.first_name == "Cat"
    grp = await sb.create_forum_group("Tmp")
    assert await bot.leave_chat(grp["id"])
    with pytest.raises(TelegramForbiddenError, match="bot is not a member"):
        await bot.send_message(grp["id"], "x")
    assert await bot.get_webhook_info()
    # unknown user id that never talked to the bot
    other = await sb.create_user("Stranger")
    with pytest.raises(TelegramForbiddenError, match="bot can't initiate conversation"):
        await bot.send_message(other["id"], "hi")
    await sb.deactivate(u["id"])
    with pytest.raises(TelegramForbiddenError, match="user is deactivated"):
        await bot.send_message(u["id"], "hi")
    assert await sb.violations() == []
    assert sandbox_server.api.response_problems == []


async def test_invalid_calls_are_logged_as_violations(sandbox_server, sandbox_client, sandbox_bot):
    bot, sb = sandbox_bot, sandbox_client
    u = await sb.create_user("Dan")
    await sb.send_text(u["id"], "hi")
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await bot.send_message(u["id"], "x" * 5000)
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await bot.send_message(u["id"], "x", reply_markup=keyboard(("A", "a" * 65)))
    with pytest.raises(TelegramBadRequest, match="can't parse entities"):
        await bot.send_message(u["id"], "<b>oops", parse_mode="HTML")
    with pytest.raises(TelegramBadRequest, match="Text buttons are unallowed"):
        await bot.send_message(
            u["id"],
            "x",
            reply_markup=InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="A")]]),
        )
    with pytest.raises(TelegramBadRequest, match="message thread not found"):
        await bot.send_message(u["id"], "x", message_thread_id=5)
    viols = await sb.violations()
    assert [v["description"] for v in viols] == [
        "Bad Request: message is too long",
        "Bad Request: BUTTON_DATA_INVALID",
        "Bad Request: can't parse entities: Can't find end tag corresponding to start tag \"b\"",
        "Bad Request: can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard",
    ]
    assert viols[1]["violations"][0]["path"] == "reply_markup.inline_keyboard[0][0].callback_data"
    assert await sb.clear_violations() == 4
    assert await sb.violations() == []
    # a valid call of a method the sandbox does not simulate
    with pytest.raises(TelegramBadRequest, match="method is not supported by the sandbox"):
        await bot.send_dice(u["id"])
    assert (await sb.call_log(kind="unsupported"))[-1]["method"] == "sendDice"
    assert await sb.violations() == []


async def test_dispatcher_polling_end_to_end(sandbox_server, sandbox_client, sandbox_bot):
    """aiogram's own long-polling loop drives a tiny bot against the sandbox."""
    bot, sb = sandbox_bot, sandbox_client
    router = Router()

    @router.message(CommandStart())
    async def on_start(message: Message) -> None:
        await message.answer("Welcome! Pick one:", reply_markup=keyboard(("Yes", "yes"), ("No", "no")))

    @router.callback_query(F.data == "yes")
    async def on_yes(call: CallbackQuery) -> None:
        await call.answer("Great")
        await call.message.edit_text("You chose yes")

    @router.message(F.text)
    async def echo(message: Message) -> None:
        await message.reply(f"echo: {message.text}")

    dp = Dispatcher()
    dp.include_router(router)
    task = asyncio.create_task(
        dp.start_polling(bot, polling_timeout=1, handle_signals=False, close_bot_session=False)
    )
    try:
        user = await sb.create_user("Eve")
        await sb.send_text(user["id"], "/start")
        welcome = await sb.wait_for_bot_message(user["id"], 0, timeout=5)
        assert welcome["text"] == "Welcome! Pick one:"
        cq = await sb.press_button(user["id"], "Yes")
        ans = await sb.wait_callback_answer(cq, timeout=5)
        assert ans["answer"]["text"] == "Great"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 5
        while (await sb.message(user["id"], welcome["message_id"]))["text"] != "You chose yes":
            assert loop.time() < deadline
            await asyncio.sleep(0.02)
        sent = await sb.send_text(user["id"], "ping")
        echo_msg = await sb.wait_for_bot_message(user["id"], sent["message_id"], timeout=5)
        assert echo_msg["text"] == "echo: ping" and echo_msg["reply_to_message_id"] == sent["message_id"]
    finally:
        await dp.stop_polling()
        await asyncio.wait_for(task, 5)
    assert await sb.violations() == []
    assert sandbox_server.api.response_problems == []


async def test_webhook_mode_with_aiogram_handler(sandbox_server, sandbox_client, sandbox_bot):
    """setWebhook -> the sandbox POSTs updates; aiogram answers with a method in the webhook response."""
    from aiogram.webhook.aiohttp_server import SimpleRequestHandler
    from aiohttp import web

    bot, sb = sandbox_bot, sandbox_client
    dp = Dispatcher()

    @dp.message(F.text)
    async def reply(message: Message):
        return SendMessage(chat_id=message.chat.id, text=f"got {message.text}")

    app = web.Application()
    SimpleRequestHandler(dp, bot, secret_token="s3cret", handle_in_background=False).register(
        app, path="/hook"
    )
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    try:
        assert await bot.set_webhook(f"http://127.0.0.1:{port}/hook", secret_token="s3cret")
        with pytest.raises(Exception, match="webhook is active"):
            await bot.get_updates()
        user = await sb.create_user("Web")
        await sb.send_text(user["id"], "hello")
        msg = await sb.wait_for_bot_message(user["id"], 0, timeout=5)
        assert msg["text"] == "got hello"
        info = await bot.get_webhook_info()
        assert info.url.endswith("/hook") and info.pending_update_count == 0
        assert await bot.delete_webhook()
    finally:
        await runner.cleanup()
    assert await sb.violations() == []


async def test_webhook_deliveries_run_in_parallel_one_per_chat(sandbox_server, sandbox_client, sandbox_bot):
    """As Telegram: up to `max_connections` webhook requests at once, different chats in parallel,
    one chat's updates one at a time and in order."""
    from aiohttp import web

    bot, sb = sandbox_bot, sandbox_client
    in_flight: list[int] = []
    peak = 0
    seen: dict[int, list[str]] = {}

    async def hook(request: web.Request) -> web.Response:
        nonlocal peak
        body = await request.json()
        chat = body["message"]["chat"]["id"]
        assert chat not in in_flight  # never two of one chat at once
        in_flight.append(chat)
        peak = max(peak, len(in_flight))
        await asyncio.sleep(0.05)
        seen.setdefault(chat, []).append(body["message"]["text"])
        in_flight.remove(chat)
        return web.Response(text="")

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    try:
        users = [await sb.create_user(f"P{i}") for i in range(6)]
        for n in range(3):
            for u in users:
                await sb.send_text(u["id"], f"m{n}")
        assert await bot.set_webhook(f"http://127.0.0.1:{port}/hook", max_connections=4)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while sum(len(v) for v in seen.values()) < 18:
            assert loop.time() < deadline, seen
            await asyncio.sleep(0.02)
        assert peak == 4  # parallel, never above max_connections
        assert all(texts == ["m0", "m1", "m2"] for texts in seen.values())  # in order per chat
        assert (await bot.get_webhook_info()).pending_update_count == 0
        assert await bot.delete_webhook()
    finally:
        await runner.cleanup()
