"""The one shape every flow has: a small typed equivalent of aiogram-dialog.

A flow module reads top to bottom in the same order, as an aiogram-dialog module does:

1. **states**: an aiogram `StatesGroup`, and for each state the flow waits in, a `Wait` that
   names the typed data kept there (a pydantic model, never a dict with magic keys) and how long
   the wait lasts;
2. **renderers** (aiogram-dialog's getters): plain functions from a use case's result to text
   and keyboard;
3. **callbacks**: `async def on_x(event, [callback_data,] turn)`. A callback reads its input,
   calls one core use case through `turn.uow`, renders the result;
4. **the flow, declared last**: `flow = Flow("nps", on=[...])` lists every callback with its
   trigger, the state it runs in and the states it may go to. `router = flow.router` is what
   bot/factory.py includes.

Why not aiogram-dialog itself: its windows live in one message that it edits, keep a stack in
the FSM and start flows from a `DialogManager`. This product's messages are mostly new messages
(a survey sent by the delivery worker from a queue row, a staff reply, a campaign step), its
buttons carry ids in their callback data so a press on a week-old message still works after a
restart or on another process, and its e2e tests pin those messages. The parts of aiogram-dialog
that matter here are its shape (states, getters, callbacks, the dialog declared last) and its
dependency object (`DialogManager.middleware_data`): `Flow` and `Turn` give exactly that, typed.

A flow a worker starts (aiogram-dialog's `BgManagerFactory`): the worker sends the flow's first
message from a queue row through the flow's renderer (`render_survey`, `render_interview`,
`render_campaign`, listed in bot/delivery_worker.py `RENDERERS`), whose buttons carry the row's
id; the flow's callbacks take it from there, on whichever process gets the press.

The declaration is also the flow's state diagram: `Flow.diagram()` draws it (docs/FLOWS.md is
written from it by scripts/flows.py and a test keeps the two equal), and it cannot drift from
the code: entering a state the running callback did not declare raises `FlowError`.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

from aiogram import F, Router
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from pydantic import BaseModel, ValidationError

from core.customers import CustomerView
from dialogs.i18n import Translator
from storage.uow import UnitOfWork

if TYPE_CHECKING:
    from core.clock import Clock
    from core.customers import CustomerHooks
    from core.faq import FaqLibrary
    from core.rules import Rules
    from core.settings import Settings
    from dialogs.context import BotContext
    from dialogs.menu import MainMenu

END = "end"  # a callback that may end the wait (the FSM slot is cleared)
Observer = Literal["message", "callback_query", "edited_message", "my_chat_member"]
D = TypeVar("D", bound=BaseModel)


class FlowError(RuntimeError):
    """A callback moved the flow somewhere its declaration does not say it may go."""


@dataclass
class Turn:
    """Everything a callback may use while one update is handled: built once per update by
    bot/middlewares.py `TurnMiddleware` from what the composition root gave the dispatcher, the
    customer middleware's reads and aiogram's FSM slot. aiogram injects it as `turn`."""

    ctx: BotContext
    customer: CustomerView | None
    t: Translator
    state: FSMContext | None
    uow: UnitOfWork
    main_menu: MainMenu | None = None
    faq: FaqLibrary | None = None
    customer_hooks: CustomerHooks | None = None
    data: dict[str, Any] = field(default_factory=dict)  # aiogram's handler data as the Turn was built
    # The callback running now and the states it declared (set by `Flow`).
    running: str = ""
    may_enter: frozenset[str] = frozenset()

    @property
    def clock(self) -> Clock:
        return self.ctx.clock

    @property
    def rules(self) -> Rules:
        return self.ctx.rules

    @property
    def settings(self) -> Settings:
        return self.ctx.settings

    @property
    def who(self) -> CustomerView:
        """The customer writing (private chats: the customer middleware always finds or makes one)."""
        if self.customer is None:
            raise FlowError(f"{self.running}: no customer in this update (not a private chat?)")
        return self.customer

    @property
    def fsm(self) -> FSMContext:
        if self.state is None:
            raise FlowError(f"{self.running}: this update has no chat to keep a state for")
        return self.state

    def check(self, target: str) -> None:
        if self.running and target not in self.may_enter:
            raise FlowError(
                f"{self.running} went to {target!r}, which its declaration in the flow does not "
                f"list (it may go to: {sorted(self.may_enter) or 'nowhere'})"
            )


class Wait(Generic[D]):
    """A state the flow waits in for the customer's next message, with typed data and a time to
    live: a wait older than `ttl` is over (a later message is probably something new, not the
    answer), and so is one whose stored data no longer parses (written by another version)."""

    def __init__(self, state: State, data: type[D], *, ttl: timedelta | None) -> None:
        self.state = state
        self.model = data
        self.ttl = ttl

    @property
    def name(self) -> str:
        return self.state.state or ""

    async def enter(self, turn: Turn, data: D) -> None:
        turn.check(self.name)
        await turn.fsm.set_state(self.state)
        await turn.fsm.set_data({**data.model_dump(mode="json"), "since": turn.clock.now().isoformat()})

    async def read(self, turn: Turn) -> D | None:
        """The wait's data, or None (and the slot cleared) when it is over or unreadable."""
        raw = await turn.fsm.get_data()
        try:
            # A wait with no time to live needs no start (one written before it had a `Wait`).
            since = datetime.fromisoformat(str(raw.get("since"))) if self.ttl is not None else None
            data = self.model.model_validate(raw)
        except (ValueError, ValidationError):
            await turn.fsm.clear()
            return None
        if self.ttl is not None and since is not None and turn.clock.now() - since >= self.ttl:
            await turn.fsm.clear()
            return None
        return data


