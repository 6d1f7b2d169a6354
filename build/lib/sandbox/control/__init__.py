"""Control API under ``/sandbox/...`` (JSON, no token) for tests and the web page.

Success answers are the JSON object itself; errors are ``{"error": "..."}`` with a 4xx status.

- ``api``: ``ControlApi`` (its route table) made of the handler groups ``bot``, ``users``,
  ``chats`` and ``logs``;
- ``common``: JSON in and out, argument parsing, the error middleware (``control_errors``).
"""

from __future__ import annotations

from .api import ControlApi
from .common import control_errors, ok

__all__ = ["ControlApi", "control_errors", "ok"]
