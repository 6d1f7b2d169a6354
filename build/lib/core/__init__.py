"""Business rules shared by the bot and the HTTP API (imports neither aiogram nor FastAPI)."""
