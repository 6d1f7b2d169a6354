"""Loyalty: the balance screen, history, invite link, birthday; staff card section (card.py)."""

from dialogs.loyalty.handlers import router

__all__ = ["router"]
