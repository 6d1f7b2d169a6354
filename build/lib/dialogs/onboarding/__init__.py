"""Onboarding: /start with the welcome and main menu, language, notifications, privacy."""

from dialogs.onboarding.handlers import router

__all__ = ["router"]
