"""Workers' context lives in dialogs (flows use it too); re-exported here for bot modules."""

from dialogs.context import BotContext

__all__ = ["BotContext"]
