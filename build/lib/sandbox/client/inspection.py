"""What happened: chats, messages (and waiting for one), topics, the call log, violations,
updates, webhook, chat actions, files."""

from __future__ import annotations

import asyncio
from typing import Any

from .transport import Predicate, SandboxControlError, SandboxTimeout, Transport


class Inspection(Transport):
    """Reading the sandbox's chats, messages and logs; waiting for a message."""

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
