"""``SandboxClient``: every group of calls put together, with its HTTP client's lifetime."""

from __future__ import annotations

from typing import Any

import httpx

from .actions import UserActions
from .inspection import Inspection
from .settings import Settings
from .staff import Staff
from .world import World


class SandboxClient(World, Staff, UserActions, Inspection, Settings):
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
