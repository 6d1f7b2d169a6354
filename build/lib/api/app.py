"""The FastAPI app factory. Everything it needs is passed in; nothing is read at import time."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version

from fastapi import FastAPI
from fastapi.routing import APIRoute
from sqlalchemy.ext.asyncio import AsyncEngine

from api.errors import install_error_handlers
from api.middleware import BodyLimitMiddleware
from api.routes import (
    analytics,
    campaigns,
    customers,
    events,
    exit_interviews,
    faq,
    health,
    loyalty,
    metrics,
    orders,
    promo_codes,
    segments,
    support,
    surveys,
)
from core.clock import Clock
from core.faq import FaqLibrary
from core.rules import Rules, build_rules
from core.settings import Settings
from storage.db import Database

DESCRIPTION = """\
Lets a business's own systems (shop, CRM, billing) drive the Telegram support & win-back bot:
sync customers, hand out links that tie a Telegram account to a customer, and more.

**Authentication.** Every `/v1` call needs an API key, sent as `Authorization: Bearer <key>`
or `X-API-Key: <key>`. Keys are created with the CLI and carry scopes such as
`customers:read`; `*` grants all. A missing or invalid key gets 401, a key without the
needed scope 403.

**Errors.** Every error has the same body:
`{"error": {"code": "...", "message": "...", "details": ...}}`. Branch on `code`; it is
stable. Validation errors (422, `validation_error`) list each field in `details` as
`{"field": "body.email", "message": "..."}`.
"""

# /v1 bodies are small JSON documents; anything bigger is a client bug or abuse. Routes the
# runtime adds elsewhere (the Telegram webhook) are left to their own limits.
MAX_V1_BODY_BYTES = 64 * 1024

OPENAPI_TAGS = [
    {"name": "customers", "description": "Customers as your systems know them."},
    {"name": "health", "description": "Probes for load balancers and orchestrators."},
]


def _version() -> str:
    try:
        return package_version("supportbot")
    except PackageNotFoundError:
        return "0.1.0"


def _operation_id(route: APIRoute) -> str:
    # Route names are unique and read well in generated clients (upsert_customer, ...).
    return route.name


def _offline_docs(app: FastAPI) -> None:
    """Swagger UI at /docs from the swagger-ui-bundle package instead of a CDN."""
    import swagger_ui_bundle
    from fastapi.openapi.docs import get_swagger_ui_html
    from fastapi.responses import HTMLResponse
    from fastapi.staticfiles import StaticFiles

    app.mount("/docs-assets", StaticFiles(directory=swagger_ui_bundle.swagger_ui_path), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title=f"{app.title} - docs",
            swagger_js_url="/docs-assets/swagger-ui-bundle.js",
            swagger_css_url="/docs-assets/swagger-ui.css",
            swagger_favicon_url="/docs-assets/favicon-32x32.png",
        )


def _event_data_schemas(app: FastAPI) -> None:
    """Publish the per-kind `data` schemas of /v1/events (referenced from EventIn.data)."""
    from api.schemas.outreach.events import EVENT_DATA_MODELS

    build = app.openapi

    def openapi() -> dict:
        if app.openapi_schema:
            return app.openapi_schema
        schema = build()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for model in EVENT_DATA_MODELS.values():
            doc = model.model_json_schema(ref_template="#/components/schemas/{model}")
            for name, sub in doc.pop("$defs", {}).items():
                components.setdefault(name, sub)
            components.setdefault(model.__name__, doc)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def create_app(
    *,
    settings: Settings,
    sessionmaker: Database,
    clock: Clock,
    engine: AsyncEngine | None = None,
    faq_library: FaqLibrary | None = None,
    rules: Rules | None = None,
) -> FastAPI:
    """Build the API. The caller owns the engine; more routers may be included afterwards.

    `rules`: the composition root's bundle (supportbot/runtime.py). Omitted (tests that build
    an app alone), it is built from `settings` here: the only default bundle outside the root.
    """
    app = FastAPI(
        title="Support & win-back API",
        version=_version(),
        description=DESCRIPTION,
        openapi_tags=OPENAPI_TAGS,
        docs_url=None,  # served below from local files: the product works offline
        redoc_url=None,
        openapi_url="/openapi.json",
        generate_unique_id_function=_operation_id,
    )
    app.state.settings = settings
    app.state.rules = rules if rules is not None else build_rules(settings)
    app.state.sessionmaker = sessionmaker
    app.state.clock = clock
    app.state.engine = engine
    app.state.faq = faq_library if faq_library is not None else FaqLibrary()  # empty: /v1/faq answers 404s
    install_error_handlers(app)
    _offline_docs(app)
    app.add_middleware(BodyLimitMiddleware, max_bytes=MAX_V1_BODY_BYTES, path_prefix="/v1/")
    app.include_router(health.router)
    app.include_router(metrics.router)  # /metrics (no API key; METRICS_TOKEN optional)
    app.include_router(customers.router)
    app.include_router(support.router)
    app.include_router(faq.router)
    app.include_router(orders.router)
    app.include_router(loyalty.router)
    app.include_router(promo_codes.router)
    app.include_router(surveys.router)
    app.include_router(exit_interviews.router)
    app.include_router(events.router)
    app.include_router(segments.router)
    app.include_router(campaigns.router)
    app.include_router(analytics.router)
    _event_data_schemas(app)
    return app
