"""analytics: partial covering indexes on counted orders; joins the loyalty and outreach heads

Revision ID: 0005
Revises: 0003, 0004
Create Date: 2026-11-25 16:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = ('0003', '0004')
branch_labels = None
depends_on = None

COUNTED_SQL = "status IN ('completed', 'partially_refunded')"


def upgrade() -> None:
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.create_index(
            'ix_orders_counted_customer',
            ['customer_id', 'placed_at', 'base_amount_minor', 'base_refunded_minor'],
            unique=False,
            sqlite_where=sa.text(COUNTED_SQL),
            postgresql_where=sa.text(COUNTED_SQL),
        )
        batch_op.create_index(
            'ix_orders_counted_placed',
            ['placed_at', 'base_amount_minor', 'base_refunded_minor'],
            unique=False,
            sqlite_where=sa.text(COUNTED_SQL),
            postgresql_where=sa.text(COUNTED_SQL),
        )


def downgrade() -> None:
    with op.batch_alter_table('orders', schema=None) as batch_op:
        batch_op.drop_index('ix_orders_counted_placed')
        batch_op.drop_index('ix_orders_counted_customer')
