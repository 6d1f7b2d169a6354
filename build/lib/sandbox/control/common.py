"""What every group of control handlers shares: JSON in and out, argument parsing, errors,
and the double they act on."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from ..errors import ControlError
from ..state import SandboxState

if TYPE_CHECKING:
    from ..methods import BotApi

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, default=str)


def ok(obj: Any, status: int = 200) -> web.Response:
    return web.json_response(obj, status=status, dumps=_dumps)


async def _body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        raise ControlError(400, "request body must be JSON") from None
    if not isinstance(data, dict):
        raise ControlError(400, "request body must be a JSON object")
    return data


def _int(value: Any, name: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ControlError(400, f"{name} must be an integer") from None


def _opt_int(value: Any, name: str) -> int | None:
    if value is None or value == "":
        return None
    return _int(value, name)


def _bool(value: Any, default: bool = False) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    return str(value).lower() in ("1", "true", "yes", "on")


@web.middleware
async def control_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not request.path.startswith("/sandbox"):
        return await handler(request)
    try:
        return await handler(request)
    except ControlError as e:
        return ok({"error": e.message}, status=e.status)
    except web.HTTPException:
        raise
    except (KeyError, TypeError, ValueError) as e:
        return ok({"error": f"bad request: {type(e).__name__}: {e}"}, status=400)


class ControlBase:
    """What every group of handlers reads: the Bot API double, its state, its initial settings."""

    api: BotApi
    state: SandboxState
    initial_flood: dict[str, Any]
    initial_faults: dict[str, Any]

    def _settings(self) -> dict[str, Any]:
        return {
            "flood": self.api.flood.config.to_dict(),
            "faults": self.api.faults.config.to_dict(),
            "flood_hits": self.api.flood.hits,
            "faults_injected": dict(self.api.faults.injected),
        }
