"""Persistence: engine/session setup, typed models, repositories returning plain data, migrations."""
