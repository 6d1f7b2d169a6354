"""The sandbox page in a real browser: the product runs in-process in sandbox mode (no token),
Playwright drives Debian's Chromium through the page, and we assert what a person sees.

Screenshots of every step go to test-artifacts/browser/ (gitignored).
Needs the `playwright` Python package (dev extra) and Chromium at /usr/bin/chromium
(`apt-get install -y chromium`; set CHROMIUM_PATH to use another binary). Browsers are never
downloaded: without Chromium these tests skip and say why.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.settings import Settings
from supportbot.runtime import Runtime

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "browser"
CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def png(size: int = 48, rgb: tuple[int, int, int] = (51, 144, 236)) -> bytes:
    """A small solid-colour PNG for the photo steps."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + bytes(rgb) * size for _ in range(size))
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


playwright_api = pytest.importorskip(
    "playwright.async_api", reason="the playwright package is not installed (pip install -e '.[dev]')"
)
if not Path(CHROMIUM).exists():
    pytest.skip(
        f"no Chromium at {CHROMIUM}: `apt-get install -y chromium` (or set CHROMIUM_PATH); "
        "browsers are not downloaded by these tests",
        allow_module_level=True,
    )

expect = playwright_api.expect
expect.set_options(timeout=10_000)  # a loaded CI machine is slower than a laptop


@pytest.fixture
async def product(tmp_path: Path) -> AsyncIterator[Runtime]:
    """`supportbot run` with no BOT_TOKEN, in-process: the embedded sandbox serves the page."""
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        bot_token=None,
        telegram_api_url=None,
        support_chat_id=None,
        webhook_url=None,
        database_url=f"sqlite+aiosqlite:///{tmp_path}/browser.sqlite3",
        api_port=0,
        sandbox_port=0,
        polling_timeout=1,
        engagement_poll_seconds=0.5,
        # Campaign sends wait out quiet hours (21:00-09:00 by default): off, so the win-back
        # test does not depend on the hour it runs at.
        outreach_quiet_hours="off",
    )
    runtime = Runtime(settings)
    await runtime.start()
    yield runtime
    await runtime.stop()


class Page:
    """The page under test, with its two chats and a screenshot helper."""

    def __init__(self, page: Any, name: str) -> None:
        self.page = page
        self.customer = page.locator("#customer-messages")
        self.staff = page.locator("#staff-messages")
        self.name = name
        self.shots = 0
        self.errors: list[str] = []
        page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))
        page.on("console", self._console)
        page.on("dialog", lambda d: d.accept())  # confirm() before deleting, blocking...
        for old in ARTIFACTS.glob(f"{name}-*.png"):
            old.unlink()

    def _console(self, message: Any) -> None:
        if message.type == "error":
            self.errors.append(f"console: {message.text}")

    async def shot(self, step: str) -> None:
        self.shots += 1
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        await self.page.screenshot(path=str(ARTIFACTS / f"{self.name}-{self.shots:02d}-{step}.png"))

    async def press(self, text: str) -> None:
        """Press the newest inline button with this text in the customer's chat."""
        await self.customer.get_by_role("button", name=text, exact=True).last.click()


@pytest.fixture
async def browser(tmp_path: Path) -> AsyncIterator[Any]:
    async with playwright_api.async_playwright() as p:
        context = await p.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),  # a fresh user-data-dir
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1440, "height": 900},
        )
        context.set_default_timeout(10_000)
        try:
            yield context
        finally:
            await context.close()


async def open_page(browser: Any, product: Runtime, name: str) -> Page:
    page = Page(await browser.new_page(), name)
    await page.page.goto(product.sandbox.base_url + "/")
    await expect(page.page.locator("body[data-ready='1']")).to_be_attached()
    await expect(page.page.locator("#live")).to_have_text("live")
    return page


async def sandbox_violations(product: Runtime) -> list[Any]:
    async with httpx.AsyncClient(base_url=product.sandbox.base_url) as http:
        return (await http.get("/sandbox/violations")).json()  # type: ignore[no-any-return]


