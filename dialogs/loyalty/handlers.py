"""The balance screen (/balance and the menu), history, the invite link and the birthday."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from urllib.parse import quote

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import loyalty
from core.clock import Clock
from core.customers import CustomerView
from core.errors import DomainError
from core.loyalty.rules import LoyaltyRules
from core.settings import Settings
from dialogs import menu
from dialogs.common import show
from dialogs.context import BotContext
from dialogs.i18n import Translator
from dialogs.loyalty.format import day, money, points, signed_points, unit, zone

router = Router(name=__name__)
router.message.filter(F.chat.type == "private")
router.callback_query.filter(F.message.chat.type == "private")

RECENT = 5
PAGE = 10
DATE_RE = re.compile(r"^\s*(\d{1,2})[./\-\s](\d{1,2})[./\-\s](\d{4})\s*$")


class LoyCb(CallbackData, prefix="loy"):
    a: str  # bal | inv | hist | bday | bdx
    p: int = 0  # history: show movements before this id (0: newest)


class LoyaltyStates(StatesGroup):
    birthday = State()


# This flow's main-menu item (listed by the composition root, supportbot/runtime.py).
MENU_ITEMS = (menu.MenuItem("balance", 30, lambda t, _c: t("menu-balance"), feature_key="feature-balance"),)


# ------------------------------------------------------------------ rendering


def movement_what(t: Translator, entry: loyalty.EntryView) -> str:
    if entry.kind == "earn":
        return t("move-earn-order", order=entry.order_id) if entry.order_id else t("move-bonus")
    if entry.kind == "reversal":
        return t("move-reversal-order", order=entry.order_id) if entry.order_id else t("move-reversal")
    return t(f"move-{entry.kind}")


def movement_line(
    t: Translator, entry: loyalty.EntryView, now_pending: bool, tz_name: str | None, default_tz: str
) -> str:
    line = t(
        "move-line",
        points=signed_points(entry.points),
        what=movement_what(t, entry),
        date=day(t, entry.created_at, zone(tz_name, default_tz), year=False),
    )
    return f"{line} {t('move-pending')}" if now_pending else line


def earn_per_purchase(t: Translator, rules: LoyaltyRules) -> str | None:
    ppu = rules.points_per_unit
    if ppu <= 0:
        return None
    if ppu >= 1:
        return t("balance-earn-purchase", points=points(t, int(ppu)), unit=unit(t, rules.currency))
    per = Decimal(1) / ppu
    per = per.quantize(Decimal(1)) if per == per.to_integral_value() else per.quantize(Decimal("0.01"))
    return t("balance-earn-purchase", points=points(t, 1), unit=unit(t, rules.currency, per))


def next_tier_line(t: Translator, view: loyalty.BalanceView) -> str:
    nxt = view.next_tier
    if nxt is None:
        return t("balance-top-tier")
    if view.orders == 0:
        return t("balance-next-first")
    tier = t(f"tier-{nxt.tier}")
    orders = t("more-orders-n", n=nxt.orders_needed)
    spend = money(t, nxt.spend_needed_minor, view.currency)
    if nxt.spend_needed_minor > 0 and nxt.orders_needed > 0:
        return t("balance-next-both", tier=tier, spend=spend, orders=orders)
    if nxt.spend_needed_minor > 0:
        return t("balance-next-spend", tier=tier, spend=spend)
    return t("balance-next-orders", tier=tier, orders=orders)


def balance_text(
    t: Translator,
    *,
    view: loyalty.BalanceView,
    moves: list[loyalty.EntryView],
    rules: LoyaltyRules,
    customer: CustomerView,
    settings: Settings,
    now_ts: float,
) -> str:
    tz = zone(customer.timezone, settings.default_timezone)
    lines = [t("balance-points", points=points(t, view.spendable))]
    if view.pending:
        lines.append(
            t(
                "balance-pending",
                points=points(t, view.pending),
                date=day(t, view.pending_until, tz) if view.pending_until else "—",
            )
        )
    lines.append(t("balance-tier", tier=t(f"tier-{view.tier}")))
    lines.append(next_tier_line(t, view))
    if view.spendable < 0:
        lines.append(t("balance-negative"))
    if view.expires_at is not None:
        key = "balance-expiring" if view.expiring_soon else "balance-expiry"
        lines.append(t(key, points=points(t, view.spendable), date=day(t, view.expires_at, tz)))
    lines += ["", t("balance-history-title")]
    if moves:
        lines += [
            movement_line(
                t,
                m,
                m.available_at.timestamp() > now_ts and m.points > 0,
                customer.timezone,
                settings.default_timezone,
            )
            for m in moves
        ]
    else:
        lines.append(t("balance-history-empty"))
    earn = [earn_per_purchase(t, rules)]
    if rules.referral_reward_referrer or rules.referral_reward_referred:
        earn.append(
            t(
                "balance-earn-referral",
                referrer=points(t, rules.referral_reward_referrer),
                referred=points(t, rules.referral_reward_referred),
            )
        )
    if rules.birthday_reward:
        key = "balance-earn-birthday" if customer.birthday else "balance-earn-birthday-add"
        earn.append(t(key, points=points(t, rules.birthday_reward)))
    earn_lines = [e for e in earn if e]
    if earn_lines:
        lines += ["", t("balance-earn-title"), *earn_lines]
    return "\n".join(lines)


def balance_keyboard(t: Translator, rules: LoyaltyRules, has_more: bool) -> InlineKeyboardMarkup:
    rows = [[InlineKeyboardButton(text=t("balance-invite"), callback_data=LoyCb(a="inv").pack())]]
    second = []
    if has_more:
        second.append(InlineKeyboardButton(text=t("balance-all"), callback_data=LoyCb(a="hist").pack()))
    if rules.birthday_reward:
        second.append(InlineKeyboardButton(text=t("balance-birthday"), callback_data=LoyCb(a="bday").pack()))
    if second:
        rows.append(second)
    rows.append([menu.back_button(t)])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def back_to_balance(t: Translator) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=t("menu-back"), callback_data=LoyCb(a="bal").pack())


async def render_balance(
    db: async_sessionmaker[AsyncSession],
    clock: Clock,
    settings: Settings,
    rules: LoyaltyRules,
    customer: CustomerView,
    t: Translator,
) -> tuple[str, InlineKeyboardMarkup]:
    async with db() as session:
        view = await loyalty.balance(session, clock=clock, rules=rules, customer_id=customer.id)
        moves, more = await loyalty.history(session, customer_id=customer.id, limit=RECENT)
    text = balance_text(
        t,
        view=view,
        moves=moves,
        rules=rules,
        customer=customer,
        settings=settings,
        now_ts=clock.now().timestamp(),
    )
    return text, balance_keyboard(t, rules, more is not None)


# ------------------------------------------------------------------ balance


@router.message(Command("balance", "points"))
async def on_balance_command(
    message: Message,
    ctx: BotContext,
    customer: CustomerView,
    t: Translator,
    state: FSMContext,
) -> None:
    await state.clear()
    text, markup = await render_balance(ctx.db, ctx.clock, ctx.settings, ctx.rules.loyalty, customer, t)
    await message.answer(text, reply_markup=markup)


@router.callback_query(menu.MenuCb.filter(F.action == "balance"))
async def on_balance_button(
    query: CallbackQuery,
    ctx: BotContext,
    customer: CustomerView,
    t: Translator,
) -> None:
    text, markup = await render_balance(ctx.db, ctx.clock, ctx.settings, ctx.rules.loyalty, customer, t)
    await show(query, text, markup)


@router.callback_query(LoyCb.filter(F.a == "bal"))
async def on_back_to_balance(
    query: CallbackQuery,
    ctx: BotContext,
    customer: CustomerView,
    t: Translator,
    state: FSMContext,
) -> None:
    await state.clear()
    text, markup = await render_balance(ctx.db, ctx.clock, ctx.settings, ctx.rules.loyalty, customer, t)
    await show(query, text, markup)


@router.callback_query(LoyCb.filter(F.a == "hist"))
async def on_history(
    query: CallbackQuery,
    callback_data: LoyCb,
    db: async_sessionmaker[AsyncSession],
    clock: Clock,
    settings: Settings,
    customer: CustomerView,
    t: Translator,
) -> None:
    before = callback_data.p or None
    async with db() as session:
        moves, older = await loyalty.history(session, customer_id=customer.id, limit=PAGE, before_id=before)
    now_ts = clock.now().timestamp()
    lines = [t("history-title"), ""]
    lines += [
        movement_line(
            t,
            m,
            m.available_at.timestamp() > now_ts and m.points > 0,
            customer.timezone,
            settings.default_timezone,
        )
        for m in moves
    ]
    if not moves:
        lines.append(t("balance-history-empty"))
    nav = []
    if before is not None:
        nav.append(InlineKeyboardButton(text=t("history-newer"), callback_data=LoyCb(a="hist").pack()))
    if older is not None:
        nav.append(
            InlineKeyboardButton(text=t("history-older"), callback_data=LoyCb(a="hist", p=older).pack())
        )
    rows = [nav] if nav else []
    rows.append([back_to_balance(t)])
    await show(query, "\n".join(lines), InlineKeyboardMarkup(inline_keyboard=rows))


# ------------------------------------------------------------------ referral


async def invite_view(
    db: async_sessionmaker[AsyncSession],
    clock: Clock,
    rules: LoyaltyRules,
    customer: CustomerView,
    t: Translator,
) -> tuple[str, str | None]:
    """The invite text and the link (created on first use)."""
    async with db.begin() as session:
        info = await loyalty.referral_info(session, clock=clock, customer_id=customer.id)
    link = info.link or info.start_command
    text = t(
        "referral-info",
        referrer=points(t, rules.referral_reward_referrer),
        referred=points(t, rules.referral_reward_referred),
        link=link,
        invited=info.invited,
        rewarded=info.rewarded,
    )
    return text, info.link


def share_button(t: Translator, link: str, shop: str) -> InlineKeyboardButton:
    text = quote(t("referral-share-text", shop=shop))
    url = f"https://t.me/share/url?url={quote(link, safe='')}&text={text}"
    return InlineKeyboardButton(text=t("referral-share"), url=url)


@router.callback_query(LoyCb.filter(F.a == "inv"))
async def on_invite(
    query: CallbackQuery,
    ctx: BotContext,
    customer: CustomerView,
    t: Translator,
) -> None:
    text, link = await invite_view(ctx.db, ctx.clock, ctx.rules.loyalty, customer, t)
    rows = [[share_button(t, link, ctx.settings.business_name)]] if link else []
    rows.append([back_to_balance(t)])
    await show(query, text, InlineKeyboardMarkup(inline_keyboard=rows))


async def referral_notice(
    session: AsyncSession,
    *,
    clock: Clock,
    rules: LoyaltyRules,
    customer: CustomerView,
    payload: str,
    t: Translator,
) -> str | None:
    """Called by /start with a ref_<code> payload: attribute the referral, say what it means."""
    outcome = await loyalty.attribute_referral(session, clock=clock, customer_id=customer.id, payload=payload)
    if outcome.status == "attributed":
        reward = points(t, rules.referral_reward_referred)
        if outcome.referrer_name:
            return t("referral-welcome", name=outcome.referrer_name, points=reward)
        return t("referral-welcome-anonymous", points=reward)
    return {
        "self": t("referral-self"),
        "not_new": t("referral-not-new"),
        "unknown_code": t("referral-unknown"),
    }.get(outcome.status)


# ------------------------------------------------------------------ birthday


def parse_birthday(text: str, today: date) -> date | None:
    """DD.MM.YYYY (dots, dashes, slashes or spaces); None if it is not a plausible birthday."""
    m = DATE_RE.match(text)
    if not m:
        return None
    try:
        value = date(int(m.group(3)), int(m.group(2)), int(m.group(1)))
    except ValueError:
        return None
    if value > today or value.year < today.year - 120:
        return None
    return value


@router.callback_query(LoyCb.filter(F.a == "bday"))
async def on_birthday(
    query: CallbackQuery,
    ctx: BotContext,
    customer: CustomerView,
    t: Translator,
    state: FSMContext,
) -> None:
    reward, notice = ctx.rules.loyalty.birthday_reward, ctx.rules.loyalty.birthday_min_notice
    markup = InlineKeyboardMarkup(inline_keyboard=[[back_to_balance(t)]])
    if customer.birthday:
        await show(
            query,
            t("birthday-known", date=day(t, customer.birthday, year=False), points=points(t, reward)),
            markup,
        )
        return
    await state.set_state(LoyaltyStates.birthday)
    text = t("birthday-ask", points=points(t, reward))
    if notice.days:
        text += "\n" + t("birthday-note", days=t("days-n", n=notice.days))
    cancel = InlineKeyboardButton(text=t("birthday-cancel"), callback_data=LoyCb(a="bal").pack())
    await show(query, text, InlineKeyboardMarkup(inline_keyboard=[[cancel]]))


@router.message(LoyaltyStates.birthday, F.text, ~F.text.startswith("/"))
async def on_birthday_text(
    message: Message,
    db: async_sessionmaker[AsyncSession],
    clock: Clock,
    settings: Settings,
    customer: CustomerView,
    t: Translator,
    state: FSMContext,
) -> None:
    value = parse_birthday(message.text or "", clock.now().date())
    if value is None:
        await message.answer(t("birthday-bad"))
        return
    try:
        async with db.begin() as session:
            await loyalty.set_birthday(session, clock=clock, customer_id=customer.id, birthday=value)
    except DomainError:
        await message.answer(t("birthday-bad"))
        return
    await state.clear()
    markup = InlineKeyboardMarkup(inline_keyboard=[[back_to_balance(t)]])
    await message.answer(t("birthday-saved", date=day(t, value, year=False)), reply_markup=markup)
