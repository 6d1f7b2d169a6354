"""Async client for the sandbox control API (used by end-to-end tests).

async with SandboxClient(server.base_url) as sb:
    user = await sb.create_user(first_name="Ann")
    await sb.send_text(user["id"], "/start")
    reply = await sb.wait_for_bot_message(user["id"], after_message_id=0)
    await sb.press_button(user["id"], "Yes")

- ``api``: ``SandboxClient``, made of ``world``, ``staff`` (on ``actions``, on ``inspection``)
  and ``settings``;
- ``transport``: one request to the control API; ``SandboxControlError``, ``SandboxTimeout``.
"""

from __future__ import annotations

from .api import SandboxClient
from .transport import SandboxControlError, SandboxTimeout

__all__ = ["SandboxClient", "SandboxControlError", "SandboxTimeout"]
