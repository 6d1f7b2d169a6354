"""Control handlers for chats: groups, members, messages, topics, and waiting for a message or an
answered callback."""

from __future__ import annotations

import asyncio

from aiohttp import web

from ..errors import ControlError
from ..state import Message
from .common import ControlBase, _body, _bool, _int, _opt_int, ok


class ChatHandlers(ControlBase):
    """``/sandbox/chats/...``, ``/sandbox/groups``, ``/sandbox/callbacks/...``."""

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
