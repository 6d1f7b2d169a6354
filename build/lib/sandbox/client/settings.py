"""The sandbox's settings: flood limits and injected faults."""

from __future__ import annotations

from typing import Any

from .transport import Transport


class Settings(Transport):
    """Flood limits and faults."""

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
        body: dict[str, Any] = {
            "rate_429": rate_429,
            "rate_500": rate_500,
            "seed": seed,
            "methods": methods,
            "max_faults": max_faults,
        }
        if retry_after is not None:
            body["retry_after"] = retry_after
        return await self._request("POST", "/sandbox/settings/faults", json=body)
