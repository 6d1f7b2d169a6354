"""The control API's handlers put together, and its route table."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from ..state import SandboxState
from .bot import BotHandlers
from .chats import ChatHandlers
from .logs import LogHandlers
from .users import UserHandlers

if TYPE_CHECKING:
    from ..methods import BotApi


class ControlApi(BotHandlers, UserHandlers, ChatHandlers, LogHandlers):
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
