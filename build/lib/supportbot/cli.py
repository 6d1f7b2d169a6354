"""`supportbot` command line: run, migrate, api-key create|list|revoke, sandbox."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from core.settings import Settings, format_validation_error


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        print(format_validation_error(exc), file=sys.stderr)
        print("See .env.example for every setting and its format.", file=sys.stderr)
        raise SystemExit(2) from None


def _logging(level: str, fmt: str = "text") -> None:
    from core.logs import setup

    setup(level, fmt)  # LOG_FORMAT=json: one JSON object per line (core/logs.py)


def cmd_run(args: argparse.Namespace) -> int:
    settings = _settings()
    if getattr(args, "role", None):
        settings = settings.model_copy(update={"process_role": args.role})
    _logging(settings.log_level, settings.log_format)
    from supportbot.runtime import serve

    try:
        asyncio.run(serve(settings))
    except OSError as exc:
        print(f"Cannot start: {exc}", file=sys.stderr)
        return 1
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    settings = _settings()
    _logging(settings.log_level, settings.log_format)
    from storage import migrate
    from storage.db import create_engine

    async def go() -> str | None:
        engine = create_engine(settings.database_url)
        try:
            if args.downgrade:
                await migrate.downgrade(engine, args.downgrade)
            else:
                await migrate.upgrade(engine, args.revision)
            return await migrate.current_revision(engine)
        finally:
            await engine.dispose()

    print(f"database at revision {asyncio.run(go()) or 'base (empty)'}")
    return 0


def _with_session(fn):
    settings = _settings()

    async def go():
        from core.clock import SystemClock
        from storage import migrate
        from storage.db import create_engine, create_sessionmaker

        engine = create_engine(settings.database_url)
        try:
            await migrate.upgrade(engine)
            async with create_sessionmaker(engine).begin() as session:
                return await fn(session, SystemClock())
        finally:
            await engine.dispose()

    return asyncio.run(go())


def cmd_key_create(args: argparse.Namespace) -> int:
    from core import apikeys
    from core.errors import DomainError

    scopes = args.scope or ["*"]

    async def fn(session, clock):
        return await apikeys.create_api_key(session, clock=clock, name=args.name, scopes=scopes)

    try:
        plaintext, key = _with_session(fn)
    except DomainError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    print(f"created key #{key.id} '{key.name}' with scopes {', '.join(key.scopes)}")
    print("Store it now; it is not shown again:")
    print(plaintext)
    return 0


def cmd_key_list(_args: argparse.Namespace) -> int:
    from core import apikeys

    async def fn(session, _clock):
        return await apikeys.list_api_keys(session)

    keys = _with_session(fn)
    if not keys:
        print("no API keys yet: supportbot api-key create --name NAME --scope SCOPE")
    for k in keys:
        state = f"revoked {k.revoked_at:%Y-%m-%d}" if k.revoked_at else "active"
        used = f"last used {k.last_used_at:%Y-%m-%d %H:%M}" if k.last_used_at else "never used"
        print(f"#{k.id}  {k.prefix}  {k.name}  [{', '.join(k.scopes)}]  {state}, {used}")
    return 0


def cmd_key_revoke(args: argparse.Namespace) -> int:
    from core import apikeys
    from core.errors import DomainError

    async def fn(session, clock):
        return await apikeys.revoke_api_key(session, clock=clock, key_id_or_prefix=args.key)

    try:
        key = _with_session(fn)
    except DomainError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    print(f"revoked key #{key.id} '{key.name}'")
    return 0


def cmd_sandbox(args: argparse.Namespace) -> int:
    from sandbox.server import main as sandbox_main

    argv = ["--host", args.host, "--port", str(args.port)]
    if args.no_flood_limits:
        argv.append("--no-flood-limits")
    return sandbox_main(argv) or 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="supportbot",
        description="Telegram support and win-back bot with an HTTP API. "
        "Settings come from the environment and .env (see .env.example).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "run",
        help="run the bot, the HTTP API and the workers in one process",
        description="Run everything. Without BOT_TOKEN an embedded Bot API "
        "sandbox is started so the product works locally with no Telegram.",
    )
    p.add_argument(
        "--role",
        choices=["all", "bot", "api", "worker"],
        help="what this process runs (default: PROCESS_ROLE, else all): bot = Telegram "
        "updates, api = only the HTTP API, worker = only background workers; "
        "see docs/DEPLOY.md",
    )
    p.set_defaults(fn=cmd_run)

    p = sub.add_parser(
        "migrate",
        help="apply database migrations (run also happens at start)",
        description="Upgrade the database schema (or downgrade with --downgrade).",
    )
    p.add_argument("--revision", default="heads", help="target revision (default: heads)")
    p.add_argument("--downgrade", metavar="REVISION", help="downgrade to REVISION ('base' = empty)")
    p.set_defaults(fn=cmd_migrate)

    keys = sub.add_parser(
        "api-key",
        help="manage API keys for backend systems",
        description="Create, list and revoke API keys (stored hashed).",
    )
    ksub = keys.add_subparsers(dest="key_command", required=True, metavar="ACTION")
    p = ksub.add_parser(
        "create",
        help="create a key and print it once",
        description="Create an API key. Scopes: customers:read, customers:write, "
        "orders:write, loyalty:read, loyalty:write, surveys:read, surveys:write, "
        "campaigns:read, campaigns:write, support:read, support:write, faq:read, "
        "faq:write, analytics:read, or * for all.",
    )
    p.add_argument("--name", required=True, help="who uses the key, e.g. 'shop backend'")
    p.add_argument("--scope", action="append", help="a scope; repeat for several (default: *)")
    p.set_defaults(fn=cmd_key_create)
    p = ksub.add_parser("list", help="list keys (never the secrets)", description="List API keys.")
    p.set_defaults(fn=cmd_key_list)
    p = ksub.add_parser(
        "revoke",
        help="revoke a key by id or prefix",
        description="Revoke an API key; requests with it get 401 from then on.",
    )
    p.add_argument("key", help="key id (e.g. 3) or prefix (e.g. sbk_ab12cd34)")
    p.set_defaults(fn=cmd_key_revoke)

    p = sub.add_parser(
        "sandbox",
        help="run the local Bot API double on its own",
        description="Run the Telegram Bot API double standalone; point "
        "TELEGRAM_API_URL at it and set any well-formed BOT_TOKEN.",
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8081)
    p.add_argument("--no-flood-limits", action="store_true", help="turn off 429 simulation")
    p.set_defaults(fn=cmd_sandbox)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.fn(args) or 0)
