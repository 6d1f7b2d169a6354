"""FAQ: inline browsing with paging, free-text questions, "did this help?"."""

from __future__ import annotations

from collections.abc import Callable

from aiogram import F
from aiogram.filters import Command
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

from core import faq_stats
from core.faq import FaqEntry, FaqLibrary
from dialogs import menu
from dialogs.common import show
from dialogs.flow import Flow, FlowError, Turn, on_button, on_message
from dialogs.handoff.flow import human_button
from dialogs.i18n import Translator
from dialogs.menu import MainMenu

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


def library(turn: Turn) -> FaqLibrary:
    """The FAQ (the composition root always gives one to the dispatcher)."""
    if turn.faq is None:
        raise FlowError(f"{turn.running}: no FAQ library in this dispatcher")
    return turn.faq


def main_menu(turn: Turn) -> MainMenu:
    if turn.main_menu is None:
        raise FlowError(f"{turn.running}: no main menu in this dispatcher")
    return turn.main_menu


# ------------------------------------------------------------------ renderers


def _nav(t: Translator, page: int, pages: int, make: Callable[[int], str]) -> list[InlineKeyboardButton]:
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


def suggestions_view(t: Translator, asked: faq_stats.Asked) -> InlineKeyboardMarkup:
    """Up to three entries that might fit, then a person."""
    rows = [
        [InlineKeyboardButton(text=c.entry.question[:64], callback_data=FaqCb(a="e", id=c.entry.id).pack())]
        for c in asked.match.candidates[:3]
    ]
    rows.append([human_button(t, "faq_none", asked.query_id)])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def nothing_view(t: Translator, query_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[[human_button(t, "faq_none", query_id)], [menu.back_button(t)]]
    )


def sorry_view(t: Translator, query_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[[human_button(t, "faq_no", query_id)], [menu.back_button(t)]]
    )


# ------------------------------------------------------------------ callbacks


async def on_faq_command(message: Message, turn: Turn) -> None:
    faq, t, lang = library(turn), turn.t, turn.who.language
    if not faq.categories(lang):
        await message.answer(t("faq-unavailable"))
        return
    await message.answer(t("faq-categories"), reply_markup=categories_view(t, faq, lang, 0))


async def on_faq_menu(query: CallbackQuery, turn: Turn) -> None:
    faq, t, lang = library(turn), turn.t, turn.who.language
    if not faq.categories(lang):
        await show(query, t("faq-unavailable"), main_menu(turn).keyboard(t, turn.who))
        return
    await show(query, t("faq-categories"), categories_view(t, faq, lang, 0))


async def on_faq_nav(query: CallbackQuery, callback_data: FaqCb, turn: Turn) -> None:
    """A categories page, a category's questions, or an entry (logged as browsed)."""
    faq, t, lang = library(turn), turn.t, turn.who.language
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
    browsed = await turn.uow.write(
        faq_stats.browse,
        library=faq,
        now=turn.clock.now(),
        customer_id=turn.who.id,
        language=lang,
        entry_id=callback_data.id,
    )
    if browsed is None:
        await show(query, t("faq-stale"), categories_view(t, faq, lang, 0))
        return
    await show(query, *answer_view(t, browsed.entry, browsed.query_id, back=True))


async def on_feedback(query: CallbackQuery, callback_data: FeedbackCb, turn: Turn) -> None:
    """ "Did this help?": glad and the menu, or sorry with a person to talk to."""
    asked = await turn.uow.write(
        faq_stats.set_feedback, query_id=callback_data.q, customer_id=turn.who.id, helpful=callback_data.ok
    )
    if callback_data.ok or asked is None:
        await show(query, turn.t("faq-glad"), main_menu(turn).keyboard(turn.t, turn.who))
        return
    await show(query, turn.t("faq-sorry"), sorry_view(turn.t, callback_data.q))


async def on_question(message: Message, turn: Turn) -> None:
    """Free text outside a case: answer it from the FAQ, suggest, or offer a person."""
    t = turn.t
    asked = await turn.uow.write(
        faq_stats.ask,
        library=library(turn),
        now=turn.clock.now(),
        customer_id=turn.who.id,
        language=turn.who.language,
        text=message.text or "",
    )
    match = asked.match
    if match.kind == "answer" and match.best is not None:
        answer, markup = answer_view(t, match.best, asked.query_id, back=False)
        await message.answer(answer, reply_markup=markup)
        return
    if match.kind == "suggest":
        await message.answer(t("faq-suggest"), reply_markup=suggestions_view(t, asked))
        return
    await message.answer(t("faq-none"), reply_markup=nothing_view(t, asked.query_id))


# ------------------------------------------------------------------ the flow

flow = Flow(
    "faq",
    doc="The FAQ: categories and entries browsed with paging, free text answered from it, "
    '"did this help?". No waits: free text outside any case or wait reaches it last.',
    on=[
        on_message(on_faq_command, Command("faq"), when="sends /faq"),
        on_button(on_faq_menu, menu.MenuCb.filter(F.action == "faq"), when="presses FAQ in the menu"),
        on_button(on_faq_nav, FaqCb.filter(), when="pages categories, opens a category or an entry"),
        on_button(on_feedback, FeedbackCb.filter(), when="answers did this help?"),
        on_message(
            on_question,
            F.text,
            ~F.text.startswith("/"),
            F.text.len() <= MAX_QUESTION,
            when="writes a question",
        ),
    ],
)
router = flow.router
