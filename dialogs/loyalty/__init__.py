"""Loyalty: the balance screen, history, invite link, birthday; staff card section."""

from dialogs.loyalty import card as _card  # noqa: F401  (registers the staff card section)
from dialogs.loyalty.handlers import router

__all__ = ["router"]
