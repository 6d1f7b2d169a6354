"""The HTTP side of the client: one request to the control API, its errors raised as exceptions."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx

Predicate = Callable[[dict[str, Any]], bool]


class SandboxControlError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


class SandboxTimeout(SandboxControlError, asyncio.TimeoutError):
    pass


class Transport:
    """What every group of calls uses: the server's address, the HTTP client, ``_request``."""

    base_url: str
    _own: bool
    _http: httpx.AsyncClient

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
