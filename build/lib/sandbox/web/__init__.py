"""The sandbox in a browser: a Telegram-like page over the control API.

Plain HTML + vanilla JS + CSS, no build step. Served by the sandbox server itself:

- ``GET /`` the page; ``GET /web/assets/<file>`` its scripts and styles;
- ``GET /web/config`` what the page needs to know about the product around the sandbox
  (filled in by whoever embeds the sandbox, e.g. an API key; ``{}`` when it runs on its own);
- ``/web/api/<path>`` a same-origin pass-through to the product's HTTP API
  (``config["api_url"]``), so the page needs no CORS on the API.

Unlike the ``/sandbox/...`` control API these answer without CORS headers: another site open
in the same browser cannot read the API key or call the API through the pass-through.

Like the rest of ``sandbox``, this imports nothing of the product.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

__all__ = ["WEB_CONFIG_KEY", "add_web_routes"]

HERE = Path(__file__).resolve().parent
STATIC = {
    "app.js": "text/javascript",
    "app.css": "text/css",
    "render.js": "text/javascript",
    "backend.js": "text/javascript",
}
WEB_CONFIG_KEY: web.AppKey[dict[str, Any]] = web.AppKey("sandbox_web_config", dict)
_HTTP_KEY: web.AppKey[dict[str, aiohttp.ClientSession]] = web.AppKey("sandbox_web_http", dict)
_BOOT_KEY: web.AppKey[str] = web.AppKey("sandbox_web_boot", str)
# Request headers passed on to the product API, and response headers passed back.
_FORWARD_IN = ("Authorization", "X-API-Key", "Content-Type", "Accept", "Idempotency-Key")
_FORWARD_OUT = ("Content-Type", "Location", "Retry-After", "WWW-Authenticate")
_NO_CACHE = {"Cache-Control": "no-cache"}


async def _index(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(HERE / "index.html", headers=_NO_CACHE)


async def _static(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    if name not in STATIC:
        raise web.HTTPNotFound()
    return web.FileResponse(HERE / name, headers={**_NO_CACHE, "Content-Type": STATIC[name]})


async def _config(request: web.Request) -> web.Response:
    # sandbox_boot changes when the sandbox restarts: the page then reloads instead of merging.
    config = request.app[WEB_CONFIG_KEY].copy()
    config["sandbox_boot"] = request.app[_BOOT_KEY]
    return web.json_response(config)


async def _proxy(request: web.Request) -> web.StreamResponse:
    """Forwards the request to the product's HTTP API and returns its answer unchanged."""
    base = str(request.app[WEB_CONFIG_KEY].get("api_url") or "").rstrip("/")
    if not base:
        return web.json_response({"error": "no product API is configured for this sandbox"}, status=503)
    http = request.app[_HTTP_KEY].get("session")
    if http is None or http.closed:
        http = request.app[_HTTP_KEY]["session"] = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=60), auto_decompress=True
        )
    url = f"{base}/{request.match_info['path']}"
    headers = {h: request.headers[h] for h in _FORWARD_IN if h in request.headers}
    body = await request.read() if request.can_read_body else None
    try:
        async with http.request(
            request.method, url, params=request.query, data=body, headers=headers, allow_redirects=False
        ) as resp:
            data = await resp.read()
            out = {h: resp.headers[h] for h in _FORWARD_OUT if h in resp.headers}
            return web.Response(body=data, status=resp.status, headers=out)
    except aiohttp.ClientError as e:
        return web.json_response({"error": f"product API unreachable: {e}"}, status=502)


async def _close_http(app: web.Application) -> None:
    http = app[_HTTP_KEY].pop("session", None)
    if http is not None:
        await http.close()


def add_web_routes(app: web.Application, config: dict[str, Any] | None = None) -> dict[str, Any]:
    """Adds the page, its config and the API pass-through; returns the (mutable) config dict."""
    app[WEB_CONFIG_KEY] = config if config is not None else {}
    app[_HTTP_KEY] = {}
    app[_BOOT_KEY] = secrets.token_hex(8)
    app.on_cleanup.append(_close_http)
    app.router.add_get("/", _index)
    app.router.add_get("/web/assets/{name}", _static)
    app.router.add_get("/web/config", _config)
    app.router.add_route("*", "/web/api/{path:.*}", _proxy)
    return app[WEB_CONFIG_KEY]
