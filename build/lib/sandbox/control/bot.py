"""Control handlers for the double itself: its summary, a reset, the bot, flood and fault settings."""

from __future__ import annotations

import json

from aiohttp import web

from ..errors import ControlError
from .common import ControlBase, _body, ok


class BotHandlers(ControlBase):
    """``/sandbox``, ``/sandbox/reset``, ``/sandbox/bot``, ``/sandbox/settings``."""

    async def summary(self, request: web.Request) -> web.Response:
        st = self.state
        return ok(
            {
                "bot": st.render_bot(full=True),
                "users": len(st.users),
                "chats": len(st.chats),
                "messages": len(st.messages),
                "pending_updates": len(st.updates),
                "webhook": st.webhook.url if st.webhook else None,
                "calls_logged": len(st.call_log),
                "violations": len(st.violations),
                "settings": self._settings(),
            }
        )

    async def reset(self, request: web.Request) -> web.Response:
        self.state.reset()
        self.api.flood.config.__init__(**self.initial_flood)  # type: ignore[misc]
        self.api.flood.reset()
        self.api.flood.hits = 0
        self.api.faults.configure(**self.initial_faults)
        self.api.faults.injected = {"429": 0, "500": 0}
        self.api.response_problems.clear()
        return ok({"reset": True})

    async def get_bot(self, request: web.Request) -> web.Response:
        st = self.state
        return ok(
            {
                **st.render_bot(full=True),
                "token_bound": st.bot.bound,
                "commands": [
                    {"scope": json.loads(k[0]), "language_code": k[1] or None, "commands": v}
                    for k, v in st.commands.items()
                ],
                "descriptions": st.descriptions,
                "short_descriptions": st.short_descriptions,
                "names": st.names,
                "default_menu_button": st.default_menu_button,
            }
        )

    async def set_bot(self, request: web.Request) -> web.Response:
        body = await _body(request)
        st = self.state
        if body.get("token"):
            token = str(body["token"])
            try:
                st.bot.id = int(token.split(":", 1)[0])
            except ValueError:
                raise ControlError(400, "invalid token") from None
            st.bot.token = token
            st.bot.bound = True
        if body.get("username"):
            st.bot.username = str(body["username"])
        if body.get("first_name"):
            st.bot.first_name = str(body["first_name"])
        return ok(st.render_bot(full=True))

    async def settings(self, request: web.Request) -> web.Response:
        return ok(self._settings())

    async def set_flood(self, request: web.Request) -> web.Response:
        body = await _body(request)
        try:
            self.api.flood.configure(**body)
        except ValueError as e:
            raise ControlError(400, str(e)) from None
        return ok(self._settings())

    async def set_faults(self, request: web.Request) -> web.Response:
        body = await _body(request)
        try:
            self.api.faults.configure(**body)
        except ValueError as e:
            raise ControlError(400, str(e)) from None
        return ok(self._settings())
