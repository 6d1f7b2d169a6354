"""A user's actions: send, edit, delete, press buttons, block or leave the bot."""

from __future__ import annotations

import base64
from typing import Any

from .inspection import Inspection
from .transport import SandboxControlError


class UserActions(Inspection):
    """What a user does (``press_button`` reads the chat's messages to find the button)."""

    async def send(
        self, user_id: int, payload: dict[str, Any], *, chat_id: int | None = None
    ) -> dict[str, Any]:
        """Raw send: returns {"message", "messages", "pending_updates"}."""
        body = dict(payload)
        if chat_id is not None and chat_id != user_id:
            body["user_id"] = user_id
            return await self._request("POST", f"/sandbox/chats/{chat_id}/send", json=body)
        return await self._request("POST", f"/sandbox/users/{user_id}/send", json=body)

    async def send_text(
        self,
        user_id: int,
        text: str,
        *,
        reply_to_message_id: int | None = None,
        entities: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """The user writes ``text`` to the bot (commands get a bot_command entity). Returns the message."""
        body: dict[str, Any] = {"text": text}
        if reply_to_message_id is not None:
            body["reply_to_message_id"] = reply_to_message_id
        if entities is not None:
            body["entities"] = entities
        return (await self.send(user_id, body))["message"]

    async def send_media(
        self,
        user_id: int,
        kind: str,
        *,
        caption: str | None = None,
        content: bytes | None = None,
        file_id: str | None = None,
        reply_to_message_id: int | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """kind: photo, document, voice, video, audio, animation, sticker, video_note, location, contact."""
        body: dict[str, Any] = {"kind": kind, **extra}
        if caption is not None:
            body["caption"] = caption
        if content is not None:
            body["content_base64"] = base64.b64encode(content).decode()
        if file_id is not None:
            body["file_id"] = file_id
        if reply_to_message_id is not None:
            body["reply_to_message_id"] = reply_to_message_id
        return (await self.send(user_id, body))["message"]

    async def send_album(
        self, user_id: int, items: list[dict[str, Any]], *, chat_id: int | None = None
    ) -> list[dict[str, Any]]:
        """Several messages sharing one media_group_id; items like {"kind": "photo", "caption": "..."}."""
        return (await self.send(user_id, {"kind": "album", "items": items}, chat_id=chat_id))["messages"]

    async def edit(
        self, user_id: int, message_id: int, text: str, *, chat_id: int | None = None
    ) -> dict[str, Any]:
        """The user edits their message (text, or caption for media) -> ``edited_message`` update."""
        body: dict[str, Any] = {"message_id": message_id, "text": text}
        if chat_id is not None:
            body["chat_id"] = chat_id
        return (await self._request("POST", f"/sandbox/users/{user_id}/edit", json=body))["message"]

    async def delete(self, user_id: int, message_id: int, *, chat_id: int | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"message_id": message_id}
        if chat_id is not None:
            body["chat_id"] = chat_id
        return (await self._request("POST", f"/sandbox/users/{user_id}/delete", json=body))["message"]

    async def press(
        self, user_id: int, message_id: int, callback_data: str, *, chat_id: int | None = None
    ) -> str:
        """The user presses the inline button with ``callback_data``. Returns the callback query id."""
        body: dict[str, Any] = {"message_id": message_id, "callback_data": callback_data}
        if chat_id is not None:
            body["chat_id"] = chat_id
        return (await self._request("POST", f"/sandbox/users/{user_id}/press", json=body))[
            "callback_query_id"
        ]

    async def press_button(
        self, user_id: int, text: str, *, chat_id: int | None = None, message_id: int | None = None
    ) -> str:
        """Finds the button labelled ``text`` in the latest bot message with an inline keyboard
        (or in ``message_id``) and presses it. Returns the callback query id."""
        chat = user_id if chat_id is None else chat_id
        if message_id is None:
            msgs = await self.messages(chat, include_deleted=False)
            for m in reversed(msgs):
                if m["from_bot"] and m.get("reply_markup") and "inline_keyboard" in m["reply_markup"]:
                    if any(
                        b.get("text") == text for row in m["reply_markup"]["inline_keyboard"] for b in row
                    ):
                        message_id = m["message_id"]
                        break
            if message_id is None:
                raise SandboxControlError(
                    404, f"no bot message with an inline button {text!r} in chat {chat}"
                )
        body: dict[str, Any] = {"message_id": message_id, "button_text": text}
        if chat_id is not None:
            body["chat_id"] = chat_id
        return (await self._request("POST", f"/sandbox/users/{user_id}/press", json=body))[
            "callback_query_id"
        ]

    async def callback(self, callback_query_id: str) -> dict[str, Any]:
        return await self._request("GET", f"/sandbox/callbacks/{callback_query_id}")

    async def wait_callback_answer(
        self,
        callback_query_id: str,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> dict[str, Any]:
        return await self._request(
            "GET",
            f"/sandbox/callbacks/{callback_query_id}/wait",
            params={"timeout": timeout},
            timeout=timeout + 5,
        )

    async def block(self, user_id: int) -> dict[str, Any]:
        return await self._request("POST", f"/sandbox/users/{user_id}/block")

    async def unblock(self, user_id: int) -> dict[str, Any]:
        return await self._request("POST", f"/sandbox/users/{user_id}/unblock")

    async def deactivate(self, user_id: int) -> dict[str, Any]:
        return await self._request("POST", f"/sandbox/users/{user_id}/deactivate")

    async def reactivate(self, user_id: int) -> dict[str, Any]:
        return await self._request("POST", f"/sandbox/users/{user_id}/reactivate")
