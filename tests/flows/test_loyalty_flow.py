"""Loyalty in-process: /balance for a newcomer, after orders recorded by the backend (tiers),
from the menu button, in Russian with plurals; a backend link through /start <token>."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from babel.dates import format_date

from core import customers, loyalty
from core.loyalty.rules import LoyaltyRules
from tests.flows.harness import Flow, Person
from tests.flows.screens import menu_buttons


async def link(flow: Flow, who: Person, external_id: str) -> None:
    """The backend knows `external_id`; the person opens its one-time link (/start <token>)."""
    async with flow.db.begin() as session:
        await customers.upsert_by_external_id(
            session,
            clock=flow.clock,
            external_id=external_id,
            data=customers.CustomerData(first_name=who.name),
        )
        token, _ = await customers.create_link_token(
            session, clock=flow.clock, external_id=external_id, ttl=timedelta(hours=1)
        )
    await flow.send(who, f"/start {token}")
    t = flow.t(who.lang)
    linked, welcome = flow.messages(who)[-2:]
    assert linked.text == t("link-ok")
    assert welcome.buttons == menu_buttons(t)


async def order(flow: Flow, external_id: str, order_id: str, amount: str) -> int:
    """The backend records a purchase (what POST /v1/orders calls); returns the points credited."""
    async with flow.db.begin() as session:
        result = await loyalty.record_order(
            session,
            clock=flow.clock,
            rules=LoyaltyRules.from_settings(flow.settings),
            customer_external_id=external_id,
            order_id=order_id,
            amount=Decimal(amount),
            currency="USD",
            placed_at=flow.clock.now(),
        )
    return result.points


async def test_newcomer_balance_screen(flow: Flow, anna: Person) -> None:
    en = flow.t("en")
    await flow.send(anna, "/balance")
    shown = flow.last(anna)
    assert shown.text == "\n".join(
        [
            en("balance-points", points=en("points-n", n=0)),
            en("balance-tier", tier=en("tier-never_bought")),
            en("balance-next-first"),
            "",
            en("balance-history-title"),
            en("balance-history-empty"),
            "",
            en("balance-earn-title"),
            en("balance-earn-purchase", points=en("points-n", n=1), unit="$1"),
            en("balance-earn-referral", referrer=en("points-n", n=200), referred=en("points-n", n=100)),
            en("balance-earn-birthday-add", points=en("points-n", n=100)),
        ]
    )
    assert shown.buttons == [en("balance-invite"), en("balance-birthday"), en("menu-back")]


async def test_orders_raise_points_and_tier(flow: Flow, anna: Person) -> None:
    en = flow.t("en")
    await link(flow, anna, "crm-anna")
    assert await order(flow, "crm-anna", "A-1", "129.90") == 129

    await flow.send(anna, "/balance")
    lines = flow.last(anna).text.splitlines()
    assert lines[:3] == [
        en("balance-points", points=en("points-n", n=129)),
        en("balance-tier", tier=en("tier-one_time")),
        en("balance-next-orders", tier=en("tier-regular"), orders=en("more-orders-n", n=1)),
    ]
    expires = format_date((flow.clock.now() + timedelta(days=365)).date(), format="long", locale="en")
    assert lines[3] == en("balance-expiry", points=en("points-n", n=129), date=expires)
    assert (
        en(
            "move-line",
            points="+129",
            what=en("move-earn-order", order="A-1"),
            date=format_date(flow.clock.now().date(), format="MMMM d", locale="en"),
        )
        in lines
    )

    # A second order makes her a regular; the menu button shows the same screen in place.
    await order(flow, "crm-anna", "A-2", "20")
    await flow.send(anna, "/menu")
    menu = flow.last(anna)
    await flow.press(anna, en("menu-balance"))
    screen = flow.last(anna)
    assert screen.message_id == menu.message_id
    assert screen.text.splitlines()[:3] == [
        en("balance-points", points=en("points-n", n=149)),
        en("balance-tier", tier=en("tier-regular")),
        en("balance-next-both", tier=en("tier-pre_vip"), spend="$450.10", orders=en("more-orders-n", n=1)),
    ]


async def test_russian_plurals(flow: Flow, ivan: Person) -> None:
    ru = flow.t("ru")
    await link(flow, ivan, "crm-ivan")
    await order(flow, "crm-ivan", "R-1", "22")
    await flow.send(ivan, "/balance")
    first = flow.last(ivan).text.splitlines()[0]
    assert first == ru("balance-points", points=ru("points-n", n=22)) == "💎 Ваши баллы: 22 балла"


async def test_used_link_is_refused(flow: Flow, anna: Person) -> None:
    en = flow.t("en")
    async with flow.db.begin() as session:
        await customers.upsert_by_external_id(
            session, clock=flow.clock, external_id="crm-42", data=customers.CustomerData(first_name="Ivan")
        )
        token, _ = await customers.create_link_token(
            session, clock=flow.clock, external_id="crm-42", ttl=timedelta(hours=1)
        )
    await flow.send(anna, f"/start {token}")
    assert flow.messages(anna)[0].text == en("link-ok")
    mallory = flow.user("Mallory")
    await flow.send(mallory, f"/start {token}")
    assert flow.messages(mallory)[0].text == en("link-used")


async def test_birthday_is_asked_until_it_reads_and_then_known(flow: Flow, anna: Person) -> None:
    """The birthday wait (LoyaltyStates.birthday): within 3 hours a text that is not a date asks
    again and the date is taken; 'Cancel' ends the wait; after 3 hours a text is something new."""
    en = flow.t("en")
    await flow.send(anna, "/balance")
    await flow.press(anna, en("balance-birthday"))
    assert flow.last(anna).text.startswith(en("birthday-ask", points=en("points-n", n=100)))
    await flow.press(anna, en("birthday-cancel"))
    assert flow.last(anna).buttons == [en("balance-invite"), en("balance-birthday"), en("menu-back")]
    before = len(flow.messages(anna))
    await flow.send(anna, "21.04.1990")  # no wait any more: not taken as the birthday
    assert len(flow.messages(anna)) == before + 1
    assert flow.last(anna).text == en("faq-none")  # free text outside any wait: the FAQ's answer

    await flow.send(anna, "/balance")
    await flow.press(anna, en("balance-birthday"))
    flow.clock.advance(hours=3)
    before = len(flow.messages(anna))
    await flow.send(anna, "someday")  # the question is over: an answer from whoever is next
    assert len(flow.messages(anna)) == before + 1
    assert flow.last(anna).text == en("faq-none")

    await flow.send(anna, "/balance")
    await flow.press(anna, en("balance-birthday"))
    flow.clock.advance(hours=2, minutes=59)
    await flow.send(anna, "someday")
    assert flow.last(anna).text == en("birthday-bad")
    await flow.send(anna, "21.04.1990")
    assert flow.last(anna).text == en("birthday-saved", date="April 21")
    assert flow.last(anna).buttons == [en("menu-back")]

    await flow.press(anna, en("menu-back"))
    await flow.press(anna, en("balance-birthday"))
    assert flow.last(anna).text == en("birthday-known", date="April 21", points=en("points-n", n=100))
