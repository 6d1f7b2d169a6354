"""Buttons on campaign messages: one tap answers (and, for win-back, opens the exit interview)."""

from dialogs.outreach.handlers import router

__all__ = ["router"]
