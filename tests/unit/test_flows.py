"""The flow shape (dialogs/flow.py): declarations are checked, waits are typed and expire,
callbacks cannot go where their declaration does not say, and docs/FLOWS.md is what the code
declares."""

from __future__ import annotations

import importlib.util
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.fsm.storage.base import StorageKey
from aiogram.fsm.storage.memory import MemoryStorage
from pydantic import BaseModel

from core.clock import FrozenClock
from dialogs.flow import END, Flow, FlowError, Turn, Wait, leave, on_button, on_message

ROOT = Path(__file__).resolve().parents[2]


class Ask(StatesGroup):
    answer = State()
    other = State()


class AnswerData(BaseModel):
    question: int


ANSWER = Wait(Ask.answer, AnswerData, ttl=timedelta(hours=1))


def make_turn(clock: FrozenClock) -> Turn:
    state = FSMContext(storage=MemoryStorage(), key=StorageKey(bot_id=1, chat_id=7, user_id=7))
    ctx = SimpleNamespace(clock=clock)
    return Turn(ctx=cast(Any, ctx), customer=None, t=cast(Any, None), state=state, uow=cast(Any, None))


async def noop(event: Any, turn: Turn) -> None:
    return None


def test_a_state_nobody_enters_or_nothing_handles_is_refused() -> None:
    with pytest.raises(FlowError, match="no callback goes to 'Ask:other'"):
        Flow(
            "t1",
            states=Ask,
            on=[
                on_button(noop, when="asks", goes_to=[ANSWER]),
                on_message(noop, when="answers", runs_in=ANSWER, goes_to=[END]),
            ],
        )
    other = Wait(Ask.other, AnswerData, ttl=None)
    with pytest.raises(FlowError, match="nothing runs in 'Ask:other'"):
        Flow(
            "t2",
            states=Ask,
            on=[
                on_button(noop, when="asks", goes_to=[ANSWER, other]),
                on_message(noop, when="answers", runs_in=ANSWER, goes_to=[END]),
            ],
        )


async def test_a_wait_keeps_typed_data_until_its_time_to_live() -> None:
    clock = FrozenClock()
    turn = make_turn(clock)
    turn.may_enter = frozenset({"Ask:answer"})
    turn.running = "asks"
    await ANSWER.enter(turn, AnswerData(question=42))
    assert await turn.fsm.get_state() == "Ask:answer"
    clock.advance(minutes=59)
    assert await ANSWER.read(turn) == AnswerData(question=42)
    clock.advance(minutes=1)
    assert await ANSWER.read(turn) is None  # over: the next message is something new
    assert await turn.fsm.get_state() is None


async def test_a_wait_whose_data_does_not_parse_is_over() -> None:
    turn = make_turn(FrozenClock())
    await turn.fsm.set_state(Ask.answer)
    await turn.fsm.set_data({"question": "not a number", "since": "2026-01-15T12:00:00+00:00"})
    assert await ANSWER.read(turn) is None
    assert await turn.fsm.get_state() is None  # the chat no longer waits on data it cannot read
    await turn.fsm.set_state(Ask.answer)
    await turn.fsm.set_data({"question": 3})  # no `since`: written by something else
    assert await ANSWER.read(turn) is None
    assert await turn.fsm.get_state() is None


async def test_a_wait_with_no_time_to_live_reads_data_written_before_it_had_a_wait() -> None:
    turn = make_turn(FrozenClock())
    await turn.fsm.set_state(Ask.answer)
    await turn.fsm.set_data({"question": 3})  # as `update_data` left it, with no `since`
    assert await Wait(Ask.answer, AnswerData, ttl=None).read(turn) == AnswerData(question=3)


async def test_going_where_the_declaration_does_not_say_raises() -> None:
    turn = make_turn(FrozenClock())
    turn.running, turn.may_enter = "on_x", frozenset()
    with pytest.raises(FlowError, match="on_x went to 'Ask:answer'"):
        await ANSWER.enter(turn, AnswerData(question=1))
    with pytest.raises(FlowError, match="on_x went to 'end'"):
        await leave(turn)


def test_docs_flows_md_is_what_the_code_declares() -> None:
    spec = importlib.util.spec_from_file_location("flows_script", ROOT / "scripts" / "flows.py")
    assert spec and spec.loader
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert (ROOT / "docs" / "FLOWS.md").read_text() == script.render(), (
        "docs/FLOWS.md is out of date: run .venv/bin/python scripts/flows.py"
    )
    names = [flow.name for _, flow in script.flows()]
    assert "nps" in names