async def leave(turn: Turn) -> None:
    """End whatever wait the chat is in."""
    turn.check(END)
    await turn.fsm.clear()


@dataclass(frozen=True)
class On:
    """One callback of a flow: what triggers it, where it runs, where it may go."""

    observer: Observer
    callback: Callable[..., Awaitable[Any]]
    filters: tuple[Any, ...] = ()
    when: str = ""  # what the person did, for the diagram ("presses a score")
    runs_in: State | None = None  # only while the chat waits in this state
    goes_to: tuple[State | str, ...] = ()  # states it may enter; END: it may end the wait

    @property
    def name(self) -> str:
        return self.callback.__name__


def on_message(
    callback: Callable[..., Awaitable[Any]],
    *filters: Any,
    when: str,
    runs_in: Wait[Any] | None = None,
    goes_to: Sequence[Wait[Any] | str] = (),
) -> On:
    return On("message", callback, filters, when, _state(runs_in), _targets(goes_to))


def on_button(
    callback: Callable[..., Awaitable[Any]],
    *filters: Any,
    when: str,
    runs_in: Wait[Any] | None = None,
    goes_to: Sequence[Wait[Any] | str] = (),
) -> On:
    return On("callback_query", callback, filters, when, _state(runs_in), _targets(goes_to))


def on_edit(
    callback: Callable[..., Awaitable[Any]], *filters: Any, when: str, goes_to: Sequence[Wait[Any] | str] = ()
) -> On:
    return On("edited_message", callback, filters, when, None, _targets(goes_to))


def on_membership(
    callback: Callable[..., Awaitable[Any]], *filters: Any, when: str, goes_to: Sequence[Wait[Any] | str] = ()
) -> On:
    """The bot blocked or unblocked in a chat (`my_chat_member`)."""
    return On("my_chat_member", callback, filters, when, None, _targets(goes_to))


def _state(wait: Wait[Any] | None) -> State | None:
    return wait.state if wait is not None else None


def _targets(goes_to: Sequence[Wait[Any] | str]) -> tuple[State | str, ...]:
    return tuple(g.state if isinstance(g, Wait) else g for g in goes_to)


def _name(target: State | str) -> str:
    return (target.state or "") if isinstance(target, State) else target


class Flow:
    """A flow declared: its callbacks in the order aiogram tries them, and the router that
    registers them. `chats`: "private" (customers; the default), "group" (staff groups) or
    None (each callback's own filters decide)."""

    def __init__(
        self,
        name: str,
        *,
        on: Sequence[On],
        states: type[StatesGroup] | None = None,
        chats: Literal["private", "group"] | None = "private",
        doc: str = "",
    ) -> None:
        self.name = name
        self.on = tuple(on)
        self.states = states
        self.doc = doc
        self.router = Router(name=name)
        if chats == "private":
            self.router.message.filter(F.chat.type == "private")
            self.router.callback_query.filter(F.message.chat.type == "private")
        elif chats == "group":
            self.router.message.filter(F.chat.type.in_({"group", "supergroup"}))
            self.router.callback_query.filter(F.message.chat.type.in_({"group", "supergroup"}))
        for item in self.on:
            filters = (item.runs_in, *item.filters) if item.runs_in is not None else item.filters
            getattr(self.router, item.observer).register(_bind(item), *filters)
        self._validate()

    def _validate(self) -> None:
        names = {s.state for s in self.states.__all_states__} if self.states else set()
        for item in self.on:
            for target in (*item.goes_to, *([item.runs_in] if item.runs_in else [])):
                if _name(target) != END and _name(target) not in names:
                    raise FlowError(f"{self.name}.{item.name}: {_name(target)!r} is not a state of this flow")
        entered = {_name(t) for item in self.on for t in item.goes_to}
        handled = {item.runs_in.state for item in self.on if item.runs_in is not None}
        for state in names:
            if state not in entered:
                raise FlowError(f"{self.name}: no callback goes to {state!r}")
            if state not in handled:
                raise FlowError(f"{self.name}: nothing runs in {state!r}: the customer would be stuck")

    def diagram(self) -> str:
        """The flow as a mermaid state diagram (docs/FLOWS.md): `[*]` is 'not waiting'."""

        def node(target: State | str | None) -> str:
            if target is None or target == END:
                return "[*]"
            return _name(target).split(":", 1)[-1]

        lines = ["stateDiagram-v2"]
        for item in self.on:
            source = node(item.runs_in)
            targets = [node(t) for t in item.goes_to] or [source]
            for target in dict.fromkeys(targets):
                lines.append(f"    {source} --> {target}: {item.when} ({item.name})")
        return "\n".join(lines)


def _bind(item: On) -> Callable[..., Awaitable[Any]]:
    """The callback as aiogram calls it: with the `Turn` told which callback runs, and only the
    arguments the callback names (`turn`, `callback_data`, ...)."""
    params = list(inspect.signature(item.callback).parameters.values())[1:]
    required = [p.name for p in params if p.default is inspect.Parameter.empty]
    optional = [p.name for p in params if p.default is not inspect.Parameter.empty]
    may_enter = frozenset(_name(t) for t in item.goes_to)

    async def run(event: Any, **data: Any) -> Any:
        turn: Turn = data["turn"]
        turn.running, turn.may_enter = item.name, may_enter
        kwargs = {name: data[name] for name in required}
        kwargs.update({name: data[name] for name in optional if name in data})
        return await item.callback(event, **kwargs)

    run.__name__ = run.__qualname__ = item.name
    run.__doc__ = item.callback.__doc__
    return run
