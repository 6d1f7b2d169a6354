"""The page's server side, without a browser: static files, config, the API pass-through, and
the runtime's sandbox-mode wiring (a working all-scopes key handed to the page)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from aiohttp import web

from core.settings import Settings
from sandbox import SandboxServer
from supportbot.runtime import SANDBOX_WEB_KEY_NAME, Runtime


@pytest.fixture
async def sandbox() -> AsyncIterator[SandboxServer]:
    server = await SandboxServer(flood_limits=False).start("127.0.0.1", 0)
    yield server
    await server.stop()


async def test_page_and_assets_are_served(sandbox: SandboxServer) -> None:
    async with httpx.AsyncClient(base_url=sandbox.base_url) as http:
        page = await http.get("/")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "/web/assets/app.js" in page.text
        for name, kind in (
            ("app.js", "text/javascript"),
            ("render.js", "text/javascript"),
            ("backend.js", "text/javascript"),
            ("app.css", "text/css"),
        ):
            r = await http.get(f"/web/assets/{name}")
            assert r.status_code == 200 and r.headers["content-type"].startswith(kind), name
        assert (await http.get("/web/assets/__init__.py")).status_code == 404
        assert (await http.get("/web/assets/..%2F__init__.py")).status_code == 404


async def test_standalone_config_and_pass_through(sandbox: SandboxServer) -> None:
    async with httpx.AsyncClient(base_url=sandbox.base_url) as http:
        r = await http.get("/web/config", headers={"Origin": "https://elsewhere.example"})
        assert set(r.json()) == {"sandbox_boot"}  # nothing about a product when run on its own
        assert "access-control-allow-origin" not in r.headers  # other sites cannot read a key here
        r = await http.get("/web/api/v1/customers")
        assert r.status_code == 503 and "no product API" in r.json()["error"]


async def test_pass_through_forwards_method_path_query_body_and_key(sandbox: SandboxServer) -> None:
    seen: list[dict[str, object]] = []

    async def echo(request: web.Request) -> web.Response:
        seen.append(
            {
                "method": request.method,
                "path": request.path,
                "query": dict(request.query),
                "auth": request.headers.get("Authorization"),
                "body": await request.text(),
                "type": request.content_type,
                "cookie": request.headers.get("Cookie"),
            }
        )
        return web.json_response({"ok": True}, status=201, headers={"Location": "/v1/x/1"})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", echo)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    sandbox.web_config["api_url"] = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=sandbox.base_url) as http:
            r = await http.post(
                "/web/api/v1/orders?dry=1",
                content=b'{"a": 1}',
                headers={
                    "Authorization": "Bearer sbk_x",
                    "Content-Type": "application/json",
                    "Cookie": "not=forwarded",
                },
            )
        assert r.status_code == 201 and r.json() == {"ok": True} and r.headers["location"] == "/v1/x/1"
        assert seen == [
            {
                "method": "POST",
                "path": "/v1/orders",
                "query": {"dry": "1"},
                "auth": "Bearer sbk_x",
                "body": '{"a": 1}',
                "type": "application/json",
                "cookie": None,  # only the API's own headers pass
            }
        ]
    finally:
        await runner.cleanup()


async def test_sandbox_mode_gives_the_page_a_working_key_and_revokes_the_last_one(tmp_path: Path) -> None:
    def settings() -> Settings:
        return Settings(  # type: ignore[call-arg]
            _env_file=None,
            bot_token=None,
            telegram_api_url=None,
            support_chat_id=None,
            webhook_url=None,
            database_url=f"sqlite+aiosqlite:///{tmp_path}/web.sqlite3",
            api_port=0,
            sandbox_port=0,
            polling_timeout=1,
        )

    keys = []
    for _ in range(2):  # two starts on the same database
        runtime = Runtime(settings())
        await runtime.start()
        try:
            async with httpx.AsyncClient(base_url=runtime.sandbox.base_url) as http:
                config = (await http.get("/web/config")).json()
                assert config["api_url"] == runtime.api_url
                assert config["staff_group_id"] == runtime.settings.support_chat_id
                key = config["api_key"]
                r = await http.get("/web/api/v1/customers", headers={"Authorization": f"Bearer {key}"})
                assert r.status_code == 200, r.text
                names = {u["first_name"] for u in (await http.get("/sandbox/users")).json()}
                assert {"Anna", "Иван", "Alex"} <= names
            keys.append(key)
        finally:
            await runtime.stop()

    from core import apikeys
    from storage.db import create_engine, create_sessionmaker

    engine = create_engine(settings().database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            mine = [k for k in await apikeys.list_api_keys(session) if k.name == SANDBOX_WEB_KEY_NAME]
    finally:
        await engine.dispose()
    assert [k.active for k in mine] == [False, True]
    assert keys[0] != keys[1]


async def test_with_a_token_no_sandbox_key_is_made(sandbox: SandboxServer, tmp_path: Path) -> None:
    """A token (here against an external Bot API server): no embedded sandbox, no page, no key."""
    runtime = Runtime(
        Settings(  # type: ignore[call-arg]
            _env_file=None,
            bot_token="1234567890:AAE2eTestTokenABCDEFGHIJKLMNOPQRSTUV",  # type: ignore[arg-type]
            telegram_api_url=sandbox.base_url,
            database_url=f"sqlite+aiosqlite:///{tmp_path}/prod.sqlite3",
            api_port=0,
            polling_timeout=1,
        )
    )
    await runtime.start()
    try:
        assert runtime.sandbox is None
        assert sandbox.web_config == {}
        from core import apikeys

        async with runtime.db() as session:
            assert [k for k in await apikeys.list_api_keys(session) if k.name == SANDBOX_WEB_KEY_NAME] == []
    finally:
        await runtime.stop()
