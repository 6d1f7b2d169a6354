"""The sandbox's world: reset it, read its summary, set the bot, create and read users."""

from __future__ import annotations

from typing import Any

from .transport import Transport


class World(Transport):
    """Reset, summary, the bot, users."""

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
