"""NPS survey: 0-10, why, thanks and the follow-up that fits the score."""

from dialogs.nps.handlers import router

__all__ = ["router"]