async def test_support_flow_faq_person_staff_reply_close_csat(browser: Any, product: Runtime) -> None:
    p = await open_page(browser, product, "support")
    page, customer, staff = p.page, p.customer, p.staff

    # The runtime made two customers; the first is selected, its chat is empty: Telegram's START.
    personas = page.get_by_test_id("persona")
    await expect(personas).to_have_count(2)
    await expect(personas.first).to_have_attribute("aria-current", "true")
    await expect(page.locator("#customer-title")).to_have_text("Anna Smith")
    await p.shot("empty-chat")
    await customer.get_by_role("button", name="START", exact=True).click()
    await expect(customer.get_by_text("Hi, Anna!")).to_be_visible()
    await expect(customer.get_by_test_id("message").first).to_contain_text("/start")
    await p.shot("welcome")

    # FAQ: the menu message is edited in place (same bubble, marked "edited"), not re-sent.
    bubbles_before = await customer.get_by_test_id("message").count()
    await p.press("❓ Questions & answers")
    await expect(customer.get_by_text("Pick a topic:")).to_be_visible()
    await expect(customer.get_by_text("Hi, Anna!")).to_have_count(0)
    assert await customer.get_by_test_id("message").count() == bubbles_before
    await expect(customer.locator(".msg", has_text="Pick a topic:").locator(".edited")).to_have_text("edited")
    await p.press("🚚 Delivery")
    await p.press("How long does delivery take?")
    await expect(customer.get_by_text("Did this answer help?")).to_be_visible()
    await p.shot("faq-answer")

    # Not helpful -> a person. The staff group gets a topic for Anna with her card.
    await p.press("👎 No")
    await expect(customer.get_by_text("Would you like to talk to a person?")).to_be_visible()
    await p.press("💬 Talk to a person")
    await expect(customer.get_by_text("Request #1 is open")).to_be_visible()
    topic = page.get_by_test_id("topic").filter(has_text="Anna Smith")
    await expect(topic).to_have_count(1)
    await expect(topic).to_have_attribute("aria-current", "true")  # follows the selected customer
    await expect(staff.get_by_test_id("service")).to_contain_text("created the topic «Anna Smith")
    card = staff.get_by_test_id("message").filter(has_text="Case #1")
    await expect(card).to_contain_text("How long does delivery take?")
    await expect(card).to_contain_text("the FAQ answer did not help")
    await p.shot("handoff")

    # The customer writes; it lands in her topic, not in General.
    await page.fill("#customer-input", "My parcel 123 is late")
    await page.press("#customer-input", "Enter")
    await expect(staff.get_by_text("My parcel 123 is late")).to_be_visible()
    general = page.get_by_test_id("topic").filter(has_text="General")
    await general.click()
    await expect(staff.get_by_text("My parcel 123 is late")).to_have_count(0)
    await topic.click()

    # Staff reply, a photo, and an internal note that never reaches the customer.
    await page.fill("#staff-input", "Sorry, Anna! It ships today, here is the label")
    await page.click("#staff-send")
    await expect(customer.get_by_text("It ships today, here is the label")).to_be_visible()
    await page.fill("#staff-input", "Label")
    await page.set_input_files(
        "#staff-file", files=[{"name": "label.png", "mimeType": "image/png", "buffer": png()}]
    )
    await expect(customer.locator(".msg.in .photo img")).to_be_visible()
    await expect(customer.locator(".msg.in", has=page.locator(".photo"))).to_contain_text("Label")
    await page.fill("#staff-input", "customer is VIP, be nice")
    await page.click("#staff-note")
    await expect(staff.get_by_text("// customer is VIP, be nice")).to_be_visible()
    await p.shot("staff-reply")

    # /close -> the customer rates the help (CSAT) and comments; staff see the rating.
    await page.locator("#staff-tools").get_by_role("button", name="/close").click()
    await expect(staff.get_by_text("Case #1 closed by Alex (support)")).to_be_visible()
    await expect(customer.get_by_text("How would you rate our help?")).to_be_visible()
    await p.press("5 ⭐")
    await expect(customer.get_by_text("Anything to add?")).to_be_visible()
    await page.fill("#customer-input", "Fast and friendly")
    await page.press("#customer-input", "Enter")
    await expect(customer.get_by_text("Thank you for your feedback")).to_be_visible()
    await expect(staff.get_by_text("rated case #1: 5/5")).to_be_visible()
    await expect(customer.get_by_text("customer is VIP")).to_have_count(0)
    await p.shot("csat")

    # The backend side of the same customer (the README's screenshot).
    await page.get_by_role("tab", name="Backend API").click()
    await expect(page.get_by_test_id("customer-status")).to_contain_text("customer #1")
    await p.shot("backend")

    assert await sandbox_violations(product) == []
    assert p.errors == []


