"""All configuration, read once from the environment and `.env` in `main()` and passed down.

`Settings` is made of sections, one class per concern, in the order of `.env.example`:
Telegram, database, HTTP API, sandbox, customers, support, proactive messages, loyalty, NPS,
exit interviews, engagement jobs, outreach, analytics, operations (`SECTIONS` lists them). A
new setting goes into its section as a field whose name is the environment variable in lower
case, documented in `.env.example` (tests/unit/test_settings.py checks both ways).

Why sections are base classes of one flat `Settings` and not nested models
(`settings.loyalty.currency`): pydantic-settings reads a nested model from `LOYALTY__CURRENCY`
(a delimiter) or from a JSON `LOYALTY` variable, so nested models would rename every variable
operators have set (or need a custom source that maps the flat names), and would change every
`Settings(loyalty_currency=...)` and `settings.model_copy(update=...)` (the runtime and the
tests build settings that way) and some 270 attribute reads, for no behaviour. Base classes keep
each variable's name, value and error message exactly as they were, a reader scans one short
class per concern, and a field's section is where its validators live. Domains do not read
their settings field by field: they get typed, grouped rules built once (core/rules.py).
"""

from __future__ import annotations

import re
from datetime import time
from pathlib import Path
from typing import Annotated, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from core.outreach.window import Window

TOKEN_RE = re.compile(r"^\d{1,20}:[A-Za-z0-9_-]{30,64}$")
SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
# The sandbox double accepts any well-formed token; this one is used when BOT_TOKEN is unset.
SANDBOX_TOKEN = "1000000001:sandbox-token-AAAAAAAAAAAAAAAAAAAAAAAAA"
SUPPORTED_DRIVERS = {"sqlite+aiosqlite", "postgresql+asyncpg"}


def _zone_name(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("an IANA time zone such as Europe/Moscow or UTC") from None
    return value


class TelegramSettings(BaseModel):
    """BOT_TOKEN, the Bot API server, webhook or polling, how many chats at once."""

    bot_token: SecretStr | None = Field(default=None, description="Token from @BotFather")
    telegram_api_url: str | None = Field(default=None, description="Base URL of a self-hosted Bot API server")
    webhook_url: str | None = Field(default=None, description="Public HTTPS base URL")
    webhook_secret: SecretStr | None = None
    webhook_path: str = "/telegram/webhook"
    # How many webhook requests Telegram keeps open at once (setWebhook's max_connections, 1-100;
    # Telegram's default 40). With several processes behind one URL, raise it (DEPLOY.md).
    webhook_max_connections: int = Field(default=40, ge=1, le=100)
    update_workers: int = Field(default=8, ge=1, le=256)
    polling_timeout: int = Field(default=25, ge=0, le=50)

    @field_validator("bot_token", mode="before")
    @classmethod
    def _token(cls, value: object) -> object:
        if value in (None, ""):
            return None
        if not isinstance(value, str) or not TOKEN_RE.match(value.strip()):
            raise ValueError("must look like 123456789:AA... (the token @BotFather gave you)")
        return value.strip()

    @field_validator("webhook_secret", mode="before")
    @classmethod
    def _secret(cls, value: object) -> object:
        if value in (None, ""):
            return None
        if not isinstance(value, str) or not SECRET_RE.match(value):
            raise ValueError("1-256 characters, only A-Z, a-z, 0-9, _ and - (Telegram's rule)")
        return value

    @field_validator("telegram_api_url", "webhook_url", mode="before")
    @classmethod
    def _url(cls, value: object) -> object:
        if value in (None, ""):
            return None
        if not isinstance(value, str) or not re.match(r"^https?://[^\s/]+", value):
            raise ValueError("must be an http(s):// URL")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _webhook_needs_secret(self) -> Self:
        # (The sandbox can deliver webhooks too, without a token: then it reaches us locally.)
        if self.webhook_url and not self.webhook_secret:
            raise ValueError("WEBHOOK_SECRET is required when WEBHOOK_URL is set")
        return self

    @property
    def sandbox_mode(self) -> bool:
        """No token: the product talks to its embedded Bot API double."""
        return self.bot_token is None

    @property
    def token(self) -> str:
        return self.bot_token.get_secret_value() if self.bot_token else SANDBOX_TOKEN


class DatabaseSettings(BaseModel):
    """DATABASE_URL (SQLite file or PostgreSQL) and SQL echo."""

    database_url: str = "sqlite+aiosqlite:///./data/supportbot.sqlite3"
    database_echo: bool = False

    @field_validator("database_url", mode="before")
    @classmethod
    def _database_url(cls, value: object) -> object:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        if not isinstance(value, str) or not value:
            raise ValueError("must be a database URL")
        try:
            url = make_url(value)
        except ArgumentError as exc:
            raise ValueError(f"not a database URL ({exc})") from None
        if url.drivername in {"postgresql", "postgres", "postgresql+psycopg2"}:
            url = url.set(drivername="postgresql+asyncpg")
        elif url.drivername == "sqlite":
            url = url.set(drivername="sqlite+aiosqlite")
        if url.drivername not in SUPPORTED_DRIVERS:
            raise ValueError(
                "use sqlite+aiosqlite:///path/to/file.sqlite3 or postgresql+asyncpg://user@host/db"
            )
        return url.render_as_string(hide_password=False)

    @property
    def sqlite_path(self) -> Path | None:
        from sqlalchemy.engine import make_url

        url = make_url(self.database_url)
        if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
            return None
        return Path(url.database)


class ApiSettings(BaseModel):
    """Where the HTTP API listens; account-link tokens."""

    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8080, ge=0, le=65535)
    link_token_ttl_hours: int = Field(default=72, ge=1, le=24 * 365)


