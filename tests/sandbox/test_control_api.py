"""Control API, raw HTTP wire behaviour, long polling, webhook delivery, events."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from sandbox.client import SandboxControlError, SandboxTimeout

pytestmark = pytest.mark.asyncio

TOKEN = "123456789:AAHsandboxTESTtokenABCDEFGHIJKLMNOPQ"


@pytest.fixture
async def http(sandbox_server):
    async with httpx.AsyncClient(base_url=sandbox_server.base_url, timeout=10) as client:
        yield client


async def api(http, method, token=TOKEN, **params):
    r = await http.post(f"/bot{token}/{method}", json=params)
    return r.status_code, r.json()


async def test_wire_formats_and_errors(http, sandbox_client):
    sb = sandbox_client
    user = await sb.create_user("Wire")
    await sb.send_text(user["id"], "hi")
    # invalid token
    r = await http.get("/botnot-a-token/getMe")
    assert r.status_code == 401 and r.json() == {
        "ok": False,
        "error_code": 401,
        "description": "Unauthorized",
    }
    # unknown method
    r = await http.post(f"/bot{TOKEN}/sendMessag", json={})
    assert r.status_code == 404 and r.json() == {"ok": False, "error_code": 404, "description": "Not Found"}
    # case-insensitive method names, GET with query string
    r = await http.get(f"/bot{TOKEN}/GETME")
    assert r.status_code == 200 and r.json()["result"]["is_bot"] is True
    r = await http.get(f"/bot{TOKEN}/sendMessage", params={"chat_id": user["id"], "text": "via query"})
    assert r.json()["ok"] and r.json()["result"]["text"] == "via query"
    # urlencoded form, JSON body, multipart
    r = await http.post(
        f"/bot{TOKEN}/sendMessage",
        data={
            "chat_id": str(user["id"]),
            "text": "via form",
            "reply_markup": json.dumps({"inline_keyboard": [[{"text": "a", "callback_data": "a"}]]}),
        },
    )
    body = r.json()
    assert body["ok"] and body["result"]["reply_markup"]["inline_keyboard"][0][0]["text"] == "a"
    r = await http.post(
        f"/bot{TOKEN}/sendDocument",
        data={"chat_id": str(user["id"])},
        files={"document": ("notes.txt", b"hello", "text/plain")},
    )
    doc = r.json()["result"]["document"]
    assert doc["file_name"] == "notes.txt" and doc["mime_type"] == "text/plain" and doc["file_size"] == 5
    r = await http.get(f"/bot{TOKEN}/getFile", params={"file_id": doc["file_id"]})
    path = r.json()["result"]["file_path"]
    r = await http.get(f"/file/bot{TOKEN}/{path}")
    assert r.status_code == 200 and r.content == b"hello"
    assert (await http.get(f"/file/bot{TOKEN}/documents/nope.txt")).status_code == 404
    # successful result omits None fields and has the Telegram shape
    status, body = await api(http, "sendMessage", chat_id=user["id"], text="shape")
    res = body["result"]
    assert status == 200 and set(res) == {"message_id", "from", "chat", "date", "text"}
    assert res["chat"] == {"id": user["id"], "type": "private", "first_name": "Wire"}
    assert res["from"] == {
        "id": 123456789,
        "is_bot": True,
        "first_name": "Sandbox Support Bot",
        "username": "sandbox_support_bot",
    }
    # a different bot token is refused once the sandbox is bound to a bot
    r = await http.get("/bot987:OTHERtoken/getMe")
    assert r.status_code == 401
    # Telegram errors
    status, body = await api(http, "sendMessage", chat_id=user["id"])
    assert status == 400 and body["description"] == "Bad Request: message text is empty"
    status, body = await api(http, "editMessageText", chat_id=user["id"], message_id=999, text="x")
    assert status == 400 and body["description"] == "Bad Request: message to edit not found"
    status, body = await api(http, "deleteMessage", chat_id=user["id"], message_id=999)
    assert body["description"] == "Bad Request: message to delete not found"
    status, body = await api(http, "sendMessage", chat_id=user["id"], text="x", message_thread_id=3)
    assert body["description"] == "Bad Request: message thread not found"


async def test_long_polling_offsets_and_conflict(http, sandbox_client):
    sb = sandbox_client
    user = await sb.create_user("Poll")
    loop = asyncio.get_running_loop()
    # a long poll returns as soon as an update arrives
    t0 = loop.time()
    poll = asyncio.create_task(api(http, "getUpdates", timeout=5))
    await asyncio.sleep(0.1)
    await sb.send_text(user["id"], "one")
    status, body = await poll
    assert status == 200 and body["result"][0]["message"]["text"] == "one"
    assert loop.time() - t0 < 2
    first_id = body["result"][0]["update_id"]
    # unconfirmed updates are returned again; offset confirms
    _, body = await api(http, "getUpdates")
    assert [u["update_id"] for u in body["result"]] == [first_id]
    for t in ("two", "three", "four"):
        await sb.send_text(user["id"], t)
    _, body = await api(http, "getUpdates", offset=first_id + 1, limit=2)
    assert [u["message"]["text"] for u in body["result"]] == ["two", "three"]
    # negative offset: keep only the last update
    _, body = await api(http, "getUpdates", offset=-1)
    assert [u["message"]["text"] for u in body["result"]] == ["four"]
    assert len(await sb.pending_updates()) == 1
    last = body["result"][0]["update_id"]
    # a timeout with nothing new returns an empty list
    _, body = await api(http, "getUpdates", offset=last + 1, timeout=1)
    assert body["result"] == []
    # a second concurrent getUpdates terminates the first with 409
    first = asyncio.create_task(api(http, "getUpdates", offset=last + 1, timeout=5))
    await asyncio.sleep(0.1)
    second = asyncio.create_task(api(http, "getUpdates", offset=last + 1, timeout=1))
    status, body = await first
    assert status == 409 and "terminated by other getUpdates request" in body["description"]
    assert (await second)[0] == 200
    # allowed_updates is remembered and filters new updates
    _, body = await api(http, "getUpdates", offset=last + 1, allowed_updates=["callback_query"])
    await sb.send_text(user["id"], "filtered out")
    _, body = await api(http, "getUpdates", offset=last + 1)
    assert body["result"] == []
    _, body = await api(http, "getUpdates", offset=last + 1, allowed_updates=[])
    await sb.send_text(user["id"], "visible")
    _, body = await api(http, "getUpdates", offset=last + 1)
    assert [u["message"]["text"] for u in body["result"]] == ["visible"]


async def test_webhook_delivery_retries_and_secret(sandbox_server, http, sandbox_client):
    from aiohttp import web

    sb = sandbox_client
    received: list[tuple[str | None, dict]] = []
    fail_first = {"n": 1}

    async def hook(request: web.Request) -> web.Response:
        if fail_first["n"] > 0:
            fail_first["n"] -= 1
            return web.Response(status=500)
        received.append((request.headers.get("X-Telegram-Bot-Api-Secret-Token"), await request.json()))
        return web.json_response({})

    app = web.Application()
    app.router.add_post("/wh", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    try:
        user = await sb.create_user("Hook")
        await sb.send_text(user["id"], "queued before webhook")
        status, body = await api(
            http,
            "setWebhook",
            url=f"http://127.0.0.1:{port}/wh",
            secret_token="tok_1",
            drop_pending_updates=True,
        )
        assert status == 200 and body["result"] is True
        status, body = await api(http, "getUpdates")
        assert status == 409 and body["description"].startswith(
            "Conflict: can't use getUpdates method while webhook is active"
        )
        await sb.send_text(user["id"], "via webhook")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 5
        while not received:
            assert loop.time() < deadline
            await asyncio.sleep(0.02)
        secret, update = received[0]
        assert secret == "tok_1" and update["message"]["text"] == "via webhook"
        _, body = await api(http, "getWebhookInfo")
        info = body["result"]
        assert (
            info["pending_update_count"] == 0
            and "500" in info["last_error_message"]
            and info["url"].endswith("/wh")
        )
        assert (await sb.webhook())["delivered"] == 1
        _, body = await api(http, "deleteWebhook")
        _, body = await api(http, "getWebhookInfo")
        assert body["result"]["url"] == ""
    finally:
        await runner.cleanup()


async def test_albums_edits_history_and_wait(sandbox_client, sandbox_server, http):
    sb = sandbox_client
    user = await sb.create_user("Album")
    msgs = await sb.send_album(
        user["id"], [{"kind": "photo", "caption": "a"}, {"kind": "video"}, {"kind": "photo"}]
    )
    assert len(msgs) == 3 and len({m["media_group_id"] for m in msgs}) == 1
    updates = await sb.pending_updates()
    assert [u["message"]["media_group_id"] for u in updates] == [msgs[0]["media_group_id"]] * 3
    assert updates[1]["message"]["video"]["file_id"]
    loc = await sb.send_media(user["id"], "location", latitude=1.5, longitude=2.5)
    assert loc["content"]["location"] == {"latitude": 1.5, "longitude": 2.5}
    contact = await sb.send_media(user["id"], "contact", phone_number="+123", first_name="Me")
    assert contact["kind"] == "contact"
    voice = await sb.send_media(user["id"], "voice", content=b"OggS...", duration=4)
    assert voice["content"]["voice"]["duration"] == 4
    assert await sb.download(voice["content"]["voice"]["file_id"]) == b"OggS..."
    t = await sb.send_text(user["id"], "typo")
    await sb.edit(user["id"], t["message_id"], "fixed")
    rec = await sb.message(user["id"], t["message_id"])
    assert rec["text"] == "fixed" and rec["history"][0]["content"]["text"] == "typo" and rec["edit_date"]
    assert (await sb.pending_updates())[-1]["edited_message"]["text"] == "fixed"
    # wait: times out cleanly, then resolves when the bot writes
    with pytest.raises(SandboxTimeout):
        await sb.wait_for_bot_message(user["id"], t["message_id"], timeout=0.2)
    waiter = asyncio.create_task(
        sb.wait_for_bot_message(
            user["id"], t["message_id"], predicate=lambda m: "second" in m["text"], timeout=3
        )
    )
    await asyncio.sleep(0.05)
    await api(http, "sendMessage", chat_id=user["id"], text="first")
    await api(http, "sendMessage", chat_id=user["id"], text="second")
    got = await waiter
    assert got["text"] == "second" and got["from_bot"]
    chats = await sb.chats()
    assert chats[0]["id"] == user["id"] and chats[0]["user"]["first_name"] == "Album"
    with pytest.raises(SandboxControlError) as ei:
        await sb.send(user["id"], {"kind": "hologram"})
    assert ei.value.status == 400


async def test_forum_rules(sandbox_client, http):
    sb = sandbox_client
    owner = await sb.create_user("Owner")
    staff = await sb.create_user("Staff")
    # the bot is a plain member: cannot create topics nor post in closed ones
    weak = await sb.create_forum_group(
        "Weak",
        members=[{"user_id": owner["id"], "status": "creator"}, {"user_id": staff["id"], "status": "member"}],
        bot_status="member",
    )
    status, body = await api(http, "createForumTopic", chat_id=weak["id"], name="T")
    assert status == 400 and "not enough rights" in body["description"]
    topic = await sb.staff_create_topic(weak["id"], owner["id"], "Owner topic")
    tid = topic["message_thread_id"]
    status, body = await api(http, "sendMessage", chat_id=weak["id"], text="hi", message_thread_id=tid)
    assert (
        status == 200
        and body["result"]["is_topic_message"]
        and body["result"]["reply_to_message"]["forum_topic_created"]["name"] == "Owner topic"
    )
    # the owner closes it via the bot? no: the bot lacks rights
    status, body = await api(http, "closeForumTopic", chat_id=weak["id"], message_thread_id=tid)
    assert status == 400
    # admin bot group
    group = await sb.create_forum_group(
        "Strong",
        members=[{"user_id": owner["id"], "status": "creator"}, {"user_id": staff["id"], "status": "member"}],
    )
    _, body = await api(http, "createForumTopic", chat_id=group["id"], name="Ticket", icon_color=16766590)
    tid = body["result"]["message_thread_id"]
    assert body["result"] == {"message_thread_id": tid, "name": "Ticket", "icon_color": 16766590}
    assert (await api(http, "closeForumTopic", chat_id=group["id"], message_thread_id=tid))[0] == 200
    status, body = await api(http, "closeForumTopic", chat_id=group["id"], message_thread_id=tid)
    assert body["description"] == "Bad Request: TOPIC_NOT_MODIFIED"
    with pytest.raises(SandboxControlError, match="TOPIC_CLOSED"):
        await sb.staff_send(group["id"], tid, staff["id"], "can't post")
    # the admin bot may still post into the closed topic
    assert (await api(http, "sendMessage", chat_id=group["id"], text="note", message_thread_id=tid))[0] == 200
    assert (await api(http, "reopenForumTopic", chat_id=group["id"], message_thread_id=tid))[0] == 200
    m = await sb.staff_send(group["id"], tid, staff["id"], "now ok")
    assert m["message_thread_id"] == tid
    assert (
        await api(http, "editForumTopic", chat_id=group["id"], message_thread_id=tid, name="Ticket (done)")
    )[0] == 200
    assert (await sb.topics(group["id"]))[0]["name"] == "Ticket (done)"
    # the owner (creator) closes the topic from the client side -> service message update
    before = len(await sb.pending_updates())
    await sb.staff_close_topic(group["id"], tid, owner["id"])
    upd = (await sb.pending_updates())[before]
    assert upd["message"]["forum_topic_closed"] == {} and upd["message"]["message_thread_id"] == tid
    with pytest.raises(SandboxControlError):
        await sb.staff_close_topic(group["id"], tid, staff["id"])  # a plain member can't
    await sb.staff_reopen_topic(group["id"], tid, owner["id"])
    kinds = [x["kind"] for x in await sb.messages(group["id"], tid)]
    assert kinds == [
        "forum_topic_created",
        "forum_topic_closed",
        "text",
        "forum_topic_reopened",
        "text",
        "forum_topic_edited",
        "forum_topic_closed",
        "forum_topic_reopened",
    ]
    status, body = await api(http, "createForumTopic", chat_id=group["id"], name="x", icon_color=123)
    assert body["description"] == "Bad Request: TOPIC_ICON_COLOR_INVALID"
    # non-forum group
    plain = await sb.create_forum_group("Plain", is_forum=False)
    status, body = await api(http, "createForumTopic", chat_id=plain["id"], name="x")
    assert body["description"] == "Bad Request: the chat is not a forum"
    # admins
    _, body = await api(http, "getChatAdministrators", chat_id=group["id"])
    assert {a["status"] for a in body["result"]} == {"creator", "administrator"}
    _, body = await api(http, "getChatMember", chat_id=group["id"], user_id=staff["id"])
    assert body["result"]["status"] == "member"


async def test_flood_and_fault_injection_over_http(sandbox_client, http):
    sb = sandbox_client
    user = await sb.create_user("Flood")
    await sb.send_text(user["id"], "hi")
    await sb.set_flood_limits(True, private_burst=2)
    assert (await api(http, "sendMessage", chat_id=user["id"], text="1"))[0] == 200
    assert (await api(http, "sendMessage", chat_id=user["id"], text="2"))[0] == 200
    status, body = await api(http, "sendMessage", chat_id=user["id"], text="3")
    assert status == 429 and body == {
        "ok": False,
        "error_code": 429,
        "description": "Too Many Requests: retry after 1",
        "parameters": {"retry_after": 1},
    }
    # edits and get* are not limited
    assert (await api(http, "getChat", chat_id=user["id"]))[0] == 200
    await sb.set_flood_limits(False)
    await sb.set_faults(rate_500=1.0)
    status, body = await api(http, "sendMessage", chat_id=user["id"], text="x")
    assert status == 500 and body["error_code"] == 500
    await sb.set_faults(rate_429=1.0, retry_after=3)
    status, body = await api(http, "sendMessage", chat_id=user["id"], text="x")
    assert status == 429 and body["parameters"]["retry_after"] == 3
    await sb.set_faults()
    assert (await api(http, "sendMessage", chat_id=user["id"], text="x"))[0] == 200
    kinds = [e["kind"] for e in await sb.call_log(method="sendMessage")]
    assert kinds.count("flood") == 1 and kinds.count("fault") == 2
    await sb.reset()
    assert await sb.users() == [] and await sb.call_log() == []


async def test_event_stream(sandbox_server, sandbox_client, http):
    sb = sandbox_client
    events: list[dict] = []

    async def listen():
        async with httpx.AsyncClient(base_url=sandbox_server.base_url, timeout=10) as c:
            async with c.stream("GET", "/sandbox/events") as resp:
                assert resp.headers["content-type"].startswith("text/event-stream")
                async for line in resp.aiter_lines():
                    if line.startswith("data: "):
                        events.append(json.loads(line[6:]))
                        if events[-1]["type"] == "callback_answered":
                            return

    task = asyncio.create_task(listen())
    await asyncio.sleep(0.1)
    user = await sb.create_user("Sse")
    m = await sb.send_text(user["id"], "hello")
    _, body = await api(
        http,
        "sendMessage",
        chat_id=user["id"],
        text="menu",
        reply_markup={"inline_keyboard": [[{"text": "Go", "callback_data": "go"}]]},
    )
    await api(
        http,
        "editMessageText",
        chat_id=user["id"],
        message_id=body["result"]["message_id"],
        text="menu 2",
        reply_markup={"inline_keyboard": [[{"text": "Go", "callback_data": "go"}]]},
    )
    cq = await sb.press(user["id"], body["result"]["message_id"], "go")
    await api(http, "deleteMessage", chat_id=user["id"], message_id=m["message_id"])
    await api(http, "answerCallbackQuery", callback_query_id=cq, text="ok")
    await asyncio.wait_for(task, 5)
    types = [e["type"] for e in events]
    for t in (
        "user_created",
        "message_created",
        "message_edited",
        "callback_query",
        "message_deleted",
        "callback_answered",
    ):
        assert t in types, types


async def test_cors_and_cli_args(http):
    r = await http.options("/sandbox/users")
    assert r.status_code == 204 and r.headers["access-control-allow-origin"] == "*"
    r = await http.get("/sandbox/users")
    assert r.headers["access-control-allow-origin"] == "*"
    from sandbox.server import build_arg_parser

    args = build_arg_parser().parse_args(["--host", "0.0.0.0", "--port", "9000", "--no-flood-limits"])
    assert args.host == "0.0.0.0" and args.port == 9000 and args.no_flood_limits
