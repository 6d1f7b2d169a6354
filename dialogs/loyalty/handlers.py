"""The balance screen (/balance and the menu), history, the invite link and the birthday."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from urllib.parse import quote

from aiogram import F
from aiogram.dispatcher.event.bases import SkipHandler
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from pydantic import BaseModel

from core import loyalty
from core.customers import CustomerView
from core.errors import DomainError
from core.loyalty.rules import LoyaltyRules
from core.loyalty.rules import parse_birthday as parse_birthday  # imported from here by tests
from core.settings import Settings
from dialogs import menu
from dialogs.common import show
from dialogs.flow import END, Flow, Turn, Wait, leave, on_button, on_message
from dialogs.i18n import Translator
from dialogs.loyalty.format import day, money, points, signed_points, unit, zone

RECENT = 5
PAGE = 10


class LoyCb(CallbackData, prefix="loy"):
    a: str  # bal | inv | hist | bday | bdx
    p: int = 0  # history: show movements before this id (0: newest)


# This flow's main-menu item (listed by the composition root, supportbot/runtime.py).
MENU_ITEMS = (menu.MenuItem("balance", 30, lambda t, _c: t("menu-balance"), feature_key="feature-balance"),)


# ------------------------------------------------------------------ states


class LoyaltyStates(StatesGroup):
    birthday = State()


class BirthdayData(BaseModel):
    """Nothing is kept while the birthday is awaited: the state alone says what the next text is."""


# The question stays open until they answer, cancel, ask for a person (request_human ends any
# wait) or for 3 hours: later, a text is something new, not a birthday to ask again for.
BIRTHDAY: Wait[BirthdayData] = Wait(LoyaltyStates.birthday, BirthdayData, ttl=timedelta(hours=3))


# ------------------------------------------------------------------ renderers


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


def balance_message(turn: Turn, screen: loyalty.BalanceScreen) -> tuple[str, InlineKeyboardMarkup]:
    """The balance screen: points, tier, the latest movements, how to earn more."""
    rules = turn.rules.loyalty
    text = balance_text(
        turn.t,
        view=screen.balance,
        moves=screen.recent,
        rules=rules,
        customer=turn.who,
        settings=turn.settings,
        now_ts=turn.clock.now().timestamp(),
    )
    return text, balance_keyboard(turn.t, rules, screen.more)


def history_message(
    turn: Turn, moves: list[loyalty.EntryView], *, before: int | None, older: int | None
) -> tuple[str, InlineKeyboardMarkup]:
    """One page of movements, with newer/older and back to the balance."""
    t, customer = turn.t, turn.who
    now_ts = turn.clock.now().timestamp()
    lines = [t("history-title"), ""]
    lines += [
        movement_line(
            t,
            m,
            m.available_at.timestamp() > now_ts and m.points > 0,
            customer.timezone,
            turn.settings.default_timezone,
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
    return "\n".join(lines), InlineKeyboardMarkup(inline_keyboard=rows)


def share_button(t: Translator, link: str, shop: str) -> InlineKeyboardButton:
    text = quote(t("referral-share-text", shop=shop))
    url = f"https://t.me/share/url?url={quote(link, safe='')}&text={text}"
    return InlineKeyboardButton(text=t("referral-share"), url=url)


def invite_message(turn: Turn, info: loyalty.ReferralInfo) -> tuple[str, InlineKeyboardMarkup]:
    """The invite text with the link (or the /start command until the bot knows its username)."""
    t, rules = turn.t, turn.rules.loyalty
    text = t(
        "referral-info",
        referrer=points(t, rules.referral_reward_referrer),
        referred=points(t, rules.referral_reward_referred),
        link=info.link or info.start_command,
        invited=info.invited,
        rewarded=info.rewarded,
    )
    rows = [[share_button(t, info.link, turn.settings.business_name)]] if info.link else []
    rows.append([back_to_balance(t)])
    return text, InlineKeyboardMarkup(inline_keyboard=rows)


def referral_notice(t: Translator, rules: LoyaltyRules, outcome: loyalty.ReferralOutcome) -> str | None:
    """What a /start ref_<code> meant for the newcomer (dialogs/onboarding), if worth saying."""
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


def birthday_known_message(turn: Turn, birthday: date) -> tuple[str, InlineKeyboardMarkup]:
    t = turn.t
    reward = turn.rules.loyalty.birthday_reward
    text = t("birthday-known", date=day(t, birthday, year=False), points=points(t, reward))
    return text, InlineKeyboardMarkup(inline_keyboard=[[back_to_balance(t)]])


def birthday_ask_message(turn: Turn) -> tuple[str, InlineKeyboardMarkup]:
    """The question, the reward, how long before the birthday it must be known; 'Cancel'."""
    t, rules = turn.t, turn.rules.loyalty
    text = t("birthday-ask", points=points(t, rules.birthday_reward))
    if rules.birthday_min_notice.days:
        text += "\n" + t("birthday-note", days=t("days-n", n=rules.birthday_min_notice.days))
    cancel = InlineKeyboardButton(text=t("birthday-cancel"), callback_data=LoyCb(a="bal").pack())
    return text, InlineKeyboardMarkup(inline_keyboard=[[cancel]])


def birthday_saved_message(t: Translator, birthday: date) -> tuple[str, InlineKeyboardMarkup]:
    markup = InlineKeyboardMarkup(inline_keyboard=[[back_to_balance(t)]])
    return t("birthday-saved", date=day(t, birthday, year=False)), markup


# ------------------------------------------------------------------ callbacks


async def read_balance(turn: Turn) -> tuple[str, InlineKeyboardMarkup]:
    screen = await turn.uow.read(
        loyalty.balance_screen,
        clock=turn.clock,
        rules=turn.rules.loyalty,
        customer_id=turn.who.id,
        recent=RECENT,
    )
    return balance_message(turn, screen)


async def on_balance_command(message: Message, turn: Turn) -> None:
    """/balance: the screen, and whatever this chat waited for is over."""
    await leave(turn)
    text, markup = await read_balance(turn)
    await message.answer(text, reply_markup=markup)


async def on_balance_button(query: CallbackQuery, turn: Turn) -> None:
    await show(query, *await read_balance(turn))


async def on_back_to_balance(query: CallbackQuery, turn: Turn) -> None:
    """'Back' to the balance, also the birthday question's 'Cancel'."""
    await leave(turn)
    await show(query, *await read_balance(turn))


