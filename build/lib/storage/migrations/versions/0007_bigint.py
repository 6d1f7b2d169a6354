"""bigint: points columns are 64-bit (a large order's points overflowed PostgreSQL's integer)

Money columns were BIGINT from the start; points were INTEGER, so on PostgreSQL one order of
2,147,483,648 minor units or more (1 point per unit) failed. SQLite stores every INTEGER in up
to 64 bits, so nothing changes there (the column's declared type is only an affinity).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 03:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

COLUMNS = (
    ('orders', 'points_earned'),
    ('order_refunds', 'points_reversed'),
    ('loyalty_ledger', 'points'),
)


def upgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        return  # INTEGER is already 64-bit; recreating the tables would gain nothing
    for table, column in COLUMNS:
        op.alter_column(table, column, type_=sa.BigInteger(), existing_type=sa.Integer())


def downgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        return
    for table, column in COLUMNS:
        op.alter_column(table, column, type_=sa.Integer(), existing_type=sa.BigInteger())
