"""Control handlers for users: create and read them, and act as them (send, edit, press, block)."""

from __future__ import annotations

from aiohttp import web

from ..errors import ControlError
from ..state import Message
from .common import ControlBase, _body, _int, _opt_int, ok


class UserHandlers(ControlBase):
    """``/sandbox/users/...`` (and ``/sandbox/chats/{id}/send``, a user sending in a group)."""

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