async def on_history(query: CallbackQuery, callback_data: LoyCb, turn: Turn) -> None:
    before = callback_data.p or None
    moves, older = await turn.uow.read(loyalty.history, customer_id=turn.who.id, limit=PAGE, before_id=before)
    await show(query, *history_message(turn, moves, before=before, older=older))


async def on_invite(query: CallbackQuery, turn: Turn) -> None:
    """The invite link (created on first use)."""
    info = await turn.uow.write(loyalty.referral_info, clock=turn.clock, customer_id=turn.who.id)
    await show(query, *invite_message(turn, info))


async def on_birthday(query: CallbackQuery, turn: Turn) -> None:
    """'My birthday': the date they gave, or the question (their next text is the answer)."""
    if turn.who.birthday:
        await show(query, *birthday_known_message(turn, turn.who.birthday))
        return
    await BIRTHDAY.enter(turn, BirthdayData())
    await show(query, *birthday_ask_message(turn))


async def on_birthday_text(message: Message, turn: Turn) -> None:
    """Their birthday, typed. A date that does not parse asks again (the wait goes on); a wait
    that is over lets the text go on to whoever is next."""
    if await BIRTHDAY.read(turn) is None:
        raise SkipHandler()
    value = parse_birthday(message.text or "", turn.clock.now().date())
    if value is None:
        await message.answer(turn.t("birthday-bad"))
        return
    try:
        await turn.uow.write(loyalty.set_birthday, clock=turn.clock, customer_id=turn.who.id, birthday=value)
    except DomainError:
        await message.answer(turn.t("birthday-bad"))
        return
    await leave(turn)
    text, markup = birthday_saved_message(turn.t, value)
    await message.answer(text, reply_markup=markup)


# ------------------------------------------------------------------ the flow

flow = Flow(
    "loyalty",
    states=LoyaltyStates,
    doc="The balance screen, the history, the invite link and the birthday question.",
    on=[
        on_message(on_balance_command, Command("balance", "points"), when="/balance", goes_to=[END]),
        on_button(on_balance_button, menu.MenuCb.filter(F.action == "balance"), when="presses Balance"),
        on_button(
            on_back_to_balance, LoyCb.filter(F.a == "bal"), when="presses Back or Cancel", goes_to=[END]
        ),
        on_button(on_history, LoyCb.filter(F.a == "hist"), when="presses History"),
        on_button(on_invite, LoyCb.filter(F.a == "inv"), when="presses Invite"),
        on_button(on_birthday, LoyCb.filter(F.a == "bday"), when="presses Birthday", goes_to=[BIRTHDAY]),
        on_message(
            on_birthday_text,
            F.text,
            ~F.text.startswith("/"),
            when="writes the date",
            runs_in=BIRTHDAY,
            goes_to=[END],
        ),
    ],
)
router = flow.router
