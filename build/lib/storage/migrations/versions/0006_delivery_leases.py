"""delivery: every queue claims rows with a lease (owner, lease_until)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07 03:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import storage.types

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

QUEUES = ('outbox', 'group_posts', 'nps_surveys', 'exit_interviews', 'loyalty_notices')


def upgrade() -> None:
    for table in QUEUES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('owner', sa.String(length=64), nullable=True))
            batch_op.add_column(sa.Column('lease_until', storage.types.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    for table in QUEUES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('lease_until')
            batch_op.drop_column('owner')
