"""In-memory world of the sandbox: bot, users, chats, messages, topics, files, callback
queries, the update queue, webhook settings, call and violation logs, and an event bus.

Everything runs on one asyncio loop; no locking. Messages are indexed by (chat_id, message_id).
Rendering to Telegram JSON (``render_*``) omits absent fields like the real Bot API.

`SandboxState` is built in layers, one idea a module, each extending the one below:
`model` (the records), `core` (lifecycle, events, update queue, logs), `chats` (users, chats,
members), `messages` (messages and files), `actions` (what users do via the control API).
"""

from __future__ import annotations

from .actions import UserActions
from .model import (
    DEFAULT_UPDATES_EXCLUDED,
    PLACEHOLDER_PNG,
    CallbackQuery,
    Chat,
    FileRecord,
    Member,
    Message,
    Topic,
    Update,
    User,
    WebhookSettings,
)

__all__ = [
    "SandboxState",
    "User",
    "Chat",
    "Member",
    "Message",
    "Topic",
    "FileRecord",
    "CallbackQuery",
    "Update",
    "WebhookSettings",
    "DEFAULT_UPDATES_EXCLUDED",
    "PLACEHOLDER_PNG",
]


class SandboxState(UserActions):
    """The simulated Telegram world for one bot."""