async def test_nps_survey_triggered_through_the_api_panel(browser: Any, product: Runtime) -> None:
    paths = product.app.openapi()["paths"]
    if "post" not in paths.get("/v1/surveys/nps", {}):
        pytest.skip("the product has no POST /v1/surveys/nps route yet (NPS trigger)")
    p = await open_page(browser, product, "nps")
    page, customer = p.page, p.customer

    await customer.get_by_role("button", name="START", exact=True).click()
    await expect(customer.get_by_text("Hi, Anna!")).to_be_visible()

    # Backend side: the shop knows Anna as crm-anna (PUT customer + link token, opened in the chat).
    await page.get_by_role("tab", name="Backend API").click()
    await expect(page.get_by_test_id("customer-status")).to_contain_text("not linked to your shop")
    link = page.get_by_test_id("link-form")
    await link.get_by_role("textbox").fill("crm-anna")
    await link.get_by_role("button").click()
    await expect(page.get_by_test_id("customer-status")).to_contain_text("crm-anna")
    await expect(customer.get_by_text("Your Telegram account is now linked")).to_be_visible()

    # The NPS form is the real POST /v1/surveys/nps, prefilled with Anna's external id.
    nps = page.get_by_test_id("action-nps")
    await expect(nps).to_have_attribute("data-endpoint", "POST /v1/surveys/nps")
    await expect(nps.locator("input[name=external_ids]")).to_have_value("crm-anna")
    await nps.get_by_role("button", name="Send").click()
    await expect(nps.get_by_test_id("status")).to_contain_text("201")
    await expect(nps.get_by_test_id("result")).to_contain_text('"scheduled": 1')
    await expect(customer.get_by_text("how likely are you to recommend")).to_be_visible()
    await p.shot("survey")

    # Anna answers in the chat: 9 (a promoter), then why.
    await p.press("9")
    await expect(customer.get_by_text("Your score: 9 out of 10")).to_be_visible()
    await page.fill("#customer-input", "Fast delivery")
    await page.press("#customer-input", "Enter")
    await expect(customer.get_by_text("that means a lot to us")).to_be_visible()
    # A URL button is a link that opens in a new tab (no callback query).
    share = customer.get_by_role("link", name=re.compile("Share the link"))
    await expect(share).to_have_attribute("href", re.compile(r"^https://t\.me/"))
    await expect(share).to_have_attribute("target", "_blank")
    await p.shot("answered")

    # The answer is in the product, read back through the same API panel.
    report = page.get_by_test_id("action-nps-report")
    await report.get_by_role("button", name="Get").click()
    await expect(report.get_by_test_id("result")).to_contain_text('"promoters": 1')
    await p.shot("report")

    assert await sandbox_violations(product) == []
    assert p.errors == []


async def test_personas_block_unblock_media_and_deletes(browser: Any, product: Runtime) -> None:
    p = await open_page(browser, product, "personas")
    page, customer = p.page, p.customer

    # A new Russian-speaking customer, created in the page.
    await page.get_by_text("New customer").click()
    form = page.locator("#new-persona")
    await form.get_by_label("First name").fill("Мария")
    await form.get_by_label("Language").select_option("ru")
    await form.get_by_role("button", name="Create").click()
    await expect(page.locator("#customer-title")).to_have_text("Мария")
    await expect(page.get_by_test_id("persona")).to_have_count(3)
    await customer.get_by_role("button", name="START", exact=True).click()
    await expect(customer.get_by_text("Здравствуйте, Мария!")).to_be_visible()

    # A document from the customer renders as a file; a message she deletes disappears.
    await page.set_input_files(
        "#customer-file",
        files=[{"name": "receipt.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4 x"}],
    )
    await expect(customer.locator(".document .doc-name")).to_have_text("receipt.pdf")
    await page.fill("#customer-input", "oops, wrong chat")
    await page.press("#customer-input", "Enter")
    mine = customer.locator(".msg.out", has_text="oops, wrong chat")
    await expect(mine).to_be_visible()
    await mine.hover()
    await mine.get_by_title("Delete").click()  # confirm() is accepted
    await expect(mine).to_have_count(0)
    await p.shot("media")

    # Blocking the bot: Telegram shows no composer, only Unblock / Restart.
    await page.click("#block-btn")
    await expect(page.locator("#customer-blocked")).to_contain_text("You blocked this bot")
    await expect(page.locator("#customer-composer")).to_be_hidden()
    await expect(page.get_by_test_id("persona").filter(has_text="Мария")).to_contain_text("blocked the bot")
    await p.shot("blocked")
    await page.locator("#customer-blocked").get_by_role("button", name="Restart").click()
    await expect(page.locator("#customer-composer")).to_be_visible()
    await expect(customer.get_by_text("Здравствуйте, Мария!")).to_have_count(2)

    # Switching back to Anna shows her (empty) chat; Мария's stays as it was.
    await page.get_by_test_id("persona").filter(has_text="Anna Smith").click()
    await expect(page.locator("#customer-title")).to_have_text("Anna Smith")
    await expect(customer.get_by_text(re.compile("Здравствуйте"))).to_have_count(0)
    await p.shot("switched")

    assert await sandbox_violations(product) == []
    assert p.errors == []


