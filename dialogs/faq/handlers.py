"""FAQ: inline browsing with paging, free-text questions, "did this help?"."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import faq_stats
from core.clock import Clock
from core.customers import CustomerView
from core.faq import FaqEntry, FaqLibrary
from dialogs import menu
from dialogs.common import show
from dialogs.handoff.flow import human_button
from dialogs.i18n import Translator
from dialogs.menu import MainMenu

router = Router(name=__name__)
router.message.filter(F.chat.type == "private")
router.callback_query.filter(F.message.chat.type == "private")

# This flow's main-menu item (listed by the composition root, supportbot/runtime.py).
MENU_ITEMS = (menu.MenuItem("faq", 10, lambda t, _c: t("menu-faq"), feature_key="feature-faq"),)
PER_PAGE_CATEGORIES = 8
PER_PAGE_QUESTIONS = 6
MAX_QUESTION = 1000


class FaqCb(CallbackData, prefix="fq"):
    a: str  # c = categories page, q = questions of a category, e = an entry
    id: str = ""
    p: int = 0


class FeedbackCb(CallbackData, prefix="fb"):
    q: int
    ok: bool


def _nav(t: Translator, page: int, pages: int, make) -> list[InlineKeyboardButton]:
    row = []
    if page > 0:
        row.append(InlineKeyboardButton(text=t("faq-prev"), callback_data=make(page - 1)))
    if pages > 1:
        row.append(
            InlineKeyboardButton(text=t("faq-page", page=page + 1, pages=pages), callback_data=make(page))
        )
    if page + 1 < pages:
        row.append(InlineKeyboardButton(text=t("faq-next"), callback_data=make(page + 1)))
    return row


def categories_view(t: Translator, faq: FaqLibrary, lang: str, page: int) -> InlineKeyboardMarkup:
    pg = faq.categories_page(lang, page, PER_PAGE_CATEGORIES)
    rows = [
        [InlineKeyboardButton(text=c.label, callback_data=FaqCb(a="q", id=c.id).pack())] for c in pg.items
    ]
    nav = _nav(t, pg.page, pg.pages, lambda p: FaqCb(a="c", p=p).pack())
    if nav:
        rows.append(nav)
    rows.append([menu.back_button(t)])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def questions_view(
    t: Translator, faq: FaqLibrary, lang: str, category: str, page: int
) -> InlineKeyboardMarkup:
    pg = faq.entries_page(lang, category, page, PER_PAGE_QUESTIONS)
    rows = [
        [InlineKeyboardButton(text=e.question[:64], callback_data=FaqCb(a="e", id=e.id).pack())]
        for e in pg.items
    ]
    nav = _nav(t, pg.page, pg.pages, lambda p: FaqCb(a="q", id=category, p=p).pack())
    if nav:
        rows.append(nav)
    rows.append([InlineKeyboardButton(text=t("faq-back-categories"), callback_data=FaqCb(a="c").pack())])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def answer_view(
    t: Translator, entry: FaqEntry, query_id: int, *, back: bool
) -> tuple[str, InlineKeyboardMarkup]:
    rows = [[InlineKeyboardButton(text=b.text, url=b.url)] for b in entry.buttons]
    rows.append(
        [
            InlineKeyboardButton(text=t("faq-yes"), callback_data=FeedbackCb(q=query_id, ok=True).pack()),
            InlineKeyboardButton(text=t("faq-no"), callback_data=FeedbackCb(q=query_id, ok=False).pack()),
        ]
    )
    if back:
        rows.append(
            [
                InlineKeyboardButton(
                    text=t("faq-back-categories"), callback_data=FaqCb(a="q", id=entry.category).pack()
                )
            ]
        )
    text = f"{entry.question}\n\n{entry.answer}\n\n{t('faq-helpful-question')}"
    return text, InlineKeyboardMarkup(inline_keyboard=rows)


@router.message(Command("faq"))
async def on_faq_command(message: Message, t: Translator, faq: FaqLibrary, customer: CustomerView) -> None:
    if not faq.categories(customer.language):
        await message.answer(t("faq-unavailable"))
        return
    await message.answer(t("faq-categories"), reply_markup=categories_view(t, faq, customer.language, 0))


@router.callback_query(menu.MenuCb.filter(F.action == "faq"))
async def on_faq_menu(
    query: CallbackQuery, t: Translator, main_menu: MainMenu, faq: FaqLibrary, customer: CustomerView
) -> None:
    if not faq.categories(customer.language):
        await show(query, t("faq-unavailable"), main_menu.keyboard(t, customer))
        return
    await show(query, t("faq-categories"), categories_view(t, faq, customer.language, 0))


@router.callback_query(FaqCb.filter())
async def on_faq_nav(
    query: CallbackQuery,
    callback_data: FaqCb,
    t: Translator,
    faq: FaqLibrary,
    customer: CustomerView,
    db: async_sessionmaker[AsyncSession],
    clock: Clock,
) -> None:
    lang = customer.language
    if callback_data.a == "c":
        await show(query, t("faq-categories"), categories_view(t, faq, lang, callback_data.p))
        return
    if callback_data.a == "q":
        category = faq.category(lang, callback_data.id)
        if category is None:
            await show(query, t("faq-stale"), categories_view(t, faq, lang, 0))
            return
        if not faq.entries(lang, category.id):
            await show(query, t("faq-category-empty"), categories_view(t, faq, lang, 0))
            return
        await show(
            query,
            t("faq-questions", category=category.label),
            questions_view(t, faq, lang, category.id, callback_data.p),
        )
        return
    entry = faq.entry(lang, callback_data.id)
    if entry is None:
        await show(query, t("faq-stale"), categories_view(t, faq, lang, 0))
        return
    async with db.begin() as session:
        query_id = await faq_stats.record_query(
            session,
            now=clock.now(),
            customer_id=customer.id,
            language=lang,
            text=entry.question,
            result="browse",
            entry_id=entry.id,
            score=None,
        )
    text, markup = answer_view(t, entry, query_id, back=True)
    await show(query, text, markup)


@router.callback_query(FeedbackCb.filter())
async def on_feedback(
    query: CallbackQuery,
    callback_data: FeedbackCb,
    t: Translator,
    main_menu: MainMenu,
    customer: CustomerView,
    db: async_sessionmaker[AsyncSession],
) -> None:
    async with db.begin() as session:
        row = await faq_stats.set_feedback(
            session, query_id=callback_data.q, customer_id=customer.id, helpful=callback_data.ok
        )
    if callback_data.ok or row is None:
        await show(query, t("faq-glad"), main_menu.keyboard(t, customer))
        return
    markup = InlineKeyboardMarkup(
        inline_keyboard=[[human_button(t, "faq_no", callback_data.q)], [menu.back_button(t)]]
    )
    await show(query, t("faq-sorry"), markup)


@router.message(F.text, ~F.text.startswith("/"), F.text.len() <= MAX_QUESTION)
async def on_question(
    message: Message,
    t: Translator,
    faq: FaqLibrary,
    customer: CustomerView,
    db: async_sessionmaker[AsyncSession],
    clock: Clock,
) -> None:
    """Free text outside a case: answer it from the FAQ, suggest, or offer a person."""
    text = message.text or ""
    lang = customer.language
    match = faq.search(lang, text)
    best = match.best if match.kind == "answer" else None
    async with db.begin() as session:
        query_id = await faq_stats.record_query(
            session,
            now=clock.now(),
            customer_id=customer.id,
            language=lang,
            text=text,
            result=match.kind,
            entry_id=(match.best.id if match.best else None),
            score=match.score if match.best else None,
        )
    if best is not None:
        answer, markup = answer_view(t, best, query_id, back=False)
        await message.answer(answer, reply_markup=markup)
        return
    if match.kind == "suggest":
        rows = [
            [
                InlineKeyboardButton(
                    text=c.entry.question[:64], callback_data=FaqCb(a="e", id=c.entry.id).pack()
                )
            ]
            for c in match.candidates[:3]
        ]
        rows.append([human_button(t, "faq_none", query_id)])
        await message.answer(t("faq-suggest"), reply_markup=InlineKeyboardMarkup(inline_keyboard=rows))
        return
    markup = InlineKeyboardMarkup(
        inline_keyboard=[[human_button(t, "faq_none", query_id)], [menu.back_button(t)]]
    )
    await message.answer(t("faq-none"), reply_markup=markup)
