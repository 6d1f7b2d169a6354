"""Exit interview and the feedback menu."""

from dialogs.exit_interview.handlers import router

__all__ = ["router"]
