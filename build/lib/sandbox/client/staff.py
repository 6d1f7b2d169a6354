"""Groups and staff: a forum group, its members, staff messages and topics."""

from __future__ import annotations

from typing import Any

from .actions import UserActions


class Staff(UserActions):
    """Forum groups, members, and what staff do in them (``staff_send`` is a user's ``send``)."""

    async def create_forum_group(
        self,
        title: str = "Support",
        *,
        members: list[dict[str, Any]] | None = None,
        bot_status: str = "administrator",
        is_forum: bool = True,
        username: str | None = None,
        id: int | None = None,
    ) -> dict[str, Any]:
        """members: [{"user_id": 1, "status": "creator"|"administrator"|"member"}]."""
        body: dict[str, Any] = {
            "title": title,
            "members": members or [],
            "bot_status": bot_status,
            "is_forum": is_forum,
        }
        if username:
            body["username"] = username
        if id is not None:
            body["id"] = id
        return await self._request("POST", "/sandbox/groups", json=body)

    async def add_member(
        self, chat_id: int, user_id: int, status: str = "member", **rights: Any
    ) -> dict[str, Any]:
        return await self._request(
            "POST", f"/sandbox/chats/{chat_id}/members", json={"user_id": user_id, "status": status, **rights}
        )

    async def staff_send(
        self, chat_id: int, thread_id: int | None, user_id: int, text: str | None = None, **payload: Any
    ) -> dict[str, Any]:
        """A staff member posts in a group topic (text or media payload) -> ``message`` update."""
        body: dict[str, Any] = dict(payload)
        if text is not None:
            body["text"] = text
        if thread_id is not None:
            body["message_thread_id"] = thread_id
        return (await self.send(user_id, body, chat_id=chat_id))["message"]

    async def staff_create_topic(self, chat_id: int, user_id: int, name: str) -> dict[str, Any]:
        return await self._request(
            "POST", f"/sandbox/chats/{chat_id}/topics", json={"user_id": user_id, "name": name}
        )

    async def staff_delete_topic(self, chat_id: int, thread_id: int, user_id: int) -> dict[str, Any]:
        return await self._request(
            "DELETE", f"/sandbox/chats/{chat_id}/topics/{thread_id}", json={"user_id": user_id}
        )

    async def staff_close_topic(self, chat_id: int, thread_id: int, user_id: int) -> dict[str, Any]:
        return await self._request(
            "POST", f"/sandbox/chats/{chat_id}/topics/{thread_id}/close", json={"user_id": user_id}
        )

    async def staff_reopen_topic(self, chat_id: int, thread_id: int, user_id: int) -> dict[str, Any]:
        return await self._request(
            "POST", f"/sandbox/chats/{chat_id}/topics/{thread_id}/reopen", json={"user_id": user_id}
        )
