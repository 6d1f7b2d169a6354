"""Button presses are answered at once, whatever is queued in the chat.

Updates of one chat are handled in order, and a reply to a private chat may go out about once a
second, so a press that arrives behind twenty messages would reach its handler twenty seconds
later; Telegram refuses an `answerCallbackQuery` after about 15 seconds ("query is too old")
and the person's button keeps spinning. So the inbox tells `CallbackAnswers` about every press
when it is received:

- if the press must wait behind other updates of its chat (or replays after a restart), it is
  answered right away, without text, and the handler's own answer later is skipped;
- otherwise the handler answers it as usual (with its toast or alert); should the handler not
  have answered within `grace` seconds (slow, or stuck behind a busy sender), the watchdog
  answers it then.

`AnswerCallbackMiddleware` sits in the bot's request chain and turns a second answer to the same
press into a no-op (`True`), so handlers never fail on "query is too old" for a press that was
already answered. Answers are never paced by the flood gate (they produce no message).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from aiogram import Bot
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.exceptions import TelegramAPIError
from aiogram.methods import AnswerCallbackQuery, TelegramMethod
from aiogram.methods.base import TelegramType

log = logging.getLogger(__name__)

REMEMBER = 10_000  # answered query ids kept (a query is useless after ~15 s anyway)


class CallbackAnswers:
    def __init__(self, *, grace: float = 3.0, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.grace = grace
        self._now = monotonic
        self._answered: OrderedDict[str, None] = OrderedDict()
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._own: set[str] = set()  # answers the watchdog is sending itself
        self.bot: Bot | None = None
        self.early = 0  # answered by us before the handler ran
        self.skipped = 0  # handler answers turned into no-ops

    def is_answered(self, query_id: str) -> bool:
        return query_id in self._answered

    def mark_answered(self, query_id: str) -> None:
        self._answered[query_id] = None
        self._answered.move_to_end(query_id)
        while len(self._answered) > REMEMBER:
            self._answered.popitem(last=False)
        timer = self._timers.pop(query_id, None)
        if timer is not None:
            timer.cancel()

    def received(self, query_id: str, *, queued_behind: int, replay: bool) -> None:
        """A press was stored; `queued_behind`: updates of the same chat ahead of it."""
        if self.bot is None or query_id in self._answered:
            return
        if queued_behind or replay:
            self.answer_now(query_id)
            return
        loop = asyncio.get_running_loop()
        self._timers[query_id] = loop.call_later(self.grace, self.answer_now, query_id)

    def answer_now(self, query_id: str) -> None:
        """Answer the press without text, in the background (never blocks the caller)."""
        self._timers.pop(query_id, None)
        if self.bot is None or query_id in self._answered:
            return
        self.mark_answered(query_id)
        self._own.add(query_id)
        self.early += 1
        task = asyncio.get_running_loop().create_task(self._answer(query_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _answer(self, query_id: str) -> None:
        assert self.bot is not None
        with contextlib.suppress(TelegramAPIError):
            await self.bot(AnswerCallbackQuery(callback_query_id=query_id))

    async def close(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        await asyncio.gather(*self._tasks, return_exceptions=True)


class AnswerCallbackMiddleware(BaseRequestMiddleware):
    """A press is answered once: a second `answerCallbackQuery` for it returns True unsent."""

    def __init__(self, answers: CallbackAnswers) -> None:
        self.answers = answers

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Any:
        answer = method if isinstance(method, AnswerCallbackQuery) else None  # `method` stays generic
        if answer is None:
            return await make_request(bot, method)
        query_id = answer.callback_query_id
        if query_id in self.answers._own:
            self.answers._own.discard(query_id)
            return await make_request(bot, method)
        if self.answers.is_answered(query_id):
            self.answers.skipped += 1
            return True
        self.answers.mark_answered(query_id)
        return await make_request(bot, method)
