"""Bot API method implementations on top of :class:`~sandbox.state.SandboxState`.

``BotApi.call(method, params, files)`` runs the whole pipeline for one request:
validation (spec), unsupported check, fault injection and flood limits (sending methods),
the handler, and call/violation logging. It returns ``(http_status, json_body)``.

One family of methods a module, each extending `base.ApiBase` (the pipeline and helpers):
`updates` (identity, getUpdates, webhooks), `sending` (send, copy, forward, edit, delete),
`chats` (callbacks, topics, chats and members, files, bot settings).
"""

from __future__ import annotations

from .base import ApiBase
from .chats import ChatMethods
from .sending import SendingMethods
from .updates import UpdateMethods

__all__ = ["ApiBase", "BotApi"]


class BotApi(UpdateMethods, SendingMethods, ChatMethods):
    """The Bot API double: every `m_<method>` of the families is a handler for <method>."""
