"""inbox: chat leases, so several processes handle one chat's updates one at a time, in order

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 03:15:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.types

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'inbox_leases',
        sa.Column('chat_key', sa.String(length=32), nullable=False),
        sa.Column('owner', sa.String(length=64), nullable=False),
        sa.Column('lease_until', storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('chat_key'),
    )


def downgrade() -> None:
    op.drop_table('inbox_leases')