async def test_order_loyalty_and_exit_interview_through_the_api_panel(browser: Any, product: Runtime) -> None:
    paths = product.app.openapi()["paths"]
    missing = [p for p in ("/v1/orders", "/v1/exit-interviews") if "post" not in paths.get(p, {})]
    if missing:
        pytest.skip(f"the product has no POST route for {', '.join(missing)} yet")
    p = await open_page(browser, product, "loyalty-exit")
    page, customer = p.page, p.customer

    await page.get_by_test_id("persona").filter(has_text="Иван").click()
    await customer.get_by_role("button", name="START", exact=True).click()
    await expect(customer.get_by_text("Здравствуйте, Иван!")).to_be_visible()
    await page.get_by_role("tab", name="Backend API").click()
    link = page.get_by_test_id("link-form")
    await link.get_by_role("textbox").fill("crm-ivan")
    await link.get_by_role("button").click()
    await expect(page.get_by_test_id("customer-status")).to_contain_text("crm-ivan")

    # The shop records a purchase; the balance endpoint shows the points.
    order = page.get_by_test_id("action-order")
    await expect(order.locator("input[name=customer_external_id]")).to_have_value("crm-ivan")
    await order.locator("[name=amount]").fill("129.90")
    await order.get_by_role("button", name="Send").click()
    await expect(order.get_by_test_id("status")).to_contain_text("201")
    balance = page.get_by_test_id("action-balance")
    await balance.get_by_role("button", name="Get").click()
    await expect(balance.get_by_test_id("result")).to_contain_text('"orders": 1')
    # ...and Иван sees his points in the bot (the customer side of loyalty).
    await p.press("💎 Мои баллы")
    await expect(customer.get_by_text(re.compile("💎 Ваши баллы: "))).to_be_visible()
    await p.shot("order")

    # The subscription is cancelled: the bot asks why, with one tap.
    exit_form = page.get_by_test_id("action-exit")
    await exit_form.locator("[name=event]").fill("subscription_cancelled")
    await exit_form.get_by_role("button", name="Send").click()
    await expect(exit_form.get_by_test_id("status")).to_contain_text("201")
    await expect(exit_form.get_by_test_id("result")).to_contain_text('"status": "scheduled"')
    await p.shot("exit-requested")
    await expect(customer.get_by_text("вы отменили подписку")).to_be_visible()
    await p.shot("exit-asked")
    await p.press("💸 Слишком дорого")
    await expect(customer.get_by_text("Ваш ответ")).to_be_visible()
    await expect(customer.get_by_text("Не хотим терять вас из-за цены")).to_be_visible()  # the save offer
    await p.shot("exit-answered")

    assert await sandbox_violations(product) == []
    assert p.errors == []


async def test_win_back_campaign_for_a_segment_through_the_api_panel(browser: Any, product: Runtime) -> None:
    paths = product.app.openapi()["paths"]
    campaigns, one = paths.get("/v1/campaigns", {}), paths.get("/v1/campaigns/{campaign_id}", {})
    if "post" not in campaigns or "get" not in one:
        pytest.skip("the product has no POST /v1/campaigns and GET /v1/campaigns/{campaign_id} routes yet")
    p = await open_page(browser, product, "win-back")
    page, customer = p.page, p.customer

    await customer.get_by_role("button", name="START", exact=True).click()
    await expect(customer.get_by_text("Hi, Anna!")).to_be_visible()
    await page.get_by_role("tab", name="Backend API").click()
    link = page.get_by_test_id("link-form")
    await link.get_by_role("textbox").fill("crm-anna")
    await link.get_by_role("button").click()
    await expect(page.get_by_test_id("customer-status")).to_contain_text("crm-anna")
    before = await customer.get_by_test_id("message").count()

    # The win-back playbook for a segment (sandbox defaults: everyone, no holdout, no quiet hours).
    campaign = page.get_by_test_id("action-campaign")
    await expect(campaign).to_have_attribute("data-endpoint", "POST /v1/campaigns")
    await campaign.get_by_role("button", name="Send").click()
    await expect(campaign.get_by_test_id("status")).to_contain_text("201")
    await p.shot("campaign-created")
    await expect(customer.get_by_test_id("message")).to_have_count(before + 1, timeout=15_000)
    await p.shot("win-back-message")

    # Its status, through GET /v1/campaigns/{id} (the id is filled in from the answer above).
    # The worker records the send right after Telegram accepted it: ask again until it shows.
    status = page.get_by_test_id("action-campaign-status")
    for _ in range(50):
        await status.get_by_role("button", name="Get").click()
        await expect(status.get_by_test_id("status")).to_contain_text("200")
        if '"sent": 1' in await status.get_by_test_id("result").inner_text():
            break
        await page.wait_for_timeout(200)
    await expect(status.get_by_test_id("result")).to_contain_text('"sent": 1')
    await p.shot("campaign-status")

    assert await sandbox_violations(product) == []
    assert p.errors == []
