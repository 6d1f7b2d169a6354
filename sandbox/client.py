"""Async client for the sandbox control API (used by end-to-end tests).

async with SandboxClient(server.base_url) as sb:
    user = await sb.create_user(first_name="Ann")
    await sb.send_text(user["id"], "/start")
    reply = await sb.wait_for_bot_message(user["id"], after_message_id=0)
    await sb.press_button(user["id"], "Yes")
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable
from typing import Any

import httpx

__all__ = ["SandboxClient", "SandboxControlError", "SandboxTimeout"]

Predicate = Callable[[dict[str, Any]], bool]


class SandboxControlError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


class SandboxTimeout(SandboxControlError, asyncio.TimeoutError):
    pass


class SandboxClient:
    def __init__(
        self, base_url: str, *, timeout: float = 30.0, client: httpx.AsyncClient | None = None
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._own = client is None
        self._http = client or httpx.AsyncClient(base_url=self.base_url, timeout=timeout)

    async def close(self) -> None:
        if self._own:
            await self._http.aclose()

    async def __aenter__(self) -> SandboxClient:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.close()

    # ------------------------------------------------------------------ transport

    async def _request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> Any:
        kw: dict[str, Any] = {}
        if json is not None:
            kw["json"] = json
        if params:
            kw["params"] = {k: v for k, v in params.items() if v is not None}
        if timeout is not None:
            kw["timeout"] = timeout
        resp = await self._http.request(
            method, path if path.startswith("http") else self.base_url + path, **kw
        )
        try:
            data = resp.json()
        except ValueError:
            data = {"error": resp.text}
        if resp.status_code == 408:
            raise SandboxTimeout(408, str(data.get("error", "timeout")))
        if resp.status_code >= 400:
            raise SandboxControlError(
                resp.status_code, str(data.get("error", data)) if isinstance(data, dict) else str(data)
            )
        return data

    # ------------------------------------------------------------------ world

    async def reset(self) -> None:
        await self._request("POST", "/sandbox/reset")

    async def summary(self) -> dict[str, Any]:
        return await self._request("GET", "/sandbox")

    async def set_bot(
        self, *, token: str | None = None, username: str | None = None, first_name: str | None = None
    ) -> dict[str, Any]:
        return await self._request(
            "POST", "/sandbox/bot", json={"token": token, "username": username, "first_name": first_name}
        )

    async def bot_info(self) -> dict[str, Any]:
        return await self._request("GET", "/sandbox/bot")

    async def create_user(
        self,
        first_name: str | None = None,
        *,
        id: int | None = None,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
        is_premium: bool | None = None,
    ) -> dict[str, Any]:
        body = {
            "id": id,
            "first_name": first_name,
            "last_name": last_name,
            "username": username,
            "language_code": language_code,
            "is_premium": is_premium,
        }
        return await self._request(
            "POST", "/sandbox/users", json={k: v for k, v in body.items() if v is not None}
        )

    async def update_user(self, user_id: int, **fields: Any) -> dict[str, Any]:
        return await self._request("PATCH", f"/sandbox/users/{user_id}", json=fields)

    async def users(self) -> list[dict[str, Any]]:
        return await self._request("GET", "/sandbox/users")

    async def user(self, user_id: int) -> dict[str, Any]:
        return await self._request("GET", f"/sandbox/users/{user_id}")

    # ------------------------------------------------------------------ user actions

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

    # ------------------------------------------------------------------ groups and staff

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

    # ------------------------------------------------------------------ inspection

    async def chats(self, type: str | None = None) -> list[dict[str, Any]]:
        return await self._request("GET", "/sandbox/chats", params={"type": type})

    async def chat(self, chat_id: int) -> dict[str, Any]:
        return await self._request("GET", f"/sandbox/chats/{chat_id}")

    async def messages(
        self,
        chat_id: int,
        thread_id: int | None = None,
        *,
        include_deleted: bool = True,
        after_message_id: int | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        params = {
            "thread_id": thread_id,
            "include_deleted": "1" if include_deleted else "0",
            "after_message_id": after_message_id,
            "limit": limit,
        }
        return await self._request("GET", f"/sandbox/chats/{chat_id}/messages", params=params)

    async def message(self, chat_id: int, message_id: int) -> dict[str, Any]:
        return await self._request("GET", f"/sandbox/chats/{chat_id}/messages/{message_id}")

    async def bot_messages(self, chat_id: int, thread_id: int | None = None) -> list[dict[str, Any]]:
        return [m for m in await self.messages(chat_id, thread_id, include_deleted=False) if m["from_bot"]]

    async def last_message_id(self, chat_id: int) -> int:
        try:
            return int((await self.chat(chat_id))["last_message_id"])
        except SandboxControlError as e:
            if e.status == 404:
                return 0
            raise

    async def topics(self, chat_id: int) -> list[dict[str, Any]]:
        return await self._request("GET", f"/sandbox/chats/{chat_id}/topics")

    async def wait_for_message(
        self,
        chat_id: int,
        after_message_id: int = 0,
        *,
        sender: str = "bot",
        thread_id: int | None = None,
        predicate: Predicate | None = None,
        contains: str | None = None,
        kind: str | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> dict[str, Any]:
        """Waits for a new message (id > after_message_id) from ``sender``.

        ``sender``: "bot", "user", "any" or a user id. Raises SandboxTimeout.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        after = after_message_id
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise SandboxTimeout(
                    408, f"no matching message in chat {chat_id} after {after_message_id} within {timeout}s"
                )
            params = {
                "after_message_id": after,
                "from": sender,
                "thread_id": thread_id,
                "timeout": round(remaining, 3),
                "contains": contains,
                "kind": kind,
            }
            data = await self._request(
                "GET", f"/sandbox/chats/{chat_id}/wait", params=params, timeout=remaining + 5
            )
            msg = data["message"]
            if predicate is None or predicate(msg):
                return msg
            after = msg["message_id"]

    async def wait_for_bot_message(
        self,
        chat_id: int,
        after_message_id: int = 0,
        predicate: Predicate | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109
        *,
        thread_id: int | None = None,
        contains: str | None = None,
    ) -> dict[str, Any]:
        return await self.wait_for_message(
            chat_id,
            after_message_id,
            sender="bot",
            thread_id=thread_id,
            predicate=predicate,
            contains=contains,
            timeout=timeout,
        )

    async def call_log(
        self,
        *,
        method: str | None = None,
        kind: str | None = None,
        since_id: int | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        return await self._request(
            "GET",
            "/sandbox/calls",
            params={"method": method, "kind": kind, "since_id": since_id, "limit": limit},
        )

    async def clear_call_log(self) -> None:
        await self._request("DELETE", "/sandbox/calls")

    async def violations(self) -> list[dict[str, Any]]:
        return await self._request("GET", "/sandbox/violations")

    async def clear_violations(self) -> int:
        return (await self._request("DELETE", "/sandbox/violations"))["cleared"]

    async def pending_updates(self) -> list[dict[str, Any]]:
        return (await self._request("GET", "/sandbox/updates"))["pending"]

    async def webhook(self) -> dict[str, Any]:
        return await self._request("GET", "/sandbox/webhook")

    async def chat_actions(self, chat_id: int | None = None) -> list[dict[str, Any]]:
        return await self._request("GET", "/sandbox/chat_actions", params={"chat_id": chat_id})

    async def download(self, file_id: str) -> bytes:
        resp = await self._http.get(f"{self.base_url}/sandbox/files/{file_id}")
        if resp.status_code != 200:
            raise SandboxControlError(resp.status_code, resp.text)
        return resp.content

    # ------------------------------------------------------------------ settings

    async def settings(self) -> dict[str, Any]:
        return await self._request("GET", "/sandbox/settings")

    async def set_flood_limits(self, on: bool = True, **config: Any) -> dict[str, Any]:
        """Switches flood limits.

        config: private_per_second, private_burst, group_per_minute, global_per_second.
        """
        return await self._request("POST", "/sandbox/settings/flood", json={"enabled": on, **config})

    async def set_faults(
        self,
        rate_429: float = 0.0,
        rate_500: float = 0.0,
        *,
        retry_after: int | None = None,
        seed: int | None = 0,
        methods: list[str] | None = None,
        max_faults: int | None = None,
    ) -> dict[str, Any]:
        """Answer a share of calls with 429/500: by default every sending method, or only
        `methods` (e.g. ["editMessageText"]); at most `max_faults` of them if given."""
        body: dict[str, Any] = {"rate_429": rate_429, "rate_500": rate_500, "seed": seed,
                                "methods": methods, "max_faults": max_faults}
        if retry_after is not None:
            body["retry_after"] = retry_after
        return await self._request("POST", "/sandbox/settings/faults", json=body)
