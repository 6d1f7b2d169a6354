"""Control API under ``/sandbox/...`` (JSON, no token) for tests and the web page.

Success answers are the JSON object itself; errors are ``{"error": "..."}`` with a 4xx status.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .errors import ControlError
from .state import Message, SandboxState

if TYPE_CHECKING:
    from .methods import BotApi

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, default=str)


def ok(obj: Any, status: int = 200) -> web.Response:
    return web.json_response(obj, status=status, dumps=_dumps)


async def _body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        raise ControlError(400, "request body must be JSON") from None
    if not isinstance(data, dict):
        raise ControlError(400, "request body must be a JSON object")
    return data


def _int(value: Any, name: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ControlError(400, f"{name} must be an integer") from None


def _opt_int(value: Any, name: str) -> int | None:
    if value is None or value == "":
        return None
    return _int(value, name)


def _bool(value: Any, default: bool = False) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    return str(value).lower() in ("1", "true", "yes", "on")


@web.middleware
async def control_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not request.path.startswith("/sandbox"):
        return await handler(request)
    try:
        return await handler(request)
    except ControlError as e:
        return ok({"error": e.message}, status=e.status)
    except web.HTTPException:
        raise
    except (KeyError, TypeError, ValueError) as e:
        return ok({"error": f"bad request: {type(e).__name__}: {e}"}, status=400)


class ControlApi:
    def __init__(self, api: BotApi, *, initial_flood: dict[str, Any], initial_faults: dict[str, Any]) -> None:
        self.api = api
        self.state: SandboxState = api.state
        self.initial_flood = initial_flood
        self.initial_faults = initial_faults

    def routes(self) -> list[web.RouteDef]:
        r = web
        return [
            r.get("/sandbox", self.summary),
            r.get("/sandbox/state", self.summary),
            r.post("/sandbox/reset", self.reset),
            r.get("/sandbox/bot", self.get_bot),
            r.post("/sandbox/bot", self.set_bot),
            r.get("/sandbox/users", self.list_users),
            r.post("/sandbox/users", self.create_user),
            r.get("/sandbox/users/{user_id}", self.get_user),
            r.patch("/sandbox/users/{user_id}", self.update_user),
            r.post("/sandbox/users/{user_id}/send", self.user_send),
            r.post("/sandbox/users/{user_id}/edit", self.user_edit),
            r.post("/sandbox/users/{user_id}/delete", self.user_delete),
            r.post("/sandbox/users/{user_id}/press", self.user_press),
            r.post("/sandbox/users/{user_id}/block", self.block),
            r.post("/sandbox/users/{user_id}/unblock", self.unblock),
            r.post("/sandbox/users/{user_id}/deactivate", self.deactivate),
            r.post("/sandbox/users/{user_id}/reactivate", self.reactivate),
            r.get("/sandbox/chats", self.list_chats),
            r.post("/sandbox/groups", self.create_group),
            r.get("/sandbox/chats/{chat_id}", self.get_chat),
            r.post("/sandbox/chats/{chat_id}/members", self.set_member),
            r.post("/sandbox/chats/{chat_id}/send", self.chat_send),
            r.get("/sandbox/chats/{chat_id}/messages", self.messages),
            r.get("/sandbox/chats/{chat_id}/messages/{message_id}", self.message),
            r.get("/sandbox/chats/{chat_id}/topics", self.topics),
            r.post("/sandbox/chats/{chat_id}/topics", self.create_topic),
            r.post("/sandbox/chats/{chat_id}/topics/{thread_id}/close", self.close_topic),
            r.delete("/sandbox/chats/{chat_id}/topics/{thread_id}", self.delete_topic),
            r.post("/sandbox/chats/{chat_id}/topics/{thread_id}/reopen", self.reopen_topic),
            r.get("/sandbox/chats/{chat_id}/wait", self.wait_message),
            r.get("/sandbox/callbacks/{callback_id}", self.get_callback),
            r.get("/sandbox/callbacks/{callback_id}/wait", self.wait_callback),
            r.get("/sandbox/calls", self.calls),
            r.delete("/sandbox/calls", self.clear_calls),
            r.get("/sandbox/violations", self.violations),
            r.delete("/sandbox/violations", self.clear_violations),
            r.get("/sandbox/response_problems", self.response_problems),
            r.get("/sandbox/updates", self.updates),
            r.get("/sandbox/webhook", self.webhook),
            r.get("/sandbox/chat_actions", self.chat_actions),
            r.get("/sandbox/settings", self.settings),
            r.post("/sandbox/settings/flood", self.set_flood),
            r.post("/sandbox/settings/faults", self.set_faults),
            r.get("/sandbox/files/{file_id}", self.file),
            r.get("/sandbox/events", self.events),
        ]

    # ------------------------------------------------------------------ general

    def _settings(self) -> dict[str, Any]:
        return {
            "flood": self.api.flood.config.to_dict(),
            "faults": self.api.faults.config.to_dict(),
            "flood_hits": self.api.flood.hits,
            "faults_injected": dict(self.api.faults.injected),
        }

    async def summary(self, request: web.Request) -> web.Response:
        st = self.state
        return ok(
            {
                "bot": st.render_bot(full=True),
                "users": len(st.users),
                "chats": len(st.chats),
                "messages": len(st.messages),
                "pending_updates": len(st.updates),
                "webhook": st.webhook.url if st.webhook else None,
                "calls_logged": len(st.call_log),
                "violations": len(st.violations),
                "settings": self._settings(),
            }
        )

    async def reset(self, request: web.Request) -> web.Response:
        self.state.reset()
        self.api.flood.config.__init__(**self.initial_flood)  # type: ignore[misc]
        self.api.flood.reset()
        self.api.flood.hits = 0
        self.api.faults.configure(**self.initial_faults)
        self.api.faults.injected = {"429": 0, "500": 0}
        self.api.response_problems.clear()
        return ok({"reset": True})

    async def get_bot(self, request: web.Request) -> web.Response:
        st = self.state
        return ok(
            {
                **st.render_bot(full=True),
                "token_bound": st.bot.bound,
                "commands": [
                    {"scope": json.loads(k[0]), "language_code": k[1] or None, "commands": v}
                    for k, v in st.commands.items()
                ],
                "descriptions": st.descriptions,
                "short_descriptions": st.short_descriptions,
                "names": st.names,
                "default_menu_button": st.default_menu_button,
            }
        )

    async def set_bot(self, request: web.Request) -> web.Response:
        body = await _body(request)
        st = self.state
        if body.get("token"):
            token = str(body["token"])
            try:
                st.bot.id = int(token.split(":", 1)[0])
            except ValueError:
                raise ControlError(400, "invalid token") from None
            st.bot.token = token
            st.bot.bound = True
        if body.get("username"):
            st.bot.username = str(body["username"])
        if body.get("first_name"):
            st.bot.first_name = str(body["first_name"])
        return ok(st.render_bot(full=True))

    # ------------------------------------------------------------------ users

    async def list_users(self, request: web.Request) -> web.Response:
        return ok([u.to_control() for u in self.state.users.values()])

    async def create_user(self, request: web.Request) -> web.Response:
        body = await _body(request)
        user = self.state.create_user(
            id=_opt_int(body.get("id"), "id"),
            first_name=body.get("first_name"),
            last_name=body.get("last_name"),
            username=body.get("username"),
            language_code=body.get("language_code"),
            is_premium=body.get("is_premium"),
        )
        return ok(user.to_control())

    async def get_user(self, request: web.Request) -> web.Response:
        return ok(self.state.get_user(_int(request.match_info["user_id"], "user_id")).to_control())

    async def update_user(self, request: web.Request) -> web.Response:
        uid = _int(request.match_info["user_id"], "user_id")
        self.state.get_user(uid)
        body = await _body(request)
        user = self.state.create_user(
            id=uid,
            first_name=body.get("first_name"),
            last_name=body.get("last_name"),
            username=body.get("username"),
            language_code=body.get("language_code"),
            is_premium=body.get("is_premium"),
        )
        return ok(user.to_control())

    def _sent(self, msgs: list[Message]) -> web.Response:
        st = self.state
        rendered = [st.message_to_control(m) for m in msgs]
        return ok({"message": rendered[0], "messages": rendered, "pending_updates": len(st.updates)})

    async def user_send(self, request: web.Request) -> web.Response:
        uid = _int(request.match_info["user_id"], "user_id")
        body = await _body(request)
        chat_id = _opt_int(body.pop("chat_id", None), "chat_id")
        return self._sent(self.state.user_send(uid, body, chat_id=chat_id))

    async def chat_send(self, request: web.Request) -> web.Response:
        chat_id = _int(request.match_info["chat_id"], "chat_id")
        body = await _body(request)
        uid = _int(body.pop("user_id", None), "user_id")
        return self._sent(self.state.user_send(uid, body, chat_id=chat_id))

    async def user_edit(self, request: web.Request) -> web.Response:
        uid = _int(request.match_info["user_id"], "user_id")
        body = await _body(request)
        msg = self.state.user_edit(
            uid,
            _int(body.get("message_id"), "message_id"),
            body,
            chat_id=_opt_int(body.get("chat_id"), "chat_id"),
        )
        return ok({"message": self.state.message_to_control(msg)})

    async def user_delete(self, request: web.Request) -> web.Response:
        uid = _int(request.match_info["user_id"], "user_id")
        body = await _body(request)
        chat_id = _opt_int(body.get("chat_id"), "chat_id")
        msg = self.state.user_delete(
            uid, uid if chat_id is None else chat_id, _int(body.get("message_id"), "message_id")
        )
        return ok({"message": self.state.message_to_control(msg)})

    async def user_press(self, request: web.Request) -> web.Response:
        uid = _int(request.match_info["user_id"], "user_id")
        body = await _body(request)
        if body.get("callback_data") is None and body.get("button_text") is None:
            raise ControlError(400, "callback_data or button_text is required")
        cq = self.state.user_press(
            uid,
            _int(body.get("message_id"), "message_id"),
            chat_id=_opt_int(body.get("chat_id"), "chat_id"),
            callback_data=body.get("callback_data"),
            button_text=body.get("button_text"),
        )
        return ok({"callback_query_id": cq.id, "callback": cq.to_control()})

    async def block(self, request: web.Request) -> web.Response:
        user = self.state.get_user(_int(request.match_info["user_id"], "user_id"))
        self.state.set_blocked(user, True)
        return ok(user.to_control())

    async def unblock(self, request: web.Request) -> web.Response:
        user = self.state.get_user(_int(request.match_info["user_id"], "user_id"))
        self.state.set_blocked(user, False)
        return ok(user.to_control())

    async def deactivate(self, request: web.Request) -> web.Response:
        user = self.state.get_user(_int(request.match_info["user_id"], "user_id"))
        self.state.set_deactivated(user, True)
        return ok(user.to_control())

    async def reactivate(self, request: web.Request) -> web.Response:
        user = self.state.get_user(_int(request.match_info["user_id"], "user_id"))
        self.state.set_deactivated(user, False)
        return ok(user.to_control())

    # ------------------------------------------------------------------ chats

    async def list_chats(self, request: web.Request) -> web.Response:
        kind = request.query.get("type")
        return ok(
            [
                self.state.chat_to_control(c)
                for c in self.state.chats.values()
                if kind is None or c.type == kind
            ]
        )

    async def create_group(self, request: web.Request) -> web.Response:
        body = await _body(request)
        members = body.get("members") or []
        if not isinstance(members, list):
            raise ControlError(400, "members must be a list")
        chat = self.state.create_group(
            str(body.get("title") or "Support"),
            id=_opt_int(body.get("id"), "id"),
            is_forum=_bool(body.get("is_forum"), True),
            username=body.get("username"),
            type=body.get("type", "supergroup"),
            bot_status=body.get("bot_status", "administrator"),
            bot_rights=body.get("bot_rights"),
            members=[m if isinstance(m, dict) else {"user_id": m} for m in members],
        )
        return ok(self.state.chat_to_control(chat))

    async def get_chat(self, request: web.Request) -> web.Response:
        chat = self.state.get_chat(_int(request.match_info["chat_id"], "chat_id"))
        return ok(self.state.chat_to_control(chat))

    async def set_member(self, request: web.Request) -> web.Response:
        chat = self.state.get_chat(_int(request.match_info["chat_id"], "chat_id"))
        body = await _body(request)
        uid = _int(body.pop("user_id", None), "user_id")
        status = body.pop("status", "member")
        mem = self.state.set_member(chat, uid, status, **body)
        return ok(self.state.render_member(chat, mem))

    async def messages(self, request: web.Request) -> web.Response:
        st = self.state
        chat = st.get_chat(_int(request.match_info["chat_id"], "chat_id"))
        q = request.query
        msgs = st.chat_messages(
            chat,
            thread_id=_opt_int(q.get("thread_id"), "thread_id"),
            after_message_id=_opt_int(q.get("after_message_id"), "after_message_id") or 0,
            include_deleted=_bool(q.get("include_deleted"), True),
            limit=_opt_int(q.get("limit"), "limit"),
        )
        return ok([st.message_to_control(m) for m in msgs])

    async def message(self, request: web.Request) -> web.Response:
        st = self.state
        chat_id = _int(request.match_info["chat_id"], "chat_id")
        msg = st.get_message(chat_id, _int(request.match_info["message_id"], "message_id"))
        if msg is None:
            raise ControlError(404, "message not found")
        return ok(st.message_to_control(msg))

    async def topics(self, request: web.Request) -> web.Response:
        chat = self.state.get_chat(_int(request.match_info["chat_id"], "chat_id"))
        return ok([t.to_control() for t in chat.topics.values()])

    async def create_topic(self, request: web.Request) -> web.Response:
        chat_id = _int(request.match_info["chat_id"], "chat_id")
        body = await _body(request)
        topic = self.state.user_create_topic(
            _int(body.get("user_id"), "user_id"),
            chat_id,
            str(body.get("name") or "Topic"),
            _opt_int(body.get("icon_color"), "icon_color"),
        )
        return ok(topic.to_control())

    async def _set_topic_closed(self, request: web.Request, closed: bool) -> web.Response:
        body = await _body(request)
        topic = self.state.user_set_topic_closed(
            _int(body.get("user_id"), "user_id"),
            _int(request.match_info["chat_id"], "chat_id"),
            _int(request.match_info["thread_id"], "thread_id"),
            closed,
        )
        return ok(topic.to_control())

    async def delete_topic(self, request: web.Request) -> web.Response:
        body = await _body(request)
        topic = self.state.user_delete_topic(
            _int(body.get("user_id"), "user_id"),
            _int(request.match_info["chat_id"], "chat_id"),
            _int(request.match_info["thread_id"], "thread_id"),
        )
        return ok(topic.to_control())

    async def close_topic(self, request: web.Request) -> web.Response:
        return await self._set_topic_closed(request, True)

    async def reopen_topic(self, request: web.Request) -> web.Response:
        return await self._set_topic_closed(request, False)

    @staticmethod
    def _matches(msg: Message, sender: str, kind: str | None, contains: str | None) -> bool:
        if msg.deleted:
            return False
        if sender == "bot" and msg.sender != "bot":
            return False
        if sender == "user" and msg.sender == "bot":
            return False
        if sender not in ("bot", "user", "any") and str(msg.sender) != sender:
            return False
        if kind is not None and msg.kind != kind:
            return False
        if contains is not None:
            text = msg.content.get("text") or msg.content.get("caption") or ""
            if contains not in text:
                return False
        return True

    async def wait_message(self, request: web.Request) -> web.Response:
        """Long-polls until a message with id > after_message_id matching the filter exists."""
        st = self.state
        chat_id = _int(request.match_info["chat_id"], "chat_id")
        q = request.query
        after = _opt_int(q.get("after_message_id"), "after_message_id") or 0
        thread_id = _opt_int(q.get("thread_id"), "thread_id")
        sender = q.get("from", "bot")
        kind = q.get("kind")
        contains = q.get("contains")
        timeout = min(float(q.get("timeout", 5)), 300.0)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            chat = st.chats.get(chat_id)
            if chat is not None:
                for msg in st.chat_messages(
                    chat, thread_id=thread_id, after_message_id=after, include_deleted=False
                ):
                    if self._matches(msg, sender, kind, contains):
                        return ok({"message": st.message_to_control(msg)})
                after = chat.next_message_id - 1 if thread_id is None else after
            remaining = deadline - loop.time()
            if remaining <= 0:
                return ok({"error": "timeout", "message": None}, status=408)
            await st.wait_change(chat_id, remaining)

    async def get_callback(self, request: web.Request) -> web.Response:
        cq = self.state.callbacks.get(request.match_info["callback_id"])
        if cq is None:
            raise ControlError(404, "callback query not found")
        return ok(cq.to_control())

    async def wait_callback(self, request: web.Request) -> web.Response:
        st = self.state
        cid = request.match_info["callback_id"]
        timeout = min(float(request.query.get("timeout", 5)), 300.0)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            cq = st.callbacks.get(cid)
            if cq is None:
                raise ControlError(404, "callback query not found")
            if cq.answered:
                return ok(cq.to_control())
            remaining = deadline - loop.time()
            if remaining <= 0:
                return ok({"error": "timeout", **cq.to_control()}, status=408)
            await st.wait_change(("callback", cid), remaining)

    # ------------------------------------------------------------------ logs

    async def calls(self, request: web.Request) -> web.Response:
        q = request.query
        method = q.get("method")
        kind = q.get("kind")
        since = _opt_int(q.get("since_id"), "since_id") or 0
        limit = _opt_int(q.get("limit"), "limit")
        out = [
            e
            for e in self.state.call_log
            if e["id"] > since
            and (method is None or e["method"].lower() == method.lower())
            and (kind is None or e["kind"] == kind)
        ]
        if limit is not None:
            out = out[-limit:] if limit > 0 else []
        return ok(out)

    async def clear_calls(self, request: web.Request) -> web.Response:
        self.state.call_log.clear()
        return ok({"cleared": True})

    async def violations(self, request: web.Request) -> web.Response:
        return ok(self.state.violations)

    async def clear_violations(self, request: web.Request) -> web.Response:
        n = len(self.state.violations)
        self.state.violations.clear()
        return ok({"cleared": n})

    async def response_problems(self, request: web.Request) -> web.Response:
        return ok(self.api.response_problems)

    async def updates(self, request: web.Request) -> web.Response:
        st = self.state
        return ok({"allowed_updates": st.allowed_updates, "pending": [u.render() for u in st.updates]})

    async def webhook(self, request: web.Request) -> web.Response:
        wh = self.state.webhook
        if wh is None:
            return ok({"url": "", "pending_update_count": len(self.state.updates)})
        return ok(
            {
                "url": wh.url,
                "secret_token_set": bool(wh.secret_token),
                "pending_update_count": len(self.state.updates),
                "delivered": wh.delivered,
                "failed_attempts": wh.failed_attempts,
                "last_error_date": wh.last_error_date,
                "last_error_message": wh.last_error_message,
            }
        )

    async def chat_actions(self, request: web.Request) -> web.Response:
        cid = _opt_int(request.query.get("chat_id"), "chat_id")
        return ok([a for a in self.state.chat_actions if cid is None or a["chat_id"] == cid])

    # ------------------------------------------------------------------ settings

    async def settings(self, request: web.Request) -> web.Response:
        return ok(self._settings())

    async def set_flood(self, request: web.Request) -> web.Response:
        body = await _body(request)
        try:
            self.api.flood.configure(**body)
        except ValueError as e:
            raise ControlError(400, str(e)) from None
        return ok(self._settings())

    async def set_faults(self, request: web.Request) -> web.Response:
        body = await _body(request)
        try:
            self.api.faults.configure(**body)
        except ValueError as e:
            raise ControlError(400, str(e)) from None
        return ok(self._settings())

    # ------------------------------------------------------------------ files and events

    async def file(self, request: web.Request) -> web.Response:
        rec = self.state.files.get(request.match_info["file_id"])
        if rec is None:
            raise ControlError(404, "file not found")
        return web.Response(body=rec.data, content_type=rec.mime_type or "application/octet-stream")

    async def events(self, request: web.Request) -> web.StreamResponse:
        """Server-Sent Events: every state change as a JSON ``data:`` line (event name = type)."""
        st = self.state
        resp = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-cache",
                "X-Accel-Buffering": "no",
                "Access-Control-Allow-Origin": "*",
            }
        )
        await resp.prepare(request)
        q = st.subscribe()
        try:
            await resp.write(b": connected\n\n")
            while True:
                try:
                    ev = await asyncio.wait_for(q.get(), 15.0)
                except TimeoutError:
                    await resp.write(b": keepalive\n\n")
                    continue
                if ev.get("type") == "__close__":
                    break
                data = _dumps(ev)
                await resp.write(f"id: {ev['seq']}\nevent: {ev['type']}\ndata: {data}\n\n".encode())
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            st.unsubscribe(q)
        return resp
