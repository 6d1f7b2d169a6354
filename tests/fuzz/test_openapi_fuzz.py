"""Property-based pass over the whole HTTP API, generated from its own OpenAPI document.

Schemathesis draws spec-valid requests (positive) and requests that break the schema
(negative) for every operation and sends them in-process (ASGI) with a key of every scope.
Whatever arrives, the API must answer with a status it documents and never with a 5xx.
Runs on SQLite always and on PostgreSQL when a server answers. Seeded (derandomized), with a
bounded number of examples per operation so each database takes about a minute.
"""

from __future__ import annotations

import os
import time
import traceback
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, Phase, given, settings

from api.app import create_app
from core.apikeys import create_api_key
from core.clock import FrozenClock
from core.settings import Settings
from storage.db import create_engine, create_sessionmaker
from storage.migrate import upgrade
from tests.api.conftest import NOW

schemathesis = pytest.importorskip("schemathesis")
from schemathesis import GenerationMode  # noqa: E402
from schemathesis.checks import not_a_server_error, status_code_conformance  # noqa: E402

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "15"))


class Target:
    """The app, its database and a client, living on one event loop in a background thread."""

    def __init__(self, portal: BlockingPortal, database_url: str, data_dir: str) -> None:
        self.portal = portal
        self.database_url = database_url
        self.data_dir = data_dir
        self.client: httpx.AsyncClient | None = None
        self.headers: dict[str, str] = {}

    async def start(self) -> None:
        self.engine = create_engine(self.database_url)
        await upgrade(self.engine)
        sessionmaker = create_sessionmaker(self.engine)
        clock = FrozenClock(NOW)
        extra = {"data_dir": self.data_dir} if "data_dir" in Settings.model_fields else {}
        settings_ = Settings(_env_file=None, database_url=self.database_url, **extra)
        app = create_app(settings=settings_, sessionmaker=sessionmaker, clock=clock, engine=self.engine)
        async with sessionmaker() as s:
            key, _ = await create_api_key(s, clock=clock, name="fuzz", scopes=("*",))
            await s.commit()
        self.headers = {"Authorization": f"Bearer {key}"}
        self.app = app
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")

    async def stop(self) -> None:
        if self.client is not None:
            await self.client.aclose()
        await self.engine.dispose()

    async def send(self, kwargs: dict[str, Any]) -> httpx.Response:
        assert self.client is not None
        return await self.client.request(**kwargs)


def _schema() -> Any:
    from sqlalchemy.ext.asyncio import async_sessionmaker

    app = create_app(
        settings=Settings(_env_file=None),
        sessionmaker=async_sessionmaker(),
        clock=FrozenClock(NOW),
        engine=None,  # type: ignore[arg-type]
    )
    return schemathesis.openapi.from_dict(app.openapi())


def _request(case: Any, headers: dict[str, str]) -> dict[str, Any]:
    kwargs = case.as_transport_kwargs(base_url="http://testserver", headers=headers)
    keep = {"method", "url", "params", "headers", "json", "content", "data", "files"}
    out = {k: v for k, v in kwargs.items() if k in keep}
    if kwargs.get("cookies"):  # httpx wants cookies on the client, not per request
        out["headers"] = {
            **out.get("headers", {}),
            "Cookie": "; ".join(f"{k}={v}" for k, v in kwargs["cookies"].items()),
        }
    if "data" in out and not isinstance(out["data"], dict):
        out["content"] = out.pop("data")
    return out


def fuzz(target: Target) -> tuple[list[str], dict[str, int]]:
    """Every operation, positive and negative examples; the failures found, per operation."""
    failures: list[str] = []
    counts: dict[str, int] = {}
    schema = _schema()
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            label = f"{operation.label} [{mode.value}]"
            seen: list[str] = []

            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                derandomize=True,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def run(case: Any) -> None:  # runs within this iteration (B023 does not apply)
                kwargs = _request(case, target.headers)
                try:
                    response = target.portal.call(target.send, kwargs)
                except Exception:  # noqa: BLE001 - an exception escaping the app is a finding
                    seen.append(f"{label}: exception {traceback.format_exc(limit=3)} for {kwargs}")
                    return
                counts[label] = counts.get(label, 0) + 1
                try:
                    case.validate_response(response, checks=[not_a_server_error, status_code_conformance])
                except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001
                    seen.append(f"{label}: {type(exc).__name__}: {str(exc)[:600]} for {kwargs}"[:1500])

            try:
                run()
            except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - e.g. could not generate
                if "Unsatisfiable" not in type(exc).__name__:
                    failures.append(f"{label}: generation failed: {exc!r}"[:500])
            failures.extend(seen[:2])
    return failures, counts


@pytest.fixture
def portal() -> Iterator[BlockingPortal]:
    with start_blocking_portal() as p:
        yield p


def _run(portal: BlockingPortal, url: str, data_dir: str) -> None:
    target = Target(portal, url, data_dir)
    portal.call(target.start)
    started = time.monotonic()
    try:
        failures, counts = fuzz(target)
    finally:
        portal.call(target.stop)
    took = time.monotonic() - started
    print(f"\nfuzzed {sum(counts.values())} requests over {len(counts)} operation modes in {took:.1f}s")
    assert not failures, "\n\n".join(failures)


@pytest.mark.fuzz
def test_api_fuzz_sqlite(portal: BlockingPortal, tmp_path) -> None:
    _run(portal, f"sqlite+aiosqlite:///{tmp_path / 'fuzz.sqlite3'}", str(tmp_path / "data"))


@pytest.mark.fuzz
@pytest.mark.postgres
def test_api_fuzz_postgres(portal: BlockingPortal, postgres_url: str, tmp_path) -> None:
    _run(portal, postgres_url, str(tmp_path / "data"))
