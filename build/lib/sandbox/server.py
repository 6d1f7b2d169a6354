"""HTTP server of the sandbox: Bot API routes, file downloads, control API; runner and CLI.

    python -m sandbox --host 127.0.0.1 --port 8081 [--no-flood-limits]

Point aiogram at it with
``AiohttpSession(api=TelegramAPIServer.from_base(server.base_url))``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import re
import signal
import time
from collections.abc import Callable, Sequence
from typing import Any

from aiohttp import web

from .control import ControlApi, control_errors
from .limits import FaultConfig, FaultInjector, FloodConfig, FloodLimiter
from .methods import BotApi
from .spec import UploadedFile
from .state import SandboxState
from .web import WEB_CONFIG_KEY, add_web_routes

__all__ = ["create_app", "SandboxServer", "main", "STATE_KEY", "API_KEY"]

log = logging.getLogger("sandbox")

TOKEN_RE = re.compile(r"^\d{1,20}:[A-Za-z0-9_-]{1,128}$")
STATE_KEY: web.AppKey[SandboxState] = web.AppKey("sandbox_state", SandboxState)
API_KEY: web.AppKey[BotApi] = web.AppKey("sandbox_api", BotApi)
CONTROL_KEY: web.AppKey[ControlApi] = web.AppKey("sandbox_control", ControlApi)


def _json_response(body: dict[str, Any], status: int) -> web.Response:
    return web.Response(
        body=json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode(),
        status=status,
        content_type="application/json",
    )


UNAUTHORIZED = {"ok": False, "error_code": 401, "description": "Unauthorized"}
NOT_FOUND = {"ok": False, "error_code": 404, "description": "Not Found"}


async def _read_params(request: web.Request) -> tuple[dict[str, Any], dict[str, UploadedFile]]:
    params: dict[str, Any] = {k: v for k, v in request.query.items()}
    files: dict[str, UploadedFile] = {}
    if request.method != "POST" or not request.can_read_body:
        return params, files
    ctype = request.content_type
    if ctype.startswith("multipart/"):
        reader = await request.multipart()
        while True:
            part = await reader.next()
            if part is None:
                break
            name = getattr(part, "name", None) or ""
            if getattr(part, "filename", None) is not None:
                data = await part.read(decode=True)  # type: ignore[union-attr]
                up = UploadedFile(bytes(data), part.filename, part.headers.get("Content-Type"), name)  # type: ignore[union-attr]
                files[name] = up
                params[name] = up
            else:
                params[name] = await part.text()  # type: ignore[union-attr]
    elif ctype == "application/json" or ctype.endswith("+json"):
        raw = await request.read()
        if raw.strip():
            body = json.loads(raw)
            if not isinstance(body, dict):
                raise ValueError("JSON body must be an object")
            params.update(body)
    elif ctype == "application/x-www-form-urlencoded":
        post = await request.post()
        params.update({k: v for k, v in post.items() if isinstance(v, str)})
    else:
        raw = await request.read()
        if raw.strip():
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
            if isinstance(body, dict):
                params.update(body)
    return params, files


_CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, POST, PATCH, DELETE, OPTIONS",
    "Access-Control-Allow-Headers": "Content-Type",
}


@web.middleware
async def cors(request: web.Request, handler: Any) -> web.StreamResponse:
    """Permissive CORS for the control API so a web page on another origin can drive it."""
    if not request.path.startswith("/sandbox"):
        return await handler(request)
    if request.method == "OPTIONS":
        return web.Response(status=204, headers=_CORS_HEADERS)
    resp = await handler(request)
    if not resp.prepared:
        resp.headers.update(_CORS_HEADERS)
    return resp


def create_app(
    state: SandboxState | None = None,
    *,
    flood_limits: bool = True,
    flood_config: FloodConfig | None = None,
    fault_config: FaultConfig | None = None,
    clock: Callable[[], float] = time.monotonic,
    validate_responses: bool = False,
    webhook_retry_min: float = 0.05,
    webhook_retry_max: float = 2.0,
) -> web.Application:
    """Builds the aiohttp application. ``state`` defaults to a fresh :class:`SandboxState`."""
    state = state or SandboxState()
    fc = flood_config or FloodConfig(enabled=flood_limits)
    if flood_config is None:
        fc.enabled = flood_limits
    flood = FloodLimiter(fc, clock=clock)
    faults = FaultInjector(fault_config or FaultConfig())
    api = BotApi(
        state,
        flood=flood,
        faults=faults,
        validate_responses=validate_responses,
        webhook_retry_min=webhook_retry_min,
        webhook_retry_max=webhook_retry_max,
    )
    control = ControlApi(api, initial_flood=fc.to_dict(), initial_faults=faults.config.to_dict())

    app = web.Application(middlewares=[cors, control_errors], client_max_size=60 * 1024 * 1024)
    app[STATE_KEY] = state
    app[API_KEY] = api
    app[CONTROL_KEY] = control

    async def bot_method(request: web.Request) -> web.Response:
        token = request.match_info["token"]
        method = request.match_info["method"]
        if not TOKEN_RE.match(token) or not state.bind_token(token):
            state.log_call(
                {
                    "time": state.clock(),
                    "method": method,
                    "params": {},
                    "source": "http",
                    "status": 401,
                    "ok": False,
                    "kind": "unauthorized",
                    "description": "Unauthorized",
                    "duration_ms": 0.0,
                }
            )
            return _json_response(UNAUTHORIZED, 401)
        try:
            params, files = await _read_params(request)
        except ValueError as e:
            body = {
                "ok": False,
                "error_code": 400,
                "description": f"Bad Request: can't parse request body: {e}",
            }
            state.log_call(
                {
                    "time": state.clock(),
                    "method": method,
                    "params": {},
                    "source": "http",
                    "status": 400,
                    "ok": False,
                    "kind": "violation",
                    "description": body["description"],
                    "duration_ms": 0.0,
                }
            )
            state.log_violation(
                {
                    "time": state.clock(),
                    "method": method,
                    "params": {},
                    "status": 400,
                    "description": body["description"],
                    "violations": [
                        {"path": "", "reason": str(e), "description": body["description"], "status": 400}
                    ],
                }
            )
            return _json_response(body, 400)
        status, body = await api.call(method, params, files)
        return _json_response(body, status)

    async def bot_root(request: web.Request) -> web.Response:
        token = request.match_info["token"]
        if not TOKEN_RE.match(token):
            return _json_response(UNAUTHORIZED, 401)
        return _json_response(NOT_FOUND, 404)

    async def file_download(request: web.Request) -> web.StreamResponse:
        token = request.match_info["token"]
        if not TOKEN_RE.match(token) or not state.bind_token(token):
            return _json_response(UNAUTHORIZED, 401)
        rec = state.files_by_path.get(request.match_info["file_path"])
        if rec is None:
            return _json_response(NOT_FOUND, 404)
        return web.Response(body=rec.data, content_type=rec.mime_type or "application/octet-stream")

    async def on_shutdown(app: web.Application) -> None:
        state.close_subscribers()
        await api.shutdown()

    app.on_shutdown.append(on_shutdown)
    app.router.add_routes(control.routes())
    app.router.add_route("*", "/bot{token}/{method}", bot_method)
    app.router.add_route("*", "/bot{token}", bot_root)
    app.router.add_get("/file/bot{token}/{file_path:.+}", file_download)
    add_web_routes(app)  # the page at / (sandbox/web)
    return app


class SandboxServer:
    """Runs the sandbox on a host/port (port 0 picks a free port).

    >>> server = SandboxServer(flood_limits=False)
    >>> await server.start("127.0.0.1", 0)
    >>> server.base_url  # e.g. "http://127.0.0.1:43817"
    >>> await server.stop()
    """

    def __init__(self, state: SandboxState | None = None, **app_kwargs: Any) -> None:
        self.state = state or SandboxState()
        self.app = create_app(self.state, **app_kwargs)
        self.api: BotApi = self.app[API_KEY]
        # What the web page is told about the product around the sandbox (api_url, api_key...).
        self.web_config: dict[str, Any] = self.app[WEB_CONFIG_KEY]
        self._runner: web.AppRunner | None = None
        self.host: str | None = None
        self.port: int | None = None

    @property
    def base_url(self) -> str:
        if self.port is None:
            raise RuntimeError("server is not started")
        host = self.host or "127.0.0.1"
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> SandboxServer:
        runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=1.0, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, host, port, reuse_address=True)
        await site.start()
        self._runner = runner
        self.host = host
        server = getattr(site, "_server", None)
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else port
        return self

    async def stop(self) -> None:
        runner = self._runner
        self._runner = None
        if runner is not None:
            self.state.close_subscribers()
            await self.api.shutdown()
            await runner.cleanup()

    async def __aenter__(self) -> SandboxServer:
        if self._runner is None:
            await self.start()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.stop()


def build_arg_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="sandbox", description="Local Telegram Bot API double (sandbox).")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8081)
    p.add_argument("--no-flood-limits", action="store_true", help="disable Telegram flood limits")
    p.add_argument(
        "--token", default=None, help="bind the sandbox to this bot token (default: first token used)"
    )
    p.add_argument("--bot-username", default="sandbox_support_bot")
    p.add_argument("--bot-name", default="Sandbox Support Bot")
    p.add_argument(
        "--fault-429", type=float, default=0.0, help="probability of an injected 429 on sending calls"
    )
    p.add_argument(
        "--fault-500", type=float, default=0.0, help="probability of an injected 500 on sending calls"
    )
    p.add_argument("--fault-seed", type=int, default=0)
    p.add_argument("--log-level", default="INFO")
    return p


async def _serve(args: argparse.Namespace) -> None:
    state = SandboxState(args.token, bot_username=args.bot_username, bot_first_name=args.bot_name)
    server = SandboxServer(
        state,
        flood_limits=not args.no_flood_limits,
        fault_config=FaultConfig(rate_429=args.fault_429, rate_500=args.fault_500, seed=args.fault_seed),
    )
    await server.start(args.host, args.port)
    log.info(
        "Telegram sandbox listening on %s (Bot API: %s/bot<token>/<method>, control: %s/sandbox, "
        "events: %s/sandbox/events, flood limits %s)",
        server.base_url,
        server.base_url,
        server.base_url,
        server.base_url,
        "off" if args.no_flood_limits else "on",
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):
            pass
    try:
        await stop.wait()
    finally:
        await server.stop()
        log.info("Telegram sandbox stopped")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_arg_parser().parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, str(args.log_level).upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        asyncio.run(_serve(args))
    except KeyboardInterrupt:
        pass
    return 0