class SandboxSettings(BaseModel):
    """The local Bot API double, used when BOT_TOKEN is unset."""

    sandbox_host: str = "127.0.0.1"
    sandbox_port: int = Field(default=8081, ge=0, le=65535)
    sandbox_flood_limits: bool = True


class CustomerSettings(BaseModel):
    """The business's name; language and time zone for customers who gave none."""

    business_name: str = Field(default="Demo Shop", min_length=1, max_length=64)
    default_language: Literal["en", "ru"] = "en"
    default_timezone: str = "UTC"

    @field_validator("default_timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        return _zone_name(value)


class SupportSettings(BaseModel):
    """Staff groups, business hours, case reminders and follow-ups, the FAQ files."""

    support_chat_id: int | None = None
    admin_ids: Annotated[list[int], NoDecode] = Field(default_factory=list)
    business_hours_days: Annotated[list[int], NoDecode] = Field(default_factory=lambda: [1, 2, 3, 4, 5])
    business_hours_start: time = time(9, 0)
    business_hours_end: time = time(18, 0)
    business_timezone: str = "UTC"
    # Extra staff groups: "ru=-1001,en=-1002,category:payment=-1003" (language or FAQ category).
    support_routes: Annotated[dict[str, int], NoDecode] = Field(default_factory=dict)
    support_first_reply_minutes: int = Field(default=15, ge=1, le=7 * 24 * 60)
    support_group_per_minute: int = Field(default=20, ge=1, le=1000)
    # After a case closes, the customer's next message opens a new case for this many days.
    support_followup_days: int = Field(default=7, ge=0, le=365)
    # Shipped FAQ files (read-only defaults); edits made through the API go to DATA_DIR/faq.
    faq_dir: str = "faq"
    # Where operator data written at run time goes (FAQ edits). Empty: beside the SQLite
    # database (./data by default), or ./data with PostgreSQL.
    data_dir: str = ""
    staff_language: Literal["en", "ru"] = "en"

    @field_validator("admin_ids", "business_hours_days", mode="before")
    @classmethod
    def _int_list(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [p for p in re.split(r"[,\s]+", value.strip()) if p]
            try:
                return [int(p) for p in parts]
            except ValueError:
                raise ValueError("a comma-separated list of whole numbers") from None
        return value

    @field_validator("support_routes", mode="before")
    @classmethod
    def _routes(cls, value: object) -> object:
        if isinstance(value, str):
            routes: dict[str, int] = {}
            for part in (p.strip() for p in value.split(",")):
                if not part:
                    continue
                key, sep, chat = part.partition("=")
                try:
                    if not sep or not key.strip():
                        raise ValueError
                    routes[key.strip()] = int(chat)
                except ValueError:
                    raise ValueError(
                        "comma-separated KEY=CHAT_ID pairs, KEY a language (ru, en) or "
                        "category:<faq category id>"
                    ) from None
            return routes
        return value

    @field_validator("business_timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        return _zone_name(value)


class ProactiveSettings(BaseModel):
    """What every proactive message (campaign, survey, interview, notice) shares."""

    proactive_cap_days: float = Field(default=7, ge=0, le=365)


class LoyaltySettings(BaseModel):
    """Points, tiers, expiry, referrals, birthdays (core/loyalty/rules.py: LoyaltyRules)."""

    loyalty_currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    # Orders in other currencies: "EUR=1.08,RUB=0.011" (units of LOYALTY_CURRENCY per unit).
    loyalty_exchange_rates: Annotated[dict[str, float], NoDecode] = Field(default_factory=dict)
    loyalty_points_per_unit: float = Field(default=1.0, ge=0, le=1000)
    loyalty_pending_days: float = Field(default=0, ge=0, le=365)
    loyalty_expiry_days: int = Field(default=365, ge=0, le=3650)
    loyalty_expiry_warning_days: int = Field(default=14, ge=0, le=365)
    loyalty_vip_min_spend: float = Field(default=1000, ge=0)
    loyalty_vip_min_orders: int = Field(default=5, ge=1)
    loyalty_pre_vip_min_spend: float = Field(default=600, ge=0)
    loyalty_pre_vip_min_orders: int = Field(default=3, ge=1)
    loyalty_referral_reward_referrer: int = Field(default=200, ge=0, le=1_000_000)
    loyalty_referral_reward_referred: int = Field(default=100, ge=0, le=1_000_000)
    loyalty_birthday_reward: int = Field(default=100, ge=0, le=1_000_000)
    loyalty_birthday_min_notice_days: int = Field(default=30, ge=0, le=365)

    @field_validator("loyalty_exchange_rates", mode="before")
    @classmethod
    def _rates(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        rates: dict[str, float] = {}
        for part in (p.strip() for p in value.split(",")):
            if not part:
                continue
            code, _, rate = part.partition("=")
            try:
                number = float(rate)
                if not re.fullmatch(r"[A-Z]{3}", code.strip()) or not number > 0:
                    raise ValueError
            except ValueError:
                raise ValueError("comma-separated CUR=RATE pairs, e.g. EUR=1.08,RUB=0.011") from None
            rates[code.strip()] = number
        return rates

    @model_validator(mode="after")
    def _loyalty_tiers(self) -> Self:
        if (
            self.loyalty_pre_vip_min_spend > self.loyalty_vip_min_spend
            or self.loyalty_pre_vip_min_orders > self.loyalty_vip_min_orders
        ):
            raise ValueError("LOYALTY_PRE_VIP_MIN_SPEND/ORDERS must not exceed the VIP thresholds")
        return self


class NpsSettings(BaseModel):
    """NPS surveys: cooldowns, windows, triggers (core/nps/rules.py: NpsRules)."""

    nps_answered_cooldown_days: float = Field(default=90, ge=0, le=3650)
    nps_ignored_cooldown_days: float = Field(default=30, ge=0, le=3650)
    nps_answer_window_days: float = Field(default=7, ge=0.01, le=365)
    nps_send_window_days: float = Field(default=14, ge=0, le=365)
    nps_after_support_case: bool = True
    nps_after_support_case_hours: float = Field(default=24, ge=0, le=24 * 90)
    nps_after_first_purchase_days: float = Field(default=14, ge=0, le=365)


class ExitSettings(BaseModel):
    """Exit interviews and the save offer (core/exit_interview/rules.py: ExitRules)."""

    exit_save_offer_enabled: bool = True
    exit_save_offer_pool: str = Field(default="exit-save", min_length=1, max_length=64)
    exit_save_offer_discount_percent: int = Field(default=15, ge=1, le=50)
    exit_save_offer_valid_days: int = Field(default=14, ge=1, le=365)
    exit_save_window_days: int = Field(default=30, ge=1, le=365)
    exit_send_window_days: float = Field(default=3, ge=0, le=90)


class EngagementSettings(BaseModel):
    """How often the jobs behind surveys, interviews and loyalty notices run (bot/engagement_worker.py)."""

    engagement_poll_seconds: float = Field(default=2.0, gt=0, le=60)
    engagement_jobs_seconds: float = Field(default=300, gt=0, le=86400)


class OutreachSettings(BaseModel):
    """Win-back segments, campaigns and their delivery (core/outreach/rules.py: OutreachRules)."""

    outreach_dormant_days: int = Field(default=30, ge=1, le=3650)
    outreach_churn_days: int = Field(default=90, ge=1, le=3650)
    outreach_late_churn_min_tenure_days: int = Field(default=180, ge=0, le=3650)
    outreach_late_churn_min_orders: int = Field(default=3, ge=0, le=1_000_000)
    outreach_quiet_hours: str = "21:00-09:00"
    outreach_default_holdout: float = Field(default=0.1, ge=0, le=0.5)
    outreach_default_goal_days: int = Field(default=30, ge=1, le=365)
    outreach_rate_per_second: float = Field(default=30, gt=0, le=1000)
    outreach_paid_rate_per_second: float = Field(default=1000, gt=0, le=1000)
    outreach_paid_max_stars: float = Field(default=0, ge=0, le=1_000_000)
    outreach_concurrency: int = Field(default=16, ge=1, le=512)
    outreach_max_attempts: int = Field(default=5, ge=1, le=50)
    outreach_retry_base_seconds: float = Field(default=2, gt=0, le=3600)
    outreach_retry_max_seconds: float = Field(default=300, gt=0, le=86400)
    outreach_webhook_max_attempts: int = Field(default=8, ge=1, le=50)
    outreach_webhook_timeout_seconds: float = Field(default=10, gt=0, le=120)
    outreach_progress_log_seconds: float = Field(default=30, gt=0, le=3600)
    outreach_sync_seconds: float = Field(default=2, gt=0, le=3600)

    @field_validator("outreach_quiet_hours")
    @classmethod
    def _quiet_hours(cls, value: str) -> str:
        if value.strip().lower() in ("", "off", "none"):
            return "off"
        return str(Window.parse(value))

    @model_validator(mode="after")
    def _outreach_windows(self) -> Self:
        if self.outreach_churn_days < self.outreach_dormant_days:
            raise ValueError("OUTREACH_CHURN_DAYS must not be shorter than OUTREACH_DORMANT_DAYS")
        if self.outreach_retry_max_seconds < self.outreach_retry_base_seconds:
            raise ValueError("OUTREACH_RETRY_MAX_SECONDS must not be below OUTREACH_RETRY_BASE_SECONDS")
        return self


class AnalyticsSettings(BaseModel):
    """Retention reports and /stats."""

    # A customer is active at a moment if they placed a counted order within this many days before it.
    analytics_active_days: int = Field(default=90, ge=1, le=3650)
    # Period boundaries are local midnights in this zone (unset: BUSINESS_TIMEZONE).
    analytics_timezone: str | None = None
    # What /stats without an argument shows: the current week, month or quarter so far.
    analytics_stats_period: Literal["week", "month", "quarter"] = "month"
    # How many periods (or monthly cohorts) the /stats charts look back.
    analytics_chart_periods: int = Field(default=12, ge=2, le=36)

    @field_validator("analytics_timezone")
    @classmethod
    def _analytics_tz(cls, value: str | None) -> str | None:
        return None if value is None else _zone_name(value)


class OperationsSettings(BaseModel):
    """Logs, several processes (docs/DEPLOY.md), /metrics."""

    environment: Literal["development", "production"] = "development"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # Unset: one process, flood limits kept in memory. Set: limits shared by every process.
    redis_url: str | None = None
    # What `supportbot run` runs here (`--role` overrides): all | bot | api | worker.
    process_role: Literal["all", "bot", "api", "worker"] = "all"
    # text (readable) or json (one object per line, for log collectors).
    log_format: Literal["text", "json"] = "text"
    # Unset: /metrics is open (restrict it at the proxy). Set: scrapes send this bearer token.
    metrics_token: SecretStr | None = None

    @field_validator("redis_url", mode="before")
    @classmethod
    def _redis_url(cls, value: object) -> object:
        if value in (None, ""):
            return None
        if not isinstance(value, str) or not re.match(r"^(redis|rediss|unix)://", value):
            raise ValueError("must be a redis:// (or rediss://, unix://) URL, e.g. redis://127.0.0.1:6379/0")
        return value


# In the order of .env.example.
SECTIONS: tuple[type[BaseModel], ...] = (
    TelegramSettings,
    DatabaseSettings,
    ApiSettings,
    SandboxSettings,
    CustomerSettings,
    SupportSettings,
    ProactiveSettings,
    LoyaltySettings,
    NpsSettings,
    ExitSettings,
    EngagementSettings,
    OutreachSettings,
    AnalyticsSettings,
    OperationsSettings,
)


class Settings(
    BaseSettings,
    TelegramSettings,
    DatabaseSettings,
    ApiSettings,
    SandboxSettings,
    CustomerSettings,
    SupportSettings,
    ProactiveSettings,
    LoyaltySettings,
    NpsSettings,
    ExitSettings,
    EngagementSettings,
    OutreachSettings,
    AnalyticsSettings,
    OperationsSettings,
):
    """Environment variables (see .env.example for the documented list): every section's fields,
    each read from the variable of its name. Declares no field of its own."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        env_ignore_empty=True,
        extra="ignore",
        case_sensitive=False,
    )

    @property
    def data_path(self) -> Path:
        """DATA_DIR, or the SQLite database's folder, or ./data: never inside the package."""
        if self.data_dir:
            return Path(self.data_dir).expanduser()
        db = self.sqlite_path
        return db.expanduser().parent if db is not None else Path("data")


def format_validation_error(exc: ValidationError) -> str:
    """Turn pydantic's error into lines a person can act on (no traceback)."""
    lines = ["Configuration error:"]
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "settings"
        msg = err["msg"].removeprefix("Value error, ")
        lines.append(f"  {loc.upper()}: {msg}")
    return "\n".join(lines)
