"""Imports every model module so `Base.metadata` is complete (Alembic and tests use this).

Each domain keeps its models in its own module; add yours here.
"""

from storage import (  # noqa: F401
    models,
    models_analytics,
    models_faq,
    models_loyalty,
    models_outreach,
    models_support,
)
from storage.models import Base

metadata = Base.metadata
