"""The product's entry point (`supportbot run`) and composition root (runtime.py)."""

from supportbot.lean import defer_aiogram_models

defer_aiogram_models()  # before anything imports aiogram: ~100 MB less per process (see lean.py)
